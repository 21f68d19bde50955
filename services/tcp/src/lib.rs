//! The TCP model: point to point, no framing, no broker. The echo server sends back every byte
//! it reads; the client sends `--count` messages of `--size` bytes and checks each reply byte for
//! byte. Start with [`server::serve`], then [`client::run`]; the binaries in `src/bin` only parse
//! flags and call them, so the tests drive the same code in-process.

pub mod client;
pub mod server;

/// The model's default port (compose and the docs use it).
pub const PORT: u16 = 7000;

/// Waits for SIGTERM or SIGINT, with the handlers already installed when this returns.
///
/// A signal that arrives before tokio's handler exists kills the process with the default action
/// (no clean exit), so servers call this before they announce that they listen.
pub async fn install_signals() -> impl std::future::Future<Output = ()> {
    let mut signalled = Box::pin(common::shutdown::signalled());
    // Polling once runs the body of `signalled` up to its first await: the handlers are in place.
    tokio::select! {
        biased;
        _ = &mut signalled => {}
        _ = std::future::ready(()) => {}
    }
    signalled
}
