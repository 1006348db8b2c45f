//! `cluster add`, `cluster list-tokens`, `cluster revoke-token`: join tokens. The daemon
//! keeps each pending token as a `token` operation whose metadata holds the token's parts;
//! the token text itself is built here, as lxc builds it.

use std::io::Write;

use corral_shared::api::{Operation, OperationClass, OperationList, OperationStatus};
use corral_shared::client::{Client, ClientError};
use corral_shared::preseed::JoinToken;
use serde::Deserialize;

use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format, dates};

/// The metadata of a join-token operation, with the daemon's camelCase names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenMetadata {
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    expires_at: String,
}

/// `cluster add NAME`: asks for a token and prints it (only the token with `quiet`).
pub async fn add(
    client: &Client,
    name: &str,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let body = serde_json::json!({ "server_name": name });
    let op = client
        .post("/1.0/cluster/members", &body)
        .await?
        .operation()?;
    let token = join_token(&op).ok_or_else(|| {
        ClientError::Protocol(format!(
            "operation {} is not a join token (class {:?}, metadata {})",
            op.id, op.class, op.metadata
        ))
    })?;
    out.write_all(added(name, &token, quiet).as_bytes())?;
    Ok(())
}

/// What `cluster add` prints.
pub fn added(name: &str, token: &JoinToken, quiet: bool) -> String {
    if quiet {
        format!("{}\n", token.encode())
    } else {
        format!("Member {name} join token:\n{}\n", token.encode())
    }
}

/// The join token an operation stands for: `None` unless it is a token operation whose
/// metadata names a member, a secret, a fingerprint and addresses (other token operations,
/// such as certificate-add tokens, are not join tokens).
pub fn join_token(op: &Operation) -> Option<JoinToken> {
    if op.class != OperationClass::Token {
        return None;
    }
    let m: TokenMetadata = serde_json::from_value(op.metadata.clone()).ok()?;
    let complete = !(m.server_name.is_empty()
        || m.secret.is_empty()
        || m.fingerprint.is_empty()
        || m.addresses.is_empty());
    complete.then_some(JoinToken {
        server_name: m.server_name,
        fingerprint: m.fingerprint,
        addresses: m.addresses,
        secret: m.secret,
        expires_at: m.expires_at,
    })
}

/// The join tokens still pending (running token operations), with their operation ids,
/// in natural member-name order.
pub fn pending(operations: OperationList) -> Vec<(String, JoinToken)> {
    let mut found: Vec<(String, JoinToken)> = operations
        .into_values()
        .flatten()
        .filter(|op| op.status == OperationStatus::Running)
        .filter_map(|op| join_token(&op).map(|t| (op.id, t)))
        .collect();
    found.sort_by(|a, b| natural_cmp(&a.1.server_name, &b.1.server_name));
    found
}

/// `cluster list-tokens` in `format`; `tokens` are already in display order.
pub fn token_list(tokens: &[JoinToken], format: Format) -> Result<String, CliError> {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.server_name.clone(),
                t.encode(),
                dates::token_expiry(&t.expires_at),
            ]
        })
        .collect();
    format::token_list::render(&rows, "ServerName", format)
}

/// `cluster list-tokens`.
pub async fn list(client: &Client, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let operations: OperationList = client.get("/1.0/operations?recursion=1").await?;
    let tokens: Vec<JoinToken> = pending(operations).into_iter().map(|(_, t)| t).collect();
    out.write_all(token_list(&tokens, format)?.as_bytes())?;
    Ok(())
}

/// `cluster revoke-token NAME`: cancels the member's pending token(s).
pub async fn revoke(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let operations: OperationList = client.get("/1.0/operations?recursion=1").await?;
    let ids: Vec<String> = pending(operations)
        .into_iter()
        .filter(|(_, t)| t.server_name == name)
        .map(|(id, _)| id)
        .collect();
    if ids.is_empty() {
        return Err(no_token(name));
    }
    for id in ids {
        client.delete(&format!("/1.0/operations/{id}")).await?;
    }
    writeln!(out, "Cluster join token for local:{name} deleted")?;
    Ok(())
}

