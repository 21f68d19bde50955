//! The count of each message kind in a capture: what `wireshark/check.sh` compares with tshark
//! and with the Lua dissector (`pola inspect --counts`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::decode::mqtt::KINDS;
use crate::decode::pcap::End;
use crate::decode::walk::{walk_with, Decrypt, Packet, What};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub packets: u64,
    pub tcp_streams: u64,
    pub mqtt: BTreeMap<String, u64>,
    /// The same MQTT counts keyed by packet type number, as tshark's `mqtt.msgtype` gives them.
    pub mqtt_types: BTreeMap<String, u64>,
    pub http_methods: BTreeMap<String, u64>,
    pub http_status: BTreeMap<String, u64>,
    pub zmtp_connections: u64,
    pub zmtp_greetings: u64,
    pub zmtp_commands: BTreeMap<String, u64>,
    pub zmtp_messages: u64,
    /// TLS records by kind: the handshake messages in the clear, else the record type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tls: BTreeMap<String, u64>,
    pub malformed: u64,
    /// Holes in a TCP direction: bytes the capture lost.
    pub gaps: u64,
    /// Server ports of the streams of each protocol, to tell tshark where to look.
    pub ports: BTreeMap<String, BTreeSet<u16>>,
    pub truncated: bool,
}

impl Counts {
    pub fn add(&mut self, p: &Packet) {
        self.packets += 1;
        let What::Tcp(t) = &p.what else { return };
        if t.opened {
            self.tcp_streams += 1;
        }
        let server_port = if t.from_client {
            t.dst.port()
        } else {
            t.src.port()
        };
        for m in &t.messages {
            let proto = match m {
                Message::Mqtt(m) => {
                    bump(&mut self.mqtt, m.kind);
                    let number = KINDS.iter().position(|k| *k == m.kind).unwrap_or(0);
                    bump(&mut self.mqtt_types, TYPE_NUMBERS[number]);
                    "mqtt"
                }
                Message::Http(h) => {
                    let (table, key) = match (&h.method, h.status) {
                        (Some(method), _) => (&mut self.http_methods, method.clone()),
                        (_, Some(status)) => (&mut self.http_status, status.to_string()),
                        _ => continue,
                    };
                    *table.entry(key).or_default() += 1;
                    "http"
                }
                Message::Zmtp(z) => {
                    self.add_zmtp(z, t.from_client);
                    "zmtp"
                }
                Message::Malformed { .. } => {
                    self.malformed += 1;
                    continue;
                }
                Message::Gap { .. } => {
                    self.gaps += 1;
                    continue;
                }
                Message::Tls(t) => {
                    *self.tls.entry(t.kind()).or_default() += 1;
                    "tls"
                }
                Message::Raw { .. } => continue,
            };
            self.ports
                .entry(proto.into())
                .or_default()
                .insert(server_port);
        }
    }

    fn add_zmtp(&mut self, z: &Zmtp, from_client: bool) {
        match z {
            Zmtp::Greeting { .. } => {
                self.zmtp_greetings += 1;
                if !from_client {
                    self.zmtp_connections += 1;
                }
            }
            Zmtp::Command { name, .. } => *self.zmtp_commands.entry(name.clone()).or_default() += 1,
            Zmtp::Message { .. } => self.zmtp_messages += 1,
        }
    }
}

/// MQTT packet type numbers as text, the keys of [`Counts::mqtt_types`].
const TYPE_NUMBERS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
];

/// Adds one to `key`'s count, allocating its name only the first time it is seen.
fn bump(table: &mut BTreeMap<String, u64>, key: &str) {
    match table.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            table.insert(key.to_string(), 1);
        }
    }
}

/// Counts every message kind of the capture at `path`, TLS decrypted with its embedded secrets.
pub fn count(path: &Path) -> anyhow::Result<Counts> {
    count_with(path, &Decrypt::default())
}

/// Counts every message kind of the capture at `path`, TLS decrypted as `decrypt` says.
pub fn count_with(path: &Path, decrypt: &Decrypt) -> anyhow::Result<Counts> {
    let mut counts = Counts::default();
    let end = walk_with(path, decrypt, |p| {
        counts.add(p);
        Ok(())
    })?;
    counts.truncated = end == End::Truncated;
    Ok(counts)
}
