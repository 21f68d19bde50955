//! REQ/REP: a small JSON RPC (the guide's hwserver/hwclient grown a little).
//!
//! Request `{"id":7,"op":"upper","arg":"abc"}` or `{"id":8,"op":"add","args":[1,2]}`; the reply
//! carries the same id and a `result`, or an `error` for a malformed request, and the server keeps
//! answering. The client alternates strictly; a reply that does not come ends the plain client's
//! run, while with `retries` it is a Lazy Pirate (zguide ch. 4): close the REQ socket, open a new
//! one (a new TCP connection and ZMTP greeting) and send the same request again.

use std::time::{Duration, Instant};

use anyhow::Context;
use common::recovery::Backoff;
use common::Stop;
use common::Summary;
use serde_json::{json, Value};

use crate::curve;
use crate::net::{self, Recv, Watcher};
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
    bind_with(ctx, listen, &curve::ServerKeys::default())
}

/// [`bind`], a CURVE server if `keys` say so.
fn bind_with(
    ctx: &zmq::Context,
    listen: &str,
    keys: &curve::ServerKeys,
) -> anyhow::Result<(zmq::Socket, String)> {
    let rep = ctx.socket(zmq::REP).context("creating a REP socket")?;
    rep.set_maxmsgsize(MAX_REQUEST)?;
    rep.set_linger(0)?;
    keys.apply(&rep)?;
    let endpoint = net::bind(&rep, listen)?;
    Ok((rep, endpoint))
}

/// Binds the REP socket, then [`serve`]s until `stop` is set.
/// With CURVE, a peer whose handshake fails is logged and left out; the others are served.
pub fn run_server(cfg: &ServerConfig, stop: &Stop) -> anyhow::Result<()> {
    let ctx = zmq::Context::new();
    let (rep, _) = bind_with(&ctx, &cfg.listen, &cfg.curve)?;
    // The watcher's monitor starts after the bind: its events are about peers, not the listener.
    let watcher = (cfg.curve.enabled())
        .then(|| Watcher::start(&ctx, &rep))
        .transpose()?;
    let served = serve(&rep, stop);
    if let Some(watcher) = watcher {
        watcher.stop(&rep)?;
    }
    served.map(|_| ())
}

/// Answers requests until `stop` is set; returns how many were answered.
pub fn serve(rep: &zmq::Socket, stop: &Stop) -> anyhow::Result<u64> {
    let mut answered = 0;
    while let Recv::Msg(frames) = net::recv(rep, stop, None)? {
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

/// ZeroMQ REP server: a small JSON RPC (`upper`, `add`); every request gets a reply.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct ServerConfig {
    /// HOST:PORT to bind the REP socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5555")]
    pub listen: String,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub curve: curve::ServerKeys,
}

common::role_probing_listen!(ServerConfig);

/// ZeroMQ REQ client: strict request-reply alternation against the REP server.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct ClientConfig {
    /// HOST:PORT of the REP server.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5555")]
    pub connect: String,
    /// Number of requests to send.
    #[arg(long, env = "COUNT", default_value_t = 100)]
    pub count: u64,
    /// Bytes of text in each `upper` request (at most 500000).
    #[arg(long, env = "SIZE", default_value_t = 32,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=500_000))]
    pub size: usize,
    /// How long to wait for each reply before declaring it lost, in seconds.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "3", value_parser = common::secs)]
    pub timeout: Duration,
    /// How long to keep trying while the server is not up, in seconds.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// Lazy Pirate: resend an unanswered request this many times, each on a new socket (0: give up).
    #[arg(long, env = "RETRIES", default_value_t = 0)]
    pub retries: u32,
    #[command(flatten)]
    pub curve: curve::ClientKeys,
}

impl common::Role for ClientConfig {}

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

/// A REQ socket connected to `ep`. Linger 0: a request whose reply never comes must not hold
/// the process at exit, nor a socket being replaced.
fn req_socket(
    ctx: &zmq::Context,
    ep: &str,
    keys: &curve::ClientKeys,
) -> anyhow::Result<zmq::Socket> {
    let req = ctx.socket(zmq::REQ).context("creating a REQ socket")?;
    req.set_linger(0)?;
    keys.apply(&req)?;
    req.connect(ep)
        .with_context(|| format!("connecting to {ep}"))?;
    Ok(req)
}

/// Sends `count` requests one at a time and checks that reply i answers request i.
pub fn run_client(cfg: &ClientConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ep = net::endpoint(net::resolve_peer(&cfg.connect, cfg.retry)?);
    let ctx = zmq::Context::new();
    let mut summary = Summary::default();
    let mut req = ctx.socket(zmq::REQ).context("creating a REQ socket")?;
    req.set_linger(0)?;
    cfg.curve.apply(&req)?;
    let why = |event, value| cfg.curve.why_failed(event, value);
    if !net::connect_handshaken(&ctx, &req, &ep, "REP server", cfg.retry, stop, why)? {
        return Ok(Outcome {
            summary: summary.with("mismatched", 0),
            problem: None,
        });
    }
    // The receive timeout is the wait between attempts: no further pause.
    let mut backoff = Backoff::new(format!("resending to {ep}"), cfg.retries)
        .pauses(Duration::ZERO, Duration::ZERO);
    let start = Instant::now();
    let (mut mismatched, mut problem) = (0u64, None);
    'requests: for i in 0..cfg.count {
        let (request, expected) = request(i, cfg.size);
        let body = request.to_string();
        summary.sent += 1;
        loop {
            if !net::send(&req, &[body.as_bytes()], stop)? {
                break 'requests;
            }
            match net::recv(&req, stop, Some(cfg.timeout))? {
                Recv::Msg(frames) => {
                    summary.received += 1;
                    backoff.succeeded();
                    if let Err(why) = check(&frames, i, &expected) {
                        mismatched += 1;
                        log::warn!("reply {i}: {why}");
                    }
                    break;
                }
                Recv::TimedOut => {
                    let why = format!(
                        "no reply to request {i} within {} s",
                        cfg.timeout.as_secs_f64()
                    );
                    if backoff.failed(&why).is_none() {
                        problem = Some(format!(
                            "no reply to request {i} from {ep} within {} s{}: the server is gone or stuck",
                            cfg.timeout.as_secs_f64(),
                            match cfg.retries {
                                0 => String::new(),
                                n => format!(" after {n} retries"),
                            }
                        ));
                        break 'requests;
                    }
                    // A REQ socket waiting for a reply refuses to send again: replace it.
                    req = req_socket(&ctx, &ep, &cfg.curve)?;
                }
                Recv::Stopped => break 'requests,
            }
        }
    }
    summary.lost = summary.sent - summary.received;
    summary.elapsed = start.elapsed();
    if problem.is_none() && mismatched > 0 {
        problem = Some(format!("{mismatched} replies did not answer their request"));
    }
    let summary = summary.with("mismatched", mismatched);
    Ok(Outcome {
        summary: if cfg.retries > 0 {
            summary.with("retries", backoff.retries())
        } else {
            summary
        },
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
