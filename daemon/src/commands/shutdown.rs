//! `corrald shutdown`: ask the daemon to stop and wait until it is gone. It says what the
//! daemon tries before stopping (a handover that needs a quorum) and fails when that did
//! not happen, though the daemon stops either way.

use std::time::Duration;

use anyhow::{Context, bail};
use corral_daemon::cluster::handover::{Departure, HANDOVER};

/// Options of `corrald shutdown`.
#[derive(clap::Args)]
pub struct Args {
    /// Give up waiting after this many seconds.
    #[arg(long, short = 't', default_value_t = 60)]
    timeout: u64,
}

/// What to report once the daemon is gone: `Err` with the message when the handover failed.
pub fn verdict(departure: &Departure) -> Result<(), String> {
    if departure.error.is_empty() {
        return Ok(());
    }
    Err(format!(
        "corrald stopped without handing over: {}. What this means: {}",
        departure.error.trim_end_matches('.'),
        departure.holding.meaning()
    ))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = super::local_client().with_timeout(Duration::from_secs(5));
    #[derive(serde::Deserialize)]
    struct Plan {
        plan: Option<String>,
    }
    let plan: Plan = client
        .get("/internal/shutdown")
        .await
        .context("cannot ask the daemon to stop")?;
    if let Some(plan) = plan.plan {
        eprintln!("{plan}...");
    }
    let answer = super::local_client()
        .with_timeout(HANDOVER + Duration::from_secs(10))
        .request("PUT", "/internal/shutdown", None, None)
        .await;
    let departure: Option<Departure> = match answer {
        Ok(answer) => serde_json::from_value(answer.envelope.metadata).ok(),
        Err(e @ corral_shared::client::ClientError::Api { .. }) => {
            return Err(e).context("the daemon refused to stop");
        }
        // The answer may be lost as the daemon goes: wait for it to be gone all the same.
        Err(_) => None,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        // Gone once its socket no longer answers.
        if tokio::net::UnixStream::connect(client.socket())
            .await
            .is_err()
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the daemon at {} was asked to stop but still answers after {}s; stop it with SIGTERM",
                client.socket().display(),
                args.timeout
            );
        }
    }
    match departure.as_ref().map(verdict) {
        Some(Ok(())) => Ok(()),
        Some(Err(message)) => bail!(message),
        None => bail!(
            "corrald stopped, but did not say whether it handed over its database role; see its log"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_daemon::cluster::handover::Holding;

    #[test]
    fn a_stop_without_handover_fails_saying_what_it_means() {
        let done = Departure {
            holding: Holding::Leader,
            error: String::new(),
        };
        assert_eq!(verdict(&done), Ok(()));
        let failed = Departure {
            holding: Holding::Voter,
            error: "the database lost quorum.".into(),
        };
        let message = verdict(&failed).unwrap_err();
        assert!(
            message.starts_with("corrald stopped without handing over: the database lost quorum. What this means: this member still holds a vote"),
            "{message}"
        );
    }
}
