//! PUSH/PULL on loopback: three workers share 300 tasks in fair turns (exactly 100 each, every
//! third task), counted by the sink; a pyzmq PULL worker takes its turn like ours.

mod support;

use support::{python, python_done, spawn, Proc};

/// A sink and a pusher for `count` tasks and `workers` workers; returns them and their addresses.
fn start(count: &str, workers: &str) -> (Proc, Proc, String, String) {
    let sink = spawn(
        "zmq-sink",
        &["--listen", "127.0.0.1:0", "--workers", workers],
    );
    let sink_addr = sink.listening();
    let pusher = spawn(
        "zmq-pusher",
        &[
            "--listen",
            "127.0.0.1:0",
            "--sink",
            &sink_addr,
            "--count",
            count,
            "--workers",
            workers,
        ],
    );
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
    let needle = format!("worker {worker}: ");
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
    assert_eq!(
        (
            s["fair"].as_str(),
            s["lost"].as_str(),
            s["received"].as_str()
        ),
        ("true", "0", "300")
    );
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
