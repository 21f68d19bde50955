//! PUB/SUB: topic-tagged updates (the guide's wuserver/wuclient), each message two frames
//! `[topic, payload]`; after the data, one end marker `[topic, "END <n>"]` per topic tells a
//! subscriber how many messages of that topic were sent, so it knows when to stop and what it lost.
//!
//! Slow joiners: a SUB misses whatever was published before its subscription reached the
//! publisher. The publisher therefore binds an XPUB socket with ZMQ_XPUB_VERBOSER, which hands it
//! every subscribe and unsubscribe message, duplicates included, and starts publishing only once
//! `--subscriptions N` topic filters are in place (the sum of all subscribers' `--topics`). XPUB
//! applies a subscription before passing it up, so when the count is reached the filters are live.
//! A count is exact for any SUB (pyzmq too) without a private readiness protocol. One caveat from
//! libzmq: a peer speaking the old ZMTP/1.0 gets a phantom "subscribe to everything" (1.0 SUBs
//! filtered on their own side), which counts as one subscription until it disconnects.
//!
//! PUB/SUB promises nothing: a subscriber slower than the publisher loses what overflows the
//! high-water marks (`--sndhwm`, `--rcvhwm`), and a late joiner (`--subscriptions 0`) misses what
//! came before its subscription. Every payload carries its topic's sequence number, so a
//! subscriber counts both exactly: `before_join` (sequence numbers below the first it saw) and
//! `missed` (every gap after that, up to the end marker's count).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::Stop;
use common::Summary;
use serde::{Deserialize, Serialize};

use crate::curve;
use crate::json::{self, Numbered};
use crate::net::{self, Recv, Watcher};
use crate::Outcome;

/// The payload prefix of an end-of-stream marker.
pub const END: &str = "END ";

/// An update as the publisher sends it: JSON text, written from borrowed fields (fields in the
/// order `json!` wrote them), so no `Value` or payload copy is built per message.
#[derive(Serialize)]
struct Update<'a> {
    data: &'a str,
    seq: u64,
}

/// The one field a subscriber reads; the data is skipped without being copied.
#[derive(Deserialize)]
struct UpdateIn {
    seq: Option<u64>,
}

/// ZeroMQ publisher: [topic, payload] messages, cycling over --topics.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct PublisherConfig {
    /// HOST:PORT to bind the XPUB socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5556")]
    pub listen: String,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    pub probe: bool,
    /// Topics to cycle over, comma-separated.
    #[arg(
        long,
        env = "TOPICS",
        value_delimiter = ',',
        default_value = "weather,news,sports"
    )]
    pub topics: Vec<String>,
    /// Messages per topic.
    #[arg(long, env = "COUNT", default_value_t = 100)]
    pub count: u64,
    /// Bytes of data in each message.
    #[arg(long, env = "SIZE", default_value_t = 16,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    pub size: usize,
    /// Topic filters to wait for before publishing: the sum of every subscriber's --topics (0: start
    /// at once, so a subscriber joining later misses the start).
    #[arg(long, env = "SUBSCRIPTIONS", default_value_t = 1)]
    pub subscriptions: usize,
    /// ZMQ_SNDHWM: messages queued per subscriber before XPUB drops them for it (0: no limit).
    #[arg(long, env = "SNDHWM", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    pub sndhwm: i32,
    /// Messages per second over all topics (0: as fast as possible).
    #[arg(long, env = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub rate: f64,
    #[command(flatten)]
    pub curve: curve::ServerKeys,
}

common::role_probing_listen!(PublisherConfig);

/// A `--rate`: a finite number of messages per second, 0 or more.
fn rate(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!("{value:?} is not a number of messages per second")),
    }
}

/// How long the end markers may wait for room in a slow subscriber's queue.
const END_WAIT: Duration = Duration::from_millis(net::FLUSH_LINGER_MS as u64);

/// Binds the XPUB socket, then [`publish`]es.
pub fn run_publisher(cfg: &PublisherConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let mut xpub = bind(&ctx, &cfg.listen, cfg.sndhwm, &cfg.curve)?;
    // With CURVE, a peer whose handshake fails is logged and left out; the others get the data.
    let watcher = (cfg.curve.enabled())
        .then(|| Watcher::start(&ctx, &xpub))
        .transpose()?;
    let outcome = publish(&mut xpub, cfg, stop);
    if let Some(watcher) = watcher {
        watcher.stop(&xpub)?;
    }
    outcome
}

