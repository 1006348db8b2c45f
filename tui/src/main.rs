//! corral: the Corral operator console.

mod cli;
mod commands;
mod dashboard;
mod demo;
mod error;
mod format;
mod remote;
mod terminal;
mod x509;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use cli::Command;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(args) = cli::daemon_args(args.clone()) {
        return run_as_daemon(args);
    }
    let cli = cli::Cli::parse_from(args);
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
    let stdout = std::io::stdout();
    let result = runtime.block_on(async {
        let (remote, client, mut command) = remote::target(cli.command)?;
        if let Command::Dashboard(args) = &mut command {
            // The dashboard names the remote it watches, whichever way it was chosen.
            args.remote = Some(remote.clone());
        }
        let result = commands::run(command, &client, &mut stdout.lock()).await;
        result.map_err(|e| remote::explain(&remote, e))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // lxc's shape, so scripts and people see the same thing from both tools.
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs this binary as corrald (the same code as the `corrald` binary), named `corrald` in
/// `ps` and `pgrep` so that operators and scripts find the daemon under its usual name.
fn run_as_daemon(args: Vec<std::ffi::OsString>) -> ExitCode {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from a static.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"corrald".as_ptr());
    }
    corral_daemon::cli::main_from(args)
}
