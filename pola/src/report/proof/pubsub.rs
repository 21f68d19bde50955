//! PUB/SUB: the publisher filters by topic, so every message that reaches a subscriber starts
//! with one of the topics that subscriber sent in SUBSCRIBE.

use std::collections::BTreeMap;

use super::{ends, plain, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

#[derive(Default)]
struct Subscriber {
    name: String,
    /// The socket type each side announced (client, server).
    types: [Option<String>; 2],
    subscriptions: Vec<String>,
    received: BTreeMap<String, u64>,
    unmatched: u64,
}

#[derive(Default)]
pub struct Topics {
    streams: BTreeMap<u64, Subscriber>,
}

impl Prover for Topics {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        let dir = usize::from(!t.from_client);
        for m in &t.messages {
            let Message::Zmtp(z) = m else { continue };
            let s = self.streams.entry(t.stream).or_insert_with(|| Subscriber {
                name: names.endpoint(&ends(t).0),
                ..Default::default()
            });
            if let Some(t) = super::ready_socket_type(z) {
                s.types[dir] = Some(t);
            }
            match z {
                Zmtp::Command { name, topic, .. } if name == "SUBSCRIBE" => {
                    s.subscriptions.push(topic.clone().unwrap_or_default())
                }
                Zmtp::Message { .. } if matches!(s.types[dir].as_deref(), Some("PUB" | "XPUB")) => {
                    let text = plain(&z.text());
                    let topic = text.split([' ', '|']).next().unwrap_or("").to_string();
                    *s.received.entry(topic).or_default() += 1;
                    if !s
                        .subscriptions
                        .iter()
                        .any(|sub| text.starts_with(sub.as_str()))
                    {
                        s.unmatched += 1;
                    }
                }
                _ => {}
            }
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        let subs: Vec<&Subscriber> = self
            .streams
            .values()
            .filter(|s| s.types.iter().flatten().any(|t| t == "SUB" || t == "XSUB"))
            .collect();
        let unmatched: u64 = subs.iter().map(|s| s.unmatched).sum();
        vec![Proof {
            claim: Claim::Topics,
            holds: !subs.is_empty() && unmatched == 0,
            args: vec![subs.len().to_string(), unmatched.to_string()],
            details: subs
                .iter()
                .map(|s| {
                    let got: Vec<String> =
                        s.received.iter().map(|(t, n)| format!("{t}×{n}")).collect();
                    format!(
                        "{} [{}]: {}",
                        s.name,
                        s.subscriptions.join(", "),
                        got.join(", ")
                    )
                })
                .collect(),
        }]
    }
}
