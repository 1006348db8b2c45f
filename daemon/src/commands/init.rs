//! `corrald init`: configure the daemon (and bootstrap or join a cluster), as `lxd init`
//! does: by guided questions (the default), from a preseed (`--preseed`), with defaults
//! (`--auto`), or print the current configuration as a preseed (`--dump`).

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use corral_shared::client::{Client, ClientError};
use corral_shared::preseed::{Preseed, StoragePoolPreseed};
use corral_wizard::{
    Environment, Flow, InquirePrompter, ListenCheck, NOTHING_CHANGED, Outcome, TlsRemote,
};

/// How long applying a preseed may take (a join waits for the database to arrive).
const APPLY: Duration = Duration::from_secs(120);

/// Options of `corrald init`. Without any, the questions are asked on the terminal.
#[derive(clap::Args)]
pub struct Args {
    /// Read a preseed from FILE, or from standard input with `-` or no FILE.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-",
          conflicts_with_all = ["dump", "auto"])]
    preseed: Option<String>,
    /// Print the current configuration as a preseed and change nothing.
    #[arg(long, conflicts_with = "auto")]
    dump: bool,
    /// Configure a standalone server with defaults: a `dir` storage pool named "default".
    #[arg(long)]
    auto: bool,
    /// With --auto: the address to serve the API on (core.https_address), host[:port].
    #[arg(long, value_name = "ADDRESS", requires = "auto")]
    network_address: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = super::local_client();
    if args.dump {
        return dump(&client).await;
    }
    if args.auto {
        return apply(&client, &auto(args.network_address.as_deref())?).await;
    }
    if let Some(source) = &args.preseed {
        let preseed = read_preseed(source)?;
        return apply(&client, &preseed).await;
    }
    interactive(&client).await
}

fn read_preseed(source: &str) -> anyhow::Result<Preseed> {
    let (origin, text) = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the preseed from standard input")?;
        ("standard input".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read the preseed {source}"))?;
        (source.to_owned(), text)
    };
    let mut preseed = corral_wizard::parse_preseed(&text)
        .map_err(|e| anyhow!("invalid preseed ({origin}): {e}"))?;
    inline_certificate(&mut preseed)?;
    Ok(preseed)
}

/// As `lxd init` does, the command (not the daemon) reads `cluster_certificate_path`, so a
/// relative path is taken from where the command runs and the daemon needs no access to it.
fn inline_certificate(preseed: &mut Preseed) -> anyhow::Result<()> {
    let Some(c) = preseed.cluster.as_mut() else {
        return Ok(());
    };
    if c.cluster_certificate_path.is_empty() || !c.cluster_certificate.is_empty() {
        return Ok(());
    }
    let path = std::mem::take(&mut c.cluster_certificate_path);
    c.cluster_certificate = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cluster.cluster_certificate_path {path:?}: cannot read it; copy cluster.crt from a member there \
             (it is in the member's CORRAL_DIR), or give its PEM text as cluster_certificate. Nothing was changed."
        )
    })?;
    Ok(())
}

