//! Fuzzing of the REST API: every endpoint's JSON body, path and query, and the `sql`
//! console's input, sent to the real router over a real member started in-process in a
//! temporary directory (bootstrapped as a one-member cluster on a loopback address).
//!
//! Inputs: real bodies (LXD's shapes, the preseeds, a real certificate, real SQL) mutated as
//! bytes and as JSON (a value anywhere replaced by another), JSON generated from scratch,
//! and random bytes.
//!
//! Properties, for every request: it is answered within a bound (no hang); no panic
//! anywhere in the process; the answer is an LXD envelope, and a refusal is a 4xx error
//! envelope with a message (never a 5xx for what the caller sent).
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=100000 cargo test -p corral-daemon
//! --test fuzz_rest` (each case is a real request; writes go through Raft).

#[path = "../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::net::TcpListener;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use corral_daemon::api::Peer;
use corral_daemon::node::{DataDir, Started, start};
use fuzz_support::{cases, count_panics, mutated, panics, run};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

/// CI's count per endpoint (each a real request).
const CI_CASES: u32 = 150;
/// Any one request answered later than this is a hang: writes are bounded at about 10 s.
const LIMIT: Duration = Duration::from_secs(30);
/// The member's name in its cluster.
const NAME: &str = "fuzz";

/// A real member in a temporary directory, and its router.
struct Member {
    router: Router,
    /// Always there until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    started: Option<Started>,
    _dir: tempfile::TempDir,
}

impl Drop for Member {
    /// Stops the member within bounds, even after a failure left a statement running.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(started) = self.started.take() {
            let stop = async { tokio::time::timeout(LIMIT, started.node.stop()).await };
            if runtime.block_on(stop).is_err() {
                eprintln!(
                    "the member did not stop within {LIMIT:?}; leaving it to the process's end"
                );
            }
        }
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// A loopback address of this process's own (127.x.y.z from the pid) with a free port.
fn free_address(salt: u8) -> String {
    let pid = std::process::id();
    let ip = format!("127.{}.{}.{}", (pid >> 8) & 0xff, pid & 0xff, 2 + salt);
    let port = TcpListener::bind((ip.as_str(), 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    format!("{ip}:{port}")
}

/// Who calls: the local unix socket (trusted) or an unknown client over the network.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Local,
    Stranger,
}

impl Member {
    /// Starts a member and bootstraps a one-member cluster through its own API.
    fn bootstrapped(salt: u8) -> Self {
        count_panics();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let started = runtime
            .block_on(start(DataDir::new(dir.path())))
            .expect("the member starts");
        let router = corral_daemon::api::rest::router(started.node.clone());
        let member = Member {
            router,
            runtime: Some(runtime),
            started: Some(started),
            _dir: dir,
        };
        let preseed = json!({
            "config": {"core.https_address": free_address(salt)},
            "cluster": {"server_name": NAME, "enabled": true},
        });
        let (status, body) = member.call(
            Caller::Local,
            Method::POST,
            "/internal/init",
            preseed.to_string().into_bytes(),
        );
        assert_eq!(status, StatusCode::ACCEPTED, "bootstrap: {body}");
        let op = body["operation"]
            .as_str()
            .expect("an operation URL")
            .to_owned();
        let (status, body) = member.call(
            Caller::Local,
            Method::GET,
            &format!("{op}/wait?timeout=20"),
            Vec::new(),
        );
        assert_eq!(status, StatusCode::OK, "bootstrap: {body}");
        assert_eq!(body["metadata"]["status"], "Success", "bootstrap: {body}");
        member
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the member")
    }

    /// One request, answered within [`LIMIT`]; the answer's status and JSON body.
    fn call(
        &self,
        caller: Caller,
        method: Method,
        uri: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self
            .runtime()
            .block_on(self.send(caller, method.clone(), uri, body))
            .unwrap_or_else(|e| panic!("{method} {uri}: {e}"));
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {uri}: answered {status} with a body that is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, value)
    }

    async fn send(
        &self,
        caller: Caller,
        method: Method,
        uri: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Vec<u8>), String> {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .map_err(|e| format!("not a request: {e}"))?;
        req.extensions_mut().insert(match caller {
            Caller::Local => Peer {
                fingerprint: None,
                certificate: None,
                local: true,
            },
            Caller::Stranger => Peer {
                fingerprint: None,
                certificate: None,
                local: false,
            },
        });
        let answer = async {
            let resp = self
                .router
                .clone()
                .oneshot(req)
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok((status, bytes.to_bytes().to_vec()))
        };
        tokio::time::timeout(LIMIT, answer)
            .await
            .map_err(|_| format!("no answer within {LIMIT:?} (a hang)"))?
    }

    /// Sends one fuzzed request and checks every property.
    fn check(
        &self,
        caller: Caller,
        method: &Method,
        uri: &str,
        body: &[u8],
    ) -> Result<(), TestCaseError> {
        let before = panics();
        let (status, bytes) = self
            .runtime()
            .block_on(self.send(caller, method.clone(), uri, body.to_vec()))
            .map_err(|e| TestCaseError::fail(format!("{method} {uri}: {e}")))?;
        prop_assert_eq!(panics(), before, "{} {}: something panicked", method, uri);
        let text = String::from_utf8_lossy(&bytes);
        let envelope: Value = serde_json::from_slice(&bytes).map_err(|e| {
            TestCaseError::fail(format!(
                "{method} {uri}: {status} with a body that is not an LXD envelope ({e}): {text:?}"
            ))
        })?;
        prop_assert!(
            !status.is_server_error(),
            "{} {}: a 5xx for what the caller sent: {} {}",
            method,
            uri,
            status,
            text
        );
        if status.is_client_error() {
            prop_assert_eq!(&envelope["type"], "error", "{} {}: {}", method, uri, text);
            prop_assert_eq!(
                &envelope["error_code"],
                &json!(status.as_u16()),
                "{} {}: {}",
                method,
                uri,
                text
            );
            let message = envelope["error"].as_str().unwrap_or_default();
            prop_assert!(
                !message.trim().is_empty(),
                "{} {}: a refusal without a message: {}",
                method,
                uri,
                text
            );
        } else {
            let kind = envelope["type"].as_str().unwrap_or_default();
            prop_assert!(
                kind == "sync" || kind == "async",
                "{} {}: {}",
                method,
                uri,
                text
            );
        }
        Ok(())
    }
}