/// An XPUB socket bound on `listen` that reports every (un)subscription; with `sndhwm` 0 it never
/// drops; a CURVE server if `keys` say so.
pub fn bind(
    ctx: &zmq::Context,
    listen: &str,
    sndhwm: i32,
    keys: &curve::ServerKeys,
) -> anyhow::Result<zmq::Socket> {
    let mut xpub = ctx.socket(zmq::XPUB).context("creating an XPUB socket")?;
    set_int(
        &mut xpub,
        zmq_sys::ZMQ_XPUB_VERBOSER,
        "ZMQ_XPUB_VERBOSER",
        1,
    )?;
    // By default no high-water mark: a lab run is bounded by --count, and a drop would be reported
    // as a loss the network did not cause. Set before binding: the listener copies the options
    // its connections will get.
    xpub.set_sndhwm(sndhwm)?;
    xpub.set_linger(1500)?;
    keys.apply(&xpub)?;
    net::bind(&xpub, listen)?;
    Ok(xpub)
}

/// An XPUB option the zmq crate has no setter for (ZMQ_XPUB_VERBOSER, ZMQ_XPUB_NODROP).
fn set_int(xpub: &mut zmq::Socket, option: u32, name: &str, value: i32) -> anyhow::Result<()> {
    let value: std::os::raw::c_int = value;
    // SAFETY: a live socket pointer and an int option value of the size passed.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            xpub.as_mut_ptr(),
            option as _,
            &value as *const _ as *const std::ffi::c_void,
            std::mem::size_of_val(&value),
        )
    };
    anyhow::ensure!(
        rc == 0,
        "setting {name}: {}",
        zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
    );
    Ok(())
}

/// Waits for the subscriptions, then publishes `count` messages per topic and the end markers.
pub fn publish(
    xpub: &mut zmq::Socket,
    cfg: &PublisherConfig,
    stop: &Stop,
) -> anyhow::Result<Outcome> {
    let mut summary = Summary::default();
    log::info!("waiting for {} subscriptions", cfg.subscriptions);
    let mut live: i64 = 0;
    while live < cfg.subscriptions as i64 {
        let Recv::Msg(frames) = net::recv(xpub, stop, None)? else {
            return Ok(done(summary, cfg));
        };
        // Byte 1 subscribes, 0 unsubscribes, then the topic prefix; anything else a peer sends
        // (an old ZMTP/1.0 peer's data) is not a subscription.
        let (verb, topic) = match frames[0].split_first() {
            Some((1, topic)) => ("subscribe", topic),
            Some((0, topic)) => ("unsubscribe", topic),
            _ => {
                log::warn!("ignoring a message that is not a subscription");
                continue;
            }
        };
        live += if verb == "subscribe" { 1 } else { -1 };
        let topic = String::from_utf8_lossy(topic);
        log::info!(
            "{verb} {topic:?}: {live}/{} subscriptions",
            cfg.subscriptions
        );
    }
    let start = Instant::now();
    let data = "x".repeat(cfg.size);
    let (update, mut payload) = (
        Numbered::new(&Update {
            data: &data,
            seq: 0,
        }),
        Vec::new(),
    );
    for seq in 0..cfg.count {
        for topic in &cfg.topics {
            if cfg.rate > 0.0 {
                let due = start + Duration::from_secs_f64(summary.sent as f64 / cfg.rate);
                while let Some(left) = due.checked_duration_since(Instant::now()) {
                    if stop.is_set() {
                        return Ok(done(summary, cfg));
                    }
                    std::thread::sleep(left.min(Duration::from_millis(net::TICK_MS as u64)));
                }
            }
            update.write(seq, &mut payload);
            // Past the high-water mark XPUB drops the message for that subscriber, silently.
            if !net::send(xpub, &[topic.as_bytes(), &payload], stop)? {
                return Ok(done(summary, cfg));
            }
            summary.sent += 1;
        }
    }
    send_end_markers(xpub, cfg, stop)?;
    summary.elapsed = start.elapsed();
    log::info!(
        "published {} messages and {} end markers",
        summary.sent,
        cfg.topics.len()
    );
    net::flush_on_close(&[&*xpub], stop)?;
    Ok(done(summary, cfg))
}

/// Sends one end marker per topic. A dropped marker would leave a slow subscriber waiting for
/// nothing, so these wait for room (ZMQ_XPUB_NODROP), for at most [`END_WAIT`].
fn send_end_markers(
    xpub: &mut zmq::Socket,
    cfg: &PublisherConfig,
    stop: &Stop,
) -> anyhow::Result<()> {
    set_int(xpub, zmq_sys::ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", 1)?;
    let deadline = Instant::now() + END_WAIT;
    for topic in &cfg.topics {
        let end = format!("{END}{}", cfg.count);
        loop {
            match xpub.send_multipart([topic.as_bytes(), end.as_bytes()], zmq::DONTWAIT) {
                Ok(()) => break,
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(e).context("sending an end marker"),
            }
            if stop.is_set() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                log::warn!("end marker of {topic:?} dropped: a subscriber's queue stayed full");
                break;
            }
            // XPUB has no "room again" event to poll for with NODROP: look again shortly.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

fn done(summary: Summary, cfg: &PublisherConfig) -> Outcome {
    // Every topic gets the same number of messages, in turns.
    let n = cfg.topics.len().max(1) as u64;
    let per_topic: Vec<String> = cfg
        .topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{t}:{}",
                summary.sent / n + u64::from((i as u64) < summary.sent % n)
            )
        })
        .collect();
    let summary = summary
        .with("per_topic", per_topic.join(","))
        .with("topics", cfg.topics.join(","))
        .with("subscriptions", cfg.subscriptions);
    Outcome {
        summary,
        problem: None,
    }
}

