//! The encrypted twins beside the plain models, in one section: MQTT over TLS, REST over HTTPS and
//! ZeroMQ REQ/REP over CURVE measured in turns with the same model in plain text (same binaries,
//! load generators, sizes and counts, the same minutes of the machine), each with the CPU its
//! server and the bench's client used, so the ratio says which side paid; and, on its own, the
//! cost of a full handshake: the time from the connect to the first byte of the first answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::ProgressBar;
use rumqttc::QoS;

use super::procs::{self, CpuUse, OneCpu, Running};
use super::sections::{Context, BLOCKS};
use super::stats::{Figure, Metric, Model, Samples, Series, Side};
use super::{models, Outcome};
use pola_zmq::curve::ClientKeys;

/// One end of a pair: a server, where it listens, and what its clients need to reach it: the CA
/// they trust (TLS) or their CURVE keys; neither in plain text.
struct End {
    side: Side,
    server: Running,
    addr: String,
    ca: Option<PathBuf>,
    curve: ClientKeys,
}

/// One model served twice by the same binary: plain first, then over TLS (side [`Side::Ours`]).
struct Pair([End; 2]);

impl Pair {
    /// `name` on two free ports, the second with the certificate `pola certs` issues to `cert`.
    fn tls(ctx: &Context, name: &str, cert: &str) -> anyhow::Result<Pair> {
        let dir = ctx.scratch.join("certs");
        common::tls::generate(&dir)?;
        let (cert, key) = common::tls::server_files(&dir, cert);
        let flags = [
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ];
        let ca = Some(dir.join(common::tls::CA_FILE));
        Pair::start(ctx, name, &flags, ca, ClientKeys::default())
    }

    /// `zmq-rep-server` on two free ports, the second a CURVE server with the lab's key pairs as
    /// `pola certs` makes them.
    fn curve(ctx: &Context) -> anyhow::Result<Pair> {
        let dir = ctx.scratch.join("curve");
        pola_zmq::curve::generate(&dir)?;
        let secret = dir.join("server.key");
        let flags = ["--curve-secret-key".as_ref(), secret.as_os_str()];
        let keys = ClientKeys {
            curve_server_key: Some(dir.join("server.pub")),
            curve_public_key: Some(dir.join("client.pub")),
            curve_secret_key: Some(dir.join("client.key")),
        };
        Pair::start(ctx, "zmq-rep-server", &flags, None, keys)
    }

    /// `name` plain, then with `flags`, whose clients need `ca` or `curve`.
    fn start(
        ctx: &Context,
        name: &str,
        flags: &[&std::ffi::OsStr],
        ca: Option<PathBuf>,
        curve: ClientKeys,
    ) -> anyhow::Result<Pair> {
        let (plain, plain_addr) = ctx.server_with(name, &[])?;
        let (secure, secure_addr) = ctx.server_with(name, flags)?;
        Ok(Pair([
            End {
                side: Side::Plain,
                server: plain,
                addr: plain_addr,
                ca: None,
                curve: ClientKeys::default(),
            },
            End {
                side: Side::Ours,
                server: secure,
                addr: secure_addr,
                ca,
                curve,
            },
        ]))
    }
}

/// The encrypted twins, each measured beside its plain model.
const TWINS: [Model; 3] = [Model::RestTls, Model::MqttTls, Model::ReqrepCurve];

/// Runs the section: REST, MQTT, then REQ/REP, each at every size and then its handshakes.
pub fn section(ctx: &Context, bar: &ProgressBar, out: &mut Outcome) {
    bar.set_length(TWINS.len() as u64 * (ctx.plan.sizes.len() as u64 + 1));
    for twin in TWINS {
        let name = twin.name();
        bar.set_message(format!("starting {name}, plain and encrypted"));
        match start(ctx, twin) {
            Ok(pair) => {
                for &size in &ctx.plan.sizes {
                    bar.set_message(format!("{name} and plain {size} B"));
                    out.take(&format!("{name} {size} B"), turns(ctx, &pair, twin, size));
                    bar.inc(1);
                }
                bar.set_message(format!("{name} handshakes"));
                let figs = match twin {
                    Model::ReqrepCurve => reqrep_handshakes(ctx, &pair),
                    _ => handshakes(ctx, &pair, twin),
                };
                out.take(&format!("{name} handshakes"), figs);
            }
            Err(err) => out.take(name, Err(err)),
        }
        bar.inc(1);
    }
}

