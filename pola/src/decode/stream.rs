//! TCP streams: numbered in order of appearance (as Wireshark's `tcp.stream`), reassembled per
//! direction by sequence number, and recognised by their first bytes: ZMTP by its greeting, MQTT
//! by its CONNECT, HTTP by a method or status line, TLS by a handshake record; pola's ports (the
//! table of models, `common::models`: 1883, 8080, 5555-5558, 8883 and 8443 for TLS...) only
//! decide for streams that begin mid-capture, so garbage there shows up as "malformed".

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::link::Segment;
use super::tlskeys::KeyLog;
use super::{http, mqtt, preview, tls, zmtp, Message, PREVIEW};
use crate::model::Model;

/// The application protocol of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Mqtt,
    Http,
    Zmtp,
    Tls,
    Raw,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Mqtt => "MQTT",
            Protocol::Http => "HTTP",
            Protocol::Zmtp => "ZMTP",
            Protocol::Tls => "TLS",
            Protocol::Raw => "TCP",
        }
    }
}

enum Decoder {
    Undecided,
    Mqtt(mqtt::Decoder),
    Http(http::Decoder),
    Zmtp(zmtp::Decoder),
    /// The record layer, and the decoder of what decrypting it with a key log gives.
    Tls(tls::Decoder, Box<Inner>),
    Raw,
}

/// The protocol inside a decrypted TLS stream, recognised by its first bytes like a plain one.
struct Inner {
    decoder: Decoder,
    pending: [Vec<u8>; 2],
}

/// One direction's reassembly: the next sequence number expected, and the segments that came
/// ahead of a hole (a segment lost before the capture point, retransmitted later), held until
/// the retransmission fills it.
#[derive(Default)]
struct Reasm {
    next: Option<u32>,
    /// One past the highest byte seen: a segment that starts below it is a retransmission.
    high: u32,
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    /// The highest acknowledgement the peer sent for this direction.
    acked: Option<u32>,
}

/// Bytes held ahead of a hole before pola stops waiting for its retransmission and reports the
/// hole as missing from the capture.
const HOLD: usize = 4 << 20;

/// What a segment added to its direction: runs of in-order bytes, each after the number of bytes
/// missing before it (0 for none), and whether the segment repeated bytes seen before.
struct Accepted<'a> {
    runs: Vec<(u32, Cow<'a, [u8]>)>,
    retransmitted: bool,
}

impl Reasm {
    fn accept<'a>(&mut self, seg: &Segment<'a>) -> Accepted<'a> {
        let len = seg.payload.len() as u32;
        let fin = seg.flags.fin as u32;
        let retransmitted =
            len > 0 && self.next.is_some() && (seg.seq.wrapping_sub(self.high) as i32) < 0;
        let end = seg.seq.wrapping_add(len);
        if self.next.is_none() || (end.wrapping_sub(self.high) as i32) > 0 {
            self.high = end;
        }
        let mut runs = Vec::new();
        match self.next {
            // The first bytes of the direction seen (after a SYN, the sequence starts one later).
            None => {
                let syn = seg.flags.syn as u32;
                self.next = Some(seg.seq.wrapping_add(syn + len + fin));
                runs.push((0, Cow::Borrowed(seg.payload)));
            }
            Some(next) => {
                let ahead = seg.seq.wrapping_sub(next) as i32;
                if ahead > 0 {
                    if len > 0 {
                        self.held.push((seg.seq, seg.payload.to_vec()));
                        self.held_bytes += seg.payload.len();
                    }
                } else {
                    // In order, or a retransmission perhaps carrying new bytes after old ones.
                    let old = ahead.unsigned_abs();
                    if old < len || (old == 0 && fin == 1) {
                        self.next = Some(end.wrapping_add(fin));
                        runs.push((0, Cow::Borrowed(&seg.payload[old as usize..])));
                    }
                }
            }
        }
        self.release(&mut runs);
        // A hole is never going to be filled once the peer has acknowledged bytes past it (it got
        // them: only the capture missed them), once the connection is reset, or past the limit.
        // Otherwise the link lost them and their retransmission is still to come.
        while !self.held.is_empty()
            && (self.held_bytes > HOLD || seg.flags.rst || self.acked_past_hole())
        {
            let next = self.next.unwrap_or_default();
            let first = self
                .held
                .iter()
                .map(|(seq, _)| seq.wrapping_sub(next))
                .min();
            let missing = first.unwrap_or_default();
            self.next = Some(next.wrapping_add(missing));
            runs.push((missing, Cow::Borrowed(&[])));
            self.release(&mut runs);
        }
        Accepted {
            runs,
            retransmitted,
        }
    }

    /// True if the peer acknowledged bytes beyond the next one expected here.
    fn acked_past_hole(&self) -> bool {
        match (self.acked, self.next) {
            (Some(acked), Some(next)) => (acked.wrapping_sub(next) as i32) > 0,
            _ => false,
        }
    }

    /// An acknowledgement from the peer for this direction.
    fn ack(&mut self, ack: u32) {
        if self.acked.is_none_or(|a| (ack.wrapping_sub(a) as i32) > 0) {
            self.acked = Some(ack);
        }
    }

    /// Appends to the last run every held segment that now follows on, in order.
    fn release<'a>(&mut self, runs: &mut Vec<(u32, Cow<'a, [u8]>)>) {
        let Some(mut next) = self.next else { return };
        while let Some(i) = self
            .held
            .iter()
            .position(|(seq, _)| (seq.wrapping_sub(next) as i32) <= 0)
        {
            let (seq, bytes) = self.held.swap_remove(i);
            self.held_bytes -= bytes.len();
            let old = next.wrapping_sub(seq) as usize;
            if old < bytes.len() {
                if runs.is_empty() {
                    runs.push((0, Cow::Borrowed(&[])));
                }
                let run = &mut runs.last_mut().expect("pushed above").1;
                run.to_mut().extend_from_slice(&bytes[old..]);
                next = seq.wrapping_add(bytes.len() as u32);
            }
        }
        self.next = Some(next);
    }
}

