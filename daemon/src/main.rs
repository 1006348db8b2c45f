//! corrald: the Corral daemon, and the local tools that drive it (`init`, `waitready`,
//! `shutdown`), as `lxd` has them.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Corral cluster member daemon.
#[derive(Parser)]
#[command(name = "corrald", version, about = "The Corral cluster member daemon", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log more (repeat for debug output).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (the default).
    Serve,
    /// Configure the daemon: the guided questions, or a preseed (YAML) with --preseed.
    Init(commands::init::Args),
    /// Wait until the daemon is ready to serve.
    Waitready(commands::waitready::Args),
    /// Ask the daemon to stop, and wait until it has.
    Shutdown(commands::shutdown::Args),
    /// Recovery tools for the cluster database.
    #[command(subcommand)]
    Cluster(commands::cluster::Command),
    /// Run SQL against the local or the global database.
    Sql(commands::sql::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => commands::serve::run(cli.verbose).await,
            Command::Init(args) => commands::init::run(args).await,
            Command::Waitready(args) => commands::waitready::run(args).await,
            Command::Shutdown(args) => commands::shutdown::run(args).await,
            Command::Cluster(command) => commands::cluster::run(command).await,
            Command::Sql(args) => commands::sql::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