/// The plain and the encrypted server of `twin`.
fn start(ctx: &Context, twin: Model) -> anyhow::Result<Pair> {
    match twin {
        Model::RestTls => Pair::tls(ctx, "rest-api", "rest-api"),
        Model::MqttTls => Pair::tls(ctx, "mqtt-broker", "broker"),
        _ => Pair::curve(ctx),
    }
}

/// `twin`'s figures at one size, plain and encrypted side by side.
fn turns(ctx: &Context, pair: &Pair, twin: Model, size: usize) -> anyhow::Result<Vec<Figure>> {
    match twin {
        Model::RestTls => rest_turns(ctx, pair, size),
        Model::MqttTls => mqtt_turns(ctx, pair, size),
        _ => reqrep_turns(ctx, pair, size),
    }
}

impl Pair {
    /// Both servers and this process on one CPU until the guard is dropped.
    fn one_cpu(&self) -> anyhow::Result<OneCpu> {
        OneCpu::pin(&[&self.0[0].server, &self.0[1].server])
    }
}

/// Round trips in [`BLOCKS`] turns per side, plain first each time, on one CPU: p50, p99 and mean
/// of each.
fn latency_turns(
    ctx: &Context,
    pair: &Pair,
    series: &Series,
    how: &str,
    mut run: impl FnMut(&End, usize, usize) -> anyhow::Result<Samples>,
) -> anyhow::Result<Vec<Figure>> {
    let _one = pair.one_cpu()?;
    let (warmup, count) = (ctx.plan.warmup / BLOCKS, ctx.plan.round_trips / BLOCKS);
    let mut samples = [Samples::default(), Samples::default()];
    for _ in 0..BLOCKS {
        for (end, samples) in pair.0.iter().zip(&mut samples) {
            samples.extend(run(end, warmup, count)?);
        }
    }
    let mut figs = Vec::new();
    for (end, s) in pair.0.iter().zip(samples) {
        figs.extend(series.by(end.side).latency(s, how));
    }
    Ok(figs)
}

/// Messages per second in two turns per side, plain first each time, with the CPU time the
/// server and this process (the load generator) used meanwhile, in percent of one core: the side
/// near 100 % is the limit.
fn throughput_turns(
    pair: &Pair,
    series: &Series,
    how: &str,
    mut run: impl FnMut(&End) -> anyhow::Result<f64>,
) -> anyhow::Result<Vec<Figure>> {
    // Per side: messages moved, and the CPU and wall time they took.
    let mut totals = [(0.0, CpuUse::default()); 2];
    for _ in 0..2 {
        for (end, (msgs, used)) in pair.0.iter().zip(&mut totals) {
            let (msgs_per_s, turn) = procs::with_cpu(&end.server, || run(end))?;
            *msgs += msgs_per_s * turn.wall;
            used.add(turn);
        }
    }
    let mut figs = Vec::new();
    for (end, (msgs, used)) in pair.0.iter().zip(totals) {
        let series = series.by(end.side);
        figs.push(series.figure(Metric::MsgsPerS, msgs / used.wall, how));
        figs.extend(used.figures(&series, how));
    }
    Ok(figs)
}

