//! Storage pools and custom volumes across the cluster: a pool is defined once for the
//! cluster and created on every member with LXD's two-phase scheme (the rules are
//! `cluster::two_phase`), the `dir` driver makes it real on each member, and custom volumes
//! live on one member each.

pub mod dir;
pub mod pools;
pub mod volumes;

use std::path::{Path, PathBuf};

use crate::db::global::storage_pools;
use crate::error::{Error, Result};
use crate::node::Node;

/// Where pool `pool` lives on the member whose data directory is `data_dir` and whose own
/// `source` for it is `source` (see [`dir::pool_dir`]). Instances keep their root
/// filesystems at `<pool dir>/containers/<name>/rootfs`.
pub fn pool_dir(data_dir: &Path, pool: &str, source: Option<&str>) -> PathBuf {
    dir::pool_dir(data_dir, pool, source)
}

/// Where pool `pool` lives on this member, as the database says now; refused when the pool
/// does not exist or is not created on this member.
pub async fn local_pool_dir(node: &Node, pool: &str) -> Result<PathBuf> {
    let name = pool.to_owned();
    let record = node
        .read_current(move |c| storage_pools::pool(c, &name))
        .await?
        .value
        .ok_or_else(|| Error::NotFound(pools::NOT_FOUND.into()))?;
    let own = node.id();
    let part = record
        .members
        .iter()
        .find(|m| m.id == own)
        .filter(|m| m.state == 1)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "Storage pool {pool:?} is not created on this member yet; finish it with 'corral storage create {pool} {}'",
                record.driver
            ))
        })?;
    Ok(pool_dir(
        node.dirs.root(),
        pool,
        part.config.get("source").map(String::as_str),
    ))
}

/// Checks a pool or volume name: it becomes a directory and a URL path segment.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "Invalid {what} name {name:?}: use letters, digits, '-', '_' and '.', not starting with '-' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_directories_and_path_segments() {
        for (name, ok) in [
            ("p1", true),
            ("my-pool_2.x", true),
            ("", false),
            ("-p", false),
            (".hidden", false),
            ("a/b", false),
            ("a b", false),
            ("a?b", false),
        ] {
            assert_eq!(check_name("storage pool", name).is_ok(), ok, "{name:?}");
        }
    }
}
