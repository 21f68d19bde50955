//! HTTP/1.x requests and responses: headers parsed by httparse, bodies counted (Content-Length,
//! chunked, or until the connection closes) without being kept, so a large download costs no memory.
//! A message is reported on the packet that completes it, as Wireshark does with reassembly.

use std::collections::VecDeque;

use serde::Serialize;

use super::{preview, Message, PREVIEW};

/// A request or a response.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Http {
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub body_len: usize,
    pub content_type: Option<String>,
    pub preview: String,
}

impl std::fmt::Display for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(m), Some(p)) = (&self.method, &self.path) {
            write!(f, "{m} {p}")?;
        }
        if let Some(s) = self.status {
            write!(f, "{s} {}", self.reason.as_deref().unwrap_or(""))?;
        }
        write!(f, " body={}", self.body_len)?;
        if let Some(t) = &self.content_type {
            write!(f, " {t}")?;
        }
        if self.body_len > 0 {
            write!(f, " \"{}\"", self.preview)?;
        }
        Ok(())
    }
}

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// True if `data` starts an HTTP request or response; None if too few bytes to tell.
pub fn looks_like_http(data: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for start in METHODS
        .iter()
        .map(|m| format!("{m} "))
        .chain(["HTTP/1.".to_string()])
    {
        let n = data.len().min(start.len());
        if data[..n] == start.as_bytes()[..n] {
            if n == start.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    if undecided {
        None
    } else {
        Some(false)
    }
}

enum Body {
    /// Reading headers.
    Headers,
    /// `left` bytes of body still to come.
    Fixed {
        left: usize,
    },
    /// Chunked: reading a chunk-size line, or `left` bytes of chunk data and its CRLF, or trailers.
    ChunkSize,
    ChunkData {
        left: usize,
    },
    Trailers,
    /// No length: the body runs until the connection closes.
    UntilClose,
    Broken,
}

struct Dir {
    buf: Vec<u8>,
    body: Body,
    msg: Http,
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            buf: Vec::new(),
            body: Body::Headers,
            msg: Http::default(),
        }
    }
}

/// The HTTP decoder of one TCP stream: direction 0 carries requests, 1 responses.
#[derive(Default)]
pub struct Decoder {
    dirs: [Dir; 2],
    /// Methods of requests not answered yet: a response to HEAD has no body.
    pending: VecDeque<String>,
}

const MAX_HEADERS: usize = 1 << 20;

impl Decoder {
    pub fn feed(&mut self, dir: usize, data: &[u8], out: &mut Vec<Message>) {
        let mut again = None;
        self.feed_once(dir, data, out, &mut again);
        while let Some(rest) = again.take() {
            self.feed_once(dir, &rest, out, &mut again);
        }
    }

    /// Feeds `data`; bytes left after a parsed head come back in `again` to be fed in turn.
    fn feed_once(
        &mut self,
        dir: usize,
        data: &[u8],
        out: &mut Vec<Message>,
        again: &mut Option<Vec<u8>>,
    ) {
        let mut data = data;
        loop {
            let d = &mut self.dirs[dir];
            match d.body {
                Body::Broken => {
                    if !data.is_empty() {
                        out.push(Message::Raw {
                            len: data.len(),
                            preview: preview(data, PREVIEW),
                        });
                    }
                    return;
                }
                Body::UntilClose => {
                    take_body(&mut d.msg, data);
                    return;
                }
                Body::Fixed { left } => {
                    let n = left.min(data.len());
                    take_body(&mut d.msg, &data[..n]);
                    data = &data[n..];
                    if n < left {
                        d.body = Body::Fixed { left: left - n };
                        return;
                    }
                    self.finish(dir, out);
                }
                Body::ChunkData { left } => {
                    // `left` counts the chunk's trailing CRLF, which is not body.
                    let n = left.min(data.len());
                    let body_part = n.min(left.saturating_sub(2));
                    take_body(&mut d.msg, &data[..body_part]);
                    data = &data[n..];
                    if n < left {
                        d.body = Body::ChunkData { left: left - n };
                        return;
                    }
                    d.body = Body::ChunkSize;
                }
                Body::Headers | Body::ChunkSize | Body::Trailers => {
                    if d.buf.is_empty() && data.is_empty() {
                        return;
                    }
                    d.buf.extend_from_slice(data);
                    if !self.parse_buffered(dir, out) {
                        return;
                    }
                    // Whatever followed the parsed part is fed again from the buffer.
                    *again = Some(std::mem::take(&mut self.dirs[dir].buf));
                    return;
                }
            }
        }
    }

