//! REQ/REP: a small JSON RPC (the guide's hwserver/hwclient grown a little).
//!
//! Request `{"id":7,"op":"upper","arg":"abc"}` or `{"id":8,"op":"add","args":[1,2]}`; the reply
//! carries the same id and a `result`, or an `error` for a malformed request, and the server keeps
//! answering. The client alternates strictly and gives up on a reply that does not come.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use common::shutdown::Flag;
use common::Summary;
use serde_json::{json, Value};

use crate::net::{self, Monitor, Recv, Wait};
use crate::Outcome;

/// The largest request the server accepts; libzmq drops a peer that sends more.
pub const MAX_REQUEST: i64 = 1 << 20;

/// The reply to one request, as JSON. Never fails: whatever arrives gets an answer.
pub fn answer(request: &[u8]) -> Value {
    let req: Value = match serde_json::from_slice(request) {
        Ok(v) => v,
        Err(e) => return json!({"id": null, "error": format!("request is not JSON: {e}")}),
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    match compute(&req) {
        Ok(result) => json!({"id": id, "result": result}),
        Err(error) => json!({"id": id, "error": error}),
    }
}

fn compute(req: &Value) -> Result<Value, String> {
    match req.get("op").and_then(Value::as_str) {
        Some("upper") => match req.get("arg").and_then(Value::as_str) {
            Some(text) => Ok(json!(text.to_uppercase())),
            None => Err("upper needs \"arg\": a string".into()),
        },
        Some("add") => {
            let bad = || "add needs \"args\": an array of integers".to_string();
            let args = req.get("args").and_then(Value::as_array).ok_or_else(bad)?;
            let mut sum: i64 = 0;
            for arg in args {
                let n = arg.as_i64().ok_or_else(bad)?;
                sum = sum.checked_add(n).ok_or("add overflows a 64-bit integer")?;
            }
            Ok(json!(sum))
        }
        Some(op) => Err(format!("unknown op {op:?} (known: upper, add)")),
        None => Err("missing \"op\"".into()),
    }
}

/// Binds the REP socket on `listen`; returns it with the endpoint it got.
pub fn bind(ctx: &zmq::Context, listen: &str) -> anyhow::Result<(zmq::Socket, String)> {
    let rep = ctx.socket(zmq::REP).context("creating a REP socket")?;
    rep.set_maxmsgsize(MAX_REQUEST)?;
    rep.set_linger(0)?;
    let endpoint = net::bind(&rep, listen)?;
    Ok((rep, endpoint))
}

/// Answers requests until `flag` is set; returns how many were answered.
pub fn serve(rep: &zmq::Socket, flag: &Flag) -> anyhow::Result<u64> {
    let mut answered = 0;
    while let Recv::Msg(frames) = net::recv(rep, flag, None)? {
        let reply = match frames.as_slice() {
            [one] => answer(one),
            _ => json!({"id": null, "error": format!("expected 1 frame, got {}", frames.len())}),
        };
        log::debug!("request {answered}: {reply}");
        // A reply to a peer that has gone is dropped by libzmq; the server carries on.
        rep.send(reply.to_string().as_bytes(), 0)
            .context("sending a reply")?;
        answered += 1;
    }
    log::info!("stopping after {answered} requests");
    Ok(answered)
}

/// The client's settings.
pub struct ClientConfig {
    pub connect: String,
    pub count: u64,
    pub size: usize,
    pub timeout: Duration,
    pub retry: Duration,
}

/// Request `i` and the result that must come back: even ids upper-case `size` letters, odd ids
/// add two numbers.
pub fn request(i: u64, size: usize) -> (Value, Value) {
    if i.is_multiple_of(2) {
        let text: String = (0..size)
            .map(|k| (b'a' + ((i as usize + k) % 26) as u8) as char)
            .collect();
        let expected = json!(text.to_uppercase());
        (json!({"id": i, "op": "upper", "arg": text}), expected)
    } else {
        (
            json!({"id": i, "op": "add", "args": [i, size]}),
            json!(i + size as u64),
        )
    }
}

/// Sends `count` requests one at a time and checks that reply i answers request i.
pub fn run_client(cfg: &ClientConfig, flag: &Flag) -> anyhow::Result<Outcome> {
    let ep = net::endpoint(net::resolve_peer(&cfg.connect, cfg.retry)?);
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).context("creating a REQ socket")?;
    // A REQ socket whose reply never comes must not hold the process at exit.
    req.set_linger(0)?;
    let monitor = Monitor::new(&ctx, &req)?;
    req.connect(&ep)
        .with_context(|| format!("connecting to {ep}"))?;
    let mut summary = Summary::default();
    match monitor.wait_handshakes(1, flag, Some(cfg.retry))? {
        Wait::Ready => {}
        Wait::Stopped => {
            return Ok(Outcome {
                summary: summary.with("mismatched", 0),
                problem: None,
            })
        }
        Wait::TimedOut => bail!(
            "no ZeroMQ handshake with {ep} within {} s: is the REP server up?",
            cfg.retry.as_secs_f64()
        ),
    }
    let start = Instant::now();
    let (mut mismatched, mut problem) = (0u64, None);
    for i in 0..cfg.count {
        let (request, expected) = request(i, cfg.size);
        if !net::send(&req, &[request.to_string().as_bytes()], flag)? {
            break;
        }
        summary.sent += 1;
        match net::recv(&req, flag, Some(cfg.timeout))? {
            Recv::Msg(frames) => {
                summary.received += 1;
                if let Err(why) = check(&frames, i, &expected) {
                    mismatched += 1;
                    log::warn!("reply {i}: {why}");
                }
            }
            Recv::TimedOut => {
                problem = Some(format!(
                    "no reply to request {i} from {ep} within {} ms: the server is gone or stuck",
                    cfg.timeout.as_millis()
                ));
                break;
            }
            Recv::Stopped => break,
        }
    }
    summary.lost = summary.sent - summary.received;
    summary.elapsed = start.elapsed();
    if problem.is_none() && mismatched > 0 {
        problem = Some(format!("{mismatched} replies did not answer their request"));
    }
    Ok(Outcome {
        summary: summary.with("mismatched", mismatched),
        problem,
    })
}

