//! MQTT: the broker is in the middle. Every PUBLISH that leaves the broker for a subscriber must
//! repeat the topic and payload of a PUBLISH that reached the broker from a publisher before it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{ends, plain, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::Message;

#[derive(Default)]
pub struct Broker {
    /// PUBLISH into the broker, by (topic, payload preview), to match deliveries against.
    published: HashMap<(String, String), u64>,
    publish_in: u64,
    delivered: u64,
    matched: u64,
    per_subscriber: BTreeMap<String, BTreeSet<String>>,
}

impl Prover for Broker {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        for m in &t.messages {
            let Message::Mqtt(q) = m else { continue };
            if q.kind != "PUBLISH" {
                continue;
            }
            let key = (
                q.topic.clone().unwrap_or_default(),
                plain(q.preview.as_deref().unwrap_or_default()),
            );
            if t.from_client {
                self.publish_in += 1;
                *self.published.entry(key).or_default() += 1;
            } else {
                self.delivered += 1;
                if self.published.get(&key).is_some_and(|n| *n > 0) {
                    self.matched += 1;
                }
                self.per_subscriber
                    .entry(names.endpoint(&ends(t).0))
                    .or_default()
                    .insert(key.0);
            }
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        vec![Proof {
            claim: Claim::BrokerMiddle,
            holds: self.delivered > 0 && self.matched == self.delivered,
            args: vec![
                self.publish_in.to_string(),
                self.delivered.to_string(),
                self.matched.to_string(),
            ],
            details: self
                .per_subscriber
                .iter()
                .map(|(s, t)| format!("{s}: {}", t.iter().cloned().collect::<Vec<_>>().join(", ")))
                .collect(),
        }]
    }
}
