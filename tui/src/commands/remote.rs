//! `corral remote ...`: the list of remote servers, as `lxc remote` manages it.

use std::io::Write;

use clap::Subcommand;

use crate::error::CliError;
use crate::format::{self, Format};
use crate::remote::config::config_dir_from_env;
use crate::remote::trust::{self, AddOptions};
use crate::remote::{Address, Config, identity};

/// The `remote` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RemoteCommand {
    /// Add a remote: an HTTPS member (trusted by token or password) or an SSH host
    Add {
        /// The remote's name, as commands will prefix it (`NAME:`)
        name: String,
        /// [https://]HOST[:PORT] (port 8443 by default), ssh://[USER@]HOST[:PORT][/PATH],
        /// or a trust token from 'corral config trust add'
        #[arg(value_name = "ADDRESS|TOKEN")]
        address: String,
        /// Remote trust token, from 'corral config trust add NAME' on the server
        #[arg(long)]
        token: Option<String>,
        /// Remote admin password (the server's core.trust_password)
        #[arg(long)]
        password: Option<String>,
        /// Accept the server's certificate without asking
        #[arg(long)]
        accept_certificate: bool,
    },
    /// Show the default remote
    GetDefault,
    /// List the available remotes
    #[command(visible_alias = "ls")]
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Rename a remote
    #[command(visible_alias = "mv")]
    Rename {
        /// The remote's name
        name: String,
        /// Its new name
        new_name: String,
    },
    /// Remove a remote
    #[command(visible_alias = "rm")]
    Remove {
        /// The remote's name
        name: String,
    },
    /// Switch the default remote
    #[command(visible_alias = "set-default")]
    Switch {
        /// The remote commands without a prefix will use
        name: String,
    },
    /// Set the URL of a remote
    SetUrl {
        /// The remote's name
        name: String,
        /// Its new address ([https://]HOST[:PORT] or ssh://...)
        url: String,
    },
}

/// Runs a `remote` subcommand on the config directory of this environment.
pub async fn run(command: RemoteCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let dir = config_dir_from_env()?;
    let mut config = Config::load(&dir)?;
    match command {
        RemoteCommand::Add {
            name,
            address,
            token,
            password,
            accept_certificate,
        } => {
            let options = AddOptions {
                token,
                password,
                accept_certificate,
            };
            let mut answers = trust::Stdin;
            trust::add(
                &dir,
                &mut config,
                &name,
                &address,
                &options,
                &mut answers,
                out,
            )
            .await?;
        }
        RemoteCommand::GetDefault => writeln!(out, "{}", config.default_remote)?,
        RemoteCommand::List { format } => {
            out.write_all(remote_list(&config, format)?.as_bytes())?
        }
        RemoteCommand::Rename { name, new_name } => {
            config.rename(&name, &new_name)?;
            identity::rename_server_cert(&dir, &name, &new_name)?;
            config.save(&dir)?;
        }
        RemoteCommand::Remove { name } => {
            config.remove(&name)?;
            identity::remove_server_cert(&dir, &name)?;
            config.save(&dir)?;
        }
        RemoteCommand::Switch { name } => {
            config.switch(&name)?;
            config.save(&dir)?;
        }
        RemoteCommand::SetUrl { name, url } => {
            let address = Address::parse(&url)?;
            config.set_url(&name, &address.url())?;
            if let Some(remote) = config.remotes.get_mut(&name) {
                remote.auth_type = address.auth_type().to_owned();
            }
            config.save(&dir)?;
        }
    }
    Ok(())
}

/// The columns of `remote list`, as lxc 5.0 names them.
const HEADER: [&str; 7] = [
    "NAME",
    "URL",
    "PROTOCOL",
    "AUTH TYPE",
    "PUBLIC",
    "STATIC",
    "GLOBAL",
];

/// `remote list` in `format`: by name, the default one marked `(current)`.
pub fn remote_list(config: &Config, format: Format) -> Result<String, CliError> {
    let yes_no = |b: bool| if b { "YES" } else { "NO" }.to_owned();
    let rows: Vec<Vec<String>> = config
        .remotes
        .iter()
        .map(|(name, remote)| {
            let shown = if *name == config.default_remote {
                format!("{name} (current)")
            } else {
                name.clone()
            };
            vec![
                shown,
                remote.addr.clone(),
                remote.protocol.clone(),
                remote.auth_label().to_owned(),
                yes_no(remote.public),
                yes_no(remote.r#static),
                // Corral has no system-wide remotes.
                yes_no(false),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &config.remotes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Remote;

    #[test]
    fn the_list_has_lxc_s_columns_and_marks_the_current_remote() {
        let mut config = Config::default();
        config
            .add("prod", Remote::new("https://10.0.0.1:8443", "tls"))
            .unwrap();
        config
            .add("lab", Remote::new("ssh://admin@lab", "ssh"))
            .unwrap();
        config.switch("prod").unwrap();
        let csv = remote_list(&config, Format::Csv).unwrap();
        assert_eq!(
            csv,
            "lab,ssh://admin@lab,lxd,ssh,NO,NO,NO\n\
             local,unix://,lxd,file access,NO,YES,NO\n\
             prod (current),https://10.0.0.1:8443,lxd,tls,NO,NO,NO\n"
        );
        let table = remote_list(&config, Format::Table).unwrap();
        let header = table.lines().nth(1).unwrap();
        for column in HEADER {
            assert!(header.contains(column), "{header}");
        }
        let yaml = remote_list(&config, Format::Yaml).unwrap();
        assert!(
            yaml.contains("prod:\n  addr: https://10.0.0.1:8443\n"),
            "{yaml}"
        );
    }
}
