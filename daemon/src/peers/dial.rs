//! Dialling another member for gRPC: TCP, then TLS pinned on the cluster certificate, then
//! HTTP/2; and the member's cache of those channels, one per address, with the TLS
//! configurations they are dialled with.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tonic::transport::{Channel, Endpoint, Uri};

use super::tls::ClientTls;

/// How long a dial may take before the peer counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a channel takes its TLS configuration from each time it connects: a channel
/// outlives a change of certificate (Raft keeps its own), and must reconnect with the
/// member's current one.
pub type TlsSource = Arc<RwLock<Option<ClientTls>>>;

/// A lazily connected channel to `address` (`host:port`), dialled with `tls`.
pub fn channel(address: &str, tls: Arc<ClientConfig>) -> Channel {
    connect_lazily(address, move || Some(tls.clone()))
}

/// A lazily connected channel to `address`, dialled with what `source` holds when it
/// (re)connects.
pub fn channel_from(address: &str, source: TlsSource) -> Channel {
    connect_lazily(address, move || {
        source
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|t| t.h2.clone())
    })
}

fn connect_lazily(
    address: &str,
    config: impl Fn() -> Option<Arc<ClientConfig>> + Clone + Send + Sync + 'static,
) -> Channel {
    let address = address.to_owned();
    let connector = tower::service_fn(move |_: Uri| {
        let tls = config();
        let address = address.clone();
        async move {
            let tls = tls.ok_or_else(|| {
                std::io::Error::other(format!(
                    "cannot dial {address}: this member has no cluster certificate"
                ))
            })?;
            let tls = dial_tls(&address, tls).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    Endpoint::from_static("http://corral")
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect_with_connector_lazy(connector)
}

/// A TCP connection to `address` (`host:port`), within [`CONNECT_TIMEOUT`], then TLS with
/// `tls` on it (which pins the server's certificate and offers the protocol spoken).
pub async fn dial_tls(
    address: &str,
    tls: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address))
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
    let connecting = tokio_rustls::TlsConnector::from(tls).connect(name, tcp);
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the TLS handshake with {address} took over {CONNECT_TIMEOUT:?}"),
            )
        })?
}

/// Why a line (a kept connection of its own protocol, chosen by ALPN) was not opened.
#[derive(Debug)]
pub enum LineDial {
    /// The server does not offer the protocol (a member of an older version).
    NotOffered,
    /// The connection or the handshake failed.
    Failed(std::io::Error),
}

/// Dials `address` for the line whose protocols `tls` offers in ALPN (`alpns`, any of which
/// will do; the stream says which was agreed): the one place that tells a server without
/// the line from one that cannot be reached.
pub async fn dial_line(
    address: &str,
    tls: Arc<ClientConfig>,
    alpns: &[&[u8]],
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, LineDial> {
    match dial_tls(address, tls).await {
        Err(e) if refused_the_protocol(&e) => Err(LineDial::NotOffered),
        Err(e) => Err(LineDial::Failed(e)),
        Ok(stream) => match stream.get_ref().1.alpn_protocol() {
            Some(agreed) if alpns.contains(&agreed) => Ok(stream),
            _ => Err(LineDial::NotOffered),
        },
    }
}

/// Whether a handshake failed because the server offers none of the protocols asked for.
fn refused_the_protocol(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            *e == rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
        })
}

/// The member's TLS client configurations (once clustered) and its shared gRPC channels:
/// one multiplexed HTTP/2 channel per address, shared by Raft, reads, forwarded writes and
/// heartbeats. Clones share the cache.
#[derive(Clone, Default)]
pub struct Dialer {
    tls: TlsSource,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Certificates (by fingerprint) accepted from members besides the cluster's own,
    /// while the cluster certificate is being replaced.
    also: Arc<RwLock<BTreeSet<String>>>,
    /// The kept connection to the leader for read indexes.
    read_index: super::read_index::Line,
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
        self.read_index.close();
    }

    /// The kept connection to the leader for read indexes.
    pub fn read_index_line(&self) -> &super::read_index::Line {
        &self.read_index
    }

    /// The configurations, if set.
    pub fn tls(&self) -> Option<ClientTls> {
        self.tls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The shared channel to `address`, once the configurations are set. It connects
    /// lazily and reconnects by itself after a failure.
    pub fn channel(&self, address: &str) -> Option<Channel> {
        self.tls()?;
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            channels
                .entry(address.to_owned())
                .or_insert_with(|| channel_from(address, self.tls.clone()))
                .clone(),
        )
    }

    /// Accepts `fingerprint` from members as well as the cluster certificate's.
    pub fn also_trust(&self, fingerprint: &str) {
        self.also
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fingerprint.to_owned());
    }

    /// Stops accepting `fingerprint` besides the cluster certificate's.
    pub fn stop_trusting(&self, fingerprint: &str) {
        self.also
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(fingerprint);
    }

    /// The fingerprints accepted besides the cluster certificate's.
    pub fn also_trusted(&self) -> BTreeSet<String> {
        self.also.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_protocol_sends_a_member_back_to_grpc() {
        let alert = |a| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::AlertReceived(a),
            )
        };
        let cases = [
            (alert(rustls::AlertDescription::NoApplicationProtocol), true),
            (alert(rustls::AlertDescription::BadCertificate), false),
            (
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
                false,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(refused_the_protocol(&error), want, "{error}");
        }
    }
}
