//! REQ/REP server (hwserver): binds a REP socket and answers each JSON request, an error reply
//! for a malformed one, until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::reqrep;

/// ZeroMQ REP server: a small JSON RPC (`upper`, `add`); every request gets a reply.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT to bind the REP socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5555")]
    listen: String,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.listen);
        }
        let stop = common::Stop::install()?;
        let ctx = zmq::Context::new();
        let (rep, _) = reqrep::bind(&ctx, &args.listen)?;
        reqrep::serve(&rep, &stop)?;
        Ok(())
    })
}
