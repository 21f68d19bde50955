//! A fault capture's own section: `captures/fault-<name>.pcap` with the `.events` file that
//! scripts/fault.sh writes beside it. The events give the moments the faults hit (Unix times, the
//! pcap's clock) and every client's summary line; the packets give what happened after each
//! moment: TCP retransmissions, MQTT redeliveries (DUP flag), new connections and ZMTP greetings
//! (retries), and RSTs. The clients' lines say what was lost and which guarantee held.

use std::path::Path;

use anyhow::{bail, Context};

use super::proof::{Claim, Proof};
use crate::decode::walk::Tcp;
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

/// One line of an events file: `key=value` words, in order.
type Fields = Vec<(String, String)>;

/// What the events file of a fault capture says.
#[derive(Debug, Default)]
pub struct Events {
    /// Each fault step: its Unix time and what it was (`kill service=worker-2`).
    pub steps: Vec<(f64, String)>,
    /// Each client: its name, exit code and summary line (`None`: it printed none).
    pub clients: Vec<(String, String, Option<Fields>)>,
}

impl Events {
    /// Reads `path`; a fault line whose time is not a number is an error naming the line.
    pub fn load(path: &Path) -> anyhow::Result<Events> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the events file {}", path.display()))?;
        let mut events = Events::default();
        for (n, line) in text.lines().enumerate() {
            let fields: Fields = line
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if let Some(kind) = get("fault") {
                // A fault that takes a while (a stop) hits from its from= time on.
                let time = get("from").or(get("at"));
                let Some(at) = time.and_then(|a| a.parse::<f64>().ok()) else {
                    bail!(
                        "{} line {}: a fault with no time at=SECONDS: {line:?}",
                        path.display(),
                        n + 1
                    );
                };
                let mut what = vec![kind.clone()];
                what.extend(
                    fields
                        .iter()
                        .filter(|(k, _)| {
                            !matches!(k.as_str(), "fault" | "at" | "from" | "interface")
                        })
                        .map(|(k, v)| format!("{k}={v}")),
                );
                if line.split_whitespace().any(|w| w == "end") {
                    what.push("end".into());
                }
                events.steps.push((at, what.join(" ")));
            } else if let (Some(client), Some(exit)) = (get("client"), get("exit")) {
                let summary: Fields = fields
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "client" | "exit"))
                    .cloned()
                    .collect();
                let has_line = summary.iter().any(|(k, _)| k == "sent");
                events
                    .clients
                    .push((client.clone(), exit.clone(), has_line.then_some(summary)));
            }
        }
        Ok(events)
    }
}

/// What the packets of one stretch of time show.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Data segments carrying bytes already seen in their direction.
    pub retransmissions: u64,
    /// MQTT PUBLISH packets with the DUP flag.
    pub redelivered: u64,
    /// TCP connections opened (SYN without ACK).
    pub connections: u64,
    /// ZMTP greetings, one per end of every ZeroMQ connection.
    pub greetings: u64,
    pub resets: u64,
}

/// Watches the packet walk and counts, per stretch between two fault steps, what [`Counts`] holds.
#[derive(Debug)]
pub struct Recovery {
    events: Events,
    first_ts: Option<f64>,
    /// `windows[0]`: before the first step; `windows[i]`: from step i-1 to step i.
    windows: Vec<Counts>,
}

impl Recovery {
    pub fn new(events: Events) -> Recovery {
        let windows = vec![Counts::default(); events.steps.len() + 1];
        Recovery {
            events,
            first_ts: None,
            windows,
        }
    }

    /// One packet at `ts` (Unix seconds); `tcp` if it is a TCP segment.
    pub fn packet(&mut self, ts: f64, tcp: Option<&Tcp>) {
        self.first_ts.get_or_insert(ts);
        let Some(t) = tcp else { return };
        let window = self.events.steps.iter().filter(|(at, _)| *at <= ts).count();
        let c = &mut self.windows[window];
        if t.retransmitted {
            c.retransmissions += 1;
        }
        if t.flags.syn && !t.flags.ack {
            c.connections += 1;
        }
        if t.flags.rst {
            c.resets += 1;
        }
        for m in &t.messages {
            match m {
                Message::Mqtt(m) if m.kind == "PUBLISH" && m.dup => c.redelivered += 1,
                Message::Zmtp(Zmtp::Greeting { .. }) => c.greetings += 1,
                _ => {}
            }
        }
    }

