//! `/1.0`: the server, its environment and its configuration.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::routing::get;
use corral_shared::api::{
    API_EXTENSIONS, Server, ServerEnvironment, ServerPut, ServerUntrusted, etag_of,
};

use super::done;
use super::{ApiResult, Trusted, check_etag, json_body, sync, sync_read};
use crate::cluster::{config, members};
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new().route("/1.0", get(show).put(replace).patch(update))
}

fn extensions() -> Vec<String> {
    API_EXTENSIONS.iter().map(|s| s.to_string()).collect()
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (field("NAME"), field("VERSION_ID"))
}

async fn show(
    State(node): State<Arc<Node>>,
    Extension(Trusted(trusted)): Extension<Trusted>,
) -> ApiResult {
    if !trusted {
        return sync(
            &ServerUntrusted {
                api_extensions: extensions(),
                api_status: "stable".into(),
                api_version: "1.0".into(),
                auth: "untrusted".into(),
                public: false,
                auth_methods: vec!["tls".into()],
            },
            None,
        );
    }
    let read = config::shown_current(&node).await?;
    let put = ServerPut {
        config: corral_shared::config::public_view(&read.value.config),
    };
    let etag = etag_of(&put);
    let identity = node.presented_identity();
    let (os_name, os_version) = os_release();
    let server_name = match &read.value.member_name {
        Some(name) if name != members::STANDALONE_NAME => name.clone(),
        _ => crate::node::hostname(),
    };
    let addresses = node.listening_addresses().await;
    let read = read.map(|_| Server {
        api_extensions: extensions(),
        api_status: "stable".into(),
        api_version: "1.0".into(),
        auth: "trusted".into(),
        auth_methods: vec!["tls".into()],
        config: put.config,
        environment: ServerEnvironment {
            addresses,
            architectures: vec![std::env::consts::ARCH.into()],
            certificate: identity.cert_pem().to_owned(),
            certificate_fingerprint: identity.fingerprint().to_owned(),
            kernel: "Linux".into(),
            kernel_architecture: std::env::consts::ARCH.into(),
            kernel_version: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            os_name,
            os_version,
            project: "default".into(),
            server: "corral".into(),
            server_clustered: node.is_clustered(),
            server_event_mode: "full-mesh".into(),
            server_name,
            server_pid: std::process::id(),
            server_version: env!("CARGO_PKG_VERSION").into(),
        },
        public: false,
    });
    sync_read(&read, Some(&etag))
}

async fn write(node: Arc<Node>, headers: HeaderMap, body: Bytes, replace: bool) -> ApiResult {
    let body: ServerPut = json_body(&body)?;
    // The ETag must be judged against the newest config, not a replica a moment behind.
    node.read_barrier().await?;
    let seen = config::snapshot(&node).await?;
    let shown = ServerPut {
        config: corral_shared::config::public_view(&seen.whole),
    };
    // With a tag to match, the write commits only if nothing changed since this check.
    let guard = check_etag(&headers, &etag_of(&shown))?.then_some(&seen);
    if replace {
        config::replace_from_view(&node, &body.config, guard).await?;
    } else {
        config::update_from_view(&node, &body.config, guard).await?;
    }
    done()
}

async fn replace(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    write(node, headers, body, true).await
}

async fn update(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    write(node, headers, body, false).await
}
