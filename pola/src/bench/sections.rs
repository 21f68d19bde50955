//! One section per model: start what it needs on loopback, measure ours, measure its floor and
//! peer with the same sizes and counts, and hand back figures. A progress bar per section shows
//! where the run is; a step that fails costs its figures (reported as missing), not the run.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rumqttc::QoS;

use super::capture::{self, Captured};
use super::procs::{self, free_port, our_binary, OneCpu, Running};
use super::stats::{Figure, Metric, Model, Samples, Series, Side};
use super::zmq_runs::{self, Ends};
use super::{floor, models, peers, Outcome, Plan, Section};

/// What every section needs: the plan, where our binaries are, a scratch folder for pcaps.
pub struct Context {
    pub plan: Plan,
    pub bin_dir: PathBuf,
    pub root: PathBuf,
    pub scratch: PathBuf,
    /// Further MQTT brokers measured beside ours and Mosquitto (`--mqtt-candidate`).
    pub mqtt_candidates: Vec<(String, PathBuf)>,
    /// Our pipeline binaries of another build, measured beside ours (`--baseline-bin-dir`).
    pub baseline: Option<PathBuf>,
    pub runtime: tokio::runtime::Runtime,
    /// Two threads for load generators over many connections (REST c > 1). On `runtime`'s one
    /// thread, 16 connections left the client and the server idle between responses (0.73–0.76 ×
    /// wrk's req/s, client at 71 % of a core, server at 85–90 %); on two they keep both busy and
    /// the client still uses about one core, as wrk's one thread does.
    pub connections: tokio::runtime::Runtime,
}

