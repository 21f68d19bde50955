//! ZMTP 3.x (RFC 23 for 3.0, RFC 37 for 3.1), the wire protocol of ZeroMQ, which has no Rust
//! dissector crate. A connection opens with a 64-byte greeting each way (signature 0xFF..0x7F,
//! version, mechanism, as-server), then carries frames: a flags byte (MORE, LONG, COMMAND), a
//! 1- or 8-byte size, and the body. Commands are READY, SUBSCRIBE, CANCEL, PING, PONG, ERROR...;
//! messages are runs of frames ending with MORE clear. A SUB socket on 3.0 subscribes with a
//! one-frame message starting 0x01 (0x00 cancels), which is shown as SUBSCRIBE/CANCEL too.
//!
//! With the CURVE mechanism (RFC 26, named in the greeting) the handshake commands HELLO, WELCOME,
//! INITIATE and READY carry boxes (ciphertext) instead of readable metadata, and every message
//! frame travels as a MESSAGE command: a nonce and a box holding the frame. libzmq 4.3 sends
//! MESSAGE in a data frame that starts `\x07MESSAGE`; RFC 26 in a command frame: both are read.
//! Only the command names, the sizes and the timing show; nothing is decoded as if plain.

use serde::Serialize;

use super::{preview, Message, PREVIEW};

/// A greeting, a command, or a complete message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Zmtp {
    Greeting {
        version: String,
        mechanism: String,
        as_server: bool,
    },
    Command {
        name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        properties: Vec<(String, String)>,
        /// The topic of SUBSCRIBE and CANCEL.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// True for a 3.0-style subscription message (0x01/0x00 + topic) rather than a command.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        legacy: bool,
        /// The rest: PING's TTL, an ERROR reason, a mechanism's payload size.
        #[serde(skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    Message {
        frames: Vec<Part>,
        size: usize,
        /// The number after `task` in the message's first bytes (`{"task":7,...}`, `task|7`):
        /// it orders a PUSH socket's tasks for the round-robin proof of `pola report`.
        #[serde(skip)]
        task: Option<u64>,
    },
}

/// One frame of a message: its size, its MORE flag, and a printable preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub size: usize,
    pub more: bool,
    pub preview: String,
}

impl Zmtp {
    /// The text of a message's frames joined (empty frames, such as REQ's delimiter, skipped).
    pub fn text(&self) -> String {
        match self {
            Zmtp::Message { frames, .. } => frames
                .iter()
                .filter(|p| p.size > 0)
                .map(|p| p.preview.as_str())
                .collect::<Vec<_>>()
                .join("|"),
            _ => String::new(),
        }
    }
}

impl std::fmt::Display for Zmtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zmtp::Greeting {
                version,
                mechanism,
                as_server,
            } => {
                write!(
                    f,
                    "greeting {version} {mechanism} as-server={}",
                    *as_server as u8
                )
            }
            Zmtp::Command {
                name,
                properties,
                topic,
                legacy,
                detail,
            } => {
                f.write_str(name)?;
                for (k, v) in properties {
                    write!(f, " {k}={v}")?;
                }
                if let Some(t) = topic {
                    write!(f, " topic=\"{t}\"")?;
                }
                if *legacy {
                    f.write_str(" (3.0 message)")?;
                }
                if !detail.is_empty() {
                    write!(f, " {detail}")?;
                }
                Ok(())
            }
            Zmtp::Message { frames, size, .. } => {
                write!(
                    f,
                    "message {} frame{} {size} bytes [",
                    frames.len(),
                    if frames.len() == 1 { "" } else { "s" }
                )?;
                for (i, p) in frames.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{}{}", p.size, if p.more { "+" } else { "" })?;
                    if p.size > 0 {
                        write!(f, " \"{}\"", p.preview)?;
                    }
                }
                f.write_str("]")
            }
        }
    }
}

