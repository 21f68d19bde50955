//! `pola inspect <pcap>`: one line per packet in the spirit of tshark's summary — time, source
//! and destination (with the compose service name where a hosts file gives it), TCP flags, and the
//! application messages that packet completed. [`walk`] is the streaming core that `pola report`
//! and the tests share; [`Counts`] is what the tshark agreement check compares.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::decode::link::{self, Flags, Net};
use crate::decode::pcap::{self, End};
use crate::decode::stream::{Protocol, Tracker};
use crate::decode::zmtp::Zmtp;
use crate::decode::Message;

#[derive(clap::Args)]
pub struct Args {
    /// The capture to read (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2, loopback or raw IP).
    #[arg(env = "POLA_PCAP")]
    pub pcap: PathBuf,
    /// Print JSON lines (one object per packet) instead of text.
    #[arg(long, env = "POLA_JSON")]
    pub json: bool,
    /// Show only TCP stream N (numbered in order of appearance, as Wireshark's tcp.stream).
    #[arg(long, env = "POLA_STREAM")]
    pub stream: Option<u64>,
    /// Show only streams of one model: mqtt, tcp, rest, reqrep, pushpull or pubsub.
    #[arg(long, env = "POLA_MODEL", value_parser = ["mqtt", "tcp", "rest", "reqrep", "pushpull", "pubsub"])]
    pub model: Option<String>,
    /// Print only the count of each message kind as one JSON object (what tshark is compared with).
    #[arg(long, env = "POLA_COUNTS")]
    pub counts: bool,
    /// A hosts file (`IP name` per line) naming addresses; default: <pcap>.hosts beside the capture.
    #[arg(long, env = "POLA_HOSTS")]
    pub hosts: Option<PathBuf>,
}

/// One TCP segment as pola understood it.
#[derive(Debug, Clone, Serialize)]
pub struct Tcp {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    #[serde(serialize_with = "flags_text")]
    pub flags: Flags,
    /// TCP payload bytes in this segment.
    pub len: usize,
    pub stream: u64,
    pub from_client: bool,
    /// True if this segment opened the stream (a SYN, or the first segment seen of it).
    #[serde(skip)]
    pub opened: bool,
    pub protocol: Option<Protocol>,
    #[serde(skip)]
    pub model: Option<&'static str>,
    pub messages: Vec<Message>,
}

fn flags_text<S: serde::Serializer>(f: &Flags, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(f)
}

/// What a packet held.
#[derive(Debug, Clone)]
pub enum What {
    Tcp(Tcp),
    Other(String),
    Malformed(String),
}

/// One packet of a capture.
#[derive(Debug, Clone)]
pub struct Packet {
    /// 1-based, as in Wireshark.
    pub no: u64,
    /// Seconds since the epoch.
    pub ts: f64,
    pub wire_len: u32,
    pub what: What,
}

/// Reads the capture at `path` packet by packet, decoding every TCP stream; `each` sees every
/// packet in order. Memory stays flat: frames are not kept, only open streams' partial messages.
pub fn walk(
    path: &Path,
    mut each: impl FnMut(&Packet) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    let mut tracker = Tracker::new();
    let mut no = 0;
    pcap::for_each_frame(path, |frame| {
        no += 1;
        let what = match link::decode(frame.linktype, frame.data) {
            Net::Tcp(seg) => {
                let seen = tracker.segment(frame.ts, &seg);
                let stream = tracker.stream(&seg);
                What::Tcp(Tcp {
                    src: seg.src,
                    dst: seg.dst,
                    flags: seg.flags,
                    len: seg.payload.len(),
                    stream: seen.stream,
                    from_client: seen.from_client,
                    opened: seen.opened,
                    protocol: stream.and_then(|s| s.protocol()),
                    model: stream.and_then(|s| s.model()),
                    messages: seen.messages,
                })
            }
            Net::Other(text) => What::Other(text),
            Net::Malformed(text) => What::Malformed(text),
        };
        each(&Packet {
            no,
            ts: frame.ts,
            wire_len: frame.wire_len,
            what,
        })
    })
}

/// Addresses named by a hosts file (`IP name [aliases]`, `#` comments), as compose names services.
#[derive(Default)]
pub struct Names(HashMap<IpAddr, String>);

