//! The command-line contract every pola binary keeps: the summary line's exact shape, one clear
//! error line for a broker that never answers or a port already taken, and exit 0 on SIGTERM.

mod support;

use std::net::TcpListener;
use std::process::Command;

use support::*;

/// The keys of a summary line, in order.
fn keys(stdout: &str) -> Vec<String> {
    let line = stdout.lines().last().unwrap_or_default();
    line.split_whitespace()
        .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k).to_string())
        .collect()
}

#[test]
fn summary_lines_have_the_common_fields_then_the_model_fields() {
    let (_broker, addr) = broker(&[]);
    let sub = subscriber(&addr, &["--count", "2", "--qos", "2"]);
    let p = publish(&addr, &["--count", "2", "--qos", "2", "--size", "100"]);
    assert_eq!(
        keys(&p.stdout),
        [
            "sent",
            "received",
            "lost",
            "elapsed_ms",
            "qos",
            "confirm",
            "retain"
        ],
        "{}",
        p.stdout
    );
    let fields = p.assert_success().summary();
    assert_eq!(
        (
            fields["qos"].as_str(),
            fields["confirm"].as_str(),
            fields["retain"].as_str()
        ),
        ("2", "pubcomp", "false")
    );
    let s = sub.finish();
    assert_eq!(
        keys(&s.stdout),
        [
            "sent",
            "received",
            "lost",
            "elapsed_ms",
            "qos",
            "unexpected",
            "retained",
            "duplicates"
        ],
        "{}",
        s.stdout
    );
    assert_eq!(
        s.stdout.lines().count(),
        1,
        "stdout holds only the summary: {}",
        s.stdout
    );
}

/// Runs a binary to the end with the default log level.
fn run(program: &str, args: &[&str]) -> Finished {
    Proc::spawn_with(Command::new(program).args(args)).finish()
}

/// The stderr lines that are not log records (env_logger's start with '[', tracing's with a date).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error")).collect()
}

#[test]
fn clients_give_up_on_a_dead_port_with_one_line_naming_it() {
    let addr = format!("127.0.0.1:{}", free_port());
    for program in [PUBLISHER, SUBSCRIBER] {
        let out = run(program, &["--connect", &addr, "--retry-secs", "1"]);
        assert_eq!(out.status.code(), Some(1), "{program}: {}", out.stderr);
        let errors = error_lines(&out.stderr);
        assert_eq!(errors.len(), 1, "{program}: {}", out.stderr);
        assert!(
            errors[0].contains(&addr) && errors[0].contains("gave up"),
            "{}",
            errors[0]
        );
        assert!(
            out.stdout.is_empty() && !out.stderr.contains("panicked"),
            "{program}: {}",
            out.stderr
        );
    }
}

#[test]
fn broker_on_a_port_in_use_exits_1_with_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(BROKER, &["--listen", &addr]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let errors = error_lines(&out.stderr);
    assert_eq!(
        errors,
        [format!(
            "error: listening on {addr}: Address already in use (os error 98)"
        )],
        "{}",
        out.stderr
    );
}

#[test]
fn bad_flag_values_are_refused_with_the_flag_named() {
    let out = run(PUBLISHER, &["--qos", "3"]);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("--qos") && out.stderr.contains("'3'"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "not one line: {}",
        out.stderr
    );
    let out = run(SUBSCRIBER, &["--topics", "sensors/#/lab"]);
    assert!(!out.status.success());
    out.assert_logged("not a valid MQTT topic filter");
    let out = run(BROKER, &["--listen", "127.0.0.1:notaport"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error_lines(&out.stderr).len(), 1, "{}", out.stderr);
    out.assert_logged("127.0.0.1:notaport");
}

fn sigterm(proc: &Proc) {
    let status = Command::new("kill")
        .args(["-TERM", &proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigterm_stops_the_broker_with_exit_0() {
    let (broker, _addr) = broker(&[]);
    sigterm(&broker);
    let out = broker.finish();
    out.assert_success();
    out.assert_logged("SIGTERM received");
}

#[test]
fn sigterm_stops_a_waiting_subscriber_with_exit_0_and_a_summary() {
    let (_broker, addr) = broker(&[]);
    let sub = subscriber(&addr, &["--count", "5"]);
    sigterm(&sub);
    let s = sub.finish().assert_success().summary();
    assert_eq!((field(&s, "received"), field(&s, "lost")), (0, 5), "{s:?}");
}

#[test]
fn sigterm_stops_a_publisher_still_retrying_with_exit_0() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(PUBLISHER);
    cmd.args(["--connect", &addr, "--retry-secs", "60"])
        .env("RUST_LOG", "debug");
    let publisher = Proc::spawn_with(&mut cmd);
    publisher.wait_for("retrying");
    sigterm(&publisher);
    let s = publisher.finish().assert_success().summary();
    assert_eq!((field(&s, "sent"), field(&s, "lost")), (0, 10), "{s:?}");
}

#[test]
fn subscriber_probe_checks_the_ready_file() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let ready = ready.to_str().unwrap();
    assert_eq!(
        run(SUBSCRIBER, &["--probe", "--ready-file", ready])
            .status
            .code(),
        Some(1)
    );
    let (_broker, addr) = broker(&[]);
    let sub = subscriber(&addr, &["--count", "0", "--ready-file", ready]);
    sub.finish().assert_success();
    run(SUBSCRIBER, &["--probe", "--ready-file", ready]).assert_success();
}

#[test]
fn broker_probe_sees_the_listener() {
    let (_broker, addr) = broker(&[]);
    run(BROKER, &["--probe", "--listen", &addr]).assert_success();
    let dead = format!("127.0.0.1:{}", free_port());
    assert_eq!(
        run(BROKER, &["--probe", "--listen", &dead]).status.code(),
        Some(1)
    );
}
