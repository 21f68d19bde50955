//! The healthcheck of a `FROM scratch` image, which has no shell or curl: the service binary run
//! as `<binary> --probe` connects to its own listening port and exits 0 if something accepts.
//! A client that must be ready before others start (an MQTT subscriber whose SUBACK arrived)
//! writes a ready file instead, and its `--probe` checks that the file exists.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;

/// Splits `HOST:PORT` (the host may be a bracketed IPv6 address) without resolving the host,
/// for clients that resolve it at each attempt.
pub fn host_port(hostport: &str) -> anyhow::Result<(&str, u16)> {
    let (host, port) = hostport
        .rsplit_once(':')
        .with_context(|| format!("{hostport}: expected HOST:PORT"))?;
    let port = port
        .parse()
        .with_context(|| format!("{hostport}: bad port '{port}'"))?;
    Ok((host.trim_matches(['[', ']']), port))
}

/// Resolves `HOST:PORT` to its first socket address.
pub fn resolve(hostport: &str) -> anyhow::Result<SocketAddr> {
    hostport
        .to_socket_addrs()
        .with_context(|| format!("resolving {hostport}"))?
        .next()
        .with_context(|| format!("{hostport} resolves to no address"))
}

/// The address to probe for a listen address: a wildcard host becomes loopback.
pub fn local_target(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut addr = resolve(listen)?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(addr)
}

/// Connects to the service listening on `listen`; Ok if the connection was accepted.
pub fn probe(listen: &str) -> anyhow::Result<()> {
    let target = local_target(listen)?;
    TcpStream::connect_timeout(&target, Duration::from_secs(2))
        .with_context(|| format!("nothing accepts connections on {target}"))?;
    Ok(())
}

/// Marks a client ready by creating `path` (and its parent folder); `None` does nothing.
pub fn mark_ready(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, b"ready\n")
        .with_context(|| format!("writing ready file {}", path.display()))?;
    log::info!("ready: wrote {}", path.display());
    Ok(())
}

/// The probe of a client with a ready file: Ok once [`mark_ready`] has written it.
pub fn probe_ready(path: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        path.exists(),
        "not ready yet: {} does not exist",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_becomes_loopback_and_probe_sees_a_listener() {
        assert_eq!(
            local_target("0.0.0.0:1883").unwrap().to_string(),
            "127.0.0.1:1883"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        probe(&addr).unwrap();
        drop(listener);
        assert!(probe(&addr).is_err());
    }

    #[test]
    fn ready_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("pola-ready-{}", std::process::id()));
        let file = dir.join("sub/ready");
        assert!(probe_ready(&file).is_err());
        mark_ready(Some(&file)).unwrap();
        probe_ready(&file).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
