//! The nemesis: one fault at a time, on a schedule drawn from the seed, while the clients
//! run: SIGKILL and restart, SIGSTOP/SIGCONT for longer than the leader lease, partitions
//! (isolate the leader, majority/minority, a bridge member seeing both sides), membership
//! churn (join, role change, removal) and a data directory whose filesystem fills up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Rng;
use super::client::{Endpoints, Recorder, Session};
use crate::{Cluster, Member};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// SIGKILL of the leader or a random member, then a restart.
    Kill,
    /// SIGSTOP of the leader or a random member for longer than the leader lease, then SIGCONT.
    Pause,
    /// A network partition (needs the namespaced harness, so root).
    Partition,
    /// A member joins, gets or loses a role, or is removed.
    Churn,
    /// A member's data directory fills up, then space returns (needs root to mount).
    Disk,
}

impl Fault {
    /// Every kind, in the order `--faults` lists them.
    pub const ALL: [Fault; 5] = [
        Fault::Kill,
        Fault::Pause,
        Fault::Partition,
        Fault::Churn,
        Fault::Disk,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::Churn => "churn",
            Fault::Disk => "disk",
        }
    }

    /// Parses a `--faults` list: names separated by commas.
    pub fn parse_list(text: &str) -> Result<Vec<Fault>, String> {
        let mut faults = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let fault = Fault::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    format!(
                        "--faults: {name:?} is not a fault kind; use a comma-separated list of \
                         kill, pause, partition, churn, disk"
                    )
                })?;
            if !faults.contains(&fault) {
                faults.push(fault);
            }
        }
        Ok(faults)
    }
}

/// One fault as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Injected {
    /// Its kind.
    pub kind: Fault,
    /// What exactly was done.
    pub what: String,
    /// When it began and when it was undone, in seconds since the run began.
    pub from_s: f64,
    /// When it was undone.
    pub to_s: f64,
    /// What was seen meanwhile (a probe's answer), if anything.
    pub observed: Vec<String>,
}

/// A small filesystem (tmpfs) mounted on one member's database directory for the run, so the
/// nemesis can fill it; unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    mount: PathBuf,
    member: String,
}

/// The size of the filesystem under the disk member's database.
const DISK_SIZE: &str = "256m";

impl SmallDisk {
    /// Mounts a `DISK_SIZE` tmpfs on `member`'s database directory (before it starts).
    pub fn mount(member: &Member) -> Result<Self, String> {
        let mount = member.dir().join("database");
        std::fs::create_dir_all(&mount).map_err(|e| format!("{}: {e}", mount.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK_SIZE},mode=0700")])
            .arg("tmpfs")
            .arg(&mount)
            .output()
            .map_err(|e| format!("mount cannot run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mounting a tmpfs on {}: {}",
                mount.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            mount,
            member: member.name.clone(),
        })
    }

    fn ballast(&self) -> PathBuf {
        self.mount.join("torture-ballast")
    }

    /// Fills the filesystem to the last byte; returns how much it took.
    fn fill(&self) -> std::io::Result<u64> {
        use std::io::Write;
        let mut file = std::fs::File::create(self.ballast())?;
        let block = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match file.write(&block) {
                Ok(0) => return Ok(written),
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Ok(written),
                Err(e) => return Err(e),
            }
        }
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.ballast());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).output();
    }
}

/// The nemesis and the cluster it torments.
pub struct Nemesis<'a> {
    /// The cluster (members join and leave it).
    pub cluster: Cluster,
    rng: Rng,
    recorder: &'a Recorder,
    endpoints: &'a Endpoints,
    disk: Option<SmallDisk>,
    logs: PathBuf,
    /// Members joined by churn, still members.
    joined: Vec<String>,
    next_name: usize,
    churn_step: usize,
    op_timeout: Duration,
    /// Every fault, in order.
    pub injected: Vec<Injected>,
    /// Whatever went wrong that is not in the history: a member that did not come back, a
    /// cluster that did not settle.
    pub problems: Vec<String>,
    /// Members that stopped by themselves (restarted, as a supervisor would), with why.
    pub crashes: Vec<String>,
}

/// Client number of the nemesis's probe writes in the history.
pub const PROBE_CLIENT: usize = 1000;

/// How long the cluster may take to settle after a fault is undone.
const SETTLE: Duration = Duration::from_secs(60);

