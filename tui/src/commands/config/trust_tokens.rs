//! `config trust add`, `list-tokens`, `revoke-token`: certificate add tokens, as lxc 5.0
//! has them. The daemon keeps each waiting token as a `token` operation whose metadata
//! holds the request it answers and the token's parts; the token text is built here.

use std::io::Write;

use corral_shared::api::{CertificateAddToken, Operation, OperationClass, OperationList};
use corral_shared::api::{CertificatesPost, OperationStatus};
use corral_shared::client::{Client, ClientError};
use serde::Deserialize;

use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format, dates};

/// The metadata of a certificate add token operation, with the daemon's names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenMetadata {
    #[serde(default)]
    request: Option<CertificatesPost>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    expires_at: String,
}

/// The certificate add token an operation stands for: `None` unless it is a token
/// operation carrying the request it answers (join tokens carry none), a secret, a
/// fingerprint and addresses.
pub fn certificate_token(op: &Operation) -> Option<CertificateAddToken> {
    if op.class != OperationClass::Token {
        return None;
    }
    let m: TokenMetadata = serde_json::from_value(op.metadata.clone()).ok()?;
    let name = m.request?.name;
    let complete = !(name.is_empty()
        || m.secret.is_empty()
        || m.fingerprint.is_empty()
        || m.addresses.is_empty());
    complete.then_some(CertificateAddToken {
        client_name: name,
        fingerprint: m.fingerprint,
        addresses: m.addresses,
        secret: m.secret,
        expires_at: m.expires_at,
    })
}

/// The certificate add tokens still waiting, with their operation ids, in natural
/// client-name order.
pub fn pending(operations: OperationList) -> Vec<(String, CertificateAddToken)> {
    let mut found: Vec<(String, CertificateAddToken)> = operations
        .into_values()
        .flatten()
        .filter(|op| op.status == OperationStatus::Running)
        .filter_map(|op| certificate_token(&op).map(|t| (op.id, t)))
        .collect();
    found.sort_by(|a, b| natural_cmp(&a.1.client_name, &b.1.client_name));
    found
}

/// What `config trust add` prints.
pub fn added(name: &str, token: &CertificateAddToken, quiet: bool) -> String {
    if quiet {
        format!("{}\n", token.encode())
    } else {
        format!("Client {name} certificate add token:\n{}\n", token.encode())
    }
}

/// `config trust add NAME`: asks for a token for client NAME and prints it.
pub async fn add(
    client: &Client,
    name: &str,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let request = CertificatesPost {
        name: name.to_owned(),
        kind: "client".into(),
        token: true,
        ..CertificatesPost::default()
    };
    let op = client
        .post("/1.0/certificates", &request)
        .await?
        .operation()?;
    let token = certificate_token(&op).ok_or_else(|| {
        ClientError::Protocol(format!(
            "operation {} is not a certificate add token (class {:?}, metadata {})",
            op.id, op.class, op.metadata
        ))
    })?;
    out.write_all(added(name, &token, quiet).as_bytes())?;
    Ok(())
}

/// An expiry as lxc shows it in this list: empty when the token never expires.
fn expiry_cell(expires_at: &str) -> String {
    match dates::token_expiry(expires_at).as_str() {
        "never" => String::new(),
        shown => shown.to_owned(),
    }
}

/// `config trust list-tokens` in `format`; `tokens` are already in display order.
pub fn token_list(tokens: &[CertificateAddToken], format: Format) -> Result<String, CliError> {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.client_name.clone(),
                t.encode(),
                expiry_cell(&t.expires_at),
            ]
        })
        .collect();
    format::token_list::render(&rows, "ClientName", format)
}

/// `config trust list-tokens`.
pub async fn list(client: &Client, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let operations: OperationList = client.get("/1.0/operations?recursion=1").await?;
    let tokens: Vec<CertificateAddToken> =
        pending(operations).into_iter().map(|(_, t)| t).collect();
    out.write_all(token_list(&tokens, format)?.as_bytes())?;
    Ok(())
}

