//! The client TLS configurations members call each other with, built in one place: the
//! cluster certificate presented, the server pinned by fingerprint. Switching to another
//! source of rustls client configurations is an edit to [`client_configs`] alone.

use std::sync::Arc;

use rustls::ClientConfig;

use crate::tls::Identity;

/// One identity's client configurations, one per protocol spoken to members.
#[derive(Clone)]
pub struct ClientTls {
    /// HTTP/2 in ALPN: gRPC (Raft, reads, forwarded writes, heartbeats).
    pub h2: Arc<ClientConfig>,
    /// HTTP/1.1 in ALPN: LXD's REST API and the internal calls.
    pub http1: Arc<ClientConfig>,
}

impl ClientTls {
    /// Both configurations from a gRPC one (the form the Raft network has been given).
    pub fn from_h2(h2: Arc<ClientConfig>) -> Self {
        // REST calls speak HTTP/1.1: say so in ALPN rather than rely on the server sniffing.
        let mut http1 = (*h2).clone();
        http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            h2,
            http1: Arc::new(http1),
        }
    }
}

/// Configurations that present `identity` and accept only a server whose certificate has
/// fingerprint `pinned`.
pub fn client_configs(identity: &Identity, pinned: &str) -> Result<ClientTls, rustls::Error> {
    crate::tls::pinned_client_config(identity, pinned).map(ClientTls::from_h2)
}
