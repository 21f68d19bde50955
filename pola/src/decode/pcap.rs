//! Reading a capture file frame by frame, pcap or pcapng, without loading it: pcap-parser's
//! streaming reader refills a fixed buffer, so memory stays flat on a capture of any size.
//! Each frame comes with its link type (per interface in pcapng) and its time in seconds; `-`
//! reads a capture still being written from standard input (`tcpdump -w - | pola inspect -`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};
use pcap_parser::pcapng::{Block, SecretsType};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

/// One captured frame, borrowed from the reader's buffer.
pub struct Frame<'a> {
    /// Seconds since the epoch.
    pub ts: f64,
    /// The link-layer type (1 Ethernet, 113 Linux SLL, 276 Linux SLL2, 101 raw IP...).
    pub linktype: i32,
    /// Length of the frame on the wire (may exceed `data.len()` when the snap length cut it).
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// How reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Complete,
    /// The file ends inside a record: the capture was cut short (tcpdump killed, disk full).
    Truncated,
}

const BUFFER: usize = 1 << 20;
const MAX_BUFFER: usize = 64 << 20;

/// Calls `each` for every frame of the capture at `path` (`-`: standard input), in file order.
pub fn for_each_frame(
    path: &Path,
    each: impl FnMut(&Frame) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    for_each_frame_and_secret(path, |_| {}, each)
}

/// As [`for_each_frame`], and calls `secret` with the text of every TLS key log a pcapng
/// Decryption Secrets Block holds (`editcap --inject-secrets tls,...` writes them before the
/// packets they decrypt).
pub fn for_each_frame_and_secret(
    path: &Path,
    mut secret: impl FnMut(&str),
    mut each: impl FnMut(&Frame) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    let mut reader = open(path)?;
    let mut clock = Clock::default();
    let mut capacity = BUFFER;
    let mut packets = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                if let PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)) = &block {
                    if dsb.secrets_type == SecretsType::TlsKeyLog {
                        let len = (dsb.secrets_len as usize).min(dsb.data.len());
                        secret(&String::from_utf8_lossy(&dsb.data[..len]));
                    }
                }
                if let Some(frame) = clock.frame(block) {
                    packets += 1;
                    each(&frame)?;
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => return Ok(End::Complete),
            Err(PcapError::UnexpectedEof) => return Ok(End::Truncated),
            Err(PcapError::Incomplete(_)) => reader
                .refill()
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
            Err(PcapError::BufferTooSmall) if capacity < MAX_BUFFER => {
                capacity *= 2;
                reader.grow(capacity);
                reader
                    .refill()
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
            }
            Err(e) => {
                let what = e.to_string();
                bail!(
                    "{}: damaged capture after packet {packets}: {what}",
                    path.display()
                )
            }
        }
    }
}

/// A streaming reader of the file at `path`, or of standard input for `-`.
fn open(path: &Path) -> anyhow::Result<Box<dyn PcapReaderIterator + Send>> {
    let source: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(head_first(std::io::stdin())?)
    } else {
        Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    match create_reader(BUFFER, source) {
        Ok(reader) => Ok(reader),
        Err(PcapError::Eof) => bail!("{} is empty, not a capture", path.display()),
        Err(PcapError::HeaderNotRecognized)
        | Err(PcapError::Incomplete(_))
        | Err(PcapError::NomError(..))
        | Err(PcapError::OwnedNomError(..)) => {
            bail!(
                "{} is not a pcap or pcapng capture (unknown file header)",
                path.display()
            )
        }
        Err(e) => bail!("{} is not a readable capture: {e}", path.display()),
    }
}

/// A pipe delivers bytes as they come, but the reader recognises the file by its first read:
/// read the whole file header (pcap's 24 bytes, or pcapng's first block) before handing over.
fn head_first(mut input: impl Read + Send) -> anyhow::Result<impl Read + Send> {
    let mut head = Vec::new();
    let mut want = 24;
    while head.len() < want {
        let mut chunk = vec![0; want - head.len()];
        let n = input.read(&mut chunk).context("reading standard input")?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.len() >= 12 && head[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            // pcapng: the section header block's length, in the byte order its magic shows.
            let len: [u8; 4] = head[4..8].try_into().unwrap_or_default();
            let len = if head[8..12] == [0x4d, 0x3c, 0x2b, 0x1a] {
                u32::from_le_bytes(len)
            } else {
                u32::from_be_bytes(len)
            };
            want = want.max((len as usize).min(1 << 16));
        }
    }
    Ok(std::io::Cursor::new(head).chain(input))
}

/// The link type and clock of the capture so far: pcap has one in its header, pcapng one per
/// interface, each with its own clock unit.
struct Clock {
    legacy: (i32, u64),
    interfaces: Vec<(i32, u64, u64)>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            legacy: (1, 1_000_000),
            interfaces: Vec::new(),
        }
    }
}

impl Clock {
    /// The frame a block holds, if it is a packet; header blocks update the clock instead.
    fn frame<'a>(&mut self, block: PcapBlockOwned<'a>) -> Option<Frame<'a>> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let unit = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                self.legacy = (h.network.0, unit);
                None
            }
            PcapBlockOwned::Legacy(b) => Some(Frame {
                ts: b.ts_sec as f64 + b.ts_usec as f64 / self.legacy.1 as f64,
                linktype: self.legacy.0,
                wire_len: b.origlen,
                data: b.data,
            }),
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.interfaces.clear();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push((
                    idb.linktype.0,
                    idb.ts_resolution().unwrap_or(1_000_000),
                    idb.ts_offset().max(0) as u64,
                ));
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let (linktype, res, off) = self
                    .interfaces
                    .get(epb.if_id as usize)
                    .copied()
                    .unwrap_or((-1, 1_000_000, 0));
                Some(Frame {
                    ts: epb.decode_ts_f64(off, res),
                    linktype,
                    wire_len: epb.origlen,
                    data: epb.data,
                })
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => Some(Frame {
                ts: 0.0,
                linktype: self.interfaces.first().map_or(-1, |i| i.0),
                wire_len: spb.origlen,
                data: spb.data,
            }),
            PcapBlockOwned::NG(_) => None,
        }
    }
}
