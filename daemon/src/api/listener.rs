//! Listeners: the unix socket (local, root-only, trusted) and the TLS port, on which one
//! connection may carry REST and gRPC; requests are told apart by content-type.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::Peer;

/// The certificate a TLS listener presents, swappable while it runs.
pub type SharedTls = Arc<std::sync::RwLock<Arc<rustls::ServerConfig>>>;

/// A running listener; dropping it does not stop it, `stop` does.
pub struct Listener {
    /// The address it was asked to listen on (for TLS listeners), as configured.
    pub configured: Option<String>,
    /// The address it is bound to (for TLS listeners).
    pub address: Option<SocketAddr>,
    tls: Option<SharedTls>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Stops accepting connections and waits until the socket is closed, so the address
    /// can be bound again at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Presents another certificate to new connections.
    pub fn set_tls(&self, config: Arc<rustls::ServerConfig>) {
        if let Some(tls) = &self.tls {
            *tls.write().unwrap_or_else(|p| p.into_inner()) = config;
        }
    }
}

fn is_grpc(req: &hyper::Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

async fn serve_connection<IO>(io: IO, peer: Peer, rest: Router, grpc: Option<Router>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        let router = match (&grpc, is_grpc(&req)) {
            (Some(grpc), true) => grpc.clone(),
            _ => rest.clone(),
        };
        router.oneshot(req.map(Body::new))
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await;
}

/// Serves the REST API and gRPC on a unix socket that only its owner may use.
pub fn serve_unix(path: &Path, rest: Router, grpc: Router) -> std::io::Result<Listener> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let peer = Peer { fingerprint: None, certificate: None, local: true };
                    tokio::spawn(serve_connection(stream, peer, rest.clone(), Some(grpc.clone())));
                }
            }
        }
    });
    Ok(Listener {
        configured: None,
        address: None,
        tls: None,
        stop,
        task,
    })
}

/// Serves REST and gRPC on one TLS address.
pub async fn serve_tls(
    address: &str,
    tls: Arc<rustls::ServerConfig>,
    rest: Router,
    grpc: Router,
) -> std::io::Result<Listener> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let shared: SharedTls = Arc::new(std::sync::RwLock::new(tls));
    let current = shared.clone();
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    let config = current.read().unwrap_or_else(|p| p.into_inner()).clone();
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    let (rest, grpc) = (rest.clone(), grpc.clone());
                    tokio::spawn(async move {
                        // A handshake that stalls must not hold a task forever.
                        let handshake = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            acceptor.accept(tcp),
                        );
                        let Ok(Ok(tls)) = handshake.await else { return };
                        let certificate = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|certs| certs.first())
                            .map(|c| std::sync::Arc::new(c.to_vec()));
                        let fingerprint = certificate
                            .as_deref()
                            .map(|c| corral_shared::fingerprint::of_der(c));
                        let peer = Peer { fingerprint, certificate, local: false };
                        serve_connection(tls, peer, rest, Some(grpc)).await;
                    });
                }
            }
        }
    });
    Ok(Listener {
        configured: Some(address.to_owned()),
        address: Some(bound),
        tls: Some(shared),
        stop,
        task,
    })
}
