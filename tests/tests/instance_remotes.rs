//! `REMOTE:` on the instance commands, as lxc has it: a console whose default remote is one
//! server launches, lists, runs commands in, copies files to and from, configures, stops
//! and deletes an instance on another server named `far:`, and the default server never
//! sees it.

use std::path::PathBuf;
use std::process::Command;

use corral_tests::containers::{Containers, import_busybox, instances_run_here};
use corral_tests::{CommandOutput, Member, corral_bin};

/// The operator's console: its own config directory, the `near` server as its local one.
struct Console {
    conf: tempfile::TempDir,
    local: PathBuf,
}

impl Console {
    fn corral(&self, args: &[&str]) -> CommandOutput {
        let out = Command::new(corral_bin())
            .args(args)
            .env("CORRAL_CONF", self.conf.path().join("corral"))
            .env("CORRAL_DIR", &self.local)
            .env("HOME", self.conf.path())
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .expect("corral runs");
        CommandOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn names(listing: &str) -> Vec<String> {
    listing
        .lines()
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn instance_commands_reach_the_remote_their_prefix_names() {
    if !instances_run_here() {
        return;
    }
    let near = Member::start("near");
    near.bootstrap();
    let far = Member::start("far");
    far.bootstrap();
    let _containers = Containers::of([&near, &far]);
    import_busybox(&far);

    let console = Console {
        conf: tempfile::tempdir().unwrap(),
        local: near.dir().to_owned(),
    };
    let socket = format!("unix://{}", far.socket().display());
    console.corral(&["remote", "add", "far", &socket]).ok();

    let out = console.corral(&[
        "launch",
        "busybox",
        "far:r1",
        "-c",
        "boot.host_shutdown_timeout=2",
    ]);
    assert!(out.ok().contains("Creating r1"), "{out:?}");
    assert_eq!(
        names(console.corral(&["list", "far:", "-f", "csv"]).ok()),
        ["r1"]
    );
    assert!(console.corral(&["list", "-f", "csv"]).ok().is_empty());

    let out = console.corral(&["exec", "far:r1", "--", "hostname"]);
    assert_eq!(out.ok(), "r1\n");

    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("note");
    std::fs::write(&local, "from afar\n").unwrap();
    console
        .corral(&["file", "push", local.to_str().unwrap(), "far:r1/root/note"])
        .ok();
    let out = console.corral(&["file", "pull", "far:r1/root/note", "-"]);
    assert_eq!(out.ok(), "from afar\n");
    console.corral(&["file", "delete", "far:r1/root/note"]).ok();

    // A directory with everything in it, there and back (-r), permission bits kept.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    std::fs::write(tree.join("top.txt"), "top\n").unwrap();
    std::fs::write(tree.join("sub/deeper/leaf.sh"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tree.join("sub/deeper/leaf.sh"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    console
        .corral(&["file", "push", "-r", tree.to_str().unwrap(), "far:r1/root/"])
        .ok();
    let out = console.corral(&[
        "exec",
        "far:r1",
        "--",
        "stat",
        "-c",
        "%a",
        "/root/tree/sub/deeper/leaf.sh",
    ]);
    assert_eq!(out.ok(), "750\n");
    let back = dir.path().join("back");
    std::fs::create_dir(&back).unwrap();
    console
        .corral(&[
            "file",
            "pull",
            "-r",
            "far:r1/root/tree",
            back.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(
        std::fs::read_to_string(back.join("tree/top.txt")).unwrap(),
        "top\n"
    );
    assert_eq!(
        std::fs::read_to_string(back.join("tree/sub/deeper/leaf.sh")).unwrap(),
        "#!/bin/sh\n"
    );
    let out = console.corral(&["file", "pull", "far:r1/root/tree", back.to_str().unwrap()]);
    assert!(out.failed().contains("with -r"), "{out:?}");

    console
        .corral(&["config", "set", "far:r1", "user.role=edge"])
        .ok();
    let out = console.corral(&["config", "get", "far:r1", "user.role"]);
    assert_eq!(out.ok().trim(), "edge");
    let out = console.corral(&["info", "far:r1"]);
    assert!(out.ok().contains("r1"), "{out:?}");

    // The image's tarball comes back as it was imported, named by its fingerprint.
    let exported = tempfile::tempdir().unwrap();
    let out = console.corral(&[
        "image",
        "export",
        "far:busybox",
        exported.path().to_str().unwrap(),
    ]);
    assert!(out.ok().contains("Image exported successfully!"), "{out:?}");
    let fingerprint = corral_tests::fingerprint_of(&corral_tests::test_image());
    let file = exported.path().join(format!("{fingerprint}.tar.gz"));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(corral_tests::test_image()).unwrap()
    );

    // An alias renamed names the same image.
    console
        .corral(&["image", "alias", "rename", "far:busybox", "bb"])
        .ok();
    let out = console.corral(&["image", "alias", "list", "far:", "-f", "csv"]);
    assert!(out.ok().starts_with("bb,"), "{out:?}");
    let out = console.corral(&["image", "alias", "rename", "far:busybox", "x"]);
    assert!(out.failed().contains("Image alias not found"), "{out:?}");

    // One command reaches one remote.
    let out = console.corral(&["start", "far:r1", "r2"]);
    assert!(out.failed().contains("run it once per remote"), "{out:?}");

    console.corral(&["stop", "far:r1", "--force"]).ok();
    console.corral(&["restart", "far:r1", "--force"]).ok();
    console.corral(&["delete", "--force", "far:r1"]).ok();
    assert!(
        console
            .corral(&["list", "far:", "-f", "csv"])
            .ok()
            .is_empty()
    );
}
