//! Fuzzing of the REST API: every endpoint's JSON body, path and query, and the `sql`
//! console's input, sent to the real router over a real member started in-process in a
//! temporary directory (bootstrapped as a one-member cluster on a loopback address).
//!
//! Inputs: real bodies (LXD's shapes, the preseeds, a real certificate, real SQL) mutated as
//! bytes and as JSON (a value anywhere replaced by another), JSON generated from scratch,
//! and random bytes.
//!
//! Every endpoint that reads a body is fuzzed, and every path and query; left out are only
//! the calls without a body that stop or remove the member (`PUT /internal/shutdown`,
//! `PUT /internal/cluster/leave`, elect, rebalance, deleting itself): the rest would then
//! test a member that is gone.
//!
//! Properties, for every request: it is answered within a bound (no hang); no panic
//! anywhere in the process; the answer is an LXD envelope, and a refusal is a 4xx error
//! envelope with a message (never a 5xx for what the caller sent).
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=100000 cargo test -p corral-daemon
//! --test fuzz_rest` (each case is a real request; writes go through Raft).

mod fuzz_member;
#[path = "../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use axum::http::{Method, StatusCode};
use fuzz_member::{Caller, Member, NAME, body, word};
use fuzz_support::{cases, run};
use proptest::prelude::*;
use serde_json::{Value, json};

/// CI's count per endpoint (each a real request).
const CI_CASES: u32 = 150;
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
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    // Proposed, this write was committed to the Raft log and applied forever: no write
    // after it was ever committed again.
    let endless_write = "INSERT INTO fuzz WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";
    for (database, query) in [
        ("global", endless),
        ("local", endless),
        ("global", endless_write),
    ] {
        let (status, body) = sql(database, query);
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{database} {query}: {body}"
        );
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("stopped") && message.contains("LIMIT"),
            "{database} {query}: {message}"
        );
    }
    let (status, body) = sql("global", "INSERT INTO fuzz VALUES (1)");
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
        "{body}"
    );
}
