//! The REST client against an API killed and started again on the same port mid-walk: idempotent
//! requests are retried with a log line per attempt, a POST is never sent twice blindly, the round
//! the outage cut is walked again once GET /items showed what the new server holds, nothing is lost.

use std::time::Duration;

use testkit::{start, Proc};

const API: &str = env!("CARGO_BIN_EXE_rest-api");
const CLIENT: &str = env!("CARGO_BIN_EXE_rest-client");

/// Rounds of 8 requests in a walk.
const ROUNDS: u64 = 3000;

/// Runs a client against an API that is stopped (so the walk cannot end first), killed, and
/// started again on its port; returns the client's exit status, summary and stderr.
fn walk_across_a_restart(
    retries: &str,
) -> (
    std::process::ExitStatus,
    std::collections::BTreeMap<String, String>,
) {
    let api = start(API, &["--listen", "127.0.0.1:0"]);
    let addr = api.addr.clone();
    let client = Proc::spawn(
        CLIENT,
        &[
            "--connect",
            &addr,
            "--count",
            &ROUNDS.to_string(),
            "--retries",
            retries,
        ],
    );
    client.wait_for("connected to");
    // A walk takes over a second here (about 20,000 requests/s); the cut lands well inside it.
    std::thread::sleep(Duration::from_millis(100));
    api.proc.signal("STOP");
    api.proc.signal("KILL");
    let _ = api.proc.finish();
    std::thread::sleep(Duration::from_millis(300));
    let again = start(API, &["--listen", &addr]);
    assert_eq!(again.addr, addr);
    let done = client.finish();
    (done.status, done.summary())
}

#[test]
fn a_retrying_client_loses_nothing_across_an_api_restart() {
    let (status, s) = walk_across_a_restart("8");
    assert!(status.success(), "{s:?}");
    assert_eq!(
        (s["lost"].as_str(), s["failed"].as_str()),
        ("0", "0"),
        "{s:?}"
    );
    let retries: u64 = s["retries"].parse().unwrap();
    assert!(retries >= 1, "{s:?}");
    // The cut round was walked again; a POST cut by the outage is counted, never re-sent blindly.
    assert!(s["redone"].parse::<u64>().unwrap() >= 1, "{s:?}");
    let unknown: u64 = s["unknown"].parse().unwrap();
    assert!(unknown <= 1, "{s:?}");
    let (sent, received): (u64, u64) = (s["sent"].parse().unwrap(), s["received"].parse().unwrap());
    assert_eq!(sent, received + unknown, "{s:?}");
    assert!(received >= ROUNDS * 8, "{s:?}");
}

#[test]
fn the_plain_client_counts_the_request_the_restart_cost_it() {
    let (status, s) = walk_across_a_restart("0");
    // Every request sent while the API was down is lost: each round's first one fails fast.
    assert_eq!(status.code(), Some(1), "{s:?}");
    let field = |k: &str| s[k].parse::<u64>().unwrap();
    assert!(field("lost") >= 1, "{s:?}");
    assert_eq!(
        field("sent"),
        field("received") + field("lost") + field("failed"),
        "{s:?}"
    );
    assert!(!s.contains_key("retries"), "{s:?}");
}
