//! One pass over a capture: every frame decoded down to its TCP segment, every segment handed to
//! the stream [`Tracker`], and the result given to the caller as a [`Packet`]. `pola inspect`,
//! `pola report` and the tests all read captures through [`walk`]; memory stays flat.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;

use serde::Serialize;

use super::link::{self, Flags, Net};
use super::pcap::{self, End};
use super::stream::{Protocol, Tracker};
use super::Message;
use crate::model::Model;

/// One TCP segment as pola understood it.
#[derive(Debug, Clone, Serialize)]
pub struct Tcp<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    #[serde(serialize_with = "flags_text")]
    pub flags: Flags,
    /// TCP payload bytes in this segment.
    pub len: usize,
    pub stream: u64,
    pub from_client: bool,
    /// True if this segment opened the stream (a SYN, or the first segment seen of it).
    #[serde(skip)]
    pub opened: bool,
    pub protocol: Option<Protocol>,
    #[serde(skip)]
    pub model: Option<Model>,
    /// The bytes this segment added to its direction, in order (retransmitted bytes left out,
    /// bytes of earlier segments held ahead of a hole that this one filled put in).
    #[serde(skip)]
    pub data: Cow<'a, [u8]>,
    /// True if the segment repeats bytes sent before (a TCP retransmission).
    #[serde(skip)]
    pub retransmitted: bool,
    pub messages: Vec<Message>,
}

fn flags_text<S: serde::Serializer>(f: &Flags, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(f)
}

/// What a packet held.
#[derive(Debug, Clone)]
pub enum What<'a> {
    Tcp(Tcp<'a>),
    Other(String),
    Malformed(String),
}

/// One packet of a capture.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// 1-based, as in Wireshark.
    pub no: u64,
    /// Seconds since the epoch.
    pub ts: f64,
    pub wire_len: u32,
    pub what: What<'a>,
}

/// How a walk treats TLS: the secrets to decrypt it with.
#[derive(Debug, Clone, Default)]
pub struct Decrypt {
    /// Leave TLS encrypted, even with the secrets embedded in the capture.
    pub off: bool,
    /// A key log's text (SSLKEYLOGFILE format), added to the capture's own secrets.
    pub keylog: Option<String>,
}

/// Reads the capture at `path` (`-`: standard input) packet by packet, decoding every TCP
/// stream and decrypting TLS with the key log the capture embeds; `each` sees every packet in
/// order. Frames are not kept, only open streams' partial messages.
pub fn walk(path: &Path, each: impl FnMut(&Packet) -> anyhow::Result<()>) -> anyhow::Result<End> {
    walk_with(path, &Decrypt::default(), each)
}

/// As [`walk`], with TLS decrypted as `decrypt` says.
pub fn walk_with(
    path: &Path,
    decrypt: &Decrypt,
    mut each: impl FnMut(&Packet) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    let mut tracker = Tracker::new();
    if let (false, Some(text)) = (decrypt.off, &decrypt.keylog) {
        tracker.add_keys(text);
    }
    // The tracker is borrowed by the frame callback; secrets from the file wait here until the
    // next frame takes them (a Decryption Secrets Block comes before the packets it decrypts).
    let embedded = std::cell::RefCell::new(String::new());
    let mut no = 0;
    let secret = |text: &str| {
        if !decrypt.off {
            embedded.borrow_mut().push_str(text);
            embedded.borrow_mut().push('\n');
        }
    };
    pcap::for_each_frame_and_secret(path, secret, |frame| {
        let text = std::mem::take(&mut *embedded.borrow_mut());
        if !text.is_empty() {
            tracker.add_keys(&text);
        }
        no += 1;
        let what = match link::decode(frame.linktype, frame.data) {
            Net::Tcp(seg) => {
                let seen = tracker.segment(frame.ts, &seg);
                let stream = tracker.stream(&seg);
                What::Tcp(Tcp {
                    src: seg.src,
                    dst: seg.dst,
                    flags: seg.flags,
                    len: seg.payload.len(),
                    stream: seen.stream,
                    from_client: seen.from_client,
                    opened: seen.opened,
                    protocol: stream.and_then(|s| s.protocol()),
                    model: stream.and_then(|s| s.model()),
                    data: seen.data,
                    retransmitted: seen.retransmitted,
                    messages: seen.messages,
                })
            }
            Net::Other(text) => What::Other(text),
            Net::Malformed(text) => What::Malformed(text),
        };
        each(&Packet {
            no,
            ts: frame.ts,
            wire_len: frame.wire_len,
            what,
        })
    })
}
