//! Decrypting TLS records with an NSS key log (the `SSLKEYLOGFILE` format, also what a pcapng
//! Decryption Secrets Block holds). [`KeyLog`] maps a ClientHello's random to its secrets;
//! [`Session`] follows one connection: it learns the randoms and the cipher suite from the hellos,
//! derives each direction's key and IV (TLS 1.3: HKDF-Expand-Label; TLS 1.2: the PRF's key
//! expansion of the master secret) and opens each record with the suite's AEAD. Only AEAD suites
//! are known: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, all from RustCrypto crates.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

/// Secrets by label (`CLIENT_RANDOM`, `CLIENT_TRAFFIC_SECRET_0`, ...) and client random.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    secrets: HashMap<(String, Vec<u8>), Vec<u8>>,
}

impl KeyLog {
    /// Adds the lines of a key log (`LABEL <client random hex> <secret hex>`); comments, blank
    /// and unreadable lines are skipped. Returns how many secrets were read.
    pub fn add(&mut self, text: &str) -> usize {
        let mut n = 0;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            if let (Some(random), Some(secret)) = (unhex(random), unhex(secret)) {
                self.secrets.insert((label.to_string(), random), secret);
                n += 1;
            }
        }
        n
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn get(&self, label: &str, random: &[u8]) -> Option<&[u8]> {
        self.secrets
            .get(&(label.to_string(), random.to_vec()))
            .map(Vec::as_slice)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The AEAD and hash of a cipher suite pola can decrypt.
fn suite(id: u16) -> Option<(Cipher, Hash)> {
    Some(match id {
        0x1301 | 0xc02b | 0xc02f | 0x009c | 0x009e => (Cipher::Aes128Gcm, Hash::Sha256),
        0x1302 | 0xc02c | 0xc030 | 0x009d | 0x009f => (Cipher::Aes256Gcm, Hash::Sha384),
        0x1303 | 0xcca8 | 0xcca9 | 0xccaa => (Cipher::ChaCha20, Hash::Sha256),
        _ => return None,
    })
}

impl Cipher {
    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm => 16,
            Cipher::Aes256Gcm | Cipher::ChaCha20 => 32,
        }
    }

    fn open(self, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
        let payload = Payload { msg, aad };
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Cipher::Aes128Gcm => Aes128Gcm::new_from_slice(key).ok()?.decrypt(nonce, payload),
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(key).ok()?.decrypt(nonce, payload),
            Cipher::ChaCha20 => ChaCha20Poly1305::new_from_slice(key)
                .ok()?
                .decrypt(nonce, payload),
        }
        .ok()
    }
}

/// HKDF-Expand-Label of RFC 8446 section 7.1 with an empty context.
fn expand_label(hash: Hash, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push(full.len() as u8);
    info.extend(full.as_bytes());
    info.push(0);
    let mut out = vec![0; len];
    match hash {
        Hash::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
        Hash::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
    }
    Some(out)
}

