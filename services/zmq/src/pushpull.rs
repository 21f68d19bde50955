//! PUSH/PULL: the guide's taskvent/taskwork/tasksink trio, proving fair turns.
//!
//! The pusher (ventilator) binds PUSH and hands out tasks only once `--workers` workers have
//! completed the ZMTP handshake (a socket monitor, never a sleep): PUSH round-robins over the
//! peers it has, so an early start would give the first worker everything (the slow joiner).
//! It first tells the sink the batch size on its own PUSH connection, as taskvent does. After the
//! batch it sends one end marker per worker; round-robin gives each worker exactly one.
//! Workers pull tasks, report `{worker, task}` to the sink, and stop at their end marker. The sink
//! binds PULL, collects until the batch is complete and judges the split: fair when the counts
//! differ by at most one. (A peer that speaks the old ZMTP/1.0 and stays connected is no worker
//! for the monitor but a pipe for PUSH: it takes its turns and the sink reports those tasks lost.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use common::shutdown::Flag;
use common::Summary;
use serde_json::{json, Value};

use crate::net::{self, Monitor, Recv, Wait};
use crate::Outcome;

/// How long queued messages may still go out when a role is stopped early (a complete run
/// flushes longer: [`net::flush_on_close`]); short, so SIGTERM ends the process within 2 s.
const LINGER_MS: i32 = 1500;

/// Connects a socket to a peer and waits for its handshake, failing clearly if the peer is not up.
fn connect(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    hostport: &str,
    what: &str,
    retry: Duration,
    flag: &Flag,
) -> anyhow::Result<Option<zmq::Socket>> {
    let ep = net::endpoint(net::resolve_peer(hostport, retry)?);
    let socket = ctx
        .socket(kind)
        .with_context(|| format!("creating a socket for {ep}"))?;
    socket.set_linger(LINGER_MS)?;
    unbounded(&socket)?;
    let monitor = Monitor::new(ctx, &socket)?;
    socket
        .connect(&ep)
        .with_context(|| format!("connecting to {ep}"))?;
    match monitor.wait_handshakes(1, flag, Some(retry))? {
        Wait::Ready => Ok(Some(socket)),
        Wait::Stopped => Ok(None),
        Wait::TimedOut => bail!(
            "no ZeroMQ handshake with {ep} within {} s: is the {what} up?",
            retry.as_secs_f64()
        ),
    }
}

/// Removes a socket's high-water marks. With them, PUSH skips a worker whose queue is full, so
/// under load a busy worker misses turns (an uneven split) or even its end marker (and waits
/// forever); and a full queue on either side of a worker -> sink connection now and then stalled
/// it for good (1 run in 4 at 200,000 tasks, libzmq 4.3.4). A lab batch is bounded by --count, so
/// unbounded queues cost memory only in proportion to it; TCP still paces the sender.
fn unbounded(socket: &zmq::Socket) -> anyhow::Result<()> {
    socket.set_sndhwm(0).context("setting ZMQ_SNDHWM")?;
    socket.set_rcvhwm(0).context("setting ZMQ_RCVHWM")?;
    Ok(())
}

/// The pusher's settings.
pub struct PusherConfig {
    pub listen: String,
    pub sink: String,
    pub count: u64,
    pub size: usize,
    pub workers: usize,
    pub retry: Duration,
}

/// Binds the task socket, then [`push`]es the batch.
pub fn run_pusher(cfg: &PusherConfig, flag: &Flag) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let tasks = ctx
        .socket(zmq::PUSH)
        .context("creating the task PUSH socket")?;
    tasks.set_linger(LINGER_MS)?;
    unbounded(&tasks)?;
    let monitor = Monitor::new(&ctx, &tasks)?;
    net::bind(&tasks, &cfg.listen)?;
    push(&ctx, &tasks, &monitor, cfg, flag)
}

