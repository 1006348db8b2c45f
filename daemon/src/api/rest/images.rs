//! `/1.0/images` and `/1.0/images/aliases` as LXD serves them (an upload is the tarball as
//! the request body, with `X-LXD-*` headers), and the member-to-member calls images need:
//! a holder serving its copy, a member fetching one, a member dropping its copy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use corral_shared::api::{ImageAliasesEntry, ImageAliasesPost, ImagePut, etag_of};
use http_body_util::BodyExt;

use super::{ApiResult, Recursion, answer_read, created, done, json_body, operation_created, sync};
use crate::error::Error;
use crate::images::edit;
use crate::images::manage::{self, Upload};
use crate::images::{self, ImageRecord, store};
use crate::node::Node;

/// How long an upload may go without a byte before it is abandoned.
const UPLOAD_IDLE: Duration = Duration::from_secs(60);

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/images", get(list).post(upload))
        .route("/1.0/images/aliases", get(list_aliases).post(create_alias))
        .route(
            "/1.0/images/aliases/{name}",
            get(show_alias).post(rename_alias).delete(delete_alias),
        )
        .route(
            "/1.0/images/{fingerprint}",
            get(show).put(replace).patch(patch).delete(delete),
        )
        .route("/1.0/images/{fingerprint}/export", get(export))
        .route(
            "/internal/images/{fingerprint}/file",
            get(serve_own_copy).delete(drop_own_copy),
        )
        .route("/internal/images/{fingerprint}/pull", post(pull))
        .route("/internal/images/{fingerprint}/replicate", post(replicate))
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let all = images::list_current(&node).await?;
    if q.recursion > 0 {
        return super::sync_read(
            &all.map(|all| all.iter().map(images::view).collect::<Vec<_>>()),
            None,
        );
    }
    let urls = all.map(|all| {
        all.iter()
            .map(|i| format!("/1.0/images/{}", i.fingerprint))
            .collect::<Vec<_>>()
    });
    super::sync_read(&urls, None)
}

async fn show(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    let read = images::get_current(&node, &fingerprint).await?;
    answer_read(read, |record| {
        let image = images::view(&record);
        sync(&image, Some(&etag_of(&image)))
    })
}

