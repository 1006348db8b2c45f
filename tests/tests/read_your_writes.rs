//! Reads reflect every acknowledged write, on any member: writers on every member at once,
//! each reading back its own write and every other writer's, through `GET /1.0` and member
//! listings; then a member that fell behind (paused while another wrote) read the moment it
//! is back. An answer older than a write acknowledged before the read began is a failure
//! (unless the member marked it as its unconfirmed local copy, which a healthy cluster
//! should seldom need and the test bounds).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use corral_shared::client::{Client, Response};
use corral_tests::{Cluster, Member, leader_name, wait_for_roles, wait_until};

/// Rounds each member's writer runs; three writers make the "at least 1000".
const ROUNDS: u64 = 340;

/// Times a member is paused while another writes, then read at once.
const PAUSES: u64 = 30;

/// What the readers know was acknowledged: per writer, the last value of its config key
/// and of its member's description.
struct Acked {
    config: [AtomicU64; 3],
    description: [AtomicU64; 3],
}

/// What the readers saw.
#[derive(Default)]
struct Tally {
    reads: AtomicUsize,
    marked: AtomicUsize,
    stale: Mutex<Vec<String>>,
    failures: Mutex<Vec<String>>,
}

fn key(writer: usize) -> String {
    format!("user.rw{writer}")
}

/// The number a value written as "vN" or "dN" carries (0 when unset).
fn number(value: Option<&str>) -> u64 {
    value
        .and_then(|v| v.get(1..))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn block_on<F: std::future::Future>(runtime: &tokio::runtime::Runtime, f: F) -> F::Output {
    runtime.block_on(f)
}

/// Checks one answer: `seen[w]` must be at least `floor[w]` for every writer, unless the
/// answer is marked as a member's unconfirmed copy.
fn judge(tally: &Tally, what: &str, response: &Response, seen: [u64; 3], floor: [u64; 3]) {
    tally.reads.fetch_add(1, Ordering::Relaxed);
    if response.stale.is_some() {
        tally.marked.fetch_add(1, Ordering::Relaxed);
        return;
    }
    for w in 0..3 {
        if seen[w] < floor[w] {
            tally.stale.lock().unwrap().push(format!(
                "{what}: writer {w}'s value {} was acknowledged before the read began, the answer had {}",
                floor[w], seen[w]
            ));
        }
    }
}

fn floors(of: &[AtomicU64; 3]) -> [u64; 3] {
    [0, 1, 2].map(|w| of[w].load(Ordering::SeqCst))
}

fn config_seen(response: &Response) -> [u64; 3] {
    let config = &response.envelope.metadata["config"];
    [0, 1, 2].map(|w| number(config[key(w)].as_str()))
}

fn descriptions_seen(response: &Response, names: &[String]) -> [u64; 3] {
    let members = response
        .envelope
        .metadata
        .as_array()
        .cloned()
        .unwrap_or_default();
    [0, 1, 2].map(|w| {
        let member = members
            .iter()
            .find(|m| m["server_name"] == names[w].as_str());
        number(member.and_then(|m| m["description"].as_str()))
    })
}

/// Writer `me`: on its own member, set its key and its member's description, then read
/// both back on its member and on another, round after round. The writers write at the same
/// time, then wait for each other before reading: a read then follows the last write with
/// nothing else in flight, when a replica is likeliest to lag behind.
fn writer(me: usize, ctx: &Context<'_>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let own = &ctx.clients[me];
    let fail = |what: String| ctx.tally.failures.lock().unwrap().push(what);
    for round in 1..=ROUNDS {
        let other = &ctx.clients[(me + 1 + round as usize % 2) % 3];

        let body = serde_json::json!({"config": {key(me): format!("v{round}")}});
        match block_on(&runtime, own.patch("/1.0", &body, None)) {
            Ok(_) => ctx.acked.config[me].store(round, Ordering::SeqCst),
            Err(e) => fail(format!("writer {me} round {round}: config write: {e}")),
        }
        ctx.written.wait();
        for (reader, at) in [(own, "own member"), (other, "another member")] {
            let floor = floors(&ctx.acked.config);
            let what = format!("writer {me} round {round}, GET /1.0 on {at}");
            match block_on(&runtime, reader.request("GET", "/1.0", None, None)) {
                Ok(response) => judge(ctx.tally, &what, &response, config_seen(&response), floor),
                Err(e) => fail(format!("{what}: {e}")),
            }
        }

        let path = format!("/1.0/cluster/members/{}", ctx.names[me]);
        let body = serde_json::json!({"description": format!("d{round}")});
        match block_on(&runtime, own.patch(&path, &body, None)) {
            Ok(_) => ctx.acked.description[me].store(round, Ordering::SeqCst),
            Err(e) => fail(format!("writer {me} round {round}: description write: {e}")),
        }
        ctx.written.wait();
        let floor = floors(&ctx.acked.description);
        let what = format!("writer {me} round {round}, member listing on another member");
        let listing = other.request("GET", "/1.0/cluster/members?recursion=1", None, None);
        match block_on(&runtime, listing) {
            Ok(response) => {
                let seen = descriptions_seen(&response, ctx.names);
                judge(ctx.tally, &what, &response, seen, floor)
            }
            Err(e) => fail(format!("{what}: {e}")),
        }
    }
}

/// What the writers share.
struct Context<'a> {
    clients: &'a [Client],
    names: &'a [String],
    acked: &'a Acked,
    tally: &'a Tally,
    /// Where the writers wait for each other's writes.
    written: &'a Barrier,
}

