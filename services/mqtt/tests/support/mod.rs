//! Shared test helpers: free ports, our binaries as child processes, and reading their stderr
//! line by line so a test waits for an event ("subscribed") instead of sleeping.
//! Every child is killed when its guard drops, so a failing test leaves nothing running.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// How long to wait for an expected log line before failing (a hang guard, not a speed check).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A port nothing listens on right now (bound to port 0, read back, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running child with one output stream (stderr, or stdout for the mosquitto tools) streamed
/// into a channel of lines; the other stream is read whole at the end.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Receiver<String>,
    watching_stdout: bool,
    pub seen: Vec<String>,
}

impl Proc {
    /// Starts `program` with `args`, stdout piped (summary) and stderr piped (logs).
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        Self::spawn_with(Command::new(program).args(args))
    }

    pub fn spawn_with(cmd: &mut Command) -> Proc {
        Self::spawn_watching(cmd, false)
    }

    /// Like [`Proc::spawn_with`], streaming stdout lines instead of stderr lines.
    pub fn spawn_watching(cmd: &mut Command, watching_stdout: bool) -> Proc {
        let name = format!("{:?}", cmd);
        if !cmd.get_envs().any(|(key, _)| key == "RUST_LOG") {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let watched: Box<dyn Read + Send> = if watching_stdout {
            Box::new(child.stdout.take().unwrap())
        } else {
            Box::new(child.stderr.take().unwrap())
        };
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(watched).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            name,
            child,
            lines,
            watching_stdout,
            seen: vec![],
        }
    }

    /// Reads stderr until a line contains `needle`; panics (with everything seen) if the
    /// process ends or stays silent first.
    pub fn wait_for(&mut self, needle: &str) {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(e) => panic!(
                    "{}: no line with {needle:?} ({e}); stderr so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for exit; returns the status, stdout and stderr.
    pub fn finish(mut self) -> Finished {
        let mut other = String::new();
        let stream: Box<dyn Read> = if self.watching_stdout {
            Box::new(self.child.stderr.take().unwrap())
        } else {
            Box::new(self.child.stdout.take().unwrap())
        };
        BufReader::new(stream).read_to_string(&mut other).unwrap();
        let status = self.child.wait().unwrap();
        // The reader thread ends at EOF, so this drains every remaining line.
        self.seen.extend(self.lines.iter());
        let watched = self.seen.join("\n");
        let (stdout, stderr) = if self.watching_stdout {
            (watched, other)
        } else {
            (other, watched)
        };
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The summary line's fields; panics with the output if there is none.
    pub fn summary(&self) -> BTreeMap<String, String> {
        common::summary::find(&self.stdout).unwrap_or_else(|| {
            panic!(
                "no summary line in stdout {:?}; stderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "exit {:?}\nstdout: {}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

pub const BROKER: &str = env!("CARGO_BIN_EXE_mqtt-broker");
pub const PUBLISHER: &str = env!("CARGO_BIN_EXE_mqtt-publisher");
pub const SUBSCRIBER: &str = env!("CARGO_BIN_EXE_mqtt-subscriber");

/// Our broker on a free loopback port, returned once it says it is listening.
pub fn broker(extra: &[&str]) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--listen", addr.as_str()];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn(BROKER, &args);
    proc.wait_for("MQTT broker: 3.1.1 and 5.0 on");
    (proc, addr)
}

/// Our subscriber, returned once its SUBACK is in (it logs "subscribed to").
pub fn subscriber(addr: &str, args: &[&str]) -> Proc {
    let mut all = vec!["--connect", addr, "--retry-secs", "5"];
    if !args.contains(&"--timeout-secs") {
        all.extend_from_slice(&["--timeout-secs", "30"]);
    }
    all.extend_from_slice(args);
    let mut proc = Proc::spawn(SUBSCRIBER, &all);
    proc.wait_for("subscribed to");
    proc
}

/// Runs our publisher to the end.
pub fn publish(addr: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--connect", addr, "--retry-secs", "5"];
    all.extend_from_slice(args);
    Proc::spawn(PUBLISHER, &all).finish()
}

/// The numeric value of a summary field.
pub fn field(summary: &BTreeMap<String, String>, key: &str) -> u64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("no {key}= in {summary:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}= in {summary:?}: {e}"))
}