impl Context {
    pub fn new(plan: Plan, bin_dir: PathBuf, root: PathBuf) -> anyhow::Result<Self> {
        let scratch = std::env::temp_dir().join(format!("pola-bench-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        let connections = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the tokio runtime for many connections")?;
        Ok(Context {
            plan,
            bin_dir,
            root,
            scratch,
            mqtt_candidates: Vec::new(),
            baseline: None,
            runtime,
            connections,
        })
    }

    pub fn bin(&self, name: &str) -> anyhow::Result<PathBuf> {
        our_binary(&self.bin_dir, name)
    }

    /// Starts one of our servers on a free loopback port and waits until it accepts.
    fn server(&self, name: &str) -> anyhow::Result<(Running, String)> {
        self.server_with(name, &[])
    }

    /// [`Context::server`] with further flags.
    pub fn server_with(
        &self,
        name: &str,
        flags: &[&std::ffi::OsStr],
    ) -> anyhow::Result<(Running, String)> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut server = Running::spawn(
            Command::new(self.bin(name)?)
                .args(["--listen", &addr])
                .args(flags),
            name,
        )?;
        server.wait_listening(&addr)?;
        Ok((server, addr))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Blocks a latency run is cut into, alternating with the floor's (or with its plain twin's).
pub const BLOCKS: usize = 4;

/// A model's round trips measured in [`BLOCKS`] blocks alternating with blocks of the floor's
/// ping-pong, filed under that model: on a shared machine the load changes by the second, and a
/// ratio is only fair between two figures taken under the same load. Returns the model's samples
/// and the floor's figures.
fn alternating(
    ctx: &Context,
    model: Model,
    size: usize,
    mut run: impl FnMut(usize, usize) -> anyhow::Result<Samples>,
) -> anyhow::Result<(Samples, Vec<Figure>)> {
    let (warmup, count) = (ctx.plan.warmup / BLOCKS, ctx.plan.round_trips / BLOCKS);
    let (mut ours, mut floor_samples) = (Samples::default(), Samples::default());
    for _ in 0..BLOCKS {
        ours.extend(run(warmup, count)?);
        let (addr, server) = floor::echo_server()?;
        floor_samples.extend(floor::ping_pong(&addr, size, warmup, count)?);
        server.join().ok();
    }
    let how = format!("raw TCP ping-pong in blocks alternating with the {model} latency run");
    let floor = Series::new(model, size, Side::Floor);
    Ok((ours, floor.latency(floor_samples, &how)))
}

/// A REST run over one connection holds one request in flight: on one CPU like the other latency
/// runs (its p50 is compared with ours). Over more it is a throughput run, on every CPU.
fn one_in_flight(conns: usize, server: &Running) -> anyhow::Result<Option<OneCpu>> {
    (conns == 1).then(|| OneCpu::pin(&[server])).transpose()
}

/// The captures taken so far, by the run they were taken in.
type Captures = Vec<(String, Captured)>;

/// At the first (smallest, so highest packet rate) size only: the throughput run repeated with
/// tcpdump capturing it, giving the kernel drops at that rate and the rate under capture.
fn capture_run(
    ctx: &Context,
    captures: &mut Captures,
    model: Model,
    size: usize,
    run: impl FnOnce(&std::path::Path) -> anyhow::Result<(f64, Option<Captured>)>,
) -> anyhow::Result<Vec<Figure>> {
    if size != ctx.plan.sizes[0] {
        return Ok(Vec::new());
    }
    let pcap = ctx.scratch.join(format!("{model}-{size}.pcap"));
    let (rate, cap) = run(&pcap)?;
    let cap = cap.context("no capture was taken")?;
    let how = format!(
        "tcpdump -i lo writing a pcap during the {model} throughput run ({} packets)",
        cap.packets
    );
    let figs = vec![
        Series::new(Model::Capture, size, Side::peer("tcpdump"))
            .variant(model.name())
            .figure(Metric::KernelDrops, cap.dropped as f64, &how),
        Series::new(Model::Capture, size, Side::Ours)
            .variant(model.name())
            .figure(Metric::CapturedMsgsPerS, rate, &how),
    ];
    captures.push((format!("{model} {size} B"), cap));
    Ok(figs)
}

/// Runs the chosen sections one after another, a progress bar each.
pub fn run_all(ctx: &Context, chosen: &[Section]) -> Outcome {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {msg}")
        .unwrap()
        .progress_chars("=> ");
    let mut outcome = Outcome::default();
    let mut captures: Vec<(String, Captured)> = Vec::new();
    for &section in chosen {
        let name = format!("{section:?}").to_lowercase();
        let bar = bars.add(
            ProgressBar::new(1)
                .with_style(style.clone())
                .with_prefix(name),
        );
        match section {
            Section::Floor => section_floor(ctx, &bar, &mut outcome),
            Section::Tcp => section_tcp(ctx, &bar, &mut outcome, &mut captures),
            Section::Rest => section_rest(ctx, &bar, &mut outcome, &mut captures),
            Section::Reqrep => section_reqrep(ctx, &bar, &mut outcome),
            Section::Pushpull => section_pushpull(ctx, &bar, &mut outcome, &mut captures),
            Section::Pubsub => section_pubsub(ctx, &bar, &mut outcome, &mut captures),
            Section::Mqtt => section_mqtt(ctx, &bar, &mut outcome, &mut captures),
            Section::Twins => super::twins::section(ctx, &bar, &mut outcome),
            Section::Capture => section_capture(ctx, &bar, &mut outcome, &captures),
        }
        bar.finish_with_message("done");
    }
    outcome
}

/// One step of a section: `name` on the progress bar while `run` runs, then its figures (or why
/// there are none) in the outcome.
fn step(
    bar: &ProgressBar,
    out: &mut Outcome,
    name: String,
    run: impl FnOnce() -> anyhow::Result<Vec<Figure>>,
) {
    bar.set_message(name.clone());
    out.take(&name, run());
    bar.inc(1);
}

fn section_floor(ctx: &Context, bar: &ProgressBar, out: &mut Outcome) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64 * 2);
    for &size in &p.sizes {
        step(bar, out, format!("floor ping-pong {size} B"), || {
            let one = OneCpu::pin(&[])?;
            let (addr, server) = floor::echo_server()?;
            let s = floor::ping_pong(&addr, size, p.warmup, p.round_trips)?;
            server.join().ok();
            drop(one);
            let mut figs = Series::new(Model::Floor, size, Side::Floor).latency(
                s,
                "raw TCP ping-pong on 127.0.0.1 (std sockets, TCP_NODELAY), in pola bench",
            );
            figs.push(Series::new(Model::Floor, size, Side::Floor).figure(
                Metric::MsgsPerS,
                floor::stream(size, p.messages)?,
                "raw one-way TCP stream on 127.0.0.1, clock stops at the reader's ack",
            ));
            Ok(figs)
        });
        step(bar, out, format!("sockperf {size} B"), || {
            let (server, port) = peers::sockperf_server()?;
            let run =
                |mode, port, extra: &[&str]| peers::sockperf(mode, port, size, p.peer_secs, extra);
            // Every sockperf run sleeps 2 s before it measures. A quick run, never judged, takes
            // its two at once, each with a server of its own (a server flooded by tp answers no
            // pp); a measuring run takes the round trips on one CPU, then the stream.
            let (pp, tp) = if p.quick {
                let (stream_server, stream_port) = peers::sockperf_server()?;
                let (pp, tp) = std::thread::scope(|scope| {
                    let tp = scope.spawn(|| run("tp", stream_port, &[]));
                    let pp = run("pp", port, &["--full-rtt"]);
                    (pp, tp.join().expect("the sockperf tp thread panicked"))
                });
                drop(stream_server);
                (pp, tp)
            } else {
                let one = OneCpu::pin(&[&server])?;
                let pp = run("pp", port, &["--full-rtt"]);
                drop(one);
                (pp, run("tp", port, &[]))
            };
            let (p50, p99) = peers::parse_sockperf_pp(&pp?)?;
            let tp = peers::parse_sockperf_tp(&tp?)?;
            drop(server);
            let how = format!("sockperf pp --full-rtt / tp over TCP for {} s (time-based; tp counts messages sent)", p.peer_secs);
            Ok(vec![
                Series::new(Model::Floor, size, Side::peer("sockperf")).figure(
                    Metric::P50,
                    p50,
                    &how,
                ),
                Series::new(Model::Floor, size, Side::peer("sockperf")).figure(
                    Metric::P99,
                    p99,
                    &how,
                ),
                Series::new(Model::Floor, size, Side::peer("sockperf")).figure(
                    Metric::MsgsPerS,
                    tp,
                    &how,
                ),
            ])
        });
    }
}

