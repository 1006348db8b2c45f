//! Translating where a leader-only request goes (decided by [`crate::peers::route`]) into
//! an answer: a 308 pointing at the leader, for callers that must present their own
//! certificate there (joiners), or that follow it themselves (members).

use axum::http::HeaderValue;
use axum::response::IntoResponse;

use super::{ApiError, ApiResult};
use crate::error::Error;
use crate::node::Node;
use crate::peers::{Owner, Route, route};

/// `None` when this member serves `path` (it leads); else the answer sending the caller to
/// the leader, or saying no leader is known.
pub fn unless_leader(node: &Node, path: &str) -> Option<ApiResult> {
    match route::route(node, Owner::Leader) {
        Ok(Route::Here) => None,
        Ok(Route::Relay(leader)) => Some(redirect(&leader, path)),
        Err(e) => Some(Err(e.into())),
    }
}

/// A 308 pointing at `path` on the member at `address`.
fn redirect(address: &str, path: &str) -> ApiResult {
    let mut resp = ApiError(Error::Unavailable("redirected to the leader".into())).into_response();
    *resp.status_mut() = axum::http::StatusCode::PERMANENT_REDIRECT;
    let location = HeaderValue::from_str(&format!("https://{address}{path}"))
        .map_err(|e| Error::Internal(e.to_string()))?;
    resp.headers_mut()
        .insert(axum::http::header::LOCATION, location);
    Ok(resp)
}
