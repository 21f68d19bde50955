//! The echo server: one tokio task per connection, each copying what it reads back to its peer.
//! A stop (SIGTERM in the binary) ends the accept loop and every connection task, each closing its
//! socket, so the process exits promptly even with idle clients connected.

use anyhow::Context;
use common::Stop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Binds the listen address, with an error that names it (port in use, unresolvable host).
pub async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding echo server to {listen}"))
}

/// Serves echo on `listener` until `stop` is requested, then closes every connection.
pub async fn serve(listener: TcpListener, stop: Stop) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.requested() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    log::debug!("connection from {peer}");
                    // Echo each chunk at once: Nagle would hold back the tail of a large message.
                    if let Err(err) = stream.set_nodelay(true) {
                        log::warn!("{peer}: setting TCP_NODELAY: {err}");
                    }
                    tasks.spawn(echo(stream, peer, stop.clone()));
                }
                // Running out of file descriptors must not end the server: the others keep going.
                Err(err) => log::warn!("accept failed: {err}"),
            },
            // Reap finished tasks so a long-running server does not keep their results around.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    let open = tasks.len();
    while tasks.join_next().await.is_some() {}
    log::info!("stopped; closed {open} open connection(s)");
    Ok(())
}

/// Echoes one connection until the peer closes it, an error, or the stop signal.
async fn echo(mut stream: TcpStream, peer: std::net::SocketAddr, stop: Stop) {
    let (mut reader, mut writer) = stream.split();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let outcome: std::io::Result<()> = async {
        loop {
            let n = tokio::select! {
                _ = stop.requested() => return Ok(()),
                read = reader.read(&mut buf) => read?,
            };
            if n == 0 {
                return Ok(());
            }
            // A peer that sends but never reads blocks this write; the stop signal still ends it.
            tokio::select! {
                _ = stop.requested() => return Ok(()),
                written = writer.write_all(&buf[..n]) => written?,
            }
            total += n as u64;
        }
    }
    .await;
    match outcome {
        Ok(()) => log::debug!("{peer}: closed after echoing {total} bytes"),
        // A reset or broken pipe from one peer is that peer's business: log it and move on.
        Err(err) => log::info!("{peer}: connection ended by error after {total} bytes: {err}"),
    }
}
