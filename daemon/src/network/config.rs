//! What a bridge network's name and config may be, checked before anything changes, and
//! the bridge a member makes of them.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::bridge::BridgeSpec;

/// The only network type Corral creates.
pub const BRIDGE: &str = "bridge";

/// Keys a bridge network takes (besides `user.*`).
const BRIDGE_KEYS: &[&str] = &[
    "bridge.external_interfaces",
    "bridge.mtu",
    "ipv4.address",
    "ipv6.address",
];

/// Checks a network name: a Linux interface name (1 to 15 characters, letters, digits,
/// `-`, `_` and `.`, not starting with `-`, not `.` or `..`).
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && !name.starts_with('-')
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "Invalid network name {name:?}: a network name is an interface name of 1 to 15 letters, digits, '-', '_' or '.', not starting with '-'"
        ))
    }
}

/// Checks a network type; empty means `bridge`.
pub fn check_kind(kind: &str) -> Result<&'static str, String> {
    match kind {
        "" | BRIDGE => Ok(BRIDGE),
        other => Err(format!(
            "Network type {other:?} is not supported: Corral creates networks of type bridge (leave --type out or give --type bridge)"
        )),
    }
}

/// Checks every key and value of a bridge network's config (cluster-wide or one member's).
pub fn check(network: &str, config: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in config {
        if key.starts_with("user.") {
            continue;
        }
        if !BRIDGE_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "Invalid option for network {network:?} option {key:?}: a bridge network takes {} and user.* keys",
                BRIDGE_KEYS.join(", ")
            ));
        }
        check_value(key, value).map_err(|rule| {
            format!("Invalid value for network {network:?} option {key:?}: {value:?}: {rule}")
        })?;
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "ipv4.address" => cidr::<Ipv4Addr>(value, 30).map(drop),
        "ipv6.address" => cidr::<Ipv6Addr>(value, 127).map(drop),
        "bridge.mtu" => match value.parse::<u32>() {
            Ok(n) if (68..=16000).contains(&n) => Ok(()),
            _ => Err("the MTU is a whole number from 68 to 16000".into()),
        },
        "bridge.external_interfaces" => {
            for iface in interfaces(value) {
                check_name(iface).map_err(|_| format!("{iface:?} is not an interface name"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An address with its prefix (`10.0.0.1/24`), `none`, or empty; `Some` for an address.
fn cidr<A: std::str::FromStr>(value: &str, longest: u8) -> Result<Option<String>, String> {
    if value.is_empty() || value == "none" {
        return Ok(None);
    }
    let rule = format!(
        "give the bridge's own address with its prefix length (at most /{longest}), e.g. {}, or none",
        if longest == 30 {
            "10.10.0.1/24"
        } else {
            "fd42:1::1/64"
        }
    );
    let (addr, prefix) = value.split_once('/').ok_or_else(|| rule.clone())?;
    addr.parse::<A>().map_err(|_| rule.clone())?;
    match prefix.parse::<u8>() {
        Ok(p) if (1..=longest).contains(&p) => Ok(Some(value.to_owned())),
        _ => Err(rule),
    }
}

/// The comma-separated interfaces of `bridge.external_interfaces`.
fn interfaces(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The bridge a member makes of network `name` from its cluster-wide config merged with the
/// member's own keys (already checked).
pub fn bridge_spec(
    name: &str,
    global: &BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> BridgeSpec {
    let get = |k: &str| own.get(k).or_else(|| global.get(k)).map(String::as_str);
    BridgeSpec {
        name: name.to_owned(),
        ipv4: get("ipv4.address").and_then(|v| cidr::<Ipv4Addr>(v, 30).ok().flatten()),
        ipv6: get("ipv6.address").and_then(|v| cidr::<Ipv6Addr>(v, 127).ok().flatten()),
        mtu: get("bridge.mtu").and_then(|v| v.parse().ok()),
        external: get("bridge.external_interfaces")
            .map(|v| interfaces(v).map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_are_interface_names() {
        for (name, ok) in [
            ("n1", true),
            ("corralbr0", true),
            ("a.b-c_d", true),
            ("", false),
            ("sixteen-chars-xx", false),
            ("-n", false),
            ("a/b", false),
            ("a b", false),
            ("..", false),
        ] {
            assert_eq!(check_name(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn only_bridges_are_made() {
        assert_eq!(check_kind(""), Ok("bridge"));
        assert_eq!(check_kind("bridge"), Ok("bridge"));
        let e = check_kind("macvlan").unwrap_err();
        assert!(e.contains("\"macvlan\" is not supported"), "{e}");
    }

    #[test]
    fn values_are_checked_by_key() {
        for (pairs, ok) in [
            (vec![("ipv4.address", "10.9.0.1/24")], true),
            (vec![("ipv4.address", "none")], true),
            (vec![("ipv4.address", "auto")], false),
            (vec![("ipv4.address", "10.9.0.1")], false),
            (vec![("ipv4.address", "10.9.0.1/32")], false),
            (vec![("ipv4.address", "300.1.1.1/24")], false),
            (vec![("ipv6.address", "fd42:1::1/64")], true),
            (vec![("ipv6.address", "none")], true),
            (vec![("ipv6.address", "fd42:1::1/128")], false),
            (vec![("ipv6.address", "10.0.0.1/24")], false),
            (vec![("bridge.mtu", "1400")], true),
            (vec![("bridge.mtu", "big")], false),
            (vec![("bridge.external_interfaces", "eth1, eth2")], true),
            (vec![("bridge.external_interfaces", "a/b")], false),
            (vec![("user.note", "anything")], true),
            (vec![("ipv4.nat", "true")], false),
            (vec![("parent", "eth0")], false),
        ] {
            let c = config(&pairs);
            assert_eq!(check("n1", &c).is_ok(), ok, "{pairs:?}");
        }
        let e = check("n1", &config(&[("ipv4.address", "auto")])).unwrap_err();
        assert!(e.contains("\"ipv4.address\""), "{e}");
        assert!(e.contains("or none"), "{e}");
    }

    #[test]
    fn a_member_s_own_keys_win() {
        let spec = bridge_spec(
            "n1",
            &config(&[("ipv4.address", "10.9.0.1/24"), ("ipv6.address", "none")]),
            &config(&[("bridge.external_interfaces", "veth1,veth2")]),
        );
        assert_eq!(spec.ipv4.as_deref(), Some("10.9.0.1/24"));
        assert_eq!(spec.ipv6, None);
        assert_eq!(spec.external, ["veth1", "veth2"]);
    }
}
