//! Handing a request to the leader, for work only the leader may do (changing the Raft
//! membership), when it reaches another member.

use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::IntoResponse;

use super::{ApiError, ApiResult, sync};
use crate::api::peer::{PeerClient, PeerError};
use crate::error::Error;
use crate::node::Node;

/// How long the leader may take.
const LEADER_CALL: Duration = Duration::from_secs(60);

fn no_leader() -> Error {
    Error::Unavailable(
        "no database leader is known right now (an election may be under way); retry in a moment"
            .into(),
    )
}

/// Relays the request to the leader over TLS with the cluster certificate and returns its answer.
pub async fn to_leader(
    node: &Node,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> ApiResult {
    let leader = node.leader_address().ok_or_else(no_leader)?;
    let identity = node
        .cluster_identity()
        .ok_or_else(|| Error::BadRequest("This server is not clustered".into()))?;
    let tls = crate::tls::pinned_client_config(&identity, identity.fingerprint())
        .map_err(|e| Error::Internal(e.to_string()))?;
    match PeerClient::new(tls, LEADER_CALL)
        .call(&leader, method, path, body)
        .await
    {
        Ok(envelope) => sync(&envelope.metadata, None),
        Err(PeerError::Refused { status, message }) => {
            Err(Error::from_status(status, message).into())
        }
        Err(e) => Err(Error::Unavailable(format!(
            "the leader at {leader} could not be reached: {e}"
        ))
        .into()),
    }
}

/// A 308 pointing at the leader, for callers (joiners) that must present their own certificate.
pub fn redirect_to_leader(node: &Node, path: &str) -> ApiResult {
    let leader = node.leader_address().ok_or_else(no_leader)?;
    let mut resp = ApiError(Error::Unavailable("redirected to the leader".into())).into_response();
    *resp.status_mut() = axum::http::StatusCode::PERMANENT_REDIRECT;
    let location = HeaderValue::from_str(&format!("https://{leader}{path}"))
        .map_err(|e| Error::Internal(e.to_string()))?;
    resp.headers_mut()
        .insert(axum::http::header::LOCATION, location);
    Ok(resp)
}
