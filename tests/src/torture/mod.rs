//! `cluster-torture`: concurrent clients on random members read, write and compare-and-set
//! registers through the REST API while a nemesis kills, pauses, partitions, churns and fills
//! the disk; at the end every member is read, and the history is judged for lost writes and
//! for linearizability. See `history` for what a register is.

pub mod checker;
pub mod client;
pub mod history;
pub mod nemesis;
pub mod report;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{Cluster, Net};
use checker::FinalValue;
use client::{Endpoints, Recorder, Session, Workload};
use history::{Op, Outcome};
use nemesis::{Fault, Nemesis, SmallDisk};
use report::{Counts, Report};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the clients run (the nemesis goes on until each kind was injected once).
    pub duration: Duration,
    /// Members formed at the start.
    pub members: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Draws the schedule and every client's choices.
    pub seed: u64,
    /// Fault kinds to inject.
    pub faults: Vec<Fault>,
    /// How many registers the clients share.
    pub registers: usize,
    /// How long an operation may take before its outcome is unknown.
    pub op_timeout: Duration,
    /// Where to keep the history and logs (kept always when given; on failure otherwise).
    pub keep: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(60),
            members: 3,
            clients: 8,
            seed: 1,
            faults: Fault::ALL.to_vec(),
            registers: 3,
            op_timeout: Duration::from_secs(5),
            keep: None,
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same schedule.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Shuffles `items` in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Client number of the final reads in the history.
pub const FINAL_CLIENT: usize = 2000;

/// Runs one torture and reports what it found.
pub fn run(options: &Options) -> Report {
    let root_missing = crate::net::unavailable();
    let mut skipped = Vec::new();
    let mut faults = options.faults.clone();
    if let Some(why) = &root_missing {
        for (kind, need) in [
            (Fault::Partition, "root for network namespaces"),
            (Fault::Disk, "root to mount a small filesystem"),
        ] {
            if faults.contains(&kind) {
                skipped.push(format!("{}: needs {need} ({why})", kind.name()));
            }
        }
        faults.retain(|k| !matches!(k, Fault::Partition | Fault::Disk));
    }
    let workdir = std::env::temp_dir().join(format!(
        "cluster-torture-{}-{}",
        options.seed,
        std::process::id()
    ));
    let logs = workdir.join("logs");
    let _ = std::fs::create_dir_all(&logs);

    // The last member's database lives on a small filesystem the disk fault fills.
    let mut disk: Option<Result<SmallDisk, String>> = None;
    let wants_disk = faults.contains(&Fault::Disk);
    let mut formed = 0;
    let net = root_missing.is_none().then(|| Net::new(0));
    let cluster = Cluster::form_prepared(options.members, net, |m| {
        formed += 1;
        if wants_disk && formed == options.members {
            disk = Some(SmallDisk::mount(m));
        }
    });
    let disk = match disk {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            skipped.push(format!("disk: {e}"));
            faults.retain(|k| *k != Fault::Disk);
            None
        }
        None => None,
    };

    let recorder = Recorder::new();
    let endpoints = Endpoints::default();
    let mut nemesis = Nemesis::new(
        cluster,
        options.seed,
        &recorder,
        &endpoints,
        disk,
        &logs,
        options.op_timeout,
    );
    nemesis.settle(Fault::Kill);
    let workload = Workload {
        registers: options.registers,
        timeout: options.op_timeout,
    };
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..options.clients {
            let (endpoints, recorder, stop) = (&endpoints, &recorder, &stop);
            let seed = options.seed.wrapping_mul(31).wrapping_add(c as u64 + 1);
            s.spawn(move || client::run(c, seed, workload, endpoints, recorder, stop));
        }
        nemesis.run(&faults, started + options.duration);
        nemesis.wind_down();
        stop.store(true, Ordering::Relaxed);
    });
    let duration_s = started.elapsed().as_secs_f64();

    let finals = final_reads(&nemesis, &recorder, options);
    let history = recorder.history();
    let judgement = checker::check(&history);
    let lost_writes = checker::lost_writes(&history, &finals.values);
    let mut faults_by_kind = std::collections::BTreeMap::new();
    for f in &nemesis.injected {
        *faults_by_kind.entry(f.kind).or_insert(0) += 1;
    }
    let mut problems = std::mem::take(&mut nemesis.problems);
    problems.extend(finals.unreadable);
    let mut report = Report {
        seed: options.seed,
        members: options.members,
        clients: options.clients,
        duration_s,
        namespaces: root_missing.is_none(),
        operations: Counts::of(&history),
        faults_by_kind,
        faults: nemesis.injected.clone(),
        skipped_faults: skipped,
        lost_writes,
        anomalies: judgement.anomalies,
        inconclusive: judgement.inconclusive,
        disagreements: disagreements(&finals.values),
        problems,
        crashes: std::mem::take(&mut nemesis.crashes),
        kept: None,
    };
    nemesis.finish();

    let keep = options
        .keep
        .clone()
        .or_else(|| (!report.passed()).then(|| workdir.clone()));
    if let Some(dir) = keep {
        let _ = std::fs::create_dir_all(&dir);
        if dir != workdir {
            copy_logs(&logs, &dir.join("logs"));
        }
        let _ = std::fs::write(dir.join("history.jsonl"), history::to_json_lines(&history));
        report.kept = Some(dir.clone());
        let _ = std::fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        );
    }
    if report.kept.as_deref() != Some(workdir.as_path()) {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    report
}

