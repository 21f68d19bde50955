//! Starting the programs a bench run measures (our servers, sockperf, wrk, Mosquitto, libzmq's
//! perf tools) as child processes that are always stopped, and never waited on without a bound:
//! a hung peer must cost the run one figure, not the whole run.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};

use super::stats::{Figure, Metric, Series};

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

/// Every thread of this process and of `servers` held on one CPU until dropped, then given back
/// the CPUs each process had. Runs with one message in flight are measured this way, every side
/// alike: on a VM, a wake-up that crosses to another, idle vCPU costs far more than the work
/// (sockperf pp on this 2-vCPU machine, one-way p50: 7.3 µs with both ends on one CPU, 30 µs
/// across two), and where the scheduler puts each process changes from run to run, so a ratio of
/// two spread runs said more about placement than about the code. Programs started meanwhile (a
/// peer's client) inherit the CPU.
pub struct OneCpu {
    /// Each process pinned so far, with the CPUs its main thread had.
    held: Vec<(libc::pid_t, libc::cpu_set_t)>,
}

impl OneCpu {
    /// Pins this process and `servers` to the first CPU this process may use.
    pub fn pin(servers: &[&Running]) -> anyhow::Result<OneCpu> {
        let own = std::process::id() as libc::pid_t;
        let mine = cpus_of(own)?;
        // SAFETY: CPU_ISSET and CPU_SET only read and write within the set they are given.
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &mine) })
            .context("this process may run on no CPU")?;
        let mut one = empty_cpu_set();
        unsafe { libc::CPU_SET(first, &mut one) };
        let mut guard = OneCpu { held: Vec::new() };
        let pids = servers.iter().map(|s| s.child.id() as libc::pid_t);
        for pid in std::iter::once(own).chain(pids) {
            // Held before it is changed, so a pin that fails half-way is undone on drop.
            guard.held.push((pid, cpus_of(pid)?));
            set_cpus(pid, &one)?;
        }
        Ok(guard)
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        for (pid, had) in &self.held {
            if let Err(err) = set_cpus(*pid, had) {
                log::warn!("giving process {pid} its CPUs back: {err:#}");
            }
        }
    }
}

fn empty_cpu_set() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array, for which all zeroes is the empty set.
    unsafe { std::mem::zeroed() }
}

/// The CPUs thread `tid` (a process's main thread when it is the pid) may run on.
fn cpus_of(tid: libc::pid_t) -> anyhow::Result<libc::cpu_set_t> {
    let mut set = empty_cpu_set();
    // SAFETY: the size passed is the size of `set`, which the kernel fills.
    let rc = unsafe { libc::sched_getaffinity(tid, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("reading the CPUs of process {tid}"));
    }
    Ok(set)
}

/// Sets the CPUs of every thread of process `pid`, those started since it was pinned included.
fn set_cpus(pid: libc::pid_t, set: &libc::cpu_set_t) -> anyhow::Result<()> {
    let dir = format!("/proc/{pid}/task");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        let name = entry.with_context(|| format!("listing {dir}"))?.file_name();
        let tid: libc::pid_t = name
            .to_str()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{dir} holds {name:?}, not a thread id"))?;
        // SAFETY: `set` is a whole cpu_set_t of the size passed.
        let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(set), set) };
        let err = std::io::Error::last_os_error();
        // A thread that ended since the listing has no CPUs to set.
        if rc != 0 && err.raw_os_error() != Some(libc::ESRCH) {
            return Err(err).with_context(|| format!("setting the CPUs of thread {tid} of {pid}"));
        }
    }
    Ok(())
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
    /// The last lines the process wrote to stderr, for the message if it fails.
    stderr: mpsc::Receiver<Vec<String>>,
    what: String,
}

/// Lines of a failed process's stderr that its error message carries.
const STDERR_LINES: usize = 3;

impl Collected {
    pub fn spawn(cmd: &mut Command, what: &str) -> anyhow::Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        let mut pipe = child.stdout.take().context("child stdout")?;
        let (tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            let _ = tx.send(text);
        });
        // Read to the end, so a chatty process never blocks on the pipe; only the tail is kept.
        let errors = child.stderr.take().context("child stderr")?;
        let (tx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut last = std::collections::VecDeque::new();
            for line in BufReader::new(errors).lines().map_while(Result::ok) {
                if last.len() == STDERR_LINES {
                    last.pop_front();
                }
                last.push_back(line);
            }
            let _ = tx.send(last.into());
        });
        Ok(Collected {
            running: Running {
                child,
                name: what.to_string(),
            },
            stdout,
            stderr,
            what: what.to_string(),
        })
    }

    /// Waits (at most `limit`) for the process to end; its stdout if it exited 0, else an error
    /// with its last stderr lines and its last line of stdout.
    pub fn finish(mut self, limit: Duration) -> anyhow::Result<String> {
        let (status, text) = self.wait(limit)?;
        if !status.success() {
            // The process has exited, so its stderr is at its end (or nearly).
            let errors = self
                .stderr
                .recv_timeout(Duration::from_secs(1))
                .unwrap_or_default();
            let last = text.lines().last().map(str::to_string);
            let said: Vec<String> = errors.into_iter().chain(last).collect();
            bail!("{} exited with {status}: {}", self.what, said.join(" | "));
        }
        Ok(text)
    }

    /// Waits (at most `limit`) for the process to end; its exit status and stdout, whatever the
    /// status.
    pub fn finish_any(
        mut self,
        limit: Duration,
    ) -> anyhow::Result<(std::process::ExitStatus, String)> {
        self.wait(limit)
    }

    fn wait(&mut self, limit: Duration) -> anyhow::Result<(std::process::ExitStatus, String)> {
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

/// The CPU time a server and this process (the load generator) used during one or more runs,
/// and the runs' wall time, in seconds. As percentages of one core, the side near its limit is
/// what bounds the figure.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server: f64,
    pub client: f64,
    pub wall: f64,
}

