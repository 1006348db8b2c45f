//! Dialling another member for gRPC: TCP, then TLS pinned on the cluster certificate, then
//! HTTP/2; and the member's cache of those channels, one per address, with the TLS
//! configurations they are dialled with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tonic::transport::{Channel, Endpoint, Uri};

use super::tls::ClientTls;

/// How long a dial may take before the peer counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A lazily connected channel to `address` (`host:port`).
pub fn channel(address: &str, tls: Arc<ClientConfig>) -> Channel {
    let address = address.to_owned();
    let connector = tower::service_fn(move |_: Uri| {
        let tls = tls.clone();
        let address = address.clone();
        async move {
            let tcp =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("connecting to {address} timed out after {CONNECT_TIMEOUT:?}"),
                        )
                    })??;
            tcp.set_nodelay(true)?;
            // The name is not checked (the fingerprint is); it only fills in SNI.
            let name = ServerName::try_from("corral").expect("a valid DNS name");
            let tls = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    Endpoint::from_static("http://corral")
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect_with_connector_lazy(connector)
}

/// The member's TLS client configurations (once clustered) and its shared gRPC channels:
/// one multiplexed HTTP/2 channel per address, shared by Raft, reads, forwarded writes and
/// heartbeats. Clones share the cache.
#[derive(Clone, Default)]
pub struct Dialer {
    tls: Arc<RwLock<Option<ClientTls>>>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl Dialer {
    /// A dialer that can dial nothing until [`Dialer::set_tls`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A dialer with `tls` from the start (e.g. a stopped member's files).
    pub fn with_tls(tls: ClientTls) -> Self {
        let dialer = Self::new();
        dialer.set_tls(tls);
        dialer
    }

    /// Sets the configurations members are called with (dropping old channels).
    pub fn set_tls(&self, tls: ClientTls) {
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) = Some(tls);
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The configurations, if set.
    pub fn tls(&self) -> Option<ClientTls> {
        self.tls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The shared channel to `address`, once the configurations are set. It connects
    /// lazily and reconnects by itself after a failure.
    pub fn channel(&self, address: &str) -> Option<Channel> {
        let tls = self.tls()?.h2;
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            channels
                .entry(address.to_owned())
                .or_insert_with(|| channel(address, tls))
                .clone(),
        )
    }
}
