//! Dialling another member: TCP, then TLS pinned on the cluster certificate, then HTTP/2.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tonic::transport::{Channel, Endpoint, Uri};

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
