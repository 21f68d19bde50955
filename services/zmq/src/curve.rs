//! CURVE (ZMTP's encryption, RFC 26 CurveZMQ) on the REQ/REP and PUB/SUB ends: the flags, the key
//! files and the socket options.
//!
//! A key file holds one key as libzmq writes it: 40 characters of Z85 text (a newline after it
//! is fine). The server (REP, XPUB) needs only its secret key; a client (REQ, SUB) needs its own
//! key pair and the server's public key. `pola certs` writes a lab set into `certs/curve/`.
//! Without the flags every end speaks plain ZMTP (the NULL mechanism), as before.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The server side's CURVE flag.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerKeys {
    /// CURVE: file with this server's secret key (Z85); set, every peer must speak CURVE.
    #[arg(long, env = "CURVE_SECRET_KEY")]
    pub curve_secret_key: Option<PathBuf>,
}

/// The client side's CURVE flags: all three or none.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientKeys {
    /// CURVE: file with the server's public key (Z85); set, the connection is encrypted.
    #[arg(long, env = "CURVE_SERVER_KEY")]
    pub curve_server_key: Option<PathBuf>,
    /// CURVE: file with this client's public key (Z85).
    #[arg(long, env = "CURVE_PUBLIC_KEY")]
    pub curve_public_key: Option<PathBuf>,
    /// CURVE: file with this client's secret key (Z85).
    #[arg(long, env = "CURVE_SECRET_KEY")]
    pub curve_secret_key: Option<PathBuf>,
}

/// Reads one key file: 40 characters of Z85, returned as the 32-byte key. `flag` names the
/// flag in the error.
pub fn read_key(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the CURVE key {flag} {}", path.display()))?;
    let text = text.trim();
    if text.len() != 40 {
        bail!(
            "{flag} {}: not a CURVE key (40 characters of Z85, as libzmq writes them)",
            path.display()
        );
    }
    // libzmq's decoder takes any character: text that does not encode back is no key.
    zmq::z85_decode(text)
        .ok()
        .filter(|key| zmq::z85_encode(key).ok().as_deref() == Some(text))
        .with_context(|| format!("{flag} {}: not valid Z85 text", path.display()))
}

/// Fails clearly when this libzmq was built without CURVE.
fn check_curve() -> anyhow::Result<()> {
    if zmq::has("curve") != Some(true) {
        bail!("this libzmq has no CURVE support (it must be built with libsodium)");
    }
    Ok(())
}

impl ServerKeys {
    /// Whether CURVE is on.
    pub fn enabled(&self) -> bool {
        self.curve_secret_key.is_some()
    }

    /// Makes `socket` a CURVE server if a secret key was given; call before binding.
    pub fn apply(&self, socket: &zmq::Socket) -> anyhow::Result<()> {
        let Some(path) = &self.curve_secret_key else {
            return Ok(());
        };
        check_curve()?;
        let secret = read_key("--curve-secret-key", path)?;
        socket
            .set_curve_server(true)
            .context("setting ZMQ_CURVE_SERVER")?;
        socket
            .set_curve_secretkey(&secret)
            .context("setting ZMQ_CURVE_SECRETKEY")?;
        log::info!("CURVE on: peers must encrypt");
        Ok(())
    }
}

impl ClientKeys {
    /// Whether CURVE is on.
    pub fn enabled(&self) -> bool {
        self.curve_server_key.is_some()
    }

    /// Makes `socket` a CURVE client if the keys were given; call before connecting. Each
    /// socket opened for the same peer (a Lazy Pirate retry) needs it again.
    pub fn apply(&self, socket: &zmq::Socket) -> anyhow::Result<()> {
        let (server, public, secret) = match (
            &self.curve_server_key,
            &self.curve_public_key,
            &self.curve_secret_key,
        ) {
            (None, None, None) => return Ok(()),
            (Some(server), Some(public), Some(secret)) => (server, public, secret),
            _ => bail!(
                "CURVE needs all of --curve-server-key, --curve-public-key and --curve-secret-key"
            ),
        };
        check_curve()?;
        let server = read_key("--curve-server-key", server)?;
        let public = read_key("--curve-public-key", public)?;
        let secret = read_key("--curve-secret-key", secret)?;
        socket
            .set_curve_serverkey(&server)
            .context("setting ZMQ_CURVE_SERVERKEY")?;
        socket
            .set_curve_publickey(&public)
            .context("setting ZMQ_CURVE_PUBLICKEY")?;
        socket
            .set_curve_secretkey(&secret)
            .context("setting ZMQ_CURVE_SECRETKEY")?;
        Ok(())
    }
}

