//! `corrald waitready`: wait until the daemon answers and its database is ready.

use std::time::Duration;

use anyhow::bail;

/// Options of `corrald waitready`.
#[derive(clap::Args)]
pub struct Args {
    /// Give up after this many seconds (0: wait the default 60 s).
    #[arg(long, short = 't', default_value_t = 0)]
    timeout: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(if args.timeout == 0 { 60 } else { args.timeout });
    let client = super::local_client().with_timeout(Duration::from_secs(2));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let last = match client.request("GET", "/internal/ready", None, None).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the daemon at {} was not ready within {}s; last answer: {last}",
                client.socket().display(),
                timeout.as_secs()
            );
        }
    }
}
