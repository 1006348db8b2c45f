//! The instance commands, top-level verbs as `lxc` has them: `init`, `launch`, `start`,
//! `stop`, `restart`, `delete`, `move`, `rename`, `list`, `info`, `exec`, `file pull|push`, and instance
//! keys through `config get|set|unset NAME ...`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use corral_shared::api::{Instance, InstanceSource, InstanceState, InstancesPost};
use corral_shared::client::Client;
use serde_json::json;

use crate::error::CliError;
use crate::format::Format;

pub mod exec;
pub mod file;
pub mod moves;
pub mod view;

/// How long a create, start, stop or delete may take before the console gives up waiting.
const OPERATION_WAIT: Duration = Duration::from_secs(600);

/// `corral init|launch IMAGE NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CreateArgs {
    /// The image: an alias or a fingerprint (or a unique prefix of one)
    pub image: String,
    /// The new instance's name
    pub name: String,
    /// The member (`node2`) or cluster group (`@gpu`) to place it on
    #[arg(long, value_name = "MEMBER|@GROUP")]
    pub target: Option<String>,
    /// A configuration key for it (repeatable): `-c user.role=web`
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// `corral stop|restart NAME...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StopArgs {
    /// The instances
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Kill them at once instead of a clean shutdown
    #[arg(short, long)]
    pub force: bool,
    /// Seconds a clean shutdown may take before it is forced (default: the instance's
    /// boot.host_shutdown_timeout, else 30)
    #[arg(long)]
    pub timeout: Option<u64>,
}

/// The `file` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum FileCommand {
    /// Copy files out of an instance: `corral file pull c1/etc/hostname .` (`-` for stdout)
    Pull {
        /// `INSTANCE/PATH`... then the local target
        #[arg(required = true, num_args = 2.., value_name = "INSTANCE/PATH... TARGET")]
        paths: Vec<String>,
        /// Copy directories with everything in them (into TARGET, a local directory)
        #[arg(short = 'r', long)]
        recursive: bool,
    },
    /// Copy files into an instance: `corral file push ./motd c1/etc/motd` (`-` for stdin)
    Push {
        /// Local files... then `INSTANCE/PATH`
        #[arg(required = true, num_args = 2.., value_name = "SOURCE... INSTANCE/PATH")]
        paths: Vec<String>,
        /// Copy directories with everything in them (into INSTANCE/PATH, a directory)
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Permission bits, octal (default: the local file's, or 0644)
        #[arg(long)]
        mode: Option<String>,
        /// Owner in the instance
        #[arg(long, default_value_t = 0)]
        uid: u32,
        /// Group in the instance
        #[arg(long, default_value_t = 0)]
        gid: u32,
    },
    /// Delete a file or an empty directory in an instance
    Delete {
        /// `INSTANCE/PATH`
        path: String,
    },
}

/// `corral exec NAME -- COMMAND...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ExecArgs {
    /// The instance
    pub name: String,
    /// The command and its arguments (after `--`)
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Run in a terminal (the default when stdin and stdout are terminals)
    #[arg(
        short = 't',
        long = "force-interactive",
        conflicts_with = "noninteractive"
    )]
    pub interactive: bool,
    /// Run without a terminal: stdin, stdout and stderr kept apart
    #[arg(short = 'T', long = "force-noninteractive")]
    pub noninteractive: bool,
    /// An environment variable for it (repeatable): `--env FOO=bar`
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The directory to run it in
    #[arg(long)]
    pub cwd: Option<String>,
}

/// Parses `-c KEY=VALUE` pairs.
pub fn pairs(args: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(CliError::Usage(format!(
                "Bad key=value pair {a:?}: write it as KEY=VALUE, e.g. -c user.role=web"
            ))),
        })
        .collect()
}

pub(crate) fn instance_path(name: &str) -> String {
    format!("/1.0/instances/{name}")
}

/// Waits for the operation a request started.
pub(crate) async fn finish(
    client: &Client,
    response: corral_shared::client::Response,
) -> Result<(), CliError> {
    let op = response.operation()?;
    client
        .wait_operation(&format!("/1.0/operations/{}", op.id), OPERATION_WAIT)
        .await?;
    Ok(())
}

/// `corral init` (`start`: false) and `corral launch` (`start`: true).
pub async fn create(
    client: &Client,
    args: CreateArgs,
    start: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let post = InstancesPost {
        name: args.name.clone(),
        source: InstanceSource {
            kind: "image".into(),
            alias: args.image.clone(),
            fingerprint: String::new(),
        },
        config: pairs(&args.config)?,
        kind: "container".into(),
        start: false,
        description: String::new(),
    };
    let path = match args.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => format!("/1.0/instances?target={}", escape(t)),
        None => "/1.0/instances".to_owned(),
    };
    writeln!(out, "Creating {}", args.name)?;
    out.flush()?;
    let response = client.post(&path, &post).await?;
    finish(client, response).await?;
    if start {
        writeln!(out, "Starting {}", args.name)?;
        out.flush()?;
        change_state(client, &args.name, "start", false, None).await?;
    }
    Ok(())
}

