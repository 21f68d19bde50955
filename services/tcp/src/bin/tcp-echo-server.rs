//! TCP echo server: binds `--listen` (default 0.0.0.0:7000) and sends back every byte it reads,
//! one task per client. `--probe` is the container healthcheck: is something listening?

use clap::Parser;

/// Byte-exact TCP echo server for the pola TCP model.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (HOST:PORT; port 0 picks a free one and logs it).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:7000")]
    listen: String,
    /// Instead of serving, check that something accepts connections on the listen address and
    /// exit 0 (yes) or 1 (no): the healthcheck of a container without a shell.
    #[arg(long)]
    probe: bool,
}

fn main() -> std::process::ExitCode {
    let args: Args = common::parse_args();
    if args.probe {
        return common::run(|| common::probe::probe(&args.listen));
    }
    common::run_async(async {
        let stop = common::Stop::install()?;
        let listener = pola_tcp::server::bind(&args.listen).await?;
        log::info!("echo server listening on {}", listener.local_addr()?);
        pola_tcp::server::serve(listener, stop).await
    })
}