fn rest_turns(ctx: &Context, rest: &Pair, size: usize) -> anyhow::Result<Vec<Figure>> {
    let p = &ctx.plan;
    // An item of `size` bytes on each server, by side.
    let mut urls = Vec::new();
    for end in &rest.0 {
        let scheme = if end.ca.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", end.addr);
        let item = models::rest_item(&base, end.ca.as_deref(), size);
        urls.push((end.side, ctx.runtime.block_on(item)?));
    }
    let url = |end: &End| {
        let found = urls.iter().find(|(side, _)| *side == end.side);
        found.map(|(_, url)| url.clone()).unwrap_or_default()
    };
    let series = Series::new(Model::RestTls, size, Side::Plain);
    let how = format!("rest-api plain and with --tls-cert, GET /items/ID of a {size} B item, one keep-alive hyper connection, one request in flight, in turns");
    let mut figs = latency_turns(ctx, rest, &series, &how, |end, w, n| {
        let url = url(end);
        ctx.runtime
            .block_on(models::rest_latency(&url, end.ca.as_deref(), w, n))
    })?;
    let conns = *p.rest_conns.iter().max().unwrap_or(&1);
    let how = format!("rest-api plain and with --tls-cert, {} GETs of a {size} B item over {conns} hyper keep-alive connections, two turns each", p.broker_messages);
    let series = series.variant(format!("c={conns}"));
    figs.extend(throughput_turns(rest, &series, &how, |end| {
        let url = url(end);
        let run = models::rest_throughput(&url, end.ca.as_deref(), conns, p.broker_messages);
        ctx.connections.block_on(run)
    })?);
    Ok(figs)
}

fn mqtt_turns(ctx: &Context, mqtt: &Pair, size: usize) -> anyhow::Result<Vec<Figure>> {
    let p = &ctx.plan;
    let qos = QoS::AtLeastOnce;
    let series = Series::new(Model::MqttTls, size, Side::Plain).variant("qos1");
    let how = "mqtt-broker plain and with --tls-cert; rumqttc publisher and subscriber in pola bench, QoS 1, one message in flight, in turns";
    let mut figs = latency_turns(ctx, mqtt, &series, how, |end, w, n| {
        let run = models::mqtt_latency(&end.addr, end.ca.as_deref(), qos, size, w, n);
        ctx.runtime.block_on(run)
    })?;
    let how = format!("mqtt-broker plain and with --tls-cert; {} rumqttc QoS 1 publishes back to back, rate of delivery, two turns each", p.broker_messages);
    figs.extend(throughput_turns(mqtt, &series, &how, |end| {
        let run =
            models::mqtt_throughput(&end.addr, end.ca.as_deref(), qos, size, p.broker_messages);
        let (rate, lost) = ctx.runtime.block_on(run)?;
        anyhow::ensure!(lost == 0, "{lost} QoS 1 messages lost through {}", end.addr);
        Ok(rate)
    })?);
    Ok(figs)
}

/// A full handshake, taken in turns on fresh connections: connect, TLS where the side has it,
/// the protocol's first request (`GET /health`, or MQTT CONNECT), and the first byte back.
fn handshakes(ctx: &Context, pair: &Pair, model: Model) -> anyhow::Result<Vec<Figure>> {
    let what = if model == Model::MqttTls {
        "MQTT CONNECT to the first byte of CONNACK"
    } else {
        "GET /health to the first byte of the response"
    };
    let how = format!(
        "{} fresh connections per side in turns: TCP connect, the TLS 1.3 handshake (none in plain text), {what}",
        ctx.plan.handshakes
    );
    handshake_turns(ctx, pair, model, &how, |end| {
        first_byte(&end.addr, end.ca.as_deref(), model)
    })
}

/// `probe`'s times in turns per side, [`Plan::handshakes`](super::Plan) each, on one CPU: their
/// p50.
fn handshake_turns(
    ctx: &Context,
    pair: &Pair,
    model: Model,
    how: &str,
    mut probe: impl FnMut(&End) -> anyhow::Result<Duration>,
) -> anyhow::Result<Vec<Figure>> {
    let _one = pair.one_cpu()?;
    let mut samples = [Samples::default(), Samples::default()];
    for _ in 0..ctx.plan.handshakes {
        for (end, samples) in pair.0.iter().zip(&mut samples) {
            samples.push(probe(end)?);
        }
    }
    let figs = pair.0.iter().zip(samples).map(|(end, mut s)| {
        let series = Series::new(model, 0, end.side);
        series.figure(Metric::FirstByteP50, s.percentile(50.0), how)
    });
    Ok(figs.collect())
}