fn section_tcp(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, captures: &mut Captures) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64);
    for &size in &p.sizes {
        step(bar, out, format!("tcp echo {size} B"), || {
            let (server, addr) = ctx.server("tcp-echo-server")?;
            let one = OneCpu::pin(&[&server])?;
            let (s, floor_figs) = alternating(ctx, Model::Tcp, size, |w, n| {
                floor::ping_pong(&addr, size, w, n)
            })?;
            drop(one);
            let how =
                "tcp-echo-server, driven by pola bench's echo client (same code as the floor)";
            let mut figs = Series::new(Model::Tcp, size, Side::Ours).latency(s, how);
            figs.extend(floor_figs);
            let rate = floor::echo_stream(&addr, size, p.messages)?;
            let how = "tcp-echo-server, pipelined: one thread writes, one reads the echoes";
            figs.push(Series::new(Model::Tcp, size, Side::Ours).figure(
                Metric::MsgsPerS,
                rate,
                how,
            ));
            let filter = format!("tcp port {}", addr.rsplit(':').next().unwrap_or_default());
            figs.extend(capture_run(ctx, captures, Model::Tcp, size, |pcap| {
                capture::maybe(Some(pcap), &filter, || {
                    floor::echo_stream(&addr, size, p.messages)
                })
            })?);
            Ok(figs)
        });
    }
}

