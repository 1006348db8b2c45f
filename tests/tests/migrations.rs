//! Schema migrations: databases written by the release before migrations
//! (`tests/fixtures/db-v1`, see its README) open under today's `corrald`, keep their members,
//! config and tokens and record their version; a database newer than this `corrald` is
//! refused by name.

use std::path::Path;
use std::time::Duration;

use corral_tests::Member;
use corral_tests::wait_until;

/// Where the fixture's members listened: their addresses are in the databases.
const FIXTURE: [(&str, &str); 2] = [("m1", "127.33.3.1:18443"), ("m2", "127.33.3.2:18443")];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the directory");
    for entry in std::fs::read_dir(from).expect("read the fixture") {
        let entry = entry.expect("a fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a fixture file");
        }
    }
}

/// A member (not started) whose directory is a copy of the fixture's `name`.
fn from_fixture(name: &str, address: &str) -> Member {
    let mut m = Member::new(name);
    m.address = address.to_owned();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/db-v1")
        .join(name);
    copy_dir(&fixture, m.dir());
    m
}

/// `corrald sql DB "PRAGMA user_version"` on a running member.
fn schema_version(m: &Member, db: &str) -> String {
    let out = m.corrald(&["sql", db, "PRAGMA user_version"], None);
    let text = out.ok();
    text.lines()
        .filter(|l| l.starts_with('|'))
        .nth(1)
        .map(|l| l.trim_matches(|c| c == '|' || c == ' ').to_owned())
        .unwrap_or_else(|| panic!("no value in {text}"))
}

#[test]
fn databases_of_the_release_before_migrations_open_with_their_members_config_and_tokens() {
    let mut members: Vec<Member> = FIXTURE
        .iter()
        .map(|(name, address)| from_fixture(name, address))
        .collect();
    // Both at once: each needs the other for a quorum.
    for m in &mut members {
        m.spawn();
    }
    for m in &members {
        m.wait_ready();
    }
    for m in &members {
        let global = corral_daemon::db::global::schema::VERSION.to_string();
        let local = corral_daemon::db::migrations::latest(corral_daemon::db::local::MIGRATIONS);
        for (db, version) in [("global", global), ("local", local.to_string())] {
            assert_eq!(schema_version(m, db), version, "{}'s {db} database", m.name);
        }
        // Version 2's table is there, empty, on every replica.
        let tokens = m.corrald(
            &[
                "sql",
                "global",
                "SELECT count(*) FROM certificate_add_tokens",
            ],
            None,
        );
        assert!(tokens.ok().contains("| 0 "), "{}", tokens.stdout);
    }
    let m1 = &members[0];
    let listed: Vec<(String, String)> = m1
        .members()
        .iter()
        .map(|m| {
            (
                m["server_name"].as_str().unwrap_or_default().to_owned(),
                m["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("m1".to_owned(), "https://127.33.3.1:18443".to_owned()),
            ("m2".to_owned(), "https://127.33.3.2:18443".to_owned())
        ]
    );
    wait_until("both members online", Duration::from_secs(30), || {
        m1.members()
            .iter()
            .all(|m| m["status"] == "Online")
            .then_some(())
    });
    let threshold = m1.corral(&["config", "get", "cluster.offline_threshold"]);
    assert_eq!(threshold.ok().trim(), "30");
    let tokens = m1.corral(&["cluster", "list-tokens", "--format", "csv"]);
    assert!(tokens.ok().starts_with("m3,"), "{}", tokens.stdout);
    // The migrated cluster still writes: a change made on one member reaches the other.
    m1.corral(&["config", "set", "cluster.offline_threshold", "40"])
        .ok();
    wait_until("the write to reach m2", Duration::from_secs(10), || {
        let out = members[1].corral(&["config", "get", "cluster.offline_threshold"]);
        (out.code == 0 && out.stdout.trim() == "40").then_some(())
    });
}

/// Sets `user_version` in an SQLite file's header (4 bytes, big-endian, at offset 60), as a
/// newer Corral's migration would have: the fixture files hold no WAL, so the header is all.
fn set_user_version(db: &Path, version: u32) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(db)
        .expect("open the database file");
    f.seek(SeekFrom::Start(60)).expect("seek to user_version");
    f.write_all(&version.to_be_bytes())
        .expect("write user_version");
}

#[test]
fn a_database_newer_than_this_corrald_is_refused_by_name() {
    let known_global = corral_daemon::db::global::schema::VERSION;
    let known_local =
        corral_daemon::db::migrations::latest(corral_daemon::db::local::MIGRATIONS) as i64;
    for (db, known) in [("global.db", known_global), ("local.db", known_local)] {
        let mut m = from_fixture("m1", FIXTURE[0].1);
        set_user_version(&m.dir().join("database").join(db), 99);
        m.spawn();
        wait_until(
            "corrald to refuse and exit",
            Duration::from_secs(30),
            || (!m.is_running()).then_some(()),
        );
        let log = m.log();
        for want in [
            db,
            &format!("schema version 99, newer than this corrald knows (up to {known})"),
            "upgrade corrald on this member",
        ] {
            assert!(
                log.contains(want),
                "{want:?} not in the log of {db}:\n{log}"
            );
        }
    }
}
