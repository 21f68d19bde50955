//! TLS records, framed and read with tls-parser: each record's content type and size, and from
//! the handshake that is still in the clear the ClientHello's server name (SNI) and ALPN and the
//! ServerHello's version and cipher suite. What follows is encrypted: pola shows its type and
//! size, and, when a key log holds the connection's secrets, decrypts it ([`super::tlskeys`]) and
//! hands the application data to the stream's inner decoder (MQTT or HTTP inside TLS).

use serde::Serialize;
use tls_parser::{
    parse_tls_extensions, parse_tls_raw_record, parse_tls_record_with_header, TlsExtension,
    TlsMessage, TlsMessageHandshake, TlsRecordType, TlsVersion,
};

use super::tlskeys::{KeyLog, Opened, Session};
use super::Message;

/// One TLS record with what a student looks for in it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tls {
    /// Handshake, ChangeCipherSpec, Alert, ApplicationData or Heartbeat (Wireshark's names).
    pub record: &'static str,
    /// Bytes after the 5-byte record header.
    pub len: usize,
    /// The handshake messages in a record still in the clear (ClientHello, ServerHello, ...), or
    /// `encrypted` for a handshake record sent after ChangeCipherSpec.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handshake: Vec<&'static str>,
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// The version the ServerHello chose (its supported_versions extension for TLS 1.3).
    pub version: Option<&'static str>,
    pub cipher: Option<String>,
    /// A plaintext alert: its level and description.
    pub alert: Option<String>,
    /// What decrypting the record with the key log showed (its inner handshake messages, alert
    /// or application data size), or why it could not be decrypted.
    pub decrypted: Option<String>,
}

impl Tls {
    /// The record's name as `pola inspect --counts` and the report count it.
    pub fn kind(&self) -> String {
        match self.handshake.as_slice() {
            [] => self.record.to_string(),
            names => names.join("+"),
        }
    }
}

impl std::fmt::Display for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.record)?;
        if !self.handshake.is_empty() {
            write!(f, " {}", self.handshake.join(","))?;
        }
        if let Some(sni) = &self.sni {
            write!(f, " sni={sni}")?;
        }
        if !self.alpn.is_empty() {
            write!(f, " alpn={}", self.alpn.join(","))?;
        }
        if let Some(v) = self.version {
            write!(f, " version={v}")?;
        }
        if let Some(c) = &self.cipher {
            write!(f, " cipher={c}")?;
        }
        if let Some(a) = &self.alert {
            write!(f, " alert={a}")?;
        }
        write!(f, " len={}", self.len)?;
        if let Some(d) = &self.decrypted {
            write!(f, " [{d}]")?;
        }
        Ok(())
    }
}

/// Some(true) if `first` starts like a TLS handshake record (type 22, version 3.x), Some(false)
/// if it cannot be one, None if too short to tell.
pub fn looks_like_record(first: &[u8]) -> Option<bool> {
    match first {
        [0x16, 0x03, minor, ..] => Some(*minor <= 0x04),
        [0x16, 0x03] | [0x16] | [] => None,
        _ => Some(false),
    }
}

/// Frames the records of both directions of one stream.
#[derive(Default)]
pub struct Decoder {
    pending: [Vec<u8>; 2],
    /// A direction turns encrypted at its ChangeCipherSpec (TLS 1.2; TLS 1.3 sends its encrypted
    /// handshake as ApplicationData records anyway).
    encrypted: [bool; 2],
    /// A direction that stopped looking like TLS is shown raw from there on.
    broken: [bool; 2],
    session: Session,
}

impl Decoder {
    /// Frames the records of `data` without decrypting them.
    pub fn feed(&mut self, dir: usize, data: &[u8], out: &mut Vec<Message>) {
        self.feed_keys(dir, data, &KeyLog::default(), out, &mut Vec::new());
    }

