//! The capture sidecar of pola: one tcpdump per model, run inside the network namespace of the
//! model's hub, that leaves `captures/<model>.pcap` only when the capture is provably complete.
//!
//! Start with [`sidecar::run`] (the whole life of a capture), then [`stats`] (what tcpdump says
//! when it stops, and why it decides whether the pcap is kept), [`privs`] (capturing as the user
//! who owns `captures/`) and [`fault`] (the network faults injected from the same namespace).
//! Each model's ports come from the one table, `common::models`.

pub mod fault;
pub mod privs;
pub mod sidecar;
pub mod stats;