fn section_rest(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, captures: &mut Captures) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64 * (1 + 2 * p.rest_conns.len() as u64));
    let (server, addr) = match ctx.server("rest-api") {
        Ok(s) => s,
        Err(err) => return out.take("rest", Err(err)),
    };
    for &size in &p.sizes {
        let url =
            match ctx
                .runtime
                .block_on(models::rest_item(&format!("http://{addr}"), None, size))
            {
                Ok(url) => url,
                Err(err) => {
                    out.take(&format!("rest {size} B"), Err(err));
                    continue;
                }
            };
        let most = *p.rest_conns.iter().max().unwrap_or(&1);
        let filter = format!("tcp port {}", addr.rsplit(':').next().unwrap_or_default());
        out.take(
            &format!("rest capture {size} B"),
            capture_run(ctx, captures, Model::Rest, size, |pcap| {
                capture::maybe(Some(pcap), &filter, || {
                    let run = models::rest_throughput(&url, None, most, p.broker_messages);
                    ctx.connections.block_on(run)
                })
            }),
        );
        step(bar, out, format!("rest latency {size} B"), || {
            let _one = OneCpu::pin(&[&server])?;
            let (s, floor_figs) = alternating(ctx, Model::Rest, size, |w, n| {
                ctx.runtime.block_on(models::rest_latency(&url, None, w, n))
            })?;
            let how = format!("rest-api, GET /items/ID of a {size} B item, one keep-alive hyper connection, one request in flight");
            let mut figs = Series::new(Model::Rest, size, Side::Ours).latency(s, &how);
            figs.extend(floor_figs);
            Ok(figs)
        });
        for &conns in &p.rest_conns {
            let variant = format!("c={conns}");
            step(
                bar,
                out,
                format!("rest throughput {variant} {size} B"),
                || {
                    let _one = one_in_flight(conns, &server)?;
                    let run = models::rest_throughput(&url, None, conns, p.broker_messages);
                    let (rps, cpu) = procs::with_cpu(&server, || ctx.connections.block_on(run))?;
                    let how = format!("rest-api, {} GETs of a {size} B item over {conns} hyper keep-alive connections", p.broker_messages);
                    let series = Series::new(Model::Rest, size, Side::Ours).variant(&variant);
                    let mut figs = vec![series.figure(Metric::MsgsPerS, rps, &how)];
                    figs.extend(cpu.figures(&series, &how));
                    Ok(figs)
                },
            );
            step(bar, out, format!("wrk {variant} {size} B"), || {
                let _one = one_in_flight(conns, &server)?;
                let wrk = || peers::wrk(&url, conns, p.peer_secs);
                let ((rps, p50, p99), cpu) = procs::with_cpu(&server, wrk)?;
                let how = format!(
                    "wrk -t1 -c{conns} -d{}s --latency, same GET (time-based; wrk's latency suffers coordinated omission)",
                    p.peer_secs
                );
                let series = Series::new(Model::Rest, size, Side::peer("wrk")).variant(&variant);
                let mut figs = vec![
                    series.figure(Metric::MsgsPerS, rps, &how),
                    cpu.server_figure(&series, &how),
                ];
                if conns == 1 {
                    figs.push(series.figure(Metric::P50, p50, &how));
                    figs.push(series.figure(Metric::P99, p99, &how));
                }
                Ok(figs)
            });
        }
    }
}

fn section_reqrep(ctx: &Context, bar: &ProgressBar, out: &mut Outcome) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64 * 2);
    for &size in &p.sizes {
        step(bar, out, format!("reqrep {size} B"), || {
            let (server, addr) = ctx.server("zmq-rep-server")?;
            let _one = OneCpu::pin(&[&server])?;
            let (endpoint, request) = (format!("tcp://{addr}"), upper_request(size));
            let (s, floor_figs) = alternating(ctx, Model::Reqrep, size, |w, n| {
                models::req_latency(&endpoint, &request, &Default::default(), w, n)
            })?;
            let how = "zmq-rep-server, REQ load generator (zmq crate), one request in flight";
            let mut figs = Series::new(Model::Reqrep, size, Side::Ours).latency(s, how);
            figs.extend(floor_figs);
            Ok(figs)
        });
        step(bar, out, format!("remote_lat {size} B"), || {
            let tools = peers::zmq_perf_tools(&ctx.root)?;
            let _one = OneCpu::pin(&[])?;
            let avg = peers::zmq_lat(&tools, size, p.round_trips)?;
            Ok(vec![Series::new(Model::Reqrep, size, Side::peer("remote_lat")).figure(Metric::AvgRtt, avg, "libzmq local_lat/remote_lat: average only (its printed half round trip x 2), no percentiles, no warm-up")])
        });
    }
}

