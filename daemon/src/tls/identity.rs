//! A certificate and its key: the server's own (`server.crt`) or the cluster's (`cluster.crt`).

use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate, its private key and its fingerprint.
pub struct Identity {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    key: PrivateKeyDer<'static>,
    fingerprint: String,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
            cert_der: self.cert_der.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint.clone(),
        }
    }
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
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Self::from_parts(
            cert.pem(),
            key.serialize_pem(),
            cert.der().to_vec(),
            key_der,
        ))
    }

    fn from_parts(
        cert_pem: String,
        key_pem: String,
        cert_der: Vec<u8>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        let fingerprint = corral_shared::fingerprint::of_der(&cert_der);
        Self {
            cert_pem,
            key_pem,
            cert_der,
            key,
            fingerprint,
        }
    }

    /// Parses a certificate and its private key given by a user (`PUT
    /// /1.0/cluster/certificate`): both must decode and the key must be the certificate's.
    pub fn from_user_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PairError> {
        let cert_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .ok_or(PairError::NoCertificate)?
            .map_err(|e| PairError::BadCertificate(e.to_string()))?
            .to_vec();
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .map_err(|e| PairError::BadKey(e.to_string()))?
            .ok_or(PairError::NoKey)?;
        let identity = Self::from_parts(cert_pem.to_owned(), key_pem.to_owned(), cert_der, key);
        identity.check_pair()?;
        Ok(identity)
    }

    /// Checks that the key is the certificate's own (rustls would only notice when a
    /// client's handshake fails).
    fn check_pair(&self) -> Result<(), PairError> {
        let signer = super::provider()
            .key_provider
            .load_private_key(self.key.clone_key())
            .map_err(|e| PairError::BadKey(e.to_string()))?;
        rustls::sign::CertifiedKey::new(vec![self.cert_der()], signer)
            .keys_match()
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => PairError::Mismatch,
                other => PairError::BadCertificate(other.to_string()),
            })
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
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .ok()
            .flatten()
            .ok_or_else(|| invalid("no private key beside it"))?;
        Ok(Self::from_parts(
            cert_pem.to_owned(),
            key_pem.to_owned(),
            cert_der,
            key,
        ))
    }

    /// Loads `<stem>.crt` and `<stem>.key` from `dir`, if both exist.
    pub fn load(dir: &Path, stem: &str) -> Result<Option<Self>, IdentityError> {
        finish_replacement(dir, stem)?;
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

    /// Writes `<stem>.crt` (0644) and `<stem>.key` (0600) into `dir`, durably and as a
    /// pair: both are first written in full beside the old ones (`.next`), then put in
    /// place key first. A crash in between leaves `.next` files that [`Identity::load`]
    /// puts in place, so a certificate is never read with another one's key.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(), IdentityError> {
        let (crt, key) = paths(dir, stem);
        let (crt_next, key_next) = (next(&crt), next(&key));
        // The key's `.next` is complete before the certificate's exists (see `load`).
        write_durably(&key_next, &self.key_pem, 0o600)?;
        write_durably(&crt_next, &self.cert_pem, 0o644)?;
        rename(&key_next, &key)?;
        rename(&crt_next, &crt)?;
        sync_dir(dir)
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
        self.key.clone_key()
    }
}

/// Why a certificate and key given by a user cannot be the cluster certificate.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// No PEM certificate block.
    #[error("the certificate is not PEM: no '-----BEGIN CERTIFICATE-----' block found")]
    NoCertificate,
    /// The certificate block does not decode.
    #[error("the certificate cannot be read: {0}")]
    BadCertificate(String),
    /// No PEM private key block.
    #[error(
        "the key is not PEM: no '-----BEGIN PRIVATE KEY-----' (or EC/RSA PRIVATE KEY) block found"
    )]
    NoKey,
    /// The key does not decode or is of an unsupported kind.
    #[error("the key cannot be used: {0}")]
    BadKey(String),
    /// The key is another certificate's.
    #[error("the key does not belong to the certificate (their public keys differ)")]
    Mismatch,
}

fn next(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    name.into()
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `body` to `path` with `mode` through a temporary file: `path` is either absent,
/// or whole and on disk.
fn write_durably(path: &Path, body: &str, mode: u32) -> Result<(), IdentityError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_error(&tmp))?;
    f.write_all(body.as_bytes()).map_err(io_error(&tmp))?;
    f.sync_all().map_err(io_error(&tmp))?;
    rename(&tmp, path)
}

fn rename(from: &Path, to: &Path) -> Result<(), IdentityError> {
    std::fs::rename(from, to).map_err(io_error(to))
}

fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Completes a [`Identity::save`] a crash interrupted. The certificate's `.next` exists
/// only once the key's was complete: with it, whichever `.next` files are left are put in
/// place (the key's may be in place already). A key's `.next` alone was never paired with
/// a certificate and is dropped.
fn finish_replacement(dir: &Path, stem: &str) -> Result<(), IdentityError> {
    let (crt, key) = paths(dir, stem);
    let (crt_next, key_next) = (next(&crt), next(&key));
    if crt_next.exists() {
        if key_next.exists() {
            rename(&key_next, &key)?;
        }
        rename(&crt_next, &crt)?;
        return sync_dir(dir);
    }
    if key_next.exists() {
        std::fs::remove_file(&key_next).map_err(io_error(&key_next))?;
    }
    Ok(())
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
    fn a_user_pair_must_decode_and_match() {
        let a = Identity::generate("a", vec![]).unwrap();
        let b = Identity::generate("b", vec![]).unwrap();
        let ok = Identity::from_user_pem(a.cert_pem(), a.key_pem()).unwrap();
        assert_eq!(ok.fingerprint(), a.fingerprint());
        for (cert, key, want) in [
            ("nonsense", a.key_pem(), "no '-----BEGIN CERTIFICATE-----'"),
            (a.cert_pem(), "nonsense", "the key is not PEM"),
            (
                a.cert_pem(),
                b.key_pem(),
                "does not belong to the certificate",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                a.key_pem(),
                "cannot be read",
            ),
        ] {
            let err = Identity::from_user_pem(cert, key).err().expect("refused");
            assert!(err.to_string().contains(want), "{err} lacks {want:?}");
        }
    }

    #[test]
    fn an_interrupted_replacement_is_finished_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let old = Identity::generate("old", vec![]).unwrap();
        let new = Identity::generate("new", vec![]).unwrap();
        old.save(dir.path(), "cluster").unwrap();
        let (crt, key) = paths(dir.path(), "cluster");
        // Stopped after the key was put in place, before the certificate.
        std::fs::write(next(&crt), new.cert_pem()).unwrap();
        std::fs::write(&key, new.key_pem()).unwrap();
        let loaded = Identity::load(dir.path(), "cluster").unwrap().unwrap();
        assert_eq!(loaded.fingerprint(), new.fingerprint());
        loaded.check_pair().unwrap();
        // Stopped while the key's `.next` was the only one: the old pair stays.
        new.save(dir.path(), "other").unwrap();
        old.save(dir.path(), "cluster").unwrap();
        std::fs::write(next(&key), new.key_pem()).unwrap();
        let loaded = Identity::load(dir.path(), "cluster").unwrap().unwrap();
        assert_eq!(loaded.fingerprint(), old.fingerprint());
        loaded.check_pair().unwrap();
        assert!(!next(&key).exists());
    }

    #[test]
    fn missing_files_load_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Identity::load(dir.path(), "cluster").unwrap().is_none());
    }
}
