//! The library behind the `pola` command: decoding captures, reporting on them, benchmarking.
//!
//! Start at [`inspect`] (one capture, packet by packet); [`report`] builds on it to summarise
//! every capture; [`bench`] measures the models themselves.

pub mod bench;
pub mod decode;
pub mod inspect;
pub mod report;
