//! `corral dashboard`: the full-screen live view of the cluster (see `crate::dashboard`).

use corral_shared::client::Client;

use crate::error::CliError;

/// Opens the dashboard on the local daemon until the user quits.
pub async fn run(client: &Client) -> Result<(), CliError> {
    crate::dashboard::run(client.clone()).await
}
