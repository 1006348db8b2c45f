//! `corrald shutdown`: ask the daemon to stop and wait until it is gone.

use std::time::Duration;

use anyhow::{Context, bail};

/// Options of `corrald shutdown`.
#[derive(clap::Args)]
pub struct Args {
    /// Give up waiting after this many seconds.
    #[arg(long, short = 't', default_value_t = 60)]
    timeout: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = super::local_client().with_timeout(Duration::from_secs(5));
    client
        .request("PUT", "/internal/shutdown", None, None)
        .await
        .context("cannot ask the daemon to stop")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        // Gone once its socket no longer answers.
        if tokio::net::UnixStream::connect(client.socket())
            .await
            .is_err()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the daemon at {} was asked to stop but still answers after {}s; stop it with SIGTERM",
                client.socket().display(),
                args.timeout
            );
        }
    }
}
