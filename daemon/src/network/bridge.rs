//! Real Linux bridges, made with `ip` (iproute2) in the member's own network namespace.
//! A member deletes only bridges it made itself: each one it makes is recorded under
//! `<CORRAL_DIR>/networks/<name>`, so an interface the host had before is never removed.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// The capability a member needs to add and remove network interfaces.
const CAP_NET_ADMIN: u32 = 12;

/// What a member is asked to make of a bridge network: its name and the settings it applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeSpec {
    /// The interface name (the network's name).
    pub name: String,
    /// `ipv4.address` as CIDR, unless `none`/unset.
    pub ipv4: Option<String>,
    /// `ipv6.address` as CIDR, unless `none`/unset.
    pub ipv6: Option<String>,
    /// `bridge.mtu`.
    pub mtu: Option<u32>,
    /// `bridge.external_interfaces`: existing interfaces to attach to the bridge.
    pub external: Vec<String>,
}

/// Why a bridge could not be made or removed on this member.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BridgeError {
    /// The daemon may not change network interfaces.
    #[error(
        "creating bridge {name} needs root or CAP_NET_ADMIN, and this corrald runs as uid {uid} without CAP_NET_ADMIN; run corrald as root, or grant it the capability (setcap cap_net_admin+ep on the corrald binary), then retry the create"
    )]
    NotPermitted {
        /// The bridge.
        name: String,
        /// The daemon's effective uid.
        uid: u32,
    },
    /// An interface of that name that Corral did not make is in the way.
    #[error(
        "a network interface named {0} already exists on this member and is not a bridge Corral made; remove it or pick another network name"
    )]
    Taken(String),
    /// `bridge.external_interfaces` names an interface the member lacks.
    #[error(
        "bridge.external_interfaces: interface {0} does not exist on this member; set the member's own value with --target to interfaces it has"
    )]
    NoSuchInterface(String),
    /// `ip` failed.
    #[error("ip {args}: {reason}")]
    Ip {
        /// The arguments given.
        args: String,
        /// What it said.
        reason: String,
    },
}

/// Whether effective capabilities `cap_eff` (the `CapEff` mask) allow changing interfaces.
pub fn may_manage_links(cap_eff: u64) -> bool {
    cap_eff & (1u64 << CAP_NET_ADMIN) != 0
}

/// The `CapEff` mask of `/proc/self/status`'s text.
pub fn effective_capabilities(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Refuses, saying why, when this process may not change network interfaces.
pub fn check_permitted(name: &str) -> Result<(), BridgeError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match effective_capabilities(&status) {
        Some(caps) if may_manage_links(caps) => Ok(()),
        _ => Err(BridgeError::NotPermitted {
            name: name.to_owned(),
            // SAFETY: geteuid(2) has no preconditions and cannot fail.
            uid: unsafe { libc::geteuid() },
        }),
    }
}

/// Where a member records the bridges it made.
fn marker(dir: &Path, name: &str) -> PathBuf {
    dir.join("networks").join(name)
}

