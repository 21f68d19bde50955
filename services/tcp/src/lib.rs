//! The TCP model: point to point, no framing, no broker. The echo server sends back every byte
//! it reads; the client sends `--count` messages of `--size` bytes and checks each reply byte for
//! byte. Start with [`server::serve`], then [`client::run`]; the binaries in `src/bin` only parse
//! flags and call them, so the tests drive the same code in-process.

pub mod client;
pub mod server;

/// The model's default port (compose and the docs use it).
pub const PORT: u16 = 7000;