/// The TLS 1.2 PRF (RFC 5246 section 5): P_hash of HMAC with the suite's hash.
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    fn hmac(hash: Hash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        macro_rules! run {
            ($h:ty) => {{
                let mut m =
                    <Hmac<$h> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }};
        }
        match hash {
            Hash::Sha256 => run!(Sha256),
            Hash::Sha384 => run!(Sha384),
        }
    }
    let mut out = Vec::with_capacity(len);
    let mut a = hmac(hash, secret, &[label, seed]);
    while out.len() < len {
        out.extend(hmac(hash, secret, &[&a, label, seed]));
        a = hmac(hash, secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// One direction's record protection: key, IV and the next record's sequence number.
#[derive(Debug, Clone)]
struct Keys {
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
    /// TLS 1.3: the traffic secret the keys came from, for a KeyUpdate.
    secret: Vec<u8>,
}

impl Keys {
    fn tls13(cipher: Cipher, hash: Hash, secret: &[u8]) -> Option<Keys> {
        Some(Keys {
            key: expand_label(hash, secret, "key", cipher.key_len())?,
            iv: expand_label(hash, secret, "iv", 12)?,
            seq: 0,
            secret: secret.to_vec(),
        })
    }

    /// The IV XOR the sequence number, left-padded to the IV's length.
    fn nonce(&self) -> Vec<u8> {
        let mut nonce = self.iv.clone();
        let n = nonce.len();
        for (b, s) in nonce[n - 8..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        nonce
    }
}

/// What decrypting a record gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// The inner content type (TLS 1.3) or the record's own (TLS 1.2), and the plaintext.
    Plain(u8, Vec<u8>),
    /// Still encrypted: the key log holds no secret for this connection, or its secret failed
    /// on an earlier record of this direction.
    Sealed,
    /// The secret given does not open the record: the key log is wrong for this connection.
    Failed,
}

/// One TLS connection as the decrypter follows it.
#[derive(Debug, Default)]
pub struct Session {
    client_random: Option<Vec<u8>>,
    server_random: Option<Vec<u8>>,
    suite: Option<(Cipher, Hash)>,
    tls13: bool,
    /// Per direction (0 client, 1 server): the keys in force, and the keys that take over at the
    /// direction's ChangeCipherSpec (TLS 1.2) or after its Finished (TLS 1.3).
    keys: [Option<Keys>; 2],
    next: [Option<Keys>; 2],
    /// TLS 1.3 handshake bytes decrypted so far in each direction, to find Finished and KeyUpdate.
    handshake: [Vec<u8>; 2],
    failed: [bool; 2],
}

impl Session {
    pub fn client_hello(&mut self, random: &[u8]) {
        self.client_random = Some(random.to_vec());
    }

    /// The ServerHello's random, suite and whether it chose TLS 1.3; sets up the handshake keys.
    pub fn server_hello(&mut self, random: &[u8], suite_id: u16, tls13: bool, keys: &KeyLog) {
        self.server_random = Some(random.to_vec());
        self.suite = suite(suite_id);
        self.tls13 = tls13;
        if tls13 {
            self.keys = [
                self.derive13(keys, "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
                self.derive13(keys, "SERVER_HANDSHAKE_TRAFFIC_SECRET"),
            ];
            self.next = [
                self.derive13(keys, "CLIENT_TRAFFIC_SECRET_0"),
                self.derive13(keys, "SERVER_TRAFFIC_SECRET_0"),
            ];
        } else {
            self.next = self.derive12(keys);
        }
    }

    /// True once the hellos named a suite pola decrypts and the key log has this connection.
    pub fn has_keys(&self) -> bool {
        self.keys.iter().chain(&self.next).any(Option::is_some)
    }

    fn derive13(&self, keys: &KeyLog, label: &str) -> Option<Keys> {
        let (cipher, hash) = self.suite?;
        let secret = keys.get(label, self.client_random.as_deref()?)?;
        Keys::tls13(cipher, hash, secret)
    }

    fn derive12(&self, keys: &KeyLog) -> [Option<Keys>; 2] {
        let derive = || -> Option<[Option<Keys>; 2]> {
            let (cipher, hash) = self.suite?;
            let cr = self.client_random.as_deref()?;
            let master = keys.get("CLIENT_RANDOM", cr)?;
            let seed = [self.server_random.as_deref()?, cr].concat();
            let (k, iv) = (
                cipher.key_len(),
                if cipher == Cipher::ChaCha20 { 12 } else { 4 },
            );
            let block = prf(hash, master, b"key expansion", &seed, 2 * k + 2 * iv);
            let keys = |key: &[u8], iv: &[u8]| Keys {
                key: key.to_vec(),
                iv: iv.to_vec(),
                seq: 0,
                secret: vec![],
            };
            Some([
                Some(keys(&block[..k], &block[2 * k..2 * k + iv])),
                Some(keys(&block[k..2 * k], &block[2 * k + iv..])),
            ])
        };
        derive().unwrap_or_default()
    }

    /// A TLS 1.2 ChangeCipherSpec from `dir`: its next records use the new keys.
    pub fn change_cipher_spec(&mut self, dir: usize) {
        if !self.tls13 {
            if let Some(k) = self.next[dir].take() {
                self.keys[dir] = Some(k);
            }
        }
    }

    /// Decrypts a protected record of `dir` (`header` its 5 bytes, `body` the rest).
    pub fn open(&mut self, dir: usize, header: &[u8], body: &[u8]) -> Opened {
        if self.failed[dir] {
            return Opened::Sealed;
        }
        let Some((cipher, hash)) = self.suite else {
            return Opened::Sealed;
        };
        let Some(keys) = self.keys[dir].as_mut() else {
            return Opened::Sealed;
        };
        let plain = if self.tls13 {
            cipher
                .open(&keys.key, &keys.nonce(), header, body)
                .and_then(|mut p| {
                    while p.last() == Some(&0) {
                        p.pop();
                    }
                    let inner = p.pop()?;
                    Some((inner, p))
                })
        } else {
            let (nonce, msg) = if cipher == Cipher::ChaCha20 {
                (keys.nonce(), body)
            } else if body.len() >= 8 {
                ([&keys.iv[..], &body[..8]].concat(), &body[8..])
            } else {
                (vec![], &[][..])
            };
            let len = msg.len().saturating_sub(16) as u16;
            let mut aad = keys.seq.to_be_bytes().to_vec();
            aad.extend(&header[..3]);
            aad.extend(len.to_be_bytes());
            if nonce.len() == 12 {
                cipher
                    .open(&keys.key, &nonce, &aad, msg)
                    .map(|p| (header[0], p))
            } else {
                None
            }
        };
        let Some((kind, plain)) = plain else {
            self.failed[dir] = true;
            return Opened::Failed;
        };
        keys.seq += 1;
        if self.tls13 && kind == 22 {
            self.handshake13(dir, hash, cipher, &plain);
        }
        Opened::Plain(kind, plain)
    }

    /// Finds Finished and KeyUpdate in decrypted TLS 1.3 handshake bytes: after Finished a
    /// direction moves to its application traffic secret; after KeyUpdate to the next one.
    fn handshake13(&mut self, dir: usize, hash: Hash, cipher: Cipher, plain: &[u8]) {
        self.handshake[dir].extend_from_slice(plain);
        let buf = std::mem::take(&mut self.handshake[dir]);
        let mut at = 0;
        while buf.len() >= at + 4 {
            let len = u32::from_be_bytes([0, buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            if buf.len() < at + 4 + len {
                break;
            }
            match buf[at] {
                // Finished: the application traffic keys derived at the ServerHello.
                20 => self.keys[dir] = self.next[dir].take(),
                // KeyUpdate: the next secret is derived from the current one.
                24 => {
                    self.keys[dir] = self.keys[dir].as_ref().and_then(|k| {
                        let next = expand_label(hash, &k.secret, "traffic upd", hash.len())?;
                        Keys::tls13(cipher, hash, &next)
                    });
                }
                _ => {}
            }
            at += 4 + len;
        }
        self.handshake[dir] = buf[at..].to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        unhex(s).expect("test hex")
    }

    /// RFC 8448 section 3 (a TLS 1.3 handshake with TLS_AES_128_GCM_SHA256): the traffic
    /// secrets of the trace give its record keys and IVs.
    #[test]
    fn traffic_keys_match_the_rfc_8448_trace() {
        let cases = [
            // server handshake, client application, server application traffic secrets
            (
                "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
                "3fce516009c21727d0f2e4e86ee403bc",
                "5d313eb2671276ee13000b30",
            ),
            (
                "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
                "17422dda596ed5d9acd890e3c63f5051",
                "5b78923dee08579033e523d9",
            ),
            (
                "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
                "9f02283b6c9c07efc26bb9f2ac92e356",
                "cf782b88dd83549aadf1e984",
            ),
        ];
        for (secret, key, iv) in cases {
            let k = Keys::tls13(Cipher::Aes128Gcm, Hash::Sha256, &hex(secret)).unwrap();
            assert_eq!((k.key, k.iv), (hex(key), hex(iv)), "secret {secret}");
        }
    }

    /// The published TLS 1.2 PRF vector (P_SHA256, "test label", 100 bytes).
    #[test]
    fn the_tls12_prf_matches_the_published_sha256_vector() {
        let out = prf(
            Hash::Sha256,
            &hex("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &hex("a0ba9f936cda311827a6f796ffd5198c"),
            100,
        );
        assert_eq!(
            out,
            hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
        );
    }

    /// Sequence numbers enter the nonce as RFC 8446 section 5.3 says: XORed into the IV's end.
    #[test]
    fn the_nonce_is_the_iv_xor_the_sequence_number() {
        let mut k = Keys::tls13(Cipher::Aes128Gcm, Hash::Sha256, &[7; 32]).unwrap();
        k.iv = hex("000102030405060708090a0b");
        k.seq = 0x0102;
        assert_eq!(k.nonce(), hex("000102030405060708090b09"));
    }

    #[test]
    fn a_key_log_skips_comments_and_unreadable_lines() {
        let mut log = KeyLog::default();
        let n = log.add(
            "# comment\n\nCLIENT_RANDOM 0a0b 0102\nCLIENT_RANDOM zz 01\nSERVER_TRAFFIC_SECRET_0 0a0b 03 extra\n",
        );
        assert_eq!(n, 1);
        assert_eq!(log.get("CLIENT_RANDOM", &[10, 11]), Some(&[1u8, 2][..]));
    }
}
