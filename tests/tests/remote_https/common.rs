//! What the HTTPS remote tests share: a laptop (its own CORRAL_CONF, and a CORRAL_DIR where
//! no daemon lives, so only a remote can answer) and questions put to real members.

// Each test file uses its own part of this.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_tests::{CommandOutput, HttpsClient, Member, corral_bin, wait_until};

/// How long one `corral` run may take before the test gives up on it.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The operator's machine: a config directory of its own and no local daemon.
pub struct Laptop {
    conf: tempfile::TempDir,
    /// The CORRAL_DIR where no daemon lives.
    pub no_daemon: tempfile::TempDir,
}

impl Laptop {
    pub fn new() -> Laptop {
        Laptop {
            conf: tempfile::tempdir().expect("a config directory"),
            no_daemon: tempfile::tempdir().expect("an empty CORRAL_DIR"),
        }
    }

    /// The config directory (CORRAL_CONF) corral uses.
    pub fn conf(&self) -> PathBuf {
        self.conf.path().join("corral")
    }

    /// Runs `corral ARGS` here, answering its questions with `stdin`.
    pub fn corral(&self, args: &[&str], stdin: &str) -> CommandOutput {
        let mut child = Command::new(corral_bin())
            .args(args)
            .env("CORRAL_CONF", self.conf())
            .env("CORRAL_DIR", self.no_daemon.path())
            .env("HOME", self.conf.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("corral starts");
        let mut input = child.stdin.take().expect("piped stdin");
        // corral may stop reading early (it refused): a broken pipe is its answer, not ours.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let reader = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
        let what = format!("corral {} to finish", args.join(" "));
        let status = wait_until(&what, COMMAND_LIMIT, || child.try_wait().expect("wait"));
        CommandOutput {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        }
    }

    /// config.yml as written, or "" when there is none.
    pub fn config_yml(&self) -> String {
        std::fs::read_to_string(self.conf().join("config.yml")).unwrap_or_default()
    }

    /// The fingerprint of this laptop's client certificate.
    pub fn client_fingerprint(&self) -> String {
        pem_fingerprint(
            &std::fs::read_to_string(self.conf().join("client.crt")).expect("client.crt"),
        )
    }
}

/// The fingerprint of the certificate in PEM `text`.
pub fn pem_fingerprint(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = corral_shared::preseed::base64::decode(&body).expect("base64 DER");
    corral_shared::fingerprint::of_der(&der)
}

/// The fingerprint of the certificate the member at `address` presents.
pub fn server_fingerprint(address: &str) -> String {
    HttpsClient::new()
        .request(address, "GET", "/1.0", None)
        .server_fingerprint
}

/// The fingerprints in `member`'s trust store.
pub fn trust_store(member: &Member) -> Vec<String> {
    let out = member.corral(&["config", "trust", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(out.ok()).expect("JSON");
    let mut fingerprints: Vec<String> = list
        .iter()
        .map(|c| c["fingerprint"].as_str().expect("a fingerprint").to_owned())
        .collect();
    fingerprints.sort();
    fingerprints
}

/// A one-member cluster of its own (its own cluster certificate) with a trust password.
pub fn standalone(name: &str, password: &str) -> Member {
    let member = Member::start(name);
    member.bootstrap();
    member
        .corral(&["config", "set", "core.trust_password", password])
        .ok();
    member
}

pub fn names(members_json: &str) -> Vec<String> {
    let members: Vec<serde_json::Value> = serde_json::from_str(members_json).expect("JSON");
    let mut names: Vec<String> = members
        .iter()
        .map(|m| m["server_name"].as_str().expect("a name").to_owned())
        .collect();
    names.sort();
    names
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// A certificate add token for client `name`, issued on `member` (`config trust add`).
pub fn trust_token(member: &Member, name: &str) -> String {
    let out = member.corral(&["config", "trust", "add", name, "--quiet"]);
    out.ok().trim().to_owned()
}

/// The names in `member`'s trust store by fingerprint.
pub fn trusted_as(member: &Member, fingerprint: &str) -> Option<String> {
    let out = member.corral(&["config", "trust", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(out.ok()).expect("JSON");
    list.iter()
        .find(|c| c["fingerprint"] == fingerprint)
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
}
