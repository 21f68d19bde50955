//! `pola bench` driven as a user runs it: the quick floor section against real sockperf, the
//! files it writes, and the failure when a figure cannot be produced. The peer tools' parsers are
//! checked against the tools' real output (sockperf, wrk, libzmq's perf tools), never samples.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

use pola::bench::{peers, procs};

mod support;

fn pola() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pola"))
}

/// `pola bench --quick --only <section>` writing into `dir`, which must succeed: its stdout and
/// its results.json.
fn quick_run(section: &str, dir: &std::path::Path) -> (String, serde_json::Value) {
    let out = pola()
        .args(["bench", "--quick", "--only", section, "--out-dir"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    (stdout, serde_json::from_str(&results).unwrap())
}

#[test]
fn quick_floor_writes_sane_figures_json_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, json) = quick_run("floor", dir.path());
    let figures = json["figures"].as_array().unwrap();
    for size in [64, 1024] {
        for (metric, by) in [
            ("p50", "floor"),
            ("p99", "floor"),
            ("msgs_per_s", "floor"),
            ("p50", "sockperf"),
            ("msgs_per_s", "sockperf"),
        ] {
            let f = figures
                .iter()
                .find(|f| f["metric"] == metric && f["by"] == by && f["size"] == size)
                .unwrap_or_else(|| panic!("no {metric} by {by} at {size} B in {json}"));
            let v = f["value"].as_f64().unwrap();
            assert!(v.is_finite() && v > 0.0, "{f}");
            assert!(!f["unit"].as_str().unwrap().is_empty());
        }
    }
    assert!(json["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["what"] == "floor p50 vs sockperf pp 64 B"));
    assert!(json["machine"]["cores"].as_u64().unwrap() > 0);
    assert!(json["versions"]["sockperf"]
        .as_str()
        .unwrap()
        .contains("sockperf"));
    let svg = std::fs::read_to_string(dir.path().join("latest.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("floor p50 64 B"),
        "{svg}"
    );
    assert!(stdout.contains("floor p50 vs sockperf pp 64 B"), "{stdout}");
}

#[test]
fn a_figure_that_cannot_be_produced_fails_the_run_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = pola()
        .args(["bench", "--quick", "--only", "tcp", "--bin-dir"])
        .arg(empty.path())
        .arg("--out-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("MISSING: tcp echo 64 B") && stdout.contains("tcp-echo-server"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().last().unwrap().starts_with("error: "),
        "{stderr}"
    );
}

#[test]
fn an_unknown_section_is_refused_in_one_line() {
    let out = pola()
        .args(["bench", "--only", "floor,carrier-pigeon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("carrier-pigeon"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn sockperf_output_parses_to_plausible_round_trips() {
    let (_server, port) = peers::sockperf_server().unwrap();
    let (p50, p99) =
        peers::parse_sockperf_pp(&peers::sockperf("pp", port, 64, 1, &["--full-rtt"]).unwrap())
            .unwrap();
    assert!(p50 > 0.0 && p99 >= p50, "p50={p50} p99={p99}");
    assert!(
        peers::parse_sockperf_tp(&peers::sockperf("tp", port, 64, 1, &[]).unwrap()).unwrap() > 0.0
    );
}

/// A minimal keep-alive HTTP/1.1 server, enough for wrk to have a real peer.
fn tiny_http() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    if line == "\r\n" {
                        let reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if writer.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                    line.clear();
                }
            });
        }
    });
    addr
}

#[test]
fn wrk_output_parses_to_rate_and_percentiles() {
    let addr = tiny_http();
    let (rps, p50, p99) = peers::wrk(&format!("http://{addr}/"), 2, 1).unwrap();
    assert!(
        rps > 0.0 && p50 > 0.0 && p99 >= p50,
        "rps={rps} p50={p50} p99={p99}"
    );
}

#[test]
fn libzmq_perf_tools_build_and_their_output_parses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let tools = peers::zmq_perf_tools(root).unwrap();
    assert!(peers::zmq_lat(&tools, 64, 200).unwrap() > 0.0);
    assert!(peers::zmq_thr(&tools, 64, 2000).unwrap() > 0.0);
}

#[test]
fn mosquitto_starts_on_a_free_port_and_reports_rss() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = peers::mosquitto(dir.path()).unwrap();
    common::probe::probe(&addr).unwrap();
    assert!(broker.rss_kib().unwrap() > 0);
    // The port handed out is free: something else can bind it at once (mosquitto's is taken).
    let port = procs::free_port().unwrap();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("free_port gave a port in use");
    assert_ne!(
        Some(port),
        addr.rsplit(':').next().and_then(|p| p.parse().ok())
    );
}