/// Percent-encodes a path segment or query value.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A path segment: a real name, a name-like word, or anything at all (escaped).
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![NAME.to_owned(), "node2".into(), "default".into(),
            "127.0.0.1:8443".into(), "..".into(), "%2F".into()]),
        2 => "[a-z0-9.:-]{0,16}",
        1 => any::<String>().prop_map(|s| escape(&s)),
    ]
}

/// A JSON value generated from scratch, with keys the API knows among others.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(word(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "config", "server_name", "enabled", "member_config", "cluster_address",
            "cluster_certificate", "server_address", "cluster_password", "cluster_token",
            "roles", "database", "database-standby", "event-hub", "failure_domain",
            "description", "groups", "name", "type", "certificate", "password",
            "trust_token", "token", "id", "address", "schema", "api_extensions",
            "architecture", "entity", "key", "value", "database", "query", "global",
            "local", "core.https_address", "core.trust_password", "cluster.max_voters",
            "cluster.offline_threshold", "cluster.https_address", "user.fuzz", NAME,
            "client", "server", "storage-pool", "network", "source", "",
        ].into_iter().map(String::from).collect::<Vec<_>>()),
        1 => "[a-z0-9._-]{0,10}",
        1 => any::<String>(),
    ]
}

/// Every path inside a JSON value, as keys and indexes.
fn paths(value: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                here.push(Value::from(k.clone()));
                paths(v, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                here.push(Value::from(i));
                paths(v, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn replace_at(value: &mut Value, path: &[Value], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *value = new;
        return;
    };
    let child = match first {
        Value::String(k) => value.get_mut(k.as_str()),
        Value::Number(i) => value.get_mut(i.as_u64().unwrap_or(0) as usize),
        _ => None,
    };
    if let Some(child) = child {
        replace_at(child, rest, new);
    }
}

/// A sample with one value somewhere in it replaced by a generated one (or a key added).
fn json_mutated(samples: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(samples),
        any::<prop::sample::Index>(),
        json_value(),
        word(),
    )
        .prop_map(|(mut sample, at, new, key)| {
            let mut all = Vec::new();
            paths(&sample, &mut Vec::new(), &mut all);
            let path = at.get(&all).clone();
            let mut target = sample.clone();
            replace_at(&mut target, &path, new.clone());
            if target == sample
                && let Some(map) = sample.as_object_mut()
            {
                map.insert(key, new);
                target = sample;
            }
            serde_json::to_vec(&target).expect("JSON")
        })
}

/// A body for an endpoint whose real bodies are `samples`.
fn body(samples: Vec<Value>) -> BoxedStrategy<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = samples
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    prop_oneof![
        4 => json_mutated(samples),
        3 => mutated(bytes),
        2 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

/// A certificate a real member made, PEM.
const CERTIFICATE: &str = include_str!("../../tests/fixtures/db-v1/m1/server.crt");
const JOIN_TOKEN: &str = include_str!("../../tests/fixtures/lxd/join_token_raw.txt");

/// Fuzzes `method` on paths from `path` with bodies like `samples`.
fn endpoint(
    member: &Member,
    caller: Caller,
    method: Method,
    (label, path): (&str, BoxedStrategy<String>),
    samples: Vec<Value>,
) {
    let strategy = (path, body(samples));
    let target = format!("{caller:?} {method} {label}");
    run(&target, cases(CI_CASES), strategy, |(uri, body)| {
        member.check(caller, &method, &uri, &body)
    });
}

fn fixed(path: &str) -> (&str, BoxedStrategy<String>) {
    (path, Just(path.to_owned()).boxed())
}

fn member_path() -> (&'static str, BoxedStrategy<String>) {
    let paths = segment().prop_map(|s| format!("/1.0/cluster/members/{s}"));
    ("/1.0/cluster/members/{name}", paths.boxed())
}

#[test]
fn every_endpoint_refuses_bad_bodies_with_a_4xx_envelope() {
    let member = Member::bootstrapped(0);
    let server_put = vec![
        json!({"config": {"cluster.max_voters": "3", "cluster.offline_threshold": 20}}),
        json!({"config": {"user.fuzz": "x", "core.trust_password": "sekret"}}),
        json!({"config": {}}),
    ];
    endpoint(
        &member,
        Caller::Local,
        Method::PUT,
        fixed("/1.0"),
        server_put.clone(),
    );
    endpoint(
        &member,
        Caller::Local,
        Method::PATCH,
        fixed("/1.0"),
        server_put,
    );
    endpoint(
        &member,
        Caller::Local,
        Method::PUT,
        fixed("/1.0/cluster"),
        vec![
            json!({"server_name": NAME, "enabled": true}),
            json!({"server_name": "node2", "enabled": true, "cluster_address": "127.0.0.1:8443",
            "cluster_certificate": CERTIFICATE, "server_address": "127.0.0.2:8443",
            "cluster_password": "sekret", "member_config": [{"entity": "storage-pool",
            "name": "default", "key": "source", "value": "/x"}]}),
            json!({"enabled": false}),
        ],
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/1.0/cluster/members"),
        vec![json!({"server_name": "node2"})],
    );
    let member_put = vec![json!({"roles": ["database"], "failure_domain": "default",
        "description": "", "config": {}, "groups": ["default"]})];
    endpoint(
        &member,
        Caller::Local,
        Method::PUT,
        member_path(),
        member_put.clone(),
    );
    endpoint(
        &member,
        Caller::Local,
        Method::PATCH,
        member_path(),
        member_put,
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        member_path(),
        vec![json!({"server_name": "node3"})],
    );
    let certificates = vec![
        json!({"type": "client", "certificate": CERTIFICATE, "name": "laptop", "password": "sekret"}),
        json!({"type": "client", "name": "phone", "token": true}),
        json!({"trust_token": JOIN_TOKEN.trim(), "password": JOIN_TOKEN.trim()}),
    ];
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/1.0/certificates"),
        certificates.clone(),
    );
    endpoint(
        &member,
        Caller::Stranger,
        Method::POST,
        fixed("/1.0/certificates"),
        certificates,
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/internal/init"),
        vec![
            json!({"config": {"user.fuzz": "1"}, "storage_pools": [{"name": "p", "driver": "dir"}],
            "networks": [{"name": "br1", "type": "bridge"}],
            "profiles": [{"name": "default", "devices": {"root": {"type": "disk", "path": "/", "pool": "p"}}}]}),
        ],
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/internal/cluster/accept"),
        vec![
            json!({"name": "node2", "address": "127.0.0.2:8443", "schema": 1, "api_extensions": 1,
            "architecture": "x86_64", "member_config": []}),
        ],
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/internal/cluster/finish"),
        vec![json!({"id": 7})],
    );
    endpoint(
        &member,
        Caller::Local,
        Method::POST,
        fixed("/internal/cluster/handover"),
        vec![json!({"id": 7})],
    );
}

/// Reads and deletes with generated paths and queries (bodies are ignored there).
#[test]
fn paths_and_queries_are_refused_with_a_4xx_envelope() {
    let member = Member::bootstrapped(1);
    let query = || {
        prop_oneof![
            Just(String::new()),
            "[a-z=&0-9-]{0,20}",
            any::<String>().prop_map(|s| escape(&s))
        ]
    };
    let uris = prop_oneof![
        (segment(), query()).prop_map(|(s, q)| format!("/1.0/cluster/members/{s}?{q}")),
        (segment(), query()).prop_map(|(s, q)| format!("/1.0/cluster/members/{s}/state?{q}")),
        (segment(), query()).prop_map(|(s, q)| format!("/1.0/certificates/{s}?{q}")),
        (segment(), query()).prop_map(|(s, q)| format!("/1.0/operations/{s}?{q}")),
        query().prop_map(|q| format!("/1.0/cluster/members?recursion={q}")),
        query().prop_map(|q| format!("/1.0/certificates?recursion={q}")),
        query().prop_map(|q| format!("/1.0/operations?recursion={q}")),
        query().prop_map(|q| format!("/1.0/events?{q}")),
        (segment(), 0u8..3).prop_map(|(s, t)| format!("/1.0/operations/{s}/wait?timeout={t}")),
        (segment(), segment()).prop_map(|(a, b)| format!("/{a}/{b}")),
    ];
    let get = uris.clone().prop_map(|u| (Method::GET, u));
    run("GET paths", cases(CI_CASES * 4), get, |(method, uri)| {
        member.check(Caller::Local, &method, &uri, b"")
    });
    let deletes = prop_oneof![
        segment().prop_map(|s| format!("/1.0/certificates/{s}")),
        segment().prop_map(|s| format!("/1.0/operations/{s}")),
        (segment(), query()).prop_map(|(s, q)| format!("/1.0/cluster/members/{s}x?{q}")),
        segment().prop_map(|s| format!("/internal/cluster/raft-node/{s}")),
    ];
    run("DELETE paths", cases(CI_CASES * 2), deletes, |uri| {
        member.check(Caller::Local, &Method::DELETE, &uri, b"")
    });
    run("Stranger GET paths", cases(CI_CASES), uris, |uri| {
        member.check(Caller::Stranger, &Method::GET, &uri, b"")
    });
}

/// Real SQL, a grammar's worth of tokens in random order, and random text.
fn sql() -> impl Strategy<Value = String> {
    let samples: Vec<String> = [
        "SELECT * FROM nodes",
        "SELECT id, name, address FROM nodes WHERE name = 'fuzz'",
        "SELECT key, value FROM config ORDER BY key",
        "SELECT count(*) FROM certificates; SELECT name FROM sqlite_master",
        "SELECT * FROM raft_nodes",
        "INSERT INTO fuzz (x) VALUES (1), ('a'), (NULL)",
        "UPDATE fuzz SET x = x || 'y' WHERE x IS NOT NULL",
        "DELETE FROM fuzz WHERE x = 1",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000) SELECT count(*) FROM c",
        "SELECT x'00ff', 1.5e300, -9223372036854775808, zeroblob(4)",
    ]
    .map(String::from)
    .to_vec();
    let tokens = prop::collection::vec(
        prop::sample::select(vec![
            "SELECT",
            "*",
            "FROM",
            "nodes",
            "config",
            "fuzz",
            "WHERE",
            "x",
            "=",
            "1",
            "'a'",
            "(",
            ")",
            ",",
            ";",
            "UNION",
            "ALL",
            "LIMIT",
            "ORDER",
            "BY",
            "INSERT",
            "INTO",
            "VALUES",
            "UPDATE",
            "SET",
            "NULL",
            "?",
            "?1",
            ":a",
            "WITH",
            "RECURSIVE",
            "AS",
            "count(*)",
            "--",
            "/*",
            "RETURNING",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "PRAGMA",
            "x'0'",
            "\"",
            "'",
            "randomblob(3)",
        ]),
        0..16,
    )
    .prop_map(|words| words.join(" "));
    prop_oneof![
        4 => fuzz_support::mutated_text(samples),
        3 => tokens,
        1 => any::<String>(),
    ]
}

