//! One HTTP/1.1 exchange with the daemon over whatever stream the [`Connector`] opens:
//! connect, send, read the whole answer.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, ETAG, HOST, HeaderValue, IF_MATCH, LOCATION};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use super::ClientError;
use super::connector::{Connector, Place, Protocol};

/// An answer before any LXD meaning is given to it.
pub(super) struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// The ETag header without its quotes.
    pub etag: Option<String>,
    /// The stale mark ([`super::STALE_HEADER`]) as sent.
    pub stale: Option<String>,
    /// The Location header: what a request created.
    pub location: Option<String>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// One HTTP/1.1 connection to the daemon, kept open for any number of requests in turn.
pub(super) struct Connection {
    place: Place,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Connects to the daemon; the caller bounds the time it may take.
    pub(super) async fn open(connector: &Connector) -> Result<Connection, ClientError> {
        let place = connector.place();
        let stream = match connector.connect(Protocol::Http1).await {
            Ok(stream) => stream,
            Err(source) => return Err(ClientError::Connect { place, source }),
        };
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| broken(&place, e))?;
        // The connection task ends on its own once the sender is dropped.
        tokio::spawn(connection);
        Ok(Connection { place, sender })
    }

    /// Sends one request and reads the whole answer; the caller bounds the time it may take.
    pub(super) async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        if_match: Option<&str>,
    ) -> Result<RawAnswer, ClientError> {
        self.send_built(build(method, path, body, if_match)?).await
    }

    async fn send_built(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<RawAnswer, ClientError> {
        let place = &self.place;
        // The connection's task may not have finished the last answer yet (it can run on
        // another worker); a request sent before it is ready is cancelled by hyper.
        self.sender.ready().await.map_err(|e| broken(place, e))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| broken(place, e))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_string());
        let stale = response
            .headers()
            .get(super::STALE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| broken(place, e))?
            .to_bytes()
            .to_vec();
        Ok(RawAnswer {
            status,
            etag,
            stale,
            location,
            body,
        })
    }
}

/// Sends one request on the connection kept in `slot` while it is open, else on a new
/// one left there for the next request; the caller bounds the time it may take. An SSH
/// remote's connection is a login, so a command makes one, not one per request.
pub(super) async fn exchange_reusing(
    slot: &mut Option<Connection>,
    connector: &Connector,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    if_match: Option<&str>,
) -> Result<RawAnswer, ClientError> {
    // A malformed request is refused before connecting.
    let request = build(method, path, body, if_match)?;
    let mut connection = match slot.take() {
        Some(kept) if !kept.sender.is_closed() => kept,
        _ => Connection::open(connector).await?,
    };
    let answer = connection.send_built(request).await?;
    *slot = Some(connection);
    Ok(answer)
}

/// Sends one request on a fresh connection; the caller bounds the time it may take.
pub(super) async fn exchange(
    connector: &Connector,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    if_match: Option<&str>,
) -> Result<RawAnswer, ClientError> {
    // A malformed request is refused before connecting.
    let request = build(method, path, body, if_match)?;
    Connection::open(connector).await?.send_built(request).await
}

fn broken(place: &Place, e: hyper::Error) -> ClientError {
    ClientError::broken(place, e)
}

fn build(
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    if_match: Option<&str>,
) -> Result<Request<Full<Bytes>>, ClientError> {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        ClientError::InvalidRequest(format!(
            "{method:?} is not an HTTP method; use GET, PUT, PATCH, POST or DELETE"
        ))
    })?;
    if !path.starts_with('/') {
        return Err(ClientError::InvalidRequest(format!(
            "the path {path:?} must start with '/', as in /1.0/cluster"
        )));
    }
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "corral")
        .header(CONTENT_TYPE, "application/json");
    if let Some(tag) = if_match {
        // HTTP quotes entity tags; LXD's server trims the quotes, so either form matches.
        let quoted = format!("\"{}\"", tag.trim_matches('"'));
        let value = HeaderValue::from_str(&quoted).map_err(|_| {
            ClientError::InvalidRequest(format!("the ETag {tag:?} is not a valid header value"))
        })?;
        request = request.header(IF_MATCH, value);
    }
    request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| ClientError::InvalidRequest(format!("cannot send {path:?}: {e}")))
}
