//! A member whose data directory fills up: writes through it are refused with a clear error
//! naming the member, the directory and what to do; the others carry on; nothing
//! acknowledged is lost; once space returns the member works again without a restart.
//! The directory lives on a small tmpfs made for the test (mounting needs root).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use corral_tests::{Cluster, Member, runs_here, wait_until};

/// A tmpfs mounted on a member's directory, unmounted when dropped (a failed test too).
/// Lazily: the member's daemon may still hold files there until the cluster is dropped.
struct SmallFilesystem(PathBuf);

impl SmallFilesystem {
    fn mount(dir: &Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount a tmpfs on {}", dir.display());
        Self(dir.to_owned())
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Why this machine cannot mount a filesystem, if it cannot (tried on a scratch directory).
fn cannot_mount() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(scratch.path())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let _ = Command::new("umount").arg(scratch.path()).status();
            None
        }
        Ok(out) => Some(format!(
            "mount -t tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("mount cannot run: {e}")),
    }
}

/// Fills the filesystem holding `dir` with one file, to the last byte; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("the filler file");
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    // The last partial chunk, down to single bytes.
    while file.write_all(&[0]).is_ok() {}
    path
}

/// Sets `key` to `value` through `member`: the status and body.
fn write(member: &Member, key: &str, value: &str) -> (u16, String) {
    let body = serde_json::json!({ "config": { key: value } }).to_string();
    member.raw("PATCH", "/1.0", Some(&body))
}

/// Writes through `member` until one is acknowledged (bounded), recording it.
fn write_acknowledged(member: &Member, key: &str, acknowledged: &mut BTreeMap<String, String>) {
    let value = format!("{key}-value");
    wait_until(
        &format!(
            "a write of {key} through {} to be acknowledged",
            member.name
        ),
        Duration::from_secs(30),
        || (write(member, key, &value).0 == 200).then_some(()),
    );
    acknowledged.insert(key.to_owned(), value);
}

/// The server config as `member` reads it.
fn config(member: &Member) -> serde_json::Value {
    let (status, body) = member.raw("GET", "/1.0", None);
    assert_eq!(status, 200, "GET /1.0 through {}: {body}", member.name);
    let reply: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    reply["metadata"]["config"].clone()
}

/// Runs the scenario with member `full` (0-based) on a 24 MiB filesystem.
fn a_full_data_directory(full: usize) {
    if !runs_here("root, to mount a small filesystem", cannot_mount()) {
        return;
    }
    // Declared before the cluster, dropped after it: the daemons die, then it is unmounted.
    let mut small = None;
    let name = format!("node{}", full + 1);
    let mut cluster = Cluster::form_prepared(3, None, |m| {
        if m.name == name {
            small = Some(SmallFilesystem::mount(m.dir(), "24m"));
        }
    });
    let mut acknowledged = BTreeMap::new();
    for i in 0..3 {
        write_acknowledged(&cluster[i], &format!("user.before{i}"), &mut acknowledged);
    }

    let filler = fill(cluster[full].dir());
    let database = cluster[full].dir().join("database");
    for n in 0..3 {
        let (status, body) = write(&cluster[full], &format!("user.refused{n}"), "x");
        assert_eq!(status, 503, "a write through the full member: {body}");
        for part in [
            format!("member {name} cannot store database changes"),
            format!("its data directory {} has", database.display()),
            "free space on that filesystem".to_owned(),
        ] {
            assert!(body.contains(&part), "{part:?} missing from: {body}");
        }
    }
    // The others go on (a full leader's Raft stops on its first write and they elect
    // another); the full member's own Raft stops when a replicated entry finds no room.
    for (i, member) in cluster.members().iter().enumerate() {
        if i != full {
            for n in 0..5 {
                write_acknowledged(
                    member,
                    &format!("user.while_full{i}_{n}"),
                    &mut acknowledged,
                );
            }
        }
    }
    assert!(
        cluster[full].is_running(),
        "the full member stays up (it ended with {:?}): {}",
        cluster[full].exit_status(),
        cluster[full].log()
    );

    // A read through it is either current or refused with the same explanation.
    let (status, body) = cluster[full].raw("GET", "/1.0", None);
    assert!(
        status == 200 || body.contains(&format!("member {name} cannot store database changes")),
        "a read through the full member: {status} {body}"
    );

    std::fs::remove_file(&filler).expect("the filler goes");
    let recovered = &cluster[full];
    wait_until(
        &format!("{name} to take writes again once space returned"),
        Duration::from_secs(60),
        || (write(recovered, "user.after", "back").0 == 200).then_some(()),
    );
    acknowledged.insert("user.after".into(), "back".into());
    wait_until(&format!("{name} ONLINE"), Duration::from_secs(30), || {
        let members = cluster[0].members();
        let me = members.iter().find(|m| m["server_name"] == name.as_str())?;
        (me["status"] == "Online").then_some(())
    });
    for member in cluster.members() {
        let seen = config(member);
        for (key, value) in &acknowledged {
            assert_eq!(
                seen[key],
                value.as_str(),
                "acknowledged write {key} read through {}",
                member.name
            );
        }
    }
    assert!(
        cluster[full]
            .log()
            .contains("starting the database's Raft again"),
        "the member restarted its Raft by itself: {}",
        cluster[full].log()
    );
    drop(cluster);
    drop(small);
}

#[test]
fn a_follower_whose_disk_fills_refuses_writes_clearly_and_resumes_when_space_returns() {
    a_full_data_directory(1);
}

#[test]
fn a_leader_whose_disk_fills_lets_the_others_go_on_and_resumes_when_space_returns() {
    a_full_data_directory(0);
}
