//! Fuzzing of what peers send over gRPC: every message type of `proto/corral.proto` decoded
//! from random and mutated bytes, and the member-to-member services (Raft, Leader, Member,
//! Operator.Voters) called on a real member, started in-process and bootstrapped, through
//! its real gRPC router as a member presenting the cluster certificate (and as a stranger).
//!
//! Inputs: real messages (openraft's vote, append and snapshot requests as the daemon
//! carries them, real write batches, heartbeats) mutated as bytes and as JSON, generated
//! JSON, and random bytes, framed as gRPC does (and sometimes framed wrongly).
//!
//! Properties: decoding never panics, and what decodes encodes back to the same message;
//! every call is answered within a bound, nothing panics anywhere in the process, and a
//! refusal carries a gRPC status with a message.
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=100000 cargo test -p corral-daemon
//! --test fuzz_grpc`.

mod fuzz_member;
#[path = "../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use corral_daemon::api::Peer;
use corral_daemon::db::batch::{Batch, SqlValue};
use corral_daemon::raft::TypeConfig;
use corral_proto::v1::{
    HeartbeatReply, HeartbeatRequest, ProposeReply, ProposeRequest, RaftPayload, ReadIndexReply,
    ReadIndexRequest, VotersReply, VotersRequest, WatchMessage, WatchRequest,
};
use fuzz_member::{Caller, LIMIT, Member, body};
use fuzz_support::{Watchdog, cases, mutated, panics, run};
use http_body_util::BodyExt;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use openraft::{SnapshotMeta, Vote};
use proptest::prelude::*;
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

/// CI's count of decoded messages per type (microseconds each).
const CI_DECODES: u32 = 2_000;
/// CI's count of calls per method (each a real call on the member).
const CI_CALLS: u32 = 150;

/// Real messages of every type, encoded.
fn encoded_samples() -> Vec<Vec<u8>> {
    vec![
        RaftPayload { json: vote_json() }.encode_to_vec(),
        ProposeRequest {
            batch_json: batch_json(),
        }
        .encode_to_vec(),
        ProposeReply {
            result_json: br#"{"rows_affected":[1],"error":null}"#.to_vec(),
        }
        .encode_to_vec(),
        ReadIndexReply { index: 42 }.encode_to_vec(),
        older_heartbeat(1_764_000_000_000, raft_nodes_json()),
        HeartbeatReply {
            schema: 2,
            api_extensions: 300,
            member_time_ms: -1,
        }
        .encode_to_vec(),
        VotersReply {
            json: br#"{"leader":true,"term":3,"reachable":{"1":true}}"#.to_vec(),
        }
        .encode_to_vec(),
        WatchMessage {
            json: b"{}".to_vec(),
        }
        .encode_to_vec(),
    ]
}

/// Decodes `bytes` as `M`: what decodes must encode to bytes that decode to the same.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    if let Ok(message) = M::decode(bytes) {
        let again = M::decode(message.encode_to_vec().as_slice());
        prop_assert_eq!(again.as_ref(), Ok(&message));
    }
    Ok(())
}

#[test]
fn every_peer_message_type_decodes_or_refuses_random_bytes() {
    let watchdog = Watchdog::new("gRPC decode", Duration::from_secs(5));
    let inputs = prop_oneof![
        3 => mutated(encoded_samples()),
        1 => prop::collection::vec(any::<u8>(), 0..128),
    ];
    run("gRPC decode", cases(CI_DECODES), inputs, |bytes| {
        watchdog.case(&bytes, || {
            round_trip::<RaftPayload>(&bytes)?;
            round_trip::<ProposeRequest>(&bytes)?;
            round_trip::<ProposeReply>(&bytes)?;
            round_trip::<ReadIndexRequest>(&bytes)?;
            round_trip::<ReadIndexReply>(&bytes)?;
            round_trip::<HeartbeatRequest>(&bytes)?;
            round_trip::<HeartbeatReply>(&bytes)?;
            round_trip::<VotersRequest>(&bytes)?;
            round_trip::<VotersReply>(&bytes)?;
            round_trip::<WatchRequest>(&bytes)?;
            round_trip::<WatchMessage>(&bytes)
        })
    });
}

/// A vote request from a member that does not exist, in a term long past: refused by Raft.
/// The leader's messages below carry a committed vote, as a leader's do.
fn vote_json() -> Vec<u8> {
    serde_json::to_vec(&VoteRequest::<u64>::new(Vote::new(0, 9), None)).unwrap()
}

fn append_json() -> Vec<u8> {
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(0, 9),
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    };
    serde_json::to_vec(&request).unwrap()
}

