//! How `corral list` and `corral info` print instances, as `lxc list` and `lxc info` do.

use corral_shared::api::{Instance, InstanceState};

use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};

/// `lxc list`'s columns in a cluster.
pub const HEADER: [&str; 7] = [
    "NAME",
    "STATE",
    "IPV4",
    "IPV6",
    "TYPE",
    "SNAPSHOTS",
    "LOCATION",
];

/// One row per instance, by name.
pub fn rows(instances: &[Instance]) -> Vec<Vec<String>> {
    let mut sorted: Vec<&Instance> = instances.iter().collect();
    sorted.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    sorted
        .into_iter()
        .map(|i| {
            vec![
                i.name.clone(),
                i.status.as_str().to_uppercase(),
                addresses(i.state.as_ref(), "inet"),
                addresses(i.state.as_ref(), "inet6"),
                i.kind.to_uppercase(),
                "0".to_owned(),
                i.location.clone(),
            ]
        })
        .collect()
}

/// The global addresses of `family` ("inet", "inet6") of each interface but loopback, as
/// `lxc list` shows them: "10.7.0.2 (eth0)", one per line.
pub fn addresses(state: Option<&InstanceState>, family: &str) -> String {
    let Some(network) = state.and_then(|s| s.network.as_ref()) else {
        return String::new();
    };
    let mut lines = Vec::new();
    for (name, iface) in network {
        if iface.kind == "loopback" {
            continue;
        }
        for a in &iface.addresses {
            if a.family == family && a.scope == "global" {
                lines.push(format!("{} ({name})", a.address));
            }
        }
    }
    lines.join("\n")
}

/// `corral list` in `format`.
pub fn list(instances: &[Instance], format: Format) -> Result<String, CliError> {
    format::listing(format, &HEADER, &rows(instances), instances)
}

/// `corral info NAME`: what the database knows, and the live state when its member answers.
pub fn info(instance: &Instance, state: Option<&InstanceState>) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k}: {v}\n"));
    line("Name", &instance.name);
    line("Status", &instance.status.as_str().to_uppercase());
    line("Type", &instance.kind);
    line("Architecture", &instance.architecture);
    line("Location", &instance.location);
    if let Some(state) = state.filter(|s| s.pid > 0) {
        line("PID", &state.pid.to_string());
    }
    line("Created", &instance.created_at);
    line("Last Used", &instance.last_used_at);
    if let Some(state) = state.filter(|s| s.processes >= 0) {
        out.push_str(&format!("\nResources:\n  Processes: {}\n", state.processes));
        let network = state.network.iter().flatten();
        let shown: Vec<_> = network.filter(|(_, i)| i.kind != "loopback").collect();
        if !shown.is_empty() {
            out.push_str("  Network usage:\n");
        }
        for (name, iface) in shown {
            out.push_str(&format!(
                "    {name}:\n      Type: {}\n      State: {}\n",
                iface.kind,
                iface.state.to_uppercase()
            ));
            if !iface.host_name.is_empty() {
                out.push_str(&format!("      Host interface: {}\n", iface.host_name));
            }
            out.push_str(&format!(
                "      MAC address: {}\n      MTU: {}\n      IP addresses:\n",
                iface.hwaddr, iface.mtu
            ));
            for a in &iface.addresses {
                out.push_str(&format!(
                    "        {}:  {}/{} ({})\n",
                    a.family, a.address, a.netmask, a.scope
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use corral_shared::api::InstanceStatus;

    use super::*;

    fn instance(name: &str, status: InstanceStatus, location: &str) -> Instance {
        Instance {
            architecture: "x86_64".into(),
            config: BTreeMap::new(),
            created_at: "2026-12-01T00:00:00Z".into(),
            description: String::new(),
            devices: BTreeMap::new(),
            ephemeral: false,
            expanded_config: BTreeMap::new(),
            expanded_devices: BTreeMap::new(),
            last_used_at: "1970-01-01T00:00:00Z".into(),
            location: location.into(),
            name: name.into(),
            profiles: vec!["default".into()],
            project: "default".into(),
            stateful: false,
            status,
            status_code: status.code(),
            kind: "container".into(),
            state: None,
        }
    }

    #[test]
    fn the_list_reads_as_lxd_list() {
        // tests/fixtures/lxd/inst_lxc_list.txt is LXD's own table for three stopped ones.
        let want = include_str!("../../../../tests/fixtures/lxd/inst_lxc_list.txt");
        let want = want
            .trim_end()
            .trim_end_matches("[exit status 0]")
            .trim_end();
        let all = [
            instance("c3", InstanceStatus::Stopped, "node1"),
            instance("c1", InstanceStatus::Stopped, "node2"),
            instance("c2", InstanceStatus::Stopped, "node1"),
        ];
        assert_eq!(list(&all, Format::Table).unwrap().trim_end(), want);
        let csv = list(&all, Format::Csv).unwrap();
        assert_eq!(
            csv.lines().next().unwrap(),
            "c1,STOPPED,,,CONTAINER,0,node2"
        );
    }

    #[test]
    fn running_instances_show_their_global_addresses_per_interface() {
        use corral_shared::api::{InstanceStateNetwork, InstanceStateNetworkAddress};
        let address = |family: &str, address: &str, scope: &str| InstanceStateNetworkAddress {
            family: family.into(),
            address: address.into(),
            netmask: "24".into(),
            scope: scope.into(),
        };
        let iface = |kind: &str, addresses| InstanceStateNetwork {
            addresses,
            kind: kind.into(),
            state: "up".into(),
            ..InstanceStateNetwork::default()
        };
        let mut c1 = instance("c1", InstanceStatus::Running, "node1");
        c1.state = Some(InstanceState {
            status: InstanceStatus::Running,
            status_code: 103,
            pid: 42,
            processes: 2,
            network: Some(BTreeMap::from([
                (
                    "lo".into(),
                    iface("loopback", vec![address("inet", "127.0.0.1", "local")]),
                ),
                (
                    "eth0".into(),
                    iface(
                        "broadcast",
                        vec![
                            address("inet", "10.7.0.2", "global"),
                            address("inet6", "fe80::216:3eff:fe00:1", "link"),
                            address("inet6", "fd42::2", "global"),
                        ],
                    ),
                ),
                (
                    "eth1".into(),
                    iface("broadcast", vec![address("inet", "10.8.0.5", "global")]),
                ),
            ])),
        });
        let csv = list(&[c1.clone()], Format::Csv).unwrap();
        assert_eq!(
            csv.trim(),
            "c1,RUNNING,\"10.7.0.2 (eth0)\n10.8.0.5 (eth1)\",fd42::2 (eth0),CONTAINER,0,node1"
        );
        let text = info(&c1, c1.state.as_ref());
        assert!(
            text.contains("    eth0:\n      Type: broadcast\n      State: UP\n"),
            "{text}"
        );
        assert!(
            text.contains("        inet:  10.7.0.2/24 (global)\n"),
            "{text}"
        );
        assert!(!text.contains("lo:"), "{text}");
    }

    #[test]
    fn an_instance_on_an_offline_member_shows_error() {
        let all = [instance("c1", InstanceStatus::Error, "node3")];
        let table = list(&all, Format::Csv).unwrap();
        assert_eq!(table.trim(), "c1,ERROR,,,CONTAINER,0,node3");
        let text = info(&all[0], None);
        assert!(text.contains("Status: ERROR\n"), "{text}");
        assert!(text.contains("Location: node3\n"), "{text}");
        assert!(!text.contains("PID"), "{text}");
    }
}