    /// Frames the records of `data` and decrypts those the key log `keys` opens; the decrypted
    /// application data of direction `dir` is appended to `plain`.
    pub fn feed_keys(
        &mut self,
        dir: usize,
        data: &[u8],
        keys: &KeyLog,
        out: &mut Vec<Message>,
        plain: &mut Vec<u8>,
    ) {
        if self.broken[dir] {
            out.push(super::raw(data));
            return;
        }
        let buf = &mut self.pending[dir];
        buf.extend_from_slice(data);
        let mut used = 0;
        loop {
            // A record starts with a known content type (20-24) and version 3.x; checked before
            // framing, so garbage is told at once instead of waiting for a length it claims.
            let head = &buf[used..];
            let plausible = match head {
                [] => true,
                [t] => (20..=24).contains(t),
                [t, major, ..] => (20..=24).contains(t) && *major == 3,
            };
            let parsed = if plausible {
                parse_tls_raw_record(head)
            } else {
                Err(tls_parser::nom::Err::Error(
                    tls_parser::nom::error::Error::new(
                        head,
                        tls_parser::nom::error::ErrorKind::Tag,
                    ),
                ))
            };
            match parsed {
                Ok((rest, raw)) => {
                    let len = buf.len() - used - rest.len();
                    let mut record = describe(&raw.hdr, raw.data, &mut self.encrypted[dir]);
                    let bytes = &buf[used..used + len];
                    decrypt(
                        &mut self.session,
                        self.encrypted[dir],
                        dir,
                        bytes,
                        keys,
                        &mut record,
                        plain,
                    );
                    out.push(Message::Tls(record));
                    used += len;
                }
                Err(tls_parser::nom::Err::Incomplete(_)) => break,
                Err(_) => {
                    out.push(Message::Malformed {
                        protocol: "TLS",
                        reason: format!(
                            "not a TLS record header: {}",
                            super::preview(&buf[used..], 16)
                        ),
                    });
                    let rest = buf.split_off(used);
                    out.push(super::raw(&rest));
                    buf.clear();
                    self.broken[dir] = true;
                    return;
                }
            }
        }
        buf.drain(..used);
    }
}

/// Follows the handshake for the session's randoms and suite, and opens a protected record
/// (`encrypted`: its direction is past its ChangeCipherSpec).
fn decrypt(
    session: &mut Session,
    encrypted: bool,
    dir: usize,
    record: &[u8],
    keys: &KeyLog,
    tls: &mut Tls,
    plain: &mut Vec<u8>,
) {
    if keys.is_empty() {
        return;
    }
    let (header, body) = record.split_at(5);
    let protected = match record[0] {
        20 => {
            session.change_cipher_spec(dir);
            false
        }
        23 => true,
        21 | 22 => encrypted,
        _ => false,
    };
    if !protected {
        if record[0] == 22 {
            if let Ok((_, messages)) = tls_parser::parse_tls_plaintext(record) {
                for m in &messages.msg {
                    hello(m, session, keys);
                }
            }
        }
        return;
    }
    tls.decrypted = match session.open(dir, header, body) {
        Opened::Sealed => None,
        Opened::Failed => {
            Some("cannot decrypt: the key log's secret for this connection does not open it".into())
        }
        Opened::Plain(23, data) => {
            plain.extend_from_slice(&data);
            Some(format!("application data {} bytes", data.len()))
        }
        Opened::Plain(22, data) => Some(inner_handshake(&data)),
        Opened::Plain(21, data) if data.len() == 2 => Some(format!(
            "alert {}",
            tls_parser::TlsAlertDescription(data[1])
        )),
        Opened::Plain(kind, data) => Some(format!("type {kind} {} bytes", data.len())),
    };
}

/// Tells the session a hello's random, and the ServerHello's suite and version.
fn hello(m: &TlsMessage, session: &mut Session, keys: &KeyLog) {
    match m {
        TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => {
            session.client_hello(ch.random)
        }
        TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)) => {
            let tls13 = extensions(sh.ext).iter().any(|e| {
                matches!(e, TlsExtension::SupportedVersions(v) if v.first().map(|v| v.0) == Some(0x0304))
            });
            session.server_hello(sh.random, sh.cipher.0, tls13, keys);
        }
        _ => {}
    }
}

/// The names of the handshake messages in decrypted bytes (TLS 1.3: EncryptedExtensions,
/// Certificate, ...; TLS 1.2: Finished).
fn inner_handshake(mut data: &[u8]) -> String {
    let mut names = Vec::new();
    while data.len() >= 4 {
        let len = u32::from_be_bytes([0, data[1], data[2], data[3]]) as usize;
        names.push(match data[0] {
            4 => "NewSessionTicket",
            8 => "EncryptedExtensions",
            11 => "Certificate",
            13 => "CertificateRequest",
            15 => "CertificateVerify",
            20 => "Finished",
            24 => "KeyUpdate",
            _ => "handshake",
        });
        data = data.get(4 + len..).unwrap_or_default();
    }
    format!("handshake {}", names.join(","))
}

