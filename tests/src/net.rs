//! Network namespaces for partition tests: each member runs in a namespace of its own, wired
//! by a veth pair to a bridge in a "switch" namespace, so a test can cut one member off
//! (`isolate`) and plug it back (`heal`) while the processes keep running. Needs root and
//! `ip` (iproute2); everything is removed when the `Net` is dropped, even after a failure.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A switch and `n` member namespaces on 10.77.0.0/24 (private to these namespaces).
pub struct Net {
    switch: String,
    members: Vec<String>,
    /// Each member's end of its cable, on the switch side.
    ports: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` (iproute2) runs: partition tests need it and root");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What partition tests need, as [`crate::runs_here`] words it.
const NEED: &str = "root for network namespaces";

/// Why network namespaces cannot be made here, if they cannot: they take root and `ip`.
fn unavailable() -> Option<String> {
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
            members: Vec::new(),
            ports: Vec::new(),
        };
        ip(&["netns", "add", &net.switch]);
        ip(&["-n", &net.switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &net.switch, "link", "set", "br0", "up"]);
        for i in 0..n {
            let ns = format!("corral-{tag}-m{i}");
            ip(&["netns", "add", &ns]);
            net.members.push(ns.clone());
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
                &net.switch,
            ]);
            net.ports.push(port.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.ip(i)),
                "dev",
                &cable,
            ]);
            ip(&["-n", &ns, "link", "set", &cable, "up"]);
            ip(&["-n", &net.switch, "link", "set", &port, "master", "br0"]);
            ip(&["-n", &net.switch, "link", "set", &port, "up"]);
        }
        net
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

    /// Cuts member `i` off from every other: its packets go nowhere, its connections hang.
    pub fn isolate(&self, i: usize) {
        ip(&["-n", &self.switch, "link", "set", &self.ports[i], "down"]);
    }

    /// Plugs member `i` back in.
    pub fn heal(&self, i: usize) {
        ip(&["-n", &self.switch, "link", "set", &self.ports[i], "up"]);
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