fn snapshot_json() -> Vec<u8> {
    let request = InstallSnapshotRequest::<TypeConfig> {
        vote: Vote::new_committed(0, 9),
        meta: SnapshotMeta::default(),
        offset: 0,
        data: b"SQLite format 3\0".to_vec(),
        done: true,
    };
    serde_json::to_vec(&request).unwrap()
}

fn batch_json() -> Vec<u8> {
    let mut batch = Batch::new();
    batch.push(
        "INSERT INTO fuzz (x) VALUES (?1)",
        vec![SqlValue::Integer(1)],
    );
    batch.push(
        "UPDATE fuzz SET x = ?1 WHERE x = ?2",
        vec![SqlValue::from("a"), SqlValue::Null],
    );
    serde_json::to_vec(&batch).unwrap()
}

/// A heartbeat as earlier versions sent it: with the member list as field 2, which
/// members now skip as an unknown field.
fn older_heartbeat(leader_time_ms: i64, raft_nodes_json: Vec<u8>) -> Vec<u8> {
    let mut message = HeartbeatRequest { leader_time_ms }.encode_to_vec();
    prost::encoding::bytes::encode(2, &raft_nodes_json, &mut message);
    message
}

fn raft_nodes_json() -> Vec<u8> {
    br#"[{"id":1,"address":"127.0.0.1:8443"},{"id":2,"address":"[::1]:8443"}]"#.to_vec()
}

fn json_samples(json: Vec<u8>) -> Vec<Value> {
    vec![serde_json::from_slice(&json).expect("a sample is JSON")]
}

/// A gRPC body: the message framed as gRPC frames it, or now and then a broken frame.
fn framed(message: Vec<u8>, broken: Option<(u8, u32)>) -> Vec<u8> {
    let (flag, length) = broken.unwrap_or((0, message.len() as u32));
    let mut frame = vec![flag];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}

/// The gRPC router of `member`, as its listener serves it.
fn grpc_router(member: &Member) -> Router {
    corral_daemon::api::grpc::routes(member.node().clone())
        .prepare()
        .into_axum_router()
}

/// Calls `method` with `body` as `caller` and checks every property.
fn check_call(
    member: &Member,
    router: &Router,
    caller: Caller,
    method: &str,
    body: Vec<u8>,
) -> Result<String, TestCaseError> {
    let before = panics();
    let fingerprint = match caller {
        Caller::Local => member.node().cluster_fingerprint(),
        Caller::Stranger => None,
    };
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(method)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::from(body))
        .expect("a request");
    req.extensions_mut().insert(Peer {
        fingerprint,
        certificate: None,
        local: false,
        address: Some("127.0.0.9:40000".into()),
    });
    let call = async {
        let resp = router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await.map_err(|e| e.to_string())?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        Ok::<_, String>((parts.status, parts.headers, trailers))
    };
    let answer = member
        .runtime()
        .block_on(async { tokio::time::timeout(LIMIT, call).await })
        .map_err(|_| {
            TestCaseError::fail(format!("{method}: no answer within {LIMIT:?} (a hang)"))
        })?;
    let (status, headers, trailers) =
        answer.map_err(|e| TestCaseError::fail(format!("{method}: {e}")))?;
    prop_assert_eq!(panics(), before, "{}: something panicked", method);
    prop_assert_eq!(status, StatusCode::OK, "{}: HTTP {}", method, status);
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let code = field("grpc-status");
    prop_assert!(code.is_some(), "{}: no grpc-status", method);
    let code = code.unwrap_or_default();
    if code != "0" {
        let message = field("grpc-message").unwrap_or_default();
        prop_assert!(
            !message.trim().is_empty(),
            "{}: status {} without a message",
            method,
            code
        );
    }
    if let Caller::Stranger = caller {
        // tonic reads the frame and the message before the service sees the caller: one it
        // cannot read is refused first, as internal (13) or, when its length is over the
        // limit, out of range (11).
        let unreadable = code == "13" || code == "11";
        prop_assert!(
            code == "7" || unreadable,
            "{}: a stranger is refused (permission denied), got status {}: {:?}",
            method,
            code,
            field("grpc-message")
        );
    }
    Ok(code)
}

/// Messages for `method`: its real JSON mutated inside a valid message, or random bytes.
fn messages(wrap: fn(Vec<u8>) -> Vec<u8>, samples: Vec<Value>) -> BoxedStrategy<Vec<u8>> {
    let broken = prop_oneof![
        9 => Just(None),
        1 => (any::<u8>(), any::<u32>()).prop_map(Some),
    ];
    let message = prop_oneof![
        4 => body(samples).prop_map(wrap),
        1 => prop::collection::vec(any::<u8>(), 0..96),
    ];
    (message, broken).prop_map(|(m, b)| framed(m, b)).boxed()
}

