//! An instance's NICs: each `nic` device with `network=NAME` whose network has a bridge on
//! this member is a veth pair, one end in the bridge, the other inside the container under
//! the device's `name`, with its MAC (`volatile.DEVICE.hwaddr`, made once, as LXD does), an
//! IPv4 address leased by this member from the network's subnet and a default route through
//! the bridge. Which devices are connected and how is [`plan`]; the rest is I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Stdio;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::db::batch::Batch;
use crate::db::global::{entities, instances as db, networks};
use crate::error::{Error, Result};
use crate::network::PROJECT;
use crate::network::lease::{self, Subnet};
use crate::node::Node;

/// The devices of one kind: name to its keys (`type` included).
pub type Devices = BTreeMap<String, BTreeMap<String, String>>;

/// One NIC to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The device's name (`eth0`).
    pub device: String,
    /// The interface's name inside the container (the device's `name`, else its own).
    pub inner: String,
    /// The bridge it joins (the network's name).
    pub bridge: String,
    /// Its MAC address, once it has one.
    pub hwaddr: Option<String>,
    /// The network's subnet, when it has IPv4.
    pub subnet: Option<Subnet>,
}

impl Nic {
    /// The configuration key of its MAC address.
    pub fn hwaddr_key(&self) -> String {
        hwaddr_key(&self.device)
    }
}

/// The configuration key of device `device`'s MAC address.
pub fn hwaddr_key(device: &str) -> String {
    format!("volatile.{device}.hwaddr")
}

/// A NIC made ready: its MAC, its address, and the host's end of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// What it connects.
    pub nic: Nic,
    /// Its MAC address.
    pub hwaddr: String,
    /// Its IPv4 address and the subnet's prefix and gateway.
    pub ipv4: Option<(Ipv4Addr, Subnet)>,
    /// The veth on the host.
    pub host_name: String,
}

/// The NICs of an instance with `devices` (its profile's) and `config` to connect on a
/// member whose bridges are `bridges` (network name to its IPv4 subnet), and each NIC
/// that cannot be, with why.
pub fn plan(
    devices: &Devices,
    config: &BTreeMap<String, String>,
    bridges: &BTreeMap<String, Option<Subnet>>,
) -> (Vec<Nic>, Vec<(String, String)>) {
    let mut nics = Vec::new();
    let mut unconnected = Vec::new();
    for (device, keys) in devices {
        if keys.get("type").map(String::as_str) != Some("nic") {
            continue;
        }
        let Some(network) = keys.get("network").filter(|n| !n.is_empty()) else {
            unconnected.push((
                device.clone(),
                "only NICs naming a managed network (network=NAME) are connected".to_owned(),
            ));
            continue;
        };
        let Some(subnet) = bridges.get(network) else {
            unconnected.push((
                device.clone(),
                format!(
                    "network {network} has no bridge on this member (networks made with 'corral network create' have one)"
                ),
            ));
            continue;
        };
        nics.push(Nic {
            device: device.clone(),
            inner: keys
                .get("name")
                .filter(|n| !n.is_empty())
                .unwrap_or(device)
                .clone(),
            bridge: network.clone(),
            hwaddr: config.get(&hwaddr_key(device)).cloned(),
            subnet: *subnet,
        });
    }
    (nics, unconnected)
}

/// A MAC address in LXD's range (00:16:3e), from three random bytes.
pub fn hwaddr_from(bytes: [u8; 3]) -> String {
    format!(
        "00:16:3e:{:02x}:{:02x}:{:02x}",
        bytes[0], bytes[1], bytes[2]
    )
}

/// The host's end of device `device` of instance `instance` on the member whose data
/// directory is `dir`: "veth" and 10 hex digits, unique per member, instance and device
/// (members of one host share its interface names), within Linux's 15 characters.
pub fn host_name(dir: &Path, instance: &str, device: &str) -> String {
    let digest = Sha256::digest(format!("{}\0{instance}\0{device}", dir.display()).as_bytes());
    format!("veth{}", &hex::encode(digest)[..10])
}

