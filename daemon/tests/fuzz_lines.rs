//! Fuzzing of the two lines members keep to each other (the Raft line and the read-index
//! line): their frames decoded from real frames mutated as bytes and from random bytes, and
//! both lines served by a real member, started in-process and bootstrapped, to a member
//! presenting the cluster certificate and to a stranger.
//!
//! Properties: decoding never panics, and what decodes encodes back to the bytes it was read
//! from; the served line answers every message, in order, with a well-formed answer or
//! closes, within a bound, and nothing panics anywhere in the process.
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=100000 cargo test -p corral-daemon
//! --test fuzz_lines`.

mod fuzz_member;
#[path = "../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use corral_daemon::api::Peer;
use corral_daemon::api::lines::{LineKind, LineServer};
use corral_daemon::peers::read_index::{Reply, read_ask};
use corral_daemon::raft::TypeConfig;
use corral_daemon::raft::line::{Answer, Kind, Message, parse_answer};
use fuzz_member::{LIMIT, Member};
use fuzz_support::{cases, mutated, panics, run};
use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// CI's count of decoded frames per target (microseconds each).
const CI_DECODES: u32 = 2_000;
/// CI's count of lines served (each a real exchange with the member).
const CI_SERVED: u32 = 150;

fn raft_messages() -> Vec<Vec<u8>> {
    let vote = serde_json::to_vec(&VoteRequest::<u64>::new(Vote::new(0, 9), None)).unwrap();
    let append = serde_json::to_vec(&AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(0, 9),
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    })
    .unwrap();
    let frame = |kind, target, json: &[u8]| {
        Message {
            kind,
            target,
            json: json.to_vec(),
        }
        .encode()
    };
    vec![
        frame(Kind::Vote, None, &vote),
        frame(Kind::Append, Some(1), &append),
        frame(Kind::Snapshot, None, b"{}"),
        [
            frame(Kind::Vote, None, &vote),
            frame(Kind::Vote, Some(2), &vote),
        ]
        .concat(),
    ]
}

fn answers() -> Vec<Vec<u8>> {
    vec![
        Answer::Result(br#"{"Ok":"Success"}"#.to_vec()).encode(),
        Answer::Refused("only cluster members".into()).encode(),
        Reply::Index(42).encode(),
        Reply::Refused("not the leader".into()).encode(),
    ]
}

/// Real frames mutated, or random bytes.
fn frames(samples: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => mutated(samples),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

#[test]
fn line_frames_decode_without_panic_and_encode_back() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut samples = raft_messages();
    samples.extend(answers());
    run(
        "raft line messages",
        cases(CI_DECODES),
        frames(samples.clone()),
        |bytes| {
            let mut rest = bytes.as_slice();
            if let Ok(Some(message)) = runtime.block_on(Message::read(&mut rest)) {
                let used = bytes.len() - rest.len();
                prop_assert_eq!(message.encode(), bytes[..used].to_vec());
            }
            Ok(())
        },
    );
    run(
        "raft line answers",
        cases(CI_DECODES),
        frames(samples.clone()),
        |bytes| {
            if let Ok(Some((answer, used))) = parse_answer(&bytes) {
                prop_assert_eq!(answer.encode(), bytes[..used].to_vec());
            }
            Ok(())
        },
    );
    run(
        "read-index line",
        cases(CI_DECODES),
        frames(samples),
        |bytes| {
            let mut rest = bytes.as_slice();
            if let Ok(reply) = runtime.block_on(Reply::read(&mut rest)) {
                let used = bytes.len() - rest.len();
                prop_assert_eq!(reply.encode(), bytes[..used].to_vec());
            }
            let _ = runtime.block_on(read_ask(&mut bytes.as_slice()));
            Ok(())
        },
    );
}

/// Whether `out` is a run of whole, well-formed answers of `line`.
fn whole_answers(line: LineKind, out: &[u8], rt: &tokio::runtime::Runtime) -> Result<(), String> {
    let mut rest = out;
    while !rest.is_empty() {
        match line {
            LineKind::Raft => match parse_answer(rest) {
                Ok(Some((_, used))) => rest = &rest[used..],
                other => return Err(format!("a broken answer: {other:?}")),
            },
            LineKind::ReadIndex => {
                rt.block_on(Reply::read(&mut rest))
                    .map_err(|e| format!("a broken reply: {e}"))?;
            }
        }
    }
    Ok(())
}

#[test]
fn a_member_serves_any_line_within_a_bound() {
    let member = Member::bootstrapped(11);
    let server = LineServer::new(member.node().clone());
    let checker = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let asks = vec![b"?".to_vec(), b"???".to_vec()];
    for (line_kind, samples) in [
        (LineKind::Raft, raft_messages()),
        (LineKind::ReadIndex, asks),
    ] {
        for (who, fingerprint) in [
            ("member", member.node().cluster_fingerprint()),
            ("stranger", None),
        ] {
            let target = format!("{line_kind:?} line served to a {who}");
            run(
                &target,
                cases(CI_SERVED),
                frames(samples.clone()),
                |bytes| {
                    let before = panics();
                    let peer = Peer {
                        fingerprint: fingerprint.clone(),
                        certificate: None,
                        local: false,
                        address: Some("127.0.0.1:1".into()),
                    };
                    let (mut client, line) = tokio::io::duplex(1 << 20);
                    let (_stop, stopped) = tokio::sync::watch::channel(false);
                    let server = server.clone();
                    let served = member.runtime().block_on(async move {
                        let serving = tokio::spawn(async move {
                            let closed = std::future::pending();
                            server.serve(line_kind, line, peer, stopped, closed).await;
                        });
                        client.write_all(&bytes).await?;
                        client.shutdown().await?;
                        let mut out = Vec::new();
                        tokio::time::timeout(LIMIT, client.read_to_end(&mut out))
                            .await
                            .map_err(|_| std::io::Error::other("no end within the bound"))??;
                        let _ = serving.await;
                        Ok::<_, std::io::Error>(out)
                    });
                    let out = served.map_err(|e| TestCaseError::fail(format!("{e}")))?;
                    whole_answers(line_kind, &out, &checker).map_err(TestCaseError::fail)?;
                    prop_assert_eq!(panics(), before, "a panic while serving");
                    Ok(())
                },
            );
        }
    }
}
