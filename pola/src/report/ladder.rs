//! The ladder diagram's rows: hosts as columns in order of appearance, one arrow per run of like
//! packets (the same ends and the same label, drawn once with a count: "PUBREC ×10"), and a
//! packet that carries several messages labelled by kind with counts, so a label stays short.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::proof::plain;
use crate::decode::names::Names;
use crate::decode::walk::{Packet, Tcp, What};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

/// Rows drawn at most; past that the TCP packets left out are counted (`pola inspect` lists them).
pub const MAX_ROWS: usize = 20_000;

/// One arrow of the ladder diagram.
#[derive(Debug, Clone)]
pub struct Arrow {
    /// Seconds from the first packet of the capture to the first packet of this arrow.
    pub t: f64,
    pub from: String,
    pub to: String,
    pub label: String,
    /// Messages (or bare segments) this arrow stands for.
    pub count: u64,
    /// True for packets that carry an application message (drawn bold).
    pub app: bool,
}

impl Arrow {
    /// The label with its count, as drawn.
    pub fn text(&self) -> String {
        if self.count > 1 {
            format!("{} ×{}", self.label, self.count)
        } else {
            self.label.clone()
        }
    }
}

#[derive(Debug, Default)]
pub struct Ladder {
    pub hosts: Vec<String>,
    pub arrows: Vec<Arrow>,
    /// TCP packets not drawn because the ladder reached [`MAX_ROWS`].
    pub skipped: u64,
    t0: Option<f64>,
}

impl Ladder {
    pub fn packet(&mut self, p: &Packet, names: &Names) {
        let t0 = *self.t0.get_or_insert(p.ts);
        let What::Tcp(t) = &p.what else { return };
        let (mut from, mut to) = (column(names, &t.src), column(names, &t.dst));
        if from == to {
            // Both ends on one host (loopback): the ports tell the columns apart.
            (from, to) = (names.endpoint(&t.src), names.endpoint(&t.dst));
        }
        let (label, count) = label(t);
        if let Some(last) = self.arrows.last_mut() {
            if last.from == from && last.to == to && last.label == label {
                last.count += count;
                return;
            }
        }
        if self.arrows.len() >= MAX_ROWS {
            self.skipped += 1;
            return;
        }
        for h in [&from, &to] {
            if !self.hosts.contains(h) {
                self.hosts.push(h.clone());
            }
        }
        self.arrows.push(Arrow {
            t: p.ts - t0,
            from,
            to,
            label,
            count,
            app: !t.messages.is_empty(),
        });
    }
}

/// The ladder column of an address: its name where known, else the address itself.
fn column(names: &Names, addr: &SocketAddr) -> String {
    match names.name(&addr.ip()) {
        Some(n) => n.to_string(),
        None => addr.to_string(),
    }
}

/// A segment's label and how many messages it stands for: one message by itself, several of one
/// kind as that kind (with the label if they all read the same), mixed kinds as counts per kind.
fn label(t: &Tcp) -> (String, u64) {
    let labels: Vec<String> = t.messages.iter().map(short).collect();
    match labels.as_slice() {
        [] if t.len > 0 => (format!("{} {} B", t.flags, t.len), 1),
        [] => (t.flags.to_string(), 1),
        [one] => (one.clone(), 1),
        [first, rest @ ..] if rest.iter().all(|l| l == first) => {
            (first.clone(), labels.len() as u64)
        }
        _ => {
            let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
            for l in &labels {
                *kinds.entry(l.split(' ').next().unwrap_or("")).or_default() += 1;
            }
            if kinds.len() == 1 {
                let kind = kinds.keys().next().copied().unwrap_or_default();
                return (kind.to_string(), labels.len() as u64);
            }
            let parts: Vec<String> = kinds
                .iter()
                .map(|(k, n)| {
                    if *n > 1 {
                        format!("{k} ×{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            (parts.join(", "), 1)
        }
    }
}

/// A short label for one message.
fn short(m: &Message) -> String {
    match m {
        Message::Mqtt(m) => match &m.topic {
            Some(t) => format!("{} {t}", m.kind),
            None => m.kind.to_string(),
        },
        Message::Http(h) => match (&h.method, &h.path, h.status) {
            (Some(me), Some(p), _) => format!("{me} {p}"),
            (_, _, Some(s)) => format!("{s} {}", h.reason.as_deref().unwrap_or("")),
            _ => "HTTP".into(),
        },
        Message::Zmtp(Zmtp::Greeting {
            version, mechanism, ..
        }) => format!("greeting {version} {mechanism}"),
        Message::Zmtp(Zmtp::Command {
            name,
            properties,
            topic,
            ..
        }) => {
            let mut s = name.clone();
            if let Some((_, v)) = properties.iter().find(|(k, _)| k == "Socket-Type") {
                s.push_str(&format!(" {v}"));
            }
            if let Some(t) = topic {
                s.push_str(&format!(" \"{t}\""));
            }
            s
        }
        Message::Zmtp(z @ Zmtp::Message { .. }) => format!("msg {}", trim(&plain(&z.text()), 24)),
        Message::Raw { len, preview } => format!("{len} B {}", trim(&plain(preview), 16)),
        Message::Tls(t) => format!("TLS {} {} B", t.kind(), t.len),
        Message::Malformed { protocol, .. } => format!("{protocol} malformed"),
        Message::Gap {
            protocol, missing, ..
        } => format!("{protocol} gap {missing} B"),
    }
}

/// At most `n` characters of `s`, with `…` if cut.
pub fn trim(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!(
            "{}…",
            s.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    } else {
        s.to_string()
    }
}
