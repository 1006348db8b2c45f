//! Streaming a file from another member over the cluster connection (TLS pinned on the
//! cluster certificate, HTTP/1.1): the body is handed on chunk by chunk as it arrives, so
//! an image of any size is never held in memory. Each chunk must come within an idle
//! bound, and the whole transfer within an overall one.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use super::PeerError;

/// How long a transfer may go without a byte before it counts as stalled.
pub const IDLE: Duration = Duration::from_secs(30);

/// Streams `GET path` from `address` into `sink`, chunk by chunk, and returns how many
/// bytes came. A refusal (status 400 and up) is read as LXD's error envelope.
pub(super) async fn download(
    tls: Arc<ClientConfig>,
    address: &str,
    path: &str,
    overall: Duration,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, PeerError> {
    let unreachable = |reason: String| PeerError::Unreachable {
        address: address.to_owned(),
        reason,
    };
    let work = async {
        let tcp = tokio::time::timeout(
            super::dial::CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect(address),
        )
        .await
        .map_err(|_| unreachable("connecting timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        let name = ServerName::try_from("corral").expect("a valid DNS name");
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", "corral")
            .header("user-agent", "corral-member")
            .header(
                crate::events::requestor::HEADER,
                crate::events::requestor::header_now(),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if status >= 400 {
            let bytes = tokio::time::timeout(IDLE, body.collect())
                .await
                .map_err(|_| unreachable(format!("no error body within {IDLE:?}")))?
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            let message = serde_json::from_slice::<corral_shared::api::Envelope>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(PeerError::Refused { status, message });
        }
        let mut received = 0u64;
        loop {
            let frame = tokio::time::timeout(IDLE, body.frame())
                .await
                .map_err(|_| {
                    unreachable(format!(
                        "the transfer stalled: nothing came for {IDLE:?} after {received} bytes"
                    ))
                })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| {
                unreachable(format!("the transfer broke after {received} bytes: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                sink(&data).map_err(|e| PeerError::Protocol {
                    address: address.to_owned(),
                    reason: format!("could not keep what came: {e}"),
                })?;
                received += data.len() as u64;
            }
        }
        Ok(received)
    };
    tokio::time::timeout(overall, work)
        .await
        .map_err(|_| unreachable(format!("the transfer took longer than {overall:?}")))?
}
