//! PUSH/PULL on loopback: three workers share 300 tasks in fair turns (exactly 100 each, every
//! third task), counted by the sink; a pyzmq PULL worker takes its turn like ours. A worker killed
//! mid-batch: the plain pipeline counts the lost tasks, the reliable mode hands them out again.

mod support;

use support::{python, python_done, spawn, spawn_env, spawn_pusher, Proc};

/// A sink (logging at debug level) and a pusher for `count` tasks and `workers` workers; returns
/// them and their addresses.
fn start(count: &str, workers: &str) -> (Proc, Proc, String, String) {
    start_with(count, workers, "debug", None)
}

/// The same with the sink's log level, and with `Some(task timeout in ms)` the reliable mode
/// (the sink's ack socket on a free port too).
fn start_with(
    count: &str,
    workers: &str,
    log: &str,
    reliable: Option<&str>,
) -> (Proc, Proc, String, String) {
    let mut args = vec!["--listen", "127.0.0.1:0", "--workers", workers];
    if reliable.is_some() {
        args.extend(["--reliable", "--acks", "127.0.0.1:0"]);
    }
    let sink = spawn_env("zmq-sink", &args, &[("RUST_LOG", log)]);
    let sink_addr = sink.listening();
    let mut args = vec!["--count", count, "--workers", workers];
    let acks_addr;
    if let Some(timeout) = reliable {
        acks_addr = sink.listening();
        args.extend([
            "--reliable",
            "--acks",
            &acks_addr,
            "--task-timeout-secs",
            timeout,
        ]);
    }
    let pusher = spawn_pusher(&sink_addr, &args);
    let tasks_addr = pusher.listening();
    (sink, pusher, sink_addr, tasks_addr)
}

fn worker(tasks: &str, sink: &str, id: &str) -> Proc {
    spawn(
        "zmq-worker",
        &["--connect", tasks, "--sink", sink, "--id", id],
    )
}

/// The tasks the sink logged for `worker`.
fn tasks_of(sink_stderr: &str, worker: &str) -> Vec<u64> {
    let needle = format!("tasks of worker {worker}: ");
    let line = sink_stderr
        .lines()
        .find(|l| l.contains(&needle))
        .expect("the sink lists each worker");
    let list = line.rsplit(": ").next().unwrap();
    list.split(',').map(|t| t.parse().unwrap()).collect()
}

#[test]
fn three_workers_share_300_tasks_exactly_100_each_in_turns() {
    let (sink, pusher, sink_addr, tasks_addr) = start("300", "3");
    let workers: Vec<Proc> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| worker(&tasks_addr, &sink_addr, id))
        .collect();
    let done = sink.finish();
    assert!(done.status.success(), "{}", done.stderr);
    let s = done.summary();
    assert_eq!(s["per_worker"], "w1:100,w2:100,w3:100");
    done.assert_fields(&[("fair", "true"), ("lost", "0"), ("received", "300")]);
    // Round-robin: each worker's tasks are every third one.
    for id in ["w1", "w2", "w3"] {
        let tasks = tasks_of(&done.stderr, id);
        assert!(
            tasks.windows(2).all(|p| p[1] == p[0] + 3),
            "{id}: {tasks:?}"
        );
    }
    for w in workers {
        let w = w.finish();
        assert!(w.status.success(), "{}", w.stderr);
        assert_eq!(w.summary()["received"], "100");
    }
    let p = pusher.finish();
    assert!(p.status.success(), "{}", p.stderr);
    assert_eq!(p.summary()["sent"], "300");
}

const PY_WORKER: &str = r#"
import json, sys, zmq
ctx = zmq.Context()
tasks = ctx.socket(zmq.PULL)
tasks.connect("tcp://" + sys.argv[1])
sink = ctx.socket(zmq.PUSH)
sink.connect("tcp://" + sys.argv[2])
done = 0
while True:
    task = json.loads(tasks.recv())
    if task.get("end"):
        break
    sink.send_json({"worker": "py", "task": task["task"]})
    done += 1