/// True if `data` starts with the greeting signature; None while fewer than 10 bytes are known.
pub fn looks_like_greeting(data: &[u8]) -> Option<bool> {
    match data.first() {
        None => None,
        Some(0xFF) if data.len() < 10 => None,
        Some(0xFF) => Some(data[9] == 0x7F),
        Some(_) => Some(false),
    }
}

const GREETING: usize = 64;
const MAX_FRAME: u64 = 64 << 20;
const MAX_PARTS: usize = 16;

#[derive(Default)]
struct Dir {
    buf: Vec<u8>,
    greeted: bool,
    broken: bool,
    /// The socket type this side announced in READY (REQ, SUB, PUSH...).
    socket_type: Option<String>,
    /// The greeting named CURVE: commands carry ciphertext, messages are MESSAGE commands.
    curve: bool,
    /// Frames of a message whose last frame has not arrived.
    parts: Vec<Part>,
    frames: usize,
    size: usize,
    /// The message's first bytes, where its task number is looked for.
    head: Vec<u8>,
    /// Bytes went missing: look for the next frame boundary before decoding again.
    resync: bool,
}

/// Bytes of a message searched for its task number.
const HEAD: usize = 256;

/// The ZMTP decoder of one TCP stream.
#[derive(Default)]
pub struct Decoder {
    dirs: [Dir; 2],
}

impl Decoder {
    /// The socket types announced by each side (client first).
    pub fn socket_types(&self) -> [Option<&str>; 2] {
        [
            self.dirs[0].socket_type.as_deref(),
            self.dirs[1].socket_type.as_deref(),
        ]
    }

    /// Bytes of direction `dir` went missing from the capture: drop the partial message and find
    /// the next frame boundary in the bytes that follow.
    pub fn gap(&mut self, dir: usize) {
        let d = &mut self.dirs[dir];
        d.buf.clear();
        d.parts.clear();
        d.head.clear();
        (d.frames, d.size) = (0, 0);
        d.greeted = true;
        d.resync = true;
    }

