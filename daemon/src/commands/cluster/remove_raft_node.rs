//! `corrald cluster remove-raft-node ADDRESS` (daemon running).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

pub async fn run(address: &str, quiet: bool) -> anyhow::Result<()> {
    if !quiet {
        if !std::io::stdin().is_terminal() {
            bail!("remove-raft-node asks for confirmation; run it on a terminal, or pass --quiet");
        }
        eprint!("Remove the database member at {address} from the Raft configuration? (yes/no): ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "yes" | "y") {
            bail!("aborted; nothing was changed");
        }
    }
    let path = format!("/internal/cluster/raft-node/{address}");
    crate::commands::local_client()
        .delete(&path)
        .await
        .context("the daemon did not remove the Raft member")?;
    Ok(())
}
