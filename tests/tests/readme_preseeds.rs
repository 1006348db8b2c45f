//! README's preseed sequence, as README writes it, on real daemons: `bootstrap.yaml` on
//! node1, `corral cluster add node2` and its token pasted into `join-token.yaml` on node2,
//! `join-password.yaml` with node1's `cluster.crt` copied next to it on node3.
//!
//! The only substitutions are the ones README tells the reader to make: the token in place
//! of its placeholder, and README's addresses (127.0.0.N:8443) replaced by this test's own
//! free loopback addresses, since another test or program may hold port 8443.

use std::path::Path;
use std::process::Command;

use corral_tests::{Member, asset, corrald_bin};

const TOKEN_PLACEHOLDER: &str = "<paste the token from corral cluster add>";

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
        .expect("README.md")
}

/// An example preseed with README's addresses moved to the members' own.
fn example(name: &str, members: &[&Member]) -> String {
    let mut text = std::fs::read_to_string(asset(&format!("preseed/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    for (i, m) in members.iter().enumerate() {
        text = text.replace(&format!("127.0.0.{}:8443", i + 1), &m.address);
    }
    text
}

/// Runs `corrald ARGS` for `member` from `cwd`, as a person in that directory would.
fn corrald_in(cwd: &Path, member: &Member, args: &[&str]) -> String {
    let out = Command::new(corrald_bin())
        .current_dir(cwd)
        .env("CORRAL_DIR", member.dir())
        .args(args)
        .output()
        .expect("corrald runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "corrald {args:?} for {} failed:\n{stdout}{stderr}",
        member.name
    );
    stdout.into_owned()
}

#[test]
fn readme_shows_the_commands_this_test_runs() {
    let text = readme();
    for line in [
        "corrald init --preseed assets/preseed/bootstrap.yaml",
        "corral cluster add node2",
        "cp assets/preseed/join-token.yaml .",
        "corrald init --preseed join-token.yaml",
        "cp assets/preseed/join-password.yaml . && cp \"$NODE1_DIR/cluster.crt\" .",
        "corrald init --preseed join-password.yaml",
        TOKEN_PLACEHOLDER,
        "127.0.0.1:8443 for node1, 127.0.0.2:8443 for node2",
    ] {
        assert!(text.contains(line), "README no longer says {line:?}");
    }
}

#[test]
fn readme_preseed_sequence_forms_a_three_member_cluster() {
    let node1 = Member::start("node1");
    let node2 = Member::start("node2");
    let node3 = Member::start("node3");
    let members = [&node1, &node2, &node3];
    let desks: Vec<tempfile::TempDir> = members
        .iter()
        .map(|_| tempfile::tempdir().expect("a working directory"))
        .collect();

    // node1: corrald init --preseed bootstrap.yaml
    let bootstrap = desks[0].path().join("bootstrap.yaml");
    std::fs::write(&bootstrap, example("bootstrap.yaml", &members)).expect("write");
    corrald_in(
        desks[0].path(),
        &node1,
        &["init", "--preseed", "bootstrap.yaml"],
    );

    // node1: corral cluster add node2; node2: the token pasted into join-token.yaml.
    let added = node1.corral(&["cluster", "add", "node2"]).ok().to_owned();
    let token = added
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("a token line")
        .trim()
        .to_owned();
    let join_token = example("join-token.yaml", &members);
    assert!(join_token.contains(TOKEN_PLACEHOLDER));
    std::fs::write(
        desks[1].path().join("join-token.yaml"),
        join_token.replace(TOKEN_PLACEHOLDER, &token),
    )
    .expect("write");
    corrald_in(
        desks[1].path(),
        &node2,
        &["init", "--preseed", "join-token.yaml"],
    );

    // node3: join-password.yaml with node1's cluster.crt copied next to it.
    std::fs::write(
        desks[2].path().join("join-password.yaml"),
        example("join-password.yaml", &members),
    )
    .expect("write");
    std::fs::copy(
        node1.dir().join("cluster.crt"),
        desks[2].path().join("cluster.crt"),
    )
    .expect("copy cluster.crt");
    corrald_in(
        desks[2].path(),
        &node3,
        &["init", "--preseed", "join-password.yaml"],
    );

    let listed = node1.members();
    let names: Vec<&str> = listed
        .iter()
        .map(|m| m["server_name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names.len(), 3, "{listed:#?}");
    for name in ["node1", "node2", "node3"] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
        assert_eq!(node1.member(name)["status"], "Online", "{name}");
    }
}