/// A valid zmq-rep-server request (`upper` of a string) padded so the whole JSON is `size` bytes.
pub fn upper_request(size: usize) -> Vec<u8> {
    let empty = r#"{"id":1,"op":"upper","arg":""}"#;
    let text = "x".repeat(size.saturating_sub(empty.len()));
    format!(r#"{{"id":1,"op":"upper","arg":"{text}"}}"#).into_bytes()
}

/// Messages per second from a summary: received over elapsed_ms, and lost must be 0.
pub fn summary_rate(
    fields: &std::collections::BTreeMap<String, String>,
    what: &str,
) -> anyhow::Result<f64> {
    let num = |k: &str| {
        fields
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("{what}: no numeric {k} in summary"))
    };
    anyhow::ensure!(
        num("lost")? == 0.0,
        "{what}: lost={} messages",
        num("lost")?
    );
    Ok(num("received")? / (num("elapsed_ms")?.max(1.0) / 1000.0))
}

/// One side of a pipeline comparison: its series, how it was measured, and one run's msgs/s.
type Turn<'a> = (Series, String, Box<dyn FnMut() -> anyhow::Result<f64> + 'a>);

/// Runs every side [`Plan::pipeline_turns`] times in turns (a, b, c, a, b, c, ...) and files each
/// side's median msgs/s, or the first error it met, after which it is not run again. A run of a
/// few hundred milliseconds on a shared 2-core machine moved by ±40 % from one run to the next,
/// and runs of one side back to back met other moments of the machine than the other side's.
fn in_turns(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, step: &str, mut sides: Vec<Turn>) {
    let turns = ctx.plan.pipeline_turns;
    let mut rates: Vec<anyhow::Result<Vec<f64>>> = sides.iter().map(|_| Ok(Vec::new())).collect();
    for turn in 1..=turns {
        bar.set_message(format!("{step}, turn {turn} of {turns}"));
        for ((_, _, run), rates) in sides.iter_mut().zip(&mut rates) {
            if let Ok(done) = rates {
                match run() {
                    Ok(rate) => done.push(rate),
                    Err(err) => *rates = Err(err),
                }
            }
        }
    }
    for ((series, how, _), rates) in sides.into_iter().zip(rates) {
        let figure = rates.map(|mut rates| {
            rates.sort_by(f64::total_cmp);
            let how = format!("{how}; median of {turns} runs in turns with the others");
            vec![series.figure(Metric::MsgsPerS, rates[rates.len() / 2], &how)]
        });
        out.take(&format!("{step} {}", series.by.name()), figure);
    }
    bar.inc(1);
}

/// libzmq's perf tools and the C topologies, built once per section: each run that needs them
/// fails with the build's error.
fn built(tools: &anyhow::Result<PathBuf>) -> anyhow::Result<&std::path::Path> {
    tools.as_deref().map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// The sides every pipeline figure has, each run by `run`: our binaries, another build's
/// (`--baseline-bin-dir`) and the C ends. `what` names the topology, `tally` where its rate is
/// read, `c` the C topology.
fn pipeline_sides<'a>(
    ctx: &'a Context,
    tools: &'a anyhow::Result<PathBuf>,
    series: impl Fn(Side) -> Series,
    (what, tally, c): (&str, &str, &str),
    run: impl Fn(Ends) -> anyhow::Result<(f64, Option<Captured>)> + Copy + 'a,
) -> Vec<Turn<'a>> {
    let mut sides: Vec<Turn> = vec![(
        series(Side::Ours),
        format!("{what} binaries; {tally}"),
        Box::new(move || run(Ends::Pola).map(|r| r.0)),
    )];
    if let Some(dir) = &ctx.baseline {
        sides.push((
            series(Side::Baseline),
            format!("{what} from {}; {tally}", dir.display()),
            Box::new(move || run(Ends::Dir(dir)).map(|r| r.0)),
        ));
    }
    sides.push((
        series(Side::peer("c")),
        format!("{c} (bench/zmq-topo) on the same libzmq, same JSON, counts and flags; {tally}"),
        Box::new(move || run(Ends::C(built(tools)?)).map(|r| r.0)),
    ));
    sides
}

