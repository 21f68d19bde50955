//! The established tools each model is compared with, run on loopback and parsed from their own
//! output: sockperf (`pp`/`tp`), wrk, libzmq's perf tools (`local_lat`/`remote_lat`,
//! `local_thr`/`remote_thr`, built by bench/build-zmq-perf.sh) and Mosquitto as a broker.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use super::procs::{free_port, run_ok, Running};

/// The number after `prefix` on the first line that contains it, e.g. `percentile 50.000 =`.
fn number_after(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = &l[l.find(prefix)? + prefix.len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// sockperf `pp --full-rtt`: (p50, p99) of the round trip in microseconds.
pub fn parse_sockperf_pp(out: &str) -> anyhow::Result<(f64, f64)> {
    let p50 = number_after(out, "percentile 50.000 =")
        .context("sockperf pp printed no 50th percentile")?;
    let p99 = number_after(out, "percentile 99.000 =")
        .context("sockperf pp printed no 99th percentile")?;
    Ok((p50, p99))
}

/// sockperf `tp`: messages per second from `Summary: Message Rate is N [msg/sec]`.
pub fn parse_sockperf_tp(out: &str) -> anyhow::Result<f64> {
    number_after(out, "Message Rate is").context("sockperf tp printed no message rate")
}

/// A sockperf server (`sr`) on a free loopback port, stopped when dropped.
pub fn sockperf_server() -> anyhow::Result<(Running, u16)> {
    let port = free_port()?;
    let mut server = Running::spawn(
        Command::new("sockperf").args(["sr", "--tcp", "-i", "127.0.0.1", "-p", &port.to_string()]),
        "sockperf sr",
    )?;
    server.wait_listening(&format!("127.0.0.1:{port}"))?;
    Ok((server, port))
}

/// Runs `sockperf <mode>` for `secs` seconds (sockperf runs by time, not by count).
pub fn sockperf(
    mode: &str,
    port: u16,
    size: usize,
    secs: u64,
    extra: &[&str],
) -> anyhow::Result<String> {
    let (port, size, secs) = (port.to_string(), size.to_string(), secs.to_string());
    let mut cmd = Command::new("sockperf");
    cmd.args([
        mode,
        "--tcp",
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        &size,
        "-t",
        &secs,
    ])
    .args(extra);
    // sockperf prints its report on stdout and stderr alike depending on the line; read both.
    let out = super::procs::run_bounded(
        &mut cmd,
        &format!("sockperf {mode} on 127.0.0.1:{port}"),
        Duration::from_secs(30 + secs.parse::<u64>().unwrap_or(0)),
    )?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "sockperf {mode} on 127.0.0.1:{port} exited with {}",
            out.status
        );
    }
    Ok(text)
}

/// A wrk duration such as `85.00us`, `1.20ms` or `2.00s`, in microseconds.
fn wrk_micros(text: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else {
        (text.strip_suffix('s')?, 1e6)
    };
    Some(num.parse::<f64>().ok()? * scale)
}

/// wrk `--latency`: (requests/s, p50 µs, p99 µs) from `Requests/sec:` and the distribution.
pub fn parse_wrk(out: &str) -> anyhow::Result<(f64, f64, f64)> {
    let rps = number_after(out, "Requests/sec:").context("wrk printed no Requests/sec")?;
    let pct = |label: &str| {
        out.lines()
            .map(str::split_whitespace)
            .find_map(|mut w| {
                (w.next() == Some(label))
                    .then(|| w.next().and_then(wrk_micros))
                    .flatten()
            })
            .with_context(|| format!("wrk printed no {label} latency"))
    };
    Ok((rps, pct("50%")?, pct("99%")?))
}

/// Runs wrk with one thread and `conns` keep-alive connections against `url` for `secs` seconds.
pub fn wrk(url: &str, conns: usize, secs: u64) -> anyhow::Result<(f64, f64, f64)> {
    let out = run_ok(
        Command::new("wrk").args([
            "-t1",
            "-c",
            &conns.to_string(),
            "-d",
            &format!("{secs}s"),
            "--latency",
            url,
        ]),
        &format!("wrk against {url}"),
        Duration::from_secs(30 + secs),
    )?;
    parse_wrk(&out).with_context(|| format!("parsing wrk's output for {url}"))
}

