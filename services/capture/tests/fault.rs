//! `pola-capture fault ...` with Debian's nft and tc, each test in a network namespace of its own
//! (never the host's), judged by what a real TCP connection on its loopback meets: a dropped SYN
//! times out, a reset one is refused, a cleared fault lets it through. Needs root, as the sidecar
//! tests do.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `body` on a fresh thread moved into a new network namespace with loopback up. Children it
/// starts (pola-capture, nft, tc) inherit that namespace.
fn in_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) on the calling thread only; the thread is ours and ends with the test.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET) needs root: {}",
            std::io::Error::last_os_error()
        );
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(up.success(), "ip link set lo up");
        body()
    })
    .join()
    .unwrap()
}

fn fault(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pola-capture"));
    cmd.args(["--interface", "lo", "fault"])
        .args(args)
        .env("RUST_LOG", "off");
    cmd
}

fn run(args: &[&str]) -> Output {
    fault(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A run that failed with one line on stderr naming `why`.
fn assert_one_line_failure(out: &Output, why: &str) {
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(why), "{err}");
}

/// What `tc qdisc show dev lo` lists.
fn lo_qdiscs() -> String {
    let out = Command::new("tc")
        .args(["qdisc", "show", "dev", "lo"])
        .output()
        .unwrap();
    text(&out.stdout)
}

/// A listener on loopback; the test connects to it to see what the fault does.
fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_millis(400))
}

#[test]
fn drop_100_percent_loses_the_syn_and_clear_restores_the_link() {
    in_netns(|| {
        let (_l, addr) = listener();
        connect(addr).expect("before the fault the link works");
        let out = run(&["drop", "100"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let line = text(&out.stdout);
        assert!(
            line.starts_with("fault=drop percent=100 interface=lo at="),
            "{line}"
        );
        let err = connect(addr).expect_err("every SYN dropped, yet connected");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        let out = run(&["clear"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("fault=clear"),
            "{}",
            text(&out.stdout)
        );
        connect(addr).expect("after clear the link works again");
    });
}

/// Runs a fault with a window of its own (`args`, such as `reset 1.5`) against a loopback
/// listener in a fresh namespace: its first event line starts with `start`, a connection made
/// during the window fails with `during` (`why` says why it should), the command then ends by
/// itself and the link works again. Returns the event lines after the first.
fn windowed_fault(
    args: &'static [&'static str],
    start: &'static str,
    during: ErrorKind,
    why: &'static str,
) -> Vec<String> {
    in_netns(move || {
        let (_l, addr) = listener();
        let mut child = fault(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with(start), "{first}");
        let err = connect(addr).expect_err(why);
        assert_eq!(err.kind(), during, "{err}");
        let rest = lines.map(Result::unwrap).collect();
        assert!(child.wait().unwrap().success());
        connect(addr).expect("after the window the link works again");
        rest
    })
}

#[test]
fn reset_refuses_connections_for_its_window_then_ends_by_itself() {
    let rest = windowed_fault(
        &["reset", "1.5"],
        "fault=reset secs=1.5 interface=lo at=",
        ErrorKind::ConnectionRefused,
        "a RST was due, yet connected",
    );
    let end = rest.first().expect("no end event");
    assert!(end.starts_with("fault=reset end interface=lo at="), "{end}");
}

#[test]
fn blackhole_drops_everything_for_its_window_then_restores_the_link() {
    windowed_fault(
        &["blackhole", "1.5"],
        "fault=blackhole secs=1.5",
        ErrorKind::TimedOut,
        "black-holed, yet connected",
    );
}

#[test]
fn rate_installs_tbf_and_delay_either_works_or_says_netem_is_missing() {
    in_netns(|| {
        let out = run(&["rate", "800"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let qdisc = lo_qdiscs();
        assert!(qdisc.contains("tbf"), "{qdisc}");
        let out = run(&["delay", "20", "5"]);
        let qdisc = lo_qdiscs();
        if out.status.success() {
            assert!(qdisc.contains("netem"), "{qdisc}");
        } else {
            assert_one_line_failure(&out, "netem is not in this kernel");
            // The failed delay left the rate cap as it was.
            assert!(qdisc.contains("tbf"), "{qdisc}");
        }
        assert!(run(&["clear"]).status.success());
        let qdisc = lo_qdiscs();
        assert!(!qdisc.contains("tbf"), "{qdisc}");
    });
}

#[test]
fn a_fault_that_cannot_be_applied_is_one_line_naming_why() {
    in_netns(|| {
        // An unprivileged user in this namespace: nft is refused.
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_pola-capture"))
            .args(["--interface", "lo", "fault", "drop", "10"])
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        assert_one_line_failure(&out, "NET_ADMIN");
        assert!(
            text(&out.stdout).is_empty(),
            "an event was logged for a fault never applied"
        );

        let out = fault(&["drop", "10"])
            .env("NFT", "/nonexistent/nft")
            .output()
            .unwrap();
        assert_one_line_failure(&out, "/nonexistent/nft");

        let out = run(&["jitter", "5"]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("unrecognized subcommand 'jitter'"));
    });
}
