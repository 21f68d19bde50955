//! What the ZeroMQ tests share: spawning a role binary with its stderr watched line by line (to
//! learn the port it bound and when it reached a state), finishing it with its summary, running
//! pyzmq as a real foreign peer, and throwing bad bytes at a port.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Not a timing assertion: only a guard so a broken build fails instead of hanging the suite.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// The path of one of this crate's binaries.
pub fn bin(name: &str) -> &'static str {
    match name {
        "zmq-rep-server" => env!("CARGO_BIN_EXE_zmq-rep-server"),
        "zmq-req-client" => env!("CARGO_BIN_EXE_zmq-req-client"),
        "zmq-pusher" => env!("CARGO_BIN_EXE_zmq-pusher"),
        "zmq-worker" => env!("CARGO_BIN_EXE_zmq-worker"),
        "zmq-sink" => env!("CARGO_BIN_EXE_zmq-sink"),
        "zmq-publisher" => env!("CARGO_BIN_EXE_zmq-publisher"),
        "zmq-subscriber" => env!("CARGO_BIN_EXE_zmq-subscriber"),
        other => panic!("no binary {other}"),
    }
}

/// A running role binary.
pub struct Proc {
    pub child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stdout: Option<JoinHandle<String>>,
}

/// What a finished binary left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The parsed summary line, failing the test if there is none.
    pub fn summary(&self) -> BTreeMap<String, String> {
        common::summary::find(&self.stdout).unwrap_or_else(|| {
            panic!(
                "no summary line in stdout {:?}; stderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn spawn(name: &str, args: &[&str]) -> Proc {
    spawn_env(name, args, &[])
}

pub fn spawn_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut child = Command::new(bin(name))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
    let (tx, lines) = channel();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (err_pipe, all) = (child.stderr.take().unwrap(), Arc::clone(&stderr));
    std::thread::spawn(move || {
        for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
            all.lock().unwrap().push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let mut out_pipe = child.stdout.take().unwrap();
    let stdout = Some(std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    }));
    Proc {
        child,
        lines,
        stderr,
        stdout,
    }
}

impl Proc {
    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no line with {needle:?}; stderr so far:\n{}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// The `HOST:PORT` the binary logged `listening on tcp://HOST:PORT` for.
    pub fn listening(&self) -> String {
        let line = self.wait_line("listening on tcp://");
        line.rsplit("tcp://").next().unwrap().trim().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (TERM, INT, KILL) through kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{sig} failed");
    }

    /// Waits for the exit (killing it past the hang guard) and collects its output.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "process did not exit; stderr:\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        // The reader thread ends at EOF, right after the exit; wait for it by draining.
        while self.lines.recv_timeout(HANG_GUARD).is_ok() {}
        let stderr = self.stderr.lock().unwrap().clone();
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

/// Runs a pyzmq script with the Debian interpreter (the only one with zmq); returns the child.
pub fn python(script: &str, args: &[&str]) -> Child {
    Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running /usr/bin/python3 (python3-zmq)")
}

/// Waits for a python peer and returns its stdout, failing the test on a non-zero exit.
pub fn python_done(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "pyzmq peer failed: {stdout}\n{stderr}"
    );
    stdout.into_owned()
}

/// The bad peers every bound port must survive: bytes that are no ZMTP greeting (an HTTP
/// request, zeros), a ZMTP signature with a mechanism that does not exist, and connections closed
/// abruptly with and without half a greeting. Each garbage connection is shut by us and read until
/// libzmq closes or resets it, so libzmq has dropped it before the test goes on; write and read
/// errors are expected (libzmq may reset before we finish).
pub fn bad_peers(addr: &str) {
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x01NOPE\x00\x00garbage garbage garbage garbage garbage garbage!",
        &[0u8; 300],
    ];
    for bytes in garbage {
        let mut s = TcpStream::connect(addr).expect("connecting with garbage");
        let _ = s.write_all(bytes);
        let _ = s.shutdown(Shutdown::Write);
        s.set_read_timeout(Some(HANG_GUARD)).unwrap();
        let mut rest = Vec::new();
        if let Err(e) = s.read_to_end(&mut rest) {
            assert_ne!(
                e.kind(),
                std::io::ErrorKind::WouldBlock,
                "libzmq kept a garbage peer open"
            );
        }
    }
    // Abrupt closes: nothing sent, and half a greeting.
    drop(TcpStream::connect(addr).unwrap());
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(b"\xff\x00\x00");
    drop(s);
}
