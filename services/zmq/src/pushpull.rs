//! PUSH/PULL: the guide's taskvent/taskwork/tasksink trio, proving fair turns.
//!
//! The pusher (ventilator) binds PUSH and hands out tasks only once `--workers` workers have
//! completed the ZMTP handshake (a socket monitor, never a sleep): PUSH round-robins over the
//! peers it has, so an early start would give the first worker everything (the slow joiner).
//! It first tells the sink the batch size on its own PUSH connection, as taskvent does. After the
//! batch it sends one end marker per worker; round-robin gives each connected worker at least one.
//! Workers pull tasks, report `{worker, task}` to the sink, and stop at their end marker. The sink
//! binds PULL, collects until the batch is complete and judges the split: fair when the counts
//! differ by at most one. (A peer that speaks the old ZMTP/1.0 and stays connected is no worker
//! for the monitor but a pipe for PUSH: it takes its turns and the sink reports those tasks lost.)
//!
//! PUSH/PULL itself loses the tasks queued to a worker that dies. The reliable mode closes that
//! gap: the sink acknowledges each result to the pusher on an extra socket (`--acks`), and the
//! pusher, keeping a window of tasks in flight, hands out again every task whose result has not
//! come back within `--task-timeout-secs`; the sink drops and counts a result that comes twice.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::Stop;
use common::Summary;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::json::{ByteLen, Numbered, Text};
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
    stop: &Stop,
) -> anyhow::Result<Option<zmq::Socket>> {
    let ep = net::endpoint(net::resolve_peer(hostport, retry)?);
    let socket = ctx
        .socket(kind)
        .with_context(|| format!("creating a socket for {ep}"))?;
    socket.set_linger(LINGER_MS)?;
    unbounded(&socket)?;
    let why = crate::curve::handshake_failure;
    Ok(net::connect_handshaken(ctx, &socket, &ep, what, retry, stop, why)?.then_some(socket))
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

// The messages stay JSON text, readable in Wireshark. They are written from and read into borrowed
// typed fields rather than a `serde_json::Value`, which copied the payload and built a map per
// message: at 64 B that was most of the pipeline's own CPU time (bench/README.md, the profiles).
// The `json` module says what else is saved per message.

/// A task as the pusher sends it (fields in the order `json!` wrote them: alphabetical).
#[derive(Serialize)]
struct TaskOut<'a> {
    payload: &'a str,
    task: u64,
}

/// What a worker reads: a task or its end marker.
#[derive(Deserialize)]
struct TaskIn {
    task: Option<u64>,
    payload: Option<ByteLen>,
    end: Option<serde::de::IgnoredAny>,
}

/// A worker's report to the sink.
#[derive(Serialize)]
struct Done<'a> {
    bytes: usize,
    task: u64,
    worker: &'a str,
}

/// What the sink reads: the batch announcement or a result.
#[derive(Deserialize)]
struct SinkIn<'a> {
    batch: Option<u64>,
    #[serde(borrow)]
    worker: Option<Text<'a>>,
    task: Option<u64>,
}

/// ZeroMQ PUSH ventilator: sends --count tasks once --workers workers are connected.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct PusherConfig {
    /// HOST:PORT to bind the task PUSH socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5557")]
    pub listen: String,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    pub probe: bool,
    /// HOST:PORT of the sink, which is told the batch size.
    #[arg(long, env = "SINK", default_value = "127.0.0.1:5558")]
    pub sink: String,
    /// Number of tasks in the batch.
    #[arg(long, env = "COUNT", default_value_t = 300)]
    pub count: u64,
    /// Bytes of payload in each task.
    #[arg(long, env = "SIZE", default_value_t = 16,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=50_000))]
    pub size: usize,
    /// Workers that must be connected before the first task goes out.
    #[arg(long, env = "WORKERS", default_value_t = 3,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub workers: usize,
    /// How long to keep trying while the sink is not up, in seconds.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// Reliable mode: hand out again every task whose result the sink has not acknowledged in time.
    #[arg(long, env = "RELIABLE")]
    pub reliable: bool,
    /// Reliable mode: HOST:PORT of the sink's ack socket.
    #[arg(long, env = "ACKS", default_value = "127.0.0.1:5559")]
    pub acks: String,
    /// Reliable mode: how long a task may take before it is handed out again, in seconds.
    #[arg(long = "task-timeout-secs", env = "TASK_TIMEOUT_SECS", default_value = "1", value_parser = common::secs)]
    pub task_timeout: Duration,
}