fn copy_logs(from: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::create_dir_all(to);
    if let Ok(entries) = std::fs::read_dir(from) {
        for e in entries.flatten() {
            let _ = std::fs::copy(e.path(), to.join(e.file_name()));
        }
    }
}

struct Finals {
    values: Vec<FinalValue>,
    unreadable: Vec<String>,
}

/// Reads every register on every member once the cluster has settled (each read is a
/// linearizable read served from that member's own copy, and goes into the history).
fn final_reads(nemesis: &Nemesis, recorder: &Recorder, options: &Options) -> Finals {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the final reads");
    let mut finals = Finals {
        values: Vec::new(),
        unreadable: Vec::new(),
    };
    for member in nemesis.cluster.members() {
        let api =
            corral_shared::client::Client::unix(member.socket()).with_timeout(options.op_timeout);
        for register in 0..options.registers {
            let session = Session {
                client: FINAL_CLIENT,
                member: &member.name,
                register,
                recorder,
                timeout: options.op_timeout,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            let seen = loop {
                if let Some((value, _)) = rt.block_on(session.read(&api)) {
                    break Some(value);
                }
                if Instant::now() >= deadline {
                    break None;
                }
                std::thread::park_timeout(Duration::from_millis(200));
            };
            match seen {
                Some(value) => finals.values.push(FinalValue {
                    member: member.name.clone(),
                    register,
                    value,
                }),
                None => finals.unreadable.push(format!(
                    "{} gave no current read of register {register} within 30 s at the end",
                    member.name
                )),
            }
        }
    }
    finals
}

fn disagreements(finals: &[FinalValue]) -> Vec<String> {
    let mut by_register: std::collections::BTreeMap<usize, Vec<&FinalValue>> =
        std::collections::BTreeMap::new();
    for f in finals {
        by_register.entry(f.register).or_default().push(f);
    }
    by_register
        .into_iter()
        .filter(|(_, values)| values.windows(2).any(|w| w[0].value != w[1].value))
        .map(|(register, values)| {
            let each: Vec<String> = values
                .iter()
                .map(|f| format!("{}={:?}", f.member, f.value))
                .collect();
            format!("register {register}: {}", each.join(", "))
        })
        .collect()
}

/// Whether an operation ended well (for callers filtering a history).
pub fn ok(op: &Op) -> bool {
    op.outcome == Outcome::Ok
}
