//! Publisher (wuserver): binds XPUB, waits until the expected subscriptions have arrived, then
//! publishes topic-tagged messages and one end marker per topic.

use pola_zmq::pubsub::{self, PublisherConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: PublisherConfig, stop| pubsub::run_publisher(&cfg, &stop)?.finish())
}