common::role_probing_listen!(PusherConfig);

impl PusherConfig {
    /// The reliable mode's settings, if it is on.
    pub fn reliable(&self) -> Option<Reliable> {
        self.reliable.then(|| Reliable {
            acks: self.acks.clone(),
            task_timeout: self.task_timeout,
        })
    }
}

/// The reliable mode's settings, the same on the pusher and the sink.
#[derive(Clone)]
pub struct Reliable {
    /// The ack socket: bound by the sink, connected to by the pusher.
    pub acks: String,
    /// How long a task may take before it is handed out again.
    pub task_timeout: Duration,
}

/// Tasks in flight at once in the reliable mode: a bound, so that a task's wait for its result is
/// its work and not its place in a long queue (which would time out and be done twice).
pub const WINDOW: u64 = 1000;

/// Timeouts in a row without any result after which the reliable pusher gives up (no worker
/// left): the bound on its attempts.
pub const MAX_IDLE_TIMEOUTS: u32 = 5;

/// Binds the task socket, then [`push`]es the batch.
pub fn run_pusher(cfg: &PusherConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let tasks = ctx
        .socket(zmq::PUSH)
        .context("creating the task PUSH socket")?;
    tasks.set_linger(LINGER_MS)?;
    unbounded(&tasks)?;
    let monitor = Monitor::new(&ctx, &tasks)?;
    net::bind(&tasks, &cfg.listen)?;
    let outcome = push(&ctx, &tasks, &monitor, cfg, stop);
    monitor.stop(&tasks)?;
    outcome
}

/// Announces the batch to the sink, waits for the workers, sends the tasks and the end markers.
pub fn push(
    ctx: &zmq::Context,
    tasks: &zmq::Socket,
    monitor: &Monitor,
    cfg: &PusherConfig,
    stop: &Stop,
) -> anyhow::Result<Outcome> {
    let mut summary = Summary::default();
    let stopped = |summary: Summary| {
        Ok(Outcome {
            summary: summary.with("workers", cfg.workers),
            problem: None,
        })
    };
    let Some((sink, acks)) = connect_sink(ctx, cfg, stop)? else {
        return stopped(summary);
    };
    log::info!("waiting for {} workers", cfg.workers);
    if monitor.wait_handshakes(cfg.workers, stop, None)? != Wait::Ready {
        return stopped(summary);
    }
    // The handshake event is emitted after the new peer's pipe was handed to the socket; reading
    // ZMQ_EVENTS makes the socket take in every pending pipe now, so the first task already
    // sees all workers.
    tasks.get_events().context("reading ZMQ_EVENTS")?;
    if !net::send(
        &sink,
        &[json!({"batch": cfg.count}).to_string().as_bytes()],
        stop,
    )? {
        return stopped(summary);
    }
    let start = Instant::now();
    let payload = "x".repeat(cfg.size);
    let task = Numbered::new(&TaskOut {
        payload: &payload,
        task: 0,
    });
    let mut problem = None;
    if let Some((acks, timeout)) = &acks {
        let run = push_reliable(tasks, acks, cfg.count, *timeout, &|i| task.text(i), stop)?;
        summary.sent = run.sent;
        summary.received = run.acked;
        summary.lost = run.sent - run.acked;
        summary = summary.with("reissued", run.reissued);
        problem = run.problem;
    } else {
        summary.sent = push_plain(tasks, cfg.count, &task, stop)?;
    }
    // With unbounded queues a send fails only when no worker is connected: the survivors of a
    // killed worker may have taken their markers and left before the last one goes out, and
    // waiting for a worker to take it would wait forever.
    let mut markers = 0;
    while markers < cfg.workers && try_send(tasks, &json!({"end": true}).to_string())? {
        markers += 1;
    }
    summary.elapsed = start.elapsed();
    log::info!("sent {} tasks and {markers} end markers", summary.sent);
    net::flush_on_close(&[tasks, &sink], stop)?;
    let mut outcome = stopped(summary)?;
    outcome.problem = problem;
    Ok(outcome)
}

