//! Where a daemon is and how a byte stream to it is opened. Every request of the REST
//! client and every gRPC stream starts here, so a new way to reach a member is one more
//! variant of [`Connector`], not another client.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use super::SshTarget;
use crate::tls::{ClientIdentity, ClientTls, ServerTrust, TlsError, client_config};

/// A bidirectional byte stream to a daemon, whatever carries it.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// A connected stream, ready for HTTP.
pub type Stream = Box<dyn ByteStream>;

/// The HTTP version a stream will carry: the TLS handshake announces it (ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// REST: one request after another.
    Http1,
    /// gRPC.
    Http2,
}

/// How to reach one daemon.
#[derive(Debug, Clone)]
pub enum Connector {
    /// The daemon's unix socket: local, and trusted because only its owner may open it.
    Unix(PathBuf),
    /// A member's HTTPS address: the server is trusted as the TLS configuration says, and
    /// the client is whoever its certificate makes it.
    Https(Https),
    /// An SSH remote: a child process (`ssh host corral dial-stdio`) whose standard input
    /// and output are the byte stream, so REST and gRPC need nothing new.
    Ssh(SshTarget),
}

/// An HTTPS address and the TLS to use with it, per HTTP version.
#[derive(Clone)]
pub struct Https {
    address: String,
    rest: ClientTls,
    grpc: ClientTls,
}

impl fmt::Debug for Https {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Https")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Where a daemon is, as errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A unix socket's path.
    Socket(PathBuf),
    /// An HTTPS address (`host:port`).
    Https(String),
    /// An SSH remote.
    Ssh(SshTarget),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Socket(path) => write!(f, "{}", path.display()),
            Place::Https(address) => write!(f, "https://{address}"),
            Place::Ssh(target) => write!(f, "{target}"),
        }
    }
}

impl Connector {
    /// The daemon at `address` (`host:port`) over HTTPS, trusted as `trust` says,
    /// presenting `identity` when given.
    pub fn https(
        address: &str,
        trust: &ServerTrust,
        identity: Option<&ClientIdentity>,
    ) -> Result<Connector, TlsError> {
        Ok(Connector::Https(Https {
            address: address.to_owned(),
            rest: client_config(trust, identity, &[b"http/1.1"])?,
            grpc: client_config(trust, identity, &[b"h2"])?,
        }))
    }

    /// The daemon at `address` over HTTPS with a rustls configuration made elsewhere (a
    /// member's own identity, pinned on the cluster certificate); its ALPN is replaced per
    /// HTTP version and SNI says [`crate::tls::DEFAULT_SERVER_NAME`].
    pub fn https_with_config(address: &str, config: Arc<ClientConfig>) -> Connector {
        let with_alpn = |alpn: &[u8]| {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![alpn.to_vec()];
            ClientTls::from_config(Arc::new(config))
        };
        Connector::Https(Https {
            address: address.to_owned(),
            rest: with_alpn(b"http/1.1"),
            grpc: with_alpn(b"h2"),
        })
    }

    /// Where the daemon is, for messages.
    pub fn place(&self) -> Place {
        match self {
            Connector::Unix(path) => Place::Socket(path.clone()),
            Connector::Https(https) => Place::Https(https.address.clone()),
            Connector::Ssh(target) => Place::Ssh(target.clone()),
        }
    }

    /// Opens a byte stream that will carry `protocol`; the caller bounds the time it takes.
    pub async fn connect(&self, protocol: Protocol) -> io::Result<Stream> {
        match self {
            Connector::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            Connector::Https(https) => {
                let tls = match protocol {
                    Protocol::Http1 => &https.rest,
                    Protocol::Http2 => &https.grpc,
                };
                let tcp = tokio::net::TcpStream::connect(&https.address).await?;
                tcp.set_nodelay(true)?;
                let stream = tokio_rustls::TlsConnector::from(tls.config.clone())
                    .connect(tls.server_name.clone(), tcp)
                    .await?;
                Ok(Box::new(stream))
            }
            // The same stream carries either protocol: dial-stdio relays bytes.
            Connector::Ssh(target) => Ok(Box::new(super::ssh::connect(target).await?)),
        }
    }
}