/// The `sql` console's input (`corrald sql` posts it to `/internal/sql`).
#[test]
fn sql_console_input_is_run_or_refused_clearly() {
    let member = Member::bootstrapped(2);
    let (status, body) = member.call(
        Caller::Local,
        Method::POST,
        "/internal/sql",
        json!({"database": "global", "query": "CREATE TABLE fuzz (x)"})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let database = prop_oneof![
        4 => prop::sample::select(vec!["global".to_owned(), "local".to_owned()]),
        1 => word(),
    ];
    run(
        "sql",
        cases(CI_CASES * 5),
        (database, sql()),
        |(database, query)| {
            let body = json!({"database": database, "query": query}).to_string();
            member.check(
                Caller::Local,
                &Method::POST,
                "/internal/sql",
                body.as_bytes(),
            )
        },
    );
    // The member still answers: nothing above broke it.
    let (status, body) = member.call(
        Caller::Local,
        Method::GET,
        "/1.0/cluster/members",
        Vec::new(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// What the fuzzing found, kept as plain cases: requests axum itself refuses (a query or a
/// path it cannot read, a method the route lacks, an events request without a WebSocket)
/// were answered in plain text or with no body; clients read LXD's error envelope.
#[test]
fn requests_axum_refuses_get_an_error_envelope() {
    let member = Member::bootstrapped(3);
    for (method, uri) in [
        (Method::GET, "/1.0/cluster/members?recursion="),
        (Method::GET, "/1.0/certificates?recursion=x"),
        (Method::DELETE, "/1.0/cluster/members/node2?force=-1"),
        (Method::GET, "/1.0/operations/x/wait?timeout=soon"),
        (Method::GET, "/1.0/cluster/members/%FF"),
        (Method::PUT, "/1.0/operations"),
        (Method::GET, "/1.0/events"),
    ] {
        let result = member.check(Caller::Local, &method, uri, b"");
        assert!(result.is_ok(), "{method} {uri}: {result:?}");
    }
}

/// What the fuzzing found: `corrald sql global "BEGIN"` went through Raft and broke the
/// state machine's own transaction when applied, which stopped the member's database (on
/// every member). Transaction control, ATTACH and DETACH are refused before anything runs,
/// and the member goes on taking writes.
#[test]
fn sql_transaction_control_is_refused_and_the_member_goes_on() {
    let member = Member::bootstrapped(4);
    let sql = |database: &str, query: &str| {
        let body = json!({"database": database, "query": query}).to_string();
        member.call(
            Caller::Local,
            Method::POST,
            "/internal/sql",
            body.into_bytes(),
        )
    };
    let (status, body) = sql("global", "CREATE TABLE fuzz (x)");
    assert_eq!(status, StatusCode::OK, "{body}");
    for database in ["global", "local"] {
        for statement in [
            "BEGIN",
            "BEGIN -- SELECT",
            "COMMIT",
            "END",
            "ROLLBACK",
            "SAVEPOINT batch",
            "RELEASE batch",
            "ROLLBACK TO batch",
            "ATTACH DATABASE ':memory:' AS other",
            "DETACH DATABASE other",
            "SELECT 1; COMMIT",
            "CREATE TABLE t (x); COMMIT",
        ] {
            let (status, body) = sql(database, statement);
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{database} {statement}: {body}"
            );
            let message = body["error"].as_str().unwrap_or_default();
            assert!(
                message.contains("transaction") && message.contains("separate"),
                "{database} {statement}: {message}"
            );
        }
    }
    let (status, body) = sql("global", "INSERT INTO fuzz VALUES (2)");
    assert_eq!(
        status,
        StatusCode::OK,
        "the member still takes writes: {body}"
    );
    let (status, body) = sql("global", "SELECT count(*) FROM fuzz");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["metadata"]["results"][0]["rows"],
        json!([[1]]),
        "nothing else was written"
    );
}

/// A query that never ends (a recursive CTE without a limit) is stopped with a clear error
/// instead of holding the database (on `local`, the one the Raft log is kept in) forever.
#[test]
fn sql_query_that_never_ends_is_stopped() {
    let member = Member::bootstrapped(5);
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    for database in ["global", "local"] {
        let body = json!({"database": database, "query": endless}).to_string();
        let (status, body) = member.call(
            Caller::Local,
            Method::POST,
            "/internal/sql",
            body.into_bytes(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{database}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("stopped") && message.contains("LIMIT"),
            "{database}: {message}"
        );
    }
    let (status, body) = member.call(
        Caller::Local,
        Method::GET,
        "/1.0/cluster/members",
        Vec::new(),
    );
    assert_eq!(status, StatusCode::OK, "the member still answers: {body}");
}
