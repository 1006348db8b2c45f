//! Listeners: the unix socket (local, root-only, trusted) and the TLS port, on which one
//! connection may carry REST and gRPC; requests are told apart by content-type. A TLS
//! connection that agreed on the read-index or the Raft line's protocol (ALPN) carries that
//! line alone. Each connection is a task the member owns ([`Tasks`]): a shutdown lets it finish the request
//! in hand, then closes it. A listener serves at most [`MAX_CONNECTIONS`] at once; more
//! wait, unaccepted, until one closes.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::Peer;
use super::lines::LineKind;
use crate::tasks::Tasks;

/// Certificates (by fingerprint) whose connections must close: a member certificate no
/// longer trusted after a cluster certificate update. One per process, as the member is.
fn closing() -> &'static tokio::sync::broadcast::Sender<Arc<str>> {
    static CLOSING: std::sync::OnceLock<tokio::sync::broadcast::Sender<Arc<str>>> =
        std::sync::OnceLock::new();
    CLOSING.get_or_init(|| tokio::sync::broadcast::channel(16).0)
}

/// Closes, gracefully (requests in hand finish), every TLS connection whose client
/// presented the certificate with `fingerprint`: its client reconnects and is judged anew.
pub fn close_connections_of(fingerprint: &str) {
    let _ = closing().send(Arc::from(fingerprint));
}

/// Resolves when connections of `fingerprint` are told to close (never without one).
async fn closed_for(
    fingerprint: Option<String>,
    mut rx: tokio::sync::broadcast::Receiver<Arc<str>>,
) {
    let Some(fingerprint) = fingerprint else {
        return std::future::pending().await;
    };
    loop {
        match rx.recv().await {
            Ok(f) if *f == *fingerprint => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return std::future::pending().await;
            }
        }
    }
}

/// How many connections one listener serves at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// The certificate a TLS listener presents, swappable while it runs.
pub type SharedTls = Arc<std::sync::RwLock<Arc<rustls::ServerConfig>>>;

/// What the TLS port serves: LXD's REST API, gRPC, and the read-index line.
#[derive(Clone)]
pub struct Services {
    /// LXD's REST API and the internal calls.
    pub rest: Router,
    /// Members' and operators' gRPC services.
    pub grpc: Router,
    /// The receiving end of the read-index and Raft lines.
    pub lines: super::lines::LineServer,
}

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

async fn serve_connection<IO>(
    io: IO,
    peer: Peer,
    rest: Router,
    grpc: Option<Router>,
    mut stop: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let closed = closed_for(peer.fingerprint.clone(), closing().subscribe());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        let router = match (&grpc, is_grpc(&req)) {
            (Some(grpc), true) => grpc.clone(),
            _ => rest.clone(),
        };
        router.oneshot(req.map(Body::new))
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        // Also when the signal's sender is gone: the member is going either way.
        _ = stop.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
        _ = closed => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}

/// A place in the connection limit, waited for (and said so, once per wait) when full.
async fn permit(limit: &Arc<Semaphore>, listener: &str, max: usize) -> OwnedSemaphorePermit {
    if let Ok(permit) = limit.clone().try_acquire_owned() {
        return permit;
    }
    tracing::warn!(
        "{listener}: {max} connections are open, the most one listener serves; new \
         connections wait until one closes (clients that keep idle connections open may \
         be holding them)"
    );
    limit
        .clone()
        .acquire_owned()
        .await
        .expect("the limit is never closed")
}

/// Serves the REST API and gRPC on a unix socket that only its owner may use.
pub fn serve_unix(
    path: &Path,
    rest: Router,
    grpc: Router,
    tasks: &Tasks,
) -> std::io::Result<Listener> {
    serve_unix_limited(path, rest, grpc, tasks, MAX_CONNECTIONS)
}

fn serve_unix_limited(
    path: &Path,
    rest: Router,
    grpc: Router,
    tasks: &Tasks,
    max: usize,
) -> std::io::Result<Listener> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let (stop, mut stopped) = watch::channel(false);
    let (tasks, name) = (tasks.clone(), path.display().to_string());
    let limit = Arc::new(Semaphore::new(max));
    let task = tokio::spawn(async move {
        loop {
            let held = tokio::select! {
                _ = stopped.changed() => break,
                held = permit(&limit, &name, max) => held,
            };
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let peer = Peer { fingerprint: None, certificate: None, local: true, address: None };
                    let serve = serve_connection(
                        stream, peer, rest.clone(), Some(grpc.clone()), tasks.signal(),
                    );
                    tasks.spawn_graceful("a unix socket connection", async move {
                        let _held = held;
                        serve.await;
                    });
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

/// Serves REST, gRPC and the read-index line on one TLS address.
pub async fn serve_tls(
    address: &str,
    tls: Arc<rustls::ServerConfig>,
    services: Services,
    tasks: &Tasks,
) -> std::io::Result<Listener> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let shared: SharedTls = Arc::new(std::sync::RwLock::new(tls));
    let current = shared.clone();
    let (stop, mut stopped) = watch::channel(false);
    let tasks = tasks.clone();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let name = format!("https://{bound}");
    let task = tokio::spawn(async move {
        loop {
            let held = tokio::select! {
                _ = stopped.changed() => break,
                held = permit(&limit, &name, MAX_CONNECTIONS) => held,
            };
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, remote)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    let config = current.read().unwrap_or_else(|p| p.into_inner()).clone();
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    let (services, signal) = (services.clone(), tasks.signal());
                    tasks.spawn_graceful("a TLS connection", async move {
                        let _held = held;
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
                        let peer = Peer { fingerprint, certificate, local: false, address: Some(remote.to_string()) };
                        let line = tls.get_ref().1.alpn_protocol().and_then(LineKind::of_alpn);
                        if let Some(kind) = line {
                            let closed = closed_for(peer.fingerprint.clone(), closing().subscribe());
                            return services.lines.serve(kind, tls, peer, signal, closed).await;
                        }
                        serve_connection(tls, peer, services.rest, Some(services.grpc), signal).await;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use corral_shared::client::{Client, ClientError};

    use super::*;

    #[tokio::test]
    async fn connections_past_the_limit_wait_until_one_closes_and_a_stop_drains_them() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("unix.socket");
        let (stop, signal) = watch::channel(false);
        let tasks = Tasks::new(signal);
        let rest = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let listener = serve_unix_limited(&path, rest, Router::new(), &tasks, 2).expect("serves");
        let client = Client::unix(path.clone()).with_timeout(Duration::from_secs(10));

        // Two idle kept-alive connections fill the limit.
        let mut first = client.keep_alive().await.expect("first connection");
        let mut second = client.keep_alive().await.expect("second connection");
        for kept in [&mut first, &mut second] {
            assert_eq!(kept.raw("GET", "/", None).await.expect("served").0, 200);
        }
        assert_eq!(tasks.running(), 2);

        // A third is left waiting, unaccepted.
        let waiting = client
            .clone()
            .with_timeout(Duration::from_millis(300))
            .raw("GET", "/", None)
            .await;
        assert!(
            matches!(waiting, Err(ClientError::Timeout { .. })),
            "{waiting:?}"
        );

        // One closes: new connections are served again.
        drop(first);
        assert_eq!(client.raw("GET", "/", None).await.expect("served").0, 200);

        // A stop closes the idle connection that is left, well within the bound.
        stop.send_replace(true);
        listener.stop().await;
        assert_eq!(tasks.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(tasks.running(), 0);
        drop(second);
    }
}
