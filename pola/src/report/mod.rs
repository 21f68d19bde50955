//! `pola report`: every capture in `captures/` summarised side by side, as one self-contained HTML
//! page (inline CSS and SVG ladder diagrams) and as Markdown, in English or Bahasa Indonesia.
//! Every figure and every claim is computed from the packets by [`analysis`]; [`render`] and
//! [`svg`] only lay them out, with the words of [`lang`]. A fault capture (`fault-<name>.pcap`
//! with its `.events`) also gets [`fault`]'s section, and each plain model with an encrypted twin
//! (`mqtt` and `mqtt-tls`, ...) a table of the two side by side ([`twins`]).

pub mod analysis;
pub mod curve;
pub mod fault;
pub mod ladder;
pub mod lang;
pub mod proof;
pub mod render;
pub mod svg;
pub mod traffic;
pub mod twins;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::decode::names::Names;
use crate::model::Model;
use analysis::{analyse, Analysis};

#[derive(clap::Args)]
pub struct Args {
    /// The folder holding the captures (*.pcap, *.pcapng) to summarise.
    #[arg(long, env = "POLA_CAPTURES", default_value = "captures")]
    pub captures: PathBuf,
    /// Where report.html and report.md are written (default: the captures folder).
    #[arg(long, env = "POLA_OUT")]
    pub out: Option<PathBuf>,
    /// The language of the report: en (English) or id (Bahasa Indonesia).
    #[arg(long, env = "POLA_LANG", default_value = "en", value_parser = ["en", "id"])]
    pub lang: String,
}

/// The captures of `dir`, pola's models first in their usual order, then any others by name.
pub fn captures_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the captures folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    let rank = |p: &PathBuf| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        (
            Model::from_name(stem).map_or(Model::ALL.len(), |m| m as usize),
            stem.to_string(),
        )
    };
    found.sort_by_key(rank);
    Ok(found)
}

/// Analyses every capture of `dir`; a capture that cannot be read is reported, not fatal.
pub fn analyse_all(dir: &Path) -> anyhow::Result<(Vec<Analysis>, Vec<String>)> {
    let mut done = Vec::new();
    let mut problems = Vec::new();
    for path in captures_in(dir)? {
        let names = Names::for_capture(&path, None)?;
        match analyse(&path, &names) {
            Ok(a) => done.push(a),
            Err(e) => problems.push(format!("{}: {e:#}", path.display())),
        }
    }
    Ok((done, problems))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (analyses, problems) = analyse_all(&args.captures)?;
    for p in &problems {
        log::warn!("{p}");
    }
    if analyses.is_empty() {
        bail!(
            "no readable capture in {} (make up writes them there)",
            args.captures.display()
        );
    }
    let words = lang::words(&args.lang);
    let out = args.out.unwrap_or_else(|| args.captures.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let html = out.join("report.html");
    let md = out.join("report.md");
    std::fs::write(&html, render::html(&analyses, &problems, words))
        .with_context(|| format!("writing {}", html.display()))?;
    std::fs::write(&md, render::markdown(&analyses, &problems, words))
        .with_context(|| format!("writing {}", md.display()))?;
    println!(
        "wrote {} and {} ({} captures)",
        html.display(),
        md.display(),
        analyses.len()
    );
    Ok(())
}
