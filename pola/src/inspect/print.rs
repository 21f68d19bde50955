//! One packet as a line of text in the spirit of tshark's summary (time, endpoints named where a
//! hosts file names them, TCP flags, the messages completed), or as one JSON object.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;

use serde::Serialize;

use crate::decode::names::Names;
use crate::decode::walk::{Packet, Tcp, What};

/// Writes packets as text lines, keeping the text of each endpoint: a stream's addresses repeat
/// on every line, and formatting them was most of the cost of a line.
pub struct Text<'n> {
    names: &'n Names,
    seen: HashMap<SocketAddr, String>,
}

impl<'n> Text<'n> {
    pub fn new(names: &'n Names) -> Self {
        Text {
            names,
            seen: HashMap::new(),
        }
    }

    /// Writes `p` as one line; `t0` is the time of the capture's first packet.
    pub fn write(&mut self, out: &mut impl Write, p: &Packet, t0: f64) -> std::io::Result<()> {
        // Seconds and microseconds as integers: float formatting was a third of the time per line.
        let micros = ((p.ts - t0).max(0.0) * 1e6).round() as u64;
        write!(
            out,
            "{:>6} {:>3}.{:06}",
            p.no,
            micros / 1_000_000,
            micros % 1_000_000
        )?;
        match &p.what {
            What::Tcp(t) => {
                if self.seen.len() > 100_000 {
                    self.seen.clear();
                }
                for (addr, sep) in [(&t.src, &b" "[..]), (&t.dst, " → ".as_bytes())] {
                    out.write_all(sep)?;
                    let names = self.names;
                    let text = self
                        .seen
                        .entry(*addr)
                        .or_insert_with(|| names.endpoint(addr));
                    out.write_all(text.as_bytes())?;
                }
                write!(out, " {} len={} stream={}", t.flags.text(), t.len, t.stream)?;
                for (i, m) in t.messages.iter().enumerate() {
                    out.write_all(if i == 0 { b"  " } else { b" ; " })?;
                    write!(out, "{m}")?;
                }
            }
            What::Other(text) => write!(out, " {text}")?,
            What::Malformed(text) => write!(out, " malformed frame: {text}")?,
        }
        out.write_all(b"\n")
    }
}

#[serde_with::skip_serializing_none]
#[derive(Serialize)]
struct JsonLine<'a> {
    no: u64,
    time: f64,
    wire_len: u32,
    src_name: Option<&'a str>,
    dst_name: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    tcp: Option<&'a Tcp<'a>>,
    other: Option<&'a str>,
    malformed: Option<&'a str>,
}

/// One packet as a JSON object.
pub fn json(p: &Packet, t0: f64, names: &Names) -> String {
    let (tcp, other, malformed) = match &p.what {
        What::Tcp(t) => (Some(t), None, None),
        What::Other(s) => (None, Some(s.as_str()), None),
        What::Malformed(s) => (None, None, Some(s.as_str())),
    };
    let line = JsonLine {
        no: p.no,
        time: p.ts - t0,
        wire_len: p.wire_len,
        src_name: tcp.and_then(|t| names.name(&t.src.ip())),
        dst_name: tcp.and_then(|t| names.name(&t.dst.ip())),
        tcp,
        other,
        malformed,
    };
    serde_json::to_string(&line).unwrap_or_default()
}
