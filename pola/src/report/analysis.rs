//! The figures of one capture, computed from its packets in one streaming pass: traffic and
//! overhead, handshake cost, round trips, the first rows of a ladder diagram, and the facts that
//! prove the model's defining behaviour (the broker in the middle, REQ/REP alternation, PUSH's
//! fair turns, the topics that reached each SUB).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;

use crate::decode::pcap::End;
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;
use crate::inspect::{walk, Names, Packet, What};

/// Packets drawn in a ladder diagram; the rest is summarised in a line.
pub const LADDER_ROWS: usize = 48;

/// One arrow of the ladder diagram.
#[derive(Debug, Clone)]
pub struct Arrow {
    pub t: f64,
    pub from: String,
    pub to: String,
    pub label: String,
    /// True for packets that carry an application message (drawn bold).
    pub app: bool,
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

/// A fact about the model, computed from the packets; `holds` says whether it was true.
#[derive(Debug, Clone)]
pub struct Proof {
    pub key: &'static str,
    pub holds: bool,
    /// Numbers and names the sentence is filled with, in order.
    pub args: Vec<String>,
    pub details: Vec<String>,
}

#[derive(Default)]
struct StreamState {
    client: Option<SocketAddr>,
    server: Option<SocketAddr>,
    syn_ts: Option<f64>,
    syn_bytes: u64,
    synack: bool,
    tcp_done: bool,
    app_done: bool,
    app_start: Option<f64>,
    app_packets: u64,
    app_bytes: u64,
    readies: u8,
    last_data_from_client: Option<bool>,
    /// Direction of every data message (true: client to server), for alternation.
    directions: Vec<bool>,
    socket_types: [Option<String>; 2],
    subscriptions: Vec<String>,
    received_topics: BTreeMap<String, u64>,
    unmatched: u64,
}

/// Everything the report says about one capture.
#[derive(Debug, Default)]
pub struct Analysis {
    pub name: String,
    pub model: String,
    pub packets: u64,
    pub wire_bytes: u64,
    pub connections: u64,
    pub payload_bytes: u64,
    pub app_messages: u64,
    pub round_trips: u64,
    pub duration: f64,
    pub handshake: Handshake,
    pub ladder: Vec<Arrow>,
    pub hosts: Vec<String>,
    pub proofs: Vec<Proof>,
    pub malformed: u64,
    pub truncated: bool,
    pub kinds: BTreeMap<String, u64>,
}

/// The models pola runs, in the order the report shows them.
pub const MODELS: [&str; 6] = ["mqtt", "tcp", "rest", "reqrep", "pushpull", "pubsub"];

fn kind_of(m: &Message) -> String {
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
        Message::Malformed { protocol, .. } => format!("{protocol} malformed"),
    }
}

/// A short label for a ladder arrow.
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
        z @ Message::Zmtp(Zmtp::Message { .. }) => format!("msg \"{}\"", trim(&z_text(z), 24)),
        Message::Raw { len, preview } => format!("{len} B \"{}\"", trim(preview, 16)),
        Message::Malformed { protocol, .. } => format!("{protocol} malformed"),
    }
}

fn z_text(m: &Message) -> String {
    match m {
        Message::Zmtp(z) => z.text(),
        _ => String::new(),
    }
}

