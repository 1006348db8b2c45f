//! `corral cluster update-certificate [REMOTE:] CERT KEY`: replaces the cluster certificate
//! on every member, as `lxc cluster update-certificate` does.

use std::io::Write;
use std::path::Path;

use corral_shared::client::Client;

use crate::error::CliError;

/// Reads the PEM files named and sends them to `PUT /1.0/cluster/certificate`.
pub async fn update(client: &Client, args: &[String], out: &mut dyn Write) -> Result<(), CliError> {
    let [cert, key] = args else {
        return Err(CliError::Usage(
            "corral cluster update-certificate [REMOTE:] CERT KEY takes the certificate file \
             and its key file (both PEM)"
                .into(),
        ));
    };
    let body = serde_json::json!({
        "cluster_certificate": read(cert, "certificate")?,
        "cluster_certificate_key": read(key, "key")?,
    });
    client.put("/1.0/cluster/certificate", &body, None).await?;
    writeln!(
        out,
        "Cluster certificate updated on every member. Remotes that pinned the old \
         certificate must trust the new one: 'corral remote remove NAME' then \
         'corral remote add NAME ADDRESS'"
    )?;
    Ok(())
}

fn read(path: &str, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(Path::new(path)).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the {what} file {path}: {e}; give a readable PEM file"
        ))
    })
}
