//! REST API: actix-web serving the JSON resource `/items` and `/health` on `--listen`
//! (default 0.0.0.0:8080). `--probe` is the container healthcheck: does GET /health answer 200?

use clap::Parser;

/// JSON REST API (create, list, read, update, delete items) of the pola REST model.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (HOST:PORT; port 0 picks a free one and logs it).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
    listen: String,
    /// Largest accepted request body in bytes; a bigger one is refused with 413.
    #[arg(long, env = "MAX_BODY", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_body: u64,
    /// Worker threads serving requests.
    #[arg(long, env = "WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    workers: u64,
    /// Instead of serving, send GET /health to the listen address and exit 0 on a 200, else 1:
    /// the healthcheck of a container without a shell.
    #[arg(long)]
    probe: bool,
}

fn main() -> std::process::ExitCode {
    let args: Args = common::parse_args();
    if args.probe {
        return common::run(|| pola_rest::probe::probe(&args.listen));
    }
    common::run_async(async {
        let stop = common::Stop::install()?;
        let listener = pola_rest::api::bind(&args.listen).await?;
        pola_rest::api::serve(
            listener,
            args.max_body as usize,
            args.workers as usize,
            stop,
        )
        .await
    })
}