/// Runs `ip` with `args` on the host; what it printed, or why it failed.
pub(crate) async fn ip(args: &[&str]) -> Result<String, BridgeError> {
    let failed = |reason: String| BridgeError::Ip {
        args: args.join(" "),
        reason,
    };
    let out = Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run `ip` (iproute2): {e}; install iproute2")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

/// Whether an interface `name` exists, and whether it is a bridge.
async fn link(name: &str) -> Option<bool> {
    let shown = ip(&["-d", "link", "show", "dev", name]).await.ok()?;
    Some(shown.contains("\n    bridge ") || shown.contains(" bridge "))
}

/// Makes (or brings up to date) the bridge on this member: added and up, its addresses
/// exactly the configured ones, its MTU and external interfaces set. Safe to run again.
pub async fn ensure(dir: &Path, spec: &BridgeSpec) -> Result<(), BridgeError> {
    check_permitted(&spec.name)?;
    let name = spec.name.as_str();
    let ours = marker(dir, name).exists();
    match link(name).await {
        Some(true) if ours => {}
        Some(_) => return Err(BridgeError::Taken(name.to_owned())),
        None => {
            for iface in &spec.external {
                if link(iface).await.is_none() {
                    return Err(BridgeError::NoSuchInterface(iface.clone()));
                }
            }
            ip(&["link", "add", "dev", name, "type", "bridge"]).await?;
            let record = marker(dir, name);
            let written = match record.parent() {
                Some(parent) => std::fs::create_dir_all(parent)
                    .and_then(|_| std::fs::write(&record, b"bridge\n")),
                None => Ok(()),
            };
            if let Err(e) = written {
                let _ = ip(&["link", "del", "dev", name]).await;
                return Err(BridgeError::Ip {
                    args: format!("link add dev {name}"),
                    reason: format!("cannot record the bridge in {}: {e}", record.display()),
                });
            }
        }
    }
    if let Some(mtu) = spec.mtu {
        ip(&["link", "set", "dev", name, "mtu", &mtu.to_string()]).await?;
    }
    for iface in &spec.external {
        if link(iface).await.is_none() {
            return Err(BridgeError::NoSuchInterface(iface.clone()));
        }
        ip(&["link", "set", "dev", iface, "master", name]).await?;
        ip(&["link", "set", "dev", iface, "up"]).await?;
    }
    ip(&["addr", "flush", "dev", name]).await?;
    if let Some(v4) = &spec.ipv4 {
        ip(&["-4", "addr", "add", v4, "dev", name]).await?;
    }
    ip(&["link", "set", "dev", name, "up"]).await?;
    if let Some(v6) = &spec.ipv6 {
        ip(&["-6", "addr", "add", v6, "dev", name, "nodad"]).await?;
    }
    Ok(())
}

/// Whether an interface `name` exists on this member.
pub async fn exists(name: &str) -> bool {
    link(name).await.is_some()
}

/// Stops the bridge if this member made it: its interface is removed, the record that it
/// is this member's stays, so [`ensure`] makes it again. Whether there was one to remove.
pub async fn stop(dir: &Path, name: &str) -> Result<bool, BridgeError> {
    if !marker(dir, name).exists() || link(name).await.is_none() {
        return Ok(false);
    }
    check_permitted(name)?;
    ip(&["link", "del", "dev", name]).await?;
    Ok(true)
}

/// Removes the bridge if this member made it; a bridge it did not make is left alone.
pub async fn remove(dir: &Path, name: &str) -> Result<(), BridgeError> {
    let record = marker(dir, name);
    if !record.exists() {
        return Ok(());
    }
    if link(name).await.is_some() {
        check_permitted(name)?;
        ip(&["link", "del", "dev", name]).await?;
    }
    let _ = std::fs::remove_file(record);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_admin_decides_not_the_uid() {
        let status = "Name:\tcorrald\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let all = effective_capabilities(status).unwrap();
        assert!(may_manage_links(all));
        // Root with CAP_NET_ADMIN dropped (setpriv --bounding-set -net_admin) may not.
        assert!(!may_manage_links(all & !(1 << 12)));
        // An ordinary user given only CAP_NET_ADMIN may.
        assert!(may_manage_links(1 << 12));
        assert!(!may_manage_links(0));
        assert_eq!(effective_capabilities("Name:\tx\n"), None);
    }

    #[test]
    fn the_refusal_says_why_and_what_to_do() {
        let e = BridgeError::NotPermitted {
            name: "n1".into(),
            uid: 1000,
        };
        let text = e.to_string();
        assert!(text.contains("needs root or CAP_NET_ADMIN"), "{text}");
        assert!(text.contains("uid 1000"), "{text}");
        assert!(text.contains("setcap cap_net_admin+ep"), "{text}");
    }
}