/// ZeroMQ SUB subscriber: counts what each of its topics delivered.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct SubscriberConfig {
    /// HOST:PORT of the publisher.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5556")]
    pub connect: String,
    /// Topics to subscribe to, comma-separated (ZeroMQ matches them as prefixes).
    #[arg(long, env = "TOPICS", value_delimiter = ',', default_value = "weather")]
    pub topics: Vec<String>,
    /// Give up after this many seconds without a message.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "30", value_parser = common::secs)]
    pub timeout: Duration,
    /// How long to keep trying while the publisher is not up, in seconds.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// ZMQ_RCVHWM: messages queued here before the publisher's side must hold or drop (0: no limit).
    #[arg(long, env = "RCVHWM", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    pub rcvhwm: i32,
    /// Pause after each message, in seconds: a slow subscriber.
    #[arg(long = "delay-secs", env = "DELAY_SECS", default_value = "0", value_parser = common::secs)]
    pub delay: Duration,
    /// Exit 0 when messages were lost but counted exactly (a fault run); otherwise loss exits 1.
    #[arg(long, env = "EXPECT_LOSS")]
    pub expect_loss: bool,
    #[command(flatten)]
    pub curve: curve::ClientKeys,
}

impl common::Role for SubscriberConfig {}

/// What a subscriber received for one topic.
#[derive(Default, Debug)]
pub struct TopicTally {
    pub received: u64,
    /// Sequence numbers that went backwards, or payloads without one.
    pub out_of_order: u64,
    /// Messages published before the subscription took effect: the first sequence number seen.
    pub before_join: u64,
    /// Gaps after the first message seen, up to the end marker's count.
    pub missed: u64,
    /// The sequence number expected next, once one arrived.
    pub next: Option<u64>,
    /// The count from the end marker, once it arrived.
    pub announced: Option<u64>,
}

/// Subscribes to its topics and receives until every topic's end marker arrived.
pub fn run_subscriber(cfg: &SubscriberConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ep = net::endpoint(net::resolve_peer(&cfg.connect, cfg.retry)?);
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).context("creating a SUB socket")?;
    sub.set_rcvhwm(cfg.rcvhwm)?;
    sub.set_linger(0)?;
    cfg.curve.apply(&sub)?;
    for topic in &cfg.topics {
        sub.set_subscribe(topic.as_bytes())
            .with_context(|| format!("subscribing to {topic:?}"))?;
    }
    let mut tally: BTreeMap<String, TopicTally> = cfg
        .topics
        .iter()
        .map(|t| (t.clone(), TopicTally::default()))
        .collect();
    let mut unexpected = 0;
    let why = |event, value| cfg.curve.why_failed(event, value);
    if !net::connect_handshaken(&ctx, &sub, &ep, "publisher", cfg.retry, stop, why)? {
        return Ok(tally_outcome(&tally, 0, Duration::ZERO, Some(None), false));
    }
    log::info!("subscribed to {:?} at {ep}", cfg.topics);
    // `Some(None)`: stopped by a signal, which is a clean end however much arrived.
    let (mut start, mut ended, mut frames) = (None, None, Vec::new());
    while tally.values().any(|t| t.announced.is_none()) {
        match net::recv_into(&sub, &mut frames, stop, Some(cfg.timeout))? {
            Recv::Msg(()) => {}
            Recv::Stopped => {
                ended = Some(None);
                break;
            }
            Recv::TimedOut => {
                let open: Vec<&String> = tally
                    .iter()
                    .filter(|(_, t)| t.announced.is_none())
                    .map(|(k, _)| k)
                    .collect();
                let why = format!(
                    "nothing from {ep} for {} s; no end marker yet for {open:?}",
                    cfg.timeout.as_secs_f64()
                );
                ended = Some(Some(why));
                break;
            }
        };
        start.get_or_insert_with(Instant::now);
        // ZeroMQ filters by prefix: a topic counts only when it is exactly one of ours.
        // Compared as bytes: a subscriber has a few topics, and checking the UTF-8 of every
        // message's topic first cost more than the comparison.
        let t = match frames.as_slice() {
            [topic, _] => tally
                .iter_mut()
                .find(|(name, _)| name.as_bytes() == &topic[..])
                .map(|(_, t)| t),
            _ => None,
        };
        let Some(t) = t else {
            unexpected += 1;
            log::warn!(
                "unexpected message: {:?}",
                String::from_utf8_lossy(&frames[0][..])
            );
            continue;
        };
        take(t, &frames[1]);
        if !cfg.delay.is_zero() {
            std::thread::sleep(cfg.delay);
        }
    }
    let elapsed = start.map_or(Duration::ZERO, |s: Instant| s.elapsed());
    Ok(tally_outcome(
        &tally,
        unexpected,
        elapsed,
        ended,
        cfg.expect_loss,
    ))
}

