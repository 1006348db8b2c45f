//! The joiner's side of a join, as `lxd init` and LXD's join operation do it: check the
//! cluster certificate at each address (an unreachable address is skipped, a different
//! certificate stops everything), get trusted with the token or password, be accepted,
//! then drop the standalone database for the cluster's. A failure after acceptance is
//! rolled back on both sides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use corral_shared::api::CertificatesPost;
use corral_shared::preseed::{ClusterPreseed, JoinToken, Preseed};

use super::accept::{AcceptReply, AcceptRequest};
use super::{config as server_config, members};
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::{PeerError, Peers};
use crate::tls::Identity;

/// How long the cluster may take to forget a member whose join is undone.
const CALL: Duration = Duration::from_secs(10);
/// How long the leader may take to bring the new member into the database.
const FINISH: Duration = Duration::from_secs(45);

/// Where and how to join, worked out from the preseed.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The name this member will have.
    pub name: String,
    /// Members to try, in order.
    pub addresses: Vec<String>,
    /// The cluster certificate's fingerprint.
    pub fingerprint: String,
    /// The token, or the trust password, proving the right to join.
    pub secret: String,
    /// The address other members will reach this one on.
    pub address: String,
}

/// Works out the target from a join preseed and this server's current local config.
pub fn target(c: &ClusterPreseed, config: &BTreeMap<String, String>) -> Result<Target> {
    let bad = Error::BadRequest;
    let address = [c.server_address.as_str()]
        .into_iter()
        .chain(config.get("cluster.https_address").map(String::as_str))
        .chain(config.get("core.https_address").map(String::as_str))
        .find(|a| !a.is_empty())
        .ok_or_else(|| bad("joining needs server_address (or core.https_address): the address other members reach this one on".into()))?;
    let address = corral_shared::config::canonical_address(address).map_err(bad)?;
    if !c.cluster_token.is_empty() {
        let token = JoinToken::decode(&c.cluster_token).map_err(|e| {
            bad(format!(
                "cluster_token: {e}; copy the whole token printed by 'corral cluster add NAME'"
            ))
        })?;
        if !c.server_name.is_empty() && c.server_name != token.server_name {
            return Err(bad(format!(
                "server_name {:?} differs from the name the token was issued for ({:?}); leave server_name out or issue a token for {:?}",
                c.server_name, token.server_name, c.server_name
            )));
        }
        return Ok(Target {
            name: token.server_name.clone(),
            addresses: token.addresses.clone(),
            fingerprint: token.fingerprint.clone(),
            secret: c.cluster_token.clone(),
            address,
        });
    }
    let pem = if !c.cluster_certificate.is_empty() {
        c.cluster_certificate.clone()
    } else {
        std::fs::read_to_string(&c.cluster_certificate_path).map_err(|e| {
            bad(format!(
                "cluster_certificate_path {:?}: {e}",
                c.cluster_certificate_path
            ))
        })?
    };
    let der = super::trust::der_of(&pem)?;
    let cluster_address =
        corral_shared::config::canonical_address(&c.cluster_address).map_err(bad)?;
    Ok(Target {
        name: c.server_name.clone(),
        addresses: vec![cluster_address],
        fingerprint: corral_shared::fingerprint::of_der(&der),
        secret: c.cluster_password.clone(),
        address,
    })
}

fn refused(e: PeerError) -> Error {
    match e {
        PeerError::Refused {
            status: 403,
            message,
        } => Error::Forbidden(format!(
            "Failed to join cluster: Failed to setup cluster trust: {message}"
        )),
        PeerError::Refused { message, .. } => {
            Error::BadRequest(format!("Failed to join cluster: {message}"))
        }
        other => Error::Unavailable(format!("Failed to join cluster: {other}")),
    }
}

/// Gets this server's certificate trusted by the first reachable member; returns that member.
async fn get_trusted(node: &Node, t: &Target) -> Result<String> {
    let peers = Peers::pinned(node.server_identity(), &t.fingerprint)?;
    let post = CertificatesPost {
        name: t.name.clone(),
        kind: "server".into(),
        certificate: node.server_identity().cert_pem().to_owned(),
        password: t.secret.clone(),
        ..CertificatesPost::default()
    };
    let mut unreachable = Vec::new();
    for address in &t.addresses {
        match peers.member(address).trust(&post).await {
            Ok(_) => return Ok(address.clone()),
            Err(e @ PeerError::Unreachable { .. }) => unreachable.push(e.to_string()),
            Err(PeerError::Certificate { address, reason }) => {
                return Err(Error::BadRequest(format!(
                    "Certificate fingerprint mismatch: the server at {address} is not the cluster this token or certificate is for ({reason}). \
                     Nothing was changed; check the address, or get a new token with 'corral cluster add {}'",
                    t.name
                )));
            }
            Err(e) => return Err(refused(e)),
        }
    }
    Err(Error::Unavailable(format!(
        "Unable to connect to any of the cluster members specified in join token: {}",
        unreachable.join("; ")
    )))
}

