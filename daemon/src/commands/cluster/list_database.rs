//! `corrald cluster list-database` (alias `ls`): the database members as this member last
//! recorded them in its local database. It reads the file directly, without the daemon and
//! without its lock, so it answers whether the daemon runs, is stopped or cannot start.

use anyhow::Context;
use corral_daemon::cluster::doctor::gather;
use corral_daemon::node::DataDir;
use corral_shared::table;

pub fn run(dir: &std::path::Path) -> anyhow::Result<()> {
    let nodes = gather::recorded_raft_nodes(&DataDir::new(dir))
        .context("cannot list the database members")?;
    if nodes.is_empty() {
        anyhow::bail!(
            "{} records no database member: this server was never clustered, or its Raft state was wiped; check CORRAL_DIR",
            dir.display()
        );
    }
    // LXD shows only addresses (of voters); the id and role say which to recover on.
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.name.clone(),
                n.address.clone(),
                n.role.word().to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::boxed(&["ID", "NAME", "ADDRESS", "ROLE"], &rows)
    );
    Ok(())
}
