//! `corral config trust ...`: the trust store, as `lxc config trust` shows and prunes it,
//! and the tokens that let new clients in (in [`trust_tokens`]).

use std::cmp::Ordering;
use std::io::Write;

use clap::Subcommand;
use corral_shared::api::Certificate;
use corral_shared::client::Client;

use super::trust_tokens;
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};
use crate::x509;

/// How many characters of a fingerprint the list shows, and the shortest prefix accepted.
pub const SHORT_FINGERPRINT: usize = 12;

/// The `config trust` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum TrustCommand {
    /// List the trusted certificates
    #[command(visible_alias = "ls")]
    List {
        /// The remote to ask, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove a trusted certificate
    #[command(visible_alias = "rm")]
    Remove {
        /// `[REMOTE:]FINGERPRINT`: its fingerprint, or the first 12 or more characters of it
        fingerprint: String,
    },
    /// Issue a token a new client presents once to be trusted (`corral remote add`)
    Add {
        /// `[REMOTE:]NAME`: the name the client's certificate will be trusted under
        name: String,
        /// Print only the token
        #[arg(short, long)]
        quiet: bool,
    },
    /// List the certificate add tokens not used yet
    ListTokens {
        /// The remote to ask, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a client's certificate add token
    RevokeToken {
        /// `[REMOTE:]NAME`: the client the token was issued for
        name: String,
    },
}

/// Runs a `config trust` subcommand.
pub async fn run(
    client: &Client,
    command: TrustCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let certificates = || client.get::<Vec<Certificate>>("/1.0/certificates?recursion=1");
    match command {
        TrustCommand::List { format, .. } => {
            out.write_all(trust_list(certificates().await?, format)?.as_bytes())?;
        }
        TrustCommand::Remove { fingerprint } => {
            let full = resolve(&certificates().await?, &fingerprint)?;
            client.delete(&format!("/1.0/certificates/{full}")).await?;
        }
        TrustCommand::Add { name, quiet } => trust_tokens::add(client, &name, quiet, out).await?,
        TrustCommand::ListTokens { format, .. } => trust_tokens::list(client, format, out).await?,
        TrustCommand::RevokeToken { name } => trust_tokens::revoke(client, &name, out).await?,
    }
    Ok(())
}

/// The columns lxc 5.0 shows.
const HEADER: [&str; 6] = [
    "TYPE",
    "NAME",
    "COMMON NAME",
    "FINGERPRINT",
    "ISSUE DATE",
    "EXPIRY DATE",
];

/// `config trust list` in `format`. Common name and dates come from the certificate itself;
/// a certificate that cannot be read shows them empty rather than hiding the row.
pub fn trust_list(certificates: Vec<Certificate>, format: Format) -> Result<String, CliError> {
    let mut rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|c| {
            let info = x509::parse_pem(&c.certificate).ok();
            vec![
                c.kind.clone(),
                c.name.clone(),
                info.as_ref()
                    .map(|i| i.common_name.clone())
                    .unwrap_or_default(),
                c.fingerprint.chars().take(SHORT_FINGERPRINT).collect(),
                info.as_ref()
                    .map(|i| i.not_before.certificate_date())
                    .unwrap_or_default(),
                info.as_ref()
                    .map(|i| i.not_after.certificate_date())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| natural_cmp(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    format::listing(format, &HEADER, &rows, &certificates)
}

/// The full fingerprint a user's (possibly shortened) one names.
pub fn resolve(certificates: &[Certificate], given: &str) -> Result<String, CliError> {
    let given = given.trim().to_ascii_lowercase();
    if given.len() < SHORT_FINGERPRINT {
        return Err(CliError::Usage(format!(
            "The fingerprint {given:?} is too short: give at least its first \
             {SHORT_FINGERPRINT} characters, as 'corral config trust list' shows them"
        )));
    }
    let matches: Vec<&Certificate> = certificates
        .iter()
        .filter(|c| c.fingerprint.to_ascii_lowercase().starts_with(&given))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.fingerprint.clone()),
        [] => Err(CliError::Usage(format!(
            "No trusted certificate has a fingerprint starting with {given}; \
             'corral config trust list' shows them"
        ))),
        many => Err(CliError::Usage(format!(
            "The fingerprint {given} matches {} certificates ({}); give more of it",
            many.len(),
            many.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificates() -> Vec<Certificate> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/query_certificates_recursion1.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_table_has_lxcs_columns() {
        let got = trust_list(certificates(), Format::Table).unwrap();
        let expected = "\
+--------+-------+-------------+--------------+------------------------------+------------------------------+
|  TYPE  | NAME  | COMMON NAME | FINGERPRINT  |          ISSUE DATE          |         EXPIRY DATE          |
+--------+-------+-------------+--------------+------------------------------+------------------------------+
| server | node1 | root@vm     | 136ab692cca5 | Nov 23, 2026 at 6:25pm (UTC) | Nov 20, 2036 at 6:25pm (UTC) |
+--------+-------+-------------+--------------+------------------------------+------------------------------+
| server | node2 | root@vm     | c0f58f9f9745 | Nov 23, 2026 at 6:25pm (UTC) | Nov 20, 2036 at 6:25pm (UTC) |
+--------+-------+-------------+--------------+------------------------------+------------------------------+
| server | node3 | root@vm     | 323e5a342c7e | Nov 23, 2026 at 6:25pm (UTC) | Nov 20, 2036 at 6:25pm (UTC) |
+--------+-------+-------------+--------------+------------------------------+------------------------------+
";
        assert_eq!(got, expected);
        let csv = trust_list(certificates(), Format::Csv).unwrap();
        assert!(
            csv.starts_with("server,node1,root@vm,136ab692cca5,\"Nov 23, 2026 at 6:25pm (UTC)\",")
        );
        let json = trust_list(certificates(), Format::Json).unwrap();
        let back: Vec<Certificate> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, certificates());
    }

    #[test]
    fn unreadable_certificates_still_list() {
        let mut certs = certificates();
        certs.truncate(1);
        certs[0].certificate = "garbage".into();
        let got = trust_list(certs, Format::Csv).unwrap();
        assert_eq!(got, "server,node1,,136ab692cca5,,\n");
    }

    #[test]
    fn fingerprints_resolve_from_a_long_enough_prefix() {
        let certs = certificates();
        assert_eq!(
            resolve(&certs, "C0F58F9F9745").unwrap(),
            "c0f58f9f9745f8bef5a2c8d0c32e5b8affac93da9fd581a59b07b3005bb9070e"
        );
        assert!(
            resolve(&certs, "c0f58f")
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
        assert!(
            resolve(&certs, "ffffffffffff")
                .unwrap_err()
                .to_string()
                .starts_with("No trusted certificate")
        );
        let mut twins = certs.clone();
        twins[1].fingerprint = twins[0].fingerprint.clone();
        let err = resolve(&twins, &certs[0].fingerprint[..12]).unwrap_err();
        assert!(
            err.to_string()
                .contains("matches 2 certificates (node1, node3)"),
            "{err}"
        );
    }
}
