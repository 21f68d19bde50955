//! `pola bench`: every model measured in one run on this machine, each figure beside the physical
//! floor (raw loopback TCP, written here) and an established peer (sockperf, wrk, libzmq's perf
//! tools, Mosquitto), as ratios, since absolute times on a shared machine move between runs.
//! Start at [`run`]; the sections are in [`sections`], the results in [`output`].

pub mod capture;
pub mod floor;
pub mod models;
pub mod output;
pub mod peers;
pub mod procs;
pub mod rules;
pub mod sections;
pub mod stats;
pub mod twins;
pub mod zmq_runs;

use std::path::PathBuf;

use anyhow::Context;

use stats::Figure;

/// A part of a run, in the order a run takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    Floor,
    Tcp,
    Rest,
    Reqrep,
    Pushpull,
    Pubsub,
    Mqtt,
    /// The encrypted twins (MQTT over TLS, REST over HTTPS, REQ/REP over CURVE) beside plain.
    Twins,
    /// tcpdump's drops, and `pola inspect` against tshark on the largest capture.
    Capture,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A smoke run of a few seconds: tiny counts, every figure still produced and checked sane
    /// (finite, non-zero); never judged on speed.
    #[arg(long, env = "POLA_QUICK")]
    pub quick: bool,
    /// Only these sections, comma-separated.
    #[arg(long, env = "POLA_ONLY", value_delimiter = ',', value_enum)]
    pub only: Vec<Section>,
    /// Where results.json and latest.svg are written.
    #[arg(long, env = "POLA_OUT_DIR", default_value = "bench")]
    pub out_dir: PathBuf,
    /// Where our release binaries are (default: beside this `pola`, i.e. target/release).
    #[arg(long, env = "POLA_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// The workspace root, for bench/build-zmq-perf.sh and target/zmq-perf.
    #[arg(long, env = "POLA_ROOT", default_value = ".")]
    pub root: PathBuf,
    /// Another MQTT broker to measure beside ours and Mosquitto, as NAME=PATH (a binary taking
    /// `--listen HOST:PORT`, e.g. an older mqtt-broker); repeatable.
    #[arg(long, env = "MQTT_CANDIDATE", value_delimiter = ',')]
    pub mqtt_candidate: Vec<String>,
    /// Our ZeroMQ pipeline binaries of another build (e.g. before a change), run in the same
    /// PUSH/PULL and PUB/SUB sections as `baseline`, so a before/after ratio shares one machine state.
    #[arg(long, env = "POLA_BASELINE_BIN_DIR")]
    pub baseline_bin_dir: Option<PathBuf>,
    /// Seconds of the MQTT steady-load run (default 60, 2 with --quick; 0 skips it).
    #[arg(long, env = "MQTT_STEADY_SECS", value_parser = common::secs)]
    pub mqtt_steady_secs: Option<std::time::Duration>,
}

/// Counts and durations of one run: the default fits in 5 minutes on 2 cores, `--quick` in seconds.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    pub sizes: Vec<usize>,
    pub warmup: usize,
    /// Measured round trips per latency figure.
    pub round_trips: usize,
    /// Messages per throughput figure (ZeroMQ, TCP).
    pub messages: usize,
    /// Messages per MQTT throughput figure and requests per REST throughput figure.
    pub broker_messages: usize,
    /// Seconds per run of the time-based peers (sockperf, wrk).
    pub peer_secs: u64,
    /// Steady MQTT load whose broker RSS is compared with the warm one (zero: no such run).
    pub steady: std::time::Duration,
    pub rest_conns: Vec<usize>,
    pub subscribers: Vec<usize>,
    /// Runs per side of each pipeline throughput figure, taken in turns; its median is the figure.
    pub pipeline_turns: usize,
    /// Fresh connections per side whose handshake is timed (plain and TLS).
    pub handshakes: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let base = Plan {
            quick,
            sizes: vec![64, 1024],
            warmup: 1000,
            round_trips: 10_000,
            messages: 200_000,
            broker_messages: 20_000,
            peer_secs: 3,
            steady: std::time::Duration::from_secs(60),
            rest_conns: vec![1, 4, 16],
            subscribers: vec![1, 4],
            pipeline_turns: 5,
            handshakes: 40,
        };
        if quick {
            Plan {
                warmup: 20,
                round_trips: 200,
                messages: 2_000,
                broker_messages: 300,
                peer_secs: 1,
                steady: std::time::Duration::from_secs(2),
                handshakes: 10,
                pipeline_turns: 1,
                ..base
            }
        } else {
            base
        }
    }
}

/// What a section hands back: its figures and, for each figure it could not produce, why.
#[derive(Default)]
pub struct Outcome {
    pub figures: Vec<Figure>,
    pub missing: Vec<String>,
}

impl Outcome {
    /// Records a step's result: the figures it produced, or why it produced none.
    pub fn take(&mut self, step: &str, result: anyhow::Result<Vec<Figure>>) {
        match result {
            Ok(figs) => self.figures.extend(figs),
            Err(err) => {
                log::warn!("{step}: {err:#}");
                self.missing.push(format!("{step}: {err:#}"));
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .context("locating the pola binary")?
            .parent()
            .context("pola has no folder")?
            .to_path_buf(),
    };
    let mut plan = Plan::new(args.quick);
    if let Some(steady) = args.mqtt_steady_secs {
        plan.steady = steady;
    }
    let chosen: Vec<Section> = <Section as clap::ValueEnum>::value_variants()
        .iter()
        .copied()
        .filter(|s| args.only.is_empty() || args.only.contains(s))
        .collect();
    let mut ctx = sections::Context::new(plan.clone(), bin_dir, args.root.clone())?;
    for candidate in &args.mqtt_candidate {
        let (name, path) = candidate
            .split_once('=')
            .with_context(|| format!("--mqtt-candidate {candidate}: expected NAME=PATH"))?;
        ctx.mqtt_candidates
            .push((name.to_string(), PathBuf::from(path)));
    }
    ctx.baseline = args.baseline_bin_dir.clone();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let outcome = sections::run_all(&ctx, &chosen);
    let mut report = output::Report::new(&plan, &outcome);
    report.machine["loadavg_at_start"] = load_before.trim().into();
    report.machine["one_in_flight_runs"] =
        "on one CPU, every process of the run (latency, REST c=1, REQ/REP closed loop)".into();
    eprintln!();
    println!("{}", report.table());
    report.write(&args.out_dir)?;
    println!(
        "wrote {} and {}",
        args.out_dir.join("results.json").display(),
        args.out_dir.join("latest.svg").display()
    );
    report.check()
}
