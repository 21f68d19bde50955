//! Plain TCP: the echo server returns every byte unchanged. Each stream's bytes from the server
//! are compared, byte for byte and in order, with the bytes the client sent; the stream carries
//! no application protocol, and its data segments carry PSH and ACK.

use std::collections::{BTreeMap, VecDeque};

use super::{ends, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::stream::Protocol;
use crate::decode::walk::Tcp;

#[derive(Default)]
struct Conversation {
    name: String,
    /// Bytes the client sent that have not come back yet.
    waiting: VecDeque<u8>,
    sent: u64,
    echoed: u64,
    /// Bytes back that differ from what was sent, or that were never sent.
    differ: u64,
    first_difference: Option<u64>,
}

#[derive(Default)]
pub struct Echo {
    streams: BTreeMap<u64, Conversation>,
    /// Streams that carried data in an application protocol pola knows.
    other_protocol: BTreeMap<u64, Protocol>,
    data_segments: u64,
    psh_ack: u64,
}

impl Conversation {
    fn compare(&mut self, back: &[u8]) {
        for &b in back {
            match self.waiting.pop_front() {
                Some(sent) if sent == b => {}
                _ => {
                    self.first_difference.get_or_insert(self.echoed);
                    self.differ += 1;
                }
            }
            self.echoed += 1;
        }
    }
}

impl Prover for Echo {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        if t.len == 0 {
            return;
        }
        self.data_segments += 1;
        self.psh_ack += u64::from(t.flags.psh && t.flags.ack);
        match t.protocol {
            Some(Protocol::Raw) | None => {}
            Some(p) => {
                self.other_protocol.insert(t.stream, p);
            }
        }
        let c = self.streams.entry(t.stream).or_insert_with(|| {
            let (client, server) = ends(t);
            Conversation {
                name: format!("{} → {}", names.endpoint(&client), names.endpoint(&server)),
                ..Default::default()
            }
        });
        if t.from_client {
            c.sent += t.data.len() as u64;
            c.waiting.extend(t.data.iter());
        } else {
            c.compare(&t.data);
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        let sum = |f: fn(&Conversation) -> u64| self.streams.values().map(f).sum::<u64>();
        let (sent, echoed, differ) = (sum(|c| c.sent), sum(|c| c.echoed), sum(|c| c.differ));
        let unanswered = sum(|c| c.waiting.len() as u64);
        let details = self
            .streams
            .values()
            .map(|c| {
                let at = c
                    .first_difference
                    .map(|b| format!(", first difference at byte {b}"))
                    .unwrap_or_default();
                format!("{}: {} B sent, {} B back{at}", c.name, c.sent, c.echoed)
            })
            .collect();
        let other: Vec<String> = self
            .other_protocol
            .iter()
            .map(|(id, p)| format!("stream {id}: {}", p.name()))
            .collect();
        vec![
            Proof {
                claim: Claim::Echo,
                holds: sent > 0 && differ == 0 && unanswered == 0,
                args: vec![
                    sent.to_string(),
                    echoed.to_string(),
                    differ.to_string(),
                    unanswered.to_string(),
                ],
                details,
            },
            Proof {
                claim: Claim::PlainTcp,
                holds: !self.streams.is_empty()
                    && other.is_empty()
                    && self.psh_ack == self.data_segments,
                args: vec![
                    self.streams.len().to_string(),
                    other.len().to_string(),
                    self.psh_ack.to_string(),
                    self.data_segments.to_string(),
                ],
                details: other,
            },
        ]
    }
}
