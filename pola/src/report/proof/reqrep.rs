//! REQ/REP: a REQ socket cannot send twice without a reply, so every connection's data messages
//! go request, reply, request, reply.

use std::collections::BTreeMap;

use super::{ends, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

#[derive(Default)]
pub struct Alternation {
    /// Per stream: its client's name and the direction of every message (true: request).
    streams: BTreeMap<u64, (String, Vec<bool>)>,
}

impl Prover for Alternation {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        for m in &t.messages {
            if let Message::Zmtp(Zmtp::Message { .. }) = m {
                self.streams
                    .entry(t.stream)
                    .or_insert_with(|| (names.endpoint(&ends(t).0), Vec::new()))
                    .1
                    .push(t.from_client);
            }
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        let alternating = self.streams.values().all(|(_, d)| {
            d.iter()
                .enumerate()
                .all(|(i, from_client)| *from_client == (i % 2 == 0))
        });
        let pairs: usize = self.streams.values().map(|(_, d)| d.len() / 2).sum();
        vec![Proof {
            claim: Claim::Alternation,
            holds: !self.streams.is_empty() && alternating,
            args: vec![pairs.to_string(), self.streams.len().to_string()],
            details: self
                .streams
                .values()
                .map(|(name, d)| {
                    let seq: String = d
                        .iter()
                        .take(24)
                        .map(|c| if *c { 'Q' } else { 'P' })
                        .collect();
                    format!("{name}: {seq}")
                })
                .collect(),
        }]
    }
}
