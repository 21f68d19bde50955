//! The API's healthcheck for a `FROM scratch` image (no shell, no curl): `rest-api --probe` sends
//! `GET /health` over a plain TCP connection and succeeds only on a 200, which proves more than
//! an accepted connection (the workers answer, not just the kernel's listen queue).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;

/// GETs `/health` from the API listening on `listen` (a wildcard host means loopback).
pub fn probe(listen: &str) -> anyhow::Result<()> {
    let target = common::probe::local_target(listen)?;
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))
        .with_context(|| format!("nothing accepts connections on {target}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .context("setting a read timeout")?;
    stream
        .write_all(
            format!("GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .with_context(|| format!("sending GET /health to {target}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer to GET /health from {target}"))?;
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    anyhow::ensure!(
        status_line.starts_with("HTTP/1.1 200"),
        "GET /health on {target} answered {status_line:?}"
    );
    Ok(())
}
