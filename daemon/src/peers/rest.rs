//! Calling another member's REST API over TLS (HTTP/1.1), one request per connection. A
//! 308 (a member pointing at the leader) is followed once.

use std::sync::Arc;
use std::time::Duration;

use corral_shared::api::{Envelope, ResponseType};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use super::PeerError;

/// Calls other members with one TLS client configuration.
#[derive(Clone)]
pub(super) struct Rest {
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl Rest {
    /// A client presenting and pinning what `tls` (HTTP/1.1 in ALPN) says, waiting at most
    /// `timeout` per call.
    pub(super) fn new(tls: Arc<ClientConfig>, timeout: Duration) -> Self {
        Self { tls, timeout }
    }

    /// Sends one request and returns the envelope of a successful answer. A 308 redirect
    /// (a member pointing at the leader) is followed once.
    pub(super) async fn call(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope, PeerError> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, location, envelope) = self.once(address, method, path, &body).await?;
        if status == 308 {
            let target = location
                .as_deref()
                .and_then(|l| l.strip_prefix("https://"))
                .and_then(|l| l.split_once('/'))
                .map(|(addr, _)| addr.to_owned())
                .ok_or_else(|| PeerError::Protocol {
                    address: address.to_owned(),
                    reason: format!("redirect without a usable Location: {location:?}"),
                })?;
            let (status, _, envelope) = self.once(&target, method, path, &body).await?;
            return finish(&target, status, envelope);
        }
        finish(address, status, envelope)
    }

    async fn once(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, Option<String>, Option<Envelope>), PeerError> {
        let answer = self
            .exchange(address, method, path, Bytes::from(body.to_owned()))
            .await?;
        let envelope = serde_json::from_slice(&answer.body).ok();
        Ok((answer.status, answer.location, envelope))
    }

    /// Sends one request as given and returns the answer as it came, whatever it is: a
    /// request relayed for a client (`?target=`) goes back to the client unchanged.
    pub(super) async fn relay(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> Result<RawAnswer, PeerError> {
        self.exchange(address, method, path, body).await
    }

    async fn exchange(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> Result<RawAnswer, PeerError> {
        let unreachable = |reason: String| PeerError::Unreachable {
            address: address.to_owned(),
            reason,
        };
        let work = async {
            let tcp = tokio::net::TcpStream::connect(address)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let name = ServerName::try_from("corral").expect("a valid DNS name");
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| {
                    let reason = e.to_string();
                    if reason.contains("fingerprint mismatch") {
                        PeerError::Certificate {
                            address: address.to_owned(),
                            reason,
                        }
                    } else {
                        unreachable(reason)
                    }
                })?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            tokio::spawn(conn);
            let req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "corral")
                .header("content-type", "application/json")
                .header("user-agent", "corral-member")
                .header(
                    crate::events::requestor::HEADER,
                    crate::events::requestor::header_now(),
                )
                .body(Full::new(body))
                .map_err(|e| unreachable(e.to_string()))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let location = header("location");
            let content_type = header("content-type");
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            Ok(RawAnswer {
                status,
                location,
                content_type,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
    }
}

/// An answer as a member sent it.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// Its `Location`, if any.
    pub location: Option<String>,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

fn finish(address: &str, status: u16, envelope: Option<Envelope>) -> Result<Envelope, PeerError> {
    let envelope = envelope.ok_or_else(|| PeerError::Protocol {
        address: address.to_owned(),
        reason: format!("HTTP {status} without an LXD envelope"),
    })?;
    if envelope.kind == ResponseType::Error || status >= 400 {
        return Err(PeerError::Refused {
            status,
            message: envelope.error,
        });
    }
    Ok(envelope)
}
