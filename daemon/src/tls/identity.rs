//! A certificate and its key: the server's own (`server.crt`) or the cluster's (`cluster.crt`).

use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate, its private key and its fingerprint.
#[derive(Clone)]
pub struct Identity {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    fingerprint: String,
}

/// Why a certificate could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing the files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The PEM did not hold a usable certificate or key.
    #[error("{path}: {reason}; move the file away to have a new one made")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

impl Identity {
    /// Makes a self-signed certificate valid for ten years, as LXD's are.
    pub fn generate(common_name: &str, alt_names: Vec<String>) -> Result<Self, IdentityError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?;
        let mut params = rcgen::CertificateParams::new(alt_names)?;
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Corral");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok(Self::from_parts(
            cert.pem(),
            key.serialize_pem(),
            cert.der().to_vec(),
            key.serialize_der(),
        ))
    }

    fn from_parts(cert_pem: String, key_pem: String, cert_der: Vec<u8>, key_der: Vec<u8>) -> Self {
        let fingerprint = corral_shared::fingerprint::of_der(&cert_der);
        Self {
            cert_pem,
            key_pem,
            cert_der,
            key_der,
            fingerprint,
        }
    }

    /// Parses a PEM certificate and PKCS#8 key.
    pub fn from_pem(cert_pem: &str, key_pem: &str, origin: &Path) -> Result<Self, IdentityError> {
        let invalid = |reason: &str| IdentityError::Invalid {
            path: origin.display().to_string(),
            reason: reason.to_owned(),
        };
        let cert_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| invalid("no certificate in it"))?
            .to_vec();
        let key_der = rustls_pemfile::pkcs8_private_keys(&mut key_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| invalid("no PKCS#8 private key beside it"))?
            .secret_pkcs8_der()
            .to_vec();
        Ok(Self::from_parts(
            cert_pem.to_owned(),
            key_pem.to_owned(),
            cert_der,
            key_der,
        ))
    }

    /// Loads `<stem>.crt` and `<stem>.key` from `dir`, if both exist.
    pub fn load(dir: &Path, stem: &str) -> Result<Option<Self>, IdentityError> {
        let (crt, key) = paths(dir, stem);
        if !crt.exists() || !key.exists() {
            return Ok(None);
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| IdentityError::Io {
                path: p.display().to_string(),
                source,
            })
        };
        Self::from_pem(&read(&crt)?, &read(&key)?, &crt).map(Some)
    }

    /// Writes `<stem>.crt` (0644) and `<stem>.key` (0600) into `dir`, durably.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(), IdentityError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let (crt, key) = paths(dir, stem);
        for (path, body, mode) in [(&crt, &self.cert_pem, 0o644), (&key, &self.key_pem, 0o600)] {
            let io = |source| IdentityError::Io {
                path: path.display().to_string(),
                source,
            };
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&tmp)
                .map_err(io)?;
            f.write_all(body.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
        }
        Ok(())
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Lowercase hex SHA-256 of the certificate's DER.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate, DER, for rustls.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.cert_der.clone())
    }

    /// The key, DER, for rustls.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

fn paths(dir: &Path, stem: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_survives_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::generate("root@test", vec!["localhost".into()]).unwrap();
        id.save(dir.path(), "server").unwrap();
        let back = Identity::load(dir.path(), "server").unwrap().unwrap();
        assert_eq!(back.fingerprint(), id.fingerprint());
        assert_eq!(id.fingerprint().len(), 64);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_files_load_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Identity::load(dir.path(), "cluster").unwrap().is_none());
    }
}