    pub fn feed(&mut self, dir: usize, data: &[u8], out: &mut Vec<Message>) {
        let d = &mut self.dirs[dir];
        let data = if d.resync && !d.broken {
            // The first offset from which whole frames run exactly to the end of the segment.
            match (0..data.len()).find(|&at| frames_fill(&data[at..])) {
                Some(at) => {
                    d.resync = false;
                    &data[at..]
                }
                None => return,
            }
        } else {
            data
        };
        if d.broken {
            out.push(Message::Raw {
                len: data.len(),
                preview: preview(data, PREVIEW),
            });
            return;
        }
        // Parse straight from the segment when nothing is pending; keep only the unparsed tail.
        let mut pending = std::mem::take(&mut d.buf);
        let src: &[u8] = if pending.is_empty() {
            data
        } else {
            pending.extend_from_slice(data);
            &pending
        };
        let mut pos = 0;
        let result = loop {
            match next_unit(d, &src[pos..]) {
                Ok(Some((used, msg))) => {
                    pos += used;
                    if let Some(m) = msg {
                        out.push(Message::Zmtp(m));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        d.buf = src[pos..].to_vec();
        if let Err(reason) = result {
            out.push(Message::Malformed {
                protocol: "ZMTP",
                reason,
            });
            d.broken = true;
            d.buf = Vec::new();
        }
    }
}

/// Reads the next greeting or frame from `buf`: bytes used and, when something completed, the
/// greeting, command or message. `Ok(None)` if more bytes are needed.
fn next_unit(d: &mut Dir, buf: &[u8]) -> Result<Option<(usize, Option<Zmtp>)>, String> {
    if !d.greeted {
        return greeting(d, buf);
    }
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    if flags & 0xF8 != 0 {
        return Err(format!("frame flags {flags:#04x} set reserved bits"));
    }
    let (more, long, command) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
    let head = if long { 9 } else { 2 };
    if buf.len() < head {
        return Ok(None);
    }
    let size = if long {
        u64::from_be_bytes(buf[1..9].try_into().unwrap_or_default())
    } else {
        buf[1] as u64
    };
    if size > MAX_FRAME {
        return Err(format!(
            "frame of {size} bytes is larger than pola reassembles (64 MiB)"
        ));
    }
    let size = size as usize;
    if buf.len() < head + size {
        return Ok(None);
    }
    let body = &buf[head..head + size];
    let used = head + size;
    if command {
        if more {
            return Err("a command frame with the MORE flag".into());
        }
        let cmd = parse_command(body, d.curve)?;
        if let Zmtp::Command {
            name, properties, ..
        } = &cmd
        {
            if name == "READY" {
                d.socket_type = properties
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("Socket-Type"))
                    .map(|(_, v)| v.clone());
            }
        }
        return Ok(Some((used, Some(cmd))));
    }
    if d.curve && body.starts_with(CURVE_MESSAGE) {
        return Ok(Some((used, Some(parse_command(body, true)?))));
    }
    Ok(Some((used, message_frame(d, body, more))))
}

/// The start of a CURVE MESSAGE command: its name's length and name.
const CURVE_MESSAGE: &[u8] = b"\x07MESSAGE";

/// The greeting at the start of `buf`, once all 64 bytes of it have arrived.
fn greeting(d: &mut Dir, buf: &[u8]) -> Result<Option<(usize, Option<Zmtp>)>, String> {
    if looks_like_greeting(buf) == Some(false) {
        return Err(
            "no greeting signature (0xFF, 8 bytes, 0x7F) at the start of the stream".into(),
        );
    }
    if buf.len() < 11 {
        return Ok(None);
    }
    if buf[10] < 3 {
        return Err(format!(
            "ZMTP {}.x greeting: pola decodes ZMTP 3.0 and later",
            buf[10]
        ));
    }
    if buf.len() < GREETING {
        return Ok(None);
    }
    let g = parse_greeting(&buf[..GREETING]);
    d.greeted = true;
    d.curve = matches!(&g, Zmtp::Greeting { mechanism, .. } if mechanism == "CURVE");
    Ok(Some((GREETING, Some(g))))
}

/// Adds one message frame to the message being read; the message once its last frame is in.
fn message_frame(d: &mut Dir, body: &[u8], more: bool) -> Option<Zmtp> {
    let size = body.len();
    d.frames += 1;
    d.size += size;
    let room = HEAD.saturating_sub(d.head.len()).min(body.len());
    d.head.extend_from_slice(&body[..room]);
    if d.parts.len() < MAX_PARTS {
        d.parts.push(Part {
            size,
            more,
            preview: preview(body, PREVIEW),
        });
    }
    if more {
        return None;
    }
    let (frames, size) = (std::mem::take(&mut d.parts), std::mem::take(&mut d.size));
    let count = std::mem::take(&mut d.frames);
    let task = task_number(&d.head);
    d.head.clear();
    // A SUB or XSUB on ZMTP 3.0 subscribes with a one-frame message: 0x01 + topic (0x00 cancels).
    let subscriber = matches!(d.socket_type.as_deref(), Some("SUB") | Some("XSUB"));
    if subscriber && count == 1 && matches!(body.first(), Some(0 | 1)) {
        let name = if body[0] == 1 { "SUBSCRIBE" } else { "CANCEL" };
        let topic = Some(preview(&body[1..], 255));
        return Some(Zmtp::Command {
            name: name.into(),
            properties: vec![],
            topic,
            legacy: true,
            detail: String::new(),
        });
    }
    Some(Zmtp::Message { frames, size, task })
}

/// The number after the first `task` in `head`, past at most a few quote, colon or bar bytes.
fn task_number(head: &[u8]) -> Option<u64> {
    let at = head.windows(4).position(|w| w == b"task")? + 4;
    let rest = &head[at..];
    let skip = rest
        .iter()
        .take(4)
        .take_while(|b| b"\":| =".contains(b))
        .count();
    let digits: &[u8] = &rest[skip..];
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..n]).ok()?.parse().ok()
}

/// True if `buf` holds one or more whole frames and nothing else: where a stream that lost
/// bytes can be picked up again (payload text never has the flag bytes 0x00-0x07 of a frame).
fn frames_fill(mut buf: &[u8]) -> bool {
    let mut frames = 0;
    while let Some(&flags) = buf.first() {
        if flags & 0xF8 != 0 || (flags & 4 != 0 && flags & 1 != 0) {
            return false;
        }
        let head = if flags & 2 != 0 { 9 } else { 2 };
        let Some(size) = buf.get(1..head).map(|b| {
            b.iter()
                .fold(0u64, |n, &x| n.saturating_mul(256).saturating_add(x as u64))
        }) else {
            return false;
        };
        let Some(end) = usize::try_from(size).ok().and_then(|n| n.checked_add(head)) else {
            return false;
        };
        // Any command name will do: after a gap the mechanism's commands are not known.
        if end > buf.len() || (flags & 4 != 0 && command_name(&buf[head..end]).is_err()) {
            return false;
        }
        buf = &buf[end..];
        frames += 1;
    }
    frames > 0
}

fn parse_greeting(g: &[u8]) -> Zmtp {
    let mechanism: String = g[12..32]
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    Zmtp::Greeting {
        version: format!("{}.{}", g[10], g[11]),
        mechanism,
        as_server: g[32] == 1,
    }
}

/// A command's name and the bytes after it.
fn command_name(body: &[u8]) -> Result<(String, &[u8]), String> {
    let name_len = *body.first().ok_or("an empty command frame")? as usize;
    let name = body
        .get(1..1 + name_len)
        .ok_or("command name longer than its frame")?;
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        &body[1 + name_len..],
    ))
}