impl ClientKeys {
    /// Why this client's handshake failed, with what to check.
    pub fn why_failed(&self, event: u16, value: u32) -> String {
        if event != zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw() {
            return handshake_failure(event, value);
        }
        if self.enabled() {
            "the server closed the connection during the CURVE handshake: is --curve-server-key \
             its public key, and does it use CURVE?"
                .into()
        } else {
            "the server closed the connection during the handshake: does it require CURVE?".into()
        }
    }
}

/// The key pairs of the lab: the servers' (REP, XPUB) and the clients' (REQ, SUB).
pub const PAIRS: [&str; 2] = ["server", "client"];

/// Writes the lab's key pairs into `dir` unless all are there; true if it wrote them. The files
/// are readable by all (the roles run as an unprivileged user in compose): lab keys, never
/// committed.
pub fn generate(dir: &Path) -> anyhow::Result<bool> {
    let files = PAIRS
        .iter()
        .flat_map(|name| ["pub", "key"].map(|ext| dir.join(format!("{name}.{ext}"))));
    if files.into_iter().all(|f| f.is_file()) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for name in PAIRS {
        write_key_pair(dir, name)?;
    }
    Ok(true)
}

/// Writes a new key pair from libzmq as `<name>.pub` and `<name>.key` in `dir` (Z85 text).
pub fn write_key_pair(dir: &Path, name: &str) -> anyhow::Result<()> {
    check_curve()?;
    let pair = zmq::CurveKeyPair::new().context("generating a CURVE key pair")?;
    for (ext, key) in [("pub", &pair.public_key), ("key", &pair.secret_key)] {
        let path = dir.join(format!("{name}.{ext}"));
        let text = zmq::z85_encode(key).context("encoding a CURVE key")?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

/// Why a handshake failed, in words, from a monitor event and its value.
pub fn handshake_failure(event: u16, value: u32) -> String {
    use zmq::SocketEvent as E;
    if event == E::HANDSHAKE_FAILED_PROTOCOL.to_raw() {
        match value {
            zmq_sys::ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH => {
                "the peers' security mechanisms differ (one speaks CURVE, the other plain ZMTP)"
                    .into()
            }
            zmq_sys::ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC => {
                "a CURVE box did not open: the client does not have this server's public key".into()
            }
            v => format!("ZMTP protocol error {v:#x}"),
        }
    } else if event == E::HANDSHAKE_FAILED_AUTH.to_raw() {
        format!("authentication refused (status {value})")
    } else {
        "the peer closed the connection during the handshake".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_libzmq_has_curve() {
        assert_eq!(zmq::has("curve"), Some(true));
    }

    #[test]
    fn a_key_pair_written_reads_back_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_key_pair(dir.path(), "server").unwrap();
        let public = read_key("--k", &dir.path().join("server.pub")).unwrap();
        let secret = read_key("--k", &dir.path().join("server.key")).unwrap();
        assert_eq!((public.len(), secret.len()), (32, 32));
        assert_ne!(public, secret);
        let missing = read_key("--k", &dir.path().join("nope")).unwrap_err();
        assert!(format!("{missing:#}").contains("--k"), "{missing:#}");
        let short = dir.path().join("short");
        std::fs::write(&short, "abc").unwrap();
        let err = read_key("--k", &short).unwrap_err().to_string();
        assert!(err.contains("not a CURVE key"), "{err}");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "~".repeat(40)).unwrap();
        let err = read_key("--k", &bad).unwrap_err().to_string();
        assert!(err.contains("not valid Z85"), "{err}");
    }
}
