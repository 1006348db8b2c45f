//! The OCI bundle of an instance: where it lives on its member (the storage pool's
//! `containers/NAME`, LXD's layout) and the `config.json` runc runs it from — a system
//! container with its own hostname and pid, mount, uts, ipc and network namespaces,
//! running the image's init.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The storage pool instances' root filesystems go in.
pub const DEFAULT_POOL: &str = "default";

/// The init an instance runs (the image's).
pub const INIT: &str = "/sbin/init";

/// Where an instance's files live on a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The member's data directory (`CORRAL_DIR`).
    pub data_dir: PathBuf,
    /// The pool's directory on this member.
    pub pool_dir: PathBuf,
}

impl Layout {
    /// The layout of a member whose data directory is `data_dir`, with the default pool in
    /// its usual place (`storage-pools/default`) unless `pool_source` says otherwise.
    pub fn new(data_dir: &Path, pool_source: Option<&Path>) -> Self {
        let pool_dir = pool_source
            .map(Path::to_owned)
            .unwrap_or_else(|| data_dir.join("storage-pools").join(DEFAULT_POOL));
        Self {
            data_dir: data_dir.to_owned(),
            pool_dir,
        }
    }

    /// runc's state directory for this member's containers.
    pub fn runc_root(&self) -> PathBuf {
        self.data_dir.join("instances").join("runc")
    }

    /// The bundle directory of instance `name`.
    pub fn bundle(&self, name: &str) -> PathBuf {
        self.pool_dir.join("containers").join(name)
    }

    /// Its root filesystem.
    pub fn rootfs(&self, name: &str) -> PathBuf {
        self.bundle(name).join("rootfs")
    }

    /// Where its console output goes.
    pub fn console(&self, name: &str) -> PathBuf {
        self.bundle(name).join("console.log")
    }

    /// The cgroup its processes go in: named for this member too, so two members on one
    /// host may both run an instance of one name; one level, so runc's delete removes it.
    pub fn cgroup(&self, name: &str) -> String {
        let digest = Sha256::digest(self.runc_root().to_string_lossy().as_bytes());
        format!("/corral-{}-{name}", &hex::encode(digest)[..12])
    }
}

/// Capabilities a system container keeps: runc's defaults, what an init and its services
/// need to manage their own machine (users, files, network inside its namespace), and
/// `CAP_SYS_BOOT` so the init's power-off ends the container (in its pid namespace only).
const CAPABILITIES: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_ADMIN",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_BOOT",
    "CAP_SYS_CHROOT",
];

/// The `config.json` of instance `name` (its hostname), with root filesystem `rootfs`.
pub fn config(name: &str, rootfs: &Path, cgroup: &str) -> Value {
    let caps: Vec<&str> = CAPABILITIES.to_vec();
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [INIT],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
                "container=lxc",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "inheritable": caps,
                "permitted": caps, "ambient": caps,
            },
            "noNewPrivileges": false,
        },
        "root": {"path": rootfs, "readonly": false},
        "hostname": name,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=755"]},
        ],
        "linux": {
            "cgroupsPath": cgroup,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"},
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_has_its_own_namespaces_hostname_and_init() {
        let layout = Layout::new(Path::new("/var/lib/corral"), None);
        assert_eq!(
            layout.rootfs("c1"),
            Path::new("/var/lib/corral/storage-pools/default/containers/c1/rootfs")
        );
        assert_eq!(
            layout.runc_root(),
            Path::new("/var/lib/corral/instances/runc")
        );
        let c = config("c1", &layout.rootfs("c1"), &layout.cgroup("c1"));
        assert_eq!(c["hostname"], "c1");
        assert_eq!(c["process"]["args"], json!([INIT]));
        let kinds: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        for kind in ["pid", "network", "ipc", "uts", "mount"] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        assert!(
            c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .contains(&json!("CAP_SYS_BOOT"))
        );
    }

    #[test]
    fn two_members_on_one_host_use_different_cgroups_and_runc_roots() {
        let a = Layout::new(Path::new("/tmp/m1"), None);
        let b = Layout::new(Path::new("/tmp/m2"), None);
        assert_ne!(a.cgroup("c1"), b.cgroup("c1"));
        assert_ne!(a.runc_root(), b.runc_root());
        let pool = Layout::new(Path::new("/tmp/m1"), Some(Path::new("/srv/pool")));
        assert_eq!(pool.bundle("c1"), Path::new("/srv/pool/containers/c1"));
    }
}
