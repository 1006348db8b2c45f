//! `corral storage ...`: storage pools defined once for the cluster and created on every
//! member, as `lxc storage` manages them (two-phase creation with `--target`), and their
//! custom volumes (`storage volume`, in [`volume`]).

pub mod volume;

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use corral_shared::api::{StoragePool, StoragePoolPut, StoragePoolsPost};
use corral_shared::client::Client;

use crate::commands::args::parse_assignments;
use crate::commands::two_phase::{self, Writable, aimed, segment};
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};

/// The `storage` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum StorageCommand {
    /// Define a pool on one member (--target), or create it on every member
    Create {
        /// The pool's name
        pool: String,
        /// Its driver (dir)
        driver: String,
        /// Config keys, KEY=VALUE (member-specific ones such as source only with --target)
        #[arg(value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// The member to define the pool on, with its member-specific keys
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
        /// Free text
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the pools
    #[command(visible_alias = "ls")]
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The member whose own view (keys, state) to list
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Show a pool as YAML
    Show {
        /// The pool's name
        pool: String,
        /// The member whose own keys and state to show
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Print one config value (an empty line when unset)
    Get {
        /// The pool's name
        pool: String,
        /// The key
        key: String,
        /// The member whose own key to read
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Set config keys: POOL KEY VALUE, or POOL KEY=VALUE...
    Set {
        /// The pool's name
        pool: String,
        /// `KEY VALUE`, or one or more `KEY=VALUE`
        #[arg(required = true, num_args = 1.., value_name = "KEY[=VALUE]")]
        args: Vec<String>,
        /// The member to set a member-specific key on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Unset a config key
    Unset {
        /// The pool's name
        pool: String,
        /// The key
        key: String,
        /// The member to unset a member-specific key on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Delete a pool (its directory goes from every member)
    #[command(visible_alias = "rm")]
    Delete {
        /// The pool's name
        pool: String,
    },
    /// Manage custom volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
}

/// `lxc storage list`'s columns.
pub const HEADER: [&str; 5] = ["NAME", "DRIVER", "DESCRIPTION", "USED BY", "STATE"];

/// Runs a `storage` subcommand and prints the answer.
pub async fn run(
    client: &Client,
    command: StorageCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        StorageCommand::Create {
            pool,
            driver,
            config,
            target,
            description,
        } => {
            let config = if config.is_empty() {
                BTreeMap::new()
            } else {
                parse_assignments(&config, "corral storage create POOL DRIVER")?
            };
            let post = StoragePoolsPost {
                name: pool.clone(),
                driver,
                description,
                config,
            };
            client
                .post(&aimed("/1.0/storage-pools", target.as_deref()), &post)
                .await?;
            out.write_all(created(&pool, target.as_deref()).as_bytes())?;
        }
        StorageCommand::List { format, target } => {
            let pools: Vec<StoragePool> = client
                .get(&aimed("/1.0/storage-pools?recursion=1", target.as_deref()))
                .await?;
            out.write_all(list(pools, format)?.as_bytes())?;
        }
        StorageCommand::Show { pool, target } => {
            let pool: StoragePool = client
                .get(&aimed(&pool_path(&pool), target.as_deref()))
                .await?;
            let yaml = format::yaml::document(&pool).map_err(|e| CliError::encode("YAML", e))?;
            out.write_all(yaml.as_bytes())?;
        }
        StorageCommand::Get { pool, key, target } => {
            let pool: StoragePool = client
                .get(&aimed(&pool_path(&pool), target.as_deref()))
                .await?;
            writeln!(
                out,
                "{}",
                pool.config.get(&key).cloned().unwrap_or_default()
            )?;
        }
        StorageCommand::Set { pool, args, target } => {
            let changes = parse_assignments(&args, "corral storage set POOL")?;
            edit(client, &pool, target.as_deref(), |config| {
                config.extend(changes);
            })
            .await?;
        }
        StorageCommand::Unset { pool, key, target } => {
            edit(client, &pool, target.as_deref(), |config| {
                config.remove(&key);
            })
            .await?;
        }
        StorageCommand::Delete { pool } => {
            client.delete(&pool_path(&pool)).await?;
            writeln!(out, "Storage pool {pool} deleted")?;
        }
        StorageCommand::Volume(cmd) => volume::run(client, cmd, out).await?,
    }
    Ok(())
}

impl Writable for StoragePool {
    type Put = StoragePoolPut;
    fn into_put(self, change: impl FnOnce(&mut BTreeMap<String, String>)) -> StoragePoolPut {
        let mut put = StoragePoolPut {
            config: self.config,
            description: self.description,
        };
        change(&mut put.config);
        put
    }
}

/// Reads the pool (as `target` sees it), changes its config, and writes it back guarded by
/// the ETag read, as lxc does.
async fn edit(
    client: &Client,
    pool: &str,
    target: Option<&str>,
    change: impl FnOnce(&mut BTreeMap<String, String>),
) -> Result<(), CliError> {
    two_phase::edit::<StoragePool>(client, &aimed(&pool_path(pool), target), change).await
}

/// What `storage create` prints.
pub fn created(pool: &str, target: Option<&str>) -> String {
    two_phase::created("Storage pool", pool, target)
}

/// `storage list` in `format`, pools in natural name order.
pub fn list(mut pools: Vec<StoragePool>, format: Format) -> Result<String, CliError> {
    pools.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.driver.clone(),
                p.description.clone(),
                p.used_by.len().to_string(),
                p.status.to_uppercase(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &pools)
}

/// A pool's API path.
pub fn pool_path(pool: &str) -> String {
    format!("/1.0/storage-pools/{}", segment(pool))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, status: &str, used_by: usize) -> StoragePool {
        StoragePool {
            name: name.into(),
            driver: "dir".into(),
            status: status.into(),
            used_by: (0..used_by)
                .map(|i| format!("/1.0/profiles/p{i}"))
                .collect(),
            ..StoragePool::default()
        }
    }

    #[test]
    fn list_is_lxcs_table() {
        let want = "+---------+--------+-------------+---------+---------+
|  NAME   | DRIVER | DESCRIPTION | USED BY |  STATE  |
+---------+--------+-------------+---------+---------+
| default | dir    |             | 1       | CREATED |
+---------+--------+-------------+---------+---------+
| p1      | dir    |             | 0       | PENDING |
+---------+--------+-------------+---------+---------+
";
        let got = list(
            vec![pool("p1", "Pending", 0), pool("default", "Created", 1)],
            Format::Table,
        )
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(
            list(vec![pool("p1", "Errored", 0)], Format::Csv).unwrap(),
            "p1,dir,,0,ERRORED\n"
        );
    }

    #[test]
    fn create_says_what_lxc_says() {
        assert_eq!(
            created("p1", Some("node1")),
            "Storage pool p1 pending on member node1\n"
        );
        assert_eq!(created("p1", None), "Storage pool p1 created\n");
    }

    #[test]
    fn paths_escape_and_aim() {
        assert_eq!(
            aimed(&pool_path("p1"), Some("node2")),
            "/1.0/storage-pools/p1?target=node2"
        );
        assert_eq!(
            aimed("/1.0/storage-pools?recursion=1", Some("n 2")),
            "/1.0/storage-pools?recursion=1&target=n%202"
        );
        assert_eq!(aimed("/1.0/storage-pools", None), "/1.0/storage-pools");
    }
}
