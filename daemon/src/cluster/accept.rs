//! The cluster's side of a join, run by the leader: `accept` checks the joiner and records
//! it; `finish` adds the joiner to Raft once it runs an empty database under its new id,
//! then lets the rebalance rule give it its role.

use std::time::Duration;

use corral_shared::api::MemberConfigKey;
use serde::{Deserialize, Serialize};

use super::{member_config, members, rebalance};
use crate::db::batch::Batch;
use crate::db::global::certificates::{self, CertificateType};
use crate::db::global::{nodes, queries};
use crate::error::{Error, Result};
use crate::node::Node;

/// How long the leader waits for a new member to catch up with the database.
const CATCH_UP: Duration = Duration::from_secs(30);

/// What a joiner asks to be admitted with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptRequest {
    /// Its member name.
    pub name: String,
    /// The address other members reach it on.
    pub address: String,
    /// Its schema version.
    pub schema: i64,
    /// Its API extension count.
    pub api_extensions: i64,
    /// Its architecture.
    pub architecture: String,
    /// Its answers to the member-specific keys.
    #[serde(default)]
    pub member_config: Vec<MemberConfigKey>,
}

/// What the cluster gives an admitted joiner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptReply {
    /// Its Raft id.
    pub id: u64,
    /// The cluster certificate, PEM.
    pub cluster_certificate: String,
    /// The cluster certificate's key, PEM.
    pub cluster_key: String,
}

/// Refuses a joiner that clashes with the cluster: same name or address, another
/// version, a certificate trusted under another name, or wrong member-specific answers.
pub fn check(
    req: &AcceptRequest,
    existing: &[queries::MemberRow],
    certificate_name: Option<&str>,
    required: &[MemberConfigKey],
) -> Result<()> {
    corral_shared::config::check_member_name(&req.name).map_err(Error::BadRequest)?;
    if certificate_name != Some(req.name.as_str()) {
        return Err(Error::Forbidden(format!(
            "the joiner's certificate is not trusted as member {:?}: add it first with a join token issued for that name ('corral cluster add {}') or the trust password",
            req.name, req.name
        )));
    }
    if existing.iter().any(|m| m.name == req.name) {
        return Err(Error::Conflict(format!(
            "The cluster already has a member with name: {}; choose another name or remove that member first",
            req.name
        )));
    }
    if existing.iter().any(|m| m.address == req.address) {
        return Err(Error::Conflict(format!(
            "The cluster already has a member with address: {}",
            req.address
        )));
    }
    if let Some(m) = existing
        .iter()
        .find(|m| m.schema != req.schema || m.api_extensions != req.api_extensions)
    {
        return Err(Error::BadRequest(format!(
            "The joining server version doesn't match: it has schema {} and {} API extensions, member {} has {} and {}; upgrade the older side first",
            req.schema, req.api_extensions, m.name, m.schema, m.api_extensions
        )));
    }
    member_config::check(required, &req.member_config).map_err(Error::BadRequest)
}

