//! REST API: actix-web serving the JSON resource `/items` and `/health` on `--listen`
//! (default 0.0.0.0:8080). `--probe` is the container healthcheck: does GET /health answer 200?

use clap::Parser;

/// JSON REST API (create, list, read, update, delete items) of the pola REST model.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    cfg: pola_rest::api::Config,
    /// Instead of serving, send GET /health to the listen address and exit 0 on a 200, else 1:
    /// the healthcheck of a container without a shell. With TLS: exit 0 once the port accepts.
    #[arg(long)]
    probe: bool,
}

fn main() -> std::process::ExitCode {
    let Args { cfg, probe } = common::parse_args();
    if probe && cfg.tls_cert.is_some() {
        return common::run(|| common::probe::probe(&cfg.listen));
    }
    if probe {
        return common::run(|| pola_rest::probe::probe(&cfg.listen));
    }
    common::run_async(async { pola_rest::api::run(&cfg, common::Stop::install()?).await })
}