fn trim(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_string()
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

/// Analyses the capture at `path`; `name` is its file stem, which names the model when it is one.
pub fn analyse(path: &Path, names: &Names) -> anyhow::Result<Analysis> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut a = Analysis {
        name: name.clone(),
        ..Default::default()
    };
    let mut streams: HashMap<u64, StreamState> = HashMap::new();
    let mut models: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut first, mut last) = (None::<f64>, 0f64);
    let mut hosts: Vec<String> = Vec::new();
    // PUBLISH into the broker, by (topic, payload preview), to match deliveries against.
    let mut published: HashMap<(String, String), u64> = HashMap::new();
    let (mut delivered, mut matched, mut publish_in) = (0u64, 0u64, 0u64);
    let mut per_subscriber: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // PUSH groups: server endpoint -> messages in capture order (stream id, text).
    let mut push_groups: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    let mut stream_names: HashMap<u64, String> = HashMap::new();
    let mut ladder_skipped = 0u64;
    let end = walk(path, |p: &Packet| {
        a.packets += 1;
        a.wire_bytes += p.wire_len as u64;
        let t0 = *first.get_or_insert(p.ts);
        last = p.ts;
        let What::Tcp(t) = &p.what else { return Ok(()) };
        let s = streams.entry(t.stream).or_default();
        if let Some(m) = t.model {
            *models.entry(m).or_default() += 1;
        }
        let (client, server) = if t.from_client {
            (t.src, t.dst)
        } else {
            (t.dst, t.src)
        };
        s.client.get_or_insert(client);
        s.server.get_or_insert(server);
        stream_names
            .entry(t.stream)
            .or_insert_with(|| names.endpoint(&client));
        // TCP handshake: SYN, SYN-ACK, then the client's first segment completes it.
        if t.flags.syn && !t.flags.ack {
            a.connections += 1;
            s.syn_ts = Some(p.ts);
            s.syn_bytes = p.wire_len as u64;
        } else if t.flags.syn && s.syn_ts.is_some() {
            s.synack = true;
            s.syn_bytes += p.wire_len as u64;
        } else if s.synack && !s.tcp_done && t.from_client {
            s.tcp_done = true;
            a.handshake.tcp_conns += 1;
            a.handshake.tcp_bytes += s.syn_bytes + if t.len == 0 { p.wire_len as u64 } else { 0 };
            a.handshake.tcp_secs += p.ts - s.syn_ts.unwrap_or(p.ts);
        }
        // Application handshake: CONNECT..CONNACK, or greetings..both READYs.
        let handshake_part = t.messages.iter().any(|m| {
            matches!(m, Message::Mqtt(q) if q.kind == "CONNECT" || q.kind == "CONNACK")
                || matches!(m, Message::Zmtp(Zmtp::Greeting { .. }) | Message::Zmtp(Zmtp::Command { .. }) if !s.app_done)
        });
        if !s.app_done
            && t.len > 0
            && (handshake_part || (s.app_start.is_some() && t.messages.is_empty()))
        {
            s.app_start.get_or_insert(p.ts);
            s.app_packets += 1;
            s.app_bytes += p.wire_len as u64;
            for m in &t.messages {
                match m {
                    Message::Mqtt(q) if q.kind == "CONNACK" => s.readies = 2,
                    Message::Zmtp(Zmtp::Command { name, .. }) if name == "READY" => s.readies += 1,
                    _ => {}
                }
            }
            if s.readies >= 2 {
                s.app_done = true;
                let h = &mut a.handshake;
                h.app_conns += 1;
                h.app_packets += s.app_packets;
                h.app_bytes += s.app_bytes;
                h.app_secs += p.ts - s.app_start.unwrap_or(p.ts);
            }
        }
        if t.len > 0 {
            if s.last_data_from_client == Some(true) && !t.from_client {
                a.round_trips += 1;
            }
            s.last_data_from_client = Some(t.from_client);
        }
        let dir = usize::from(!t.from_client);
        for m in &t.messages {
            *a.kinds.entry(kind_of(m)).or_default() += 1;
            a.payload_bytes += m.payload_len() as u64;
            if is_data(m) {
                a.app_messages += 1;
                s.directions.push(t.from_client);
            }
            match m {
                Message::Malformed { .. } => a.malformed += 1,
                Message::Mqtt(q) if q.kind == "PUBLISH" => {
                    let key = (
                        q.topic.clone().unwrap_or_default(),
                        q.preview.clone().unwrap_or_default(),
                    );
                    if t.from_client {
                        publish_in += 1;
                        *published.entry(key).or_default() += 1;
                    } else {
                        delivered += 1;
                        if published.get(&key).is_some_and(|n| *n > 0) {
                            matched += 1;
                        }
                        per_subscriber
                            .entry(names.endpoint(&client))
                            .or_default()
                            .insert(key.0);
                    }
                }
                Message::Zmtp(Zmtp::Command {
                    name,
                    properties,
                    topic,
                    ..
                }) => {
                    if name == "READY" {
                        let st = properties
                            .iter()
                            .find(|(k, _)| k == "Socket-Type")
                            .map(|(_, v)| v.clone());
                        s.socket_types[dir] = st;
                    }
                    if name == "SUBSCRIBE" {
                        s.subscriptions.push(topic.clone().unwrap_or_default());
                    }
                }
                z @ Message::Zmtp(Zmtp::Message { .. }) => {
                    let text = z_text(z);
                    let sender = s.socket_types[dir].as_deref();
                    if sender == Some("PUB") || sender == Some("XPUB") {
                        let topic = text.split([' ', '|']).next().unwrap_or("").to_string();
                        *s.received_topics.entry(topic).or_default() += 1;
                        if !s
                            .subscriptions
                            .iter()
                            .any(|sub| text.starts_with(sub.as_str()))
                        {
                            s.unmatched += 1;
                        }
                    }
                    if sender == Some("PUSH") {
                        let group = names.endpoint(&server);
                        push_groups.entry(group).or_default().push((t.stream, text));
                    }
                }
                _ => {}
            }
        }
        // The ladder: hosts as columns in order of appearance, one arrow per packet.
        if a.ladder.len() < LADDER_ROWS {
            let (from, to) = (column(names, &t.src), column(names, &t.dst));
            for h in [&from, &to] {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
            let labels: Vec<String> = t.messages.iter().map(short).collect();
            let label = if labels.is_empty() {
                format!(
                    "{}{}",
                    t.flags,
                    if t.len > 0 {
                        format!(" {} B", t.len)
                    } else {
                        String::new()
                    }
                )
            } else {
                labels.join(", ")
            };
            a.ladder.push(Arrow {
                t: p.ts - t0,
                from,
                to,
                label,
                app: !t.messages.is_empty(),
            });
        } else {
            ladder_skipped += 1;
        }
        Ok(())
    })?;
    a.truncated = end == End::Truncated;
    a.duration = last - first.unwrap_or(last);
    a.hosts = hosts;
    a.model = if MODELS.contains(&name.as_str()) {
        name
    } else {
        models
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(m, _)| m.to_string())
            .unwrap_or_else(|| "tcp".into())
    };
    let _ = ladder_skipped;
    a.proofs = proofs(
        &a.model,
        &streams,
        &stream_names,
        (publish_in, delivered, matched),
        &per_subscriber,
        &push_groups,
    );
    Ok(a)
}