/// Takes in one payload of a topic: data with its sequence number, or the end marker.
fn take(t: &mut TopicTally, payload: &[u8]) {
    // Only the end marker's tail is read as text: checking every update's UTF-8 first cost a pass
    // over its bytes.
    if let Some(n) = payload.strip_prefix(END.as_bytes()) {
        let n = std::str::from_utf8(n)
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        t.announced = Some(n);
        // What never came after the last message seen; nothing seen at all counts as missed.
        t.missed += n.saturating_sub(t.next.unwrap_or(0));
        return;
    }
    t.received += 1;
    let seq = json::last_number(payload, "seq").or_else(|| {
        let update = serde_json::from_slice::<UpdateIn>(payload).ok();
        update.and_then(|u| u.seq)
    });
    match (seq, t.next) {
        (Some(seq), None) => t.before_join = seq,
        (Some(seq), Some(next)) if seq >= next => t.missed += seq - next,
        _ => {
            t.out_of_order += 1;
            return;
        }
    }
    if seq.is_some_and(|seq| seq != t.next.unwrap_or(seq)) {
        log::debug!("gap before {seq:?}: {} missed so far", t.missed);
    }
    t.next = seq.map(|s| s + 1);
}

/// The summary, and the problem: `ended` is `Some(None)` after a signal, `Some(Some(why))` after a
/// timeout, `None` when the stream ended and is judged here.
fn tally_outcome(
    tally: &BTreeMap<String, TopicTally>,
    unexpected: u64,
    elapsed: Duration,
    ended: Option<Option<String>>,
    expect_loss: bool,
) -> Outcome {
    let sent: u64 = tally.values().map(|t| t.announced.unwrap_or(0)).sum();
    let received: u64 = tally.values().map(|t| t.received).sum();
    let out_of_order: u64 = tally.values().map(|t| t.out_of_order).sum();
    let per_topic: Vec<String> = tally
        .iter()
        .map(|(k, t)| format!("{k}:{}", t.received))
        .collect();
    let lost = tally
        .values()
        .map(|t| t.announced.unwrap_or(0).saturating_sub(t.received))
        .sum();
    let summary = Summary {
        sent,
        received,
        lost,
        elapsed,
        extra: vec![],
    }
    .with("per_topic", per_topic.join(","))
    .with("missed", tally.values().map(|t| t.missed).sum::<u64>())
    .with(
        "before_join",
        tally.values().map(|t| t.before_join).sum::<u64>(),
    )
    .with("unexpected", unexpected)
    .with("out_of_order", out_of_order);
    let problem = ended.unwrap_or_else(|| {
        // Exact: every message of every topic is either received or counted as not.
        let exact = unexpected == 0
            && out_of_order == 0
            && tally
                .values()
                .all(|t| t.announced == Some(t.received + t.missed + t.before_join));
        let complete = tally.values().all(|t| t.announced == Some(t.received));
        if !exact {
            Some(format!("wrong stream or inexact count: {summary}"))
        } else if !complete && !expect_loss {
            Some(format!("incomplete stream: {summary}"))
        } else {
            None
        }
    });
    Outcome { summary, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(t: &mut TopicTally, seq: u64) {
        take(t, json!({ "seq": seq }).to_string().as_bytes());
    }

    #[test]
    fn gaps_and_a_late_start_are_counted_apart() {
        let mut t = TopicTally::default();
        for seq in [3, 4, 7, 8] {
            data(&mut t, seq);
        }
        take(&mut t, b"END 10");
        assert_eq!(
            (t.before_join, t.missed, t.received, t.out_of_order),
            (3, 2 + 1, 4, 0)
        );
        assert_eq!(t.announced, Some(t.received + t.missed + t.before_join));
        data(&mut t, 8);
        assert_eq!(t.out_of_order, 1, "a sequence number going back");
    }

    #[test]
    fn a_topic_with_nothing_received_missed_everything() {
        let mut t = TopicTally::default();
        take(&mut t, b"END 5");
        assert_eq!((t.before_join, t.missed), (0, 5));
    }
}