impl<'a> Nemesis<'a> {
    /// A nemesis for `cluster`, keeping removed members' logs in `logs`.
    pub fn new(
        cluster: Cluster,
        seed: u64,
        recorder: &'a Recorder,
        endpoints: &'a Endpoints,
        disk: Option<SmallDisk>,
        logs: &Path,
        op_timeout: Duration,
    ) -> Self {
        let next_name = cluster.members().len() + 1;
        let nemesis = Self {
            cluster,
            rng: Rng::new(seed ^ 0x6e656d65736973),
            recorder,
            endpoints,
            disk,
            logs: logs.to_owned(),
            joined: Vec::new(),
            next_name,
            churn_step: 0,
            op_timeout,
            injected: Vec::new(),
            problems: Vec::new(),
            crashes: Vec::new(),
        };
        nemesis.publish();
        nemesis
    }

    /// Tells the clients which members there are.
    fn publish(&self) {
        self.endpoints.set(
            self.cluster
                .members()
                .iter()
                .map(|m| (m.name.clone(), m.socket()))
                .collect(),
        );
    }

    fn seconds(&self) -> f64 {
        self.recorder.now() as f64 / 1e6
    }

    fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            std::thread::park_timeout(left);
        }
    }

    fn between(&mut self, low_ms: u64, high_ms: u64) -> Duration {
        Duration::from_millis(low_ms + self.rng.below((high_ms - low_ms) as usize) as u64)
    }

    /// Runs faults of `kinds` one after another until `until`, and on past it until every
    /// kind was injected at least once (at most two minutes more).
    pub fn run(&mut self, kinds: &[Fault], until: Instant) {
        let give_up = until + Duration::from_secs(120);
        let mut order: Vec<Fault> = Vec::new();
        loop {
            let all_seen = kinds
                .iter()
                .all(|k| self.injected.iter().any(|i| i.kind == *k));
            let now = Instant::now();
            if kinds.is_empty() || (now >= until && all_seen) || now >= give_up {
                return;
            }
            if order.is_empty() {
                order = kinds.to_vec();
                self.rng.shuffle(&mut order);
            }
            let kind = order.pop().expect("refilled above");
            let quiet = self.between(300, 1500);
            self.pause_for(quiet);
            self.inject(kind);
            self.settle(kind);
        }
    }

    fn inject(&mut self, kind: Fault) {
        let from_s = self.seconds();
        let mut observed = Vec::new();
        let what = match kind {
            Fault::Kill => self.kill(),
            Fault::Pause => self.pause(),
            Fault::Partition => self.partition(),
            Fault::Churn => self.churn(),
            Fault::Disk => self.fill_disk(&mut observed),
        };
        match what {
            Ok(what) => self.injected.push(Injected {
                kind,
                what,
                from_s,
                to_s: self.seconds(),
                observed,
            }),
            Err(e) => self
                .problems
                .push(format!("{} at {from_s:.1}s: {e}", kind.name())),
        }
    }

    /// The position of a target: the leader half the time, else any member.
    fn target(&mut self) -> usize {
        let n = self.cluster.members().len();
        if self.rng.below(2) == 0
            && let Some(leader) = self.leader()
        {
            return leader;
        }
        self.rng.below(n)
    }

    fn kill(&mut self) -> Result<String, String> {
        let at = self.target();
        let leader = self.leader() == Some(at);
        self.cluster[at].kill();
        let down = self.between(500, 3000);
        self.pause_for(down);
        self.cluster[at].try_launch()?;
        Ok(format!(
            "SIGKILL {}{} for {down:?}, restarted",
            self.cluster[at].name,
            if leader { " (leader)" } else { "" }
        ))
    }

    fn pause(&mut self) -> Result<String, String> {
        let at = self.target();
        let leader = self.leader() == Some(at);
        // The leader lease is a fraction of a second: a pause of 1 to 3 s outlives it.
        let stopped = self.between(1000, 3000);
        self.cluster[at].pause();
        self.pause_for(stopped);
        self.cluster[at].resume();
        Ok(format!(
            "SIGSTOP {}{} for {stopped:?}, SIGCONT",
            self.cluster[at].name,
            if leader { " (leader)" } else { "" }
        ))
    }

    fn partition(&mut self) -> Result<String, String> {
        if self.cluster.net().is_none() {
            return Err("partitions need the namespaced harness (root)".into());
        }
        let n = self.cluster.members().len();
        let names = |c: &Cluster, side: &[usize]| {
            side.iter()
                .map(|&i| c[i].name.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        let held = self.between(1500, 4000);
        let what = match self.rng.below(3) {
            0 => {
                let leader = self.leader().unwrap_or(0);
                self.cluster.isolate(leader);
                format!("isolate leader {}", self.cluster[leader].name)
            }
            1 => {
                let mut order: Vec<usize> = (0..n).collect();
                self.rng.shuffle(&mut order);
                let (minority, majority) = order.split_at((n - 1) / 2);
                self.cluster.split(minority, majority);
                format!(
                    "split minority [{}] from majority [{}]",
                    names(&self.cluster, minority),
                    names(&self.cluster, majority)
                )
            }
            _ => {
                let bridge = self.rng.below(n);
                let (one, other) = self.cluster.bridge(bridge);
                format!(
                    "bridge {} between [{}] and [{}]",
                    self.cluster[bridge].name,
                    names(&self.cluster, &one),
                    names(&self.cluster, &other)
                )
            }
        };
        self.pause_for(held);
        self.cluster.heal_all();
        Ok(format!("{what} for {held:?}, healed"))
    }

    fn churn(&mut self) -> Result<String, String> {
        let step = self.churn_step % 3;
        self.churn_step += 1;
        match step {
            0 => self.join(),
            1 => self.change_role(),
            _ => match self.joined.last().cloned() {
                Some(name) => self.remove(&name),
                None => self.join(),
            },
        }
    }

    fn join(&mut self) -> Result<String, String> {
        let name = format!("node{}", self.next_name);
        self.next_name += 1;
        let via = self.leader().unwrap_or(0);
        let via_name = self.cluster[via].name.clone();
        self.cluster.try_add(&name, via, |_| {})?;
        self.joined.push(name.clone());
        self.publish();
        Ok(format!("join {name} (token from {via_name})"))
    }

    fn change_role(&mut self) -> Result<String, String> {
        let at = self.rng.below(self.cluster.members().len());
        let name = self.cluster[at].name.clone();
        let has = self.cluster[at]
            .corral(&["cluster", "show", &name])
            .stdout
            .contains("event-hub");
        let verb = if has { "remove" } else { "add" };
        let via = self.leader().unwrap_or(0);
        let out = self.cluster[via].corral(&["cluster", "role", verb, &name, "event-hub"]);
        if out.code != 0 {
            return Err(format!(
                "cluster role {verb} {name} event-hub: {}",
                out.stderr.trim()
            ));
        }
        Ok(format!("cluster role {verb} {name} event-hub"))
    }

    fn remove(&mut self, name: &str) -> Result<String, String> {
        let at = self.cluster.position(name).ok_or("not a member")?;
        let via = (0..self.cluster.members().len())
            .find(|&i| i != at && Some(i) == self.leader())
            .unwrap_or(if at == 0 { 1 } else { 0 });
        // Clients stop choosing it, and what they sent it ends first: once removed, a member
        // answers for itself (a standalone server), not for the cluster.
        self.endpoints.set(
            self.cluster
                .members()
                .iter()
                .filter(|m| m.name != name)
                .map(|m| (m.name.clone(), m.socket()))
                .collect(),
        );
        let drained = Instant::now() + self.op_timeout + Duration::from_secs(2);
        while self.endpoints.busy(name) > 0 && Instant::now() < drained {
            self.pause_for(Duration::from_millis(20));
        }
        let out = self.cluster[via].corral(&["cluster", "remove", name]);
        if out.code != 0 {
            self.publish();
            return Err(format!("cluster remove {name}: {}", out.stderr.trim()));
        }
        self.joined.retain(|n| n != name);
        let mut gone = self.cluster.take(at);
        self.publish();
        gone.kill();
        keep_log(&gone, &self.logs);
        Ok(format!("remove {name}"))
    }

    fn fill_disk(&mut self, observed: &mut Vec<String>) -> Result<String, String> {
        let disk = self
            .disk
            .as_ref()
            .ok_or("no small disk was mounted (root needed)")?;
        let member = disk.member.clone();
        let filled = disk.fill().map_err(|e| format!("filling the disk: {e}"))?;
        let held = self.between(1500, 3500);
        let end = Instant::now() + held;
        // While full, writes through that member are probed (and recorded like any write).
        let mut probes = 0;
        while Instant::now() < end {
            probes += 1;
            let op = self.probe_write(&member, &format!("disk-full-{probes}-{}", self.seconds()));
            if let Some(op) = op {
                observed.push(format!("while full: {}", op.describe()));
            }
            self.pause_for(Duration::from_millis(300));
        }
        if let Some(disk) = &self.disk {
            disk.free();
        }
        Ok(format!(
            "fill {member}'s database filesystem ({} MiB ballast) for {held:?}, freed",
            filled >> 20
        ))
    }

    /// One write through `member`, recorded in the history; the operation as recorded.
    fn probe_write(&self, member: &str, value: &str) -> Option<super::history::Op> {
        let at = self.cluster.position(member)?;
        let api = corral_shared::client::Client::unix(self.cluster[at].socket())
            .with_timeout(self.op_timeout);
        let session = Session {
            client: PROBE_CLIENT,
            member,
            register: 0,
            recorder: self.recorder,
            timeout: self.op_timeout,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(session.write(&api, value.to_owned()));
        self.recorder
            .history()
            .into_iter()
            .rev()
            .find(|op| op.client == PROBE_CLIENT && op.call.written() == Some(value))
    }

    /// The leader's position, as any member answering says.
    pub fn leader(&self) -> Option<usize> {
        let listing = self.listing()?;
        let leader = listing
            .iter()
            .find(|m| crate::roles_of(m).iter().any(|r| r == "database-leader"))?;
        self.cluster.position(leader["server_name"].as_str()?)
    }

    fn listing(&self) -> Option<Vec<serde_json::Value>> {
        self.cluster.members().iter().find_map(|m| {
            let out = m.corral(&["cluster", "list", "--format", "json"]);
            (out.code == 0)
                .then(|| serde_json::from_str(&out.stdout).ok())
                .flatten()
        })
    }

    /// Whether every member is listed Online with one leader, and each takes a read.
    fn healthy(&self) -> bool {
        let Some(listing) = self.listing() else {
            return false;
        };
        listing.len() == self.cluster.members().len()
            && listing.iter().all(|m| m["status"] == "Online")
            && crate::count_role(&listing, "database-leader") == 1
    }

    /// Waits (bounded) for the cluster to settle after `kind`; after a full disk, also for
    /// that member to take writes again.
    pub fn settle(&mut self, kind: Fault) {
        let deadline = Instant::now() + SETTLE;
        self.revive(kind);
        while !self.healthy() {
            self.revive(kind);
            if Instant::now() >= deadline {
                self.problems.push(format!(
                    "after {} at {:.1}s the cluster did not settle within {SETTLE:?} \
                     (every member Online, one leader)",
                    kind.name(),
                    self.seconds()
                ));
                return;
            }
            self.pause_for(Duration::from_millis(250));
        }
        if kind == Fault::Disk
            && let Some(member) = self.disk.as_ref().map(|d| d.member.clone())
        {
            let mut n = 0;
            loop {
                n += 1;
                let value = format!("disk-freed-{n}-{}", self.seconds());
                let op = self.probe_write(&member, &value);
                if op.as_ref().is_some_and(|op| op.is_ok()) {
                    if let Some(last) = self.injected.last_mut() {
                        last.observed
                            .push(format!("after freeing: {}", op.expect("some").describe()));
                    }
                    return;
                }
                if Instant::now() >= deadline {
                    self.problems.push(format!(
                        "{member} took no write within {SETTLE:?} after its disk was freed: {}",
                        op.map(|o| o.describe()).unwrap_or_default()
                    ));
                    return;
                }
                self.pause_for(Duration::from_millis(500));
            }
        }
    }

    /// Restarts members whose process ended by itself (the nemesis restarts the ones it
    /// kills), recording each as a crash with the last error its log shows.
    fn revive(&mut self, after: Fault) {
        let at = self.seconds();
        for i in 0..self.cluster.members().len() {
            if self.cluster[i].is_running() {
                continue;
            }
            let status = self.cluster[i]
                .exit_status()
                .map_or_else(|| "not running".to_owned(), |s| s.to_string());
            let log = self.cluster[i].log();
            let why = log
                .lines()
                .rev()
                .find(|l| l.contains("ERROR") || l.starts_with("Error"))
                .unwrap_or("no error in its log")
                .to_owned();
            let name = self.cluster[i].name.clone();
            // A signal nobody here sent (SIGKILL from outside the run) is told apart from an
            // exit of the daemon's own by the status.
            self.crashes.push(format!(
                "{name} stopped ({status}; found at {at:.1}s, after {}); last error in its log: {}",
                after.name(),
                strip_colours(&why)
            ));
            self.cluster[i].kill();
            if let Err(e) = self.cluster[i].try_launch() {
                self.problems
                    .push(format!("{name} could not be restarted: {e}"));
            }
        }
    }

    /// Undoes everything still in force, waits for the cluster to settle, and copies every
    /// member's log into the log directory.
    pub fn wind_down(&mut self) {
        self.cluster.heal_all();
        for m in self.cluster.members() {
            m.resume();
        }
        if let Some(disk) = &self.disk {
            disk.free();
        }
        self.settle(Fault::Kill);
    }

    /// Stops every member, keeps their logs, and unmounts the small disk.
    pub fn finish(mut self) {
        for m in self.cluster.members_mut() {
            m.kill();
        }
        for m in self.cluster.members() {
            keep_log(m, &self.logs);
        }
        self.disk.take();
    }
}

/// A log line without its terminal colour codes.
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Copies a member's log into `dir` as `<name>.log`.
pub fn keep_log(member: &Member, dir: &Path) {
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{}.log", member.name)), member.log());
}