#[test]
fn member_services_answer_any_message_with_a_status() {
    let member = Member::bootstrapped(10);
    let (status, answer) = member.call(
        Caller::Local,
        Method::POST,
        "/internal/sql",
        json!({"database": "global", "query": "CREATE TABLE fuzz (x)"})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    let router = grpc_router(&member);
    let raft = |json| RaftPayload { json }.encode_to_vec();
    let targets: Vec<(&str, BoxedStrategy<Vec<u8>>)> = vec![
        (
            "/corral.v1.Raft/Vote",
            messages(raft, json_samples(vote_json())),
        ),
        (
            "/corral.v1.Raft/AppendEntries",
            messages(raft, json_samples(append_json())),
        ),
        (
            "/corral.v1.Raft/InstallSnapshot",
            messages(raft, json_samples(snapshot_json())),
        ),
        (
            "/corral.v1.Leader/Propose",
            messages(
                |batch_json| ProposeRequest { batch_json }.encode_to_vec(),
                json_samples(batch_json()),
            ),
        ),
        (
            "/corral.v1.Member/Heartbeat",
            messages(
                |raft_nodes_json| older_heartbeat(0, raft_nodes_json),
                json_samples(raft_nodes_json()),
            ),
        ),
        (
            "/corral.v1.Leader/ReadIndex",
            messages(|b| b, vec![json!({})]),
        ),
        (
            "/corral.v1.Operator/Voters",
            messages(|b| b, vec![json!({})]),
        ),
    ];
    // The real messages are served: the calls below reach the services, past the checks.
    for (method, message) in [
        ("/corral.v1.Raft/Vote", raft(vote_json())),
        ("/corral.v1.Raft/AppendEntries", raft(append_json())),
        (
            "/corral.v1.Leader/Propose",
            ProposeRequest {
                batch_json: batch_json(),
            }
            .encode_to_vec(),
        ),
        ("/corral.v1.Leader/ReadIndex", Vec::new()),
    ] {
        let code = check_call(
            &member,
            &router,
            Caller::Local,
            method,
            framed(message, None),
        );
        assert_eq!(
            code.map_err(|e| e.to_string()),
            Ok("0".to_owned()),
            "{method}"
        );
    }
    for (method, strategy) in targets {
        run(method, cases(CI_CALLS), strategy.clone(), |body| {
            check_call(&member, &router, Caller::Local, method, body).map(drop)
        });
        run(
            &format!("stranger {method}"),
            cases(CI_CALLS / 5),
            strategy,
            |body| check_call(&member, &router, Caller::Stranger, method, body).map(drop),
        );
    }
    // Whatever the peers sent, the member still takes writes.
    let (status, answer) = member.call(
        Caller::Local,
        Method::POST,
        "/internal/sql",
        json!({"database": "global", "query": "INSERT INTO fuzz VALUES (1)"})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// What the fuzzing found: an AppendEntries or InstallSnapshot whose vote is not committed
/// (no leader ever sends one) made openraft's core panic on its own consistency check, which
/// stopped the member's database. Such messages are refused; the member goes on.
#[test]
fn raft_messages_with_an_uncommitted_vote_are_refused() {
    let member = Member::bootstrapped(11);
    let router = grpc_router(&member);
    let later = Vote::new(1_000, 9);
    let append = AppendEntriesRequest::<TypeConfig> {
        vote: later,
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    };
    let snapshot = InstallSnapshotRequest::<TypeConfig> {
        vote: later,
        meta: SnapshotMeta::default(),
        offset: 0,
        data: Vec::new(),
        done: true,
    };
    for (method, json) in [
        (
            "/corral.v1.Raft/AppendEntries",
            serde_json::to_vec(&append).unwrap(),
        ),
        (
            "/corral.v1.Raft/InstallSnapshot",
            serde_json::to_vec(&snapshot).unwrap(),
        ),
    ] {
        let message = framed(RaftPayload { json }.encode_to_vec(), None);
        let code = check_call(&member, &router, Caller::Local, method, message);
        assert_eq!(
            code.map_err(|e| e.to_string()),
            Ok("3".to_owned()),
            "{method}"
        );
    }
    let (status, answer) = member.call(
        Caller::Local,
        Method::POST,
        "/internal/sql",
        json!({"database": "global", "query": "CREATE TABLE fuzz (x)"})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "the member still takes writes: {answer}"
    );
}
