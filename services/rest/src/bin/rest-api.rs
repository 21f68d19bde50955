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
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert, PEM.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Instead of serving, send GET /health to the listen address and exit 0 on a 200, else 1:
    /// the healthcheck of a container without a shell. With TLS: exit 0 once the port accepts.
    #[arg(long)]
    probe: bool,
}

fn main() -> std::process::ExitCode {
    let args: Args = common::parse_args();
    if args.probe && args.tls_cert.is_some() {
        return common::run(|| common::probe::probe(&args.listen));
    }
    if args.probe {
        return common::run(|| pola_rest::probe::probe(&args.listen));
    }
    common::run_async(async {
        let stop = common::Stop::install()?;
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(common::tls::server_config(cert, key)?),
            _ => None,
        };
        let listener = pola_rest::api::bind(&args.listen).await?;
        pola_rest::api::serve_tls(
            listener,
            args.max_body as usize,
            args.workers as usize,
            tls,
            stop,
        )
        .await
    })
}