/// Admits a joiner: checks it, records it (as a spare until Raft knows it) and hands it the
/// cluster certificate. Leader only.
pub async fn accept(
    node: &Node,
    req: &AcceptRequest,
    peer_fingerprint: &str,
) -> Result<AcceptReply> {
    let _guard = node.membership.lock().await;
    let identity = node
        .cluster_identity()
        .ok_or_else(|| Error::BadRequest("This server is not clustered".into()))?;
    let fp = peer_fingerprint.to_owned();
    let (existing, certs, pools, networks) = node
        .global
        .read(move |c| {
            Ok((
                queries::members(c)?,
                queries::certificates(c)?,
                crate::db::global::storage_pools::created_pools(c)?,
                queries::networks(c)?,
            ))
        })
        .await?;
    let certificate_name = certs
        .iter()
        .find(|c| c.fingerprint == fp && c.kind == CertificateType::Server)
        .map(|c| c.name.as_str());
    let required = member_config::required(&pools, &networks);
    check(req, &existing, certificate_name, &required)?;

    let id = existing.iter().map(|m| m.id).max().unwrap_or(0) + 1;
    let mut batch = Batch::new();
    nodes::admit(
        &mut batch,
        &nodes::Admitted {
            id,
            name: &req.name,
            address: &req.address,
            schema: req.schema,
            api_extensions: req.api_extensions,
            heartbeat: &members::now(),
            arch: &req.architecture,
        },
    );
    for a in &req.member_config {
        nodes::answer_member_config(&mut batch, id, &a.entity, &a.name, &a.key, &a.value);
    }
    crate::db::global::storage_pools::join_created(&mut batch, id);
    if !networks.is_empty() {
        crate::db::global::networks::created_everywhere_on(&mut batch, id);
    }
    node.propose(batch).await?;
    Ok(AcceptReply {
        id,
        cluster_certificate: identity.cert_pem().to_owned(),
        cluster_key: identity.key_pem().to_owned(),
    })
}

/// Brings an accepted member's replica up to date, then rebalances roles, which may make it
/// a voter or a stand-by (then it joins Raft); otherwise it stays a spare, outside Raft, fed
/// by the leader. Leader only.
pub async fn finish(node: &Node, id: u64) -> Result<()> {
    let row = node
        .global
        .read(move |c| queries::member_by_id(c, id))
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no accepted member with id {id}; ask to join again"
            ))
        })?;
    let index = node.applied_index();
    tokio::time::timeout(CATCH_UP, super::spares::caught_up(node, id, index))
        .await
        .map_err(|_| {
            Error::Unavailable(format!(
                "cannot add member {}: the member at {} did not catch up with the database within {}s",
                row.name,
                row.address,
                CATCH_UP.as_secs()
            ))
        })?;
    rebalance::run(node).await
}

/// Undoes an `accept` whose join failed later, so the name can be used again.
pub async fn forget(node: &Node, name: &str) -> Result<()> {
    let mut batch = Batch::new();
    nodes::remove_named(&mut batch, name);
    certificates::forget_member(&mut batch, name);
    node.propose(batch).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str, address: &str) -> queries::MemberRow {
        queries::MemberRow {
            name: name.into(),
            address: address.into(),
            schema: crate::cluster::versions::own().0,
            api_extensions: crate::cluster::versions::own().1,
            ..queries::MemberRow::sample(id)
        }
    }

    fn request(name: &str, address: &str) -> AcceptRequest {
        AcceptRequest {
            name: name.into(),
            address: address.into(),
            schema: crate::cluster::versions::own().0,
            api_extensions: crate::cluster::versions::own().1,
            architecture: "x86_64".into(),
            member_config: vec![],
        }
    }

    #[test]
    fn joiners_that_clash_are_refused() {
        let existing = vec![member(1, "node1", "127.0.0.1:8443")];
        let mut newer = request("node2", "127.0.0.2:8443");
        newer.api_extensions += 1;
        let cases = [
            (
                "fine",
                request("node2", "127.0.0.2:8443"),
                Some("node2"),
                true,
            ),
            (
                "name in use",
                request("node1", "127.0.0.2:8443"),
                Some("node1"),
                false,
            ),
            (
                "address in use",
                request("node2", "127.0.0.1:8443"),
                Some("node2"),
                false,
            ),
            (
                "certificate trusted under another name",
                request("node2", "127.0.0.2:8443"),
                Some("node3"),
                false,
            ),
            (
                "certificate not trusted",
                request("node2", "127.0.0.2:8443"),
                None,
                false,
            ),
            ("other version", newer, Some("node2"), false),
            (
                "reserved name",
                request("none", "127.0.0.2:8443"),
                Some("none"),
                false,
            ),
        ];
        for (what, req, cert, ok) in cases {
            assert_eq!(check(&req, &existing, cert, &[]).is_ok(), ok, "{what}");
        }
    }
}
