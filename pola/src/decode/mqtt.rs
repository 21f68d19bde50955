//! MQTT control packets, framed and decoded by the codec inside rumqttc (`mqttbytes`, MQTT 3.1.1).
//! MQTT 5 streams (protocol level 5 in CONNECT) are named by their fixed header and topic only,
//! since the 3.1.1 codec would refuse their properties.

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::Packet;
use rumqttc::mqttbytes::{check, Error as CodecError, QoS};
use serde::Serialize;

use super::{preview, Message, PREVIEW};

/// An MQTT control packet with the fields a student looks for.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mqtt {
    /// CONNECT, CONNACK, PUBLISH, PUBACK, ... as Wireshark names them in `mqtt.msgtype`.
    pub kind: &'static str,
    pub client_id: Option<String>,
    pub topic: Option<String>,
    pub qos: Option<u8>,
    /// PUBLISH: the DUP flag, set on a QoS 1 or 2 message sent again (a redelivery).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dup: bool,
    pub packet_id: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    pub code: Option<String>,
    pub payload_len: usize,
    pub preview: Option<String>,
}

impl std::fmt::Display for Mqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)?;
        if let Some(id) = &self.client_id {
            write!(f, " client_id={id}")?;
        }
        if let Some(t) = &self.topic {
            write!(f, " topic={t}")?;
        }
        if let Some(q) = self.qos {
            write!(f, " qos={q}")?;
        }
        if self.dup {
            f.write_str(" dup")?;
        }
        if let Some(id) = self.packet_id {
            write!(f, " id={id}")?;
        }
        if !self.filters.is_empty() {
            write!(f, " filters={}", self.filters.join(","))?;
        }
        if let Some(c) = &self.code {
            write!(f, " code={c}")?;
        }
        if let Some(p) = &self.preview {
            write!(f, " len={} \"{p}\"", self.payload_len)?;
        }
        Ok(())
    }
}

