//! The REST client: LXD's API and envelope, spoken over the daemon's unix socket or HTTPS
//! (see [`Connector`]), and the gRPC Watch stream beside it over the same connector.
//!
//! Each request opens a fresh connection and is bounded in time, so a stuck daemon
//! turns into an error naming what was awaited instead of a hang.

mod connector;
mod error;
mod events;
mod ssh;
mod stale;
mod transport;
mod watch;
mod websocket;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{Envelope, Operation, OperationStatus, ResponseType};
use crate::paths::{corral_dir, unix_socket};

pub use connector::{ByteStream, Connector, Place, Protocol, Stream};
pub use error::ClientError;
pub use events::{EventStream, events_path};
pub use ssh::{SSH_COMMAND_VAR, SshFailure, SshTarget};
pub use stale::{STALE_HEADER, Stale};
pub use watch::{WatchError, WatchStream};
pub use websocket::{Frame, Socket};

use crate::tls::{ClientIdentity, ServerTrust, TlsError};

/// How long a request may take unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Extra time allowed past an operation wait, so the daemon's own answer arrives first.
const WAIT_MARGIN: Duration = Duration::from_secs(5);

/// How often [`Client::wait_ready`] asks again.
const READY_POLL: Duration = Duration::from_millis(50);

/// A decoded answer: HTTP status, ETag (without quotes), stale mark and the LXD envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The resource's ETag, when the daemon sent one.
    pub etag: Option<String>,
    /// Set when the member answered from its own copy, which no leader confirmed current.
    pub stale: Option<Stale>,
    /// What the request created (LXD's Location header: an operation, a certificate).
    pub location: Option<String>,
    /// The LXD envelope (never of type `error`: those become [`ClientError::Api`]).
    pub envelope: Envelope,
}

impl Response {
    /// The operation an async answer (HTTP 202) started, from its metadata; a sync answer
    /// or a malformed operation is a protocol error.
    pub fn operation(&self) -> Result<Operation, ClientError> {
        if self.envelope.kind != ResponseType::Async {
            return Err(ClientError::Protocol(format!(
                "expected an async answer naming an operation, got {:?}",
                self.envelope.kind
            )));
        }
        serde_json::from_value(self.envelope.metadata.clone()).map_err(|e| {
            ClientError::Protocol(format!(
                "the operation {} is not an LXD operation ({e})",
                self.envelope.operation
            ))
        })
    }
}

/// A client of one daemon's REST API. Clones share the record of stale answers (and, over
/// SSH, the connection they reuse).
#[derive(Debug, Clone)]
pub struct Client {
    connector: Connector,
    timeout: Duration,
    stale: StaleAnswers,
    reused: ReusedConnection,
}

/// The one connection an SSH client reuses, request after request: each new one is an
/// ssh login. Other transports open one per request, which costs next to nothing.
#[derive(Clone, Default)]
struct ReusedConnection(Arc<tokio::sync::Mutex<Option<transport::Connection>>>);

impl std::fmt::Debug for ReusedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReusedConnection")
    }
}

/// Every stale mark a client (and its clones and kept connections) received, oldest first.
type StaleAnswers = Arc<Mutex<Vec<Stale>>>;

/// Records the stale mark of `raw`, if it has one; a mark that cannot be read is an error,
/// so that such an answer is never taken for a current one.
fn note_stale(record: &StaleAnswers, raw: &transport::RawAnswer) -> Result<(), ClientError> {
    if let Some(value) = &raw.stale {
        let stale = Stale::parse(value).map_err(ClientError::Protocol)?;
        record.lock().unwrap_or_else(|p| p.into_inner()).push(stale);
    }
    Ok(())
}

impl Client {
    /// A client of the daemon reached through `connector`.
    pub fn new(connector: Connector) -> Client {
        Client {
            connector,
            timeout: DEFAULT_TIMEOUT,
            stale: StaleAnswers::default(),
            reused: ReusedConnection::default(),
        }
    }

    /// A client of the daemon listening on the unix socket at `path`.
    pub fn unix(path: PathBuf) -> Client {
        Client::new(Connector::Unix(path))
    }

    /// A client of the daemon at `address` (`host:port`) over HTTPS, trusting the server as
    /// `trust` says and presenting `identity` (a certificate the daemon trusts) when given.
    pub fn https(
        address: &str,
        trust: &ServerTrust,
        identity: Option<&ClientIdentity>,
    ) -> Result<Client, TlsError> {
        Ok(Client::new(Connector::https(address, trust, identity)?))
    }

