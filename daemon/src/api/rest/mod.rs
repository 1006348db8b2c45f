//! The REST API in LXD's shapes: one file per resource, each translating HTTP to calls on
//! the domain modules and their results back into LXD's envelope.

mod certificate;
mod certificates;
mod cluster;
mod doctor;
mod evacuation;
mod events;
mod forward;
mod groups;
mod handover;
mod images;
mod instances;
mod internal;
mod member_address;
mod networks;
mod operations;
mod server;
mod sql;
mod storage;
mod targeted;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use corral_shared::api::{Envelope, Operation, ResponseType};
use corral_shared::client::{STALE_HEADER, Stale};
use serde::Serialize;

use super::Peer;
use crate::db::global::queries;
use crate::error::Error;
use crate::events::requestor;
use crate::node::{Node, Read};

/// Whether the caller is trusted, decided once per request by the trust layer.
#[derive(Debug, Clone, Copy)]
pub struct Trusted(pub bool);

/// The whole REST router over a running member.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .merge(server::routes())
        .merge(cluster::routes())
        .merge(groups::routes())
        .merge(evacuation::routes())
        .merge(certificates::routes())
        .merge(certificate::routes())
        .merge(member_address::routes())
        .merge(operations::routes())
        .merge(events::routes())
        .merge(internal::routes())
        .merge(handover::routes())
        .merge(images::routes())
        .merge(doctor::routes())
        .merge(sql::routes())
        .merge(storage::routes())
        .merge(instances::routes())
        .merge(networks::routes())
        .method_not_allowed_fallback(unsupported_method)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            node.clone(),
            forward::to_target,
        ))
        .layer(middleware::from_fn_with_state(node.clone(), blocked))
        .layer(middleware::from_fn_with_state(node.clone(), trust))
        .layer(middleware::from_fn(enveloped_refusals))
        .with_state(node)
}

/// The longest plain-text refusal kept whole; axum's own are a line.
const REFUSAL_LIMIT: usize = 64 * 1024;

/// Axum refuses some requests itself, in plain text or with no body: a query, path or body
/// it cannot read, a method the route lacks, an events request without a WebSocket. Clients
/// read LXD's error envelope, so those refusals are put in one, their text as the message.
async fn enveloped_refusals(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, REFUSAL_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match text.is_empty() {
        true => reason_of(status),
        false => text,
    };
    let mut wrapped = envelope(
        status.as_u16(),
        Envelope::error(status.as_u16(), message),
        None,
    );
    // Keep what else the refusal said (`Allow` on a 405, for one).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            wrapped.headers_mut().insert(name, value.clone());
        }
    }
    wrapped
}

/// The words of an error envelope that has nothing more to say: the status's reason in
/// lower case, as LXD's router words its own refusals (clients match on them).
fn reason_of(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("refused")
        .to_lowercase()
}

/// A method the endpoint lacks (GET /1.0/cluster/certificate, for one), answered as LXD's
/// router answers it: 501 with the status's own words; the metadata says what to do.
async fn unsupported_method(method: Method, uri: axum::http::Uri) -> Response {
    let mut answer = Envelope::error(501, reason_of(StatusCode::NOT_IMPLEMENTED));
    answer.metadata = serde_json::json!(format!(
        "{method} is not a method of {}: use another method of this endpoint, as LXD's \
         REST API documents them",
        uri.path()
    ));
    envelope(501, answer, None)
}

async fn not_found() -> Response {
    ApiError(Error::NotFound("not found".into())).into_response()
}

