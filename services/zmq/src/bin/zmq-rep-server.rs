//! REQ/REP server (hwserver): binds a REP socket and answers each JSON request, an error reply
//! for a malformed one, until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::reqrep;

/// ZeroMQ REP server: a small JSON RPC (`upper`, `add`); every request gets a reply.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    server: reqrep::ServerConfig,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.server.listen);
        }
        reqrep::run_server(&args.server, &common::Stop::install()?)
    })
}
