//! The library behind the `pola` command: decoding captures, reporting on them, benchmarking.
//!
//! Start at [`decode`] (frames to messages, and [`decode::walk`], one pass over a capture);
//! [`inspect`] lists a capture packet by packet; [`report`] summarises every capture and proves
//! each model's behaviour from its packets; [`bench`](mod@bench) measures the models themselves.
//! [`certs`] makes the lab CA of the TLS variants; [`html`] writes the HTML and SVG of both the
//! report and the bench.

pub mod bench;
pub mod certs;
pub mod decode;
pub mod html;
pub mod inspect;
pub mod model;
pub mod report;