/// Decides trust from the client certificate: the unix socket is trusted (it is root-only),
/// members present the cluster certificate, clients must be in the trust store. Untrusted
/// clients may only read `/1.0` and add themselves through `/1.0/certificates`.
async fn trust(State(node): State<Arc<Node>>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<Peer>().cloned();
    let path = req.uri().path().to_owned();
    // `/1.0/cluster` holds no secrets and tells a joiner which member-specific keys to answer.
    let public = (req.method() == Method::GET
        && (path == "/1.0" || path == "/1.0/" || path == "/1.0/cluster"))
        || (req.method() == Method::POST && path == "/1.0/certificates");
    // Adding a certificate or asking for a token depends on being trusted: checked as of now.
    let read_only = req.method() == Method::GET;
    let trusted = match &peer {
        Some(p) if p.local => true,
        Some(Peer {
            fingerprint: Some(fp),
            ..
        }) => {
            let member = crate::peers::is_member_certificate(&node, fp);
            // Member-to-member calls need the cluster certificate, except a joiner asking to
            // be accepted, which is trusted by its own certificate once it proved its token.
            if path.starts_with("/internal") && path != "/internal/cluster/accept" {
                member
            } else {
                member || trusted_certificate(&node, fp, !(public && read_only)).await
            }
        }
        _ => false,
    };
    if !trusted && !public {
        return ApiError(Error::Forbidden("not authorized".into())).into_response();
    }
    req.extensions_mut().insert(Trusted(trusted));
    let member = peer
        .as_ref()
        .and_then(|p| p.fingerprint.as_deref())
        .is_some_and(|fp| crate::peers::is_member_certificate(&node, fp));
    let relayed = req
        .headers()
        .get(requestor::HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let who = peer
        .as_ref()
        .and_then(|p| requestor::of_request(p, member, relayed));
    requestor::scope(who, next.run(req)).await
}

/// Whether the trust store holds `fingerprint` as of now, so that a certificate removed a
/// moment ago through another member is refused here at once, and one trusted a moment ago
/// is accepted. A read the leader confirms; without one (no quorum), this member's copy.
/// On a public read, this member's copy is enough when it says trusted; when it says not,
/// the leader is asked, so a client trusted a moment ago through another member (or through
/// this one, before it applied the change) is told it is trusted.
async fn trusted_certificate(node: &Node, fingerprint: &str, must_be_current: bool) -> bool {
    let fp = fingerprint.to_owned();
    let lookup = move |c: &rusqlite::Connection| queries::certificate_trusted(c, &fp);
    if !must_be_current && node.global.read(lookup.clone()).await.unwrap_or(false) {
        return true;
    }
    node.read_current(lookup)
        .await
        .map(|read| read.value)
        .unwrap_or(false)
}

/// A member newer than others answers its public API with 503 until they catch up (as LXD
/// does during rolling upgrades); member-to-member calls go on, so Raft and heartbeats do.
async fn blocked(State(node): State<Arc<Node>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/internal") || !node.is_clustered() {
        return next.run(req).await;
    }
    match node.upgrade_gate.refusal(&node).await {
        None => next.run(req).await,
        Some(message) => ApiError(Error::Unavailable(message)).into_response(),
    }
}

/// A domain error as an LXD error envelope.
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.http_status();
        envelope(status, Envelope::error(status, self.0.to_string()), None)
    }
}

/// Result of a REST handler.
pub type ApiResult = Result<Response, ApiError>;

fn envelope(status: u16, body: Envelope, etag: Option<&str>) -> Response {
    respond(status, serde_json::to_vec(&body).unwrap_or_default(), etag)
}

/// A JSON answer of `body`, with its ETag if it has one.
fn respond(status: u16, body: Vec<u8>, etag: Option<&str>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&format!("\"{t}\"")).ok()) {
        headers.insert(header::ETAG, tag);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, body).into_response()
}

/// LXD's answer to a synchronous change that went through: an empty object.
pub fn done() -> ApiResult {
    sync(&serde_json::json!({}), None)
}

/// [`Envelope::sync`] borrowing its metadata, so that an answer is written straight to
/// bytes rather than through a JSON tree first (reads answer thousands of times a second;
/// the tree cost as much as the database read). Same field names and order as [`Envelope`].
#[derive(Serialize)]
struct SyncEnvelope<'a, T> {
    #[serde(rename = "type")]
    kind: ResponseType,
    status: &'static str,
    status_code: u16,
    operation: &'static str,
    error_code: u16,
    error: &'static str,
    metadata: &'a T,
}

/// A sync answer with an optional ETag.
pub fn sync<T: Serialize>(metadata: &T, etag: Option<&str>) -> ApiResult {
    let body = serde_json::to_vec(&SyncEnvelope {
        kind: ResponseType::Sync,
        status: "Success",
        status_code: 200,
        operation: "",
        error_code: 0,
        error: "",
        metadata,
    })
    .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(respond(200, body, etag))
}