/// One TCP connection.
pub struct Stream {
    pub id: u64,
    /// The side that sent the SYN (or, without one, the side not on the server port).
    pub client: SocketAddr,
    pub server: SocketAddr,
    reasm: [Reasm; 2],
    decoder: Decoder,
    pending: [Vec<u8>; 2],
    fin: [bool; 2],
    pub closed: bool,
    last_ts: f64,
}

impl Stream {
    pub fn protocol(&self) -> Option<Protocol> {
        match self.decoder {
            Decoder::Undecided => None,
            Decoder::Mqtt(_) => Some(Protocol::Mqtt),
            Decoder::Http(_) => Some(Protocol::Http),
            Decoder::Zmtp(_) => Some(Protocol::Zmtp),
            Decoder::Tls(..) => Some(Protocol::Tls),
            Decoder::Raw => Some(Protocol::Raw),
        }
    }

    /// The ZeroMQ socket types of client and server, once their READY commands have been seen.
    pub fn socket_types(&self) -> [Option<&str>; 2] {
        match &self.decoder {
            Decoder::Zmtp(z) => z.socket_types(),
            _ => [None, None],
        }
    }

    /// pola's model this stream belongs to, once known.
    pub fn model(&self) -> Option<Model> {
        match self.protocol()? {
            Protocol::Mqtt => Some(Model::Mqtt),
            Protocol::Http => Some(Model::Rest),
            Protocol::Raw => Some(Model::Tcp),
            // An encrypted twin, told by its port: the model it repeats.
            Protocol::Tls => {
                let row = common::models::by_port(self.server.port())?;
                Model::from_name(row.twin_of.unwrap_or(row.name))
            }
            Protocol::Zmtp => {
                let [a, b] = self.socket_types();
                let Some(socket_type) = a.or(b) else {
                    // CURVE encrypts READY and its socket type: an encrypted twin, by its port.
                    let row = common::models::by_port(self.server.port())?;
                    return Model::from_name(row.twin_of?);
                };
                match socket_type {
                    "REQ" | "REP" | "DEALER" | "ROUTER" => Some(Model::Reqrep),
                    "PUSH" | "PULL" => Some(Model::Pushpull),
                    "PUB" | "SUB" | "XPUB" | "XSUB" => Some(Model::Pubsub),
                    _ => None,
                }
            }
        }
    }
}