/// Joins the cluster a join preseed points at. On failure this server is left as it was.
pub async fn join(node: &Arc<Node>, preseed: &Preseed) -> Result<()> {
    if node.is_clustered() {
        return Err(Error::BadRequest(
            "This server is already clustered; remove it from its cluster first ('corral cluster remove NAME' on a member)".into(),
        ));
    }
    let c = preseed
        .cluster
        .as_ref()
        .ok_or_else(|| Error::BadRequest("the preseed has no cluster section".into()))?;
    let local_before = server_config::current(node).await?;
    let t = target(c, &local_before)?;
    // Checked before anyone is asked: a join that could not listen would be undone anyway.
    let served = node.listening_addresses().await;
    if !served.contains(&t.address) {
        super::bootstrap::check_bindable(&t.address).await?;
    }
    let contact = get_trusted(node, &t).await?;

    let (schema, api_extensions) = super::versions::own();
    let request = AcceptRequest {
        name: t.name.clone(),
        address: t.address.clone(),
        schema,
        api_extensions,
        architecture: std::env::consts::ARCH.into(),
        member_config: c.member_config.clone(),
    };
    let reply: AcceptReply = Peers::pinned(node.server_identity(), &t.fingerprint)?
        .member(&contact)
        .accept(&request)
        .await
        .map_err(|e| match e {
            PeerError::Unexpected { reason, .. } => {
                Error::Internal(format!("malformed accept reply: {reason}"))
            }
            e => refused(e),
        })?;

    if let Err(e) = become_member(node, &t, &reply, &contact).await {
        let address = local_before.get("core.https_address").cloned();
        rollback(node, &t, &contact, &reply, address.unwrap_or_default()).await;
        return Err(e);
    }
    node.operations.set_location(&t.name);
    if let Err(e) = crate::storage::pools::create_local_parts(node).await {
        tracing::warn!("joined, but a storage pool's directory could not be made here: {e}");
    }
    if let Err(e) = crate::network::create_local_parts(node).await {
        tracing::warn!("joined, but a network's bridge could not be made here: {e}");
    }
    Ok(())
}