/// `%`-escapes a query value (`@` included, as LXD's client sends it).
pub(crate) fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `PUT /1.0/instances/NAME/state` and its operation.
pub async fn change_state(
    client: &Client,
    name: &str,
    action: &str,
    force: bool,
    timeout: Option<u64>,
) -> Result<(), CliError> {
    let body = json!({
        "action": action,
        "force": force,
        "timeout": timeout.map_or(-1, |t| t as i64),
    });
    let response = client
        .put(&format!("{}/state", instance_path(name)), &body, None)
        .await?;
    finish(client, response).await
}

/// `corral start NAME...`.
pub async fn start(client: &Client, names: &[String]) -> Result<(), CliError> {
    for name in names {
        change_state(client, name, "start", false, None).await?;
    }
    Ok(())
}

/// `corral stop|restart NAME...`.
pub async fn stop(client: &Client, args: &StopArgs, action: &str) -> Result<(), CliError> {
    for name in &args.names {
        change_state(client, name, action, args.force, args.timeout).await?;
    }
    Ok(())
}

/// `corral delete NAME... [--force]`: a running instance is refused unless forced, then it
/// is stopped first (as lxc does).
pub async fn delete(client: &Client, names: &[String], force: bool) -> Result<(), CliError> {
    for name in names {
        if force {
            let state: InstanceState = client
                .get(&format!("{}/state", instance_path(name)))
                .await?;
            if state.status == corral_shared::api::InstanceStatus::Running {
                change_state(client, name, "stop", true, None).await?;
            }
        }
        let response = client.delete(&instance_path(name)).await?;
        finish(client, response).await?;
    }
    Ok(())
}

/// `corral list`.
pub async fn list(client: &Client, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    // As lxc: the running ones' addresses come with their state.
    let instances: Vec<Instance> = client.get("/1.0/instances?recursion=2").await?;
    out.write_all(view::list(&instances, format)?.as_bytes())?;
    Ok(())
}

/// `corral info NAME`.
pub async fn info(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let instance: Instance = client.get(&instance_path(name)).await?;
    // The state needs the holder; an offline one leaves only what the database knows.
    let state: Option<InstanceState> = client
        .get(&format!("{}/state", instance_path(name)))
        .await
        .ok();
    out.write_all(view::info(&instance, state.as_ref()).as_bytes())?;
    Ok(())
}

/// Whether `config get|set|unset` arguments name an instance: its name comes first, and an
/// instance name, unlike every server key, has no dot (and no `=`).
pub fn names_instance(args: &[String]) -> bool {
    args.len() >= 2 && {
        let first = args[0].rsplit(':').next().unwrap_or(&args[0]);
        !first.is_empty() && !first.contains('.') && !first.contains('=')
    }
}

/// `corral config get NAME KEY`.
pub async fn config_get(
    client: &Client,
    args: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let [name, key] = args else {
        return Err(CliError::Usage(
            "Give the instance and one key: corral config get c1 user.role".into(),
        ));
    };
    let instance: Instance = client.get(&instance_path(name)).await?;
    writeln!(
        out,
        "{}",
        instance.config.get(key).map_or("", String::as_str)
    )?;
    Ok(())
}

/// `corral config set NAME KEY VALUE` or `NAME KEY=VALUE...`; `unset` gives `None` values.
pub async fn config_set(client: &Client, args: &[String], unset: bool) -> Result<(), CliError> {
    let (name, rest) = args.split_first().expect("names_instance checked it");
    let changes: BTreeMap<String, String> = if unset {
        rest.iter().map(|k| (k.clone(), String::new())).collect()
    } else if rest.len() == 2 && !rest[0].contains('=') {
        BTreeMap::from([(rest[0].clone(), rest[1].clone())])
    } else {
        pairs(rest)?
    };
    if changes.is_empty() {
        return Err(CliError::Usage(
            "Give keys to change: corral config set c1 user.role=web".into(),
        ));
    }
    if !unset && let Some((k, _)) = changes.iter().find(|(_, v)| v.is_empty()) {
        return Err(CliError::Usage(format!(
            "An empty value for {k:?} would remove it: use 'corral config unset {name} {k}'"
        )));
    }
    client
        .patch(&instance_path(name), &json!({ "config": changes }), None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_config_is_told_from_server_config_by_its_first_argument() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(names_instance(&args(&["c1", "user.x=1"])));
        assert!(names_instance(&args(&["c1", "user.x", "1"])));
        assert!(names_instance(&args(&["prod:c1", "user.x"])));
        assert!(!names_instance(&args(&["core.https_address", ":8443"])));
        assert!(!names_instance(&args(&["cluster.max_voters=5"])));
        assert!(!names_instance(&args(&["user.a=1", "user.b=2"])));
        assert!(!names_instance(&args(&["c1"])));
    }

    #[test]
    fn pairs_and_escapes() {
        let got = pairs(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(got["b"], "x=y");
        assert!(pairs(&["novalue".into()]).is_err());
        assert_eq!(escape("@gpu"), "%40gpu");
        assert_eq!(escape("node-2"), "node-2");
    }
}