/// The sink's result socket and, in reliable mode, its ack socket with the task timeout, each
/// once its handshake is in; None if a stop came first.
#[allow(clippy::type_complexity)]
fn connect_sink(
    ctx: &zmq::Context,
    cfg: &PusherConfig,
    stop: &Stop,
) -> anyhow::Result<Option<(zmq::Socket, Option<(zmq::Socket, Duration)>)>> {
    let Some(sink) = connect(ctx, zmq::PUSH, &cfg.sink, "sink", cfg.retry, stop)? else {
        return Ok(None);
    };
    let Some(r) = cfg.reliable() else {
        return Ok(Some((sink, None)));
    };
    let acks = connect(
        ctx,
        zmq::PULL,
        &r.acks,
        "sink's ack socket",
        cfg.retry,
        stop,
    )?;
    Ok(acks.map(|acks| (sink, Some((acks, r.task_timeout)))))
}

/// Sends tasks 0..count in turn, each written into one reused buffer; how many went out.
fn push_plain(
    tasks: &zmq::Socket,
    count: u64,
    task: &Numbered,
    stop: &Stop,
) -> anyhow::Result<u64> {
    let mut buf = Vec::new();
    for i in 0..count {
        task.write(i, &mut buf);
        if !net::send(tasks, &[&buf], stop)? {
            return Ok(i);
        }
    }
    Ok(count)
}

/// How a reliable batch went, from the pusher's side.
struct ReliableRun {
    sent: u64,
    acked: u64,
    reissued: u64,
    problem: Option<String>,
}

/// Hands out the batch with at most [`WINDOW`] tasks in flight, and again every task not
/// acknowledged within `timeout`, until every task is acknowledged.
fn push_reliable(
    tasks: &zmq::Socket,
    acks: &zmq::Socket,
    count: u64,
    timeout: Duration,
    task: &dyn Fn(u64) -> String,
    stop: &Stop,
) -> anyhow::Result<ReliableRun> {
    let mut done = vec![false; count as usize];
    // Tasks in flight by the time they were (last) handed out: deadlines only grow at the back.
    let mut waiting: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut run = ReliableRun {
        sent: 0,
        acked: 0,
        reissued: 0,
        problem: None,
    };
    let (mut next, mut idle, mut last_ack) = (0u64, 0u32, Instant::now());
    while run.acked < count {
        while next < count && next - run.acked < WINDOW && try_send(tasks, &task(next))? {
            waiting.push_back((Instant::now() + timeout, next));
            next += 1;
            run.sent += 1;
        }
        let again = overdue(&mut waiting, &done);
        if !again.is_empty() {
            if last_ack.elapsed() >= timeout {
                idle += 1;
                last_ack = Instant::now();
            }
            if idle > MAX_IDLE_TIMEOUTS {
                run.problem = Some(format!(
                    "no result for {} tasks after {MAX_IDLE_TIMEOUTS} rounds of {} ms: no worker left?",
                    count - run.acked,
                    timeout.as_millis()
                ));
                break;
            }
            log::info!(
                "reissuing {} tasks with no result after {} ms",
                again.len(),
                timeout.as_millis()
            );
            run.reissued += reissue(tasks, &again, timeout, task, &mut waiting)?;
        }
        let wait = waiting
            .front()
            .map_or(Duration::from_millis(net::TICK_MS as u64), |(d, _)| {
                d.saturating_duration_since(Instant::now())
            });
        let wait = if next < count && next - run.acked < WINDOW {
            Duration::ZERO
        } else {
            wait
        };
        match net::recv(acks, stop, Some(wait))? {
            Recv::Msg(frames) => {
                if newly_done(&frames[0], &mut done) {
                    run.acked += 1;
                    (idle, last_ack) = (0, Instant::now());
                }
            }
            Recv::TimedOut => {}
            Recv::Stopped => break,
        }
    }
    log::info!(
        "{} of {count} tasks acknowledged, {} handed out again",
        run.acked,
        run.reissued
    );
    Ok(run)
}

