//! A running instance's network interfaces as seen inside it, for its state (`lxc list`'s
//! IPV4 and IPV6 columns): read with getifaddrs(3) from a thread that joined the
//! container's network namespace, so no process is started per instance.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use corral_shared::api::{InstanceStateNetwork, InstanceStateNetworkAddress};

/// The interfaces inside the network namespace of process `pid`, by name (their host's
/// ends are for the caller to fill in).
pub fn of_process(pid: i64) -> std::io::Result<BTreeMap<String, InstanceStateNetwork>> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    let found = std::thread::spawn(move || -> std::io::Result<Vec<Entry>> {
        // SAFETY: setns(2) changes the namespace of this thread only, which ends here.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        entries()
    })
    .join()
    .map_err(|_| std::io::Error::other("reading the instance's interfaces panicked"))??;
    let mut out: BTreeMap<String, InstanceStateNetwork> = BTreeMap::new();
    for entry in found {
        let iface = out.entry(entry.name.clone()).or_default();
        iface.state = if entry.up { "up" } else { "down" }.to_owned();
        iface.kind = if entry.loopback {
            "loopback"
        } else {
            "broadcast"
        }
        .to_owned();
        match entry.address {
            Address::Mac(mac) => iface.hwaddr = mac,
            Address::Ip(address) => iface.addresses.push(address),
            Address::None => {}
        }
    }
    for (name, iface) in &mut out {
        iface.mtu = std::fs::read_to_string(format!("/proc/{pid}/root/sys/class/net/{name}/mtu"))
            .ok()
            .and_then(|m| m.trim().parse().ok())
            .unwrap_or_default();
    }
    Ok(out)
}

/// Whether interface `name` exists in this process's network namespace (asked of the
/// kernel, not of /sys, which may show another namespace's).
pub fn exists_here(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: if_nametoindex reads the NUL-terminated name and nothing else.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

enum Address {
    Mac(String),
    Ip(InstanceStateNetworkAddress),
    None,
}

struct Entry {
    name: String,
    up: bool,
    loopback: bool,
    address: Address,
}

/// The prefix length of a netmask's bytes.
fn prefix_len(mask: &[u8]) -> u32 {
    mask.iter().map(|b| b.count_ones()).sum()
}

/// LXD's scope of an address.
fn scope_v4(a: Ipv4Addr) -> &'static str {
    if a.is_loopback() {
        "local"
    } else if a.is_link_local() {
        "link"
    } else {
        "global"
    }
}

fn scope_v6(a: Ipv6Addr) -> &'static str {
    if a.is_loopback() {
        "local"
    } else if a.segments()[0] & 0xffc0 == 0xfe80 {
        "link"
    } else {
        "global"
    }
}

/// getifaddrs(3) in this thread's network namespace.
fn entries() -> std::io::Result<Vec<Entry>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: each node of the list getifaddrs made is valid until freeifaddrs; its
        // addresses are of the family their sa_family says.
        let ifa = unsafe { &*cursor };
        cursor = ifa.ifa_next;
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let flags = ifa.ifa_flags;
        let address = if ifa.ifa_addr.is_null() {
            Address::None
        } else {
            match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
                libc::AF_INET => {
                    let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                    let address = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                    let prefix = if ifa.ifa_netmask.is_null() {
                        32
                    } else {
                        let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                        prefix_len(&m.sin_addr.s_addr.to_ne_bytes())
                    };
                    Address::Ip(InstanceStateNetworkAddress {
                        family: "inet".into(),
                        address: address.to_string(),
                        netmask: prefix.to_string(),
                        scope: scope_v4(address).into(),
                    })
                }
                libc::AF_INET6 => {
                    let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                    let address = Ipv6Addr::from(a.sin6_addr.s6_addr);
                    let prefix = if ifa.ifa_netmask.is_null() {
                        128
                    } else {
                        let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                        prefix_len(&m.sin6_addr.s6_addr)
                    };
                    Address::Ip(InstanceStateNetworkAddress {
                        family: "inet6".into(),
                        address: address.to_string(),
                        netmask: prefix.to_string(),
                        scope: scope_v6(address).into(),
                    })
                }
                libc::AF_PACKET => {
                    let l = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                    let len = usize::from(l.sll_halen).min(l.sll_addr.len());
                    let mac: Vec<String> = l.sll_addr[..len]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    Address::Mac(mac.join(":"))
                }
                _ => Address::None,
            }
        };
        out.push(Entry {
            name,
            up: flags & libc::IFF_UP as u32 != 0,
            loopback: flags & libc::IFF_LOOPBACK as u32 != 0,
            address,
        });
    }
    // SAFETY: `head` came from getifaddrs and is freed once; nothing above outlives it.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_sees_its_own_loopback() {
        let me = i64::from(std::process::id());
        let seen = of_process(me).unwrap();
        let lo = &seen["lo"];
        assert_eq!(lo.kind, "loopback");
        if lo.state == "up" {
            assert!(
                lo.addresses.iter().any(|a| a.family == "inet"
                    && a.address == "127.0.0.1"
                    && a.netmask == "8"
                    && a.scope == "local"),
                "{lo:?}"
            );
        }
    }

    #[test]
    fn interfaces_of_this_namespace_are_found_by_name() {
        assert!(exists_here("lo"));
        assert!(!exists_here("veth-not-here"));
        assert!(!exists_here("bad\0name"));
    }

    #[test]
    fn prefixes_and_scopes_are_lxds() {
        assert_eq!(prefix_len(&[255, 255, 255, 0]), 24);
        assert_eq!(prefix_len(&[0; 16]), 0);
        assert_eq!(scope_v4("10.7.0.2".parse().unwrap()), "global");
        assert_eq!(scope_v4("169.254.1.1".parse().unwrap()), "link");
        assert_eq!(scope_v6("fe80::1".parse().unwrap()), "link");
        assert_eq!(scope_v6("::1".parse().unwrap()), "local");
        assert_eq!(scope_v6("fd42::1".parse().unwrap()), "global");
    }
}
