//! The one test harness of pola's services: start a binary (ours or a real peer such as
//! mosquitto_sub) as a child whose log is read line by line, so a test waits for an event
//! ("listening on", "subscribed to") instead of sleeping; signal it; finish it with its output and
//! summary line. Every wait has a limit that only turns a hang into a failure (it measures no
//! speed), and every child is killed when its guard drops, so a failing test leaves nothing
//! running.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Long enough that only a hang reaches it.
pub const HANG: Duration = Duration::from_secs(60);

/// A loopback port nothing listens on right now (bound to port 0, read back, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `127.0.0.1:<a free port>`.
pub fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// A running child. One stream (stderr, where our binaries log; or stdout, for tools such as
/// mosquitto_sub that print what they receive) is read line by line; the other is read whole.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Receiver<String>,
    watched: Arc<Mutex<String>>,
    other: Option<JoinHandle<String>>,
    watching_stdout: bool,
}

/// What a finished child left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Proc {
    /// Starts `program` with `args`, its log (stderr) watched.
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        Self::spawn_with(Command::new(program).args(args))
    }

    /// Starts a prepared command, its stderr watched; RUST_LOG is `info` unless the command sets it.
    pub fn spawn_with(cmd: &mut Command) -> Proc {
        Self::start(cmd, false)
    }

    /// Starts a prepared command, its stdout watched (a peer that prints what it receives).
    pub fn spawn_watching_stdout(cmd: &mut Command) -> Proc {
        Self::start(cmd, true)
    }

    fn start(cmd: &mut Command, watching_stdout: bool) -> Proc {
        let name = format!("{cmd:?}");
        if !cmd.get_envs().any(|(key, _)| key == "RUST_LOG") {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let (watched_pipe, mut other_pipe): (Box<dyn Read + Send>, Box<dyn Read + Send>) =
            if watching_stdout {
                let out = child.stdout.take().unwrap();
                (Box::new(out), Box::new(child.stderr.take().unwrap()))
            } else {
                let err = child.stderr.take().unwrap();
                (Box::new(err), Box::new(child.stdout.take().unwrap()))
            };
        let (tx, lines) = channel();
        let watched = Arc::new(Mutex::new(String::new()));
        let all = Arc::clone(&watched);
        std::thread::spawn(move || {
            for line in BufReader::new(watched_pipe).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let other = Some(std::thread::spawn(move || {
            let mut s = String::new();
            let _ = other_pipe.read_to_string(&mut s);
            s
        }));
        Proc {
            name,
            child,
            lines,
            watched,
            other,
            watching_stdout,
        }
    }

    /// Waits for a watched line containing `needle` and returns it; panics with everything seen
    /// if the child ends or stays silent first.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + HANG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "{}: no line with {needle:?} ({e}); so far:\n{}",
                    self.name,
                    self.watched.lock().unwrap()
                ),
            }
        }
    }

    /// The `HOST:PORT` of the child's `listening on [tcp://]HOST:PORT` line.
    pub fn listening(&self) -> String {
        let line = self.wait_for("listening on ");
        let addr = line.rsplit("listening on ").next().unwrap().trim();
        addr.trim_start_matches("tcp://").to_string()
    }

    /// Everything the watched stream printed so far.
    pub fn log(&self) -> String {
        self.watched.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (TERM, INT, KILL, STOP, CONT) through kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{sig} {} failed", self.name);
    }

    /// Waits for the exit (killing the child past [`HANG`]) and collects its output.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + HANG;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not exit; so far:\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let other = self.other.take().unwrap().join().unwrap();
        // The reader thread ends at EOF, right after the exit; drain it so the log is whole.
        while self.lines.recv_timeout(HANG).is_ok() {}
        let watched = self.log();
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

    /// Asserts that the summary line holds each `(field, value)` of `want`.
    pub fn assert_fields(&self, want: &[(&str, &str)]) -> &Self {
        let summary = self.summary();
        for (field, value) in want {
            assert_eq!(
                summary.get(*field).map(String::as_str),
                Some(*value),
                "{field} in {summary:?}; stderr:\n{}",
                self.stderr
            );
        }
        self
    }

    /// Asserts that the log (stderr) holds `needle`.
    pub fn assert_logged(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "{needle:?} not logged:\n{}",
            self.stderr
        );
        self
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

/// The stdout of a finished program (`what`, for the message), which must have exited 0; else
/// the test fails with both of its outputs.
pub fn stdout_of_success(what: &str, out: &std::process::Output) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{stdout}{stderr}",
        out.status
    );
    stdout.into_owned()
}