/// What one segment meant.
pub struct Seen<'a> {
    pub stream: u64,
    /// True if the segment went from client to server.
    pub from_client: bool,
    /// True if this segment opened a new stream.
    pub opened: bool,
    /// The bytes this segment added to its direction, in order: its own new bytes, and those of
    /// segments held ahead of a hole that it filled.
    pub data: Cow<'a, [u8]>,
    /// True if the segment started below the highest byte seen: it was sent before.
    pub retransmitted: bool,
    pub messages: Vec<Message>,
}

/// Ports whose streams are decoded by port when their first bytes do not say (a capture that
/// starts mid-connection, or garbage sent to a pola service).
pub fn protocol_by_port(port: u16) -> Option<Protocol> {
    match port {
        80 => return Some(Protocol::Http),
        443 => return Some(Protocol::Tls),
        _ => {}
    }
    match common::models::by_port(port)?.protocol {
        "mqtt" => Some(Protocol::Mqtt),
        "http" => Some(Protocol::Http),
        "zmtp" => Some(Protocol::Zmtp),
        "tls" => Some(Protocol::Tls),
        // Plain TCP has no first bytes to tell it by; it stays raw wherever it starts.
        _ => None,
    }
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// All streams of a capture.
#[derive(Default)]
pub struct Tracker {
    streams: HashMap<(SocketAddr, SocketAddr), Stream>,
    next_id: u64,
    segments: u64,
    /// TLS secrets: streams whose connection they cover are decrypted.
    keys: KeyLog,
}

/// Bytes of undecided data pola waits for before falling back on ports.
const SNIFF: usize = 16;

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds TLS secrets (a key log's text) for the streams read from here on; returns how many.
    pub fn add_keys(&mut self, text: &str) -> usize {
        self.keys.add(text)
    }

    /// The stream a segment belongs to (after [`Tracker::segment`] has seen it).
    pub fn stream(&self, seg: &Segment) -> Option<&Stream> {
        self.streams.get(&key(seg.src, seg.dst))
    }

    /// Accounts for one segment captured at `ts`: reassembles its payload and decodes what completes.
    pub fn segment<'a>(&mut self, ts: f64, seg: &Segment<'a>) -> Seen<'a> {
        self.segments += 1;
        if self.segments.is_multiple_of(65536) {
            // Closed streams linger a while for their last ACKs, then go: memory stays flat.
            self.streams
                .retain(|_, s| !s.closed || ts - s.last_ts < 30.0);
        }
        let k = key(seg.src, seg.dst);
        let fresh_syn = seg.flags.syn && !seg.flags.ack;
        let reuse = fresh_syn
            && self
                .streams
                .get(&k)
                .is_some_and(|s| s.closed || s.client != seg.src);
        let opened = reuse || !self.streams.contains_key(&k);
        if opened {
            let s = self.open(seg, ts);
            self.streams.insert(k, s);
        }
        let s = self.streams.get_mut(&k).expect("inserted above");
        s.last_ts = ts;
        let dir = usize::from(seg.src != s.client);
        let mut messages = Vec::new();
        if seg.flags.ack {
            s.reasm[1 - dir].ack(seg.ack);
        }
        let accepted = s.reasm[dir].accept(seg);
        for (missing, run) in &accepted.runs {
            if *missing > 0 {
                messages.push(s.gap(dir, *missing));
            }
            feed(s, dir, run, &self.keys, &mut messages);
        }
        s.end(seg, dir, &self.keys, &mut messages);
        let mut runs = accepted.runs.into_iter().map(|(_, run)| run);
        let first = runs.next().unwrap_or_default();
        let data = runs.fold(first, |mut all, run| {
            all.to_mut().extend_from_slice(&run);
            all
        });
        Seen {
            stream: s.id,
            from_client: dir == 0,
            opened,
            data,
            retransmitted: accepted.retransmitted,
            messages,
        }
    }

    /// A new stream for the segment `seg`, its client told by the SYN, else by the ports.
    fn open(&mut self, seg: &Segment, ts: f64) -> Stream {
        let (client, server) = if seg.flags.syn {
            if seg.flags.ack {
                (seg.dst, seg.src)
            } else {
                (seg.src, seg.dst)
            }
        } else if protocol_by_port(seg.src.port()).is_some() || seg.src.port() < seg.dst.port() {
            (seg.dst, seg.src)
        } else {
            (seg.src, seg.dst)
        };
        self.next_id += 1;
        Stream {
            id: self.next_id - 1,
            client,
            server,
            reasm: Default::default(),
            decoder: Decoder::Undecided,
            pending: Default::default(),
            fin: [false; 2],
            closed: false,
            last_ts: ts,
        }
    }
}