fn section_pushpull(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, captures: &mut Captures) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64 * 2);
    let tools = peers::zmq_perf_tools(&ctx.root);
    for &size in &p.sizes {
        step(bar, out, format!("pushpull capture {size} B"), || {
            capture_run(ctx, captures, Model::Pushpull, size, |pcap| {
                zmq_runs::pushpull(ctx, Ends::Pola, size, p.messages, Some(pcap))
            })
        });
        let series = |side| Series::new(Model::Pushpull, size, side);
        let run = move |ends: Ends| zmq_runs::pushpull(ctx, ends, size, p.messages, None);
        let names = (
            "zmq-pusher -> 2 zmq-workers -> zmq-sink",
            "the sink's summary",
            "C taskvent -> 2 taskwork -> tasksink",
        );
        let mut sides = pipeline_sides(ctx, &tools, series, names, run);
        let limit = "libzmq local_thr/remote_thr (PULL/PUSH), mean as local_thr prints it";
        let tools = &tools;
        sides.push((
            series(Side::peer("local_thr")),
            limit.to_string(),
            Box::new(move || peers::zmq_thr(built(tools)?, size, p.messages)),
        ));
        in_turns(ctx, bar, out, &format!("pushpull {size} B"), sides);
    }
    // PUB/SUB is measured against the same limit: one socket to one socket.
    let limits: Vec<Figure> = out
        .figures
        .iter()
        .filter(|f| f.model == Model::Pushpull && f.by == Side::peer("local_thr"))
        .map(|f| {
            let mut copy = f.clone();
            copy.model = Model::Pubsub;
            copy.how = format!("{}; the same runs as PUSH/PULL's limit", f.how);
            copy
        })
        .collect();
    out.figures.extend(limits);
}

fn section_pubsub(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, captures: &mut Captures) {
    let p = &ctx.plan;
    bar.set_length(p.sizes.len() as u64 * (2 + p.subscribers.len() as u64));
    let tools = peers::zmq_perf_tools(&ctx.root);
    for &size in &p.sizes {
        step(bar, out, format!("pubsub latency {size} B"), || {
            let _one = OneCpu::pin(&[])?;
            let (s, floor_figs) = alternating(ctx, Model::Pubsub, size, |w, n| {
                models::pubsub_latency(size, w, n)
            })?;
            let how = "PUB->SUB delivery through libzmq via the zmq crate in pola bench, one in flight (not our binaries)";
            let mut figs =
                Series::new(Model::Pubsub, size, Side::peer("zmq crate")).latency(s, how);
            figs.extend(floor_figs);
            Ok(figs)
        });
        step(bar, out, format!("pubsub capture {size} B"), || {
            capture_run(ctx, captures, Model::Pubsub, size, |pcap| {
                zmq_runs::pubsub(ctx, Ends::Pola, size, p.messages, 1, Some(pcap))
            })
        });
        for &subs in &p.subscribers {
            let series =
                |side| Series::new(Model::Pubsub, size, side).variant(format!("subs={subs}"));
            let run = move |ends: Ends| zmq_runs::pubsub(ctx, ends, size, p.messages, subs, None);
            let names = (
                "zmq-publisher -> zmq-subscriber",
                "slowest subscriber's summary",
                "C wuserver -> wuclient",
            );
            let sides = pipeline_sides(ctx, &tools, series, names, run);
            let step = format!("pubsub {subs} subs {size} B");
            in_turns(ctx, bar, out, &step, sides);
        }
    }
}