    /// A client of the local daemon, found through `CORRAL_DIR`.
    pub fn local() -> Client {
        Client::unix(unix_socket(&corral_dir()))
    }

    /// The same client with another bound on each request's time.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The unix socket this client talks to; an empty path when it speaks another transport
    /// (see [`Client::place`]).
    pub fn socket(&self) -> &Path {
        match &self.connector {
            Connector::Unix(path) => path,
            Connector::Https(_) | Connector::Ssh(_) => Path::new(""),
        }
    }

    /// Where the daemon is, as messages name it.
    pub fn place(&self) -> Place {
        self.connector.place()
    }

    /// How this client reaches its daemon.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The stale marks received since the last call (by this client, its clones and its
    /// kept connections), oldest first: answers that came from a member's own copy because
    /// no leader could confirm it current. Callers show them; see [`Stale::warning`].
    pub fn take_stale(&self) -> Vec<Stale> {
        std::mem::take(&mut *self.stale.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Sends a request and decodes the envelope; an error envelope becomes `ClientError::Api`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<Response, ClientError> {
        let body = body.map(|b| b.to_string().into_bytes());
        let raw = self
            .exchange(method, path, body, if_match, self.timeout)
            .await?;
        decode(method, path, raw)
    }

    /// `GET path` and the metadata of its sync answer as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Ok(self.get_with_etag(path).await?.0)
    }

    /// `GET path`: the metadata as `T` and the ETag to send back with a PUT or PATCH.
    pub async fn get_with_etag<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, Option<String>), ClientError> {
        let response = self.request("GET", path, None, None).await?;
        let value = sync_metadata(path, response.envelope)?;
        Ok((value, response.etag))
    }

    /// `PUT path` with `body`, guarded by `if_match` when given.
    pub async fn put<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        if_match: Option<&str>,
    ) -> Result<Response, ClientError> {
        let body = to_json(body)?;
        self.request("PUT", path, Some(&body), if_match).await
    }

    /// `PATCH path` with `body`, guarded by `if_match` when given.
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        if_match: Option<&str>,
    ) -> Result<Response, ClientError> {
        let body = to_json(body)?;
        self.request("PATCH", path, Some(&body), if_match).await
    }

    /// `POST path` with `body`.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        let body = to_json(body)?;
        self.request("POST", path, Some(&body), None).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Response, ClientError> {
        self.request("DELETE", path, None, None).await
    }

    /// Waits up to `timeout` for an operation to end; a failed one becomes `ClientError::Operation`.
    pub async fn wait_operation(
        &self,
        operation_url: &str,
        timeout: Duration,
    ) -> Result<Operation, ClientError> {
        // The daemon counts whole seconds; round up so it never gives up before we asked.
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        let path = wait_path(operation_url, secs.max(1));
        let raw = self
            .exchange("GET", &path, None, None, timeout + WAIT_MARGIN)
            .await?;
        let op: Operation = sync_metadata(&path, decode("GET", &path, raw)?.envelope)?;
        match op.status {
            OperationStatus::Success => Ok(op),
            OperationStatus::Failure | OperationStatus::Cancelled => {
                let message = if op.err.is_empty() {
                    format!("operation {} ended as {}", op.id, op.status.as_str())
                } else {
                    op.err
                };
                Err(ClientError::Operation { message })
            }
            OperationStatus::Pending | OperationStatus::Running => Err(ClientError::Timeout {
                what: format!("operation {operation_url} to finish"),
                after: timeout,
            }),
        }
    }

    /// Asks once whether the daemon is ready (`GET /internal/ready`): `Ok` when it is, else
    /// why not (not answering yet, or still starting).
    pub async fn is_ready(&self) -> Result<(), ClientError> {
        self.request("GET", "/internal/ready", None, None)
            .await
            .map(|_| ())
    }

    /// Polls [`Client::is_ready`] until the daemon is ready or `timeout` has passed, as
    /// `corrald waitready` does; the timeout error carries the last answer.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = match self.is_ready().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: format!(
                        "the Corral daemon at {} to be ready (last answer: {last})",
                        self.place()
                    ),
                    after: timeout,
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Sends bytes as they are and returns the status and body untouched (`corral query --raw`).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let raw = self
            .exchange(method, path, body, None, self.timeout)
            .await?;
        Ok((raw.status, raw.body))
    }

    /// Opens one connection kept alive for many requests, as benchmarks and busy scripts use.
    pub async fn keep_alive(&self) -> Result<KeptConnection, ClientError> {
        let connection =
            tokio::time::timeout(self.timeout, transport::Connection::open(&self.connector))
                .await
                .map_err(|_| ClientError::Timeout {
                    what: format!("a connection to the Corral daemon at {}", self.place()),
                    after: self.timeout,
                })??;
        Ok(KeptConnection {
            connection,
            timeout: self.timeout,
            stale: self.stale.clone(),
        })
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        if_match: Option<&str>,
        limit: Duration,
    ) -> Result<transport::RawAnswer, ClientError> {
        let work = async {
            // Over SSH the connection is reused when no other request holds it; a request
            // made meanwhile (the dashboard's, in parallel) opens its own.
            if let Connector::Ssh(_) = &self.connector
                && let Ok(mut slot) = self.reused.0.try_lock()
            {
                return transport::exchange_reusing(
                    &mut slot,
                    &self.connector,
                    method,
                    path,
                    body,
                    if_match,
                )
                .await;
            }
            transport::exchange(&self.connector, method, path, body, if_match).await
        };
        let raw = tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ClientError::Timeout {
                what: format!(
                    "the Corral daemon at {} to answer {} {path}",
                    self.place(),
                    method.to_ascii_uppercase()
                ),
                after: limit,
            })??;
        note_stale(&self.stale, &raw)?;
        Ok(raw)
    }
}