/// A sync answer to a read, marked when the read came from a copy no leader confirmed.
pub fn sync_read<T: Serialize>(read: &Read<T>, etag: Option<&str>) -> ApiResult {
    mark(sync(&read.value, etag), read.stale.as_ref())
}

/// Answers a lookup with `respond` on what it found, or with its error; marked as
/// [`sync_read`] marks, error or not.
pub fn answer_read<T>(
    read: Read<Result<T, Error>>,
    respond: impl FnOnce(T) -> ApiResult,
) -> ApiResult {
    let answer = read.value.map_err(ApiError).and_then(respond);
    mark(answer, read.stale.as_ref())
}

/// Adds the stale mark to an answer (an error too: it may be wrong for the same reason).
fn mark(answer: ApiResult, stale: Option<&Stale>) -> ApiResult {
    let Some(stale) = stale else {
        return answer;
    };
    let mut resp = answer.unwrap_or_else(IntoResponse::into_response);
    let value = HeaderValue::from_str(&stale.header_value()).or_else(|_| {
        // Member names are plain ASCII; should one not be, the mark stays, unnamed.
        let unnamed = Stale {
            member: "this member".into(),
            ..stale.clone()
        };
        HeaderValue::from_str(&unnamed.header_value())
    });
    if let Ok(value) = value {
        resp.headers_mut().insert(STALE_HEADER, value);
    }
    Ok(resp)
}

/// LXD's answer to a request that created `location`: 201 with its Location.
pub fn created(location: &str) -> ApiResult {
    let mut resp = envelope(201, Envelope::sync(serde_json::Value::Null), None);
    let value = HeaderValue::from_str(location).map_err(|e| Error::Internal(e.to_string()))?;
    resp.headers_mut().insert(header::LOCATION, value);
    Ok(resp)
}

/// An async answer: 202 with the operation and its Location.
pub fn operation_created(op: &Operation) -> ApiResult {
    let url = format!("/1.0/operations/{}", op.id);
    let value = serde_json::to_value(op).map_err(|e| Error::Internal(e.to_string()))?;
    let mut resp = envelope(202, Envelope::operation_created(url.clone(), value), None);
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The ETag a write names in `If-Match`, if it names one (`*` or empty: none).
pub fn if_match(headers: &HeaderMap) -> Option<String> {
    let given = headers.get(header::IF_MATCH)?.to_str().ok()?;
    let given = given.trim().trim_matches('"');
    (!given.is_empty() && given != "*").then(|| given.to_owned())
}

/// Refuses a write whose `If-Match` does not match the resource's current ETag; `true` when
/// it named that very tag (so the write must also commit only if nothing changed since).
pub fn check_etag(headers: &HeaderMap, current: &str) -> Result<bool, ApiError> {
    match if_match(headers) {
        None => Ok(false),
        Some(given) if given == current => Ok(true),
        Some(_) => Err(Error::PreconditionFailed(
            "ETag doesn't match: the resource changed since you read it; read it again and retry"
                .into(),
        )
        .into()),
    }
}

/// Parses a JSON body, refusing malformed ones with the reason.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("malformed JSON body: {e}")).into())
}

/// Whether `?recursion=` asks for full objects.
#[derive(Debug, serde::Deserialize, Default)]
pub struct Recursion {
    /// 0 (URLs) or 1 and more (objects).
    #[serde(default)]
    pub recursion: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sync answer written straight to bytes reads back as the envelope LXD's clients
    /// expect, for metadata of every shape.
    #[tokio::test]
    async fn a_sync_answer_is_the_sync_envelope_of_its_metadata() {
        let cases = [
            serde_json::json!({"server_name": "node1", "roles": ["database"], "config": {}}),
            serde_json::json!(["/1.0/cluster/members/node1"]),
            serde_json::json!({}),
            serde_json::Value::Null,
        ];
        for metadata in cases {
            let resp = sync(&metadata, Some("abc")).unwrap_or_else(|_| panic!("{metadata}"));
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[header::ETAG], "\"abc\"");
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let read: Envelope = serde_json::from_slice(&body).unwrap();
            assert_eq!(read, Envelope::sync(metadata.clone()), "{metadata}");
        }
    }
}
