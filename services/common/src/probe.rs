//! The healthcheck of a `FROM scratch` image, which has no shell or curl: the service binary run
//! as `<binary> --probe` connects to its own listening port and exits 0 if something accepts.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;

/// The address to probe for a listen address: a wildcard host becomes loopback.
pub fn local_target(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut addr = listen
        .to_socket_addrs()
        .with_context(|| format!("resolving {listen}"))?
        .next()
        .with_context(|| format!("{listen} resolves to no address"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_becomes_loopback_and_probe_sees_a_listener() {
        assert_eq!(local_target("0.0.0.0:1883").unwrap().to_string(), "127.0.0.1:1883");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        probe(&addr).unwrap();
        drop(listener);
        assert!(probe(&addr).is_err());
    }
}
