//! corral: the Corral operator console.

mod cli;
mod commands;
mod dashboard;
mod demo;
mod error;
mod format;
mod terminal;
mod x509;

use std::process::ExitCode;

use clap::Parser;
use corral_shared::client::Client;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One request at a time: a single-threaded runtime is all a command needs.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = Client::local();
    let stdout = std::io::stdout();
    let result = runtime.block_on(commands::run(cli.command, &client, &mut stdout.lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // lxc's shape, so scripts and people see the same thing from both tools.
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
