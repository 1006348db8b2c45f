//! The scriptable commands: each file takes parsed arguments, asks the daemon, and hands
//! the answer to a pure formatting function.

pub mod args;
pub mod cluster;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod dial_stdio;
pub mod image;
pub mod instance;
pub mod monitor;
pub mod network;
pub mod query;
pub mod remote;
pub mod storage;
pub mod two_phase;
pub mod version;
pub mod warnings;

use std::io::Write;

use corral_shared::client::Client;

use crate::cli::Command;
use crate::error::CliError;

/// Runs one command against the daemon behind `client`, printing to `out`; then warns on
/// stderr of every answer that came from a member's unconfirmed copy.
pub async fn run(command: Command, client: &Client, out: &mut dyn Write) -> Result<(), CliError> {
    // The full-screen views mark such data on screen themselves.
    let warns = !matches!(command, Command::Dashboard { .. } | Command::Demo { .. });
    let result = run_command(command, client, out).await;
    if warns {
        let now = time::OffsetDateTime::now_utc();
        for line in warnings::stale_warnings(&client.take_stale(), now) {
            eprintln!("{line}");
        }
    }
    result
}

async fn run_command(
    command: Command,
    client: &Client,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        Command::Cluster(cmd) => cluster::run(client, cmd, out).await,
        Command::Config(cmd) => config::run(client, cmd, out).await,
        Command::Network(cmd) => network::run(client, cmd, out).await,
        Command::Storage(cmd) => storage::run(client, cmd, out).await,
        Command::Init(args) => instance::create(client, args, false, out).await,
        Command::Launch(args) => instance::create(client, args, true, out).await,
        Command::Start { names } => instance::start(client, &names).await,
        Command::Stop(args) => instance::stop(client, &args, "stop").await,
        Command::Restart(args) => instance::stop(client, &args, "restart").await,
        Command::Delete { names, force } => instance::delete(client, &names, force).await,
        Command::List { format, .. } => instance::list(client, format, out).await,
        Command::Move(args) => instance::moves::run(client, &args).await,
        Command::Rename { name, new_name } => {
            instance::moves::rename(client, &name, &new_name).await
        }
        Command::Info { name } => instance::info(client, &name, out).await,
        Command::Exec(args) => {
            let code = instance::exec::run(client, &args).await?;
            out.flush()?;
            // lxc exec exits with the command's own code.
            std::process::exit(code)
        }
        Command::File(cmd) => instance::file::run(client, cmd, out).await,
        Command::Image(cmd) => image::run(client, cmd, out).await,
        Command::Query(args) => query::run(client, args, out).await,
        Command::Version { .. } => version::run(client, out).await,
        Command::Remote(cmd) => remote::run(cmd, out).await,
        Command::Demo(args) => demo::run(args, out).await,
        Command::Dashboard(args) => dashboard::run(client, args).await,
        Command::Monitor(args) => monitor::run(client, args, out).await,
        Command::DialStdio(args) => dial_stdio::run(args),
    }
}
