//! A member's live state (`GET /1.0/cluster/members/NAME/state`): read on that member, so
//! it fails at once, naming the member, when the member is down. Its configuration stays
//! readable from any member's replica meanwhile.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::{PeerError, Peers};

/// LXD's `ClusterMemberState`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberState {
    /// Host facts.
    pub sysinfo: SysInfo,
    /// Storage pool usage by pool name, from the pools' directories on the member.
    pub storage_pools: serde_json::Map<String, serde_json::Value>,
}

/// LXD's `ClusterMemberSysInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SysInfo {
    /// Seconds since boot.
    pub uptime: i64,
    /// 1, 5 and 15 minute load averages.
    pub load_averages: Vec<f64>,
    /// Bytes of memory.
    pub total_ram: u64,
    /// Bytes of free memory.
    pub free_ram: u64,
    /// Bytes of shared memory.
    pub shared_ram: u64,
    /// Bytes of buffers.
    pub buffered_ram: u64,
    /// Bytes of swap.
    pub total_swap: u64,
    /// Bytes of free swap.
    pub free_swap: u64,
    /// Number of processes.
    pub processes: u64,
}

/// Reads the host's facts from /proc texts (pure, so it is tested on fixed input).
pub fn parse_sysinfo(uptime: &str, loadavg: &str, meminfo: &str) -> SysInfo {
    let kib = |key: &str| {
        meminfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |v| v * 1024)
    };
    let load: Vec<&str> = loadavg.split_whitespace().collect();
    SysInfo {
        uptime: uptime
            .split_whitespace()
            .next()
            .and_then(|u| u.parse::<f64>().ok())
            .map_or(0, |u| u as i64),
        load_averages: load.iter().take(3).filter_map(|l| l.parse().ok()).collect(),
        total_ram: kib("MemTotal:"),
        free_ram: kib("MemFree:"),
        shared_ram: kib("Shmem:"),
        buffered_ram: kib("Buffers:"),
        total_swap: kib("SwapTotal:"),
        free_swap: kib("SwapFree:"),
        processes: load
            .get(3)
            .and_then(|p| p.split('/').nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    }
}

async fn local(node: &Node) -> MemberState {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    MemberState {
        sysinfo: parse_sysinfo(
            &read("/proc/uptime"),
            &read("/proc/loadavg"),
            &read("/proc/meminfo"),
        ),
        storage_pools: crate::storage::pools::local_usage(node).await,
    }
}

/// The live state of member `name`, asked of that member.
pub async fn get(node: &Node, name: &str) -> Result<MemberState> {
    let member = super::members::get(node, name).await?;
    if super::members::own_name(node).await.ok().as_deref() == Some(name) {
        return Ok(local(node).await);
    }
    let address = member.url.trim_start_matches("https://").to_owned();
    let down = || Error::Unavailable(format!("Peer cluster member {name} at {address} is down"));
    if member.status == corral_shared::api::MemberStatus::Offline {
        return Err(down());
    }
    match Peers::of(node)?.member(&address).state(name).await {
        Ok(state) => Ok(state),
        Err(PeerError::Unexpected { reason, .. }) => Err(Error::Internal(format!(
            "malformed state from {name}: {reason}"
        ))),
        Err(_) => Err(down()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysinfo_is_read_from_proc() {
        let info = parse_sysinfo(
            "12345.67 2000.00\n",
            "0.50 0.25 0.10 2/345 6789\n",
            "MemTotal:       2048 kB\nMemFree:         1024 kB\nBuffers:           16 kB\nShmem:              8 kB\nSwapTotal:          0 kB\nSwapFree:           0 kB\n",
        );
        assert_eq!(info.uptime, 12345);
        assert_eq!(info.load_averages, vec![0.5, 0.25, 0.1]);
        assert_eq!(info.total_ram, 2048 * 1024);
        assert_eq!(info.free_ram, 1024 * 1024);
        assert_eq!(info.processes, 345);
    }
}
