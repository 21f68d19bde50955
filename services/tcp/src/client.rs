//! The echo client: sends `count` messages of `size` bytes over one or more connections and checks
//! that each reply is the same bytes. Each message is written while its echo is being read, so a
//! message much larger than the socket buffers cannot deadlock the two ends.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::builder::RangedU64ValueParser;
use common::{Outcome, Stop, Summary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Client of the pola TCP echo model.
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct Config {
    /// Echo server address (HOST:PORT).
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:7000")]
    pub connect: String,
    /// Number of messages to send in all.
    #[arg(long, env = "COUNT", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Bytes per message (each ends in a newline); sizes above one TCP segment are fine.
    #[arg(long, env = "SIZE", default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    pub size: usize,
    /// Number of connections; messages are dealt to them in turn and run in parallel.
    #[arg(long, env = "CONCURRENCY", default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub concurrency: usize,
    /// Seconds to keep retrying while the server is not up, then give up with exit 1.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// Seconds to wait for one echo before counting the message lost.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "10", value_parser = common::secs)]
    pub timeout: Duration,
}

impl common::Role for Config {}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    mismatched: AtomicU64,
}

/// Message `i`: its number first, then letters, ending in a newline, so each line is distinct
/// (a reordered or mixed-up echo is caught) and readable in a capture.
pub fn message(i: u64, size: usize) -> Vec<u8> {
    let mut msg = format!("{i:08} ").into_bytes();
    msg.extend((0..size).map(|k| b'a' + ((i as usize + k) % 26) as u8));
    msg.truncate(size);
    if let Some(last) = msg.last_mut() {
        *last = b'\n';
    }
    msg
}

/// Connects (retrying for `cfg.retry`), runs the exchange, and stops early if `stop` is requested;
/// completes; the summary then says how far it got.
pub async fn run(cfg: &Config, stop: &Stop) -> anyhow::Result<Outcome> {
    let mut streams = Vec::with_capacity(cfg.concurrency);
    for _ in 0..cfg.concurrency {
        let what = format!("connecting to echo server {}", cfg.connect);
        let stream =
            common::retry::retry_async(&what, cfg.retry, || TcpStream::connect(&cfg.connect))
                .await?;
        stream
            .set_nodelay(true)
            .with_context(|| format!("setting TCP_NODELAY on {}", cfg.connect))?;
        streams.push(stream);
    }
    log::info!(
        "connected {} connection(s) to {}",
        streams.len(),
        cfg.connect
    );

    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (k, stream) in streams.into_iter().enumerate() {
        // Connection k sends messages k, k + C, k + 2C, ...: every index exactly once.
        let ids = (k as u64..cfg.count).step_by(cfg.concurrency);
        tasks.spawn(exchange(
            stream,
            ids,
            cfg.size,
            cfg.timeout,
            Arc::clone(&counters),
        ));
    }
    let interrupted = tokio::select! {
        _ = async { while tasks.join_next().await.is_some() {} } => false,
        _ = stop.requested() => { tasks.abort_all(); true }
    };
    let (sent, received, mismatched) = (
        counters.sent.load(Relaxed),
        counters.received.load(Relaxed),
        counters.mismatched.load(Relaxed),
    );
    if interrupted {
        log::warn!("interrupted after {sent} of {} messages", cfg.count);
    }
    let summary = Summary {
        sent,
        received,
        lost: sent - received,
        elapsed: start.elapsed(),
        extra: vec![],
    }
    .with("mismatched", mismatched)
    .with("size", cfg.size)
    .with("connections", cfg.concurrency);
    // A stop on request ends the run well; its summary says how far it got.
    let complete = sent == cfg.count && received == cfg.count && mismatched == 0;
    let problem =
        (!interrupted && !complete).then(|| format!("echo run incomplete or wrong: {summary}"));
    Ok(Outcome { summary, problem })
}

/// Sends each message of `ids` on one connection and checks its echo; stops at the first
/// message whose echo does not come back (the connection is then unusable).
async fn exchange(
    mut stream: TcpStream,
    ids: impl Iterator<Item = u64>,
    size: usize,
    timeout: Duration,
    counters: Arc<Counters>,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (mut reader, mut writer) = stream.split();
    let mut reply = vec![0u8; size];
    for i in ids {
        let msg = message(i, size);
        counters.sent.fetch_add(1, Relaxed);
        let both =
            async { tokio::try_join!(writer.write_all(&msg), reader.read_exact(&mut reply)) };
        match tokio::time::timeout(timeout, both).await {
            Ok(Ok(_)) => {
                counters.received.fetch_add(1, Relaxed);
                if reply != msg {
                    counters.mismatched.fetch_add(1, Relaxed);
                    log::warn!("message {i}: echo from {peer} differs from what was sent");
                }
            }
            Ok(Err(err)) => {
                log::error!("message {i}: connection to {peer} failed: {err}");
                return;
            }
            Err(_) => {
                log::error!("message {i}: no echo from {peer} within {timeout:?}");
                return;
            }
        }
    }
}