    pub fn finish(self) -> FaultReport {
        let start = self.first_ts.unwrap_or(0.0);
        // The stretch before the first step, unless that step came before the first packet.
        let mut windows = Vec::new();
        if self.events.steps.first().is_none_or(|(at, _)| *at > start) {
            windows.push(("–".to_string(), String::new(), self.windows[0]));
        }
        for ((at, what), counts) in self.events.steps.iter().zip(&self.windows[1..]) {
            windows.push((format!("{:+.3}", at - start), what.clone(), *counts));
        }
        let proofs = guarantees(&self.events, &self.windows);
        FaultReport {
            windows,
            clients: self.events.clients,
            proofs,
        }
    }
}

/// The fault section of one capture.
#[derive(Debug)]
pub struct FaultReport {
    /// From each step to the next: seconds since the capture's first packet, the step (empty for
    /// the stretch before the first one), counts.
    pub windows: Vec<(String, String, Counts)>,
    pub clients: Vec<(String, String, Option<Fields>)>,
    pub proofs: Vec<Proof>,
}

/// The sum over the clients' summary lines of `key` (absent: 0).
fn total(events: &Events, key: &str) -> u64 {
    events
        .clients
        .iter()
        .filter_map(|(_, _, f)| f.as_ref())
        .flat_map(|f| f.iter().filter(|(k, _)| k == key))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

/// Which guarantees held, from the clients' own counts and the DUP flags on the wire.
fn guarantees(events: &Events, windows: &[Counts]) -> Vec<Proof> {
    let lines: Vec<String> = events
        .clients
        .iter()
        .map(|(name, exit, f)| match f {
            Some(f) => {
                let words: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{name} (exit {exit}): {}", words.join(" "))
            }
            None => format!("{name} (exit {exit}): -"),
        })
        .collect();
    let counted = events.clients.iter().filter(|c| c.2.is_some()).count();
    // A reissued task is the reliable pipeline's retry.
    let (lost, duplicates, retries) = (
        total(events, "lost"),
        total(events, "duplicates"),
        total(events, "retries") + total(events, "reissued"),
    );
    let dup_flags: u64 = windows.iter().map(|c| c.redelivered).sum();
    vec![
        Proof {
            claim: Claim::FaultNothingLost,
            holds: counted > 0 && lost == 0,
            args: vec![
                counted.to_string(),
                events.clients.len().to_string(),
                lost.to_string(),
                retries.to_string(),
            ],
            details: lines,
        },
        Proof {
            claim: Claim::FaultNoDuplicates,
            holds: duplicates == 0,
            args: vec![duplicates.to_string(), dup_flags.to_string()],
            details: vec![],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_give_steps_clients_and_a_one_line_error_for_a_bad_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fault-x.events");
        std::fs::write(
            &path,
            "fault=rate kbit=2000 interface=eth0 at=10.5\n\
             rss phase=before service=broker kb=900 at=10.6\n\
             fault=kill service=worker-2 from=11.0 at=11.2\n\
             fault=reset end interface=eth0 at=12.0\n\
             client=sink exit=0 sent=10 received=10 lost=0 duplicates=2\n\
             client=worker-2 exit=137 no summary line\n",
        )
        .unwrap();
        let e = Events::load(&path).unwrap();
        let steps: Vec<&str> = e.steps.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            steps,
            ["rate kbit=2000", "kill service=worker-2", "reset end"]
        );
        assert_eq!(e.steps[1].0, 11.0, "the kill hit from its from= time");
        assert_eq!(e.clients.len(), 2);
        assert!(e.clients[1].2.is_none());
        assert_eq!(total(&e, "duplicates"), 2);
        let proofs = guarantees(&e, &[Counts::default()]);
        assert!(proofs[0].holds, "nothing lost");
        assert!(!proofs[1].holds, "2 duplicates");
        std::fs::write(&path, "fault=kill service=a at=soon\n").unwrap();
        let err = Events::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 1: a fault with no time"), "{err}");
    }
}
