//! Subscriber (wuclient): subscribes to its topics and receives until each topic's end marker;
//! every message of its topics must arrive, and none of another (with `--expect-loss`, what did not
//! arrive must be counted exactly: `missed=` and `before_join=`).

use pola_zmq::pubsub::{self, SubscriberConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: SubscriberConfig, stop| pubsub::run_subscriber(&cfg, &stop)?.finish())
}
