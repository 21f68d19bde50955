//! The REST model: HTTP/1.1 over TCP, a JSON resource behind actix-web and a reqwest client that
//! walks every verb. Start with [`api`] (routes, the in-memory store, the JSON error table), then
//! [`client`] (the walk and its checks) and [`probe`] (the healthcheck); the binaries in `src/bin`
//! only parse flags and call them.

pub mod api;
pub mod client;
pub mod probe;

/// The model's default port (compose and the docs use it).
pub const PORT: u16 = 8080;

/// Waits for SIGTERM or SIGINT, with the handlers already installed when this returns.
///
/// A signal that arrives before tokio's handler exists kills the process with the default action
/// (no clean exit), so the API calls this before it announces that it listens.
pub async fn install_signals() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let mut signalled = Box::pin(common::shutdown::signalled());
    // Polling once runs the body of `signalled` up to its first await: the handlers are in place.
    tokio::select! {
        biased;
        _ = &mut signalled => {}
        _ = std::future::ready(()) => {}
    }
    signalled
}
