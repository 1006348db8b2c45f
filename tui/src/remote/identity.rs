//! The files beside config.yml that carry trust: this client's certificate and key
//! (`client.crt`, `client.key`, made on first use) and each HTTPS remote's pinned server
//! certificate (`servercerts/NAME.crt`), as lxc keeps them.

use std::io::Write;
use std::path::{Path, PathBuf};

use corral_daemon::tls::Identity;
use corral_shared::tls::ClientIdentity;

use super::RemoteError;
use super::config::{ensure_private_dir, write_atomically};

/// The stem of `client.crt` and `client.key`.
const CLIENT: &str = "client";

/// The directory of pinned server certificates.
const SERVER_CERTS: &str = "servercerts";

/// This client's certificate, as presented to servers.
pub struct ClientCertificate {
    /// For the TLS handshake.
    pub identity: ClientIdentity,
    /// Its common name (`user@host`, as lxc's), the name servers record it under.
    pub name: String,
}

/// The client certificate in `dir`, made (and announced on `notes`) when there is none yet.
pub fn load_or_create(dir: &Path, notes: &mut dyn Write) -> Result<ClientCertificate, RemoteError> {
    if let Some(found) = load(dir)? {
        return Ok(found);
    }
    ensure_private_dir(dir)?;
    let _ = writeln!(
        notes,
        "Generating a client certificate. This may take a minute..."
    );
    let name = common_name();
    let made = Identity::generate(&name, vec![name.clone()])
        .map_err(|e| RemoteError::Config(format!("cannot make a client certificate: {e}")))?;
    made.save(dir, CLIENT)
        .map_err(|e| RemoteError::Config(format!("cannot save the client certificate: {e}")))?;
    Ok(ClientCertificate {
        identity: ClientIdentity::new(made.cert_der(), made.key_der()),
        name,
    })
}

/// The client certificate in `dir`, if it has been made.
pub fn load(dir: &Path) -> Result<Option<ClientCertificate>, RemoteError> {
    let found = Identity::load(dir, CLIENT).map_err(|e| {
        RemoteError::Config(format!(
            "cannot read the client certificate: {e} (a new one means adding every HTTPS \
             remote again)"
        ))
    })?;
    Ok(found.map(|made| ClientCertificate {
        name: corral_shared::x509::parse_pem(made.cert_pem())
            .map(|info| info.common_name)
            .unwrap_or_default(),
        identity: ClientIdentity::new(made.cert_der(), made.key_der()),
    }))
}

/// `user@host`, the common name lxc gives its client certificates.
fn common_name() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "corral".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// Where remote `name`'s server certificate is pinned.
pub fn server_cert_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(SERVER_CERTS).join(format!("{name}.crt"))
}

/// Pins `der` as remote `name`'s server certificate.
pub fn pin_server_cert(dir: &Path, name: &str, der: &[u8]) -> Result<(), RemoteError> {
    let path = server_cert_path(dir, name);
    ensure_private_dir(&dir.join(SERVER_CERTS))?;
    write_atomically(&path, pem(der).as_bytes(), 0o644)
}

/// The fingerprint of remote `name`'s pinned certificate; `None` when none is pinned.
pub fn pinned_fingerprint(dir: &Path, name: &str) -> Result<Option<String>, RemoteError> {
    let path = server_cert_path(dir, name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RemoteError::io(&path, e)),
    };
    let der = der_of(&text).ok_or_else(|| {
        RemoteError::Config(format!(
            "{} holds no PEM certificate; 'corral remote remove {name}' and add it again",
            path.display()
        ))
    })?;
    Ok(Some(corral_shared::fingerprint::of_der(&der)))
}

/// Moves remote `old`'s pinned certificate to `new` (if it has one).
pub fn rename_server_cert(dir: &Path, old: &str, new: &str) -> Result<(), RemoteError> {
    let from = server_cert_path(dir, old);
    match std::fs::rename(&from, server_cert_path(dir, new)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RemoteError::io(&from, e)),
        _ => Ok(()),
    }
}

/// Forgets remote `name`'s pinned certificate (if it has one).
pub fn remove_server_cert(dir: &Path, name: &str) -> Result<(), RemoteError> {
    let path = server_cert_path(dir, name);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RemoteError::io(&path, e)),
        _ => Ok(()),
    }
}

/// A certificate's DER as PEM text.
pub fn pem(der: &[u8]) -> String {
    let body = corral_shared::preseed::base64::encode(der);
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text
}

/// The DER of the first certificate in PEM `text`.
pub fn der_of(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let body = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
    let body = &body[..body.find("-----END CERTIFICATE-----")?];
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    corral_shared::preseed::base64::decode(&compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_certificate_is_made_once_with_a_private_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        assert!(load(&conf).unwrap().is_none());
        let mut notes = Vec::new();
        let made = load_or_create(&conf, &mut notes).unwrap();
        assert!(
            String::from_utf8(notes)
                .unwrap()
                .starts_with("Generating a client certificate")
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&conf.join("client.key")), 0o600);
        assert_eq!(mode(&conf), 0o700);
        let mut notes = Vec::new();
        let again = load_or_create(&conf, &mut notes).unwrap();
        assert!(notes.is_empty());
        assert_eq!(again.identity.fingerprint(), made.identity.fingerprint());
        assert_eq!(again.name, made.name);
    }

    #[test]
    fn pinned_certificates_follow_their_remote() {
        let dir = tempfile::tempdir().unwrap();
        let der = vec![0x30, 0x03, 1, 2, 3];
        assert_eq!(der_of(&pem(&der)), Some(der.clone()));
        assert_eq!(pinned_fingerprint(dir.path(), "prod").unwrap(), None);
        pin_server_cert(dir.path(), "prod", &der).unwrap();
        let fingerprint = corral_shared::fingerprint::of_der(&der);
        assert_eq!(
            pinned_fingerprint(dir.path(), "prod").unwrap(),
            Some(fingerprint.clone())
        );
        rename_server_cert(dir.path(), "prod", "live").unwrap();
        assert_eq!(pinned_fingerprint(dir.path(), "prod").unwrap(), None);
        assert_eq!(
            pinned_fingerprint(dir.path(), "live").unwrap(),
            Some(fingerprint)
        );
        remove_server_cert(dir.path(), "live").unwrap();
        remove_server_cert(dir.path(), "live").unwrap();
        assert_eq!(pinned_fingerprint(dir.path(), "live").unwrap(), None);
    }
}
