//! `corrald cluster ...`: the recovery tools, most of which work with the daemon stopped,
//! reading and rewriting this member's database files directly.

mod doctor;
mod list_database;
mod raft_config;
mod recover;
mod remove_raft_node;

use clap::Subcommand;

/// `corrald cluster` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// List the database members (works with the daemon stopped).
    #[command(name = "list-database", alias = "ls")]
    ListDatabase,
    /// Make this member the only voter after the others are lost for good (daemon stopped).
    #[command(name = "recover-from-quorum-loss")]
    RecoverFromQuorumLoss {
        /// Do not ask for confirmation.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Show this member's Raft configuration as YAML (daemon stopped).
    Show,
    /// Edit this member's Raft configuration: addresses and roles (daemon stopped).
    Edit,
    /// Remove a member that left uncleanly from the Raft configuration (daemon running).
    #[command(name = "remove-raft-node")]
    RemoveRaftNode {
        /// The address of the member to remove.
        address: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Explain the cluster's health in plain words, and what to do next.
    Doctor,
}

/// Runs a `corrald cluster` subcommand.
pub async fn run(command: Command) -> anyhow::Result<()> {
    let dir = corral_shared::paths::corral_dir();
    match command {
        Command::ListDatabase => list_database::run(&dir),
        Command::RecoverFromQuorumLoss { quiet } => recover::run(&dir, quiet),
        Command::Show => raft_config::show(&dir),
        Command::Edit => raft_config::edit(&dir),
        Command::RemoveRaftNode { address, quiet } => remove_raft_node::run(&address, quiet).await,
        Command::Doctor => doctor::run(&dir).await,
    }
}