/// REQ/REP in plain ZMTP and over CURVE: round trips in turns, their closed-loop rate (one
/// request in flight, so msgs/s is what one client gets), and new connections.
fn reqrep_turns(ctx: &Context, pair: &Pair, size: usize) -> anyhow::Result<Vec<Figure>> {
    let p = &ctx.plan;
    let request = super::sections::upper_request(size);
    let endpoint = |end: &End| format!("tcp://{}", end.addr);
    let series = Series::new(Model::ReqrepCurve, size, Side::Plain);
    let how = "zmq-rep-server plain and with --curve-secret-key, REQ load generator (zmq crate), one request in flight, in turns";
    let mut figs = latency_turns(ctx, pair, &series, how, |end, w, n| {
        models::req_latency(&endpoint(end), &request, &end.curve, w, n)
    })?;
    let how = format!("zmq-rep-server plain and with --curve-secret-key, {} REQ round trips back to back on one socket, two turns each", p.round_trips);
    // One request in flight, so on one CPU like the round trips.
    let _one = pair.one_cpu()?;
    figs.extend(throughput_turns(pair, &series, &how, |end| {
        let start = Instant::now();
        models::req_latency(&endpoint(end), &request, &end.curve, 0, p.round_trips)?;
        Ok(p.round_trips as f64 / start.elapsed().as_secs_f64())
    })?);
    Ok(figs)
}

/// The time from a new REQ socket's connect to the first byte of the reply to one request: the
/// ZMTP greeting, CURVE's HELLO, WELCOME, INITIATE and READY where the side has it, the request.
fn reqrep_handshakes(ctx: &Context, pair: &Pair) -> anyhow::Result<Vec<Figure>> {
    let zmq_ctx = zmq::Context::new();
    let request = super::sections::upper_request(64);
    let how = format!(
        "{} new REQ sockets per side in turns: connect, the ZMTP greeting and handshake (CURVE's or NULL's), one 64 B request to its reply",
        ctx.plan.handshakes
    );
    handshake_turns(ctx, pair, Model::ReqrepCurve, &how, |end| {
        let endpoint = format!("tcp://{}", end.addr);
        let req = zmq_ctx.socket(zmq::REQ).context("creating a REQ socket")?;
        req.set_linger(0).context("setting the REQ linger")?;
        req.set_rcvtimeo(5000)
            .context("setting the REQ receive timeout")?;
        end.curve.apply(&req)?;
        let start = Instant::now();
        req.connect(&endpoint)
            .with_context(|| format!("connecting REQ to {endpoint}"))?;
        req.send(&request[..], 0)
            .with_context(|| format!("sending a request to {endpoint}"))?;
        req.recv_bytes(0)
            .with_context(|| format!("waiting for the reply from {endpoint}"))?;
        Ok(start.elapsed())
    })
}

/// The time from the TCP connect to `addr` to the first byte of the answer to the model's first
/// request, over TLS trusting only `ca` when given.
fn first_byte(addr: &str, ca: Option<&Path>, model: Model) -> anyhow::Result<Duration> {
    let (request, alpn) = if model == Model::MqttTls {
        let mut connect = bytes::BytesMut::new();
        // A new client id each time: reusing one would make the broker take the session over
        // from the connection before, which is not the cost of a handshake.
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        rumqttc::Connect::new(format!("bench-handshake-{}-{seq}", std::process::id()))
            .write(&mut connect)
            .map_err(|err| anyhow::anyhow!("encoding an MQTT CONNECT: {err:?}"))?;
        (connect.to_vec(), &b"mqtt"[..])
    } else {
        let get = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        (get.into_bytes(), &b"http/1.1"[..])
    };
    let start = Instant::now();
    let tcp = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .context("setting a read timeout")?;
    let mut stream: Box<dyn ReadWrite> = match ca {
        None => Box::new(tcp),
        Some(ca) => {
            let config = Arc::new(models::tls_config(ca, alpn)?);
            let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .with_context(|| format!("{host} is not a server name"))?;
            let conn = rustls::ClientConnection::new(config, name)
                .with_context(|| format!("starting TLS with {addr}"))?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    };
    stream
        .write_all(&request)
        .with_context(|| format!("sending the first request to {addr}"))?;
    let mut first = [0u8; 1];
    stream
        .read_exact(&mut first)
        .with_context(|| format!("waiting for the first byte from {addr}"))?;
    Ok(start.elapsed())
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}
