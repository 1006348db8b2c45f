//! IPv4 addresses a member gives the NICs it connects to one of its bridges: the host's own
//! leases, as LXD's dnsmasq keeps them per member (a bridge is one member's). An address
//! belongs to a MAC address for as long as an instance of this member has that MAC, so
//! an instance keeps its address across restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// A bridge's IPv4 subnet: its own (the gateway's) address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The bridge's address, the instances' gateway.
    pub gateway: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

impl Subnet {
    /// `ipv4.address` as CIDR ("10.7.0.1/24"); `None` for anything else.
    pub fn parse(cidr: &str) -> Option<Self> {
        let (address, prefix) = cidr.split_once('/')?;
        let prefix: u8 = prefix.parse().ok().filter(|p| (1..=30).contains(p))?;
        Some(Subnet {
            gateway: address.parse().ok()?,
            prefix,
        })
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    /// Whether `address` is one an instance may have here: inside, neither the network's
    /// nor the broadcast address, nor the gateway.
    pub fn usable(&self, address: Ipv4Addr) -> bool {
        let (a, g, mask) = (u32::from(address), u32::from(self.gateway), self.mask());
        a & mask == g & mask && a & !mask != 0 && a & !mask != !mask && a != g
    }
}

/// Why no address could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// Every usable address is someone's.
    #[error(
        "no free IPv4 address is left on {network} ({gateway}/{prefix}): every one is leased to an instance of this member; widen the network's ipv4.address or delete instances"
    )]
    Exhausted {
        /// The network.
        network: String,
        /// Its gateway.
        gateway: Ipv4Addr,
        /// Its prefix.
        prefix: u8,
    },
}

/// The leases of one bridge: MAC address to IPv4 address.
pub type Leases = BTreeMap<String, Ipv4Addr>;

/// The address for `mac` on `network` and the leases to keep: only leases of MACs in
/// `present` (this member's instances) stay; `mac`'s own lease is kept when still usable,
/// else it gets the lowest free usable address.
pub fn allocate(
    network: &str,
    subnet: Subnet,
    leases: &Leases,
    present: &BTreeSet<String>,
    mac: &str,
) -> Result<(Ipv4Addr, Leases), LeaseError> {
    let mut kept: Leases = leases
        .iter()
        .filter(|(m, a)| present.contains(*m) && subnet.usable(**a))
        .map(|(m, a)| (m.clone(), *a))
        .collect();
    if let Some(address) = kept.get(mac) {
        return Ok((*address, kept));
    }
    let taken: BTreeSet<Ipv4Addr> = kept.values().copied().collect();
    let base = u32::from(subnet.gateway) & subnet.mask();
    let size = 1u64 << (32 - u32::from(subnet.prefix));
    let free = (1..size - 1)
        .map(|i| Ipv4Addr::from(base + i as u32))
        .find(|a| subnet.usable(*a) && !taken.contains(a))
        .ok_or_else(|| LeaseError::Exhausted {
            network: network.to_owned(),
            gateway: subnet.gateway,
            prefix: subnet.prefix,
        })?;
    kept.insert(mac.to_owned(), free);
    Ok((free, kept))
}

/// Where a member keeps the leases of bridge `network`.
pub fn path(dir: &Path, network: &str) -> PathBuf {
    dir.join("leases").join(network)
}

/// The leases in `text` (one "MAC ADDRESS" pair per line; what cannot be read is dropped).
pub fn parse(text: &str) -> Leases {
    text.lines()
        .filter_map(|l| {
            let (mac, address) = l.split_once(' ')?;
            Some((mac.to_owned(), address.trim().parse().ok()?))
        })
        .collect()
}

/// `leases` as the file holds them.
pub fn render(leases: &Leases) -> String {
    leases.iter().map(|(m, a)| format!("{m} {a}\n")).collect()
}

/// Records `leases` in `file`, replacing it whole and synced, so a crash leaves the old
/// leases or the new ones.
pub fn save(file: &Path, leases: &Leases) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(render(leases).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(macs: &[&str]) -> BTreeSet<String> {
        macs.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn subnets_are_read_from_cidr() {
        let cases = [
            ("10.7.0.1/24", Some(("10.7.0.1", 24))),
            ("10.7.0.1/30", Some(("10.7.0.1", 30))),
            ("10.7.0.1/31", None),
            ("10.7.0.1", None),
            ("none", None),
            ("10.7.0/24", None),
        ];
        for (text, want) in cases {
            let got = Subnet::parse(text).map(|s| (s.gateway.to_string(), s.prefix));
            let want = want.map(|(g, p)| (g.to_owned(), p));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn addresses_are_given_lowest_first_kept_per_mac_and_freed_with_their_instance() {
        let net = Subnet::parse("10.7.0.1/24").unwrap();
        let a = "00:16:3e:00:00:0a";
        let b = "00:16:3e:00:00:0b";
        let c = "00:16:3e:00:00:0c";
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        // The gateway (.1) and the network's own address are never given.
        let (first, leases) = allocate("lan0", net, &Leases::new(), &set(&[a]), a).unwrap();
        assert_eq!(first, ip("10.7.0.2"));
        let (second, leases) = allocate("lan0", net, &leases, &set(&[a, b]), b).unwrap();
        assert_eq!(second, ip("10.7.0.3"));
        // Asked again (a restart), a MAC keeps its address.
        let (again, leases) = allocate("lan0", net, &leases, &set(&[a, b]), a).unwrap();
        assert_eq!(again, first);
        // An instance gone from this member frees its address for the next one.
        let (third, leases) = allocate("lan0", net, &leases, &set(&[b, c]), c).unwrap();
        assert_eq!(third, ip("10.7.0.2"));
        assert_eq!(leases.len(), 2);
        // A lease outside the subnet (its ipv4.address changed) is given anew.
        let moved = Subnet::parse("10.8.0.1/24").unwrap();
        let (renewed, _) = allocate("lan0", moved, &leases, &set(&[b, c]), b).unwrap();
        assert_eq!(renewed, ip("10.8.0.2"));
    }

    #[test]
    fn a_full_subnet_is_refused_naming_the_network() {
        // A /30 has two usable addresses: the gateway's and one more.
        let net = Subnet::parse("10.7.0.1/30").unwrap();
        let (only, leases) = allocate("lan0", net, &Leases::new(), &set(&["m1"]), "m1").unwrap();
        assert_eq!(only, "10.7.0.2".parse::<Ipv4Addr>().unwrap());
        let full = allocate("lan0", net, &leases, &set(&["m1", "m2"]), "m2").unwrap_err();
        let text = full.to_string();
        assert!(
            text.contains("lan0") && text.contains("10.7.0.1/30"),
            "{text}"
        );
    }

    #[test]
    fn the_file_round_trips_and_skips_what_it_cannot_read() {
        let leases = Leases::from([
            ("00:16:3e:00:00:0a".to_owned(), "10.7.0.2".parse().unwrap()),
            ("00:16:3e:00:00:0b".to_owned(), "10.7.0.3".parse().unwrap()),
        ]);
        assert_eq!(parse(&render(&leases)), leases);
        assert_eq!(parse("garbage\nm1 not-an-ip\n").len(), 0);
    }
}
