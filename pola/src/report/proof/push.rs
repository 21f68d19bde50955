//! PUSH/PULL, two claims. Out of a bound PUSH (the pusher), messages go round robin: with k
//! connections, task i goes where task i-k went, so no connection gets two turns in a row.
//! Into a bound PULL (the sink), messages are fair-queued: every connected PUSH gets its messages
//! in, none starved. Which side sent is told by the READY socket types, not by port.

use std::collections::BTreeMap;

use super::{ends, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

/// The messages through one bound endpoint, in capture order: (stream, task number).
#[derive(Default)]
struct Group {
    order: Vec<(u64, Option<u64>)>,
}

#[derive(Default)]
pub struct Push {
    /// Per stream: the socket type each side announced (client, server).
    types: BTreeMap<u64, [Option<String>; 2]>,
    names: BTreeMap<u64, String>,
    /// Bound PUSH endpoints (round robin out) and bound PULL endpoints (fair queueing in).
    out: BTreeMap<String, Group>,
    into: BTreeMap<String, Group>,
}

impl Prover for Push {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        let dir = usize::from(!t.from_client);
        let (client, server) = ends(t);
        for m in &t.messages {
            let Message::Zmtp(z) = m else { continue };
            let types = self.types.entry(t.stream).or_default();
            if let Some(t) = super::ready_socket_type(z) {
                types[dir] = Some(t);
            }
            match z {
                Zmtp::Message { task, .. } if types[dir].as_deref() == Some("PUSH") => {
                    self.names
                        .entry(t.stream)
                        .or_insert_with(|| names.endpoint(&client));
                    // The bound side is the server: PUSH there hands out, PULL there takes in.
                    let groups = if t.from_client {
                        &mut self.into
                    } else {
                        &mut self.out
                    };
                    let group = groups.entry(names.endpoint(&server)).or_default();
                    group.order.push((t.stream, *task));
                }
                _ => {}
            }
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        let out = self.out.iter().map(|(at, g)| self.round_robin(at, g));
        let into = self.into.iter().map(|(at, g)| self.fair_queue(at, g));
        out.chain(into).collect()
    }
}

impl Push {
    fn name(&self, stream: u64) -> String {
        self.names
            .get(&stream)
            .cloned()
            .unwrap_or_else(|| format!("stream {stream}"))
    }

    /// Each connection's share: its name, count and the tasks (or positions) it got.
    fn shares(&self, turns: &[(u64, String)]) -> Vec<String> {
        let mut per: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (stream, label) in turns {
            per.entry(*stream).or_default().push(label.clone());
        }
        per.iter()
            .map(|(id, got)| {
                format!(
                    "{} ({}): {}",
                    self.name(*id),
                    got.len(),
                    super::first(got, 12)
                )
            })
            .collect()
    }

    fn round_robin(&self, at: &str, g: &Group) -> Proof {
        // Tasks in task order where the messages say their number (end markers and other
        // messages without one are left out); otherwise capture order.
        let mut numbered: Vec<(u64, u64)> = g
            .order
            .iter()
            .filter_map(|(s, t)| t.map(|t| (t, *s)))
            .collect();
        numbered.sort();
        let turns: Vec<(u64, String)> = if numbered.is_empty() {
            g.order
                .iter()
                .enumerate()
                .map(|(i, (s, _))| (*s, format!("#{i}")))
                .collect()
        } else {
            numbered.iter().map(|(t, s)| (*s, t.to_string())).collect()
        };
        let mut first_round: Vec<u64> = Vec::new();
        for (s, _) in &turns {
            if !first_round.contains(s) {
                first_round.push(*s);
            }
        }
        let k = first_round.len();
        let broken = if numbered.is_empty() {
            // Without task numbers the order across connections is unknown (a segment carries
            // a batch): count what any connection got beyond its even share instead.
            let share = turns.len().div_ceil(k.max(1));
            first_round
                .iter()
                .map(|c| {
                    turns
                        .iter()
                        .filter(|(s, _)| s == c)
                        .count()
                        .saturating_sub(share)
                })
                .sum()
        } else {
            // Turn i belongs to the connection that had turn i-k; the first k are all different.
            turns
                .iter()
                .enumerate()
                .filter(|(i, (s, _))| {
                    if *i < k {
                        turns[..*i].iter().any(|(o, _)| o == s)
                    } else {
                        turns[i - k].0 != *s
                    }
                })
                .count()
        };
        Proof {
            claim: Claim::RoundRobin,
            holds: k > 1 && broken == 0,
            args: vec![
                at.to_string(),
                turns.len().to_string(),
                k.to_string(),
                broken.to_string(),
            ],
            details: self.shares(&turns),
        }
    }

    fn fair_queue(&self, at: &str, g: &Group) -> Proof {
        let mut senders: Vec<u64> = g.order.iter().map(|(s, _)| *s).collect();
        senders.sort();
        senders.dedup();
        // The longest run of messages in a row from one connection.
        let mut longest = 0;
        let mut run = 0;
        for (i, (s, _)) in g.order.iter().enumerate() {
            run = if i > 0 && g.order[i - 1].0 == *s {
                run + 1
            } else {
                1
            };
            longest = longest.max(run);
        }
        let turns: Vec<(u64, String)> = g
            .order
            .iter()
            .enumerate()
            .map(|(i, (s, t))| (*s, t.map_or(format!("#{i}"), |t| t.to_string())))
            .collect();
        Proof {
            claim: Claim::FairQueue,
            holds: senders.len() > 1,
            args: vec![
                at.to_string(),
                g.order.len().to_string(),
                senders.len().to_string(),
                longest.to_string(),
            ],
            details: self.shares(&turns),
        }
    }
}
