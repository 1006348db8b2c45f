//! `corral demo`: a three-member cluster on loopback, formed the two ways a real one is
//! (node2 joins with a token, node3 with the trust password), shown, and stopped on Ctrl-C.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use clap::Args;
use corral_shared::api::{ClusterMember, MemberStatus, Role, Server};
use corral_shared::client::Client;
use corral_shared::preseed::{ClusterPreseed, Preseed};
use tokio::time::Instant;

use crate::commands::cluster::{member_list, tokens};
use crate::demo::{DaemonProgram, Demo, Member};
use crate::error::CliError;
use crate::format::Format;

/// How long a fresh daemon may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long bootstrapping or joining may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the members may take to be all online with their database roles settled.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The members: name and loopback address.
const MEMBERS: [(&str, &str); 3] = [
    ("node1", "127.0.0.1"),
    ("node2", "127.0.0.2"),
    ("node3", "127.0.0.3"),
];

/// Arguments of `corral demo`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DemoArgs {
    /// Keep the demo's directory (each member's state and log) after it stops
    #[arg(long)]
    pub keep_dir: bool,
    /// Stop right after the cluster is formed and listed, instead of waiting for Ctrl-C
    #[arg(long, hide = true)]
    pub exit_after_formation: bool,
}

/// Runs the demo: form, show, wait, stop, clean up.
pub async fn run(args: DemoArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let corrald = corrald_path()?;
    let mut demo = Demo::new(args.keep_dir)?;
    let formed = tokio::select! {
        formed = form(&mut demo, &corrald, out) => formed,
        _ = interrupted() => Err(CliError::Failed(
            "Interrupted while the cluster was forming".into(),
        )),
    };
    let result = match formed {
        Ok(()) if args.exit_after_formation => Ok(()),
        Ok(()) => run_foreground_ui(&mut demo, out).await,
        Err(e) => Err(e),
    };
    writeln!(out, "Stopping the cluster ...")?;
    demo.stop(out).await?;
    match demo.finish()? {
        Some(kept) => writeln!(out, "Kept {} for inspection", kept.display())?,
        None if result.is_err() && !args.keep_dir => writeln!(
            out,
            "Removed the demo's directory; run 'corral demo --keep-dir' to keep the logs"
        )?,
        None => writeln!(out, "Removed the demo's directory")?,
    }
    result
}

/// The demo's foreground: on a terminal, the dashboard on node1 until the user quits;
/// otherwise (output to a pipe or file) says how to stop and waits for Ctrl-C, reporting a
/// member that exits on its own meanwhile.
pub async fn run_foreground_ui(demo: &mut Demo, out: &mut dyn Write) -> Result<(), CliError> {
    if std::io::stdout().is_terminal() {
        let node1 = demo
            .members
            .first()
            .ok_or_else(|| CliError::Failed("the demo has no member to watch".into()))?;
        // A member killed meanwhile is the dashboard's to show (OFFLINE), not an error;
        // if it is the watched one, the dashboard moves to another member.
        let options = crate::dashboard::Options {
            fallbacks: demo.members[1..]
                .iter()
                .map(|m| m.client().socket().to_path_buf())
                .collect(),
            about: dashboard_about(demo),
        };
        return crate::dashboard::run(node1.client(), options).await;
    }
    writeln!(out, "Press Ctrl-C to stop the cluster.")?;
    let mut interrupt = std::pin::pin!(interrupted());
    loop {
        tokio::select! {
            _ = &mut interrupt => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        for member in &mut demo.members {
            if let Some(status) = member.exited() {
                return Err(member.failure(&format!(
                    "corrald for {} exited on its own ({status})",
                    member.name
                )));
            }
        }
    }
}

/// Resolves once the user asks to stop: Ctrl-C, SIGTERM or SIGHUP.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hangup.recv() => {}
    }
}

/// The daemon the members run: this very `corral`, started as `corrald` (it holds the
/// daemon), so that they always match the console and building `corral` alone suffices.
fn corrald_path() -> Result<DaemonProgram, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find where corral runs from: {e}")))?;
    Ok(DaemonProgram::this_corral(&exe))
}

