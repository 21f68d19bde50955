//! `pola certs`: the lab CA and the server certificates of the TLS variants, made offline with
//! rcgen on first use (the capture script runs it before `docker compose up`), and the CURVE key
//! pairs of the ZeroMQ variants (`curve/`, made by libzmq). The CA's key is never written, so
//! nothing else can be signed by it; delete the folder to start afresh.

use std::path::PathBuf;

/// Where the certificates go, and whether to replace them.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder for ca.pem, each server's .pem and .key, and curve/ with the CURVE key pairs
    /// (mounted read-only into compose).
    #[arg(long, default_value = "certs")]
    pub dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let written = common::tls::generate(&args.dir)?;
    let names: Vec<String> = common::tls::SERVERS
        .iter()
        .map(|(name, sans)| format!("{name} ({})", sans.join(", ")))
        .collect();
    println!(
        "{}: {} in {}",
        if written { "made" } else { "kept" },
        names.join("; "),
        args.dir.display()
    );
    let curve = args.dir.join("curve");
    let written = pola_zmq::curve::generate(&curve)?;
    println!(
        "{}: CURVE key pairs {} in {}",
        if written { "made" } else { "kept" },
        pola_zmq::curve::PAIRS.join(", "),
        curve.display()
    );
    Ok(())
}