/// A command; `curve` when the stream's greeting named CURVE (see the module doc).
fn parse_command(body: &[u8], curve: bool) -> Result<Zmtp, String> {
    let (name, data) = command_name(body)?;
    let mut cmd = Zmtp::Command {
        name: name.clone(),
        properties: vec![],
        topic: None,
        legacy: false,
        detail: String::new(),
    };
    let Zmtp::Command {
        properties,
        topic,
        detail,
        ..
    } = &mut cmd
    else {
        unreachable!()
    };
    match name.as_str() {
        // CURVE: a nonce and a box (HELLO: a public key and a box) that only the peers can open.
        "HELLO" | "WELCOME" | "INITIATE" | "READY" | "MESSAGE" if curve => {
            *detail = format!("{} bytes encrypted", data.len())
        }
        // Metadata: name-size (1 byte), name, value-size (4 bytes), value.
        "READY" | "INITIATE" | "WELCOME" => {
            let mut rest = data;
            while !rest.is_empty() {
                let n = rest[0] as usize;
                let key = rest
                    .get(1..1 + n)
                    .ok_or("property name longer than the command")?;
                let len = rest
                    .get(1 + n..5 + n)
                    .ok_or("property without a value size")?;
                let len = u32::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
                let value = rest
                    .get(5 + n..5 + n + len)
                    .ok_or("property value longer than the command")?;
                properties.push((
                    String::from_utf8_lossy(key).into_owned(),
                    preview(value, 64),
                ));
                rest = &rest[5 + n + len..];
            }
        }
        "SUBSCRIBE" | "CANCEL" => *topic = Some(preview(data, 255)),
        "PING" => {
            let ttl = data
                .get(..2)
                .map(|t| u16::from_be_bytes([t[0], t[1]]))
                .ok_or("PING without a TTL")?;
            *detail = format!(
                "ttl={} context=\"{}\"",
                ttl as f64 / 10.0,
                preview(&data[2..], 16)
            );
        }
        "PONG" => *detail = format!("context=\"{}\"", preview(data, 16)),
        "ERROR" => {
            let n = *data.first().ok_or("ERROR without a reason")? as usize;
            *detail = format!(
                "reason=\"{}\"",
                preview(data.get(1..1 + n).ok_or("ERROR reason cut short")?, 255)
            );
        }
        _ => *detail = format!("{} bytes", data.len()),
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_numbers_are_read_from_json_and_frames() {
        assert_eq!(task_number(br#"{"payload":"xx","task":17}"#), Some(17));
        assert_eq!(task_number(b"task4"), Some(4));
        assert_eq!(task_number(br#"{"end":true}"#), None);
        assert_eq!(task_number(b"task: none"), None);
    }

    #[test]
    fn a_boundary_is_where_whole_frames_fill_the_rest() {
        let frames = b"\x00\x03abc\x01\x00\x00\x02hi";
        assert!(frames_fill(frames));
        // Inside a frame body, or a frame cut short: no boundary.
        assert!(!frames_fill(&frames[2..]));
        assert!(!frames_fill(&frames[..frames.len() - 1]));
        // A command may not carry MORE, and must parse.
        assert!(!frames_fill(b"\x05\x01\x00"));
        assert!(!frames_fill(b"\x04\x02\x09R"));
        assert!(!frames_fill(b""));
    }

    #[test]
    fn after_a_gap_decoding_resumes_at_the_next_frame() {
        let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
        greeting.extend_from_slice(b"NULL");
        greeting.resize(64, 0);
        let mut d = Decoder::default();
        let mut out = Vec::new();
        d.feed(0, &greeting, &mut out);
        d.feed(0, b"\x00\x05first\x00\x06sec", &mut out);
        d.gap(0);
        // The rest of "second", then two whole messages: only the whole ones are decoded.
        d.feed(0, b"ond\x00\x05third\x00\x06fourth", &mut out);
        let texts: Vec<String> = out
            .iter()
            .filter_map(|m| match m {
                Message::Zmtp(z @ Zmtp::Message { .. }) => Some(z.text()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["first", "third", "fourth"]);
    }

    /// A greeting with `mechanism`, as-server 0.
    fn greeting(mechanism: &[u8]) -> Vec<u8> {
        let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
        g.extend_from_slice(mechanism);
        g.resize(64, 0);
        g
    }

    #[test]
    fn curve_shows_command_names_and_sizes_and_never_a_body() {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let mut bytes = greeting(b"CURVE");
        // HELLO as a command; READY whose box would read as bad metadata; two MESSAGEs as
        // libzmq 4.3 sends them (data frames) and one as RFC 26 does (a command frame).
        bytes.extend_from_slice(b"\x04\x0a\x05HELLO\x01\x00\x00\x00");
        bytes.extend_from_slice(b"\x04\x0a\x05READY\xff\xff\xff\xff");
        bytes.extend_from_slice(b"\x00\x0e\x07MESSAGEsecret");
        bytes.extend_from_slice(b"\x00\x0b\x07MESSAGEabc");
        bytes.extend_from_slice(b"\x04\x0b\x07MESSAGExyz");
        d.feed(0, &bytes, &mut out);
        let shown: Vec<String> = out.iter().map(|m| format!("{m:?}")).collect();
        let lines: Vec<String> = out
            .iter()
            .map(|m| match m {
                Message::Zmtp(z) => z.to_string(),
                other => panic!("not ZMTP: {other:?}"),
            })
            .collect();
        assert_eq!(
            lines,
            [
                "greeting 3.0 CURVE as-server=0",
                "HELLO 4 bytes encrypted",
                "READY 4 bytes encrypted",
                "MESSAGE 6 bytes encrypted",
                "MESSAGE 3 bytes encrypted",
                "MESSAGE 3 bytes encrypted",
            ]
        );
        assert!(!shown.iter().any(|m| m.contains("secret")), "{shown:?}");
        // The same frames under NULL: a data frame is a message, read as plain.
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let mut bytes = greeting(b"NULL");
        bytes.extend_from_slice(b"\x00\x0e\x07MESSAGEsecret");
        d.feed(0, &bytes, &mut out);
        assert!(
            matches!(&out[1], Message::Zmtp(z @ Zmtp::Message { .. }) if z.text().contains("secret"))
        );
    }
}