/// The ladder column of an address: its name where known, else the address itself.
fn column(names: &Names, addr: &SocketAddr) -> String {
    match names.name(&addr.ip()) {
        Some(n) => n.to_string(),
        None => addr.to_string(),
    }
}

fn proofs(
    model: &str,
    streams: &HashMap<u64, StreamState>,
    stream_names: &HashMap<u64, String>,
    (publish_in, delivered, matched): (u64, u64, u64),
    per_subscriber: &BTreeMap<String, BTreeSet<String>>,
    push_groups: &BTreeMap<String, Vec<(u64, String)>>,
) -> Vec<Proof> {
    let mut ids: Vec<&u64> = streams.keys().collect();
    ids.sort();
    let name = |id: &u64| {
        stream_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("stream {id}"))
    };
    match model {
        "mqtt" => vec![Proof {
            key: "broker_middle",
            holds: delivered > 0 && matched == delivered,
            args: vec![
                publish_in.to_string(),
                delivered.to_string(),
                matched.to_string(),
            ],
            details: per_subscriber
                .iter()
                .map(|(s, t)| format!("{s}: {}", t.iter().cloned().collect::<Vec<_>>().join(", ")))
                .collect(),
        }],
        "reqrep" => {
            let conns: Vec<&u64> = ids
                .iter()
                .copied()
                .filter(|id| !streams[id].directions.is_empty())
                .collect();
            let alternating = conns.iter().all(|id| {
                let d = &streams[*id].directions;
                d.iter()
                    .enumerate()
                    .all(|(i, from_client)| *from_client == (i % 2 == 0))
            });
            let pairs: usize = conns
                .iter()
                .map(|id| streams[*id].directions.len() / 2)
                .sum();
            vec![Proof {
                key: "alternation",
                holds: !conns.is_empty() && alternating,
                args: vec![pairs.to_string(), conns.len().to_string()],
                details: conns
                    .iter()
                    .map(|id| {
                        let d: String = streams[*id]
                            .directions
                            .iter()
                            .take(24)
                            .map(|c| if *c { 'Q' } else { 'P' })
                            .collect();
                        format!("{}: {d}", name(id))
                    })
                    .collect(),
            }]
        }
        "pushpull" => push_groups
            .iter()
            .map(|(group, order)| {
                let mut per: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
                for (id, text) in order {
                    per.entry(*id).or_default().push(text);
                }
                let counts: Vec<usize> = per.values().map(Vec::len).collect();
                let spread = counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0);
                Proof {
                    key: "fair_turns",
                    holds: per.len() > 1 && spread <= 1,
                    args: vec![
                        group.clone(),
                        order.len().to_string(),
                        per.len().to_string(),
                        spread.to_string(),
                    ],
                    details: per
                        .iter()
                        .map(|(id, seq)| {
                            let shown: Vec<&str> = seq.iter().take(12).copied().collect();
                            let more = if seq.len() > 12 { " …" } else { "" };
                            format!("{} ({}): {}{more}", name(id), seq.len(), shown.join(", "))
                        })
                        .collect(),
                }
            })
            .collect(),
        "pubsub" => {
            let subs: Vec<&u64> = ids
                .iter()
                .copied()
                .filter(|id| {
                    streams[id]
                        .socket_types
                        .iter()
                        .flatten()
                        .any(|t| t == "SUB" || t == "XSUB")
                })
                .collect();
            let unmatched: u64 = subs.iter().map(|id| streams[*id].unmatched).sum();
            vec![Proof {
                key: "topics",
                holds: !subs.is_empty() && unmatched == 0,
                args: vec![subs.len().to_string(), unmatched.to_string()],
                details: subs
                    .iter()
                    .map(|id| {
                        let s = &streams[*id];
                        let got: Vec<String> = s
                            .received_topics
                            .iter()
                            .map(|(t, n)| format!("{t}×{n}"))
                            .collect();
                        format!(
                            "{} [{}]: {}",
                            name(id),
                            s.subscriptions.join(", "),
                            got.join(", ")
                        )
                    })
                    .collect(),
            }]
        }
        _ => vec![],
    }
}
