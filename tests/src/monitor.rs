//! `corral monitor` running against a member, its output lines read on a thread, so a test
//! waits for the line it expects and fails naming what was printed instead.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Member, corral_bin, wait_until};

/// A running `corral monitor`, killed when dropped.
pub struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Monitor {
    /// Starts `corral monitor ARGS` against `member`.
    pub fn start(member: &Member, args: &[&str]) -> Self {
        let mut child = Command::new(corral_bin())
            .env("CORRAL_DIR", member.dir())
            .arg("monitor")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("corral monitor starts");
        let stdout = child.stdout.take().expect("its output");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line printed within `within`, if any.
    pub fn next_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Waits until the monitor follows: an event made on `member` after its start reaches it.
    pub fn follow(&self, member: &Member) {
        let mut round = 0;
        wait_until("the monitor to follow", Duration::from_secs(10), || {
            round += 1;
            member
                .corral(&["config", "set", "user.probe", &round.to_string()])
                .ok();
            self.next_line(Duration::from_millis(300)).map(drop)
        });
    }

    /// The first line containing `text`, within `within`.
    pub fn line_containing(&self, within: Duration, text: &str) -> String {
        self.first(within, &format!("{text:?}"), |l| l.contains(text))
    }

    /// The first line for which `pick` says yes, within `within`.
    pub fn line(&self, within: Duration, pick: impl Fn(&str) -> bool) -> String {
        self.first(within, "such line", pick)
    }

    fn first(&self, within: Duration, what: &str, pick: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pick(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("corral monitor printed no {what}; it printed {seen:#?}"),
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