/// Serialises the leasing of this process's members: see [`prepare`].
static LEASING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What starting instance `name` here needs read from the database: its NICs, MACs given
/// to those that had none (recorded before it starts), and addresses leased.
pub async fn prepare(node: &Node, name: &str) -> Result<Vec<Link>> {
    let me = node.id();
    let owned = name.to_owned();
    let read = node
        .read_current(move |c| {
            let devices = entities::profile_devices(c, "default")?;
            if !devices
                .values()
                .any(|d| d.get("type").map(String::as_str) == Some("nic"))
            {
                return Ok(None);
            }
            let config = db::instance(c, &owned)?
                .map(|r| r.config)
                .unwrap_or_default();
            let mut bridges = BTreeMap::new();
            for network in networks::realised_on(c, PROJECT, me)? {
                let subnet = networks::get(c, PROJECT, &network)?
                    .and_then(|r| r.config.get("ipv4.address").and_then(|v| Subnet::parse(v)));
                bridges.insert(network, subnet);
            }
            Ok(Some((devices, config, bridges)))
        })
        .await?;
    let Some((devices, config, bridges)) = read.value else {
        return Ok(Vec::new());
    };
    let (nics, unconnected) = plan(&devices, &config, &bridges);
    for (device, why) in unconnected {
        tracing::info!("instance {name}: {device} is not connected: {why}");
    }
    if nics.is_empty() {
        return Ok(Vec::new());
    }
    // The MACs are recorded first: a lease is kept only for a MAC the database gives one
    // of this member's instances, so a MAC must be there before its address is leased.
    let mut batch = Batch::new();
    let mut hwaddrs = Vec::with_capacity(nics.len());
    for nic in &nics {
        hwaddrs.push(match &nic.hwaddr {
            Some(h) => h.clone(),
            None => {
                let made = hwaddr_from(rand::random());
                db::set_config(&mut batch, name, &nic.hwaddr_key(), &made);
                made
            }
        });
    }
    if !batch.is_empty() {
        node.propose(batch).await?;
    }
    // Which MACs this member's instances have is read under the lock: any start that
    // leased before recorded its MAC first, so no lease in use is taken for a stale one.
    let _leasing = LEASING.lock().await;
    let present = node
        .read_current(move |c| db::member_hwaddrs(c, me))
        .await?
        .value;
    let mut links = Vec::with_capacity(nics.len());
    for (nic, hwaddr) in nics.into_iter().zip(hwaddrs) {
        let ipv4 = match nic.subnet {
            Some(subnet) => Some((
                lease_for(node, &nic.bridge, subnet, &present, &hwaddr)?,
                subnet,
            )),
            None => None,
        };
        links.push(Link {
            host_name: host_name(node.dirs.root(), name, &nic.device),
            nic,
            hwaddr,
            ipv4,
        });
    }
    Ok(links)
}

/// The address this member leases to `hwaddr` on `network`, recorded before it is used;
/// the caller holds [`LEASING`].
fn lease_for(
    node: &Node,
    network: &str,
    subnet: Subnet,
    present: &BTreeSet<String>,
    hwaddr: &str,
) -> Result<Ipv4Addr> {
    let file = lease::path(node.dirs.root(), network);
    let known = lease::parse(&std::fs::read_to_string(&file).unwrap_or_default());
    let (address, leases) = lease::allocate(network, subnet, &known, present, hwaddr)
        .map_err(|e| Error::Conflict(e.to_string()))?;
    if leases != known {
        lease::save(&file, &leases).map_err(|e| {
            Error::Internal(format!(
                "cannot record the lease in {}: {e}",
                file.display()
            ))
        })?;
    }
    Ok(address)
}

