//! `/1.0/certificates`: the trust store, and the tokens that let new clients into it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::routing::get;
use corral_shared::api::CertificatesPost;

use super::done;
use super::{
    ApiResult, Recursion, Trusted, answer_read, created, json_body, operation_created, sync,
    sync_read,
};
use crate::api::Peer;
use crate::cluster::{certificate_tokens, trust};
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/certificates", get(list).post(add))
        .route("/1.0/certificates/{fingerprint}", get(show).delete(remove))
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let all = trust::list_current(&node).await?;
    if q.recursion > 0 {
        return sync_read(&all, None);
    }
    let urls = all.map(|all| {
        all.iter()
            .map(|c| format!("/1.0/certificates/{}", c.fingerprint))
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

async fn add(
    State(node): State<Arc<Node>>,
    Extension(peer): Extension<Peer>,
    Extension(Trusted(trusted)): Extension<Trusted>,
    body: Bytes,
) -> ApiResult {
    let post: CertificatesPost = json_body(&body)?;
    if post.token {
        // Only a trusted caller may let another client in.
        if !trusted {
            return Err(Error::Forbidden("not authorized".into()).into());
        }
        return operation_created(&certificate_tokens::issue(&node, &post).await?);
    }
    let presented = peer.certificate.as_deref().map(Vec::as_slice);
    let fingerprint = trust::add(&node, &post, presented, trusted).await?;
    created(&format!("/1.0/certificates/{fingerprint}"))
}

async fn show(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    answer_read(trust::get_current(&node, &fingerprint).await?, |cert| {
        sync(&cert, None)
    })
}

async fn remove(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    trust::delete(&node, &fingerprint).await?;
    done()
}
