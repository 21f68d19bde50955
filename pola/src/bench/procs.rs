//! Starting the programs a bench run measures (our servers, sockperf, wrk, Mosquitto, libzmq's
//! perf tools) as child processes that are always stopped, and never waited on without a bound:
//! a hung peer must cost the run one figure, not the whole run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};

/// A free TCP port on 127.0.0.1, found by binding port 0 and letting it go.
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the port bound on 127.0.0.1:0")?
        .port())
}

/// A program of ours (`tcp-echo-server`) next to the running `pola`, i.e. in target/release.
pub fn our_binary(bin_dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found (build it: cargo build --release --workspace --bins)",
            path.display()
        );
    }
    Ok(path)
}

/// A background process killed and reaped when dropped.
pub struct Running {
    pub child: Child,
    name: String,
}

impl Running {
    /// Starts `cmd` with stdout and stderr discarded, so a chatty server never blocks on a pipe.
    pub fn spawn(cmd: &mut Command, name: &str) -> anyhow::Result<Self> {
        let child = start(cmd, Stdio::null, name)?;
        Ok(Running {
            child,
            name: name.to_string(),
        })
    }

    /// Waits (bounded) until something accepts TCP connections on `addr`, failing early if the
    /// process has already exited (port in use, bad flag).
    pub fn wait_listening(&mut self, addr: &str) -> anyhow::Result<()> {
        let name = self.name.clone();
        common::retry::retry(
            &format!("waiting for {name} on {addr}"),
            Duration::from_secs(10),
            || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(format!("{name} exited with {status}"));
                }
                common::probe::probe(addr).map_err(|e| format!("{e:#}"))
            },
        )
    }

    /// The resident set size of the process in KiB, read from /proc.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS line in {path}"))
    }

    /// CPU time the process has used so far, every thread, user and system.
    pub fn cpu_secs(&self) -> anyhow::Result<f64> {
        cpu_secs(&self.child.id().to_string())
    }

    /// Sends SIGTERM and waits for the exit, as compose would.
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (`what`, for messages) with no input and `output` (null or piped) as its stdout
/// and stderr.
fn start(cmd: &mut Command, output: fn() -> Stdio, what: &str) -> anyhow::Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(output())
        .stderr(output())
        .spawn()
        .with_context(|| format!("starting {what}"))
}

/// Runs `cmd` to completion with its output captured, killing it after `limit`.
pub fn run_bounded(cmd: &mut Command, what: &str, limit: Duration) -> anyhow::Result<Output> {
    let child = start(cmd, Stdio::piped, what)?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.with_context(|| format!("waiting for {what}")),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            bail!("{what} did not finish within {} s", limit.as_secs())
        }
    }
}

/// Like [`run_bounded`], and fails unless the program exited 0; returns stdout as text.
pub fn run_ok(cmd: &mut Command, what: &str, limit: Duration) -> anyhow::Result<String> {
    let output = run_bounded(cmd, what, limit)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .last()
            .or(stdout.lines().last())
            .unwrap_or("")
            .to_string();
        bail!("{what} exited with {}: {last}", output.status);
    }
    Ok(stdout)
}

/// A process whose stdout is collected, killed if dropped before [`Collected::finish`]: a run that
/// fails half-way leaves no peer behind.
pub struct Collected {
    running: Running,
    stdout: mpsc::Receiver<String>,
    what: String,
}

impl Collected {
    pub fn spawn(cmd: &mut Command, what: &str) -> anyhow::Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        let mut pipe = child.stdout.take().context("child stdout")?;
        let (tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            let _ = tx.send(text);
        });
        Ok(Collected {
            running: Running {
                child,
                name: what.to_string(),
            },
            stdout,
            what: what.to_string(),
        })
    }

    /// Waits (at most `limit`) for the process to end; its stdout if it exited 0.
    pub fn finish(self, limit: Duration) -> anyhow::Result<String> {
        let what = self.what.clone();
        let (status, text) = self.finish_any(limit)?;
        if !status.success() {
            bail!(
                "{what} exited with {status}: {}",
                text.lines().last().unwrap_or("")
            );
        }
        Ok(text)
    }

    /// Waits (at most `limit`) for the process to end; its exit status and stdout, whatever the
    /// status.
    pub fn finish_any(
        mut self,
        limit: Duration,
    ) -> anyhow::Result<(std::process::ExitStatus, String)> {
        let text = self.stdout.recv_timeout(limit).map_err(|_| {
            anyhow::anyhow!("{} did not finish within {} s", self.what, limit.as_secs())
        })?;
        let status = self
            .running
            .child
            .wait()
            .with_context(|| format!("waiting for {}", self.what))?;
        Ok((status, text))
    }
}

/// CPU time used so far by process `pid` (`self` for this one), every thread, user and system,
/// from /proc/PID/stat (fields 14 and 15, in clock ticks).
pub fn cpu_secs(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let rest = stat
        .rsplit_once(')')
        .with_context(|| format!("no command name in {path}"))?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("no CPU time in {path}"))
    };
    // Fields 14 (utime) and 15 (stime) of the line are the 12th and 13th after the name.
    // SAFETY: sysconf only reads a system constant.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(11)? + ticks(12)?) / per_sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_by_the_work_done() {
        let before = cpu_secs("self").unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = cpu_secs("self").unwrap() - before;
        // 200 ms of spinning on a shared machine: at least a quarter of it on the CPU, and no more
        // than this process's threads could have used.
        assert!((0.05..2.0).contains(&used), "{used} s of CPU");
        assert!(cpu_secs("0").is_err(), "there is no process 0 in /proc");
    }
}
