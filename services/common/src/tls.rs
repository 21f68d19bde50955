//! TLS for the encrypted variants (`mqtt-tls`, `rest-tls`): a lab CA and its server certificates
//! made offline with rcgen, the rustls configurations that load them, and the clients' NSS key
//! log (`SSLKEYLOGFILE`), which lets a capture carry the secrets that decrypt it.
//!
//! Every end uses rustls with ring (rmqtt's TLS listener too, through vendor/rmqtt-net) and
//! passes it explicitly; reqwest takes it as the process's default (`install_provider`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, KeyLogFile, RootCertStore, ServerConfig};

/// The CA certificate every client trusts, in the certificates folder.
pub const CA_FILE: &str = "ca.pem";

/// The servers `pola certs` issues certificates for: the file stem and the names in the
/// certificate (the compose service name first, then what the loopback tests dial).
pub const SERVERS: [(&str, &[&str]); 2] = [
    ("broker", &["broker", "localhost", "127.0.0.1"]),
    ("rest-api", &["rest-api", "localhost", "127.0.0.1"]),
];

/// The crypto provider of every TLS end in pola.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes [`provider`] the process's default, which reqwest builds every client with (even one
/// that speaks plain HTTP). Call it before building a reqwest client; calling it again is fine.
pub fn install_provider() {
    // Err only when a default is already installed, which is then this same provider.
    let _ = Arc::unwrap_or_clone(provider()).install_default();
}

/// A certificate authority that lives only in memory: it signs server certificates and is then
/// dropped, so no CA key is ever written to disk.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A date: year, month, day.
pub type Ymd = (i32, u8, u8);

/// A server's certificate and private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl LabCa {
    /// A fresh CA named `common_name`.
    pub fn new(common_name: &str) -> anyhow::Result<LabCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().context("generating the CA key")?;
        let cert = params.self_signed(&key).context("signing the CA")?;
        Ok(LabCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn issue(&self, names: &[&str]) -> anyhow::Result<Issued> {
        self.issue_valid(names, None)
    }

    /// Like [`LabCa::issue`], valid only from `dates.0` to `dates.1` (year, month, day) when
    /// given: the tests show what a client does with a certificate that has expired.
    pub fn issue_valid(&self, names: &[&str], dates: Option<(Ymd, Ymd)>) -> anyhow::Result<Issued> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())
            .with_context(|| format!("certificate for {names:?}"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some(((y0, m0, d0), (y1, m1, d1))) = dates {
            params.not_before = rcgen::date_time_ymd(y0, m0, d0);
            params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        }
        let key = KeyPair::generate().context("generating a server key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("signing the certificate for {names:?}"))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The certificate and key files of server `name` in `dir`.
pub fn server_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// Writes a CA and one certificate per entry of [`SERVERS`] into `dir`, unless every file is
/// already there. Returns whether it wrote them. The keys are world-readable on purpose: the
/// servers run as an unprivileged user in their containers, and they guard a throw-away lab.
pub fn generate(dir: &Path) -> anyhow::Result<bool> {
    let mut files = vec![dir.join(CA_FILE)];
    for (name, _) in SERVERS {
        let (cert, key) = server_files(dir, name);
        files.extend([cert, key]);
    }
    if files.iter().all(|f| f.is_file()) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = LabCa::new("pola lab CA")?;
    write(&dir.join(CA_FILE), ca.cert_pem())?;
    for (name, names) in SERVERS {
        let issued = ca.issue(names)?;
        let (cert, key) = server_files(dir, name);
        write(&cert, &issued.cert_pem)?;
        write(&key, &issued.key_pem)?;
    }
    Ok(true)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| anyhow!("reading certificates from {}: {err}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow!("reading certificates from {}: {err}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// A client configuration that trusts only the CA in `ca_file` and appends its session secrets to
/// the file named by `SSLKEYLOGFILE`, when set (rustls' `KeyLogFile`).
pub fn client_config(ca_file: &Path) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file)? {
        roots
            .add(cert)
            .with_context(|| format!("adding the CA of {}", ca_file.display()))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(config)
}

/// A server configuration presenting the certificate chain in `cert` with the key in `key`.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| anyhow!("reading the private key {}: {err}", key.display()))?;
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate does not match its key")
}

/// Checks that `cert` and `key` can be read, with one line naming the file that cannot: for a
/// server whose TLS library would report it later and less clearly.
pub fn check_server_files(cert: &Path, key: &Path) -> anyhow::Result<()> {
    server_config(cert, key).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_writes_a_ca_and_a_certificate_per_server_once() {
        let dir = tempfile_dir();
        assert!(generate(&dir).unwrap());
        assert!(!generate(&dir).unwrap(), "a second run keeps the files");
        assert_eq!(read_certs(&dir.join(CA_FILE)).unwrap().len(), 1);
        for (name, _) in SERVERS {
            let (cert, key) = server_files(&dir, name);
            server_config(&cert, &key).unwrap();
        }
        client_config(&dir.join(CA_FILE)).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_or_bad_files_are_one_line_naming_the_file() {
        let dir = tempfile_dir();
        let err = client_config(&dir.join("nope.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.pem") && !err.contains('\n'), "{err}");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
        let err = client_config(&dir.join("empty.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no certificate in"), "{err}");
        let err = server_config(&dir.join("empty.pem"), &dir.join("missing.key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no certificate in"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        std::env::temp_dir().join(format!(
            "pola-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}
