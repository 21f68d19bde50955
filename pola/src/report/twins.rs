//! Each plain model beside its encrypted twin: a capture `<model>-<suffix>` (mqtt-tls, rest-tls,
//! reqrep-curve, ...) is paired with `<model>`, and the report shows what the encryption costs
//! (packets, bytes, round trips before the first application byte, wire bytes per application
//! message) and what it hides: [`Exposure`] collects, in the report's one pass over a capture,
//! what an eavesdropper without the key still reads (server names, ALPN, addresses, record sizes
//! and times) and how many application messages the capture's embedded key opened.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use super::analysis::Analysis;
use super::lang::Words;
use crate::decode::names::Names;
use crate::decode::walk::{Packet, What};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;
use crate::model::Model;

/// What a capture shows to someone without its key, and what its key (if embedded) opens.
#[derive(Debug, Default)]
pub struct Exposure {
    pub sni: BTreeSet<String>,
    pub alpn: BTreeSet<String>,
    /// The servers' addresses (named by the hosts file where it has them).
    pub servers: BTreeSet<String>,
    /// The encrypted mechanism seen: "TLS 1.3", "TLS 1.2", "CURVE".
    pub mechanism: BTreeSet<String>,
    /// Encrypted records (TLS records, CURVE MESSAGE commands): count, size range, time span.
    pub records: u64,
    pub record_min: usize,
    pub record_max: usize,
    pub record_first: Option<f64>,
    pub record_last: f64,
    /// Application messages decoded from inside TLS: what the embedded key opened.
    pub decrypted: u64,
    /// Round trips before the first application message, on the first connection that had one.
    pub round_trips: Option<u32>,
    turns: HashMap<u64, (u32, Option<bool>)>,
}

/// True for a message of the application protocol itself, not of a transport's handshake.
fn is_application(m: &Message) -> bool {
    matches!(
        m,
        Message::Mqtt(_)
            | Message::Http(_)
            | Message::Raw { .. }
            | Message::Zmtp(Zmtp::Message { .. })
    )
}

impl Exposure {
    pub fn packet(&mut self, p: &Packet, names: &Names) {
        let What::Tcp(t) = &p.what else { return };
        // Round trips: each time the server speaks after the client did (the SYN-ACK first). A
        // TLS 1.3 server's session tickets answer nothing (the client sent its first message
        // without waiting for them), so a segment of tickets alone is not a turn.
        let tickets_only = !t.messages.is_empty()
            && t.messages.iter().all(|m| {
                matches!(m, Message::Tls(r)
                    if r.decrypted.as_deref().is_some_and(|d| d.starts_with("handshake NewSessionTicket")))
            });
        let (turns, last) = self.turns.entry(t.stream).or_default();
        if (t.flags.syn || t.len > 0) && !tickets_only {
            if *last == Some(true) && !t.from_client {
                *turns += 1;
            }
            *last = Some(t.from_client);
        }
        let turns = *turns;
        let tls = t.protocol == Some(crate::decode::stream::Protocol::Tls);
        for m in &t.messages {
            if self.round_trips.is_none() && is_application(m) {
                self.round_trips = Some(turns);
            }
            match m {
                Message::Tls(r) => {
                    self.sni.extend(r.sni.clone());
                    self.alpn.extend(r.alpn.iter().cloned());
                    if let Some(v) = r.version {
                        self.mechanism.insert(v.to_string());
                    }
                    if r.record == "ApplicationData" || r.handshake == ["encrypted"] {
                        self.record(p.ts, r.len);
                    }
                }
                Message::Zmtp(Zmtp::Greeting { mechanism, .. }) if mechanism == "CURVE" => {
                    self.mechanism.insert("CURVE".into());
                }
                Message::Zmtp(Zmtp::Command { name, detail, .. }) if name == "MESSAGE" => {
                    let size = detail
                        .split(|c: char| !c.is_ascii_digit())
                        .find_map(|d| d.parse().ok())
                        .unwrap_or(0);
                    self.record(p.ts, size);
                }
                _ if tls && is_application(m) => self.decrypted += 1,
                _ => {}
            }
        }
        if t.len > 0 {
            let server = if t.from_client { t.dst } else { t.src };
            self.servers.insert(names.endpoint(&server));
        }
    }