print(done)
# Exiting with the results still queued would drop them (pyzmq does not flush at exit).
sink.close(linger=10000)
tasks.close(linger=0)
ctx.term()
"#;

#[test]
fn a_pyzmq_pull_worker_takes_its_turn() {
    let (sink, _pusher, sink_addr, tasks_addr) = start("300", "3");
    let ours = [
        worker(&tasks_addr, &sink_addr, "rust1"),
        worker(&tasks_addr, &sink_addr, "rust2"),
    ];
    let py = python(PY_WORKER, &[&tasks_addr, &sink_addr]);
    let done = sink.finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.summary()["per_worker"], "py:100,rust1:100,rust2:100");
    assert_eq!(python_done(py).trim(), "100");
    for w in ours {
        assert!(w.finish().status.success());
    }
}

/// Starts three workers and kills w2 mid-batch. w2 connects alone and is stopped once the pusher
/// has counted its handshake (stopped at its own "ready", its READY command could still be unsent,
/// and the pusher would wait for it forever); the pusher starts only with all three, so round
/// robin deals w2 its turns, which it cannot work on. w2 is killed once w1 is working.
fn three_workers_one_killed(pusher: &Proc, tasks: &str, sink: &str) -> Vec<Proc> {
    let w2 = worker(tasks, sink, "w2");
    pusher.wait_for("peer handshake completed (1/3)");
    w2.signal("STOP");
    let w1 = spawn_env(
        "zmq-worker",
        &["--connect", tasks, "--sink", sink, "--id", "w1"],
        &[("RUST_LOG", "debug")],
    );
    let w3 = worker(tasks, sink, "w3");
    w1.wait_for("task ");
    w2.signal("KILL");
    vec![w1, w3]
}

#[test]
fn a_worker_killed_mid_batch_costs_the_plain_pipeline_its_queued_tasks() {
    let sink = spawn_env(
        "zmq-sink",
        &[
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "3",
            "--timeout-secs",
            "2",
        ],
        &[("RUST_LOG", "info")],
    );
    let sink_addr = sink.listening();
    let pusher = spawn_pusher(&sink_addr, &["--count", "30000", "--workers", "3"]);
    let tasks_addr = pusher.listening();
    let _others = three_workers_one_killed(&pusher, &tasks_addr, &sink_addr);
    let done = sink.finish();
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    let s = done.summary();
    let (received, lost): (u64, u64) = (s["received"].parse().unwrap(), s["lost"].parse().unwrap());
    assert!(lost > 0, "{s:?}");
    assert_eq!(received + lost, 30000);
    let line = done
        .stderr
        .lines()
        .find(|l| l.contains("lost ") && l.contains(" tasks, first: "))
        .expect("the sink names the lost tasks");
    assert!(line.contains(&format!("lost {lost} tasks")), "{line}");
    // The pusher never learns: it handed everything out.
    let p = pusher.finish();
    assert!(p.status.success(), "{}", p.stderr);
}

#[test]
fn the_reliable_mode_hands_out_again_what_a_killed_worker_never_finished() {
    let (sink, pusher, sink_addr, tasks_addr) = start_with("30000", "3", "info", Some("1"));
    let others = three_workers_one_killed(&pusher, &tasks_addr, &sink_addr);
    let done = sink.finish();
    assert!(done.status.success(), "{}", done.stderr);
    done.assert_fields(&[
        ("sent", "30000"),
        ("received", "30000"),
        ("lost", "0"),
        ("duplicates", "0"),
    ]);
    // Per-task detail is for debug level: no info line carries a list of tasks.
    let longest = done.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 300, "an info line of {longest} bytes");
    let p = pusher.finish();
    assert!(p.status.success(), "{}", p.stderr);
    let ps = p.summary();
    p.assert_fields(&[("received", "30000"), ("lost", "0")]);
    let reissued: u64 = ps["reissued"].parse().unwrap();
    assert!(reissued >= 1, "{ps:?}");
    p.assert_logged("reissuing ");
    for w in others {
        let w = w.finish();
        assert!(w.status.success(), "{}", w.stderr);
    }
}