/// `config trust revoke-token NAME`: cancels the client's waiting token(s).
pub async fn revoke(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let operations: OperationList = client.get("/1.0/operations?recursion=1").await?;
    let ids: Vec<String> = pending(operations)
        .into_iter()
        .filter(|(_, t)| t.client_name == name)
        .map(|(id, _)| id)
        .collect();
    if ids.is_empty() {
        return Err(CliError::Usage(format!(
            "No certificate add token for client {name}; 'corral config trust list-tokens' \
             shows the waiting ones"
        )));
    }
    for id in ids {
        client.delete(&format!("/1.0/operations/{id}")).await?;
    }
    writeln!(out, "Certificate add token for {name} deleted")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn token(name: &str, expires_at: &str) -> CertificateAddToken {
        CertificateAddToken {
            client_name: name.into(),
            fingerprint: "ab".repeat(32),
            addresses: vec!["127.0.0.1:8443".into()],
            secret: "cd".repeat(32),
            expires_at: expires_at.into(),
        }
    }

    /// A running token operation as the daemon lists one for `t`.
    fn operation(id: &str, t: &CertificateAddToken) -> Operation {
        let mut metadata = serde_json::json!({
            "request": {"name": t.client_name, "type": "client", "token": true},
            "secret": t.secret,
            "fingerprint": t.fingerprint,
            "addresses": t.addresses,
        });
        if !t.expires_at.is_empty() {
            metadata["expiresAt"] = t.expires_at.clone().into();
        }
        Operation {
            id: id.into(),
            class: OperationClass::Token,
            description: "Executing operation".into(),
            created_at: String::new(),
            updated_at: String::new(),
            status: OperationStatus::Running,
            status_code: 103,
            resources: BTreeMap::new(),
            metadata,
            may_cancel: true,
            err: String::new(),
            location: "m1".into(),
        }
    }

    #[test]
    fn only_running_certificate_tokens_are_listed_in_name_order() {
        let join = Operation {
            metadata: serde_json::json!({
                "serverName": "m4", "secret": "s", "fingerprint": "f",
                "addresses": ["a:1"], "expiresAt": ""
            }),
            ..operation("j", &token("x", ""))
        };
        let done = Operation {
            status: OperationStatus::Cancelled,
            ..operation("c", &token("old", ""))
        };
        let list = OperationList::from([(
            "running".to_owned(),
            vec![
                operation("b", &token("laptop10", "")),
                join,
                done,
                operation("a", &token("laptop2", "")),
            ],
        )]);
        let names: Vec<(String, String)> = pending(list)
            .into_iter()
            .map(|(id, t)| (id, t.client_name))
            .collect();
        assert_eq!(
            names,
            [
                ("a".to_owned(), "laptop2".to_owned()),
                ("b".to_owned(), "laptop10".to_owned())
            ]
        );
    }

    #[test]
    fn add_prints_as_lxc_does() {
        let t = token("laptop", "");
        assert_eq!(
            added("laptop", &t, false),
            format!("Client laptop certificate add token:\n{}\n", t.encode())
        );
        assert_eq!(added("laptop", &t, true), format!("{}\n", t.encode()));
        let op = operation("u", &t);
        assert_eq!(certificate_token(&op), Some(t));
    }

    #[test]
    fn the_list_has_lxcs_columns_and_names() {
        let tokens = [token("laptop", "2026-12-01T11:00:00Z"), token("ci", "")];
        let table = token_list(&tokens, Format::Table).unwrap();
        assert!(table.contains("|  NAME  |"), "{table}");
        assert!(table.contains("EXPIRES AT"), "{table}");
        let csv = token_list(&tokens, Format::Csv).unwrap();
        assert_eq!(
            csv,
            format!(
                "laptop,{},2026/12/01 11:00 UTC\nci,{},\n",
                tokens[0].encode(),
                tokens[1].encode()
            )
        );
        let json: serde_json::Value =
            serde_json::from_str(&token_list(&tokens, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["ClientName"], "laptop");
        assert_eq!(json[1]["ExpiresAt"], "");
        let yaml = token_list(&tokens, Format::Yaml).unwrap();
        assert!(yaml.contains("clientname: laptop"), "{yaml}");
    }
}