/// Runs `ip` with `args` on the host.
async fn ip(args: &[&str]) -> Result<()> {
    crate::network::bridge::ip(args)
        .await
        .map(drop)
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Runs `ip -batch -` with `commands` inside the network namespace of process `pid`.
async fn ip_inside(pid: i64, commands: &str) -> Result<()> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| {
        Error::Internal(format!(
            "cannot open the network namespace of process {pid}: {e}"
        ))
    })?;
    let fd = ns.as_raw_fd();
    let mut cmd = Command::new("ip");
    cmd.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setns(2) is async-signal-safe and only changes the child's own namespace;
    // `ns` outlives the spawn, so the descriptor is open in the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::Internal(format!("cannot run `ip` (iproute2): {e}; install iproute2"))
    })?;
    drop(ns);
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(|e| Error::Internal(format!("ip -batch: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| Error::Internal(format!("ip -batch: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Internal(format!(
        "configuring the instance's network inside it: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// What `ip -batch` runs inside the container for `link`.
pub fn inside_commands(link: &Link) -> String {
    let inner = &link.nic.inner;
    let mut out = format!(
        "link set dev lo up\nlink set dev {inner} address {}\nlink set dev {inner} up\n",
        link.hwaddr
    );
    if let Some((address, subnet)) = link.ipv4 {
        out.push_str(&format!(
            "addr add {address}/{} dev {inner}\nroute add default via {} dev {inner}\n",
            subnet.prefix, subnet.gateway
        ));
    }
    out
}

/// Connects `link` to the container whose init is process `pid`: the veth pair is made
/// with one end inside it, the host's end joins the bridge, the inside is configured.
pub async fn attach(pid: i64, link: &Link) -> Result<()> {
    let host = link.host_name.as_str();
    // A pair left by a container that died with the daemon goes first.
    let _ = ip(&["link", "del", "dev", host]).await;
    let pid_text = pid.to_string();
    ip(&[
        "link",
        "add",
        "dev",
        host,
        "type",
        "veth",
        "peer",
        "name",
        &link.nic.inner,
        "netns",
        &pid_text,
    ])
    .await?;
    ip(&["link", "set", "dev", host, "master", &link.nic.bridge, "up"]).await?;
    ip_inside(pid, &inside_commands(link)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nics_on_networks_bridged_here_are_connected_and_the_others_say_why() {
        let lan = Subnet::parse("10.7.0.1/24");
        let bridges = BTreeMap::from([("lan0".to_owned(), lan), ("bare".to_owned(), None)]);
        let devices: Devices = BTreeMap::from([
            ("root".to_owned(), keys(&[("type", "disk"), ("path", "/")])),
            (
                "eth0".to_owned(),
                keys(&[("type", "nic"), ("network", "lan0"), ("name", "eth0")]),
            ),
            (
                "eth1".to_owned(),
                keys(&[("type", "nic"), ("network", "bare")]),
            ),
            (
                "eth2".to_owned(),
                keys(&[("type", "nic"), ("network", "corralbr0")]),
            ),
            (
                "eth3".to_owned(),
                keys(&[("type", "nic"), ("nictype", "bridged"), ("parent", "br9")]),
            ),
        ]);
        let config = keys(&[("volatile.eth0.hwaddr", "00:16:3e:aa:bb:cc")]);
        let (nics, unconnected) = plan(&devices, &config, &bridges);
        assert_eq!(
            nics,
            vec![
                Nic {
                    device: "eth0".into(),
                    inner: "eth0".into(),
                    bridge: "lan0".into(),
                    hwaddr: Some("00:16:3e:aa:bb:cc".into()),
                    subnet: lan,
                },
                // No name: the device's own; no IPv4 on the network: none leased.
                Nic {
                    device: "eth1".into(),
                    inner: "eth1".into(),
                    bridge: "bare".into(),
                    hwaddr: None,
                    subnet: None,
                },
            ]
        );
        let why: BTreeMap<String, String> = unconnected.into_iter().collect();
        assert!(why["eth2"].contains("network corralbr0 has no bridge on this member"));
        assert!(why["eth3"].contains("network=NAME"));
        assert!(!why.contains_key("root"));
    }

    #[test]
    fn macs_are_lxds_and_host_names_fit_linux_and_differ_per_member() {
        assert_eq!(hwaddr_from([0, 0xab, 0x1f]), "00:16:3e:00:ab:1f");
        let a = host_name(Path::new("/m1"), "c1", "eth0");
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("veth"));
        assert_eq!(a, host_name(Path::new("/m1"), "c1", "eth0"));
        assert_ne!(a, host_name(Path::new("/m2"), "c1", "eth0"));
        assert_ne!(a, host_name(Path::new("/m1"), "c1", "eth1"));
    }

    #[test]
    fn the_inside_gets_its_mac_address_and_route() {
        let lan = Subnet::parse("10.7.0.1/24").unwrap();
        let link = Link {
            nic: Nic {
                device: "eth0".into(),
                inner: "eth0".into(),
                bridge: "lan0".into(),
                hwaddr: None,
                subnet: Some(lan),
            },
            hwaddr: "00:16:3e:00:00:01".into(),
            ipv4: Some(("10.7.0.2".parse().unwrap(), lan)),
            host_name: "veth0123456789".into(),
        };
        assert_eq!(
            inside_commands(&link),
            "link set dev lo up\nlink set dev eth0 address 00:16:3e:00:00:01\nlink set dev eth0 up\n\
             addr add 10.7.0.2/24 dev eth0\nroute add default via 10.7.0.1 dev eth0\n"
        );
        let bare = Link { ipv4: None, ..link };
        assert!(!inside_commands(&bare).contains("addr add"));
    }
}
