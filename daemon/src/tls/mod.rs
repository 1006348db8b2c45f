//! TLS: this member's certificates and the rustls configurations built from them.
//! Clients may present any certificate; whether it is trusted is decided per request
//! from its fingerprint. Members pin each other by the cluster certificate's fingerprint.

mod identity;
mod verify;

use std::sync::Arc;

pub use identity::{Identity, IdentityError, PairError};
use rustls::ServerConfig;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Environment setting: `0` makes this member offer only HTTP/2 and HTTP/1.1 on its port,
/// as members before the read-index and Raft lines did (how tests run mixed versions).
pub const OFFER_LINES_ENV: &str = "CORRAL_OFFER_LINES";

/// The listener's configuration: serve `identity`, ask for (never require) a client certificate.
pub fn server_config(identity: &Identity) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = provider();
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(verify::AnyClientCert::new(provider)))
        .with_single_cert(vec![identity.cert_der()], identity.key_der())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if std::env::var(OFFER_LINES_ENV).as_deref() != Ok("0") {
        config.alpn_protocols.extend(
            crate::peers::read_index::ALPNS
                .iter()
                .map(|alpn| alpn.to_vec()),
        );
        config.alpn_protocols.push(crate::raft::line::ALPN.to_vec());
    }
    Ok(Arc::new(config))
}
