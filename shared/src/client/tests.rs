//! The client against a stand-in transport: a small hyper server on a temporary unix
//! socket that answers with the raw HTTP answers recorded from a real LXD cluster.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response as HttpResponse, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::UnixListener;

use super::*;
use crate::api::{Cluster, ClusterMember, Role};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lxd/");

/// A request as the stand-in server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    if_match: Option<String>,
    content_type: Option<String>,
    host: Option<String>,
    body: String,
}

/// Headers an answer carries besides its content type.
type Headers = Vec<(String, String)>;

/// A recorded answer: status, ETag and Location headers, and body of a `raw_*.http` sample.
fn sample(name: &str) -> (u16, Headers, String) {
    let text = std::fs::read_to_string(format!("{SAMPLES}{name}")).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| ["Etag", "Location"].contains(name))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn operation_json(status: &str, code: u16, err: &str) -> serde_json::Value {
    json!({
        "id": "a1049f2e-2e6b-4897-9869-f8381a776540", "class": "task",
        "description": "Executing operation", "created_at": "2026-11-23T18:25:43Z",
        "updated_at": "2026-11-23T18:25:44Z", "status": status, "status_code": code,
        "resources": {"cluster": null}, "metadata": null, "may_cancel": false,
        "err": err, "location": "node1"
    })
}

fn answer(seen: &Seen) -> (u16, Headers, String) {
    let path = seen.uri.split('?').next().unwrap_or_default();
    match (seen.method.as_str(), path) {
        ("GET", "/1.0/cluster") => sample("raw_GET_cluster.http"),
        ("GET", "/1.0/cluster/members") => sample("raw_GET_cluster_members_recursion1.http"),
        ("GET", "/1.0/cluster/members/node1") => sample("raw_GET_cluster_members_node1.http"),
        ("GET", "/1.0/cluster/members/nonexistent") => {
            sample("raw_GET_member_nonexistent_404.http")
        }
        ("PATCH", "/1.0") => sample("raw_err_PATCH_max_voters_4.http"),
        ("POST", "/1.0/cluster/members") => sample("raw_POST_cluster_members_token.http"),
        ("GET", "/1.0/operations/good/wait") => {
            (200, vec![], sync_text(operation_json("Success", 200, "")))
        }
        ("GET", "/1.0/operations/bad/wait") => {
            let op = operation_json("Failure", 400, "Failed to join: no quorum");
            (200, vec![], sync_text(op))
        }
        ("GET", "/1.0/operations/slow/wait") => {
            (200, vec![], sync_text(operation_json("Running", 103, "")))
        }
        ("GET", "/not-json") => (200, vec![], "hello".into()),
        ("GET", "/stale" | "/stale-garbled") => (200, vec![], sync_text(json!({"k": "v"}))),
        _ => (404, vec![], "404 page not found".into()),
    }
}

fn path_of(uri: &str) -> &str {
    uri.split('?').next().unwrap_or_default()
}

fn sync_text(metadata: serde_json::Value) -> String {
    serde_json::to_string(&Envelope::sync(metadata)).unwrap()
}

/// Removes a test's socket directory when the test ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stand-in daemon on a fresh socket; the log lists every request it saw.
async fn serve() -> (PathBuf, Arc<Mutex<Vec<Seen>>>, Cleanup) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("corral-client-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("unix.socket");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let server_log = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = server_log.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let log = log.clone();
                async move { Ok::<_, Infallible>(respond(req, &log).await) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (socket, log, Cleanup(dir))
}

async fn respond(req: Request<Incoming>, log: &Mutex<Vec<Seen>>) -> HttpResponse<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut seen = Seen {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        if_match: header("if-match"),
        content_type: header("content-type"),
        host: header("host"),
        body: String::new(),
    };
    let body = req.into_body().collect().await.unwrap().to_bytes();
    seen.body = String::from_utf8_lossy(&body).into_owned();
    if seen.uri == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let (status, headers, text) = answer(&seen);
    let seen_uri = seen.uri.clone();
    log.lock().unwrap().push(seen);
    let mut response = HttpResponse::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        response = response.header(name, value);
    }
    let stale = match path_of(&seen_uri) {
        "/stale" => Some("member=node2; applied-index=42; as-of=2026-12-01T13:40:02Z"),
        "/stale-garbled" => Some("applied-index=lots"),
        _ => None,
    };
    if let Some(value) = stale {
        response = response.header(STALE_HEADER, value);
    }
    response.body(Full::new(Bytes::from(text))).unwrap()
}

