//! The figures of one capture, computed from its packets in one streaming pass by small
//! observers, one per concern: traffic and overhead ([`Traffic`]), handshake cost
//! ([`Handshakes`]), the ladder diagram ([`Ladder`]), and each model's proofs
//! ([`Prover`](super::proof::Prover)).

use std::collections::BTreeMap;
use std::path::Path;

use super::curve::Curve;
use super::fault::{Events, FaultReport, Recovery};
use super::ladder::Ladder;
use super::proof::{prover, Proof, Prover};
use super::traffic::{Handshake, Handshakes, Traffic};
use super::twins::Exposure;
use crate::decode::names::Names;
use crate::decode::pcap::End;
use crate::decode::walk::{walk, What};
use crate::model::Model;

/// Everything the report says about one capture.
#[derive(Debug)]
pub struct Analysis {
    pub name: String,
    /// The capture's model: named by its file, else the model most of its segments belong to.
    pub model: Option<Model>,
    pub traffic: Traffic,
    pub handshake: Handshake,
    pub ladder: Ladder,
    pub proofs: Vec<Proof>,
    /// What an eavesdropper reads, for the table of encrypted twins.
    pub exposure: Exposure,
    /// A fault capture's section: `fault-<name>.pcap` with its `.events` file beside it.
    pub fault: Option<FaultReport>,
    pub truncated: bool,
}

/// Analyses the capture at `path`; its file stem names the model when it is one.
pub fn analyse(path: &Path, names: &Names) -> anyhow::Result<Analysis> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut traffic = Traffic::default();
    let mut handshakes = Handshakes::default();
    let mut ladder = Ladder::default();
    let mut curve = Curve::default();
    let mut provers: Vec<(Model, Box<dyn Prover>)> =
        Model::ALL.iter().map(|&m| (m, prover(m))).collect();
    let mut exposure = Exposure::default();
    let mut seen: BTreeMap<Model, u64> = BTreeMap::new();
    let events = path.with_extension("events");
    let mut recovery = if name.starts_with("fault-") && events.exists() {
        Some(Recovery::new(Events::load(&events)?))
    } else {
        None
    };
    let end = walk(path, |p| {
        traffic.packet(p);
        if let Some(r) = &mut recovery {
            let tcp = match &p.what {
                What::Tcp(t) => Some(t),
                _ => None,
            };
            r.packet(p.ts, tcp);
        }
        handshakes.packet(p);
        exposure.packet(p, names);
        ladder.packet(p, names);
        curve.packet(p);
        if let What::Tcp(t) = &p.what {
            if let Some(m) = t.model {
                *seen.entry(m).or_default() += 1;
            }
            for (_, prover) in &mut provers {
                prover.segment(t, names);
            }
        }
        Ok(())
    })?;
    let model = Model::from_name(&name).or_else(|| {
        let busiest = seen.iter().max_by_key(|(_, n)| **n);
        busiest.map(|(m, _)| *m)
    });
    let mut proofs: Vec<Proof> = provers
        .iter()
        .filter(|(m, _)| Some(*m) == model)
        .flat_map(|(_, p)| p.proofs())
        .collect();
    // Under CURVE the model's proofs have no bodies to read: what the capture shows instead.
    if let Some(proof) = curve.proof() {
        proofs = vec![proof];
    }
    let fault = recovery.map(Recovery::finish);
    if let Some(f) = &fault {
        proofs.extend(f.proofs.iter().cloned());
    }
    Ok(Analysis {
        name,
        model,
        traffic,
        handshake: handshakes.total,
        ladder,
        proofs,
        exposure,
        fault,
        truncated: end == End::Truncated,
    })
}