    fn record(&mut self, ts: f64, len: usize) {
        if self.records == 0 {
            self.record_min = len;
        }
        self.records += 1;
        self.record_min = self.record_min.min(len);
        self.record_max = self.record_max.max(len);
        self.record_first.get_or_insert(ts);
        self.record_last = ts;
    }
}

/// Pairs of a plain model's capture and each of its twins, in the report's order.
pub fn pairs(all: &[Analysis]) -> Vec<(&Analysis, &Analysis)> {
    let mut out = Vec::new();
    for plain in all.iter().filter(|a| Model::from_name(&a.name).is_some()) {
        let prefix = format!("{}-", plain.name);
        for twin in all.iter().filter(|a| a.name.starts_with(&prefix)) {
            out.push((plain, twin));
        }
    }
    out
}

/// The rows of one pair: a label, the plain capture's cell, the twin's cell.
fn rows(plain: &Analysis, twin: &Analysis, w: &Words) -> Vec<[String; 3]> {
    let t = w.twins;
    let per_message = |a: &Analysis| match a.traffic.app_messages {
        0 => "—".to_string(),
        n => format!("{:.0}", a.traffic.wire_bytes as f64 / n as f64),
    };
    let trips = |a: &Analysis| a.exposure.round_trips.map_or("—".into(), |n| n.to_string());
    let list = |s: &BTreeSet<String>| {
        if s.is_empty() {
            "—".to_string()
        } else {
            s.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    let records = |e: &Exposure| match e.records {
        0 => "—".to_string(),
        n => format!(
            "{n} × {}–{} B, {:.0} ms",
            e.record_min,
            e.record_max,
            (e.record_last - e.record_first.unwrap_or(e.record_last)) * 1000.0
        ),
    };
    let e = &twin.exposure;
    let opened = if e.decrypted > 0 {
        t.decrypted.replace("{0}", &e.decrypted.to_string())
    } else {
        t.sealed.to_string()
    };
    let plain_view = t.everything.to_string();
    vec![
        [
            t.rows[0].into(),
            plain.traffic.packets.to_string(),
            twin.traffic.packets.to_string(),
        ],
        [
            t.rows[1].into(),
            plain.traffic.wire_bytes.to_string(),
            twin.traffic.wire_bytes.to_string(),
        ],
        [t.rows[2].into(), trips(plain), trips(twin)],
        [t.rows[3].into(), per_message(plain), per_message(twin)],
        [t.rows[4].into(), "—".into(), list(&e.mechanism)],
        [
            t.rows[5].into(),
            list(&plain.exposure.servers),
            list(&e.servers),
        ],
        [t.rows[6].into(), "—".into(), list(&e.sni)],
        [t.rows[7].into(), "—".into(), list(&e.alpn)],
        [t.rows[8].into(), "—".into(), records(e)],
        [t.rows[9].into(), plain_view.clone(), t.hidden.into()],
        [t.rows[10].into(), plain_view, opened],
    ]
}

/// The HTML section: one table per pair; nothing when no capture has a twin.
pub fn html(s: &mut String, all: &[Analysis], w: &Words, esc: impl Fn(&str) -> String) {
    let pairs = pairs(all);
    if pairs.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<h2>{}</h2><p>{}</p>",
        esc(w.twins.title),
        esc(w.twins.intro)
    );
    for (plain, twin) in pairs {
        let _ = write!(
            s,
            "<table><tr><th></th><th>{}</th><th>{}</th></tr>",
            esc(&plain.name),
            esc(&twin.name)
        );
        for row in rows(plain, twin, w) {
            let _ = write!(s, "<tr>");
            for cell in row {
                let _ = write!(s, "<td>{}</td>", esc(&cell));
            }
            s.push_str("</tr>");
        }
        s.push_str("</table><p></p>");
    }
}

/// The Markdown section, the same tables.
pub fn markdown(s: &mut String, all: &[Analysis], w: &Words) {
    let pairs = pairs(all);
    if pairs.is_empty() {
        return;
    }
    let _ = write!(s, "\n## {}\n\n{}\n", w.twins.title, w.twins.intro);
    for (plain, twin) in pairs {
        let _ = write!(
            s,
            "\n|   | {} | {} |\n|---|---|---|\n",
            plain.name, twin.name
        );
        for [label, a, b] in rows(plain, twin, w) {
            let _ = writeln!(
                s,
                "| {label} | {} | {} |",
                a.replace('|', "\\|"),
                b.replace('|', "\\|")
            );
        }
    }
}
