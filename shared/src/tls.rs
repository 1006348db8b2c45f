//! The one rustls client configuration every Corral program uses to reach a member over
//! HTTPS: the daemon calling its peers, the wizard asking a cluster, `corral` and the test
//! harness. Corral's certificates are self-signed, so a server is trusted by the SHA-256
//! fingerprint of its certificate (or, for certificates a CA issued, by that CA), and a
//! client proves who it is with a certificate of its own, which the server judges.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// The name sent in SNI when trust is by fingerprint: it is never checked, only filled in.
pub const DEFAULT_SERVER_NAME: &str = "corral";

/// Why a client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the identity or the protocol versions.
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA certificate given as trust root is not one.
    #[error(
        "the CA certificate {fingerprint} cannot be a trust root ({reason}); give the CA's own PEM certificate"
    )]
    BadRoot {
        /// The root's fingerprint.
        fingerprint: String,
        /// What webpki said.
        reason: String,
    },
    /// PEM text did not hold what was asked for.
    #[error("{what}: {reason}")]
    Pem {
        /// Which file or value.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// How a client decides that the server is the one it means to reach.
#[derive(Debug, Clone)]
pub enum ServerTrust {
    /// Only a certificate whose fingerprint (lowercase hex SHA-256 of the DER) is this one.
    Fingerprint(String),
    /// Any certificate that chains to one of these CA certificates and is valid for `name`.
    Ca {
        /// The CA certificates (DER).
        roots: Vec<Vec<u8>>,
        /// The name the server's certificate must be valid for (and SNI).
        name: String,
    },
    /// A certificate whose fingerprint is any of these: members while the cluster
    /// certificate is being replaced trust the old one and the new one.
    Fingerprints(Vec<String>),
    /// Any certificate at all: for a first contact, where a person (or a join token)
    /// judges the fingerprint the handshake recorded before anything is trusted.
    Any,
}

/// A certificate and its private key, presented to the server.
#[derive(Debug)]
pub struct ClientIdentity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ClientIdentity {
    /// An identity from DER certificate and key.
    pub fn new(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Self {
        Self { cert, key }
    }

    /// An identity from PEM text, as `client.crt` and `client.key` hold it; `origin` names
    /// where the text came from in errors.
    pub fn from_pem(cert_pem: &str, key_pem: &str, origin: &str) -> Result<Self, TlsError> {
        let pem = |reason: String| TlsError::Pem {
            what: origin.to_owned(),
            reason,
        };
        let cert = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .ok_or_else(|| pem("no PEM certificate found".into()))?
            .map_err(|e| pem(format!("unreadable certificate: {e}")))?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .map_err(|e| pem(format!("unreadable private key: {e}")))?
            .ok_or_else(|| pem("no PEM private key found".into()))?;
        Ok(Self { cert, key })
    }

    /// The fingerprint of the certificate this identity presents.
    pub fn fingerprint(&self) -> String {
        crate::fingerprint::of_der(&self.cert)
    }
}

/// The DER of the certificate the server presented in the latest handshake.
pub type SeenCertificate = Arc<Mutex<Option<Vec<u8>>>>;

/// A client configuration and what its handshakes saw.
#[derive(Clone)]
pub struct ClientTls {
    /// The rustls configuration, for `tokio_rustls::TlsConnector`.
    pub config: Arc<ClientConfig>,
    /// The name to send in SNI (and check, under [`ServerTrust::Ca`]).
    pub server_name: ServerName<'static>,
    seen: SeenCertificate,
}

impl ClientTls {
    /// A configuration made elsewhere, used as it is; SNI says [`DEFAULT_SERVER_NAME`] and
    /// nothing records the server's certificate.
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            server_name: ServerName::try_from(DEFAULT_SERVER_NAME).expect("a valid DNS name"),
            seen: SeenCertificate::default(),
        }
    }

    /// The certificate (DER) the server presented in the latest handshake made with this
    /// configuration, whether or not it was trusted.
    pub fn seen_certificate(&self) -> Option<Vec<u8>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The client configuration: trusts the server as `trust` says, presents `identity` when
/// given, and offers the ALPN protocols `alpn` (`h2` for gRPC, `http/1.1` for REST).
pub fn client_config(
    trust: &ServerTrust,
    identity: Option<&ClientIdentity>,
    alpn: &[&[u8]],
) -> Result<ClientTls, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = SeenCertificate::default();
    let (judge, name) = match trust {
        ServerTrust::Fingerprint(pin) => (
            Judge::Pinned(vec![pin.to_ascii_lowercase()]),
            DEFAULT_SERVER_NAME.to_owned(),
        ),
        ServerTrust::Fingerprints(pins) => (
            Judge::Pinned(pins.iter().map(|p| p.to_ascii_lowercase()).collect()),
            DEFAULT_SERVER_NAME.to_owned(),
        ),
        ServerTrust::Any => (Judge::Any, DEFAULT_SERVER_NAME.to_owned()),
        ServerTrust::Ca { roots, name } => {
            let mut store = RootCertStore::empty();
            for root in roots {
                store
                    .add(CertificateDer::from(root.clone()))
                    .map_err(|e| TlsError::BadRoot {
                        fingerprint: crate::fingerprint::of_der(root),
                        reason: e.to_string(),
                    })?;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                    .build()
                    .map_err(|e| TlsError::BadRoot {
                        fingerprint: String::new(),
                        reason: e.to_string(),
                    })?;
            (Judge::Ca(verifier), name.clone())
        }
    };
    let server_name = ServerName::try_from(name.clone()).map_err(|e| TlsError::Pem {
        what: format!("the server name {name:?}"),
        reason: format!("{e}; give a DNS name or an IP address"),
    })?;
    let verifier = Verifier {
        judge,
        seen: seen.clone(),
        provider: provider.clone(),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match identity {
        Some(identity) => {
            builder.with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(ClientTls {
        config: Arc::new(config),
        server_name,
        seen,
    })
}

/// The one decision a verifier makes about the server's certificate.
#[derive(Debug)]
enum Judge {
    Pinned(Vec<String>),
    Ca(Arc<WebPkiServerVerifier>),
    Any,
}

/// Records the server's certificate, then judges it as [`ServerTrust`] said.
#[derive(Debug)]
struct Verifier {
    judge: Judge,
    seen: SeenCertificate,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(end_entity.to_vec());
        match &self.judge {
            Judge::Any => Ok(ServerCertVerified::assertion()),
            Judge::Pinned(pins) => {
                let seen = crate::fingerprint::of_der(end_entity);
                if pins.iter().any(|pin| {
                    crate::fingerprint::constant_time_eq(seen.as_bytes(), pin.as_bytes())
                }) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    // Callers tell a wrong server from an unreachable one by these words.
                    Err(Error::General(format!(
                        "certificate fingerprint mismatch: expected {}, got {seen}",
                        pins.join(" or ")
                    )))
                }
            }
            Judge::Ca(webpki) => {
                webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