/// The tasks whose deadline has passed, taken off the front of `waiting`, except those done.
fn overdue(waiting: &mut VecDeque<(Instant, u64)>, done: &[bool]) -> Vec<u64> {
    let now = Instant::now();
    let mut again = Vec::new();
    while let Some(&(deadline, i)) = waiting.front() {
        if deadline > now {
            break;
        }
        waiting.pop_front();
        if !done[i as usize] {
            again.push(i);
        }
    }
    again
}

/// Hands the tasks `again` out once more, each back in `waiting` with a new deadline; a task
/// that cannot go out now (no worker connected) waits for the next round. How many went out.
fn reissue(
    tasks: &zmq::Socket,
    again: &[u64],
    timeout: Duration,
    task: &dyn Fn(u64) -> String,
    waiting: &mut VecDeque<(Instant, u64)>,
) -> anyhow::Result<u64> {
    let mut sent = 0;
    for &i in again {
        if try_send(tasks, &task(i))? {
            sent += 1;
        }
        waiting.push_back((Instant::now() + timeout, i));
    }
    Ok(sent)
}

/// Marks the task an ack names as done; true if it was not done yet. A malformed ack is logged
/// and ignored, and so is one for a task outside the batch.
fn newly_done(ack: &[u8], done: &mut [bool]) -> bool {
    let ack: Value = serde_json::from_slice(ack).unwrap_or(Value::Null);
    match ack.get("ack").and_then(Value::as_u64) {
        Some(i) if (i as usize) < done.len() && !done[i as usize] => {
            done[i as usize] = true;
            true
        }
        Some(_) => false,
        None => {
            log::warn!("ignoring a malformed ack");
            false
        }
    }
}

/// Sends one task without waiting; false if no worker can take it now.
fn try_send(socket: &zmq::Socket, msg: &str) -> anyhow::Result<bool> {
    match socket.send(msg.as_bytes(), zmq::DONTWAIT) {
        Ok(()) => Ok(true),
        Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => Ok(false),
        Err(e) => Err(e).context("sending a task"),
    }
}

/// ZeroMQ PULL worker: one of several sharing the pusher's tasks.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct WorkerConfig {
    /// HOST:PORT of the pusher's task socket.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5557")]
    pub connect: String,
    /// HOST:PORT of the sink's result socket.
    #[arg(long, env = "SINK", default_value = "127.0.0.1:5558")]
    pub sink: String,
    /// This worker's name in the sink's per-worker counts (default: hostname-pid).
    #[arg(long, env = "ID")]
    pub id: Option<String>,
    /// How long to keep trying while the pusher or sink is not up, in seconds.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// Reliable mode: accepted so one setting serves all roles; a worker needs nothing more (the
    /// pusher hands out again what a dead worker never finished, the sink drops duplicates).
    #[arg(long, env = "RELIABLE")]
    pub reliable: bool,
}

impl common::Role for WorkerConfig {}

/// Pulls tasks until its end marker, reporting each one done to the sink.
pub fn run_worker(cfg: &WorkerConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let mut summary = Summary::default();
    let done = |summary: Summary, malformed: u64| Outcome {
        summary: summary.with("malformed", malformed),
        problem: None,
    };
    let Some(sink) = connect(&ctx, zmq::PUSH, &cfg.sink, "sink", cfg.retry, stop)? else {
        return Ok(done(summary, 0));
    };
    let Some(tasks) = connect(&ctx, zmq::PULL, &cfg.connect, "pusher", cfg.retry, stop)? else {
        return Ok(done(summary, 0));
    };
    let id = cfg.id.clone().unwrap_or_else(net::default_id);
    log::info!("worker {id} ready");
    let (start, mut malformed, mut frames, mut result) =
        (Instant::now(), 0, Vec::new(), Vec::new());
    while let Recv::Msg(()) = net::recv_into(&tasks, &mut frames, stop, None)? {
        let task = serde_json::from_slice::<TaskIn>(&frames[0]).ok();
        if task.as_ref().is_some_and(|t| t.end.is_some()) {
            log::info!("end marker: done");
            break;
        }
        let Some((i, task)) = task.and_then(|t| Some((t.task?, t))) else {
            malformed += 1;
            log::warn!("ignoring a malformed task ({} bytes)", frames[0].len());
            continue;
        };
        summary.received += 1;
        log::debug!("task {i}");
        // The work: count the payload; the sink needs only who did which task.
        let bytes = task.payload.map_or(0, |p| p.0);
        result.clear();
        let done = Done {
            bytes,
            task: i,
            worker: &id,
        };
        serde_json::to_writer(&mut result, &done).expect("a result is always valid JSON");
        if !net::send(&sink, &[&result], stop)? {
            break;
        }
        summary.sent += 1;
    }
    summary.elapsed = start.elapsed();
    net::flush_on_close(&[&sink], stop)?;
    Ok(done(summary, malformed))
}

