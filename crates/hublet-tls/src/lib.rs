//! # hublet-tls: the hub's local certificate authority
//!
//! Devices built on the Azure IoT SDKs only speak TLS (the Python SDK pins
//! TLS 1.2 and always verifies the host name), so Hublet creates, on first
//! start, its own certificate authority and a server certificate signed by
//! it whose subject alternative names cover every name a device may dial:
//! `localhost`, `127.0.0.1`, `::1`, the machine's host name, its LAN
//! addresses, and any configured names. Both are kept in the data directory
//! and reused, so firmware that trusts the CA once keeps working.
//!
//! - The CA is created once and never replaced automatically (devices trust
//!   it). An unreadable CA file is an error, never silently overwritten.
//! - The server certificate is re-issued (by the same CA) when a wanted name
//!   is missing from it or it expires within 30 days.
//! - Keys are written readable by the owner only.
//!
//! [`LocalPki::server_config`] gives the rustls settings shared by the MQTT
//! and HTTPS listeners (ring provider, TLS 1.2 and 1.3).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Why the local PKI could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored certificate or key is damaged.
    #[error(
        "{path} is not a valid PEM {what}; move it away to have Hublet create a new one (devices that trust the old CA must then be given the new one)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// "certificate" or "private key".
        what: &'static str,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// File names inside the PKI directory.
const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server.key";
const SERVER_META: &str = "server.json";

/// Re-issue the server certificate when it expires within this time.
const RENEW_BEFORE: Duration = Duration::days(30);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerMeta {
    names: Vec<String>,
    not_after_unix: i64,
}

/// The hub's CA and server certificate, as PEM text.
#[derive(Debug, Clone)]
pub struct LocalPki {
    dir: PathBuf,
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    names: Vec<String>,
}

impl LocalPki {
    /// Loads the PKI from `dir`, creating what is missing, and re-issuing the
    /// server certificate if it lacks one of the names devices may dial
    /// (the defaults plus `extra_names`) or is about to expire.
    pub fn load_or_create(dir: &Path, extra_names: &[String]) -> Result<LocalPki, TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (ca_pem, ca_key) = load_or_create_ca(dir)?;
        let mut wanted = default_names();
        for n in extra_names {
            push_unique(&mut wanted, n.trim().to_string());
        }
        let meta: Option<ServerMeta> =
            read_optional(&dir.join(SERVER_META))?.and_then(|t| serde_json::from_str(&t).ok());
        let cert = read_optional(&dir.join(SERVER_CERT))?;
        let key = read_optional(&dir.join(SERVER_KEY))?;
        let now = OffsetDateTime::now_utc();
        let reusable = match (&meta, &cert, &key) {
            (Some(m), Some(_), Some(_)) => {
                wanted.iter().all(|w| m.names.contains(w))
                    && m.not_after_unix > (now + RENEW_BEFORE).unix_timestamp()
            }
            _ => false,
        };
        let (server_cert_pem, server_key_pem, names) = match (reusable, meta, cert, key) {
            (true, Some(m), Some(c), Some(k)) => (c, k, m.names),
            _ => {
                let (c, k, m) = issue_server(dir, &ca_key, &wanted)?;
                tracing::info!(names = ?m.names, "issued a new server certificate");
                (c, k, m.names)
            }
        };
        Ok(LocalPki {
            dir: dir.to_path_buf(),
            ca_pem,
            server_cert_pem,
            server_key_pem,
            names,
        })
    }

    /// The CA certificate (PEM), to give to firmware and SDKs.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA certificate is stored.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// The names the server certificate covers.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The server certificate chain (PEM).
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert_pem
    }

    /// rustls server settings with the server certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let server_path = self.dir.join(SERVER_CERT);
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.server_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| TlsError::Corrupt {
                    path: server_path.clone(),
                    what: "certificate",
                })?;
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).map_err(|_| {
            TlsError::Corrupt {
                path: self.dir.join(SERVER_KEY),
                what: "private key",
            }
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(Arc::new(config))
    }

    /// A rustls client configuration that trusts this hub's CA (for tests,
    /// the simulator and the CLI).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        client_config_for_ca(&self.ca_pem, &self.dir.join(CA_CERT))
    }
}