/// Starts the three daemons, forms the cluster, and prints it.
async fn form(
    demo: &mut Demo,
    corrald: &DaemonProgram,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let password = random_password()?;
    for (name, ip) in MEMBERS {
        let member = demo.start_member(corrald, name, ip)?;
        writeln!(
            out,
            "Starting {name} on {} (pid {}) ...",
            member.address,
            member.pid()
        )?;
    }
    for member in &mut demo.members {
        member.wait_ready(READY_TIMEOUT).await?;
    }
    let [node1, node2, node3] = &demo.members[..] else {
        unreachable!("three members were started");
    };

    let preseed = bootstrap_preseed(&node1.name, &node1.address, &password);
    init(node1, &preseed, "bootstrap the cluster").await?;
    writeln!(out, "Bootstrapped node1: a one-member cluster")?;

    let token = node1
        .client()
        .post(
            "/1.0/cluster/members",
            &serde_json::json!({ "server_name": node2.name }),
        )
        .await
        .and_then(|r| r.operation())
        .map_err(|e| node1.failure(&format!("node1 could not issue a join token: {e}")))?;
    let token = tokens::join_token(&token)
        .ok_or_else(|| node1.failure("node1 answered with an operation that is not a token"))?
        .encode();
    let preseed = token_join_preseed(&node2.name, &node2.address, &token);
    init(node2, &preseed, "join by token").await?;
    writeln!(out, "Joined node2 by token")?;

    let server: Server = node1
        .client()
        .get("/1.0")
        .await
        .map_err(|e| node1.failure(&format!("cannot read node1's certificate: {e}")))?;
    let preseed = password_join_preseed(
        &node3.name,
        &node3.address,
        &node1.address,
        &server.environment.certificate,
        &password,
    );
    init(node3, &preseed, "join by trust password").await?;
    writeln!(out, "Joined node3 by trust password")?;

    let members = settled_members(&node1.client()).await?;
    writeln!(out)?;
    out.write_all(member_list(members, Format::Table)?.as_bytes())?;
    writeln!(out)?;
    out.write_all(how_to_use(demo.path()).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Sends a preseed to a member's `/internal/init` and waits for it to be applied.
async fn init(member: &Member, preseed: &Preseed, what: &str) -> Result<(), CliError> {
    let client = member.client();
    let failed = |e: &dyn std::fmt::Display| {
        member.failure(&format!("{} could not {what}: {e}", member.name))
    };
    let response = client
        .post("/internal/init", preseed)
        .await
        .map_err(|e| failed(&e))?;
    if !response.envelope.operation.is_empty() {
        client
            .wait_operation(&response.envelope.operation, INIT_TIMEOUT)
            .await
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}

/// The members once all three are online and hold a database role, or as they are when
/// that takes longer than [`SETTLE_TIMEOUT`] (the list then shows what is still missing).
async fn settled_members(node1: &Client) -> Result<Vec<ClusterMember>, CliError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let members: Vec<ClusterMember> = node1.get("/1.0/cluster/members?recursion=1").await?;
        if is_settled(&members) || Instant::now() >= deadline {
            return Ok(members);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Three members, all online, each a database voter, one of them the leader.
pub fn is_settled(members: &[ClusterMember]) -> bool {
    members.len() == MEMBERS.len()
        && members
            .iter()
            .all(|m| m.status == MemberStatus::Online && m.roles.contains(&Role::Database))
        && members
            .iter()
            .any(|m| m.roles.contains(&Role::DatabaseLeader))
}

/// What the demo's dashboard shows under its title: what the demo printed before the
/// dashboard covered it.
pub fn dashboard_about(demo: &Demo) -> Vec<String> {
    let pids: Vec<String> = demo
        .members
        .iter()
        .map(|m| format!("{} pid {}", m.name, m.pid()))
        .collect();
    vec![
        format!("demo: {}", pids.join(" · ")),
        format!(
            "from another shell: CORRAL_DIR={}/node1 corral cluster list",
            demo.path().display()
        ),
    ]
}

/// What the demo prints once the cluster is up.
pub fn how_to_use(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "The members keep their state and logs in {dir}.\n\
         To use the cluster from another shell:\n  \
         CORRAL_DIR={dir}/node1 corral cluster list\n"
    )
}

/// node1's preseed: listen on its address, set the trust password, form the cluster.
pub fn bootstrap_preseed(name: &str, address: &str, password: &str) -> Preseed {
    Preseed {
        config: BTreeMap::from([
            ("core.https_address".to_string(), address.to_string()),
            ("core.trust_password".to_string(), password.to_string()),
        ]),
        cluster: Some(ClusterPreseed {
            server_name: name.to_string(),
            enabled: true,
            ..ClusterPreseed::default()
        }),
        ..Preseed::default()
    }
}

/// node2's preseed: join with a token.
pub fn token_join_preseed(name: &str, address: &str, token: &str) -> Preseed {
    Preseed {
        config: BTreeMap::from([("core.https_address".to_string(), address.to_string())]),
        cluster: Some(ClusterPreseed {
            server_name: name.to_string(),
            enabled: true,
            server_address: address.to_string(),
            cluster_token: token.to_string(),
            ..ClusterPreseed::default()
        }),
        ..Preseed::default()
    }
}

/// node3's preseed: join through node1 with the cluster certificate and trust password.
pub fn password_join_preseed(
    name: &str,
    address: &str,
    cluster_address: &str,
    certificate: &str,
    password: &str,
) -> Preseed {
    Preseed {
        cluster: Some(ClusterPreseed {
            server_name: name.to_string(),
            enabled: true,
            server_address: address.to_string(),
            cluster_address: cluster_address.to_string(),
            cluster_certificate: certificate.to_string(),
            cluster_password: password.to_string(),
            ..ClusterPreseed::default()
        }),
        ..Preseed::default()
    }
}

/// A throwaway trust password: 16 random bytes, hex.
fn random_password() -> Result<String, CliError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError::Failed(format!("cannot read /dev/urandom for a password: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use corral_shared::preseed::JoinToken;

    use super::*;

    const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_three_preseeds_are_valid_and_say_what_the_brief_says() {
        let boot = bootstrap_preseed("node1", "127.0.0.1:9000", "pw");
        assert!(boot.is_bootstrap());
        assert_eq!(boot.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(&boot).unwrap(),
            serde_json::json!({
                "config": {"core.https_address": "127.0.0.1:9000", "core.trust_password": "pw"},
                "cluster": {"server_name": "node1", "enabled": true}
            })
        );

        let token = JoinToken {
            server_name: "node2".into(),
            fingerprint: "ab".repeat(32),
            addresses: vec!["127.0.0.1:9000".into()],
            secret: "cd".repeat(32),
            expires_at: "2026-11-23T21:25:04Z".into(),
        }
        .encode();
        let join = token_join_preseed("node2", "127.0.0.2:9001", &token);
        assert!(join.is_join());
        assert_eq!(join.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(&join).unwrap(),
            serde_json::json!({
                "config": {"core.https_address": "127.0.0.2:9001"},
                "cluster": {"server_name": "node2", "enabled": true,
                    "server_address": "127.0.0.2:9001", "cluster_token": token}
            })
        );

        let join = password_join_preseed(
            "node3",
            "127.0.0.3:9002",
            "127.0.0.1:9000",
            CERTIFICATE,
            "pw",
        );
        assert!(join.is_join());
        assert_eq!(join.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(&join).unwrap(),
            serde_json::json!({
                "cluster": {"server_name": "node3", "enabled": true,
                    "cluster_address": "127.0.0.1:9000", "cluster_certificate": CERTIFICATE,
                    "server_address": "127.0.0.3:9002", "cluster_password": "pw"}
            })
        );
    }

    #[test]
    fn the_cluster_is_settled_with_three_online_voters_and_a_leader() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/query_cluster_members_recursion1.json"
        ))
        .unwrap();
        let mut members: Vec<ClusterMember> = serde_json::from_str(&text).unwrap();
        assert!(is_settled(&members));
        members[2].status = MemberStatus::Offline;
        assert!(!is_settled(&members));
        members[2].status = MemberStatus::Online;
        members[2].roles = vec![Role::DatabaseStandby];
        assert!(!is_settled(&members));
        members.pop();
        assert!(!is_settled(&members));
    }

    #[test]
    fn passwords_are_random_hex() {
        let (a, b) = (random_password().unwrap(), random_password().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_closing_lines_say_how_to_reach_the_cluster() {
        assert_eq!(
            how_to_use(Path::new("/tmp/corral-demo-x")),
            "The members keep their state and logs in /tmp/corral-demo-x.\n\
             To use the cluster from another shell:\n  \
             CORRAL_DIR=/tmp/corral-demo-x/node1 corral cluster list\n"
        );
    }
}
