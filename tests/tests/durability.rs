//! Durability: every write acknowledged to a client survives a SIGKILL of the daemon.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use corral_daemon::raft::state_machine::FAIL_APPLY_ENV;
use corral_tests::{Member, wait_until};

#[test]
fn every_acknowledged_config_write_survives_sigkill() {
    let mut node1 = Member::start("node1");
    node1.bootstrap();

    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let client = node1.client();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                for i in 0..100_000u32 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("user.write{i}");
                    let body = serde_json::json!({ "config": { &key: i.to_string() } });
                    match client.patch("/1.0", &body, None).await {
                        Ok(_) => {
                            acknowledged
                                .lock()
                                .expect("lock")
                                .insert(key, i.to_string());
                        }
                        // The daemon died under us: unacknowledged writes may go either way.
                        Err(_) => break,
                    }
                }
            })
        })
    };
    // Kill in the middle of the stream, once a good number of writes were acknowledged.
    wait_until(
        "50 acknowledged writes",
        std::time::Duration::from_secs(60),
        || (acknowledged.lock().expect("lock").len() >= 50).then_some(()),
    );
    node1.kill();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("the writer thread ends");

    node1.restart();
    let out = node1.corral(&["query", "/1.0"]);
    let server: serde_json::Value = serde_json::from_str(out.ok()).expect("JSON");
    let config = &server["config"];
    let acknowledged = acknowledged.lock().expect("lock");
    for (key, value) in acknowledged.iter() {
        assert_eq!(
            config[key],
            value.as_str(),
            "acknowledged write {key} was lost"
        );
    }
}

/// A member whose Raft stops by itself (here: applying an entry fails as a disk error
/// would) exits and says why, rather than staying up unable to vote or replicate; started
/// again it applies the entry and serves.
#[test]
fn a_member_whose_raft_stops_exits_and_recovers_on_restart() {
    const MARKER: &str = "corral-fail-here";
    let mut node1 = Member::new("node1").with_env(FAIL_APPLY_ENV, MARKER);
    node1.launch();
    node1.bootstrap();

    let write = node1.corrald(
        &[
            "sql",
            "global",
            &format!("UPDATE config SET value = value WHERE key = '{MARKER}'"),
        ],
        None,
    );
    write.failed();
    wait_until(
        "corrald to exit",
        std::time::Duration::from_secs(20),
        || (!node1.is_running()).then_some(()),
    );
    let log = node1.log();
    assert!(log.contains("the database's Raft stopped"), "{log}");

    node1.kill();
    node1.set_env(FAIL_APPLY_ENV, "");
    node1.restart();
    node1.corral(&["config", "set", "user.after", "yes"]).ok();
    assert_eq!(
        node1.corral(&["config", "get", "user.after"]).ok().trim(),
        "yes"
    );
}