#[tokio::test]
async fn get_returns_sync_metadata_and_etag() {
    let (socket, log, _dir) = serve().await;
    let client = Client::unix(socket);
    let (cluster, etag): (Cluster, _) = client.get_with_etag("/1.0/cluster").await.unwrap();
    assert_eq!(cluster.server_name, "node1");
    assert!(cluster.enabled);
    assert_eq!(
        etag.as_deref(),
        Some("aa889823360d5dd485d73113591de6f0b1ced02e663d7195f0a790ea7c082388")
    );
    let members: Vec<ClusterMember> = client
        .get("/1.0/cluster/members?recursion=1")
        .await
        .unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0].roles, vec![Role::DatabaseLeader, Role::Database]);
    let seen = log.lock().unwrap();
    assert_eq!(seen[1].uri, "/1.0/cluster/members?recursion=1");
    assert_eq!(seen[0].host.as_deref(), Some("corral"));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn error_envelopes_become_api_errors_with_the_daemons_message() {
    let (socket, log, _dir) = serve().await;
    let client = Client::unix(socket);
    let err = client
        .get::<ClusterMember>("/1.0/cluster/members/nonexistent")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.to_string(), "Cluster member not found");

    let body = json!({"config": {"cluster.max_voters": "4"}});
    let err = client.patch("/1.0", &body, Some("abc")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3"
    );
    let seen = log.lock().unwrap();
    let patch = seen.iter().find(|s| s.method == "PATCH").unwrap();
    assert_eq!(patch.if_match.as_deref(), Some("\"abc\""));
    let sent: serde_json::Value = serde_json::from_str(&patch.body).unwrap();
    assert_eq!(sent, body);
}

#[tokio::test]
async fn async_answers_name_their_operation_and_waits_report_the_outcome() {
    let (socket, log, _dir) = serve().await;
    let client = Client::unix(socket);
    let created = client
        .post("/1.0/cluster/members", &json!({"server_name": "node9"}))
        .await
        .unwrap();
    assert_eq!(created.status, 202);
    assert_eq!(
        created.location.as_deref(),
        Some("/1.0/operations/a1049f2e-2e6b-4897-9869-f8381a776540")
    );
    assert_eq!(created.envelope.kind, ResponseType::Async);
    assert_eq!(
        created.envelope.operation,
        "/1.0/operations/a1049f2e-2e6b-4897-9869-f8381a776540"
    );

    let op = client
        .wait_operation("/1.0/operations/good", Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Success);
    assert_eq!(
        log.lock().unwrap().last().unwrap().uri,
        "/1.0/operations/good/wait?timeout=2"
    );

    let err = client
        .wait_operation("/1.0/operations/bad", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Operation { .. }));
    assert_eq!(err.to_string(), "Failed to join: no quorum");

    let err = client
        .wait_operation("/1.0/operations/slow", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("waiting for operation /1.0/operations/slow to finish")
    );
}

#[tokio::test]
async fn slow_daemons_time_out_with_what_was_awaited() {
    let (socket, _, _dir) = serve().await;
    let client = Client::unix(socket).with_timeout(Duration::from_millis(200));
    let err = client.get::<Cluster>("/slow").await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("to answer GET /slow"), "{err}");
}