/// Packet type names, indexed by the high nibble of the first byte.
pub const KINDS: [&str; 16] = [
    "RESERVED",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

const MAX_PACKET: usize = 64 << 20;

/// True if `data` starts with an MQTT CONNECT (fixed header 0x10, then the protocol name), None
/// if too few bytes have arrived to tell.
pub fn looks_like_connect(data: &[u8]) -> Option<bool> {
    if data.is_empty() {
        return None;
    }
    if data[0] != 0x10 {
        return Some(false);
    }
    // Skip the remaining-length varint (1 to 4 bytes).
    let mut i = 1;
    while i < data.len() && i < 5 && data[i] & 0x80 != 0 {
        i += 1;
    }
    let rest = data.get(i + 1..)?;
    for name in [&b"\x00\x04MQTT"[..], &b"\x00\x06MQIsdp"[..]] {
        let n = rest.len().min(name.len());
        if rest[..n] != name[..n] {
            continue;
        }
        return if n == name.len() { Some(true) } else { None };
    }
    Some(false)
}

/// The MQTT decoder of one TCP stream (both directions share the protocol level).
#[derive(Default)]
pub struct Decoder {
    buf: [BytesMut; 2],
    broken: [bool; 2],
    /// Bytes went missing: look for the next packet boundary before decoding again.
    resync: [bool; 2],
    level: u8,
}

impl Decoder {
    /// Bytes of direction `dir` went missing from the capture: drop the partial packet and find
    /// the next packet boundary in the bytes that follow.
    pub fn gap(&mut self, dir: usize) {
        self.buf[dir].clear();
        self.resync[dir] = true;
    }

    /// Feeds in-order bytes of direction `dir` (0 client to server, 1 back); complete packets go to `out`.
    pub fn feed(&mut self, dir: usize, data: &[u8], out: &mut Vec<Message>) {
        if self.broken[dir] {
            out.push(Message::Raw {
                len: data.len(),
                preview: preview(data, PREVIEW),
            });
            return;
        }
        let data = if self.resync[dir] {
            // The first offset from which whole packets run exactly to the end of the segment.
            match (0..data.len()).find(|&at| packets_fill(&data[at..])) {
                Some(at) => {
                    self.resync[dir] = false;
                    &data[at..]
                }
                None => return,
            }
        } else {
            data
        };
        let buf = &mut self.buf[dir];
        buf.extend_from_slice(data);
        loop {
            let header = match check(buf.iter(), MAX_PACKET) {
                Ok(h) => h,
                Err(CodecError::InsufficientBytes(_)) => return,
                Err(e) => return self.fail(dir, e.to_string(), out),
            };
            let first = buf[0];
            if first >> 4 == 1 {
                self.level = connect_level(buf).unwrap_or(4);
            }
            let decoded = if self.level == 5 {
                let frame = buf.split_to(header.frame_length());
                Ok(v5_summary(&frame))
            } else {
                Packet::read(buf, MAX_PACKET)
                    .map(summary)
                    .map_err(|e| e.to_string())
            };
            match decoded {
                Ok(m) => out.push(Message::Mqtt(m)),
                Err(e) => {
                    return self.fail(
                        dir,
                        format!("{} packet: {e}", KINDS[(first >> 4) as usize]),
                        out,
                    )
                }
            }
        }
    }

    fn fail(&mut self, dir: usize, reason: String, out: &mut Vec<Message>) {
        out.push(Message::Malformed {
            protocol: "MQTT",
            reason,
        });
        self.broken[dir] = true;
        self.buf[dir] = BytesMut::new();
    }
}

/// True if `buf` holds one or more whole MQTT packets with valid fixed headers and nothing else:
/// where a stream that lost bytes can be picked up again.
fn packets_fill(mut buf: &[u8]) -> bool {
    let mut packets = 0;
    while let Some(&first) = buf.first() {
        // The flag bits each packet type must carry (MQTT 3.1.1, 2.2.2); PUBLISH's vary.
        let valid = match first >> 4 {
            3 => (first >> 1) & 3 != 3,
            6 | 8 | 10 => first & 15 == 2,
            1 | 2 | 4 | 5 | 7 | 9 | 11..=14 => first & 15 == 0,
            _ => false,
        };
        let Ok(header) = check(buf.iter(), MAX_PACKET) else {
            return false;
        };
        if !valid || header.frame_length() > buf.len() {
            return false;
        }
        buf = &buf[header.frame_length()..];
        packets += 1;
    }
    packets > 0
}

/// The protocol level byte of a complete CONNECT frame in `buf`.
fn connect_level(buf: &[u8]) -> Option<u8> {
    let mut i = 1;
    while buf.get(i)? & 0x80 != 0 {
        i += 1;
    }
    let name_len = u16::from_be_bytes([*buf.get(i + 1)?, *buf.get(i + 2)?]) as usize;
    buf.get(i + 3 + name_len).copied()
}

fn qos_num(q: QoS) -> u8 {
    q as u8
}

fn summary(packet: Packet) -> Mqtt {
    let kind = |k: usize| Mqtt {
        kind: KINDS[k],
        ..Default::default()
    };
    // The packets that carry nothing but their packet id.
    let acked = |id: u16, k: usize| Mqtt {
        packet_id: Some(id),
        ..kind(k)
    };
    match packet {
        Packet::Connect(c) => Mqtt {
            client_id: Some(c.client_id),
            ..kind(1)
        },
        Packet::ConnAck(c) => Mqtt {
            code: Some(format!("{:?}", c.code)),
            ..kind(2)
        },
        Packet::Publish(p) => Mqtt {
            topic: Some(p.topic),
            qos: Some(qos_num(p.qos)),
            dup: p.dup,
            packet_id: (p.pkid != 0).then_some(p.pkid),
            payload_len: p.payload.len(),
            preview: Some(preview(&p.payload, PREVIEW)),
            ..kind(3)
        },
        Packet::PubAck(p) => acked(p.pkid, 4),
        Packet::PubRec(p) => acked(p.pkid, 5),
        Packet::PubRel(p) => acked(p.pkid, 6),
        Packet::PubComp(p) => acked(p.pkid, 7),
        Packet::Subscribe(s) => Mqtt {
            packet_id: Some(s.pkid),
            filters: s
                .filters
                .into_iter()
                .map(|f| format!("{}(qos{})", f.path, qos_num(f.qos)))
                .collect(),
            ..kind(8)
        },
        Packet::SubAck(s) => Mqtt {
            packet_id: Some(s.pkid),
            code: Some(format!("{:?}", s.return_codes)),
            ..kind(9)
        },
        Packet::Unsubscribe(u) => Mqtt {
            packet_id: Some(u.pkid),
            filters: u.topics,
            ..kind(10)
        },
        Packet::UnsubAck(u) => acked(u.pkid, 11),
        Packet::PingReq => kind(12),
        Packet::PingResp => kind(13),
        Packet::Disconnect => kind(14),
    }
}

/// An MQTT 5 packet named by its fixed header; PUBLISH also gets its topic (same layout as 3.1.1).
fn v5_summary(frame: &[u8]) -> Mqtt {
    let k = (frame[0] >> 4) as usize;
    let mut m = Mqtt {
        kind: KINDS[k],
        ..Default::default()
    };
    if k == 3 {
        let mut i = 1;
        while i < frame.len() && frame[i] & 0x80 != 0 {
            i += 1;
        }
        if let Some(len) = frame
            .get(i + 1..i + 3)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        {
            if let Some(t) = frame.get(i + 3..i + 3 + len) {
                m.topic = Some(String::from_utf8_lossy(t).into_owned());
            }
        }
        m.qos = Some((frame[0] >> 1) & 3);
        m.dup = frame[0] & 8 != 0;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_gap_decoding_resumes_at_the_next_packet() {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        // PUBLISH qos 0 topic "a/b" payload "21.5"; PINGREQ; PUBACK id 1.
        let publish = b"\x30\x09\x00\x03a/b21.5";
        d.feed(1, publish, &mut out);
        d.feed(1, &publish[..4], &mut out);
        d.gap(1);
        let mut rest = publish[6..].to_vec();
        rest.extend_from_slice(b"\xc0\x00\x40\x02\x00\x01");
        d.feed(1, &rest, &mut out);
        let kinds: Vec<&str> = out
            .iter()
            .filter_map(|m| match m {
                Message::Mqtt(m) => Some(m.kind),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["PUBLISH", "PINGREQ", "PUBACK"]);
        assert!(!out.iter().any(|m| matches!(m, Message::Malformed { .. })));
    }

    #[test]
    fn a_packet_boundary_needs_valid_flags_and_whole_packets() {
        assert!(packets_fill(b"\xc0\x00\x40\x02\x00\x01"));
        // PUBREL must carry flags 0010; a packet cut short is no boundary.
        assert!(!packets_fill(b"\x60\x02\x00\x01"));
        assert!(!packets_fill(b"\x40\x02\x00"));
        assert!(!packets_fill(b""));
    }
}
