//! Join tokens: issued for one member name, replicated so any member honours them, used
//! once (burned through Raft before anything else is checked, so two joiners can never
//! both win), and shown as operations of class `token`, as LXD shows them.

use std::collections::BTreeMap;

use corral_shared::api::{MemberStatus, Operation, OperationClass, OperationStatus};
use corral_shared::preseed::JoinToken;
use rand::RngCore;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::members;
use crate::db::batch::Batch;
use crate::db::global::queries::{self, TokenRow};
use crate::db::global::tokens as db_tokens;
use crate::error::{Error, Result};
use crate::node::Node;

/// The token as an operation (metadata keys in LXD's camelCase).
pub fn as_operation(row: &TokenRow, location: &str) -> Operation {
    Operation {
        id: row.uuid.clone(),
        class: OperationClass::Token,
        description: "Executing operation".into(),
        created_at: row.created_at.clone(),
        updated_at: row.created_at.clone(),
        status: OperationStatus::Running,
        status_code: OperationStatus::Running.code(),
        resources: BTreeMap::from([("cluster".to_owned(), None)]),
        metadata: serde_json::json!({
            "serverName": row.name,
            "secret": row.secret,
            "fingerprint": row.fingerprint,
            "addresses": row.addresses,
            "expiresAt": row.expires_at,
        }),
        may_cancel: true,
        err: String::new(),
        location: location.to_owned(),
    }
}

/// Whether a token expiring at `expires_at` is past it at `now` ("" never expires).
pub fn expired(expires_at: &str, now: OffsetDateTime) -> bool {
    match OffsetDateTime::parse(expires_at, &Rfc3339) {
        Ok(at) => now > at,
        Err(_) => !expires_at.is_empty(),
    }
}

/// Finds the stored token a presented one matches: same name, same secret (compared in
/// constant time), issued for the current cluster certificate.
pub fn matching<'a>(rows: &'a [TokenRow], presented: &JoinToken) -> Option<&'a TokenRow> {
    rows.iter().find(|r| {
        r.name == presented.server_name
            && corral_shared::fingerprint::constant_time_eq(
                r.secret.as_bytes(),
                presented.secret.as_bytes(),
            )
            && r.fingerprint == presented.fingerprint
    })
}

fn location_of(rows: &[queries::MemberRow], node_id: u64) -> String {
    rows.iter()
        .find(|m| m.id == node_id)
        .map_or_else(String::new, |m| m.name.clone())
}

/// Whether a token may be issued for `name`, given the current members' names: a valid
/// name no member has (LXD refuses the same; an earlier token for it is replaced instead).
pub fn check_new_name(name: &str, members: &[&str]) -> Result<()> {
    corral_shared::config::check_member_name(name).map_err(Error::BadRequest)?;
    if members.contains(&name) {
        return Err(Error::Conflict(format!(
            "The cluster already has a member with name: {name}; choose another name for the \
             new member, or remove {name} first ('corral cluster remove {name}') to replace it"
        )));
    }
    Ok(())
}

/// Issues a token for `name`, replacing any earlier one for the same name.
pub async fn issue(node: &Node, name: &str) -> Result<Operation> {
    if !node.is_clustered() {
        return Err(Error::BadRequest(
            "This server is not clustered: bootstrap a cluster before adding members".into(),
        ));
    }
    let listed = members::list(node).await?;
    let names: Vec<&str> = listed.iter().map(|m| m.server_name.as_str()).collect();
    check_new_name(name, &names)?;
    let addresses: Vec<String> = listed
        .iter()
        .filter(|m| m.status == MemberStatus::Online)
        .map(|m| m.url.trim_start_matches("https://").to_owned())
        .collect();
    if addresses.is_empty() {
        return Err(Error::Internal(
            "There are no online cluster members".into(),
        ));
    }
    let config = super::config::current(node).await?;
    let settings = corral_shared::config::ClusterSettings::from_config(&config);
    let now = OffsetDateTime::now_utc();
    let expires_at = settings
        .join_token_expiry
        .map(|d| (now + d).format(&Rfc3339).unwrap_or_default())
        .unwrap_or_default();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let row = TokenRow {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        secret: hex::encode(secret),
        fingerprint: node.cluster_fingerprint().unwrap_or_default(),
        addresses,
        expires_at,
        created_at: now.format(&Rfc3339).unwrap_or_default(),
        node_id: node.id(),
    };
    let mut batch = Batch::new();
    db_tokens::issue(&mut batch, &row);
    node.propose(batch).await?;
    let location = members::own_name(node).await?;
    Ok(as_operation(&row, &location))
}

/// Every token, as operations.
pub async fn list(node: &Node) -> Result<Vec<Operation>> {
    let (rows, members) = node
        .global
        .read(|c| Ok((queries::tokens(c)?, queries::members(c)?)))
        .await?;
    Ok(rows
        .iter()
        .map(|r| as_operation(r, &location_of(&members, r.node_id)))
        .collect())
}

