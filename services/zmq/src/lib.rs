//! ZeroMQ's three classic patterns as pola services, one module per pattern: [`reqrep`] (a small
//! JSON RPC with strict request-reply alternation), [`pushpull`] (ventilator, workers and sink
//! proving fair turns) and [`pubsub`] (topic-tagged updates with exact subscriber readiness).
//!
//! Start with [`net`]: addresses, the socket monitor that tells when a peer really arrived, and
//! the receive loop that notices SIGTERM. The binaries in `src/bin/` only parse flags.

pub mod curve;
pub mod json;
pub mod net;
pub mod pubsub;
pub mod pushpull;
pub mod reqrep;

/// What a run ends with: the summary line, and why the run was not complete and correct (the
/// binary prints the summary, then exits 1 with that reason).
pub use common::Outcome;
