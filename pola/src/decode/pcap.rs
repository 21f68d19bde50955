//! Reading a capture file frame by frame, pcap or pcapng, without loading it: pcap-parser's
//! streaming reader refills a fixed buffer, so memory stays flat on a capture of any size.
//! Each frame comes with its link type (per interface in pcapng) and its time in seconds.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context};
use pcap_parser::pcapng::Block;
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

/// Calls `each` for every frame of the capture at `path`, in file order.
pub fn for_each_frame(
    path: &Path,
    mut each: impl FnMut(&Frame) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = match create_reader(BUFFER, file) {
        Ok(reader) => reader,
        Err(PcapError::Eof) => bail!("{} is empty, not a capture", path.display()),
        Err(PcapError::HeaderNotRecognized)
        | Err(PcapError::NomError(..))
        | Err(PcapError::OwnedNomError(..)) => {
            bail!(
                "{} is not a pcap or pcapng capture (unknown file header)",
                path.display()
            )
        }
        Err(e) => bail!("{} is not a readable capture: {e}", path.display()),
    };
    // pcap has one link type in its header; pcapng has one per interface, with its own clock unit.
    let mut legacy = (1i32, 1_000_000u64);
    let mut interfaces: Vec<(i32, u64, u64)> = Vec::new();
    let mut capacity = BUFFER;
    let mut packets = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = (
                            h.network.0,
                            if h.is_nanosecond_precision() {
                                1_000_000_000
                            } else {
                                1_000_000
                            },
                        )
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts = b.ts_sec as f64 + b.ts_usec as f64 / legacy.1 as f64;
                        packets += 1;
                        each(&Frame {
                            ts,
                            linktype: legacy.0,
                            wire_len: b.origlen,
                            data: b.data,
                        })?;
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => interfaces.push((
                        idb.linktype.0,
                        idb.ts_resolution().unwrap_or(1_000_000),
                        idb.ts_offset().max(0) as u64,
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (linktype, res, off) = interfaces
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or((-1, 1_000_000, 0));
                        let ts = epb.decode_ts_f64(off, res);
                        packets += 1;
                        each(&Frame {
                            ts,
                            linktype,
                            wire_len: epb.origlen,
                            data: epb.data,
                        })?;
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let linktype = interfaces.first().map_or(-1, |i| i.0);
                        packets += 1;
                        each(&Frame {
                            ts: 0.0,
                            linktype,
                            wire_len: spb.origlen,
                            data: spb.data,
                        })?;
                    }
                    PcapBlockOwned::NG(_) => {}
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