fn record_name(t: TlsRecordType) -> &'static str {
    match t {
        TlsRecordType::ChangeCipherSpec => "ChangeCipherSpec",
        TlsRecordType::Alert => "Alert",
        TlsRecordType::Handshake => "Handshake",
        TlsRecordType::ApplicationData => "ApplicationData",
        TlsRecordType::Heartbeat => "Heartbeat",
        _ => "Unknown",
    }
}

/// The name of a TLS version as people write it.
pub fn version_name(v: TlsVersion) -> &'static str {
    match v.0 {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "unknown",
    }
}

fn handshake_name(m: &TlsMessageHandshake) -> &'static str {
    use TlsMessageHandshake as H;
    match m {
        H::HelloRequest => "HelloRequest",
        H::ClientHello(_) => "ClientHello",
        H::ServerHello(_) | H::ServerHelloV13Draft18(_) => "ServerHello",
        H::NewSessionTicket(_) => "NewSessionTicket",
        H::EndOfEarlyData => "EndOfEarlyData",
        H::HelloRetryRequest(_) => "HelloRetryRequest",
        H::Certificate(_) => "Certificate",
        H::ServerKeyExchange(_) => "ServerKeyExchange",
        H::CertificateRequest(_) => "CertificateRequest",
        H::ServerDone(_) => "ServerHelloDone",
        H::CertificateVerify(_) => "CertificateVerify",
        H::ClientKeyExchange(_) => "ClientKeyExchange",
        H::Finished(_) => "Finished",
        H::CertificateStatus(_) => "CertificateStatus",
        H::NextProtocol(_) => "NextProtocol",
        H::KeyUpdate(_) => "KeyUpdate",
    }
}

fn describe(hdr: &tls_parser::TlsRecordHeader, data: &[u8], encrypted: &mut bool) -> Tls {
    let mut tls = Tls {
        record: record_name(hdr.record_type),
        len: data.len(),
        ..Tls::default()
    };
    match hdr.record_type {
        TlsRecordType::ChangeCipherSpec => *encrypted = true,
        TlsRecordType::Handshake if *encrypted => tls.handshake.push("encrypted"),
        TlsRecordType::Handshake | TlsRecordType::Alert => {
            match parse_tls_record_with_header(data, hdr) {
                Ok((_, messages)) => {
                    for m in &messages {
                        read_message(m, &mut tls);
                    }
                }
                Err(_) if hdr.record_type == TlsRecordType::Alert => {
                    tls.alert = Some("encrypted".into())
                }
                Err(_) => tls.handshake.push("unreadable"),
            }
        }
        _ => {}
    }
    tls
}