fn section_mqtt(ctx: &Context, bar: &ProgressBar, out: &mut Outcome, captures: &mut Captures) {
    let p = &ctx.plan;
    let mut brokers = vec![
        (Side::Ours, "mqtt-broker (rmqtt)".to_string(), None),
        (Side::peer("mosquitto"), "Mosquitto".to_string(), None),
    ];
    for (name, path) in &ctx.mqtt_candidates {
        brokers.push((
            // Named for the whole run: a candidate is one of a handful given on the command line.
            Side::Peer(Box::leak(name.clone().into_boxed_str())),
            format!("{name} ({})", path.display()),
            Some(path),
        ));
    }
    let variants = [
        (QoS::AtMostOnce, "qos0"),
        (QoS::AtLeastOnce, "qos1"),
        (QoS::ExactlyOnce, "qos2"),
    ];
    bar.set_length((brokers.len() * (variants.len() * p.sizes.len() + 1)) as u64);
    for (side, label, path) in &brokers {
        let broker_name = side.name();
        let started = match (side, path) {
            (Side::Ours, _) => ctx.server("mqtt-broker"),
            (_, Some(path)) => candidate_broker(path, broker_name),
            _ => peers::mosquitto(&ctx.scratch),
        };
        let (broker, addr) = match started {
            Ok(s) => s,
            Err(err) => {
                out.take(&format!("mqtt broker {broker_name}"), Err(err));
                continue;
            }
        };
        for (qos, variant) in variants {
            for &size in &p.sizes {
                if *side == Side::Ours && qos == QoS::AtMostOnce {
                    out.take(
                        &format!("mqtt capture {size} B"),
                        mqtt_capture(ctx, captures, &addr, size),
                    );
                }
                step(
                    bar,
                    out,
                    format!("mqtt {broker_name} {variant} {size} B"),
                    || mqtt_figures(ctx, (*side, label), (&broker, &addr), (qos, variant), size),
                );
            }
        }
        out.take(
            &format!("mqtt {broker_name} rss"),
            broker.rss_kib().map(|kib| {
                vec![Series::new(Model::Mqtt, 0, *side).figure(
                    Metric::Rss,
                    kib as f64,
                    &format!("{label} VmRSS at the end of its runs"),
                )]
            }),
        );
        if !p.steady.is_zero() {
            bar.set_message(format!("{broker_name} steady load"));
            out.take(
                &format!("mqtt {broker_name} steady load"),
                steady_load(ctx, &broker, &addr, side, label),
            );
        }
        bar.inc(1);
        broker.terminate();
    }
}

/// Our broker's QoS 0 throughput run at `size` repeated under tcpdump.
fn mqtt_capture(
    ctx: &Context,
    captures: &mut Captures,
    addr: &str,
    size: usize,
) -> anyhow::Result<Vec<Figure>> {
    let filter = format!("tcp port {}", addr.rsplit(':').next().unwrap_or_default());
    capture_run(ctx, captures, Model::Mqtt, size, |pcap| {
        capture::maybe(Some(pcap), &filter, || {
            let run = models::mqtt_throughput(
                addr,
                None,
                QoS::AtMostOnce,
                size,
                ctx.plan.broker_messages,
            );
            ctx.runtime.block_on(run).map(|(rate, _lost)| rate)
        })
    })
}

