//! What networks and storage pools share as per-member, two-phase created entities: the
//! ETag-guarded config edit, the line `create` prints, and paths aimed at one member.

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

/// `name` escaped so it stays one path segment (or one query value).
pub fn segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base` aimed at member `target` (`?target=` or `&target=`) when one is named.
pub fn aimed(base: &str, target: Option<&str>) -> String {
    match target {
        Some(member) => {
            let joiner = if base.contains('?') { '&' } else { '?' };
            format!("{base}{joiner}target={}", segment(member))
        }
        None => base.to_owned(),
    }
}