fn read_message(m: &TlsMessage, tls: &mut Tls) {
    match m {
        TlsMessage::Handshake(h) => {
            tls.handshake.push(handshake_name(h));
            match h {
                TlsMessageHandshake::ClientHello(ch) => {
                    for ext in extensions(ch.ext) {
                        match ext {
                            TlsExtension::SNI(names) => {
                                tls.sni = names
                                    .first()
                                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned())
                            }
                            TlsExtension::ALPN(protocols) => tls.alpn = names(&protocols),
                            _ => {}
                        }
                    }
                }
                TlsMessageHandshake::ServerHello(sh) => {
                    tls.version = Some(version_name(sh.version));
                    tls.cipher = Some(match sh.cipher.get_ciphersuite() {
                        Some(suite) => suite.name.to_string(),
                        None => format!("0x{:04x}", sh.cipher.0),
                    });
                    for ext in extensions(sh.ext) {
                        match ext {
                            TlsExtension::SupportedVersions(v) if v.len() == 1 => {
                                tls.version = Some(version_name(v[0]))
                            }
                            TlsExtension::ALPN(protocols) => tls.alpn = names(&protocols),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        TlsMessage::Alert(a) => tls.alert = Some(format!("{:?} {:?}", a.severity, a.code)),
        _ => {}
    }
}

/// The protocol names of an ALPN extension, as text.
fn names(protocols: &[&[u8]]) -> Vec<String> {
    protocols
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn extensions(ext: Option<&[u8]>) -> Vec<TlsExtension<'_>> {
    ext.and_then(|e| parse_tls_extensions(e).ok())
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello as rustls sends it to `broker` asking for ALPN `mqtt`, cut to the fields
    /// that matter: TLS 1.3 and 1.2 offered, one cipher suite.
    fn client_hello() -> Vec<u8> {
        let sni_name = b"broker";
        let mut sni = vec![0, 0]; // extension type server_name
        let list_len = 3 + sni_name.len();
        sni.extend(((list_len + 2) as u16).to_be_bytes());
        sni.extend((list_len as u16).to_be_bytes());
        sni.push(0);
        sni.extend((sni_name.len() as u16).to_be_bytes());
        sni.extend(sni_name);
        let alpn = [
            0x00, 0x10, 0x00, 0x07, 0x00, 0x05, 0x04, b'm', b'q', b't', b't',
        ];
        let versions = [0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03];
        let exts: Vec<u8> = [&sni[..], &alpn[..], &versions[..]].concat();
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]); // random
        body.push(0); // no session id
        body.extend([0x00, 0x02, 0x13, 0x01]); // TLS_AES_128_GCM_SHA256
        body.extend([0x01, 0x00]); // null compression
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut hs = vec![0x01, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    fn server_hello() -> Vec<u8> {
        let versions = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
        let mut body = vec![0x03, 0x03];
        body.extend([9u8; 32]);
        body.push(0);
        body.extend([0x13, 0x02, 0x00]); // TLS_AES_256_GCM_SHA384, null compression
        body.extend((versions.len() as u16).to_be_bytes());
        body.extend(versions);
        let mut hs = vec![0x02, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x03, 0];
        rec.push(hs.len() as u8);
        rec.extend(hs);
        rec
    }

    fn tls(messages: &[Message]) -> Vec<&Tls> {
        messages
            .iter()
            .map(|m| match m {
                Message::Tls(t) => t,
                other => panic!("not TLS: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn client_hello_shows_sni_and_alpn_even_split_across_segments() {
        let hello = client_hello();
        assert_eq!(looks_like_record(&hello), Some(true));
        let mut d = Decoder::default();
        let mut out = vec![];
        d.feed(0, &hello[..7], &mut out);
        assert!(out.is_empty(), "a partial record waits: {out:?}");
        d.feed(0, &hello[7..], &mut out);
        let t = tls(&out);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].handshake, ["ClientHello"]);
        assert_eq!(t[0].sni.as_deref(), Some("broker"));
        assert_eq!(t[0].alpn, ["mqtt"]);
        assert_eq!(t[0].len, hello.len() - 5);
        assert!(t[0]
            .to_string()
            .starts_with("Handshake ClientHello sni=broker alpn=mqtt"));
    }

    #[test]
    fn server_hello_shows_the_chosen_version_and_cipher_then_records_are_sizes() {
        let mut d = Decoder::default();
        let mut out = vec![];
        let mut bytes = server_hello();
        bytes.extend([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // ChangeCipherSpec
        bytes.extend([0x17, 0x03, 0x03, 0x00, 0x20]); // ApplicationData of 32 bytes
        bytes.extend([0xaa; 32]);
        bytes.extend([0x16, 0x03, 0x03, 0x00, 0x03, 1, 2, 3]); // a handshake after CCS
        d.feed(1, &bytes, &mut out);
        let t = tls(&out);
        assert_eq!(t.len(), 4, "{t:?}");
        assert_eq!(t[0].version, Some("TLS 1.3"));
        assert_eq!(t[0].cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        assert_eq!(t[1].record, "ChangeCipherSpec");
        assert_eq!((t[2].record, t[2].len), ("ApplicationData", 32));
        assert_eq!(t[3].handshake, ["encrypted"]);
    }

    #[test]
    fn bytes_that_are_not_tls_are_malformed_then_raw() {
        assert_eq!(looks_like_record(b"GET / HTTP/1.1"), Some(false));
        assert_eq!(looks_like_record(b"\x16\x03"), None);
        let mut d = Decoder::default();
        let mut out = vec![];
        d.feed(0, b"\x10\x0c\x00\x04MQTT", &mut out);
        assert!(
            matches!(
                out[0],
                Message::Malformed {
                    protocol: "TLS",
                    ..
                }
            ),
            "{out:?}"
        );
        out.clear();
        d.feed(0, b"more", &mut out);
        assert!(matches!(out[0], Message::Raw { len: 4, .. }), "{out:?}");
    }
}
