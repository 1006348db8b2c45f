//! A terminal for tests of full-screen and interactive commands: a private tmux server
//! (its own socket, no user configuration) running one command in a pane whose screen the
//! test reads and whose size it changes. Dropping it kills the server and what runs in it.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{runs_here, wait_until};

/// tmux on PATH, if installed.
fn find_tmux() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("tmux"))
        .find(|path| path.is_file())
}

/// A tmux pane running one command.
pub struct Pane {
    tmux: PathBuf,
    socket: String,
}

impl Pane {
    /// Whether tmux is here; says why not, or fails under `CORRAL_TEST_REQUIRE_ALL`.
    pub fn available() -> bool {
        let missing = find_tmux().is_none().then(|| {
            "not on PATH; install it (e.g. `apt-get install tmux`) to run this test".to_owned()
        });
        runs_here("tmux", missing)
    }

    /// Runs `command` in a new `width`x`height` pane (check [`Pane::available`] first).
    pub fn start(command: &str, width: u16, height: u16) -> Pane {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let pane = Pane {
            tmux: find_tmux().expect("tmux is installed (Pane::available says)"),
            socket: format!(
                "corral-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let (width, height) = (width.to_string(), height.to_string());
        let out = pane.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "test",
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        pane
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.tmux)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs")
    }

    /// The screen as it is now.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "test"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Reads the screen until `done` holds; fails after `limit` showing the last screen.
    pub fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, limit, || {
                let screen = self.screen();
                let hit = done(&screen).then(|| screen.clone());
                last = screen;
                hit
            })
        }));
        found.unwrap_or_else(|_| panic!("waited for {what}; the screen:\n{last}"))
    }

    /// Types `keys` (tmux key names, or text) into the pane.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "test"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys failed: {out:?}");
    }

    /// Types `text` as it is (no key names).
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "test", "-l", text]);
        assert!(out.status.success(), "tmux send-keys failed: {out:?}");
    }

    /// Changes the pane's size, as a user resizing their terminal window does.
    pub fn resize(&self, width: u16, height: u16) {
        let (width, height) = (width.to_string(), height.to_string());
        let out = self.run(&["resize-window", "-t", "test", "-x", &width, "-y", &height]);
        assert!(out.status.success(), "tmux resize-window failed: {out:?}");
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
