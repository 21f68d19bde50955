//! REQ/REP server (hwserver): binds a REP socket and answers each JSON request, an error reply
//! for a malformed one, until SIGTERM.

use pola_zmq::reqrep::{self, ServerConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: ServerConfig, stop| reqrep::run_server(&cfg, &stop))
}
