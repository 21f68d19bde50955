//! What a CURVE capture still shows. CURVE (the ZeroMQ variants `reqrep-curve`, `pubsub-curve`)
//! encrypts with session keys that never leave the two peers, so no file, key log or setting can
//! decrypt the capture, and the model's own proofs, which read message bodies, cannot be made.
//! What stays in clear: the mechanism in each greeting, the command names, and each MESSAGE's
//! size and time. This observer counts those, and its one proof says so.

use std::collections::BTreeMap;

use super::proof::{Claim, Proof};
use crate::decode::walk::{Packet, What};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

/// The CURVE greetings and commands of a capture.
#[derive(Debug, Default)]
pub struct Curve {
    /// Greetings that named CURVE (two per connection).
    greetings: u64,
    /// How many of each command name were seen on CURVE connections.
    commands: BTreeMap<String, u64>,
    /// The smallest and largest MESSAGE body, in bytes.
    sizes: Option<(usize, usize)>,
}

impl Curve {
    pub fn packet(&mut self, p: &Packet) {
        let What::Tcp(t) = &p.what else { return };
        for m in &t.messages {
            match m {
                Message::Zmtp(Zmtp::Greeting { mechanism, .. }) if mechanism == "CURVE" => {
                    self.greetings += 1
                }
                Message::Zmtp(Zmtp::Command { name, detail, .. })
                    if self.greetings > 0 && detail.ends_with("bytes encrypted") =>
                {
                    *self.commands.entry(name.clone()).or_default() += 1;
                    if name == "MESSAGE" {
                        let n = detail
                            .split(' ')
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                        let (lo, hi) = self.sizes.unwrap_or((n, n));
                        self.sizes = Some((lo.min(n), hi.max(n)));
                    }
                }
                _ => {}
            }
        }
    }

    /// The proof for a CURVE capture, or `None` if no connection used CURVE.
    pub fn proof(&self) -> Option<Proof> {
        if self.greetings == 0 {
            return None;
        }
        let (lo, hi) = self.sizes.unwrap_or((0, 0));
        let messages = self.commands.get("MESSAGE").copied().unwrap_or(0);
        Some(Proof {
            claim: Claim::Curve,
            holds: messages > 0,
            args: vec![
                (self.greetings / 2).to_string(),
                messages.to_string(),
                lo.to_string(),
                hi.to_string(),
            ],
            details: self
                .commands
                .iter()
                .map(|(name, n)| format!("{name}: {n}"))
                .collect(),
        })
    }
}
