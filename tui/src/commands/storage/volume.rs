//! `corral storage volume ...`: custom volumes, each on one member of a pool, as
//! `lxc storage volume` manages them (`--target` picks the member; a name several members
//! hold must be aimed at one).

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use corral_shared::api::{StorageVolume, StorageVolumePost, StorageVolumesPost};
use corral_shared::client::Client;

use super::pool_path;
use crate::commands::args::parse_assignments;
use crate::commands::two_phase::{aimed, segment};
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};

/// The `storage volume` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum VolumeCommand {
    /// Create a custom volume on one member (this one unless --target)
    Create {
        /// The pool
        pool: String,
        /// The volume's name
        volume: String,
        /// Config keys, KEY=VALUE
        #[arg(value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// The member to create it on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// List a pool's custom volumes and the member each lives on
    #[command(visible_alias = "ls")]
    List {
        /// The pool
        pool: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Only the volumes on this member
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Show a custom volume as YAML
    Show {
        /// The pool
        pool: String,
        /// The volume (`custom/` may prefix it)
        volume: String,
        /// The member it lives on (needed when several members have one of that name)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Delete a custom volume
    #[command(visible_alias = "rm")]
    Delete {
        /// The pool
        pool: String,
        /// The volume (`custom/` may prefix it)
        volume: String,
        /// The member it lives on (needed when several members have one of that name)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Rename a custom volume
    #[command(visible_alias = "mv")]
    Rename {
        /// The pool
        pool: String,
        /// The volume (`custom/` may prefix it)
        volume: String,
        /// Its new name
        new_name: String,
        /// The member it lives on (needed when several members have one of that name)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
}

/// `lxc storage volume list`'s columns (clustered).
pub const HEADER: [&str; 6] = [
    "TYPE",
    "NAME",
    "DESCRIPTION",
    "CONTENT-TYPE",
    "USED BY",
    "LOCATION",
];

/// Runs a `storage volume` subcommand and prints the answer.
pub async fn run(
    client: &Client,
    command: VolumeCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        VolumeCommand::Create {
            pool,
            volume,
            config,
            target,
        } => {
            let config = if config.is_empty() {
                BTreeMap::new()
            } else {
                parse_assignments(&config, "corral storage volume create POOL VOLUME")?
            };
            let post = StorageVolumesPost {
                name: custom(&volume).to_owned(),
                kind: "custom".into(),
                config,
                ..StorageVolumesPost::default()
            };
            let at = format!("{}/volumes/custom", pool_path(&pool));
            client.post(&aimed(&at, target.as_deref()), &post).await?;
            writeln!(out, "Storage volume {} created", custom(&volume))?;
        }
        VolumeCommand::List {
            pool,
            format,
            target,
        } => {
            let at = format!("{}/volumes?recursion=1", pool_path(&pool));
            let vols: Vec<StorageVolume> = client.get(&aimed(&at, target.as_deref())).await?;
            out.write_all(list(vols, format)?.as_bytes())?;
        }
        VolumeCommand::Show {
            pool,
            volume,
            target,
        } => {
            let vol: StorageVolume = client
                .get(&aimed(&volume_path(&pool, &volume), target.as_deref()))
                .await?;
            out.write_all(show(&vol)?.as_bytes())?;
        }
        VolumeCommand::Delete {
            pool,
            volume,
            target,
        } => {
            client
                .delete(&aimed(&volume_path(&pool, &volume), target.as_deref()))
                .await?;
            writeln!(out, "Storage volume {} deleted", custom(&volume))?;
        }
        VolumeCommand::Rename {
            pool,
            volume,
            new_name,
            target,
        } => {
            let post = StorageVolumePost {
                name: custom(&new_name).to_owned(),
            };
            client
                .post(
                    &aimed(&volume_path(&pool, &volume), target.as_deref()),
                    &post,
                )
                .await?;
            writeln!(
                out,
                "Renamed storage volume from {:?} to {:?}",
                custom(&volume),
                custom(&new_name)
            )?;
        }
    }
    Ok(())
}

/// `storage volume show`: the volume as YAML. LXD's `created_at` is a time, which yaml.v2
/// writes bare, where a string that reads as a timestamp gets quotes.
pub fn show(vol: &StorageVolume) -> Result<String, CliError> {
    let yaml = format::yaml::document(vol).map_err(|e| CliError::encode("YAML", e))?;
    let quoted = format!("created_at: \"{}\"\n", vol.created_at);
    Ok(yaml.replace(&quoted, &format!("created_at: {}\n", vol.created_at)))
}

/// The volume's name without the `custom/` lxc accepts before it.
fn custom(volume: &str) -> &str {
    volume.strip_prefix("custom/").unwrap_or(volume)
}

/// A custom volume's API path.
pub fn volume_path(pool: &str, volume: &str) -> String {
    format!(
        "{}/volumes/custom/{}",
        pool_path(pool),
        segment(custom(volume))
    )
}

/// `storage volume list` in `format`: by name, then member.
pub fn list(mut vols: Vec<StorageVolume>, format: Format) -> Result<String, CliError> {
    vols.sort_by(|a, b| {
        natural_cmp(&a.name, &b.name).then_with(|| natural_cmp(&a.location, &b.location))
    });
    let rows: Vec<Vec<String>> = vols
        .iter()
        .map(|v| {
            vec![
                v.kind.clone(),
                v.name.clone(),
                v.description.clone(),
                v.content_type.clone(),
                v.used_by.len().to_string(),
                v.location.clone(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &vols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, location: &str) -> StorageVolume {
        StorageVolume {
            name: name.into(),
            kind: "custom".into(),
            location: location.into(),
            content_type: "filesystem".into(),
            project: "default".into(),
            ..StorageVolume::default()
        }
    }

    #[test]
    fn list_is_lxcs_table_with_the_location() {
        let want = "+--------+------+-------------+--------------+---------+----------+
|  TYPE  | NAME | DESCRIPTION | CONTENT-TYPE | USED BY | LOCATION |
+--------+------+-------------+--------------+---------+----------+
| custom | v1   |             | filesystem   | 0       | node2    |
+--------+------+-------------+--------------+---------+----------+
| custom | v1   |             | filesystem   | 0       | node3    |
+--------+------+-------------+--------------+---------+----------+
";
        let got = list(vec![vol("v1", "node3"), vol("v1", "node2")], Format::Table).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn show_is_lxcs_yaml() {
        let v = StorageVolume {
            created_at: "0001-01-01T00:00:00Z".into(),
            ..vol("v1", "node3")
        };
        assert_eq!(
            show(&v).unwrap(),
            "config: {}\ndescription: \"\"\nname: v1\ntype: custom\nused_by: []\nlocation: node3\ncontent_type: filesystem\nproject: default\ncreated_at: 0001-01-01T00:00:00Z\n"
        );
    }

    #[test]
    fn paths_take_lxcs_custom_prefix() {
        assert_eq!(
            volume_path("p1", "custom/v1"),
            "/1.0/storage-pools/p1/volumes/custom/v1"
        );
        assert_eq!(
            aimed(&volume_path("p1", "v1"), Some("node3")),
            "/1.0/storage-pools/p1/volumes/custom/v1?target=node3"
        );
    }
}