/// `--auto`: a standalone server with a `dir` pool, reachable at `address` if given.
fn auto(address: Option<&str>) -> anyhow::Result<Preseed> {
    let mut preseed = Preseed {
        storage_pools: vec![StoragePoolPreseed {
            name: "default".into(),
            driver: "dir".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    if let Some(address) = address {
        let address = corral_shared::config::canonical_address(address)
            .map_err(|e| anyhow!("--network-address {address:?}: {e}"))?;
        preseed.config.insert("core.https_address".into(), address);
    }
    if let Err(violations) = preseed.validate() {
        let lines: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        bail!("{}", lines.join("; "));
    }
    Ok(preseed)
}

async fn dump(client: &Client) -> anyhow::Result<()> {
    let preseed: Preseed = client
        .get("/internal/preseed")
        .await
        .context("cannot read the current configuration")?;
    print!("{}", corral_wizard::to_yaml(&preseed));
    Ok(())
}

/// The guided questions, then the same path as `--preseed`.
async fn interactive(client: &Client) -> anyhow::Result<()> {
    // Asking questions of a person whose answers cannot be applied helps no one.
    client
        .is_ready()
        .await
        .context("the Corral daemon must be running before 'corrald init'")?;
    let mut env = Environment::detect();
    env.clustered_as = clustered_as(client).await?;
    env.can_listen = ListenCheck::system(served(client).await?);
    let outcome = tokio::task::spawn_blocking(move || {
        let remote = TlsRemote::default();
        Flow::new(env, &remote).run(&mut InquirePrompter)
    })
    .await
    .context("the questions stopped unexpectedly")?;
    match outcome {
        Outcome::Stopped(reason) => Err(anyhow!(reason)),
        Outcome::Apply { preseed, print } => {
            if print {
                print!("{}", corral_wizard::to_yaml(&preseed));
            }
            apply(client, &preseed).await
        }
    }
}

/// This member's name if the server is already clustered (the wizard then asks nothing).
async fn clustered_as(client: &Client) -> anyhow::Result<Option<String>> {
    let cluster: serde_json::Value = client
        .get("/1.0/cluster")
        .await
        .context("cannot ask the daemon whether it is clustered")?;
    let enabled = cluster["enabled"].as_bool().unwrap_or(false);
    let name = cluster["server_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(enabled.then_some(name))
}

/// The addresses the daemon already listens on (canonical), which the wizard may offer again.
async fn served(client: &Client) -> anyhow::Result<Vec<String>> {
    let server: serde_json::Value = client
        .get("/1.0")
        .await
        .context("cannot read the daemon's configuration")?;
    Ok(["core.https_address", "cluster.https_address"]
        .iter()
        .filter_map(|k| server["config"][k].as_str())
        .filter_map(|a| corral_shared::config::canonical_address(a).ok())
        .collect())
}

/// Sends a checked preseed to the daemon and waits until it is applied.
async fn apply(client: &Client, preseed: &Preseed) -> anyhow::Result<()> {
    let resp = client
        .post("/internal/init", preseed)
        .await
        .map_err(|e| refused("the daemon refused the preseed", e))?;
    let url = resp.envelope.operation.clone();
    if url.is_empty() {
        return Ok(());
    }
    client
        .wait_operation(&url, APPLY)
        .await
        .map_err(|e| refused("applying the preseed failed", e))?;
    Ok(())
}

/// The daemon applies a preseed whole or not at all: say so when it refused one.
fn refused(what: &str, e: ClientError) -> anyhow::Error {
    let unchanged = matches!(e, ClientError::Api { .. } | ClientError::Operation { .. });
    let message = e.to_string();
    if unchanged && !message.contains(NOTHING_CHANGED) {
        anyhow!(
            "{what}: {}. {NOTHING_CHANGED}",
            message.trim_end_matches('.')
        )
    } else {
        anyhow!("{what}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_makes_a_dir_pool_and_optionally_listens() {
        let p = auto(None).unwrap();
        assert_eq!(p.storage_pools.len(), 1);
        assert_eq!(p.storage_pools[0].driver, "dir");
        assert!(p.config.is_empty() && p.cluster.is_none());
        let p = auto(Some("127.0.0.9")).unwrap();
        assert_eq!(p.config["core.https_address"], "127.0.0.9:8443");
        assert!(auto(Some("127.0.0.9:0x")).is_err());
    }

    #[test]
    fn the_certificate_path_is_read_by_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.crt");
        std::fs::write(&path, "PEM").unwrap();
        let join = |path: &str| Preseed {
            cluster: Some(corral_shared::preseed::ClusterPreseed {
                enabled: true,
                cluster_certificate_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut p = join(path.to_str().unwrap());
        inline_certificate(&mut p).unwrap();
        let c = p.cluster.unwrap();
        assert_eq!(
            (
                c.cluster_certificate.as_str(),
                c.cluster_certificate_path.as_str()
            ),
            ("PEM", "")
        );
        let missing = dir.path().join("nowhere.crt");
        let err = inline_certificate(&mut join(missing.to_str().unwrap())).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("cluster.cluster_certificate_path"), "{err}");
        assert!(err.contains("nowhere.crt"), "{err}");
        assert!(err.contains("copy cluster.crt"), "{err}");
    }
}
