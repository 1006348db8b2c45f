//! `corrald cluster recover-from-quorum-loss` (daemon stopped).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::bail;
use corral_daemon::recovery::files::{backup, stopped};
use corral_daemon::recovery::raft_config::{self, RaftConfig, RaftRole};

pub fn run(dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let member = stopped(dir)?;
    let before = raft_config::current(&member.dirs)?;
    let own = raft_config::own_id(&member.dirs)?;
    let me = before
        .members
        .iter()
        .find(|m| m.id == own)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("this member (id {own}) is not in its own Raft configuration; it was never clustered"))?;
    if !quiet {
        if !std::io::stdin().is_terminal() {
            bail!(
                "recover-from-quorum-loss asks for confirmation; run it on a terminal, or pass --quiet"
            );
        }
        eprintln!(
            "You should run this command only if you are absolutely certain that this is the only database\n\
             member left in your cluster AND that other database members will never come back. This member\n\
             ({} at {}) will become the only voter; everything it holds is kept.",
            me.name, me.address
        );
        eprint!("Do you want to proceed? (yes/no): ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "yes" | "y") {
            bail!("aborted; nothing was changed");
        }
    }
    let saved = backup(&member.dirs)?;
    let alone = RaftConfig {
        members: vec![raft_config::RaftMember {
            role: RaftRole::Voter,
            ..me
        }],
    };
    let at = raft_config::rewrite(&member.dirs, &alone)?;
    eprintln!(
        "This member is now the only database voter (log index {}, term {}); the old database is saved in {}.\n\
         Start it ('corrald'), then remove the lost members with 'corral cluster remove NAME --force'.",
        at.index,
        at.term,
        saved.display()
    );
    Ok(())
}
