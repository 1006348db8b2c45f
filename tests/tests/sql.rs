//! `corrald sql local|global`: reads print LXD's tables, writes to the global database go
//! through Raft and reach every member, and the query may come from standard input.

use std::time::Duration;

use corral_tests::{Cluster, wait_for_roles, wait_until};

#[test]
fn sql_reads_both_databases_and_replicates_global_writes() {
    let cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);

    // The seed's way to see the Raft configuration.
    let raft_nodes = cluster[0].corrald(&["sql", "local", "SELECT * FROM raft_nodes"], None);
    let text = raft_nodes.ok();
    assert!(text.starts_with("+----+"), "{text}");
    assert!(
        text.contains("| id |") && text.contains("| role |"),
        "{text}"
    );
    for m in cluster.members() {
        assert!(
            text.contains(&m.address),
            "{} missing from\n{text}",
            m.address
        );
    }

    // A write on one member is replicated to the others.
    let write = cluster[1].corrald(
        &[
            "sql",
            "global",
            "INSERT INTO config (key, value) VALUES ('user.sql', 'yes')",
        ],
        None,
    );
    assert_eq!(write.ok(), "Rows affected: 1\n");
    wait_until("the write to reach node3", Duration::from_secs(10), || {
        let read = cluster[2].corrald(
            &[
                "sql",
                "global",
                "SELECT value FROM config WHERE key = 'user.sql'",
            ],
            None,
        );
        read.stdout.contains("| yes   |").then_some(())
    });
    assert_eq!(
        cluster[0]
            .corral(&["config", "get", "user.sql"])
            .ok()
            .trim(),
        "yes"
    );

    // Several statements from standard input: one table each, as lxd prints them.
    let both = cluster[2].corrald(
        &["sql", "global", "-"],
        Some("SELECT key FROM config WHERE key = 'user.sql';\nSELECT count(*) AS n FROM nodes;\n"),
    );
    let text = both.ok();
    assert!(text.starts_with("=> Query 0:\n\n"), "{text}");
    assert!(text.contains("=> Query 1:\n\n"), "{text}");
    assert!(
        text.contains("| user.sql |") && text.contains("| 3 |"),
        "{text}"
    );

    // SQL errors carry SQLite's words; a write that fails on apply changes nothing.
    let bad = cluster[0].corrald(&["sql", "global", "SELECT * FROM nowhere"], None);
    assert!(bad.failed().contains("no such table: nowhere"), "{bad:?}");
    let duplicate = cluster[0].corrald(
        &[
            "sql",
            "global",
            "UPDATE config SET value = 'no' WHERE key = 'user.sql'; INSERT INTO config (key, value) VALUES ('user.sql', 'again')",
        ],
        None,
    );
    assert!(duplicate.failed().contains("UNIQUE"), "{duplicate:?}");
    assert_eq!(
        cluster[0]
            .corral(&["config", "get", "user.sql"])
            .ok()
            .trim(),
        "yes"
    );

    // Mixing queries and writes is refused before anything runs.
    let mixed = cluster[0].corrald(
        &[
            "sql",
            "global",
            "DELETE FROM config WHERE key = 'user.sql'; SELECT * FROM config",
        ],
        None,
    );
    assert!(mixed.failed().contains("separate"), "{mixed:?}");
}