impl Stream {
    /// `missing` bytes of direction `dir` are not in the capture: ZMTP and MQTT look for the next
    /// frame boundary; HTTP bodies and raw bytes have none to find, so the rest is shown raw.
    fn gap(&mut self, dir: usize, missing: u32) -> Message {
        let protocol = self.protocol().map_or("TCP", Protocol::name);
        match &mut self.decoder {
            Decoder::Zmtp(z) => z.gap(dir),
            Decoder::Mqtt(m) => m.gap(dir),
            _ => self.decoder = Decoder::Raw,
        }
        Message::Gap {
            protocol,
            missing,
            resumes: matches!(self.decoder, Decoder::Zmtp(_) | Decoder::Mqtt(_)),
        }
    }

    /// A FIN or RST: what the stream held back is decoded, an HTTP body read until the close ends.
    fn end(&mut self, seg: &Segment, dir: usize, keys: &KeyLog, messages: &mut Vec<Message>) {
        if (seg.flags.fin || seg.flags.rst) && matches!(self.decoder, Decoder::Undecided) {
            // The connection ends before its first bytes could be told apart: decide by port.
            self.decoder = by_port(self.server.port());
            for (d, bytes) in std::mem::take(&mut self.pending).iter().enumerate() {
                if !bytes.is_empty() {
                    decode(&mut self.decoder, d, bytes, keys, messages);
                }
            }
        }
        if seg.flags.fin {
            self.fin[dir] = true;
            close(&mut self.decoder, dir, messages);
        }
        if seg.flags.rst || (self.fin[0] && self.fin[1]) {
            if !self.closed {
                close(&mut self.decoder, 1 - dir, messages);
            }
            self.closed = true;
        }
    }
}

/// A direction closed: an HTTP body read until the close ends, plain or inside TLS.
fn close(decoder: &mut Decoder, dir: usize, out: &mut Vec<Message>) {
    match decoder {
        Decoder::Http(h) => h.close(dir, out),
        Decoder::Tls(_, inner) => close(&mut inner.decoder, dir, out),
        _ => {}
    }
}

/// Hands in-order bytes to the stream's decoder, choosing it first if still undecided.
fn feed(s: &mut Stream, dir: usize, data: &[u8], keys: &KeyLog, out: &mut Vec<Message>) {
    let port = s.server.port();
    feed_decoder(&mut s.decoder, &mut s.pending, port, dir, data, keys, out);
}

/// Hands bytes to `decoder`, recognising the protocol from `pending` first bytes while undecided
/// (`port`, 0 for none, decides when they do not).
fn feed_decoder(
    decoder: &mut Decoder,
    pending: &mut [Vec<u8>; 2],
    port: u16,
    dir: usize,
    data: &[u8],
    keys: &KeyLog,
    out: &mut Vec<Message>,
) {
    if data.is_empty() {
        return;
    }
    if let Decoder::Undecided = decoder {
        pending[dir].extend_from_slice(data);
        let Some(chosen) = recognise(&pending[dir], port) else {
            return;
        };
        *decoder = chosen;
        for (d, bytes) in std::mem::take(pending).iter().enumerate() {
            if !bytes.is_empty() {
                decode(decoder, d, bytes, keys, out);
            }
        }
        return;
    }
    decode(decoder, dir, data, keys, out);
}

fn decode(decoder: &mut Decoder, dir: usize, data: &[u8], keys: &KeyLog, out: &mut Vec<Message>) {
    match decoder {
        Decoder::Mqtt(m) => m.feed(dir, data, out),
        Decoder::Http(h) => h.feed(dir, data, out),
        Decoder::Zmtp(z) => z.feed(dir, data, out),
        Decoder::Tls(t, inner) => {
            let mut plain = Vec::new();
            t.feed_keys(dir, data, keys, out, &mut plain);
            let Inner { decoder, pending } = &mut **inner;
            feed_decoder(decoder, pending, 0, dir, &plain, keys, out);
        }
        Decoder::Raw | Decoder::Undecided => out.push(Message::Raw {
            len: data.len(),
            preview: preview(data, PREVIEW),
        }),
    }
}

