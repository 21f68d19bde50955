//! From a captured frame to its TCP segment: the link layer (Ethernet, Linux cooked SLL and SLL2,
//! BSD loopback, raw IP), then IPv4/IPv6 and TCP, all sliced by etherparse without copying.
//! Anything else (UDP, ARP, an unknown link type) is described in a line, never an error.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LinkSlice, NetSlice, SlicedPacket, TransportSlice};
use serde::Serialize;

/// The TCP flags a reader of a capture looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

impl Flags {
    /// The usual combinations as static text, so printing a million lines formats none of them.
    pub fn text(&self) -> std::borrow::Cow<'static, str> {
        match (self.syn, self.fin, self.rst, self.psh, self.ack) {
            (false, false, false, false, true) => "[ACK]".into(),
            (false, false, false, true, true) => "[PSH,ACK]".into(),
            (true, false, false, false, false) => "[SYN]".into(),
            (true, false, false, false, true) => "[SYN,ACK]".into(),
            (false, true, false, false, true) => "[FIN,ACK]".into(),
            (false, false, true, false, _) => if self.ack { "[RST,ACK]" } else { "[RST]" }.into(),
            _ => self.to_string().into(),
        }
    }
}

impl std::fmt::Display for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ];
        let mut first = true;
        f.write_str("[")?;
        for (_, name) in names.iter().filter(|(on, _)| *on) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
        f.write_str("]")
    }
}

/// A TCP segment: addresses, sequence numbers, flags and the payload it carries.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub payload: &'a [u8],
}

/// What a frame holds, as far as pola cares.
#[derive(Debug)]
pub enum Net<'a> {
    Tcp(Segment<'a>),
    /// Not TCP (UDP, ICMP, ARP...): a short description.
    Other(String),
    /// A frame the link/IP/TCP parsers refused, or a link type pola does not know.
    Malformed(String),
}

const ETHERNET: i32 = 1;
const NULL: i32 = 0;
const LOOP: i32 = 108;
const RAW: i32 = 101;
const RAW_OLD: i32 = 12;
const IPV4: i32 = 228;
const IPV6: i32 = 229;
const LINUX_SLL: i32 = 113;
const LINUX_SLL2: i32 = 276;

/// Decodes a frame of link type `linktype`.
pub fn decode(linktype: i32, data: &[u8]) -> Net<'_> {
    let sliced = match linktype {
        ETHERNET => SlicedPacket::from_ethernet(data),
        // SLL (16-byte header) is sliced by hand: etherparse refuses the loopback ARPHRD type (772)
        // that every loopback packet of `tcpdump -i any` carries.
        LINUX_SLL if data.len() >= 16 => SlicedPacket::from_ether_type(
            EtherType(u16::from_be_bytes([data[14], data[15]])),
            &data[16..],
        ),
        // SLL2 (tcpdump -i any since libpcap 1.10): 20-byte header, protocol type first.
        LINUX_SLL2 if data.len() >= 20 => SlicedPacket::from_ether_type(
            EtherType(u16::from_be_bytes([data[0], data[1]])),
            &data[20..],
        ),
        // BSD loopback: a 4-byte address family in the capturing host's byte order.
        NULL | LOOP if data.len() >= 4 => SlicedPacket::from_ip(&data[4..]),
        RAW | RAW_OLD | IPV4 | IPV6 => SlicedPacket::from_ip(data),
        LINUX_SLL | LINUX_SLL2 | NULL | LOOP => {
            return Net::Malformed(format!(
                "frame of {} bytes is shorter than its link header",
                data.len()
            ))
        }
        other => {
            return Net::Malformed(format!(
            "unknown link type {other}: pola reads Ethernet, Linux SLL/SLL2, loopback and raw IP"
        ))
        }
    };
    let packet = match sliced {
        Ok(packet) => packet,
        Err(e) => return Net::Malformed(format!("undecodable frame: {e}")),
    };
    let (src, dst) = match &packet.net {
        Some(NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        Some(NetSlice::Arp(_)) => return Net::Other("ARP".into()),
        None => {
            return Net::Other(match &packet.link {
                Some(LinkSlice::Ethernet2(e)) => format!("ethertype {:#06x}", e.ether_type().0),
                _ => "not IP".into(),
            })
        }
    };
    match packet.transport {
        Some(TransportSlice::Tcp(tcp)) => Net::Tcp(Segment {
            src: SocketAddr::new(src, tcp.source_port()),
            dst: SocketAddr::new(dst, tcp.destination_port()),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: Flags {
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                psh: tcp.psh(),
            },
            payload: tcp.payload(),
        }),
        Some(TransportSlice::Udp(udp)) => Net::Other(format!(
            "UDP {} → {} len={}",
            SocketAddr::new(src, udp.source_port()),
            SocketAddr::new(dst, udp.destination_port()),
            udp.payload().len()
        )),
        Some(TransportSlice::Icmpv4(_)) => Net::Other(format!("ICMP {src} → {dst}")),
        Some(TransportSlice::Icmpv6(_)) => Net::Other(format!("ICMPv6 {src} → {dst}")),
        _ => Net::Other(format!("IP {src} → {dst} (not TCP)")),
    }
}