/// Ok if `frames` is the reply to request `id` with the `expected` result.
fn check(frames: &[Vec<u8>], id: u64, expected: &Value) -> Result<(), String> {
    let [frame] = frames else {
        return Err(format!("{} frames", frames.len()));
    };
    let reply: Value = serde_json::from_slice(frame).map_err(|e| format!("not JSON: {e}"))?;
    if reply.get("id") != Some(&json!(id)) {
        return Err(format!("answers id {:?}", reply.get("id")));
    }
    match reply.get("result") {
        Some(result) if result == expected => Ok(()),
        _ => Err(format!("wrong result: {reply}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_good_requests_and_names_what_is_wrong_with_bad_ones() {
        let ok = answer(br#"{"id":3,"op":"upper","arg":"abc"}"#);
        assert_eq!(ok, json!({"id": 3, "result": "ABC"}));
        assert_eq!(
            answer(br#"{"id":4,"op":"add","args":[1,2,3]}"#)["result"],
            6
        );
        let cases: [(&[u8], &str); 5] = [
            (b"\xff\x00garbage", "not JSON"),
            (br#"{"id":5,"op":"upper"#, "not JSON"),
            (br#"{"id":6,"op":"divide"}"#, "unknown op"),
            (br#"{"id":7,"op":"add","args":["x"]}"#, "array of integers"),
            (
                br#"{"id":8,"op":"add","args":[9223372036854775807,1]}"#,
                "overflows",
            ),
        ];
        for (bad, why) in cases {
            let reply = answer(bad);
            let error = reply["error"].as_str().unwrap_or_default();
            assert!(error.contains(why), "{reply}");
        }
        assert_eq!(answer(br#"{"id":6,"op":"divide"}"#)["id"], 6);
    }

    #[test]
    fn a_request_is_answered_by_its_expected_result() {
        for i in 0..4 {
            let (req, expected) = request(i, 5);
            let reply = answer(req.to_string().as_bytes());
            check(&[reply.to_string().into_bytes()], i, &expected).unwrap();
            assert!(check(&[reply.to_string().into_bytes()], i + 1, &expected).is_err());
        }
    }
}
