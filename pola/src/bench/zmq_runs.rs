//! Our ZeroMQ pipeline binaries run end to end on loopback for throughput: pusher, workers and
//! sink for PUSH/PULL, publisher and subscribers for PUB/SUB. Their own summary lines give the
//! figure (received over elapsed_ms), so what is measured is exactly what a user runs. The same
//! topologies written in C against the same libzmq (bench/zmq-topo) take the same flags and print
//! the same summary line, so they run through the very same code as the fair peer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use super::capture::{self, Captured};
use super::procs::{free_port, Collected, Running};
use super::sections::{summary_rate, Context};

/// Workers in the PUSH/PULL run: two, so fair distribution is part of what is measured.
pub const WORKERS: usize = 2;

/// How long one end of a pipeline may take before the run is given up.
const LIMIT: Duration = Duration::from_secs(120);

/// Whose ends a run starts: ours, ours from another build's folder, or the C topology built
/// into `target/zmq-perf`.
#[derive(Clone, Copy)]
pub enum Ends<'a> {
    Pola,
    Dir(&'a Path),
    C(&'a Path),
}

impl Ends<'_> {
    /// The binary playing `role` (our binary's name; the C one is the guide's name for it).
    fn bin(&self, ctx: &Context, role: &str) -> anyhow::Result<PathBuf> {
        let c = match role {
            "zmq-pusher" => "taskvent",
            "zmq-worker" => "taskwork",
            "zmq-sink" => "tasksink",
            "zmq-publisher" => "wuserver",
            _ => "wuclient",
        };
        match self {
            Ends::Pola => ctx.bin(role),
            Ends::Dir(dir) => super::procs::our_binary(dir, role),
            Ends::C(dir) => Ok(dir.join(c)),
        }
    }

    /// The command that starts `role` with `args`.
    fn command(&self, ctx: &Context, role: &str, args: &[&str]) -> anyhow::Result<Command> {
        let mut cmd = Command::new(self.bin(ctx, role)?);
        cmd.args(args);
        Ok(cmd)
    }
}

fn summary(end: Collected, what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let stdout = end.finish(LIMIT)?;
    common::summary::find(&stdout).with_context(|| format!("{what} printed no summary line"))
}

/// pusher -> [`WORKERS`] workers -> sink; messages per second from the sink's summary, with
/// tcpdump writing `pcap` meanwhile if given.
pub fn pushpull(
    ctx: &Context,
    ends: Ends,
    size: usize,
    count: usize,
    pcap: Option<&Path>,
) -> anyhow::Result<(f64, Option<Captured>)> {
    let (tasks, results) = (
        format!("127.0.0.1:{}", free_port()?),
        format!("127.0.0.1:{}", free_port()?),
    );
    let filter = format!(
        "tcp port {} or tcp port {}",
        port_of(&tasks),
        port_of(&results)
    );
    capture::maybe(pcap, &filter, || {
        let workers = WORKERS.to_string();
        let args = ["--listen", &results, "--workers", &workers];
        let sink = Collected::spawn(&mut ends.command(ctx, "zmq-sink", &args)?, "zmq-sink")?;
        let args = [
            "--listen",
            &tasks,
            "--sink",
            &results,
            "--workers",
            &workers,
        ];
        let pusher = sender(ctx, ends, "zmq-pusher", &args, count, size)?;
        // Workers connect and retry until the pusher and the sink are up; the pusher waits for all
        // of their handshakes before the first task, so none is favoured by starting early.
        let _workers: Vec<Running> = (0..WORKERS)
            .map(|i| {
                let args = ["--connect", &tasks, "--sink", &results];
                let mut worker = ends.command(ctx, "zmq-worker", &args)?;
                Running::spawn(&mut worker, &format!("zmq-worker {i}"))
            })
            .collect::<anyhow::Result<_>>()?;
        pusher.finish(LIMIT)?;
        sink_rate(sink, count)
    })
}

/// The sending end `name` (pusher or publisher) of `ends` with `args`, sending `count` messages of
/// `size` bytes.
fn sender(
    ctx: &Context,
    ends: Ends<'_>,
    name: &str,
    args: &[&str],
    count: usize,
    size: usize,
) -> anyhow::Result<Collected> {
    let mut cmd = ends.command(ctx, name, args)?;
    cmd.args(["--count", &count.to_string(), "--size", &size.to_string()]);
    Collected::spawn(&mut cmd, name)
}

/// The sink's rate. The sink exits 1 when the split between workers was not within one task,
/// which under full load PUSH does not promise (it skips a worker whose queue is full); that is
/// logged, not counted against throughput. An incomplete batch still fails.
fn sink_rate(sink: Collected, count: usize) -> anyhow::Result<f64> {
    let (status, stdout) = sink.finish_any(LIMIT)?;
    let fields = common::summary::find(&stdout).context("zmq-sink printed no summary line")?;
    let complete = fields.get("received").map(String::as_str) == Some(&count.to_string())
        && fields.get("duplicates").map(String::as_str) == Some("0");
    anyhow::ensure!(complete, "zmq-sink exited with {status}: {}", stdout.trim());
    if !status.success() {
        log::warn!(
            "zmq-sink judged the split unfair (throughput still counted): {}",
            stdout.trim()
        );
    }
    summary_rate(&fields, "zmq-sink")
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or_default()
}

/// publisher -> `subs` subscribers on one topic; messages per second of the slowest subscriber,
/// with tcpdump writing `pcap` meanwhile if given.
pub fn pubsub(
    ctx: &Context,
    ends: Ends,
    size: usize,
    count: usize,
    subs: usize,
    pcap: Option<&Path>,
) -> anyhow::Result<(f64, Option<Captured>)> {
    let listen = format!("127.0.0.1:{}", free_port()?);
    capture::maybe(pcap, &format!("tcp port {}", port_of(&listen)), || {
        let subscribers: Vec<Collected> = (0..subs)
            .map(|i| {
                let args = ["--connect", &listen, "--topics", "bench"];
                let mut subscriber = ends.command(ctx, "zmq-subscriber", &args)?;
                Collected::spawn(&mut subscriber, &format!("zmq-subscriber {i}"))
            })
            .collect::<anyhow::Result<_>>()?;
        // The publisher waits for every subscription before its first message: none is lost to the
        // slow-joiner race, so every subscriber must receive all of them.
        let subscriptions = subs.to_string();
        let args = [
            "--listen",
            &listen,
            "--topics",
            "bench",
            "--subscriptions",
            &subscriptions,
        ];
        let publisher = sender(ctx, ends, "zmq-publisher", &args, count, size)?;
        publisher.finish(LIMIT)?;
        let mut slowest = f64::INFINITY;
        for (i, sub) in subscribers.into_iter().enumerate() {
            let what = format!("zmq-subscriber {i}");
            let fields = summary(sub, &what)?;
            anyhow::ensure!(
                fields.get("received").map(String::as_str) == Some(&count.to_string()),
                "{what} received {:?} of {count}",
                fields.get("received")
            );
            slowest = slowest.min(summary_rate(&fields, &what)?);
        }
        Ok(slowest)
    })
}
