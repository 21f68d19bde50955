//! `pola inspect <pcap>`: one line per packet in the spirit of tshark's summary — time, source
//! and destination (with the compose service name where a hosts file gives it), TCP flags, and the
//! application messages that packet completed. `-` reads a pcap stream from standard input, so a
//! capture can be watched while it is written. [`counts`] is what the tshark check compares.

pub mod counts;
pub mod print;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::decode::names::Names;
use crate::decode::pcap::End;
use crate::decode::walk::{walk_with, Decrypt, Packet, What};
use crate::model::Model;
pub use counts::{count, count_with, Counts};

#[derive(clap::Args)]
pub struct Args {
    /// The capture to read (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2, loopback or raw IP);
    /// `-` reads it from standard input as it is written.
    #[arg(env = "POLA_PCAP")]
    pub pcap: PathBuf,
    /// Print JSON lines (one object per packet) instead of text.
    #[arg(long, env = "POLA_JSON")]
    pub json: bool,
    /// Show only TCP stream N (numbered in order of appearance, as Wireshark's tcp.stream).
    #[arg(long, env = "POLA_STREAM")]
    pub stream: Option<u64>,
    /// Show only the streams of one model.
    #[arg(long, env = "POLA_MODEL")]
    pub model: Option<Model>,
    /// Print only the count of each message kind as one JSON object (what tshark is compared with).
    #[arg(long, env = "POLA_COUNTS")]
    pub counts: bool,
    /// A hosts file (`IP name` per line) naming addresses; default: `<pcap>.hosts` beside the capture.
    #[arg(long, env = "POLA_HOSTS")]
    pub hosts: Option<PathBuf>,
    /// A TLS key log (SSLKEYLOGFILE format) to decrypt TLS with, besides the secrets a pcapng
    /// capture embeds.
    #[arg(long, env = "POLA_KEYLOG")]
    pub keylog: Option<PathBuf>,
    /// Leave TLS encrypted: show its records only, even with secrets at hand.
    #[arg(long, env = "POLA_NO_DECRYPT")]
    pub no_decrypt: bool,
}

impl Args {
    /// How TLS is decrypted: the key log file read, unless decryption is off.
    fn decrypt(&self) -> anyhow::Result<Decrypt> {
        let keylog = match (&self.keylog, self.no_decrypt) {
            (Some(file), false) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading the key log {}", file.display()))?,
            ),
            _ => None,
        };
        Ok(Decrypt {
            off: self.no_decrypt,
            keylog,
        })
    }
}

/// Lines held back until their stream's model is known (`--model`): a ZeroMQ stream says its
/// socket types only in READY, after its SYNs and greetings, and the file is read only once.
#[derive(Default)]
struct ModelFilter {
    decided: HashMap<u64, bool>,
    held: VecDeque<(u64, Vec<u8>)>,
}

/// Lines held at most; past that, the oldest undecided stream is taken as another model's.
const HELD: usize = 100_000;

impl ModelFilter {
    /// Takes the line of a packet of `stream`; returns the lines now known to be wanted, in order.
    fn take(&mut self, stream: u64, model: Option<Model>, want: Model, line: Vec<u8>) -> Vec<u8> {
        if let Some(m) = model {
            self.decided.insert(stream, m == want);
        }
        self.held.push_back((stream, line));
        self.release(false)
    }

    /// The lines at the front whose stream is decided (all of them at the end of the capture).
    fn release(&mut self, all: bool) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some((stream, _)) = self.held.front() {
            let keep = match self.decided.get(stream) {
                Some(keep) => *keep,
                None if all || self.held.len() > HELD => false,
                None => break,
            };
            let (_, line) = self.held.pop_front().expect("front exists");
            if keep {
                out.extend(line);
            }
        }
        out
    }
}

/// Writes what `args` asks for of one packet into `out`.
fn show(
    args: &Args,
    p: &Packet,
    t0: f64,
    names: &Names,
    text: &mut print::Text,
    filter: &mut ModelFilter,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let tcp = match &p.what {
        What::Tcp(t) => Some(t),
        _ => None,
    };
    if args.model.is_some() || args.stream.is_some() {
        let Some(t) = tcp else { return Ok(()) };
        if args.stream.is_some_and(|n| n != t.stream) {
            return Ok(());
        }
    }
    let json = args.json;
    match (args.model, tcp) {
        (Some(want), Some(t)) => {
            let mut line = Vec::new();
            render(&mut line, json, p, t0, names, text)?;
            out.write_all(&filter.take(t.stream, t.model, want, line))
        }
        // Straight to the output: a listing without a model filter holds nothing back.
        _ => render(out, json, p, t0, names, text),
    }
}

/// One packet as a text line or a JSON line.
fn render(
    out: &mut impl Write,
    json: bool,
    p: &Packet,
    t0: f64,
    names: &Names,
    text: &mut print::Text,
) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", print::json(p, t0, names))
    } else {
        text.write(out, p, t0)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = &args.pcap;
    if args.counts {
        let counts = count_with(path, &args.decrypt()?)?;
        println!("{}", serde_json::to_string(&counts)?);
        return Ok(());
    }
    let names = Names::for_capture(path, args.hosts.as_deref())?;
    // From a pipe, each line goes out as its packet comes in: that is the live view.
    let live = path.as_os_str() == "-";
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut text = print::Text::new(&names);
    let mut filter = ModelFilter::default();
    let mut t0 = None;
    let decrypt = args.decrypt()?;
    let end = walk_with(path, &decrypt, |p| {
        let t0 = *t0.get_or_insert(p.ts);
        let mut written = show(&args, p, t0, &names, &mut text, &mut filter, &mut out);
        if live {
            written = written.and_then(|()| out.flush());
        }
        match written {
            // A closed pipe (`pola inspect x | head`) ends the listing quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => bail!(Quiet),
            other => other.context("writing to stdout"),
        }
    });
    let end = match end {
        Err(e) if e.is::<Quiet>() => return Ok(()),
        other => other?,
    };
    let rest = out
        .write_all(&filter.release(true))
        .and_then(|()| out.flush());
    match rest {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("writing to stdout")?,
    }
    if end == End::Truncated {
        bail!("{} is truncated: it ends inside a packet record (every complete packet is shown above)", path.display());
    }
    Ok(())
}

/// Stops a listing whose reader went away.
#[derive(Debug)]
struct Quiet;

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout closed")
    }
}

impl std::error::Error for Quiet {}
