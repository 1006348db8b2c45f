//! Network namespaces for partition tests: each member runs in a namespace of its own, wired
//! by a veth pair to a bridge in a "switch" namespace, so a test can cut one member off
//! (`isolate`) and plug it back (`heal`), or cut single links (`cut`/`mend`) while the
//! processes keep running. Needs root and `ip` (iproute2); everything is removed when the
//! `Net` is dropped, even after a failure.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// A switch and member namespaces on 10.77.0.0/24 (private to these namespaces).
pub struct Net {
    tag: String,
    switch: String,
    members: Vec<String>,
    /// Each member's end of its cable, inside its namespace.
    cables: Vec<String>,
    /// Each member's end of its cable, on the switch side.
    ports: Vec<String>,
    /// What is broken now: ports pulled out, and links cut (as ordered pairs, low first).
    broken: Mutex<Broken>,
}

#[derive(Default)]
struct Broken {
    isolated: BTreeSet<usize>,
    cut: BTreeSet<(usize, usize)>,
}

/// A link-layer address no namespace has: a neighbour entry pointing there makes every packet
/// to that peer vanish on the bridge, so connections hang as in a real partition (no error
/// comes back, unlike a blackhole route), and needs nothing beyond iproute2.
const NOWHERE: &str = "02:00:00:00:00:01";

fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        format!("`ip` (iproute2) cannot run: {e}; partition tests need it and root")
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) {
    if let Err(e) = run_ip(args) {
        panic!("{e}");
    }
}

/// What partition tests need, as [`crate::runs_here`] words it.
const NEED: &str = "root for network namespaces";

/// Why network namespaces cannot be made here, if they cannot: they take root and `ip`.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("running as uid {euid}"));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!("`ip -V` failed: {}", out.status)),
        Err(e) => Some(format!("`ip` (iproute2) cannot run: {e}")),
    }
}

impl Net {
    /// Whether network namespaces can be made here (root and `ip`); otherwise the calling
    /// test is skipped with one line saying so, or fails under `CORRAL_TEST_REQUIRE_ALL=1`.
    pub fn available() -> bool {
        crate::runs_here(NEED, unavailable())
    }

    /// Creates the switch and `n` member namespaces, all wired up.
    pub fn new(n: usize) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{:x}{}",
            std::process::id() & 0xfffff,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut net = Self {
            switch: format!("corral-{tag}-switch"),
            tag,
            members: Vec::new(),
            cables: Vec::new(),
            ports: Vec::new(),
            broken: Mutex::default(),
        };
        ip(&["netns", "add", &net.switch]);
        ip(&["-n", &net.switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &net.switch, "link", "set", "br0", "up"]);
        for _ in 0..n {
            net.plug();
        }
        net
    }

    /// Adds one more member namespace, wired to the switch; returns its index.
    pub fn plug(&mut self) -> usize {
        let i = self.members.len();
        assert!(i < 250, "a Net holds at most 250 members (10.77.0.0/24)");
        let tag = &self.tag;
        let ns = format!("corral-{tag}-m{i}");
        ip(&["netns", "add", &ns]);
        self.members.push(ns.clone());
        let (cable, port) = (format!("cr{tag}m{i}"), format!("cr{tag}s{i}"));
        ip(&[
            "link",
            "add",
            &cable,
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.switch,
        ]);
        self.cables.push(cable.clone());
        self.ports.push(port.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", self.ip(i)),
            "dev",
            &cable,
        ]);
        ip(&["-n", &ns, "link", "set", &cable, "up"]);
        ip(&["-n", &self.switch, "link", "set", &port, "master", "br0"]);
        ip(&["-n", &self.switch, "link", "set", &port, "up"]);
        i
    }

    /// How many member namespaces there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The namespace member `i` runs in.
    pub fn namespace(&self, i: usize) -> &str {
        &self.members[i]
    }

    /// Member `i`'s `host:port`.
    pub fn address(&self, i: usize) -> String {
        format!("{}:8443", self.ip(i))
    }

    fn ip(&self, i: usize) -> String {
        format!("10.77.0.{}", i + 1)
    }

    fn broken(&self) -> std::sync::MutexGuard<'_, Broken> {
        self.broken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cuts member `i` off from every other: its packets go nowhere, its connections hang.
    pub fn isolate(&self, i: usize) {
        ip(&["-n", &self.switch, "link", "set", &self.ports[i], "down"]);
        self.broken().isolated.insert(i);
    }

    /// Plugs member `i` back in.
    pub fn heal(&self, i: usize) {
        ip(&["-n", &self.switch, "link", "set", &self.ports[i], "up"]);
        self.broken().isolated.remove(&i);
    }

    /// Cuts the link between members `a` and `b` both ways; each still reaches the others.
    pub fn cut(&self, a: usize, b: usize) {
        for (from, to) in [(a, b), (b, a)] {
            ip(&[
                "-n",
                &self.members[from],
                "neigh",
                "replace",
                &self.ip(to),
                "lladdr",
                NOWHERE,
                "nud",
                "permanent",
                "dev",
                &self.cables[from],
            ]);
        }
        self.broken().cut.insert((a.min(b), a.max(b)));
    }

    /// Mends the link between `a` and `b` (their addresses are looked up again).
    pub fn mend(&self, a: usize, b: usize) {
        for (from, to) in [(a, b), (b, a)] {
            // The entry may be gone already (a mend twice): nothing to undo then.
            let _ = run_ip(&[
                "-n",
                &self.members[from],
                "neigh",
                "del",
                &self.ip(to),
                "dev",
                &self.cables[from],
            ]);
        }
        self.broken().cut.remove(&(a.min(b), a.max(b)));
    }

    /// Cuts every link between a member of `one` and a member of `other`.
    pub fn split(&self, one: &[usize], other: &[usize]) {
        for &a in one {
            for &b in other {
                self.cut(a, b);
            }
        }
    }

    /// Undoes every isolation and cut.
    pub fn heal_all(&self) {
        let (isolated, cut) = {
            let b = self.broken();
            (b.isolated.clone(), b.cut.clone())
        };
        for i in isolated {
            self.heal(i);
        }
        for (a, b) in cut {
            self.mend(a, b);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace removes its ends of the cables too.
        for ns in self.members.iter().chain([&self.switch]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
