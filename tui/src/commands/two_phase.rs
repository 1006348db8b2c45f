//! What networks and storage pools share as per-member, two-phase created entities: the
//! ETag-guarded config edit and the line `create` prints.

use std::collections::BTreeMap;

use corral_shared::client::Client;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;

/// An entity as read whose writable part is its config and description.
pub trait Writable: DeserializeOwned {
    /// The body a PUT of it takes.
    type Put: Serialize;
    /// Its writable part, with `change` applied to the config.
    fn into_put(self, change: impl FnOnce(&mut BTreeMap<String, String>)) -> Self::Put;
}

/// Reads the entity at `at` (already aimed at a member when one is named), changes its
/// config, and writes it back guarded by the ETag read, as lxc does.
pub async fn edit<T: Writable>(
    client: &Client,
    at: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>),
) -> Result<(), CliError> {
    let (current, etag): (T, Option<String>) = client.get_with_etag(at).await?;
    let put = current.into_put(change);
    client.put(at, &put, etag.as_deref()).await?;
    Ok(())
}

/// What `create` prints for `noun` `name`: pending on the target member, or created.
pub fn created(noun: &str, name: &str, target: Option<&str>) -> String {
    match target {
        Some(member) => format!("{noun} {name} pending on member {member}\n"),
        None => format!("{noun} {name} created\n"),
    }
}