    /// Called when the connection closes: a body that ran until the close is complete now.
    pub fn close(&mut self, dir: usize, out: &mut Vec<Message>) {
        if matches!(self.dirs[dir].body, Body::UntilClose) {
            self.finish(dir, out);
        }
    }

    /// Parses the buffered header, chunk-size line or trailer; false if more bytes are needed.
    /// On success the unparsed rest is left in the buffer.
    fn parse_buffered(&mut self, dir: usize, out: &mut Vec<Message>) -> bool {
        let d = &mut self.dirs[dir];
        match d.body {
            Body::Headers => match parse_head(dir, &d.buf) {
                Ok(None) if d.buf.len() > MAX_HEADERS => {
                    self.fail(dir, "headers longer than 1 MiB".into(), out);
                    false
                }
                Ok(None) => false,
                Ok(Some((used, msg, length, chunked))) => {
                    d.buf.drain(..used);
                    d.msg = msg;
                    let no_body = dir == 1 && {
                        let head = self.pending.front().is_some_and(|m| m == "HEAD");
                        let s = d.msg.status.unwrap_or(200);
                        head || (100..200).contains(&s) || s == 204 || s == 304
                    };
                    if dir == 0 {
                        self.pending
                            .push_back(d.msg.method.clone().unwrap_or_default());
                    } else if !(100..200).contains(&d.msg.status.unwrap_or(200)) {
                        self.pending.pop_front();
                    }
                    d.body = match (no_body, chunked, length) {
                        (true, _, _) => Body::Fixed { left: 0 },
                        (_, true, _) => Body::ChunkSize,
                        (_, _, Some(n)) => Body::Fixed { left: n },
                        // A request without a length has no body; a response runs until close.
                        (_, _, None) if dir == 0 => Body::Fixed { left: 0 },
                        (_, _, None) => Body::UntilClose,
                    };
                    true
                }
                Err(e) => {
                    self.fail(dir, e, out);
                    false
                }
            },
            Body::ChunkSize => {
                let Some(end) = find_crlf(&d.buf) else {
                    return false;
                };
                let line = String::from_utf8_lossy(&d.buf[..end]).into_owned();
                let size = line.split(';').next().unwrap_or("").trim();
                match usize::from_str_radix(size, 16) {
                    Ok(0) => d.body = Body::Trailers,
                    Ok(n) if n < (1 << 40) => d.body = Body::ChunkData { left: n + 2 },
                    _ => {
                        self.fail(dir, format!("bad chunk size line {line:?}"), out);
                        return false;
                    }
                }
                d.buf.drain(..end + 2);
                true
            }
            Body::Trailers => {
                let Some(end) = find_crlf(&d.buf) else {
                    return false;
                };
                d.buf.drain(..end + 2);
                if end == 0 {
                    d.body = Body::Fixed { left: 0 };
                }
                true
            }
            _ => true,
        }
    }

    fn finish(&mut self, dir: usize, out: &mut Vec<Message>) {
        let d = &mut self.dirs[dir];
        out.push(Message::Http(std::mem::take(&mut d.msg)));
        d.body = Body::Headers;
    }

    fn fail(&mut self, dir: usize, reason: String, out: &mut Vec<Message>) {
        out.push(Message::Malformed {
            protocol: "HTTP",
            reason,
        });
        let d = &mut self.dirs[dir];
        d.body = Body::Broken;
        d.buf = Vec::new();
    }
}

fn take_body(msg: &mut Http, part: &[u8]) {
    if msg.preview.len() < PREVIEW && !part.is_empty() {
        let room = PREVIEW.saturating_sub(msg.body_len);
        msg.preview
            .push_str(&preview(&part[..room.min(part.len())], PREVIEW));
    }
    msg.body_len += part.len();
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

type Head = (usize, Http, Option<usize>, bool);

/// Parses a request (dir 0) or response (dir 1) head: bytes used, message, Content-Length, chunked.
fn parse_head(dir: usize, buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let (used, mut msg, headers) = if dir == 0 {
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf).map_err(|e| format!("request head: {e}"))? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(n) => {
                let msg = Http {
                    method: req.method.map(str::to_string),
                    path: req.path.map(str::to_string),
                    ..Default::default()
                };
                (n, msg, req.headers)
            }
        }
    } else {
        let mut res = httparse::Response::new(&mut headers);
        match res.parse(buf).map_err(|e| format!("response head: {e}"))? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(n) => {
                let msg = Http {
                    status: res.code,
                    reason: res.reason.map(str::to_string),
                    ..Default::default()
                };
                (n, msg, res.headers)
            }
        }
    };
    let mut length = None;
    let mut chunked = false;
    for h in headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("content-type") {
            msg.content_type = Some(value.into_owned());
        }
    }
    Ok(Some((used, msg, length, chunked)))
}
