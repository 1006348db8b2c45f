//! What tests of real instances need: whether this machine runs them (root and runc), a
//! guard that forgets the members' runc containers whatever happens to the test, and the
//! busybox test image imported under alias `busybox`.

use std::path::PathBuf;
use std::process::Command;

use crate::{Member, runs_here, test_image};

/// Whether this machine can run instances (root and runc); says why not, and fails instead
/// under `CORRAL_TEST_REQUIRE_ALL`.
pub fn instances_run_here() -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    let root = unsafe { libc::geteuid() } == 0;
    let runc = Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = match (root, runc) {
        (true, true) => None,
        (false, _) => Some("not running as root".to_owned()),
        (_, false) => Some("runc is not installed: apt-get install runc".to_owned()),
    };
    runs_here("root and runc for real instances", missing)
}

/// The runc state directory of `member`'s containers.
pub fn runc_root(member: &Member) -> PathBuf {
    member.dir().join("instances").join("runc")
}

/// The ids of the containers runc knows under `root`.
pub fn runc_ids(root: &std::path::Path) -> Vec<String> {
    Command::new("runc")
        .arg("--root")
        .arg(root)
        .args(["list", "-q"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Kills and forgets every container runc knows under `root`, as a host reboot leaves none.
pub fn forget_containers(root: &std::path::Path) {
    for id in runc_ids(root) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(root)
            .args(["delete", "--force", &id])
            .output();
    }
}

/// Forgets the members' runc containers when dropped: members are killed on drop, their
/// containers would outlive them.
pub struct Containers(Vec<PathBuf>);

impl Containers {
    /// Guards the containers of `members`.
    pub fn of<'a>(members: impl IntoIterator<Item = &'a Member>) -> Self {
        Self(members.into_iter().map(runc_root).collect())
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for root in &self.0 {
            forget_containers(root);
        }
    }
}

/// Imports the busybox test image through `member` with `corral image import`, under alias
/// `busybox`.
pub fn import_busybox(member: &Member) {
    let image = test_image();
    member
        .corral(&[
            "image",
            "import",
            image.to_str().expect("a UTF-8 path"),
            "--alias",
            "busybox",
        ])
        .ok();
}

/// `corral list --format csv` through `member`, as (name, state, location) rows.
pub fn listing(member: &Member) -> Vec<(String, String, String)> {
    let out = member.corral(&["list", "--format", "csv"]);
    out.ok()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[1].to_owned(), f[6].to_owned())
        })
        .collect()
}