/// One broker's latency (alternating with the floor's, on one CPU), rate and loss at one QoS and
/// size.
fn mqtt_figures(
    ctx: &Context,
    (side, label): (Side, &str),
    (broker, addr): (&Running, &str),
    (qos, variant): (QoS, &str),
    size: usize,
) -> anyhow::Result<Vec<Figure>> {
    let one = OneCpu::pin(&[broker])?;
    let (s, floor_figs) = alternating(ctx, Model::Mqtt, size, |w, n| {
        ctx.runtime
            .block_on(models::mqtt_latency(addr, None, qos, size, w, n))
    })?;
    drop(one);
    let how =
        format!("{label}; rumqttc publisher and subscriber in pola bench, one message in flight");
    let series = Series::new(Model::Mqtt, size, side).variant(variant);
    let mut figs = series.latency(s, &how);
    if side == Side::Ours && qos == QoS::AtMostOnce {
        figs.extend(floor_figs);
    }
    let count = ctx.plan.broker_messages;
    let (rate, lost) = ctx
        .runtime
        .block_on(models::mqtt_throughput(addr, None, qos, size, count))?;
    let how = format!("{label}; {count} rumqttc publishes back to back, rate of delivery");
    figs.push(series.figure(Metric::MsgsPerS, rate, &how));
    figs.push(series.figure(Metric::Lost, lost as f64, &how));
    Ok(figs)
}

/// Another broker binary on a free loopback port (`--listen HOST:PORT`).
fn candidate_broker(path: &std::path::Path, name: &str) -> anyhow::Result<(Running, String)> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let mut server = Running::spawn(Command::new(path).args(["--listen", &addr]), name)?;
    server.wait_listening(&addr)?;
    Ok((server, addr))
}

/// QoS 1, 1 KiB throughput runs back to back for the plan's `steady` time: the broker's RSS after the first
/// run (warm) and at the end (steady), so memory that grows with traffic shows as a ratio.
fn steady_load(
    ctx: &Context,
    broker: &Running,
    addr: &str,
    side: &Side,
    label: &str,
) -> anyhow::Result<Vec<Figure>> {
    let p = &ctx.plan;
    let run = || {
        ctx.runtime.block_on(models::mqtt_throughput(
            addr,
            None,
            QoS::AtLeastOnce,
            1024,
            p.broker_messages,
        ))
    };
    run()?;
    let warm = broker.rss_kib()?;
    let start = std::time::Instant::now();
    let mut runs = 0;
    while start.elapsed() < p.steady {
        run()?;
        runs += 1;
    }
    let end = broker.rss_kib()?;
    let how = format!(
        "{label} VmRSS after one warm-up run, then after {runs} more QoS 1 1 KiB runs ({:.0} s)",
        p.steady.as_secs_f64()
    );
    Ok(vec![
        Series::new(Model::Mqtt, 1024, *side)
            .variant("warm")
            .figure(Metric::Rss, warm as f64, &how),
        Series::new(Model::Mqtt, 1024, *side)
            .variant("steady")
            .figure(Metric::Rss, end as f64, &how),
    ])
}

fn section_capture(
    ctx: &Context,
    bar: &ProgressBar,
    out: &mut Outcome,
    captures: &[(String, Captured)],
) {
    bar.set_length(2);
    let Some((name, cap)) = captures.iter().max_by_key(|(_, c)| c.packets) else {
        return out.take(
            "capture",
            Err(anyhow::anyhow!(
                "no capture was taken (run the tcp section too)"
            )),
        );
    };
    let how = format!("the {name} capture, {} packets", cap.packets);
    bar.set_message("tshark -r");
    out.take(
        "tshark -r",
        capture::read_rate("tshark".as_ref(), &["-n", "-r"], &cap.pcap, cap.packets).map(|r| {
            vec![Series::new(Model::Capture, 0, Side::peer("tshark")).figure(
                Metric::PktsPerS,
                r,
                &format!("tshark -n -r on {how}"),
            )]
        }),
    );
    bar.inc(1);
    bar.set_message("pola inspect");
    out.take(
        "pola inspect",
        // The `pola` in the binaries folder rather than this very process's file, which a rebuild
        // during a long run replaces.
        ctx.bin("pola")
            .or_else(|_| std::env::current_exe().context("locating pola"))
            .and_then(|pola| {
                capture::read_rate(&pola, &["inspect"], &cap.pcap, cap.packets).map(|r| {
                    vec![
                        Series::new(Model::Capture, 0, Side::peer("pola inspect")).figure(
                            Metric::PktsPerS,
                            r,
                            &format!("pola inspect on {how}"),
                        ),
                    ]
                })
            }),
    );
    bar.inc(1);
}
