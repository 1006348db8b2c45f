//! Translating where a request goes into an answer: a leader-only request (decided by
//! [`crate::peers::route`]) gets a 308 pointing at the leader, for callers that must present
//! their own certificate there (joiners), or that follow it themselves (members); a request
//! aimed at a member with `?target=NAME` is relayed to it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiResult, Trusted};
use crate::db::global::queries;
use crate::error::Error;
use crate::node::Node;
use crate::peers::{Owner, Peers, RawAnswer, Route, route};

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

/// The most a request relayed to its target member may carry.
const RELAY_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Runs a request on the member its `?target=NAME` names, as LXD does: here when it names
/// this member (or there is none), else relayed to that member with the parameter taken
/// off, its answer returned as sent. Only trusted callers may aim requests: the member
/// relayed to trusts the cluster certificate the relay is made with.
pub async fn to_target(State(node): State<Arc<Node>>, req: Request, next: Next) -> Response {
    let Some((target, rest)) = req.uri().query().and_then(split_target) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let path_and_query = if rest.is_empty() {
        path.clone()
    } else {
        format!("{path}?{rest}")
    };
    let trusted = req.extensions().get::<Trusted>().is_some_and(|t| t.0);
    // A websocket cannot be relayed as a request; the event stream is the cluster's anyway.
    let upgrade = req.headers().contains_key(header::UPGRADE);
    // Two-phase pool and network requests read `target` themselves (it names the member a
    // step is for, not where the request runs).
    let two_phase = path.starts_with("/1.0/networks") || path.starts_with("/1.0/storage-pools");
    // `/1.0/instances?target=` places a new instance (a member or `@group`) or filters a list.
    let placement = path == "/1.0/instances";
    // `POST /1.0/instances/NAME?target=` moves the instance to that member (`lxc move`).
    let moving = req.method() == axum::http::Method::POST
        && path
            .strip_prefix("/1.0/instances/")
            .is_some_and(|name| !name.is_empty() && !name.contains('/'));
    if !trusted || upgrade || two_phase || placement || moving || path.starts_with("/internal") {
        return next.run(req).await;
    }
    let address = match member_address(&node, &target).await {
        Ok(None) => return next.run(req).await,
        Ok(Some(address)) => address,
        Err(e) => return ApiError(e).into_response(),
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, RELAY_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError(Error::BadRequest(format!(
                "cannot read the request body to relay it to {target}: {e}"
            )))
            .into_response();
        }
    };
    let relayed = match Peers::of(&node) {
        Ok(peers) => {
            peers
                .member(&address)
                .relay(parts.method.as_str(), &path_and_query, body)
                .await
        }
        Err(e) => return ApiError(e).into_response(),
    };
    match relayed {
        Ok(answer) => raw_response(answer),
        Err(e) => ApiError(Error::Unavailable(format!(
            "cluster member {target} could not be reached: {e}; check that it runs \
             ('corral cluster list'), or leave out --target"
        )))
        .into_response(),
    }
}

/// The `target` parameter of a query, and the query without it; `None` when it has none
/// or an empty one.
pub fn split_target(query: &str) -> Option<(String, String)> {
    let mut target = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target", value)) => target = Some(percent_decode(value)),
            _ => rest.push(pair),
        }
    }
    target
        .filter(|t| !t.is_empty())
        .map(|t| (t, rest.join("&")))
}

/// `%XX` escapes and `+` decoded (member names are plain, but clients may escape anyway).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a request for member `target` runs: `None` here, else the member's address;
/// LXD's refusal when no member has that name.
pub fn target_address(
    target: &str,
    own: Option<&str>,
    members: &[(String, String)],
) -> Result<Option<String>, Error> {
    if own == Some(target) {
        return Ok(None);
    }
    members
        .iter()
        .find(|(name, _)| name == target)
        .map(|(_, address)| Some(address.clone()))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "No cluster member called '{target}': 'corral cluster list' shows the members' names"
            ))
        })
}

/// The address of member `target` as of now (`None`: this member).
async fn member_address(node: &Node, target: &str) -> Result<Option<String>, Error> {
    if !node.is_clustered() {
        return Err(Error::BadRequest(format!(
            "This server is not clustered: there is no member {target:?} to send the request to; leave out --target"
        )));
    }
    let id = node.id();
    let read = node
        .read_current(move |c| {
            let rows = queries::members(c)?;
            let own = rows.iter().find(|m| m.id == id).map(|m| m.name.clone());
            let all = rows
                .into_iter()
                .map(|m| (m.name, m.address))
                .collect::<Vec<_>>();
            Ok((own, all))
        })
        .await?;
    let (own, members) = read.value;
    target_address(target, own.as_deref(), &members)
}

pub(super) fn raw_response(answer: RawAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, answer.body).into_response();
    for (name, value) in [
        (header::CONTENT_TYPE, answer.content_type),
        (header::LOCATION, answer.location),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_parameter_is_taken_off_the_query() {
        for (query, want) in [
            ("target=m2", Some(("m2", ""))),
            ("recursion=1&target=m2", Some(("m2", "recursion=1"))),
            ("target=m%32&force=1", Some(("m2", "force=1"))),
            ("target=", None),
            ("recursion=1", None),
            ("", None),
        ] {
            assert_eq!(
                split_target(query),
                want.map(|(t, r)| (t.to_owned(), r.to_owned())),
                "{query}"
            );
        }
    }

    #[test]
    fn a_target_is_this_member_another_or_none() {
        let members = vec![
            ("m1".to_owned(), "127.0.0.1:8443".to_owned()),
            ("m2".to_owned(), "127.0.0.2:8443".to_owned()),
        ];
        assert_eq!(target_address("m1", Some("m1"), &members).unwrap(), None);
        assert_eq!(
            target_address("m2", Some("m1"), &members).unwrap(),
            Some("127.0.0.2:8443".to_owned())
        );
        let err = target_address("m9", Some("m1"), &members).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
        assert!(
            err.to_string().starts_with("No cluster member called 'm9'"),
            "{err}"
        );
    }
}
