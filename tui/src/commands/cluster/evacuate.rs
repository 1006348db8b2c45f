//! `corral cluster evacuate|restore MEMBER [--action A] [--force] [--dry-run]`, as lxc's:
//! a confirmation unless `--force`, then the operation's progress until it ends. Corral's
//! `--dry-run` prints the plan (each instance, what happens to it, where it goes) and
//! changes nothing.

use std::io::Write;
use std::time::Duration;

use corral_shared::api::{ClusterMemberStatePost, EvacuationPlan, Operation, OperationStatus};
use corral_shared::client::Client;

use super::member_path;
use crate::error::CliError;
use crate::terminal;

/// The longest one wait for the operation lasts before its progress is looked at again.
const POLL: Duration = Duration::from_secs(1);
/// The longest a whole evacuation is waited for.
const OVERALL: Duration = Duration::from_secs(6 * 3600);

/// What was asked: evacuate or restore a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The member.
    pub name: String,
    /// `evacuate` or `restore`.
    pub action: &'static str,
    /// `--action` (evacuate: stop, migrate, live-migrate; restore: skip).
    pub mode: Option<String>,
    /// `--force`: no confirmation.
    pub force: bool,
    /// `--dry-run`: print the plan only.
    pub dry_run: bool,
}

/// The plan as a table: one row per instance.
pub fn plan_table(plan: &EvacuationPlan) -> String {
    let verb = if plan.action == "evacuate" {
        "Evacuating"
    } else {
        "Restoring"
    };
    if plan.steps.is_empty() {
        return format!(
            "{verb} cluster member {} changes no instance\n",
            plan.member
        );
    }
    let header = ["INSTANCE", "ACTION", "FROM", "TO", "NOTE"];
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|s| {
            let mut action = s.action.replace('-', " ");
            if s.stop_first && s.action != "stop" {
                action = format!("stop, {action}");
            }
            if s.start_after && s.action != "start" {
                action.push_str(", start");
            }
            vec![
                s.instance.clone(),
                action,
                s.source.clone(),
                s.destination.clone(),
                s.note.clone(),
            ]
        })
        .collect();
    format!(
        "{verb} cluster member {}:\n{}",
        plan.member,
        corral_shared::table::boxed(&header, &rows)
    )
}

/// lxc's question before an evacuation or restore.
pub fn question(action: &str, name: &str) -> String {
    format!("Are you sure you want to {action} cluster member {name:?}? (yes/no) [default=no]: ")
}

/// The progress texts an operation's metadata carries: every step so far (Corral keeps
/// them all), else LXD's one current text.
pub fn progress(op: &Operation) -> Vec<String> {
    if let Some(steps) = op.metadata.get("steps").and_then(|v| v.as_array()) {
        return steps
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
    }
    ["evacuation_progress", "restore_progress"]
        .iter()
        .find_map(|k| op.metadata.get(k).and_then(|v| v.as_str()))
        .map(|t| vec![t.to_owned()])
        .unwrap_or_default()
}

/// Runs the request against the daemon.
pub async fn run(client: &Client, request: Request, out: &mut dyn Write) -> Result<(), CliError> {
    let path = format!("{}/state", member_path(&request.name));
    let mut post = ClusterMemberStatePost {
        action: request.action.to_owned(),
        mode: request.mode.clone().unwrap_or_default(),
        dry_run: true,
    };
    let answer = client.post(&path, &post).await?;
    let plan: EvacuationPlan = serde_json::from_value(answer.envelope.metadata).map_err(|e| {
        corral_shared::client::ClientError::Protocol(format!("the plan cannot be read: {e}"))
    })?;
    if request.dry_run {
        out.write_all(plan_table(&plan).as_bytes())?;
        return Ok(());
    }
    if !request.force {
        out.write_all(plan_table(&plan).as_bytes())?;
        let stdin = std::io::stdin();
        if !terminal::confirm(
            &question(request.action, &request.name),
            &mut stdin.lock(),
            out,
        )? {
            return Err(CliError::Failed(format!(
                "The {} of {} was not confirmed; nothing was changed (--force skips the question)",
                if request.action == "evacuate" {
                    "evacuation"
                } else {
                    "restore"
                },
                request.name
            )));
        }
    }
    post.dry_run = false;
    let op = client.post(&path, &post).await?.operation()?;
    let verb = if request.action == "evacuate" {
        "Evacuating"
    } else {
        "Restoring"
    };
    let done = follow(client, &op, verb, out).await?;
    writeln!(
        out,
        "Cluster member {} {}: {} instances handled",
        request.name,
        if request.action == "evacuate" {
            "evacuated"
        } else {
            "restored"
        },
        done.metadata
            .get("done")
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    )?;
    Ok(())
}

/// Waits for `op` on the member running it, printing each new progress text.
async fn follow(
    client: &Client,
    op: &Operation,
    verb: &str,
    out: &mut dyn Write,
) -> Result<Operation, CliError> {
    let deadline = std::time::Instant::now() + OVERALL;
    let mut said: Vec<String> = Vec::new();
    loop {
        let path = format!(
            "/1.0/operations/{}/wait?target={}&timeout={}",
            op.id,
            op.location,
            POLL.as_secs()
        );
        let now: Operation = client.get(&path).await?;
        let texts = progress(&now);
        // Corral's list grows; LXD's single text changes in place.
        let fresh: Vec<&String> = if texts.starts_with(&said) {
            texts[said.len()..].iter().collect()
        } else {
            texts.iter().filter(|t| !said.contains(t)).collect()
        };
        for text in fresh {
            writeln!(out, "{verb} cluster member: {text}")?;
        }
        said = texts;
        match now.status {
            OperationStatus::Success => return Ok(now),
            OperationStatus::Failure | OperationStatus::Cancelled => {
                return Err(CliError::Failed(now.err));
            }
            _ if std::time::Instant::now() > deadline => {
                return Err(CliError::Failed(format!(
                    "operation {} did not end within {OVERALL:?}; 'corral query /1.0/operations/{}?target={}' shows it",
                    op.id, op.id, op.location
                )));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::api::EvacuationStep;

    fn step(instance: &str, action: &str, to: &str, stop: bool, start: bool) -> EvacuationStep {
        EvacuationStep {
            instance: instance.into(),
            action: action.into(),
            source: "node1".into(),
            destination: to.into(),
            stop_first: stop,
            start_after: start,
            note: String::new(),
        }
    }

    #[test]
    fn the_plan_reads_as_a_table_of_instances() {
        let plan = EvacuationPlan {
            member: "node1".into(),
            action: "evacuate".into(),
            steps: vec![
                step("c1", "migrate", "node3", true, true),
                step("c3", "stop", "node1", true, false),
                step("c5", "migrate", "node2", false, false),
            ],
        };
        let text = plan_table(&plan);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Evacuating cluster member node1:");
        assert!(
            text.contains("| c1       | stop, migrate, start | node1 | node3 |"),
            "{text}"
        );
        assert!(
            text.contains("| c3       | stop                 | node1 | node1 |"),
            "{text}"
        );
        assert!(
            text.contains("| c5       | migrate              | node1 | node2 |"),
            "{text}"
        );
        let empty = EvacuationPlan {
            member: "node1".into(),
            action: "restore".into(),
            steps: vec![],
        };
        assert_eq!(
            plan_table(&empty),
            "Restoring cluster member node1 changes no instance\n"
        );
    }

    #[test]
    fn the_question_is_lxcs() {
        assert_eq!(
            question("evacuate", "node2"),
            "Are you sure you want to evacuate cluster member \"node2\"? (yes/no) [default=no]: "
        );
    }
}