/// Reads LXD's `X-LXD-properties` (URL-encoded `key=value&...`).
fn properties(value: &str) -> BTreeMap<String, String> {
    value
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What an upload says of itself: LXD's `X-LXD-*` headers, and `?public=1&filename=NAME`
/// for clients that send no headers of their own.
fn upload_of(headers: &HeaderMap, query: Option<&str>) -> Upload {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let asked = properties(query.unwrap_or_default());
    let mut filename = header("x-lxd-filename");
    if filename.is_empty() {
        filename = asked.get("filename").cloned().unwrap_or_default();
    }
    Upload {
        filename,
        public: matches!(header("x-lxd-public").as_str(), "1" | "true")
            || asked.get("public").is_some_and(|v| v == "1" || v == "true"),
        properties: properties(&header("x-lxd-properties")),
    }
}

/// `POST /1.0/images`: the body is the image file. It is received (hashed as it comes)
/// before the answer; the rest (checks, records, copies to other members) is the operation.
async fn upload(
    State(node): State<Arc<Node>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut body = body;
    let mut incoming = store::Incoming::new(node.dirs.root())?;
    let mut first = true;
    loop {
        let frame = tokio::time::timeout(UPLOAD_IDLE, body.frame())
            .await
            .map_err(|_| {
                Error::BadRequest(format!(
                    "The upload stalled: nothing came for {UPLOAD_IDLE:?}; send the image again"
                ))
            })?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| Error::BadRequest(format!("The upload broke: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if first && !data.is_empty() {
            first = false;
            if json && data.trim_ascii_start().starts_with(b"{") {
                return Err(Error::BadRequest(
                    "Creating an image from a source (a remote image, an instance, a URL) is not \
                     supported: send the image tarball itself as the body ('corral image import \
                     TARBALL')"
                        .into(),
                )
                .into());
            }
        }
        incoming
            .write(&data)
            .map_err(|e| Error::Internal(format!("keeping the upload: {e}")))?;
    }
    let received = incoming.finish()?;
    if received.size == 0 {
        return Err(Error::BadRequest(
            "The upload is empty: send the image tarball as the request body".into(),
        )
        .into());
    }
    let upload = upload_of(&headers, query.as_deref());
    let fingerprint = received.fingerprint.clone();
    let size = received.size;
    let resources = BTreeMap::from([(
        "images".to_owned(),
        Some(vec![format!("/1.0/images/{fingerprint}")]),
    )]);
    let work_node = node.clone();
    let op = node
        .operations
        .start("Downloading image", resources, async move {
            manage::import(&work_node, received, upload)
                .await
                .map(
                    |_| serde_json::json!({ "fingerprint": fingerprint, "size": size.to_string() }),
                )
                .map_err(|e| e.to_string())
        });
    operation_created(&op)
}

/// The image `name` names as it is now, if `headers` carry no ETag or its current one.
async fn guarded(
    node: &Node,
    name: &str,
    headers: &HeaderMap,
) -> Result<corral_shared::api::Image, super::ApiError> {
    let image = images::view(&images::resolve(node, name).await?);
    super::check_etag(headers, &etag_of(&image))?;
    Ok(image)
}

/// `lxc image edit`: the writable part replaced, guarded by the ETag `show` gave.
async fn replace(
    State(node): State<Arc<Node>>,
    Path(fingerprint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let image = guarded(&node, &fingerprint, &headers).await?;
    let put: ImagePut = json_body(&body)?;
    edit::update(&node, &image.fingerprint, &put).await?;
    done()
}

/// A PATCH: the fields given changed, the rest kept.
async fn patch(
    State(node): State<Arc<Node>>,
    Path(fingerprint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let image = guarded(&node, &fingerprint, &headers).await?;
    let changes: serde_json::Value = json_body(&body)?;
    let put = edit::patched(image.writable(), &changes)?;
    edit::update(&node, &image.fingerprint, &put).await?;
    done()
}

async fn delete(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    // Refuse a name that matches nothing at once, as LXD does, rather than in the operation.
    let record = images::resolve(&node, &fingerprint).await?;
    let resources = BTreeMap::from([(
        "images".to_owned(),
        Some(vec![format!("/1.0/images/{}", record.fingerprint)]),
    )]);
    let work_node = node.clone();
    let op = node
        .operations
        .start("Deleting image", resources, async move {
            manage::delete(&work_node, &record.fingerprint)
                .await
                .map(|_| serde_json::Value::Null)
                .map_err(|e| e.to_string())
        });
    operation_created(&op)
}

/// A file as the body of a 200 answer, streamed as it is read.
async fn file_answer(path: std::path::PathBuf, name: &str) -> ApiResult {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::NotFound(format!("{}: {e}", images::NOT_FOUND)))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut file = file;
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut resp = (axum::http::StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={name}")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /1.0/images/FINGERPRINT/export`: the image file (fetched onto this member first
/// when it lacks it).
async fn export(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    let record = images::resolve(&node, &fingerprint).await?;
    let path = images::ensure_local(&node, &record.fingerprint).await?;
    let name = if record.filename.is_empty() {
        format!("{}.tar.gz", record.fingerprint)
    } else {
        record.filename
    };
    file_answer(path, &name).await
}

fn checked(fingerprint: &str) -> Result<(), Error> {
    if store::is_fingerprint(fingerprint) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "{fingerprint:?} is not an image fingerprint (64 lowercase hex digits)"
        )))
    }
}

/// A holder's own copy, for a member fetching it (never fetched from elsewhere: the caller
/// asked this member because it holds the image).
async fn serve_own_copy(
    State(node): State<Arc<Node>>,
    Path(fingerprint): Path<String>,
) -> ApiResult {
    checked(&fingerprint)?;
    let path = store::file(node.dirs.root(), &fingerprint);
    if !path.is_file() {
        return Err(Error::NotFound(format!(
            "{}: this member holds no copy of image {fingerprint}",
            images::NOT_FOUND
        ))
        .into());
    }
    file_answer(path, &fingerprint).await
}

/// Drops this member's copy of a deleted image.
async fn drop_own_copy(
    State(node): State<Arc<Node>>,
    Path(fingerprint): Path<String>,
) -> ApiResult {
    checked(&fingerprint)?;
    store::remove(node.dirs.root(), &fingerprint)?;
    done()
}

/// Makes this member hold the image: fetched from a holder and recorded (replication).
async fn pull(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    checked(&fingerprint)?;
    images::ensure_local(&node, &fingerprint).await?;
    done()
}

/// On the leader: brings the image up to its number of copies (an import elsewhere asks).
async fn replicate(State(node): State<Arc<Node>>, Path(fingerprint): Path<String>) -> ApiResult {
    checked(&fingerprint)?;
    images::replication::replicate_in_turn(&node, &fingerprint).await?;
    done()
}

fn alias_entry(name: &str, description: &str, record: &ImageRecord) -> ImageAliasesEntry {
    ImageAliasesEntry {
        name: name.to_owned(),
        description: description.to_owned(),
        target: record.fingerprint.clone(),
        kind: record.kind.clone(),
    }
}

fn aliases_of(all: &[ImageRecord]) -> Vec<ImageAliasesEntry> {
    let mut out: Vec<ImageAliasesEntry> = all
        .iter()
        .flat_map(|r| {
            r.aliases
                .iter()
                .map(move |(name, description)| alias_entry(name, description, r))
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

async fn list_aliases(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let all = images::list_current(&node)
        .await?
        .map(|all| aliases_of(&all));
    if q.recursion > 0 {
        return super::sync_read(&all, None);
    }
    let urls = all.map(|all| {
        all.iter()
            .map(|a| format!("/1.0/images/aliases/{}", a.name))
            .collect::<Vec<_>>()
    });
    super::sync_read(&urls, None)
}

async fn show_alias(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    let read = images::list_current(&node).await?.map(|all| {
        let by_name: HashMap<String, ImageAliasesEntry> = aliases_of(&all)
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        by_name.get(&name).cloned().ok_or_else(|| {
            Error::NotFound(format!(
                "Image alias not found: there is no alias {name:?} (see 'corral image alias list')"
            ))
        })
    });
    answer_read(read, |entry| sync(&entry, Some(&etag_of(&entry))))
}

async fn create_alias(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let post: ImageAliasesPost = json_body(&body)?;
    manage::create_alias(&node, &post.name, &post.description, &post.target).await?;
    created(&format!("/1.0/images/aliases/{}", post.name))
}

/// LXD's rename: `POST /1.0/images/aliases/NAME` with `{"name": NEW}`.
async fn rename_alias(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Rename {
        name: String,
    }
    let rename: Rename = json_body(&body)?;
    manage::rename_alias(&node, &name, &rename.name).await?;
    done()
}

async fn delete_alias(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    manage::delete_alias(&node, &name).await?;
    done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_headers_are_read_as_lxd_sends_them() {
        let mut headers = HeaderMap::new();
        headers.insert("x-lxd-filename", HeaderValue::from_static("busybox.tar.gz"));
        headers.insert("x-lxd-public", HeaderValue::from_static("1"));
        headers.insert(
            "x-lxd-properties",
            HeaderValue::from_static("os=busybox&description=a%20tiny+image&empty="),
        );
        let upload = upload_of(&headers, None);
        assert_eq!(upload.filename, "busybox.tar.gz");
        assert!(upload.public);
        assert_eq!(upload.properties["os"], "busybox");
        assert_eq!(upload.properties["description"], "a tiny image");
        assert_eq!(upload.properties["empty"], "");
        assert_eq!(upload_of(&HeaderMap::new(), None), Upload::default());
        let asked = upload_of(&HeaderMap::new(), Some("public=1&filename=b%20b.tar.gz"));
        assert!(asked.public);
        assert_eq!(asked.filename, "b b.tar.gz");
        // A malformed escape drops that pair only.
        assert_eq!(properties("a=%zz&b=1").len(), 1);
    }
}
