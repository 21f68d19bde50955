//! Two observers of the packet walk: [`Traffic`] counts packets, bytes, messages by kind and
//! round trips; [`Handshakes`] measures what opening each connection cost, first in TCP (SYN,
//! SYN-ACK, ACK), then in the protocol (MQTT CONNECT..CONNACK, ZMTP greetings..both READYs).

use std::collections::{BTreeMap, HashMap};

use crate::decode::walk::{Packet, Tcp, What};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

/// Packets, bytes and messages of a capture.
#[derive(Debug, Default)]
pub struct Traffic {
    pub packets: u64,
    pub wire_bytes: u64,
    pub connections: u64,
    pub payload_bytes: u64,
    pub app_messages: u64,
    pub round_trips: u64,
    pub first: Option<f64>,
    pub last: f64,
    pub malformed: u64,
    pub gaps: u64,
    pub kinds: BTreeMap<String, u64>,
    /// Per stream: whether its last data went client to server.
    last_from_client: HashMap<u64, bool>,
}

/// The kind of a message as the report counts it.
pub fn kind_of(m: &Message) -> String {
    match m {
        Message::Mqtt(m) => format!("MQTT {}", m.kind),
        Message::Http(h) => match (&h.method, h.status) {
            (Some(method), _) => format!("HTTP {method}"),
            (_, Some(s)) => format!("HTTP {s}"),
            _ => "HTTP".into(),
        },
        Message::Zmtp(Zmtp::Greeting { .. }) => "ZMTP greeting".into(),
        Message::Zmtp(Zmtp::Command { name, .. }) => format!("ZMTP {name}"),
        Message::Zmtp(Zmtp::Message { .. }) => "ZMTP message".into(),
        Message::Raw { .. } => "TCP data".into(),
        Message::Tls(t) => format!("TLS {}", t.kind()),
        Message::Malformed { protocol, .. } => format!("{protocol} malformed"),
        Message::Gap { protocol, .. } => format!("{protocol} gap"),
    }
}

/// True for the messages that carry the application's data (not handshakes or control).
fn is_data(m: &Message) -> bool {
    matches!(m, Message::Mqtt(q) if q.kind == "PUBLISH")
        || matches!(
            m,
            Message::Http(_) | Message::Raw { .. } | Message::Zmtp(Zmtp::Message { .. })
        )
}

impl Traffic {
    /// Each kind of message with its count, `kind: N · kind: N`.
    pub fn kinds_line(&self) -> String {
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        kinds.join(" · ")
    }

    pub fn packet(&mut self, p: &Packet) {
        self.packets += 1;
        self.wire_bytes += p.wire_len as u64;
        self.first.get_or_insert(p.ts);
        self.last = p.ts;
        let What::Tcp(t) = &p.what else { return };
        if t.flags.syn && !t.flags.ack {
            self.connections += 1;
        }
        if t.len > 0 {
            let before = self.last_from_client.insert(t.stream, t.from_client);
            if before == Some(true) && !t.from_client {
                self.round_trips += 1;
            }
        }
        for m in &t.messages {
            *self.kinds.entry(kind_of(m)).or_default() += 1;
            self.payload_bytes += m.payload_len() as u64;
            self.app_messages += u64::from(is_data(m));
            self.malformed += u64::from(matches!(m, Message::Malformed { .. }));
            self.gaps += u64::from(matches!(m, Message::Gap { .. }));
        }
    }

    pub fn duration(&self) -> f64 {
        self.last - self.first.unwrap_or(self.last)
    }
}

/// Handshake cost, summed over connections.
#[derive(Debug, Default, Clone)]
pub struct Handshake {
    pub tcp_conns: u64,
    pub tcp_bytes: u64,
    pub tcp_secs: f64,
    /// MQTT CONNECT/CONNACK or ZMTP greetings and READY: connections, packets, bytes, seconds.
    pub app_conns: u64,
    pub app_packets: u64,
    pub app_bytes: u64,
    pub app_secs: f64,
}

#[derive(Default)]
struct Opening {
    syn_ts: Option<f64>,
    syn_bytes: u64,
    synack: bool,
    tcp_done: bool,
    app_done: bool,
    app_start: Option<f64>,
    app_packets: u64,
    app_bytes: u64,
    readies: u8,
}

/// Watches every connection's opening.
#[derive(Default)]
pub struct Handshakes {
    pub total: Handshake,
    open: HashMap<u64, Opening>,
}

impl Handshakes {
    pub fn packet(&mut self, p: &Packet) {
        let What::Tcp(t) = &p.what else { return };
        let s = self.open.entry(t.stream).or_default();
        let h = &mut self.total;
        let wire = p.wire_len as u64;
        // TCP: SYN, SYN-ACK, then the client's first segment completes it.
        if t.flags.syn && !t.flags.ack {
            s.syn_ts = Some(p.ts);
            s.syn_bytes = wire;
        } else if t.flags.syn && s.syn_ts.is_some() {
            s.synack = true;
            s.syn_bytes += wire;
        } else if s.synack && !s.tcp_done && t.from_client {
            s.tcp_done = true;
            h.tcp_conns += 1;
            h.tcp_bytes += s.syn_bytes + if t.len == 0 { wire } else { 0 };
            h.tcp_secs += p.ts - s.syn_ts.unwrap_or(p.ts);
        }
        if s.app_done
            || t.len == 0
            || !(opening(t) || (s.app_start.is_some() && t.messages.is_empty()))
        {
            return;
        }
        s.app_start.get_or_insert(p.ts);
        s.app_packets += 1;
        s.app_bytes += wire;
        for m in &t.messages {
            match m {
                Message::Mqtt(q) if q.kind == "CONNACK" => s.readies = 2,
                Message::Zmtp(Zmtp::Command { name, .. }) if name == "READY" => s.readies += 1,
                _ => {}
            }
        }
        if s.readies >= 2 {
            s.app_done = true;
            h.app_conns += 1;
            h.app_packets += s.app_packets;
            h.app_bytes += s.app_bytes;
            h.app_secs += p.ts - s.app_start.unwrap_or(p.ts);
        }
    }
}

/// True if the segment carries part of a protocol's opening.
fn opening(t: &Tcp) -> bool {
    t.messages.iter().any(|m| {
        matches!(m, Message::Mqtt(q) if q.kind == "CONNECT" || q.kind == "CONNACK")
            || matches!(
                m,
                Message::Zmtp(Zmtp::Greeting { .. } | Zmtp::Command { .. })
            )
    })
}