impl Names {
    /// Reads `path`; a missing default file is no error, a missing named one is.
    pub fn load(path: &Path) -> anyhow::Result<Names> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading hosts file {}", path.display()))?;
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            if let (Some(ip), Some(name)) = (words.next(), words.next()) {
                let ip: IpAddr = ip
                    .parse()
                    .with_context(|| format!("{}: {ip:?} is not an IP address", path.display()))?;
                names.insert(ip, name.to_string());
            }
        }
        Ok(Names(names))
    }

    /// The hosts file for a capture: `--hosts`, else `<capture>.hosts` if it exists.
    pub fn for_capture(pcap: &Path, hosts: Option<&Path>) -> anyhow::Result<Names> {
        match hosts {
            Some(h) => Names::load(h),
            None => {
                let default = pcap.with_extension("hosts");
                if default.exists() {
                    Names::load(&default)
                } else {
                    Ok(Names::default())
                }
            }
        }
    }

    pub fn name(&self, ip: &IpAddr) -> Option<&str> {
        self.0.get(ip).map(String::as_str)
    }

    /// `name:port` where the address is known, else `ip:port`.
    pub fn endpoint(&self, addr: &SocketAddr) -> String {
        match self.name(&addr.ip()) {
            Some(n) => format!("{n}:{}", addr.port()),
            None => addr.to_string(),
        }
    }
}

/// The count of each message kind in a capture: what `wireshark/check.sh` compares with tshark
/// and with the Lua dissector.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub packets: u64,
    pub tcp_streams: u64,
    pub mqtt: BTreeMap<String, u64>,
    pub http_methods: BTreeMap<String, u64>,
    pub http_status: BTreeMap<String, u64>,
    pub zmtp_connections: u64,
    pub zmtp_greetings: u64,
    pub zmtp_commands: BTreeMap<String, u64>,
    pub zmtp_messages: u64,
    pub malformed: u64,
    /// Server ports of the streams of each protocol, to tell tshark where to look.
    pub ports: BTreeMap<String, BTreeSet<u16>>,
    pub truncated: bool,
}

impl Counts {
    pub fn add(&mut self, p: &Packet) {
        self.packets += 1;
        let What::Tcp(t) = &p.what else { return };
        if t.opened {
            self.tcp_streams += 1;
        }
        for m in &t.messages {
            let server_port = if t.from_client {
                t.dst.port()
            } else {
                t.src.port()
            };
            let proto = match m {
                Message::Mqtt(m) => {
                    *self.mqtt.entry(m.kind.to_string()).or_default() += 1;
                    "mqtt"
                }
                Message::Http(h) => {
                    match (&h.method, h.status) {
                        (Some(method), _) => {
                            *self.http_methods.entry(method.clone()).or_default() += 1
                        }
                        (_, Some(status)) => {
                            *self.http_status.entry(status.to_string()).or_default() += 1
                        }
                        _ => {}
                    }
                    "http"
                }
                Message::Zmtp(z) => {
                    match z {
                        Zmtp::Greeting { .. } => {
                            self.zmtp_greetings += 1;
                            if !t.from_client {
                                self.zmtp_connections += 1;
                            }
                        }
                        Zmtp::Command { name, .. } => {
                            *self.zmtp_commands.entry(name.clone()).or_default() += 1
                        }
                        Zmtp::Message { .. } => self.zmtp_messages += 1,
                    }
                    "zmtp"
                }
                Message::Malformed { .. } => {
                    self.malformed += 1;
                    continue;
                }
                Message::Raw { .. } => continue,
            };
            self.ports
                .entry(proto.into())
                .or_default()
                .insert(server_port);
        }
    }
}

/// Counts every message kind of the capture at `path`.
pub fn count(path: &Path) -> anyhow::Result<Counts> {
    let mut counts = Counts::default();
    let end = walk(path, |p| {
        counts.add(p);
        Ok(())
    })?;
    counts.truncated = end == End::Truncated;
    Ok(counts)
}

/// The streams of `path` that belong to `model` (a first pass, so the second can filter in order).
fn streams_of(path: &Path, model: &str) -> anyhow::Result<HashSet<u64>> {
    let mut models: HashMap<u64, &'static str> = HashMap::new();
    walk(path, |p| {
        if let What::Tcp(t) = &p.what {
            if let Some(m) = t.model {
                models.insert(t.stream, m);
            }
        }
        Ok(())
    })?;
    Ok(models
        .into_iter()
        .filter(|(_, m)| *m == model)
        .map(|(id, _)| id)
        .collect())
}

