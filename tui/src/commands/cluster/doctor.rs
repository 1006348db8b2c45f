//! `corral cluster doctor`: the local daemon's diagnosis of the cluster, in plain words,
//! with the commands to run next. When the daemon does not answer, `corrald cluster doctor`
//! (which reads a stopped member's files) is the tool; this says so.

use std::io::Write;
use std::time::Duration;

use corral_shared::client::{Client, ClientError};
use corral_shared::doctor::Report;

use crate::error::CliError;

/// The daemon asks every member for about a second each, in parallel; this leaves margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Prints the report.
pub async fn run(client: &Client, out: &mut dyn Write) -> Result<(), CliError> {
    let client = client.clone().with_timeout(ANSWER_WITHIN);
    match client.get::<Report>("/internal/doctor").await {
        Ok(report) => {
            out.write_all(report.render().as_bytes())?;
            Ok(())
        }
        Err(e @ (ClientError::Connect { .. } | ClientError::Timeout { .. })) => {
            Err(CliError::Failed(format!(
                "{e}\nThe local daemon cannot give its report: run 'corrald cluster doctor' on this machine, which examines this member's files and asks the other members directly"
            )))
        }
        Err(e) => Err(e.into()),
    }
}