#[tokio::test]
async fn raw_keeps_the_body_and_malformed_answers_are_protocol_errors() {
    let (socket, _, _dir) = serve().await;
    let client = Client::unix(socket);
    let (status, body) = client.raw("GET", "/1.0/cluster", None).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with(b"{\"type\":\"sync\""));
    let err = client.get::<Cluster>("/not-json").await.unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    let err = client.raw("GE T", "/1.0", None).await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidRequest(_)), "{err}");
}

#[tokio::test]
async fn a_missing_socket_says_to_start_the_daemon() {
    let client = Client::unix("/nonexistent/corral/unix.socket".into());
    let err = client.get::<Cluster>("/1.0/cluster").await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }));
    assert!(err.to_string().contains("Is corrald running?"), "{err}");
}

#[test]
fn wait_paths_keep_existing_queries() {
    assert_eq!(
        wait_path("/1.0/operations/x", 30),
        "/1.0/operations/x/wait?timeout=30"
    );
    assert_eq!(
        wait_path("/1.0/operations/x?project=p", 5),
        "/1.0/operations/x/wait?project=p&timeout=5"
    );
}

#[tokio::test]
async fn async_answers_carry_their_operation() {
    let (socket, _, _dir) = serve().await;
    let client = Client::unix(socket);
    let created = client
        .post("/1.0/cluster/members", &json!({"server_name": "node9"}))
        .await
        .unwrap();
    let op = created.operation().unwrap();
    assert_eq!(op.id, "a1049f2e-2e6b-4897-9869-f8381a776540");
    assert_eq!(op.class, crate::api::OperationClass::Token);
    assert_eq!(op.metadata["serverName"], "node9");
    let (sync, _) = client
        .get_with_etag::<serde_json::Value>("/1.0/cluster")
        .await
        .unwrap();
    assert!(sync.is_object());
    let response = client
        .request("GET", "/1.0/cluster", None, None)
        .await
        .unwrap();
    assert!(matches!(
        response.operation(),
        Err(ClientError::Protocol(_))
    ));
}

#[tokio::test]
async fn readiness_waits_end_with_the_last_answer() {
    let client = Client::unix("/nonexistent/corral/unix.socket".into());
    let err = client
        .wait_ready(Duration::from_millis(120))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("to be ready (last answer: cannot reach"),
        "{err}"
    );
}

#[tokio::test]
async fn stale_marks_reach_the_response_and_the_record_clones_share() {
    let (socket, _, _dir) = serve().await;
    let client = Client::unix(socket);
    let fresh = client
        .request("GET", "/1.0/cluster", None, None)
        .await
        .unwrap();
    assert_eq!(fresh.stale, None);
    assert!(client.take_stale().is_empty());

    let stale = client.request("GET", "/stale", None, None).await.unwrap();
    let mark = stale.stale.expect("the mark");
    assert_eq!(mark.member, "node2");
    assert_eq!(mark.applied_index, 42);
    // Clones, plain GETs, raw requests and kept connections all record the mark.
    let clone = client.clone();
    let _: serde_json::Value = clone.get("/stale").await.unwrap();
    clone.raw("GET", "/stale", None).await.unwrap();
    let mut kept = client.keep_alive().await.unwrap();
    kept.raw("GET", "/stale", None).await.unwrap();
    let taken = client.take_stale();
    assert_eq!(taken.len(), 4);
    assert!(taken.iter().all(|s| *s == mark));
    assert!(client.take_stale().is_empty(), "taking empties the record");

    // A mark that cannot be read is an error, never a current answer.
    let err = client
        .get::<serde_json::Value>("/stale-garbled")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
}

/// A kept connection whose task runs on another worker than the requests: each request
/// must wait until the connection is ready for the next, or hyper cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_serves_request_after_request_across_threads() {
    let (socket, _log, _dir) = serve().await;
    let client = Client::unix(socket);
    let mut kept = client.keep_alive().await.unwrap();
    for i in 0..200 {
        let answer = kept.raw("GET", "/1.0/cluster", None).await;
        assert!(answer.is_ok(), "request {i}: {answer:?}");
    }
}
