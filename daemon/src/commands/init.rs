//! `corrald init --preseed`: configure the daemon (and bootstrap a cluster) from YAML.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};

/// Options of `corrald init`.
#[derive(clap::Args)]
pub struct Args {
    /// Read a preseed from FILE, or from standard input with `-` or no FILE.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-", required = true)]
    preseed: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (origin, text) = if args.preseed == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the preseed from standard input")?;
        ("standard input".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(&args.preseed)
            .with_context(|| format!("cannot read the preseed {}", args.preseed))?;
        (args.preseed.clone(), text)
    };
    let preseed = match corral_wizard::parse_preseed(&text) {
        Ok(p) => p,
        Err(e) => bail!("invalid preseed ({origin}): {e}"),
    };
    let client = super::local_client();
    let resp = client
        .post("/internal/init", &preseed)
        .await
        .context("the daemon refused the preseed")?;
    let url = resp.envelope.operation.clone();
    if url.is_empty() {
        return Ok(());
    }
    client
        .wait_operation(&url, Duration::from_secs(60))
        .await
        .context("applying the preseed failed")?;
    Ok(())
}
