//! The TLS trust of `ldaps://` and `--starttls`. Without `--ca-file`, ldap3
//! verifies the directory against the system's roots (rustls-native-certs:
//! `/etc/ssl/certs`, or `SSL_CERT_FILE`). With it, the directory's certificate
//! must chain to one of the file's certificates and to nothing else: a private
//! CA is pinned, not added to every public one. Verification is never skipped.

use ldap3::LdapError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("--ca-file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--ca-file {path}: not PEM: {detail}")]
    Pem { path: String, detail: String },
    #[error("--ca-file {path}: no certificate (no -----BEGIN CERTIFICATE----- block)")]
    Empty { path: String },
    #[error("--ca-file {path}: certificate {n}: {detail}")]
    Certificate {
        path: String,
        n: usize,
        detail: String,
    },
    #[error("TLS: {0}")]
    Config(String),
}

/// A rustls configuration trusting exactly the certificates of `path` (PEM,
/// one or more `CERTIFICATE` blocks; other blocks such as a key are ignored).
pub fn client_config(path: &Path) -> Result<Arc<ClientConfig>, CaError> {
    let roots = roots(path)?;
    // aws-lc-rs, the provider ldap3's own default configuration uses here.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CaError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of `path`, each checked to be a usable trust anchor.
fn roots(path: &Path) -> Result<RootCertStore, CaError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| CaError::Read {
        path: shown.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaError::Pem {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CaError::Empty { path: shown });
    }
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| CaError::Certificate {
            path: shown.clone(),
            n: i + 1,
            detail: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// The TLS failure inside an ldap3 connection error, said plainly, or `None`
/// when the error is not about TLS.
pub fn explain(error: &LdapError, ca_file: Option<&Path>) -> Option<String> {
    let LdapError::Io { source } = error else {
        return None;
    };
    let tls = source.get_ref()?.downcast_ref::<rustls::Error>()?;
    let trusted = match ca_file {
        Some(path) => format!("the certificates of --ca-file {}", path.display()),
        None => "the system's roots (a private CA needs --ca-file)".to_owned(),
    };
    Some(match tls {
        rustls::Error::InvalidCertificate(why) => {
            let why = match why {
                rustls::CertificateError::UnknownIssuer => {
                    "it does not chain to a trusted CA (UnknownIssuer)".to_owned()
                }
                other => other.to_string(),
            };
            format!("TLS: the directory's certificate does not verify against {trusted}: {why}")
        }
        other => format!("TLS: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Two throwaway self-signed CAs (P-256, valid until 2126).
    const TWO_CAS: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBkTCCATegAwIBAgIUdcNFR9WFS5s9uFxtGURt5CkTR4MwCgYIKoZIzj0EAwIw\n\
HTEbMBkGA1UEAwwSUm9zdGVyIHRlc3QgQ0Egb25lMCAXDTI2MTIwMzE3MDk1NFoY\n\
DzIxMjYxMTA5MTcwOTU0WjAdMRswGQYDVQQDDBJSb3N0ZXIgdGVzdCBDQSBvbmUw\n\
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQMK2arsjhQau+qWl+0Z/u8rDv3294U\n\
C3IX2cJ6hq5jyyIGWZsFbn0JiZR+XhHA36lojOrx12SMYgFvNunrjvaJo1MwUTAd\n\
BgNVHQ4EFgQUB5qoMAY2n1yluUzFgXVF18UCDGgwHwYDVR0jBBgwFoAUB5qoMAY2\n\
n1yluUzFgXVF18UCDGgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF\n\
AiBO9I2NTZMtausD+LkhRlmlC1MhC8fA5H0cD/+uqxwZ4AIhAJB/xaGtSwvytJGP\n\
hns56X6rETBkKfFP69jIUWTQU686\n\
-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n\
MIIBkTCCATegAwIBAgIUZFs4JCQ4IdgeXiyveBp/KkYEpA8wCgYIKoZIzj0EAwIw\n\
HTEbMBkGA1UEAwwSUm9zdGVyIHRlc3QgQ0EgdHdvMCAXDTI2MTIwMzE3MDk1NFoY\n\
DzIxMjYxMTA5MTcwOTU0WjAdMRswGQYDVQQDDBJSb3N0ZXIgdGVzdCBDQSB0d28w\n\
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAS72obpLKHCz9uvoYSMhjg52CdHakjx\n\
Moev/FHY8OMaAtEnHmn5UEkLfJmR6eBtHnxMO8y0E9Dlj6QKsmZ4vFZYo1MwUTAd\n\
BgNVHQ4EFgQUSYfPdqKoMNJVScex7SujDTXiSZAwHwYDVR0jBBgwFoAUSYfPdqKo\n\
MNJVScex7SujDTXiSZAwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF\n\
AiBL0ZNFLe9edE60TPzyrZhkJuxaxsJpQQ0KeZDpm3wEMwIhAJySAXclqvu6wvdR\n\
a3Aq1utfxW9qiW9jZpERAJ1UhDuK\n\
-----END CERTIFICATE-----\n\
";

    #[test]
    fn every_certificate_of_the_file_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "Acme internal CAs\n{TWO_CAS}\n-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
        );
        let path = file(&dir, "cas.pem", &text);
        assert_eq!(roots(&path).unwrap().len(), 2);
        client_config(&path).unwrap();
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.pem");
        let e = client_config(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("--ca-file {}: ", path.display())),
            "{e}"
        );
        assert!(e.contains("No such file"), "{e}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("empty.pem", ""),
            ("text.pem", "not a certificate\n"),
            (
                "key.pem",
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            ),
        ] {
            let path = file(&dir, name, text);
            let e = client_config(&path).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "--ca-file {}: no certificate (no -----BEGIN CERTIFICATE----- block)",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn a_broken_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let unterminated = file(&dir, "cut.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let e = client_config(&unterminated).unwrap_err().to_string();
        assert!(e.contains("not PEM"), "{e}");
        let garbage = file(
            &dir,
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = client_config(&garbage).unwrap_err().to_string();
        assert!(e.contains("certificate 1: "), "{e}");
    }
}