/// ZeroMQ PULL sink: judges whether the workers shared the batch in fair turns.
#[derive(clap::Parser, Debug, Clone)]
#[command(version)]
pub struct SinkConfig {
    /// HOST:PORT to bind the result PULL socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5558")]
    pub listen: String,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    pub probe: bool,
    /// Workers expected to take part: one that got no task makes the split unfair (0: judge only
    /// the workers that reported).
    #[arg(long, env = "WORKERS", default_value_t = 3)]
    pub workers: usize,
    /// Once results flow, give up after this many seconds without one.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "30", value_parser = common::secs)]
    pub timeout: Duration,
    /// Reliable mode: acknowledge each result to the pusher on --acks; count and drop duplicates.
    #[arg(long, env = "RELIABLE")]
    pub reliable: bool,
    /// Reliable mode: HOST:PORT to bind the ack PUSH socket on, which the pusher connects to.
    #[arg(long, env = "ACKS", default_value = "0.0.0.0:5559")]
    pub acks: String,
    /// Reliable mode: the pusher's task timeout (accepted here so one setting serves all roles).
    #[arg(long = "task-timeout-secs", env = "TASK_TIMEOUT_SECS", default_value = "1", value_parser = common::secs)]
    pub task_timeout: Duration,
}

common::role_probing_listen!(SinkConfig);

/// The tasks done: a stop per task number below [`TaskSet::DENSE`] (a batch's numbers are dense
/// from 0), a hash set for any above. Hashing each of 200,000 results cost 18 % of the sink's CPU.
#[derive(Default)]
pub struct TaskSet {
    dense: Vec<bool>,
    sparse: HashSet<u64>,
    len: usize,
}

impl TaskSet {
    const DENSE: u64 = 1 << 24;

    /// Adds `t`; false if it was already there.
    pub fn insert(&mut self, t: u64) -> bool {
        let new = if t < Self::DENSE {
            let i = t as usize;
            if i >= self.dense.len() {
                self.dense.resize((i + 1).next_power_of_two(), false);
            }
            !std::mem::replace(&mut self.dense[i], true)
        } else {
            self.sparse.insert(t)
        };
        self.len += usize::from(new);
        new
    }