/// Whether the process is stopped (SIGSTOP), from its `/proc` state.
fn stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name's closing parenthesis.
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
}

fn signal(member: &Member, sig: i32) {
    let pid = member.pid().expect("the member runs");
    // SAFETY: kill(2) on a child process this test started; no memory is involved.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "signal {sig} to {}", member.name);
}

/// A follower paused while a write goes through another member, then asked at once: its
/// replica is behind when the request arrives, and the answer must still hold the write.
fn lagging_member_rounds(cluster: &Cluster, tally: &Tally) {
    let leader = leader_name(&cluster[0].members()).expect("a leader");
    let lagger = cluster
        .members()
        .iter()
        .find(|m| m.name != leader)
        .expect("a follower");
    let writer = cluster
        .members()
        .iter()
        .find(|m| m.name != lagger.name)
        .expect("another member")
        .client();
    let reader = lagger.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pid = lagger.pid().expect("the member runs");
    for round in 1..=PAUSES {
        signal(lagger, libc::SIGSTOP);
        wait_until("the member to stop", Duration::from_secs(5), || {
            stopped(pid).then_some(())
        });
        let body = serde_json::json!({"config": {"user.lag": format!("v{round}")}});
        let written = block_on(&runtime, writer.patch("/1.0", &body, None));
        signal(lagger, libc::SIGCONT);
        written.expect("the write goes through without the paused member");
        let response = block_on(&runtime, reader.request("GET", "/1.0", None, None))
            .expect("GET /1.0 on the member back from its pause");
        let seen = number(response.envelope.metadata["config"]["user.lag"].as_str());
        let what = format!("pause {round}, GET /1.0 on {}", lagger.name);
        judge(tally, &what, &response, [seen, 0, 0], [round, 0, 0]);
    }
}

#[test]
fn every_member_reads_every_acknowledged_write() {
    let cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    let clients: Vec<Client> = cluster.members().iter().map(|m| m.client()).collect();
    let names: Vec<String> = cluster.members().iter().map(|m| m.name.clone()).collect();
    let acked = Acked {
        config: Default::default(),
        description: Default::default(),
    };
    let tally = Tally::default();
    let written = Barrier::new(3);
    let ctx = Context {
        clients: &clients,
        names: &names,
        acked: &acked,
        tally: &tally,
        written: &written,
    };

    let started = Instant::now();
    std::thread::scope(|s| {
        for me in 0..3 {
            let ctx = &ctx;
            s.spawn(move || writer(me, ctx));
        }
    });
    lagging_member_rounds(&cluster, &tally);
    let took = started.elapsed();

    let failures = tally.failures.lock().unwrap();
    assert!(failures.is_empty(), "requests failed: {failures:#?}");
    let stale = tally.stale.lock().unwrap();
    let reads = tally.reads.load(Ordering::Relaxed);
    let marked = tally.marked.load(Ordering::Relaxed);
    eprintln!(
        "{} rounds and {PAUSES} pauses, {reads} reads in {took:?}; {marked} marked as a local copy",
        3 * ROUNDS
    );
    assert!(
        stale.is_empty(),
        "{} of {reads} reads missed an acknowledged write, first: {:?}",
        stale.len(),
        stale.iter().take(5).collect::<Vec<_>>()
    );
    // A healthy cluster confirms its reads; a marked answer is honest but should be rare.
    assert!(
        marked * 100 <= reads,
        "{marked} of {reads} reads could not be confirmed current in a healthy cluster"
    );
    assert!(took < Duration::from_secs(120), "the rounds took {took:?}");
}