/// Every token, as operations, as of now: a linearizable read, or this member's copy
/// marked stale when no leader can confirm it.
pub async fn list_current(node: &Node) -> Result<crate::node::Read<Vec<Operation>>> {
    let read = node
        .read_current(|c| Ok((queries::tokens(c)?, queries::members(c)?)))
        .await?;
    Ok(read.map(|(rows, members)| {
        rows.iter()
            .map(|r| as_operation(r, &location_of(&members, r.node_id)))
            .collect()
    }))
}

/// Deletes the token shown as operation `uuid`; false if there is none.
pub async fn revoke(node: &Node, uuid: &str) -> Result<bool> {
    let mut batch = Batch::new();
    db_tokens::revoke(&mut batch, uuid);
    let outcome = node.propose(batch).await?;
    Ok(outcome.rows_affected.first().copied().unwrap_or(0) > 0)
}

/// Uses a presented token: burns it (through Raft, so only one user can ever win), then
/// checks its expiry, as LXD does.
pub async fn consume(node: &Node, presented: &JoinToken) -> Result<()> {
    // The token may have been issued through another member a moment ago.
    node.read_barrier().await?;
    let rows = node.global.read(queries::tokens).await?;
    let not_found = || Error::Forbidden("No matching cluster join operation found".into());
    let row = matching(&rows, presented).ok_or_else(not_found)?.clone();
    if node.cluster_fingerprint().as_deref() != Some(row.fingerprint.as_str()) {
        // Issued before `corral cluster update-certificate`: its joiner would pin a
        // certificate no member presents any more.
        return Err(Error::Forbidden(format!(
            "This join token carries the cluster certificate {} which was replaced since; ask \
             for a new token with 'corral cluster add {}'",
            row.fingerprint, row.name
        )));
    }
    if !revoke(node, &row.uuid).await? {
        // Someone else burned it between our read and our write.
        return Err(not_found());
    }
    if expired(&row.expires_at, OffsetDateTime::now_utc()) {
        return Err(Error::Forbidden("Token has expired".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, secret: &str) -> TokenRow {
        TokenRow {
            uuid: format!("uuid-{name}"),
            name: name.into(),
            secret: secret.into(),
            fingerprint: "fp".into(),
            addresses: vec!["127.0.0.1:8443".into()],
            expires_at: String::new(),
            created_at: "2026-11-23T18:25:43Z".into(),
            node_id: 1,
        }
    }

    fn token(name: &str, secret: &str, fingerprint: &str) -> JoinToken {
        JoinToken {
            server_name: name.into(),
            fingerprint: fingerprint.into(),
            addresses: vec!["127.0.0.1:8443".into()],
            secret: secret.into(),
            expires_at: String::new(),
        }
    }

    #[test]
    fn a_token_matches_only_its_name_secret_and_certificate() {
        let rows = vec![row("node2", "aaaa"), row("node3", "bbbb")];
        let cases = [
            ("right", token("node2", "aaaa", "fp"), Some("node2")),
            ("wrong secret", token("node2", "bbbb", "fp"), None),
            ("wrong name", token("node4", "aaaa", "fp"), None),
            ("old certificate", token("node2", "aaaa", "other"), None),
            ("tampered secret length", token("node2", "aaa", "fp"), None),
        ];
        for (what, presented, want) in cases {
            assert_eq!(
                matching(&rows, &presented).map(|r| r.name.as_str()),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn tokens_are_for_valid_names_no_member_has() {
        let members = ["node1", "node2"];
        for (name, want) in [
            ("node3", None),
            (
                "node2",
                Some("The cluster already has a member with name: node2;"),
            ),
            ("bad name", Some("Invalid member name \"bad name\": ")),
            ("none", Some("Invalid member name \"none\"")),
        ] {
            let got = check_new_name(name, &members);
            match want {
                None => assert!(got.is_ok(), "{name}: {got:?}"),
                Some(text) => {
                    let err = got.unwrap_err().to_string();
                    assert!(err.contains(text), "{name}: {err}");
                }
            }
        }
        assert!(matches!(
            check_new_name("node1", &members),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn expiry_is_judged_against_now() {
        let now = OffsetDateTime::parse("2026-11-23T18:00:00Z", &Rfc3339).unwrap();
        for (expires_at, want) in [
            ("2026-11-23T18:00:01Z", false),
            ("2026-11-23T17:59:59Z", true),
            ("", false),
            ("garbage", true),
        ] {
            assert_eq!(expired(expires_at, now), want, "{expires_at}");
        }
    }

    #[test]
    fn tokens_look_like_lxds_token_operations() {
        let op = as_operation(&row("node9", "s"), "node1");
        assert_eq!(op.class, OperationClass::Token);
        assert_eq!(op.status_code, 103);
        assert_eq!(op.metadata["serverName"], "node9");
        assert_eq!(op.location, "node1");
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["resources"], serde_json::json!({"cluster": null}));
    }
}
