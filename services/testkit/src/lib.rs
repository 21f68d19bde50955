//! Test helpers shared by the services' tests: start a server binary on an ephemeral port and learn
//! the port from its "listening on" log line, send it signals, and wait for it without hanging
//! forever (the limit only turns a hang into a failure; it does not measure speed).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Long enough that only a hang reaches it.
pub const HANG: Duration = Duration::from_secs(20);

/// A running server binary; killed on drop if a test failed before stopping it.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stderr: Arc<Mutex<String>>,
}

/// Starts `bin` with `args` (which should listen on 127.0.0.1:0) and waits for its log line
/// `listening on ADDR`. Stderr keeps being drained so the server never blocks on logging.
pub fn start(bin: &str, args: &[&str]) -> Server {
    let mut child = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning server");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stderr.take().unwrap());
    let log = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if let Some((_, addr)) = line.split_once("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
            log.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let addr = rx
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{bin} never listened: {}", stderr.lock().unwrap()));
    Server {
        child,
        addr,
        stderr,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM failed");
}

/// Waits for a child to exit; panics if it is still running after [`HANG`].
pub fn wait(child: &mut Child) -> ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < HANG,
            "process {} did not exit",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback address nothing listens on (bound, then released).
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
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

/// Starts a client and returns once a line of its stderr contains `needle` (so its signal handlers
/// are installed); the rest of its stderr is drained, its stdout stays piped for the summary.
pub fn start_client_until(bin: &str, args: &[&str], needle: &str) -> Child {
    let mut client = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning client");
    let mut log = BufReader::new(client.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains(needle) {
        line.clear();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "{bin} exited before logging {needle:?}"
        );
    }
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    client
}

/// The summary line a finished child printed on its piped stdout, as fields.
pub fn summary_of(child: &mut Child) -> std::collections::BTreeMap<String, String> {
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut stdout)
        .unwrap();
    common::summary::find(&stdout).unwrap_or_else(|| panic!("no summary line in {stdout:?}"))
}
