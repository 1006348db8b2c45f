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
                String::new(),
                String::new(),
                i.kind.to_uppercase(),
                "0".to_owned(),
                i.location.clone(),
            ]
        })
        .collect()
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