/// One packet as a text line.
pub fn line(p: &Packet, t0: f64, names: &Names) -> String {
    let mut buf = Vec::new();
    let _ = write_line(&mut buf, p, t0, names);
    String::from_utf8_lossy(&buf).trim_end().to_string()
}

/// Writes one packet as a text line, straight into `out`.
pub fn write_line(out: &mut impl Write, p: &Packet, t0: f64, names: &Names) -> std::io::Result<()> {
    write_line_cached(out, p, t0, names, &mut HashMap::new())
}

/// [`write_line`] with the text of each endpoint kept in `seen`: a stream's addresses repeat on
/// every line, and formatting them was most of the cost of a line.
fn write_line_cached(
    out: &mut impl Write,
    p: &Packet,
    t0: f64,
    names: &Names,
    seen: &mut HashMap<SocketAddr, String>,
) -> std::io::Result<()> {
    // Seconds and microseconds as integers: float formatting was a third of the time per line.
    let micros = ((p.ts - t0).max(0.0) * 1e6).round() as u64;
    write!(
        out,
        "{:>6} {:>3}.{:06}",
        p.no,
        micros / 1_000_000,
        micros % 1_000_000
    )?;
    match &p.what {
        What::Tcp(t) => {
            if seen.len() > 100_000 {
                seen.clear();
            }
            for (addr, sep) in [(&t.src, &b" "[..]), (&t.dst, " → ".as_bytes())] {
                out.write_all(sep)?;
                let text = seen.entry(*addr).or_insert_with(|| names.endpoint(addr));
                out.write_all(text.as_bytes())?;
            }
            write!(out, " {} len={} stream={}", t.flags.text(), t.len, t.stream)?;
            for (i, m) in t.messages.iter().enumerate() {
                out.write_all(if i == 0 { b"  " } else { b" ; " })?;
                write!(out, "{m}")?;
            }
        }
        What::Other(text) => write!(out, " {text}")?,
        What::Malformed(text) => write!(out, " malformed frame: {text}")?,
    }
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct JsonLine<'a> {
    no: u64,
    time: f64,
    wire_len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_name: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    tcp: Option<&'a Tcp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<&'a str>,
}

/// One packet as a JSON object.
pub fn json(p: &Packet, t0: f64, names: &Names) -> String {
    let (tcp, other, malformed) = match &p.what {
        What::Tcp(t) => (Some(t), None, None),
        What::Other(s) => (None, Some(s.as_str()), None),
        What::Malformed(s) => (None, None, Some(s.as_str())),
    };
    let line = JsonLine {
        no: p.no,
        time: p.ts - t0,
        wire_len: p.wire_len,
        src_name: tcp.and_then(|t| names.name(&t.src.ip())),
        dst_name: tcp.and_then(|t| names.name(&t.dst.ip())),
        tcp,
        other,
        malformed,
    };
    serde_json::to_string(&line).unwrap_or_default()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = &args.pcap;
    if args.counts {
        let counts = count(path)?;
        println!("{}", serde_json::to_string(&counts)?);
        return Ok(());
    }
    let names = Names::for_capture(path, args.hosts.as_deref())?;
    let only: Option<HashSet<u64>> = match (&args.model, args.stream) {
        (Some(m), _) => Some(streams_of(path, m)?),
        (None, Some(n)) => Some(HashSet::from([n])),
        (None, None) => None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut t0 = None;
    let mut seen: HashMap<SocketAddr, String> = HashMap::new();
    let end = walk(path, |p| {
        let t0 = *t0.get_or_insert(p.ts);
        if let Some(only) = &only {
            let keep = matches!(&p.what, What::Tcp(t) if only.contains(&t.stream) && args.stream.is_none_or(|n| n == t.stream));
            if !keep {
                return Ok(());
            }
        }
        let written = if args.json {
            writeln!(out, "{}", json(p, t0, &names))
        } else {
            write_line_cached(&mut out, p, t0, &names, &mut seen)
        };
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
    match out.flush() {
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
