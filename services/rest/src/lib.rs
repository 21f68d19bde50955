//! The REST model: HTTP/1.1 over TCP, a JSON resource behind actix-web and a reqwest client that
//! walks every verb. Start with [`api`] (routes, the in-memory store, the JSON error table), then
//! [`client`] (the walk and its checks) and [`probe`] (the healthcheck); the binaries in `src/bin`
//! only parse flags and call them.

pub mod api;
pub mod client;
pub mod probe;

/// The model's default port (compose and the docs use it).
pub const PORT: u16 = 8080;