async fn become_member(
    node: &Arc<Node>,
    t: &Target,
    reply: &AcceptReply,
    contact: &str,
) -> Result<()> {
    let identity = Identity::from_pem(
        &reply.cluster_certificate,
        &reply.cluster_key,
        std::path::Path::new("accept reply"),
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    if identity.fingerprint() != t.fingerprint {
        return Err(Error::BadRequest(
            "the cluster handed over another certificate than the one it presents".into(),
        ));
    }
    identity
        .save(node.dirs.root(), "cluster")
        .map_err(|e| Error::Internal(e.to_string()))?;
    node.set_cluster_identity(identity.clone())?;
    // As LXD does: the joiner is reached on its server address from now on; an API
    // address of its own (another network, say) stays the clients'.
    let before = node.local.read_config().await?;
    let local = joined_addresses(&before, &t.address);
    node.local.write_config(local.clone()).await?;
    node.reset_database(reply.id, false).await?;
    node.reconcile_listeners().await?;

    Peers::with_identity(&identity)?
        .member(contact)
        .within(FINISH)
        .finish(reply.id)
        .await
        .map_err(refused)?;
    wait_until_replica(node).await
}

/// Waits (bounded) until this member's replica holds its own row, written at acceptance:
/// it has then caught up at least that far, through Raft or, as a spare, from the leader.
async fn wait_until_replica(node: &Node) -> Result<()> {
    let id = node.id();
    let mut applied = node.applied_watch();
    let holds_own_row = async {
        loop {
            let row = node
                .global
                .read(move |c| queries::member_by_id(c, id))
                .await;
            if matches!(row, Ok(Some(_))) {
                return Ok(());
            }
            if applied.changed().await.is_err() {
                return Err(());
            }
        }
    };
    tokio::time::timeout(FINISH, holds_own_row)
        .await
        .map_err(|_| {
            Error::Unavailable(
                "joined, but this member did not receive the database in time".into(),
            )
        })?
        .map_err(|_| Error::Internal("the database stopped while joining".into()))?;
    members::own_name(node).await.map(|_| ())
}

/// Undoes a half-made join: the cluster forgets the member, and this server goes back to
/// being a standalone server listening where it did (`address`, "" for nowhere).
async fn rollback(
    node: &Arc<Node>,
    t: &Target,
    contact: &str,
    reply: &AcceptReply,
    address: String,
) {
    // The cluster certificate from the reply, even if adopting it is what failed.
    let identity = node.cluster_identity().or_else(|| {
        Identity::from_pem(
            &reply.cluster_certificate,
            &reply.cluster_key,
            std::path::Path::new("accept reply"),
        )
        .ok()
    });
    let forgotten = match identity.as_ref().map(|i| Peers::pinned(i, &t.fingerprint)) {
        Some(Ok(peers)) => peers
            .member(contact)
            .within(CALL)
            .remove_member(&t.name, true)
            .await
            .map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no cluster certificate to ask with".into()),
    };
    if let Err(e) = forgotten {
        tracing::error!(
            "undoing a failed join: the cluster at {contact} did not forget {}: {e}; \
             remove it there with 'corral cluster remove --force {}'",
            t.name,
            t.name
        );
    }
    let _ = std::fs::remove_file(node.dirs.root().join("cluster.crt"));
    let _ = std::fs::remove_file(node.dirs.root().join("cluster.key"));
    node.clear_cluster_identity();
    let _ = node.reset_database(1, true).await;
    let local = BTreeMap::from([
        ("core.https_address".to_owned(), address),
        ("cluster.https_address".to_owned(), String::new()),
    ]);
    let _ = node.local.write_config(local.clone()).await;
    let _ = node.reconcile_listeners().await;
}

/// The local addresses of a server joining at `server_address`, given its config `before`:
/// `cluster.https_address` is the server address; `core.https_address` too unless it was
/// set to another address, which clients keep using (LXD's rule).
pub fn joined_addresses(
    before: &BTreeMap<String, String>,
    server_address: &str,
) -> BTreeMap<String, String> {
    let mut local = BTreeMap::from([(
        "cluster.https_address".to_owned(),
        server_address.to_owned(),
    )]);
    let core = before
        .get("core.https_address")
        .filter(|a| !a.is_empty())
        .map(|a| corral_shared::config::canonical_address(a).unwrap_or_else(|_| a.clone()));
    if core.is_none_or(|c| c == server_address) {
        local.insert("core.https_address".to_owned(), server_address.to_owned());
    }
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joiner_keeps_an_api_address_of_its_own() {
        let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let both = |a: &str| config(&[("cluster.https_address", a), ("core.https_address", a)]);
        for (before, want) in [
            (config(&[]), both("10.1.0.5:8443")),
            (config(&[("core.https_address", "")]), both("10.1.0.5:8443")),
            (
                config(&[("core.https_address", "10.1.0.5")]),
                both("10.1.0.5:8443"),
            ),
            (
                config(&[("core.https_address", "10.0.0.5:8443")]),
                config(&[("cluster.https_address", "10.1.0.5:8443")]),
            ),
        ] {
            assert_eq!(
                joined_addresses(&before, "10.1.0.5:8443"),
                want,
                "{before:?}"
            );
        }
    }

    #[test]
    fn a_token_names_the_member_and_where_to_go() {
        let token = JoinToken {
            server_name: "node2".into(),
            fingerprint: "fp".into(),
            addresses: vec!["127.0.0.1:8443".into(), "127.0.0.3:8443".into()],
            secret: "s".into(),
            expires_at: String::new(),
        };
        let c = ClusterPreseed {
            enabled: true,
            server_address: "127.0.0.2".into(),
            cluster_token: token.encode(),
            ..Default::default()
        };
        let t = target(&c, &BTreeMap::new()).unwrap();
        assert_eq!(t.name, "node2");
        assert_eq!(t.addresses.len(), 2);
        assert_eq!(t.address, "127.0.0.2:8443");

        let mut other_name = c.clone();
        other_name.server_name = "node9".into();
        assert!(target(&other_name, &BTreeMap::new()).is_err());

        let mut no_address = c;
        no_address.server_address.clear();
        assert!(target(&no_address, &BTreeMap::new()).is_err());
        let config =
            BTreeMap::from([("core.https_address".to_owned(), "127.0.0.5:9000".to_owned())]);
        assert_eq!(
            target(&no_address, &config).unwrap().address,
            "127.0.0.5:9000"
        );
    }
}
