//! Decoding captures: frames ([`pcap`]), TCP segments ([`link`]), TCP streams reassembled and
//! recognised by their first bytes ([`stream`]), and the application protocols on them
//! ([`mqtt`], [`http`], [`zmtp`], and the record layer of [`tls`]); [`walk`] runs them over a whole capture in one pass, and
//! [`names`] names its hosts. Every decoder turns bytes into [`Message`]s and never panics: what
//! it cannot read becomes a [`Message::Malformed`], bytes the capture lost a [`Message::Gap`].

pub mod http;
pub mod link;
pub mod mqtt;
pub mod names;
pub mod pcap;
pub mod stream;
pub mod tls;
pub mod tlskeys;
pub mod walk;
pub mod zmtp;

use std::fmt;

use serde::Serialize;

/// One application message, decoded from a TCP stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "proto", rename_all = "lowercase")]
pub enum Message {
    Mqtt(mqtt::Mqtt),
    Http(http::Http),
    Zmtp(zmtp::Zmtp),
    /// A TLS record: its type and size, and the names the handshake still shows in the clear.
    Tls(tls::Tls),
    /// Plain TCP data with no protocol pola knows.
    Raw {
        len: usize,
        preview: String,
    },
    /// Bytes that claim to be `protocol` but do not parse; the stream is shown raw after it.
    Malformed {
        protocol: &'static str,
        reason: String,
    },
    /// Bytes of this direction missing from the capture (a segment the capturer lost). ZMTP and
    /// MQTT resume at the next frame boundary; other protocols show the rest raw.
    Gap {
        protocol: &'static str,
        missing: u32,
        resumes: bool,
    },
}

impl Message {
    /// The application bytes this message carries (payload, body, frames), for overhead figures.
    pub fn payload_len(&self) -> usize {
        match self {
            Message::Mqtt(m) => m.payload_len,
            Message::Http(h) => h.body_len,
            Message::Zmtp(zmtp::Zmtp::Message { size, .. }) => *size,
            Message::Zmtp(_) => 0,
            // Encrypted: what it carries is not known without the keys.
            Message::Tls(_) => 0,
            Message::Raw { len, .. } => *len,
            Message::Malformed { .. } | Message::Gap { .. } => 0,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Mqtt(m) => write!(f, "MQTT {m}"),
            Message::Http(h) => write!(f, "HTTP {h}"),
            Message::Zmtp(z) => write!(f, "ZMTP {z}"),
            Message::Tls(t) => write!(f, "TLS {t}"),
            Message::Raw { len, preview } => write!(f, "TCP data {len} bytes \"{preview}\""),
            Message::Malformed { protocol, reason } => write!(f, "{protocol} malformed: {reason}"),
            Message::Gap {
                protocol,
                missing,
                resumes,
            } => {
                write!(
                    f,
                    "{protocol} gap: {missing} bytes missing from the capture; "
                )?;
                f.write_str(if *resumes {
                    "decoding resumes at the next frame"
                } else {
                    "the rest of this direction is shown raw"
                })
            }
        }
    }
}

/// `bytes` shown as raw TCP data.
pub fn raw(bytes: &[u8]) -> Message {
    Message::Raw {
        len: bytes.len(),
        preview: preview(bytes, PREVIEW),
    }
}

/// A printable preview of `bytes`: at most `max` characters, escapes for the rest, `…` if cut.
pub fn preview(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}

/// Bytes of a message pola keeps for a preview.
pub const PREVIEW: usize = 32;