/// libzmq `remote_lat`: the average latency it prints is half a round trip
/// (`elapsed / (roundtrips * 2)` in perf/remote_lat.cpp); this returns the whole round trip in µs.
pub fn parse_remote_lat(out: &str) -> anyhow::Result<f64> {
    Ok(2.0
        * number_after(out, "average latency:").context("remote_lat printed no average latency")?)
}

/// libzmq `local_thr`: `mean throughput: N [msg/s]`.
pub fn parse_local_thr(out: &str) -> anyhow::Result<f64> {
    out.lines()
        .filter(|l| l.contains("[msg/s]"))
        .find_map(|l| number_after(l, "mean throughput:"))
        .context("local_thr printed no mean throughput in msg/s")
}

/// What bench/build-zmq-perf.sh builds: libzmq's perf tools and the C topologies.
const ZMQ_TOOLS: [&str; 9] = [
    "local_lat",
    "remote_lat",
    "local_thr",
    "remote_thr",
    "taskvent",
    "taskwork",
    "tasksink",
    "wuserver",
    "wuclient",
];

/// Where libzmq's perf tools and the C topologies are, building them with
/// bench/build-zmq-perf.sh if one is missing.
pub fn zmq_perf_tools(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/zmq-perf");
    if ZMQ_TOOLS.iter().all(|t| dir.join(t).exists()) {
        return Ok(dir);
    }
    let script = root.join("bench/build-zmq-perf.sh");
    run_ok(
        Command::new("bash").arg(&script).arg(&dir),
        &format!("building libzmq's perf tools with {}", script.display()),
        Duration::from_secs(300),
    )?;
    Ok(dir)
}

/// One `local_lat`/`remote_lat` run: the average round trip in µs.
pub fn zmq_lat(tools: &Path, size: usize, count: usize) -> anyhow::Result<f64> {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port()?);
    let (size, count) = (size.to_string(), count.to_string());
    let mut local = Running::spawn(
        Command::new(tools.join("local_lat")).args([&endpoint, &size, &count]),
        "local_lat",
    )?;
    // Started only once local_lat listens, so remote_lat's clock never includes reconnect waits.
    local.wait_listening(endpoint.trim_start_matches("tcp://"))?;
    let out = run_ok(
        Command::new(tools.join("remote_lat")).args([&endpoint, &size, &count]),
        &format!("remote_lat to {endpoint}"),
        Duration::from_secs(120),
    )?;
    parse_remote_lat(&out)
}

/// One `local_thr`/`remote_thr` run: messages per second as `local_thr` counted them.
pub fn zmq_thr(tools: &Path, size: usize, count: usize) -> anyhow::Result<f64> {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port()?);
    let (size, count) = (size.to_string(), count.to_string());
    let local_cmd = tools.join("local_thr");
    let args = [endpoint.clone(), size.clone(), count.clone()];
    let local = std::thread::spawn(move || {
        run_ok(
            Command::new(local_cmd).args(&args),
            "local_thr",
            Duration::from_secs(120),
        )
    });
    // local_thr binds in its own time; remote_thr connects and libzmq retries until it does, and
    // local_thr's clock starts at the first message, so the wait is not measured.
    let remote = Running::spawn(
        Command::new(tools.join("remote_thr")).args([&endpoint, &size, &count]),
        "remote_thr",
    )?;
    let out = local.join().expect("local_thr thread")?;
    remote.terminate();
    parse_local_thr(&out)
}

/// Mosquitto listening on a free loopback port with a throw-away config, stopped when dropped.
pub fn mosquitto(dir: &Path) -> anyhow::Result<(Running, String)> {
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .with_context(|| format!("writing {}", conf.display()))?;
    let addr = format!("127.0.0.1:{port}");
    let mut broker = Running::spawn(Command::new("mosquitto").arg("-c").arg(&conf), "mosquitto")?;
    broker.wait_listening(&addr)?;
    Ok((broker, addr))
}

/// The first line of `<tool> <flag>`, for results.json.
pub fn version(tool: &str, flag: &str) -> String {
    Command::new(tool)
        .arg(flag)
        .output()
        .ok()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .and_then(|t| {
            t.lines()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