/// Announces the batch to the sink, waits for the workers, sends the tasks and the end markers.
pub fn push(
    ctx: &zmq::Context,
    tasks: &zmq::Socket,
    monitor: &Monitor,
    cfg: &PusherConfig,
    flag: &Flag,
) -> anyhow::Result<Outcome> {
    let mut summary = Summary::default();
    let stopped = |summary: Summary| {
        Ok(Outcome {
            summary: summary.with("workers", cfg.workers),
            problem: None,
        })
    };
    let Some(sink) = connect(ctx, zmq::PUSH, &cfg.sink, "sink", cfg.retry, flag)? else {
        return stopped(summary);
    };
    log::info!("waiting for {} workers", cfg.workers);
    if monitor.wait_handshakes(cfg.workers, flag, None)? != Wait::Ready {
        return stopped(summary);
    }
    // The handshake event is emitted after the new peer's pipe was handed to the socket; reading
    // ZMQ_EVENTS makes the socket take in every pending pipe now, so the first task already
    // sees all workers.
    tasks.get_events().context("reading ZMQ_EVENTS")?;
    if !net::send(
        &sink,
        &[json!({"batch": cfg.count}).to_string().as_bytes()],
        flag,
    )? {
        return stopped(summary);
    }
    let start = Instant::now();
    let payload = "x".repeat(cfg.size);
    for i in 0..cfg.count {
        let task = json!({"task": i, "payload": payload}).to_string();
        if !net::send(tasks, &[task.as_bytes()], flag)? {
            break;
        }
        summary.sent += 1;
    }
    for _ in 0..cfg.workers {
        if !net::send(tasks, &[json!({"end": true}).to_string().as_bytes()], flag)? {
            break;
        }
    }
    summary.elapsed = start.elapsed();
    log::info!(
        "sent {} tasks and {} end markers",
        summary.sent,
        cfg.workers
    );
    net::flush_on_close(&[tasks, &sink], flag)?;
    stopped(summary)
}

/// A worker's settings.
pub struct WorkerConfig {
    pub connect: String,
    pub sink: String,
    pub id: String,
    pub retry: Duration,
}

/// Pulls tasks until its end marker, reporting each one done to the sink.
pub fn run_worker(cfg: &WorkerConfig, flag: &Flag) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let mut summary = Summary::default();
    let done = |summary: Summary, malformed: u64| Outcome {
        summary: summary.with("malformed", malformed),
        problem: None,
    };
    let Some(sink) = connect(&ctx, zmq::PUSH, &cfg.sink, "sink", cfg.retry, flag)? else {
        return Ok(done(summary, 0));
    };
    let Some(tasks) = connect(&ctx, zmq::PULL, &cfg.connect, "pusher", cfg.retry, flag)? else {
        return Ok(done(summary, 0));
    };
    log::info!("worker {} ready", cfg.id);
    let (start, mut malformed) = (Instant::now(), 0);
    while let Recv::Msg(frames) = net::recv(&tasks, flag, None)? {
        let task: Value = serde_json::from_slice(&frames[0]).unwrap_or(Value::Null);
        if task.get("end").is_some() {
            log::info!("end marker: done");
            break;
        }
        let Some(i) = task.get("task").and_then(Value::as_u64) else {
            malformed += 1;
            log::warn!("ignoring a malformed task ({} bytes)", frames[0].len());
            continue;
        };
        summary.received += 1;
        // The work: count the payload; the sink needs only who did which task.
        let bytes = task
            .get("payload")
            .and_then(Value::as_str)
            .map_or(0, str::len);
        let result = json!({"worker": cfg.id, "task": i, "bytes": bytes}).to_string();
        if !net::send(&sink, &[result.as_bytes()], flag)? {
            break;
        }
        summary.sent += 1;
    }
    summary.elapsed = start.elapsed();
    net::flush_on_close(&[&sink], flag)?;
    Ok(done(summary, malformed))
}

/// The sink's settings.
pub struct SinkConfig {
    pub listen: String,
    /// Workers expected to take part; 0 judges fairness over those that reported.
    pub workers: usize,
    /// Once the batch started, give up after this long without a result.
    pub timeout: Duration,
}

/// What the sink collected.
#[derive(Default)]
pub struct Tally {
    pub batch: Option<u64>,
    pub per_worker: BTreeMap<String, Vec<u64>>,
    pub done: BTreeSet<u64>,
    pub duplicates: u64,
    pub malformed: u64,
}