/// The error for a member with no pending token.
pub fn no_token(name: &str) -> CliError {
    CliError::Usage(format!(
        "No cluster join token for member {name}; 'corral cluster list-tokens' shows the \
         pending ones"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::reference::lxd_sample_output;

    /// A running token operation carrying `token`, as the daemon lists it.
    fn operation(id: &str, token: &JoinToken) -> Operation {
        serde_json::from_value(serde_json::json!({
            "id": id, "class": "token", "description": "Executing operation",
            "created_at": "2026-11-23T18:25:43.929794136Z",
            "updated_at": "2026-11-23T18:25:43.929794136Z",
            "status": "Running", "status_code": 103, "resources": {"cluster": null},
            "metadata": {
                "serverName": token.server_name, "secret": token.secret,
                "fingerprint": token.fingerprint, "addresses": token.addresses,
                "expiresAt": token.expires_at,
            },
            "may_cancel": true, "err": "", "location": "node1"
        }))
        .unwrap()
    }

    /// The tokens shown in a recorded table, in its order.
    fn tokens_in(table: &str) -> Vec<JoinToken> {
        table
            .lines()
            .filter_map(|l| l.split('|').nth(2))
            .map(str::trim)
            .filter(|t| t.starts_with("eyJ"))
            .map(|t| JoinToken::decode(t).unwrap())
            .collect()
    }

    fn listing(tokens: &[JoinToken]) -> OperationList {
        // Reversed, so the command has to sort.
        let ops = tokens
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| operation(&format!("op-{i}"), t))
            .collect();
        OperationList::from([("running".to_string(), ops)])
    }

    #[test]
    fn add_rebuilds_lxds_token_from_the_operation() {
        let op: Operation =
            serde_json::from_str(&lxd_sample_output("post_cluster_members_token_op.json")).unwrap();
        let token = join_token(&op).unwrap();
        let expected = lxd_sample_output("join_token_raw.txt");
        assert_eq!(added("node2", &token, true), expected);
        assert_eq!(
            added("node2", &token, false),
            format!("Member node2 join token:\n{expected}")
        );
    }

    #[test]
    fn add_prints_as_lxc_does() {
        let text = lxd_sample_output("token_duplicates_behaviour.txt");
        let mut lines = text.lines();
        lines.next();
        let (title, token) = (lines.next().unwrap(), lines.next().unwrap());
        let token = JoinToken::decode(token).unwrap();
        assert_eq!(
            added("node1", &token, false),
            format!("{title}\n{}\n", token.encode())
        );
    }

    #[test]
    fn tables_match_lxc_byte_for_byte() {
        for name in [
            "lxc_cluster_list-tokens.txt",
            "lxc_cluster_list-tokens_with_node9.txt",
            "lxc_cluster_list-tokens_after_revoke.txt",
        ] {
            let expected = lxd_sample_output(name);
            let tokens: Vec<JoinToken> = pending(listing(&tokens_in(&expected)))
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            assert_eq!(
                token_list(&tokens, Format::Table).unwrap(),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn csv_matches_lxc() {
        let text = lxd_sample_output("token_duplicates_behaviour.txt");
        let csv: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("list-tokens --format csv"))
            .skip(1)
            .take_while(|l| !l.starts_with('$'))
            .collect();
        let tokens: Vec<JoinToken> = csv
            .iter()
            .map(|l| JoinToken::decode(l.split(',').nth(1).unwrap()).unwrap())
            .collect();
        let expected = csv.join("\n") + "\n";
        assert_eq!(token_list(&tokens, Format::Csv).unwrap(), expected);
    }

    #[test]
    fn yaml_and_json_use_lxcs_field_names() {
        let op: Operation =
            serde_json::from_str(&lxd_sample_output("post_cluster_members_token_op.json")).unwrap();
        let tokens = vec![join_token(&op).unwrap()];
        assert_eq!(
            token_list(&tokens, Format::Yaml).unwrap(),
            lxd_sample_output("lxc_cluster_list-tokens.yaml")
        );
        let json = token_list(&tokens, Format::Json).unwrap();
        assert!(
            json.starts_with(r#"[{"ServerName":"node2","Token":"eyJ"#),
            "{json}"
        );
        assert!(
            json.ends_with("\"ExpiresAt\":\"2026/11/23 21:25 UTC\"}]\n"),
            "{json}"
        );
        assert_eq!(token_list(&[], Format::Json).unwrap(), "[]\n");
    }

    #[test]
    fn only_running_join_tokens_are_listed() {
        let ops: OperationList = serde_json::from_str(&lxd_sample_output(
            "query_operations_recursion1_after_token_node9.json",
        ))
        .unwrap();
        let found = pending(ops.clone());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "a1049f2e-2e6b-4897-9869-f8381a776540");
        assert_eq!(found[0].1.server_name, "node9");

        let mut op = ops["running"][0].clone();
        let mut others = Vec::new();
        op.status = OperationStatus::Cancelled;
        others.push(op.clone());
        op.status = OperationStatus::Running;
        op.class = OperationClass::Task;
        others.push(op.clone());
        op.class = OperationClass::Token;
        // A certificate-add token: no serverName.
        op.metadata = serde_json::json!({"secret": "s", "fingerprint": "f", "addresses": ["a"]});
        others.push(op);
        assert!(pending(OperationList::from([("x".to_string(), others)])).is_empty());
    }

    #[test]
    fn unknown_members_have_no_token() {
        assert_eq!(
            no_token("node7").to_string(),
            "No cluster join token for member node7; 'corral cluster list-tokens' shows the \
             pending ones"
        );
    }
}
