//! Semantic checks of a preseed's config, pools, networks and profiles, and the
//! [`Violation`] type every check reports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::{NetworkPreseed, Preseed, ProfilePreseed, StoragePoolPreseed};
use crate::config;

/// Storage drivers a pool may use.
pub const STORAGE_DRIVERS: &[&str] =
    &["dir", "btrfs", "lvm", "zfs", "ceph", "cephfs", "cephobject"];

/// Network types a network may have.
pub const NETWORK_TYPES: &[&str] = &["bridge", "macvlan", "sriov", "ovn", "physical"];

/// Device types a profile device may have.
pub const DEVICE_TYPES: &[&str] = &[
    "disk",
    "nic",
    "unix-char",
    "unix-block",
    "usb",
    "gpu",
    "infiniband",
    "proxy",
    "unix-hotplug",
    "tpm",
    "pci",
];

/// One step of the path to a value in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key, e.g. `config` or `cluster.max_voters`.
    Key(String),
    /// A position in a list, from 0.
    Index(usize),
}

/// One semantic problem: where it is, the value found there, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path from the document root, e.g. `["storage_pools", 0, "driver"]`.
    pub path: Vec<PathSegment>,
    /// The offending value ("" when the value is missing or is a secret not to be echoed).
    pub value: String,
    /// The rule broken, and what to do about it.
    pub rule: String,
}

impl Violation {
    /// A violation at `path` (built from keys and indices) of `value` against `rule`.
    pub fn new(path: Vec<PathSegment>, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            path,
            value: value.into(),
            rule: rule.into(),
        }
    }

    /// The path in dotted form, e.g. `storage_pools[0].driver` or `config.cluster.max_voters`.
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) if out.is_empty() => out.push_str(k),
                PathSegment::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// The message without the path: LXD's `cannot set '<key>' to '<value>': <rule>` when
    /// there is a value, else just the rule.
    pub fn message(&self) -> String {
        let leaf = self.path.iter().rev().find_map(|s| match s {
            PathSegment::Key(k) => Some(k.as_str()),
            PathSegment::Index(_) => None,
        });
        match leaf {
            Some(leaf) if !self.value.is_empty() => {
                format!("cannot set '{leaf}' to '{}': {}", self.value, self.rule)
            }
            _ => self.rule.clone(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path_string(), self.message())
    }
}

/// Shorthand to build a path: `at!("storage_pools", 0, "driver")`.
macro_rules! at {
    ($($seg:expr),* $(,)?) => {
        vec![$($crate::preseed::validate::Seg::seg($seg)),*]
    };
}
pub(crate) use at;

/// Turns keys and indices into [`PathSegment`]s for [`at!`].
pub(crate) trait Seg {
    fn seg(self) -> PathSegment;
}

impl Seg for &str {
    fn seg(self) -> PathSegment {
        PathSegment::Key(self.to_string())
    }
}

impl Seg for &String {
    fn seg(self) -> PathSegment {
        PathSegment::Key(self.clone())
    }
}

impl Seg for usize {
    fn seg(self) -> PathSegment {
        PathSegment::Index(self)
    }
}

/// Checks a pool, network, profile or member name.
///
/// Corral's choice (LXD's rules differ per object): 1 to 63 characters, starting with a
/// letter, then letters, digits, `-`, `_` and `.` only, so names are safe in paths,
/// URLs and interface names alike.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() {
        Err(format!("every {what} needs a name; add `name: <name>`"))
    } else if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "Invalid {what} name: it must start with a letter and contain only letters, \
             digits, '-', '_' and '.' (at most 63 characters)"
        ))
    }
}

/// Runs the checks of every section but `cluster`.
pub(crate) fn check_sections(p: &Preseed, out: &mut Vec<Violation>) {
    for (key, value) in &p.config {
        if let Err(e) = config::validate(key, value) {
            out.push(Violation::new(at!("config", key), value, e.rule()));
        }
    }
    for (i, n) in p.networks.iter().enumerate() {
        check_network(i, n, &p.networks[..i], out);
    }
    for (i, pool) in p.storage_pools.iter().enumerate() {
        check_pool(i, pool, &p.storage_pools[..i], out);
    }
    for (i, profile) in p.profiles.iter().enumerate() {
        check_profile(i, profile, p, out);
    }
}