impl Tally {
    /// Takes in one message: the batch announcement, a result, or something malformed.
    pub fn take(&mut self, frames: &[Vec<u8>]) {
        let msg: Value = match frames {
            [one] => serde_json::from_slice(one).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        if let Some(n) = msg.get("batch").and_then(Value::as_u64) {
            log::info!("batch of {n} tasks announced");
            self.batch = Some(n);
        } else if let (Some(w), Some(t)) = (
            msg.get("worker").and_then(Value::as_str),
            msg.get("task").and_then(Value::as_u64),
        ) {
            // Worker ids go into `per_worker=a:1,b:2`, so the separators are replaced.
            let w: String = w
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            self.per_worker.entry(w).or_default().push(t);
            if !self.done.insert(t) {
                self.duplicates += 1;
            }
        } else {
            self.malformed += 1;
            log::warn!("ignoring a malformed result message");
        }
    }

    pub fn complete(&self) -> bool {
        self.batch.is_some_and(|n| self.done.len() as u64 >= n)
    }

    /// Task counts per worker, with expected workers that got nothing as 0.
    pub fn counts(&self, workers: usize) -> Vec<u64> {
        let mut counts: Vec<u64> = self.per_worker.values().map(|t| t.len() as u64).collect();
        counts.resize(counts.len().max(workers), 0);
        counts
    }

    /// Fair turns: every worker's count within one of every other's.
    pub fn fair(&self, workers: usize) -> bool {
        let counts = self.counts(workers);
        let (max, min) = (counts.iter().max(), counts.iter().min());
        matches!((max, min), (Some(max), Some(min)) if max - min <= 1)
    }
}

/// Binds the result socket, then [`collect`]s one batch.
pub fn run_sink(cfg: &SinkConfig, flag: &Flag) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let results = ctx
        .socket(zmq::PULL)
        .context("creating the result PULL socket")?;
    results.set_maxmsgsize(64 * 1024)?;
    unbounded(&results)?;
    results.set_linger(0)?;
    net::bind(&results, &cfg.listen)?;
    collect(&results, cfg, flag)
}

/// Collects results until the announced batch is complete, then judges it.
pub fn collect(results: &zmq::Socket, cfg: &SinkConfig, flag: &Flag) -> anyhow::Result<Outcome> {
    let mut tally = Tally::default();
    let mut start = None;
    let mut problem = None;
    while !tally.complete() {
        // No timeout before the first message: the sink is a server and waits for its batch.
        let limit = start.map(|_| cfg.timeout);
        match net::recv(results, flag, limit)? {
            Recv::Msg(frames) => {
                start.get_or_insert_with(Instant::now);
                tally.take(&frames);
            }
            Recv::TimedOut => {
                problem = Some(format!(
                    "no result for {} s: the batch is incomplete",
                    cfg.timeout.as_secs_f64()
                ));
                break;
            }
            Recv::Stopped => break,
        }
    }
    for (worker, tasks) in &tally.per_worker {
        let seq: Vec<String> = tasks.iter().map(u64::to_string).collect();
        log::info!("worker {worker}: {} tasks: {}", tasks.len(), seq.join(","));
    }
    let batch = tally.batch.unwrap_or(0);
    let received = tally.done.len() as u64;
    let fair = tally.fair(cfg.workers);
    let per_worker: Vec<String> = tally
        .per_worker
        .iter()
        .map(|(w, t)| format!("{w}:{}", t.len()))
        .collect();
    let summary = Summary {
        sent: batch,
        received,
        lost: batch.saturating_sub(received),
        elapsed: start.map_or(Duration::ZERO, |s| s.elapsed()),
        extra: vec![],
    }
    .with("per_worker", per_worker.join(","))
    .with("fair", fair)
    .with("duplicates", tally.duplicates)
    .with("malformed", tally.malformed);
    if problem.is_none() && tally.complete() && (!fair || tally.duplicates > 0) {
        problem = Some(format!("unfair or duplicated split: {}", summary));
    }
    Ok(Outcome { summary, problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(worker: &str, task: u64) -> Vec<Vec<u8>> {
        vec![json!({"worker": worker, "task": task})
            .to_string()
            .into_bytes()]
    }

    #[test]
    fn tally_judges_completeness_and_fairness() {
        let mut t = Tally::default();
        t.take(&result("a", 0));
        assert!(!t.complete(), "the batch size is not known yet");
        t.take(&[br#"{"batch":3}"#.to_vec()]);
        t.take(&result("b", 1));
        t.take(&[b"garbage".to_vec()]);
        t.take(&result("a", 2));
        assert!(t.complete());
        assert_eq!(t.malformed, 1);
        assert!(t.fair(2), "2 and 1 differ by one");
        assert!(
            !t.fair(3),
            "an expected worker with no task makes it unfair"
        );
        t.take(&result("a", 2));
        assert_eq!(t.duplicates, 1);
        assert!(!t.fair(2), "3 and 1");
    }
}