    pub fn contains(&self, t: &u64) -> bool {
        match self.dense.get(*t as usize) {
            Some(&seen) if *t < Self::DENSE => seen,
            _ => self.sparse.contains(t),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the sink collected.
#[derive(Default)]
pub struct Tally {
    pub batch: Option<u64>,
    pub per_worker: BTreeMap<String, Vec<u64>>,
    pub done: TaskSet,
    pub duplicates: u64,
    pub malformed: u64,
}

impl Tally {
    /// Takes in one message: the batch announcement, a result, or something malformed; returns
    /// the task number of a result.
    pub fn take<F: std::ops::Deref<Target = [u8]>>(&mut self, frames: &[F]) -> Option<u64> {
        let msg = match frames {
            [one] => serde_json::from_slice::<SinkIn>(one).ok(),
            _ => None,
        };
        let (batch, worker, task) = msg.map_or((None, None, None), |m| {
            (m.batch, m.worker.map(|w| w.0), m.task)
        });
        if let Some(n) = batch {
            log::info!("batch of {n} tasks announced");
            self.batch = Some(n);
        } else if let (Some(w), Some(t)) = (worker, task) {
            // Worker ids go into `per_worker=a:1,b:2`, so the separators are replaced.
            let ok = |c: char| c.is_alphanumeric() || "-_.".contains(c);
            let w: Cow<str> = if w.chars().all(ok) {
                w
            } else {
                Cow::Owned(w.chars().map(|c| if ok(c) { c } else { '_' }).collect())
            };
            if !self.done.insert(t) {
                // A task handed out again whose first result came after all: counted, not received.
                self.duplicates += 1;
                log::debug!("duplicate result for task {t} from {w}");
            }
            match self.per_worker.get_mut(w.as_ref()) {
                Some(tasks) => tasks.push(t),
                None => {
                    self.per_worker.insert(w.into_owned(), vec![t]);
                }
            }
            return Some(t);
        } else {
            self.malformed += 1;
            log::warn!("ignoring a malformed result message");
        }
        None
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
pub fn run_sink(cfg: &SinkConfig, stop: &Stop) -> anyhow::Result<Outcome> {
    let ctx = zmq::Context::new();
    let results = ctx
        .socket(zmq::PULL)
        .context("creating the result PULL socket")?;
    results.set_maxmsgsize(64 * 1024)?;
    unbounded(&results)?;
    results.set_linger(0)?;
    net::bind(&results, &cfg.listen)?;
    let acks = if cfg.reliable {
        let acks = ctx
            .socket(zmq::PUSH)
            .context("creating the ack PUSH socket")?;
        acks.set_linger(LINGER_MS)?;
        unbounded(&acks)?;
        net::bind(&acks, &cfg.acks)?;
        Some(acks)
    } else {
        None
    };
    let outcome = collect(&results, acks.as_ref(), cfg, stop)?;
    if let Some(acks) = &acks {
        net::flush_on_close(&[acks], stop)?;
    }
    Ok(outcome)
}

/// Collects results until the announced batch is complete, then judges it.
pub fn collect(
    results: &zmq::Socket,
    acks: Option<&zmq::Socket>,
    cfg: &SinkConfig,
    stop: &Stop,
) -> anyhow::Result<Outcome> {
    let (mut tally, mut frames) = (Tally::default(), Vec::new());
    let mut start = None;
    let mut problem = None;
    while !tally.complete() {
        // No timeout before the first message: the sink is a server and waits for its batch.
        let limit = start.map(|_| cfg.timeout);
        match net::recv_into(results, &mut frames, stop, limit)? {
            Recv::Msg(()) => {
                start.get_or_insert_with(Instant::now);
                if let (Some(task), Some(acks)) = (tally.take(&frames), acks) {
                    // Acknowledged again if it came twice: the first ack may be the one lost.
                    let ack = json!({ "ack": task }).to_string();
                    if let Err(e) = acks.send(ack.as_bytes(), zmq::DONTWAIT) {
                        log::debug!("ack for task {task} not sent: {e}");
                    }
                }
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
    // The clock stops at the last result, before the book-keeping below.
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    for (worker, tasks) in &tally.per_worker {
        log::info!("worker {worker}: {} tasks", tasks.len());
        if log::log_enabled!(log::Level::Debug) {
            let seq: Vec<String> = tasks.iter().map(u64::to_string).collect();
            log::debug!("tasks of worker {worker}: {}", seq.join(","));
        }
    }
    let batch = tally.batch.unwrap_or(0);
    let missing: Vec<u64> = (0..batch).filter(|t| !tally.done.contains(t)).collect();
    if !missing.is_empty() {
        let first: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
        log::info!("lost {} tasks, first: {}", missing.len(), first.join(","));
        let all: Vec<String> = missing.iter().map(u64::to_string).collect();
        log::debug!("lost tasks: {}", all.join(","));
    }
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
        elapsed,
        extra: vec![],
    }
    .with("per_worker", per_worker.join(","))
    .with("fair", fair)
    .with("duplicates", tally.duplicates)
    .with("malformed", tally.malformed);
    // In the reliable mode a worker may die: the split is then uneven by design, and a duplicate
    // is a result that was dropped, as at-least-once delivery allows.
    if problem.is_none() && tally.complete() && !cfg.reliable && (!fair || tally.duplicates > 0) {
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
    fn task_set_counts_each_task_once_dense_or_not() {
        let mut set = TaskSet::default();
        for t in [3, 0, 3, u64::MAX, TaskSet::DENSE, u64::MAX] {
            set.insert(t);
        }
        assert_eq!(set.len(), 4);
        assert!(set.contains(&3) && set.contains(&u64::MAX) && set.contains(&TaskSet::DENSE));
        assert!(!set.contains(&1) && !set.contains(&1_000_000) && !set.contains(&(u64::MAX - 1)));
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