/// A rustls client configuration that trusts the CA in `ca_pem`.
pub fn client_config_for_ca(
    ca_pem: &str,
    origin: &Path,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|_| TlsError::Corrupt {
            path: origin.to_path_buf(),
            what: "certificate",
        })?;
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `localhost`, loopback addresses, the host name, and the LAN addresses.
pub fn default_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(h) = gethostname::gethostname().to_str().map(str::to_string)
        && !h.is_empty()
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        push_unique(&mut names, h.to_ascii_lowercase());
    }
    if let Ok(ifaces) = if_addrs::get_if_addrs() {
        for i in ifaces {
            let ip = i.ip();
            let usable = match ip {
                IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
                // Link-local IPv6 needs a zone id, which certificates cannot carry.
                IpAddr::V6(v6) => !v6.is_loopback() && (v6.segments()[0] & 0xffc0) != 0xfe80,
            };
            if usable {
                push_unique(&mut names, ip.to_string());
            }
        }
    }
    names
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

/// The CA's parameters. They are rebuilt identically each time so a stored
/// CA key can sign new server certificates without parsing the CA cert.
fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Hublet Local CA");
    dn.push(DnType::OrganizationName, "Hublet");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn load_or_create_ca(dir: &Path) -> Result<(String, KeyPair), TlsError> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    match (read_optional(&cert_path)?, read_optional(&key_path)?) {
        (Some(cert), Some(key)) => {
            if CertificateDer::pem_slice_iter(cert.as_bytes())
                .next()
                .is_none_or(|c| c.is_err())
            {
                return Err(TlsError::Corrupt {
                    path: cert_path,
                    what: "certificate",
                });
            }
            let key = KeyPair::from_pem(&key).map_err(|_| TlsError::Corrupt {
                path: key_path,
                what: "private key",
            })?;
            Ok((cert, key))
        }
        (None, None) => {
            let key = KeyPair::generate()?;
            let mut params = ca_params()?;
            let now = OffsetDateTime::now_utc();
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(3650);
            let cert = params.self_signed(&key)?;
            write_file(&key_path, &key.serialize_pem(), true)?;
            write_file(&cert_path, &cert.pem(), false)?;
            tracing::info!(path = %cert_path.display(), "created the hub's local certificate authority");
            Ok((cert.pem(), key))
        }
        _ => Err(TlsError::Corrupt {
            path: if cert_path.exists() {
                key_path
            } else {
                cert_path
            },
            what: "certificate authority file (its partner file is missing)",
        }),
    }
}

fn issue_server(
    dir: &Path,
    ca_key: &KeyPair,
    names: &[String],
) -> Result<(String, String, ServerMeta), TlsError> {
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    dn.push(DnType::OrganizationName, "Hublet");
    params.distinguished_name = dn;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(397);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let meta = ServerMeta {
        names: names.to_vec(),
        not_after_unix: params.not_after.unix_timestamp(),
    };
    write_file(&dir.join(SERVER_KEY), &key.serialize_pem(), true)?;
    write_file(&dir.join(SERVER_CERT), &cert.pem(), false)?;
    let meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    write_file(&dir.join(SERVER_META), &meta_text, false)?;
    Ok((cert.pem(), key.serialize_pem(), meta))
}

fn read_optional(path: &Path) -> Result<Option<String>, TlsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TlsError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes atomically (temp file, then rename); keys readable by the owner only.
fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if secret { 0o600 } else { 0o644 });
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(contents.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalPki::load_or_create(dir.path(), &[]).unwrap();
        let b = LocalPki::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_eq!(
            a.server_cert_pem(),
            b.server_cert_pem(),
            "nothing changed: nothing re-issued"
        );
        assert!(a.names().iter().any(|n| n == "localhost"));
        assert!(a.names().iter().any(|n| n == "127.0.0.1"));
        a.server_config().unwrap();
        a.client_config().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the CA key must be private");
        }
    }

    #[test]
    fn a_new_name_reissues_the_server_certificate_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalPki::load_or_create(dir.path(), &[]).unwrap();
        let b = LocalPki::load_or_create(dir.path(), &["bench-gateway.local".to_string()]).unwrap();
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_ne!(a.server_cert_pem(), b.server_cert_pem());
        assert!(b.names().contains(&"bench-gateway.local".to_string()));
    }

    #[test]
    fn a_damaged_ca_is_an_error_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        LocalPki::load_or_create(dir.path(), &[]).unwrap();
        std::fs::write(dir.path().join(CA_CERT), "garbage").unwrap();
        let e = LocalPki::load_or_create(dir.path(), &[]).unwrap_err();
        assert!(e.to_string().contains("ca.pem"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CA_CERT)).unwrap(),
            "garbage"
        );
    }
}
