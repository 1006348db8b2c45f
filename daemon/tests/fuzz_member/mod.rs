//! A real member for the daemon's fuzz targets: started in-process in a temporary
//! directory and bootstrapped as a one-member cluster on a loopback address; requests go
//! to its real routers. Also the JSON the targets generate and mutate.
#![allow(dead_code)] // Each fuzz target uses its own part of this file.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use corral_daemon::api::Peer;
use corral_daemon::node::{DataDir, Node, Started, start};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fuzz_support::{count_panics, mutated, panics};

/// Any one request answered later than this is a hang: writes are bounded at about 10 s.
pub const LIMIT: Duration = Duration::from_secs(30);
/// The member's name in its cluster.
pub const NAME: &str = "fuzz";

/// A real member in a temporary directory, and its router.
pub struct Member {
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
pub fn free_address(salt: u8) -> String {
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
pub enum Caller {
    /// Through the unix socket.
    Local,
    /// Over the network, with no certificate.
    Stranger,
}

impl Member {
    /// Starts a member and bootstraps a one-member cluster through its own API.
    pub fn bootstrapped(salt: u8) -> Self {
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

    /// The member itself.
    pub fn node(&self) -> &Arc<Node> {
        &self.started.as_ref().expect("started until dropped").node
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the member")
    }

    /// One request, answered within [`LIMIT`]; the answer's status and JSON body.
    pub fn call(
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

    pub async fn send(
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
                address: None,
            },
            Caller::Stranger => Peer {
                fingerprint: None,
                certificate: None,
                local: false,
                address: Some("127.0.0.9:40000".into()),
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
    pub fn check(
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
        // A method the endpoint lacks is LXD's 501 "not implemented": the one 5xx that
        // answers what the caller sent (lxd-samples: raw_GET_member_state_via_node2.http).
        let unimplemented = status == StatusCode::NOT_IMPLEMENTED;
        prop_assert!(
            !status.is_server_error() || unimplemented,
            "{} {}: a 5xx for what the caller sent: {} {}",
            method,
            uri,
            status,
            text
        );
        if status.is_client_error() || unimplemented {
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

/// A JSON value generated from scratch, with keys the API knows among others.
pub fn json_value() -> impl Strategy<Value = Value> {
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

pub fn word() -> impl Strategy<Value = String> {
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
pub fn paths(value: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
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

pub fn replace_at(value: &mut Value, path: &[Value], new: Value) {
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
pub fn json_mutated(samples: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
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
pub fn body(samples: Vec<Value>) -> BoxedStrategy<Vec<u8>> {
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