/// One connection to the daemon kept alive; requests on it go one after another.
pub struct KeptConnection {
    connection: transport::Connection,
    timeout: Duration,
    stale: StaleAnswers,
}

impl KeptConnection {
    /// Sends bytes as they are and returns the status and body untouched.
    pub async fn raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let limit = self.timeout;
        let work = self.connection.send(method, path, body, None);
        let raw = tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ClientError::Timeout {
                what: format!(
                    "the Corral daemon to answer {} {path}",
                    method.to_ascii_uppercase()
                ),
                after: limit,
            })??;
        note_stale(&self.stale, &raw)?;
        Ok((raw.status, raw.body))
    }
}

/// Turns a raw answer into an envelope, or the daemon's error into `ClientError::Api`.
fn decode(method: &str, path: &str, raw: transport::RawAnswer) -> Result<Response, ClientError> {
    let envelope: Envelope = serde_json::from_slice(&raw.body).map_err(|e| {
        // A non-envelope error body (a proxy, a panic page) still deserves its status.
        if raw.status >= 400 {
            return ClientError::Api {
                status: raw.status,
                message: format!(
                    "{method} {path} failed with HTTP {}: {}",
                    raw.status,
                    String::from_utf8_lossy(&raw.body).trim()
                ),
            };
        }
        ClientError::Protocol(format!(
            "{method} {path}: not an LXD response envelope ({e})"
        ))
    })?;
    if envelope.kind == ResponseType::Error || raw.status >= 400 {
        let status = if envelope.error_code != 0 {
            envelope.error_code
        } else {
            raw.status
        };
        let message = if envelope.error.is_empty() {
            format!("{method} {path} failed with HTTP {}", raw.status)
        } else {
            envelope.error
        };
        return Err(ClientError::Api { status, message });
    }
    // The mark was read once already, when the answer arrived.
    let stale = raw.stale.as_deref().and_then(|v| Stale::parse(v).ok());
    Ok(Response {
        status: raw.status,
        etag: raw.etag,
        stale,
        location: raw.location,
        envelope,
    })
}

/// The metadata of a sync answer as `T`.
fn sync_metadata<T: DeserializeOwned>(path: &str, envelope: Envelope) -> Result<T, ClientError> {
    if envelope.kind != ResponseType::Sync {
        return Err(ClientError::Protocol(format!(
            "GET {path}: expected a sync answer, got {:?}",
            envelope.kind
        )));
    }
    serde_json::from_value(envelope.metadata)
        .map_err(|e| ClientError::Protocol(format!("GET {path}: unexpected metadata ({e})")))
}

fn to_json<B: Serialize + ?Sized>(body: &B) -> Result<serde_json::Value, ClientError> {
    serde_json::to_value(body)
        .map_err(|e| ClientError::InvalidRequest(format!("cannot encode the request body: {e}")))
}

/// `{url}/wait?timeout=N`, keeping any query the operation URL already carries.
fn wait_path(operation_url: &str, secs: u64) -> String {
    match operation_url.split_once('?') {
        Some((base, query)) => format!("{base}/wait?{query}&timeout={secs}"),
        None => format!("{operation_url}/wait?timeout={secs}"),
    }
}