/// A server binary that logged the address it listens on.
pub struct Server {
    pub proc: Proc,
    pub addr: String,
}

/// Starts a server binary with `args` (which should listen on port 0 or a free port) and waits
/// for its `listening on ADDR` line.
pub fn start(bin: &str, args: &[&str]) -> Server {
    let proc = Proc::spawn(bin, args);
    let addr = proc.listening();
    Server { proc, addr }
}

impl Server {
    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(self) -> Finished {
        self.proc.signal("TERM");
        self.proc.finish()
    }
}

/// Writes the lab CA certificate (named as `pola certs` names it) and `<stem>.pem`/`<stem>.key`
/// for `names` into `dir`, signed by the lab CA or, with `other_ca`, by a CA nobody trusts.
pub fn lab_certs(dir: &std::path::Path, stem: &str, names: &[&str], other_ca: bool) {
    use common::tls::{LabCa, CA_FILE};
    let ca = LabCa::new("pola lab CA").unwrap();
    std::fs::write(dir.join(CA_FILE), ca.cert_pem()).unwrap();
    let issued = if other_ca {
        LabCa::new("someone else's CA").unwrap().issue(names)
    } else {
        ca.issue(names)
    }
    .unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), issued.cert_pem).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), issued.key_pem).unwrap();
}

/// The numeric value of a summary field.
pub fn field(summary: &BTreeMap<String, String>, key: &str) -> u64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("no {key}= in {summary:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}= in {summary:?}: {e}"))
}

/// The stderr of a failed run must be exactly one `error:` line, no panic and no backtrace.
pub fn assert_one_error_line(stderr: &str, must_contain: &[&str]) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for word in must_contain {
        assert!(lines[0].contains(word), "{word:?} missing from: {stderr}");
    }
}

/// Runs `bin args` to its end with no input; its output, text.
pub fn run_to_end(bin: &str, args: &[&str]) -> Finished {
    Proc::spawn_with(Command::new(bin).args(args)).finish()
}

/// A server told to listen on a port that is taken exits 1 with one line naming the address.
pub fn assert_port_in_use_is_one_line(server: &str) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run_to_end(server, &["--listen", &addr]);
    assert_eq!(out.status.code(), Some(1), "{server}: {}", out.stderr);
    assert_one_error_line(&out.stderr, &[&addr, "in use"]);
}

/// A client whose server never comes up gives up after `--retry-secs` with exit 1, no summary
/// and one line naming the address.
pub fn assert_gives_up_with_one_line(client: &str) {
    let addr = free_addr();
    let out = run_to_end(client, &["--connect", &addr, "--retry-secs", "0.5"]);
    assert_eq!(out.status.code(), Some(1), "{client}: {}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "{client}: a summary for a run that never started"
    );
    assert_one_error_line(&out.stderr, &[&addr, "gave up"]);
}

/// A bad flag value exits 2 with one line naming the flag (and what else `must_contain` says).
pub fn assert_flag_refused(bin: &str, args: &[&str], must_contain: &[&str]) {
    let out = run_to_end(bin, args);
    assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {}", out.stderr);
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "{bin} {args:?}: not one line: {}",
        out.stderr
    );
    for word in must_contain.iter().chain(&args[..1]) {
        assert!(
            out.stderr.contains(word),
            "{bin} {args:?}: {word:?} missing: {}",
            out.stderr
        );
    }
}

/// Starts `client --connect addr --count 1000000000` (a run far too long to end by itself), sends
/// SIGTERM once it logged `running` (so its handlers are installed) and returns the summary of
/// what must be an exit 0.
pub fn stop_a_long_client_run(client: &str, addr: &str, running: &str) -> BTreeMap<String, String> {
    let proc = Proc::spawn(client, &["--connect", addr, "--count", "1000000000"]);
    proc.wait_for(running);
    proc.signal("TERM");
    let done = proc.finish();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    done.summary()
}

/// The two failure tests every server and client pair has, as `#[test]`s in the calling file: the
/// server on a taken port ([`assert_port_in_use_is_one_line`]) and the client with no server
/// ([`assert_gives_up_with_one_line`]).
#[macro_export]
macro_rules! one_line_failure_tests {
    (server: $server:expr, client: $client:expr) => {
        #[test]
        fn port_in_use_exits_1_with_one_line() {
            $crate::assert_port_in_use_is_one_line($server);
        }

        #[test]
        fn client_with_no_server_gives_up_with_one_line() {
            $crate::assert_gives_up_with_one_line($client);
        }
    };
}