#[test]
fn tcpdump_capture_holds_every_packet_of_a_real_exchange() {
    use pola::bench::{capture, floor};
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("echo.pcap");
    let (addr, server) = floor::echo_server().unwrap();
    let port = addr.rsplit(':').next().unwrap().to_string();
    let (samples, cap) = capture::with_capture(&pcap, &format!("tcp port {port}"), || {
        floor::ping_pong(&addr, 64, 0, 50)
    })
    .unwrap();
    server.join().unwrap();
    assert_eq!(samples.len(), 50);
    // 50 requests and 50 echoes, at least one segment each, plus the handshake.
    assert!(cap.packets >= 103, "{cap:?}");
    assert_eq!(cap.dropped, 0, "{cap:?}");
    let listed = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count() as u64,
        cap.packets
    );
}

#[test]
fn the_chart_opens_in_chromium_with_every_label_inside_it() {
    use pola::bench::output::svg;
    use pola::bench::stats::{Metric, Model, Series, Side};
    let mut figs = Vec::new();
    for (i, size) in [64, 1024].into_iter().enumerate() {
        let scale = 10f64.powi(i as i32);
        for (model, by, variant) in [
            (Model::Floor, Side::Floor, ""),
            (Model::Rest, Side::Ours, "c=16"),
            (Model::Rest, Side::peer("wrk"), "c=16"),
            (Model::Pubsub, Side::peer("local_thr"), "subs=4"),
            (Model::MqttTls, Side::Plain, "qos1"),
            (Model::Mqtt, Side::peer("a-candidate-broker"), "qos2"),
        ] {
            let series = Series::new(model, size, by).variant(variant);
            figs.push(series.figure(Metric::P50, 12.5 * scale, "test"));
            figs.push(series.figure(Metric::MsgsPerS, 1_398_601.0 / scale, "test"));
        }
    }
    let chart = svg(&figs, "pola bench <&> 'quoted' \"title\"");
    assert!(
        chart.contains("&lt;&amp;&gt; &#39;quoted&#39; &quot;title&quot;"),
        "{chart}"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("chart.html");
    std::fs::write(
        &page,
        format!("<!DOCTYPE html><html><body>{chart}</body></html>"),
    )
    .unwrap();
    let (texts, bad) = support::texts_outside_their_svg(&page, "svg");
    // A label, a bar value per figure; the headings, ticks and legend besides.
    assert!(
        texts as usize > 2 * figs.len(),
        "only {texts} texts measured"
    );
    assert!(bad.is_empty(), "texts outside the chart: {bad:#?}");
}

#[test]
fn quick_twins_section_sets_each_twin_beside_plain_with_its_goal() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = quick_run("twins", dir.path());
    let value = |model: &str, metric: &str, size: u64, by: &str| {
        json["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["model"] == model && f["metric"] == metric && f["size"] == size && f["by"] == by
            })
            .unwrap_or_else(|| panic!("no {model} {metric} {size} B by {by} in {json}"))["value"]
            .as_f64()
            .unwrap()
    };
    for model in ["rest-tls", "mqtt-tls", "reqrep-curve"] {
        for size in [64, 1024] {
            for by in ["plain", "pola"] {
                assert!(value(model, "p50", size, by) > 0.0);
                assert!(value(model, "msgs_per_s", size, by) > 0.0);
            }
        }
        // A full TLS 1.3 or CURVE handshake is public-key work and more round trips than plain.
        let (plain, tls) = (
            value(model, "first_byte_p50", 0, "plain"),
            value(model, "first_byte_p50", 0, "pola"),
        );
        assert!(
            tls > plain,
            "{model}: TLS first byte {tls} us, plain {plain} us"
        );
    }
    let goals: Vec<(String, String)> = json["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["what"].as_str().unwrap().into(),
                c["goal"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (what, goal) in [
        ("HTTPS p50 vs plain HTTP 64 B", "<= 1.3"),
        ("HTTPS req/s c=16 vs plain HTTP 1024 B", ">= 0.769"),
        ("MQTT/TLS QoS1 p50 vs plain 1024 B", "<= 1.3"),
        ("MQTT/TLS QoS1 msgs/s vs plain 64 B", ">= 0.769"),
        ("MQTT/TLS handshake to 1st byte vs plain", ""),
        ("REQ/REP CURVE p50 vs plain 64 B", "<= 1.3"),
        ("REQ/REP CURVE msgs/s vs plain 1024 B", ">= 0.769"),
    ] {
        assert!(
            goals.contains(&(what.to_string(), goal.to_string())),
            "no {what:?} with goal {goal:?} in {goals:?}"
        );
    }
}
