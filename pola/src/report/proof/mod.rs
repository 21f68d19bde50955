//! What each model's capture proves, computed from its packets: one [`Prover`] per model watches
//! the packet walk and ends with its [`Proof`]s. Every prover runs on every capture (they are
//! cheap); the report keeps the proofs of the capture's model.

mod broker;
mod echo;
mod http;
mod pubsub;
mod push;
mod reqrep;

use std::net::SocketAddr;

use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::zmtp::Zmtp;
use crate::model::Model;

/// The claims the report can make; each has one sentence per language in [`super::lang`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// MQTT: every delivery to a subscriber repeats a PUBLISH that reached the broker first.
    BrokerMiddle,
    /// TCP: every byte the server sent back equals the byte the client sent.
    Echo,
    /// TCP: plain bytes on TCP, no application protocol; data segments carry PSH and ACK.
    PlainTcp,
    /// REST: each request answered exactly once and in order on its keep-alive connection.
    Answered,
    /// REST: an item's life, POST then PUT then DELETE, and 404 after.
    ItemLife,
    /// REQ/REP: request, reply, request, reply on every connection.
    Alternation,
    /// PUSH/PULL: a bound PUSH hands its messages out in turn (round robin).
    RoundRobin,
    /// PUSH/PULL: a bound PULL takes in from every connected PUSH (fair queueing).
    FairQueue,
    /// PUB/SUB: each subscriber receives only the topics it subscribed to.
    Topics,
    /// CURVE: nobody can decrypt the capture; the greeting, command names, sizes and timing show.
    Curve,
    /// A fault capture: the clients' summary lines count nothing lost.
    FaultNothingLost,
    /// A fault capture: the clients count no duplicate.
    FaultNoDuplicates,
}

/// A fact about the model, computed from the packets; `holds` says whether it was true.
#[derive(Debug, Clone)]
pub struct Proof {
    pub claim: Claim,
    pub holds: bool,
    /// Numbers and names the sentence is filled with, in order.
    pub args: Vec<String>,
    pub details: Vec<String>,
}

/// Watches the packet walk for one model's evidence.
pub trait Prover {
    /// One TCP segment, with the names of the capture's hosts.
    fn segment(&mut self, t: &Tcp, names: &Names);
    fn proofs(&self) -> Vec<Proof>;
}

/// The prover of `model`'s evidence.
pub fn prover(model: Model) -> Box<dyn Prover> {
    match model {
        Model::Mqtt => Box::<broker::Broker>::default(),
        Model::Tcp => Box::<echo::Echo>::default(),
        Model::Rest => Box::<http::Http>::default(),
        Model::Reqrep => Box::<reqrep::Alternation>::default(),
        Model::Pushpull => Box::<push::Push>::default(),
        Model::Pubsub => Box::<pubsub::Topics>::default(),
    }
}

/// The client and server ends of a segment's stream.
fn ends(t: &Tcp) -> (SocketAddr, SocketAddr) {
    if t.from_client {
        (t.src, t.dst)
    } else {
        (t.dst, t.src)
    }
}

/// The socket type a ZMTP READY command announces (REQ, PUSH, SUB...).
fn ready_socket_type(z: &Zmtp) -> Option<String> {
    match z {
        Zmtp::Command {
            name, properties, ..
        } if name == "READY" => properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Socket-Type"))
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

/// A preview as a reader wants it in the report: quotes and backslashes unescaped (binary bytes
/// keep their `\x..` form).
pub fn plain(preview: &str) -> String {
    preview.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// At most `n` items of `items` joined by `, `, with `…` if some were left out.
fn first(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(" …");
    }
    s
}
