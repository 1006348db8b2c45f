//! `corrald cluster show` and `corrald cluster edit` (daemon stopped).

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use corral_daemon::recovery::files::{backup, stopped};
use corral_daemon::recovery::raft_config::{self, RaftConfig};

pub fn show(dir: &Path) -> anyhow::Result<()> {
    let member = stopped(dir)?;
    let config = raft_config::current(&member.dirs)?;
    print!(
        "{}",
        raft_config::render(&config, raft_config::position(&member.dirs)?)
    );
    Ok(())
}

fn parse(text: &str, before: &RaftConfig) -> anyhow::Result<RaftConfig> {
    if text.trim().is_empty() {
        bail!("Removing cluster members is not supported (the configuration given is empty)");
    }
    let after: RaftConfig = serde_yaml::from_str(text).context("Config parsing error")?;
    raft_config::check(before, &after)?;
    Ok(after)
}

/// Opens `$EDITOR` on `text` and returns what was saved.
fn edit_in_editor(text: &str) -> anyhow::Result<String> {
    let editor = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".into());
    let file = tempfile::Builder::new().suffix(".yaml").tempfile()?;
    std::fs::write(file.path(), text)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .with_context(|| format!("cannot run the editor {editor:?}; set EDITOR"))?;
    if !status.success() {
        bail!("the editor {editor:?} failed ({status}); nothing was changed");
    }
    Ok(std::fs::read_to_string(file.path())?)
}

pub fn edit(dir: &Path) -> anyhow::Result<()> {
    let member = stopped(dir)?;
    let before = raft_config::current(&member.dirs)?;
    let header = raft_config::render(&before, raft_config::position(&member.dirs)?);
    let after = if std::io::stdin().is_terminal() {
        let mut text = header;
        loop {
            let edited = edit_in_editor(&text)?;
            match parse(&edited, &before) {
                Ok(after) => break after,
                Err(e) => {
                    eprintln!("Config validation error: {e:#}");
                    eprint!("Press enter to open the editor again or ctrl+c to abort change");
                    std::io::stderr().flush()?;
                    let mut line = String::new();
                    if std::io::stdin().read_line(&mut line)? == 0 {
                        bail!("aborted; nothing was changed");
                    }
                    text = format!("# Error: {e:#}\n{edited}");
                }
            }
        }
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        parse(&text, &before)
            .map_err(|e| anyhow::anyhow!("Config validation error: {e:#}; nothing was changed"))?
    };
    if after == before {
        return Ok(());
    }
    let saved = backup(&member.dirs)?;
    let own = raft_config::own_id(&member.dirs)?;
    let at = raft_config::rewrite(&member.dirs, &after)?;
    if let Some(me) = after.members.iter().find(|m| m.id == own) {
        raft_config::set_own_address(&member.dirs, &me.address)?;
    }
    eprintln!(
        "Raft configuration rewritten at log index {} (term {}); the old database is saved in {}.\n\
         Apply the same edit on every other member before starting any of them.",
        at.index,
        at.term,
        saved.display()
    );
    Ok(())
}