/// Chooses a decoder from a direction's first bytes; None to wait for more.
fn recognise(first: &[u8], server_port: u16) -> Option<Decoder> {
    let votes = [
        (zmtp::looks_like_greeting(first), Protocol::Zmtp),
        (mqtt::looks_like_connect(first), Protocol::Mqtt),
        (http::looks_like_http(first), Protocol::Http),
        (tls::looks_like_record(first), Protocol::Tls),
    ];
    let chosen = match votes.iter().find(|(v, _)| *v == Some(true)) {
        Some((_, p)) => *p,
        None if votes.iter().any(|(v, _)| v.is_none()) && first.len() < SNIFF => return None,
        None => protocol_by_port(server_port).unwrap_or(Protocol::Raw),
    };
    Some(decoder_for(chosen))
}

fn by_port(port: u16) -> Decoder {
    decoder_for(protocol_by_port(port).unwrap_or(Protocol::Raw))
}

fn decoder_for(p: Protocol) -> Decoder {
    match p {
        Protocol::Zmtp => Decoder::Zmtp(zmtp::Decoder::default()),
        Protocol::Mqtt => Decoder::Mqtt(mqtt::Decoder::default()),
        Protocol::Http => Decoder::Http(http::Decoder::default()),
        Protocol::Tls => Decoder::Tls(
            tls::Decoder::default(),
            Box::new(Inner {
                decoder: Decoder::Undecided,
                pending: Default::default(),
            }),
        ),
        Protocol::Raw => Decoder::Raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::link::Flags;

    /// A data segment of the client at 10.0.0.1:40000 to the server on 5557 (ZMTP's port).
    fn seg(seq: u32, payload: &[u8], syn: bool) -> Segment<'_> {
        Segment {
            src: "10.0.0.1:40000".parse().unwrap(),
            dst: "10.0.0.2:5557".parse().unwrap(),
            seq,
            ack: 0,
            flags: Flags {
                syn,
                ack: !syn,
                psh: !payload.is_empty(),
                ..Flags::default()
            },
            payload,
        }
    }

    /// A segment that comes after a later one (a retransmission of what the link dropped) is put
    /// back in its place: the bytes are decoded in order, with no gap, and it counts as resent.
    #[test]
    fn a_segment_retransmitted_after_a_later_one_fills_its_hole() {
        let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
        greeting.extend_from_slice(b"NULL");
        greeting.resize(64, 0);
        let frames: Vec<u8> = [b"one".as_slice(), b"two", b"six"]
            .iter()
            .flat_map(|m| [&[0u8, m.len() as u8][..], m].concat())
            .collect();
        let mut t = Tracker::new();
        t.segment(0.0, &seg(99, &[], true));
        let first = t.segment(0.1, &seg(100, &greeting, false));
        assert_eq!(first.data.len(), 64);
        // The frame "one" is lost on the link; "two" and "six" arrive first and are held.
        let held = t.segment(0.2, &seg(164 + 5, &frames[5..], false));
        assert!(held.data.is_empty() && held.messages.is_empty() && !held.retransmitted);
        let filled = t.segment(0.3, &seg(164, &frames[..5], false));
        assert!(filled.retransmitted);
        assert_eq!(&*filled.data, &frames[..]);
        let texts: Vec<String> = filled
            .messages
            .iter()
            .map(|m| match m {
                Message::Zmtp(z) => z.text(),
                other => panic!("not a ZMTP message: {other:?}"),
            })
            .collect();
        assert_eq!(texts, ["one", "two", "six"]);
    }

    /// A hole never filled before the connection is reset is reported as missing bytes, and the
    /// held bytes after it are still decoded.
    #[test]
    fn a_hole_left_at_a_reset_is_a_gap_and_what_follows_is_kept() {
        let mut t = Tracker::new();
        t.segment(0.0, &seg(99, &[], true));
        t.segment(0.1, &seg(100, b"abc", false));
        t.segment(0.2, &seg(110, b"xyz", false));
        let mut rst = seg(113, &[], false);
        rst.flags.rst = true;
        let end = t.segment(0.3, &rst);
        assert_eq!(&*end.data, b"xyz");
        assert!(
            matches!(end.messages.first(), Some(Message::Gap { missing: 7, .. })),
            "{:?}",
            end.messages
        );
    }
}
