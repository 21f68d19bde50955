//! REQ/REP client (hwclient): sends requests one at a time, checks that reply i answers request i,
//! and reports a reply that never came as lost instead of hanging; with `--retries` it is the
//! guide's Lazy Pirate and resends on a fresh socket.

use pola_zmq::reqrep::{self, ClientConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: ClientConfig, stop| reqrep::run_client(&cfg, &stop)?.finish())
}
