//! `corral version`: this client's version and the daemon's.

use std::io::Write;
use std::time::Duration;

use corral_shared::client::Client;

use crate::error::CliError;

/// This program's version.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long to wait for the daemon; a version check should not hang.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Prints both versions; an unreachable daemon is reported in the output, not as a failure.
pub async fn run(client: &Client, out: &mut dyn Write) -> Result<(), CliError> {
    let client = client.clone().with_timeout(VERSION_TIMEOUT);
    let server = client.get::<serde_json::Value>("/1.0").await.ok();
    out.write_all(text(CLIENT_VERSION, server.as_ref()).as_bytes())?;
    Ok(())
}

/// The two lines, from `GET /1.0`'s metadata when there is one.
pub fn text(client: &str, server: Option<&serde_json::Value>) -> String {
    let server = server
        .and_then(|s| s.pointer("/environment/server_version"))
        .and_then(|v| v.as_str())
        .unwrap_or("unreachable");
    format!("Client version: {client}\nServer version: {server}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_or_unreachable() {
        let server = serde_json::json!({"environment": {"server_version": "0.1.0"}});
        assert_eq!(
            text("0.1.0", Some(&server)),
            "Client version: 0.1.0\nServer version: 0.1.0\n"
        );
        assert_eq!(
            text("0.1.0", None),
            "Client version: 0.1.0\nServer version: unreachable\n"
        );
    }
}