/// Checks the name of the `i`th item of `section` against the rule and the earlier names.
fn check_item_name<'a>(
    section: &str,
    what: &str,
    i: usize,
    name: &str,
    mut earlier: impl Iterator<Item = &'a str>,
    out: &mut Vec<Violation>,
) {
    if let Err(rule) = check_name(what, name) {
        out.push(Violation::new(at!(section, i, "name"), name, rule));
    } else if let Some(j) = earlier.position(|n| n == name) {
        out.push(Violation::new(
            at!(section, i, "name"),
            name,
            format!(
                "{what} \"{name}\" is already defined at {section}[{j}]; give each {what} \
                 its own name"
            ),
        ));
    }
}

fn check_pool(
    i: usize,
    pool: &StoragePoolPreseed,
    earlier: &[StoragePoolPreseed],
    out: &mut Vec<Violation>,
) {
    let names = earlier.iter().map(|p| p.name.as_str());
    check_item_name("storage_pools", "storage pool", i, &pool.name, names, out);
    if !STORAGE_DRIVERS.contains(&pool.driver.as_str()) {
        let rule = format!("Value must be one of {}", STORAGE_DRIVERS.join(", "));
        let rule = match pool.driver.as_str() {
            "" => format!("every storage pool needs a driver; add `driver: dir` ({rule})"),
            _ => rule,
        };
        out.push(Violation::new(
            at!("storage_pools", i, "driver"),
            &pool.driver,
            rule,
        ));
    }
}

fn check_network(
    i: usize,
    net: &NetworkPreseed,
    earlier: &[NetworkPreseed],
    out: &mut Vec<Violation>,
) {
    let names = earlier.iter().map(|n| n.name.as_str());
    check_item_name("networks", "network", i, &net.name, names, out);
    let kind = net.effective_kind();
    if !NETWORK_TYPES.contains(&kind) {
        out.push(Violation::new(
            at!("networks", i, "type"),
            kind,
            format!(
                "Value must be one of {} (bridge when omitted)",
                NETWORK_TYPES.join(", ")
            ),
        ));
        return;
    }
    if kind != "bridge" {
        return;
    }
    if net.name.len() > 15 && check_name("network", &net.name).is_ok() {
        out.push(Violation::new(
            at!("networks", i, "name"),
            &net.name,
            "a bridge's name is also its interface name, so it can be at most 15 characters",
        ));
    }
    for (key, v4) in [("ipv4.address", true), ("ipv6.address", false)] {
        if let Some(value) = net.config.get(key)
            && let Err(rule) = check_bridge_address(value, v4)
        {
            out.push(Violation::new(
                at!("networks", i, "config", key),
                value,
                rule,
            ));
        }
    }
}

/// A bridge's `ipv4.address`/`ipv6.address`: `auto`, `none`, or the bridge's own address
/// with a prefix length (CIDR).
fn check_bridge_address(value: &str, v4: bool) -> Result<(), String> {
    let (family, example, max) = if v4 {
        ("IPv4", "10.66.0.1/24", 32)
    } else {
        ("IPv6", "fd42:1:2:3::1/64", 128)
    };
    let rule = || {
        format!(
            "Value must be auto, none, or an {family} address with a prefix length, e.g. {example}"
        )
    };
    if matches!(value, "auto" | "none" | "") {
        return Ok(());
    }
    let (addr, prefix) = value.split_once('/').ok_or_else(rule)?;
    let addr: IpAddr = addr.parse().map_err(|_| rule())?;
    let prefix: u8 = prefix.parse().map_err(|_| rule())?;
    if addr.is_ipv4() != v4 || prefix > max {
        return Err(rule());
    }
    Ok(())
}

fn check_profile(i: usize, profile: &ProfilePreseed, p: &Preseed, out: &mut Vec<Violation>) {
    let names = p.profiles[..i].iter().map(|q| q.name.as_str());
    check_item_name("profiles", "profile", i, &profile.name, names, out);
    for (dev_name, dev) in &profile.devices {
        check_device(i, dev_name, dev, out);
    }
}

fn check_device(i: usize, name: &String, dev: &BTreeMap<String, String>, out: &mut Vec<Violation>) {
    let types = DEVICE_TYPES.join(", ");
    let kind = dev.get("type").map(String::as_str).unwrap_or("");
    if kind.is_empty() {
        out.push(Violation::new(
            at!("profiles", i, "devices", name),
            "",
            format!("device \"{name}\" has no type; add `type:` with one of {types}"),
        ));
        return;
    }
    // Whether a referenced pool or network exists is decided where the server's own ones
    // are known too: `corrald init` checks them before anything is written.
    if !DEVICE_TYPES.contains(&kind) {
        out.push(Violation::new(
            at!("profiles", i, "devices", name, "type"),
            kind,
            format!("Value must be one of {types}"),
        ));
    }
}