impl CpuUse {
    pub fn add(&mut self, other: CpuUse) {
        self.server += other.server;
        self.client += other.client;
        self.wall += other.wall;
    }

    /// Two figures in percent of one core, variants `VARIANT server` and `VARIANT client` of
    /// `series` (`how`: the runs measured).
    pub fn figures(&self, series: &Series, how: &str) -> Vec<Figure> {
        vec![
            self.figure(series, "server", self.server, how),
            self.figure(series, "client", self.client, how),
        ]
    }

    /// The server's figure alone, for a load generator that is another process (wrk).
    pub fn server_figure(&self, series: &Series, how: &str) -> Figure {
        self.figure(series, "server", self.server, how)
    }

    fn figure(&self, series: &Series, who: &str, secs: f64, how: &str) -> Figure {
        let variant = format!("{} {who}", series.variant);
        let how = format!("CPU time over wall time during the msgs/s runs ({how})");
        let named = series.clone().variant(variant.trim_start());
        named.figure(Metric::Cpu, 100.0 * secs / self.wall, &how)
    }
}

/// Runs `run`, measuring the CPU time `server` and this process use meanwhile.
pub fn with_cpu<T>(
    server: &Running,
    run: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, CpuUse)> {
    let (server_cpu, own_cpu) = (server.cpu_secs()?, cpu_secs("self")?);
    let start = std::time::Instant::now();
    let value = run()?;
    let used = CpuUse {
        wall: start.elapsed().as_secs_f64(),
        server: server.cpu_secs()? - server_cpu,
        client: cpu_secs("self")? - own_cpu,
    };
    Ok((value, used))
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
        let (mut x, mut used) = (0u64, 0.0);
        // Spins until /proc counts 0.1 s more CPU time for this process, however busy the machine
        // (other test binaries share its cores); a count that never grows fails after 10 s.
        while used < 0.1 && start.elapsed() < Duration::from_secs(10) {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            used = cpu_secs("self").unwrap() - before;
        }
        assert!(used >= 0.1, "{used} s of CPU in 10 s of spinning");
        // No more than this process's threads could have used in that time.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let most = start.elapsed().as_secs_f64() * cores + 0.02;
        assert!(used <= most, "{used} s of CPU in {most} s of its cores");
        assert!(cpu_secs("0").is_err(), "there is no process 0 in /proc");
    }

    /// The `Cpus_allowed_list` of thread `tid` of process `pid`, e.g. `0-1` or `0`.
    fn allowed(pid: u32, tid: i32) -> String {
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:"));
        line.and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string()
    }

    #[test]
    fn one_cpu_holds_both_processes_then_gives_every_thread_its_cpus_back() {
        let child = Running::spawn(Command::new("sleep").arg("60"), "sleep").unwrap();
        let (me, them) = (std::process::id(), child.child.id());
        // This process's main thread, this test's thread, the child, and below a thread started
        // while pinned; other tests' threads come and go meanwhile, so only these are looked at.
        // SAFETY (gettid here and below): it only returns the calling thread's id.
        let mut threads = vec![
            (me, me as i32),
            (me, unsafe { libc::gettid() }),
            (them, them as i32),
        ];
        let lists = |threads: &[(u32, i32)]| -> Vec<String> {
            threads
                .iter()
                .map(|&(pid, tid)| allowed(pid, tid))
                .collect()
        };
        let before = lists(&threads);
        let (stop, stopped) = mpsc::channel::<()>();
        let (started, tid) = mpsc::channel();
        let one = OneCpu::pin(&[&child]).unwrap();
        let started_while_pinned = std::thread::spawn(move || {
            started.send(unsafe { libc::gettid() }).unwrap();
            stopped.recv()
        });
        threads.push((me, tid.recv().unwrap()));
        let pinned = lists(&threads);
        assert!(
            pinned
                .iter()
                .all(|cpus| cpus == &pinned[0] && cpus.parse::<u32>().is_ok()),
            "one CPU for every thread: {pinned:?}"
        );
        drop(one);
        // Every thread gets its CPUs back; the one started meanwhile gets what this process had.
        let after = lists(&threads);
        assert_eq!(after[..3], before[..], "{after:?}");
        assert_eq!(after[3], before[0], "{after:?}");
        stop.send(()).unwrap();
        started_while_pinned.join().unwrap().unwrap();
    }

    #[test]
    fn a_failed_process_names_its_exit_and_its_last_stderr_lines() {
        let script = "for i in 1 2 3 4 5; do echo \"log $i\" >&2; done; echo partial; exit 3";
        let end = Collected::spawn(Command::new("sh").args(["-c", script]), "the end").unwrap();
        let err = end.finish(Duration::from_secs(10)).unwrap_err().to_string();
        assert_eq!(
            err,
            "the end exited with exit status: 3: log 3 | log 4 | log 5 | partial"
        );
        let ok = Collected::spawn(
            Command::new("sh").args(["-c", "echo fine >&2; echo done"]),
            "ok",
        );
        assert_eq!(
            ok.unwrap().finish(Duration::from_secs(10)).unwrap(),
            "done\n"
        );
    }
}
