//! corrald's command line: the daemon, and the local tools that drive it (`init`,
//! `waitready`, `shutdown`), as `lxd` has them. `corrald` is a thin `main` over
//! [`main_from`], and `corral corrald ...` runs the same, so one `corral` binary can also be
//! the daemon (what `corral demo` does when no `corrald` sits beside it).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;

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

/// Makes every allocation of 1 MiB or more its own mapping, given back when freed. glibc
/// otherwise raises that bound to the largest block freed so far: after one trust-password
/// check (scrypt takes 32 MiB at LXD's cost) a member kept those 32 MiB for good in its heap
/// (idle RSS 49 MB instead of 17 in cluster-bench figure 10).
fn return_large_blocks_at_once() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread
    // other than this one exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Runs corrald with `args` (the first one is the program name, as in `std::env::args_os`).
///
/// Not generic on purpose: a generic entry point is compiled again in each binary that calls
/// it, and with it much of the daemon its async body reaches (a second Raft core), which made
/// corrald's code 2.1 MB larger and an idle member's resident memory 1.6 MB larger.
pub fn main_from(args: Vec<OsString>) -> ExitCode {
    let cli = Cli::parse_from(args);
    if matches!(cli.command, None | Some(Command::Serve)) {
        return_large_blocks_at_once();
    }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
