//! What the operator can ask the cluster to do from the dashboard, what each request says
//! it will do before it is confirmed, and how it is carried out over the REST API (the same
//! calls the scriptable commands make, through the same helpers).

use corral_shared::api::{ClusterMember, ClusterMemberStatePost, EvacuationPlan, Role};
use corral_shared::client::Client;

use crate::commands::cluster::{member, member_path, tokens};
use crate::commands::config::patch_body;
use crate::error::CliError;

/// The server settings the dashboard offers to change, with the rule the daemon applies.
pub const CLUSTER_SETTINGS: [(&str, &str); 3] = [
    (
        "cluster.max_voters",
        "database voters; odd, 3 or more (default 3)",
    ),
    (
        "cluster.max_standby",
        "database stand-bys; 0 to 5 (default 2)",
    ),
    (
        "cluster.offline_threshold",
        "seconds without heartbeat before a member is offline; above 10 (default 20)",
    ),
];

/// The longest the dashboard waits for an evacuation or restore to end.
const EVACUATION_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// A change to the cluster, waiting for confirmation or under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Issue a join token for a new member of this name.
    CreateToken {
        /// The name the new member will have.
        name: String,
    },
    /// Remove a member (`force`: without asking it).
    Remove {
        /// The member.
        name: String,
        /// Whether to remove it by force.
        force: bool,
    },
    /// Give a member a role (`event-hub` or `ovn-chassis`), or take it away.
    Role {
        /// The member.
        name: String,
        /// The role.
        role: Role,
        /// `true` to add it, `false` to remove it.
        add: bool,
    },
    /// Move a member to another failure domain.
    FailureDomain {
        /// The member.
        name: String,
        /// The new domain.
        domain: String,
    },
    /// Change a server setting.
    SetConfig {
        /// The key, e.g. `cluster.max_voters`.
        key: String,
        /// The value as typed.
        value: String,
    },
    /// Ask for the plan of an evacuation or restore (changes nothing); its outcome opens
    /// the confirmation of [`Action::Evacuate`] with the plan in it.
    PlanEvacuation {
        /// The member.
        name: String,
        /// Restore rather than evacuate.
        restore: bool,
    },
    /// Evacuate (or restore) a member, as the plan shown said.
    Evacuate {
        /// The member.
        name: String,
        /// Restore rather than evacuate.
        restore: bool,
        /// The plan, one line per instance, as confirmed.
        plan: Vec<String>,
    },
}

/// What a finished action produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A join token to show for copying.
    Token {
        /// The member it is for.
        name: String,
        /// The encoded token.
        token: String,
    },
    /// Done; the sentence says what happened.
    Done(String),
    /// An evacuation or restore planned: confirm it with its plan.
    Planned(Action),
}

impl Action {
    /// A title for the confirmation dialog.
    pub fn title(&self) -> &'static str {
        match self {
            Action::CreateToken { .. } => "Create a join token",
            Action::Remove { force: false, .. } => "Remove a member",
            Action::Remove { force: true, .. } => "Force-remove a member",
            Action::Role { add: true, .. } => "Add a role",
            Action::Role { add: false, .. } => "Remove a role",
            Action::FailureDomain { .. } => "Set the failure domain",
            Action::SetConfig { .. } => "Change a cluster setting",
            Action::PlanEvacuation { .. } => "Plan an evacuation",
            Action::Evacuate { restore: false, .. } => "Evacuate a member",
            Action::Evacuate { restore: true, .. } => "Restore a member",
        }
    }

    /// What will happen, in full, for the confirmation dialog. `current` is the value a
    /// setting has now, when it is known.
    pub fn explain(&self, current: Option<&str>) -> String {
        match self {
            Action::CreateToken { name } => format!(
                "The cluster will issue a join token for a new member named {name}. The token \
                 is shown once, for copying: whoever holds it can join one server as {name} \
                 until it expires or is revoked ('corral cluster revoke-token {name}')."
            ),
            Action::Remove { name, force: false } => format!(
                "{name} will be asked to leave the cluster cleanly: it hands over any \
                 database role and forgets the cluster. This is refused if {name} cannot be \
                 reached or still holds something the cluster needs."
            ),
            Action::Remove { name, force: true } => format!(
                "{name} will be deleted from the cluster's database without being asked: \
                 meant for a member that is gone for good. If {name} is still running it keeps \
                 believing it is a member and must be wiped before it can serve again; \
                 whatever only it held is lost. Prefer a normal removal when it can be reached."
            ),
            Action::Role {
                name,
                role,
                add: true,
            } => format!(
                "{name} will be given the {role} role (its definition is read with its ETag \
                 and written back, so a concurrent change is refused rather than lost)."
            ),
            Action::Role {
                name,
                role,
                add: false,
            } => format!(
                "The {role} role will be taken from {name} (its definition is read with its \
                 ETag and written back, so a concurrent change is refused rather than lost)."
            ),
            Action::FailureDomain { name, domain } => format!(
                "{name} will move to the failure domain {domain:?}. The cluster spreads its \
                 database voters and stand-bys over failure domains, so roles may move."
            ),
            Action::PlanEvacuation { name, restore } => format!(
                "The plan of the {} of {name} will be asked for; nothing changes.",
                if *restore { "restore" } else { "evacuation" }
            ),
            Action::Evacuate {
                name,
                restore: false,
                plan,
            } => format!(
                "{name} will be evacuated for maintenance: no new instance is placed on it, \
                 and its instances go as planned (each running one is shut down cleanly \
                 within its boot.host_shutdown_timeout, 30 s unless set, then stopped by force):\n{}",
                plan_text(plan)
            ),
            Action::Evacuate {
                name,
                restore: true,
                plan,
            } => format!(
                "{name} will be back in service, and the instances evacuation moved or \
                 stopped come back as planned:\n{}",
                plan_text(plan)
            ),
            Action::SetConfig { key, value } => {
                let now = match current {
                    Some(v) if !v.is_empty() => format!(" (now {v})"),
                    _ => " (now unset: the default applies)".to_string(),
                };
                let rule = CLUSTER_SETTINGS
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, rule)| format!(" Rule: {rule}."))
                    .unwrap_or_default();
                if value.is_empty() {
                    format!("{key}{now} will be unset, back to its default.{rule}")
                } else {
                    format!(
                        "{key}{now} will be set to {value}.{rule} The daemon checks the \
                         value and refuses it with the rule if it breaks it."
                    )
                }
            }
        }
    }

    /// Present-tense words for the status line while the action runs.
    pub fn doing(&self) -> String {
        match self {
            Action::CreateToken { name } => format!("creating a join token for {name}"),
            Action::Remove { name, force } => {
                format!("removing {name}{}", if *force { " by force" } else { "" })
            }
            Action::Role { name, role, add } => {
                let verb = if *add { "adding" } else { "removing" };
                format!("{verb} {role} on {name}")
            }
            Action::FailureDomain { name, domain } => {
                format!("moving {name} to failure domain {domain}")
            }
            Action::SetConfig { key, value } => format!("setting {key} to {value}"),
            Action::PlanEvacuation { name, restore } => format!(
                "planning the {} of {name}",
                if *restore { "restore" } else { "evacuation" }
            ),
            Action::Evacuate { name, restore, .. } => format!(
                "{} {name}",
                if *restore { "restoring" } else { "evacuating" }
            ),
        }
    }
}

/// The plan's lines, or what it means that there are none.
fn plan_text(plan: &[String]) -> String {
    if plan.is_empty() {
        return "  (no instance is concerned)".into();
    }
    plan.iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per instance of a plan: what happens to it and where it goes.
pub fn plan_lines(plan: &EvacuationPlan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| {
            let mut what = s.action.replace('-', " ");
            if s.stop_first && s.action != "stop" {
                what = format!("stop, {what}");
            }
            if s.start_after && s.action != "start" {
                what.push_str(", start");
            }
            let place = if s.source == s.destination {
                format!("stays on {}", s.source)
            } else {
                format!("{} -> {}", s.source, s.destination)
            };
            let note = if s.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.note)
            };
            format!("{}: {what}, {place}{note}", s.instance)
        })
        .collect()
}

/// Carries `action` out against the daemon behind `client`. The error is the daemon's own
/// message (or the client's, which says what to do), never swallowed.
pub async fn perform(client: &Client, action: &Action) -> Result<Outcome, String> {
    perform_inner(client, action)
        .await
        .map_err(|e| e.to_string())
}

async fn perform_inner(client: &Client, action: &Action) -> Result<Outcome, CliError> {
    match action {
        Action::CreateToken { name } => {
            let body = serde_json::json!({ "server_name": name });
            let op = client
                .post("/1.0/cluster/members", &body)
                .await?
                .operation()?;
            let token = tokens::join_token(&op).ok_or_else(|| {
                CliError::Failed(format!(
                    "the daemon answered with operation {}, which is not a join token",
                    op.id
                ))
            })?;
            Ok(Outcome::Token {
                name: name.clone(),
                token: token.encode(),
            })
        }
        Action::Remove { name, force } => {
            let mut path = member_path(name);
            if *force {
                path.push_str("?force=1");
            }
            client.delete(&path).await?;
            Ok(Outcome::Done(format!(
                "{name} removed{}",
                if *force { " by force" } else { "" }
            )))
        }
        Action::Role { name, role, add } => {
            member::update(client, name, |put| {
                if *add {
                    member::add_roles(put, name, &[*role])
                } else {
                    member::remove_roles(put, name, &[*role])
                }
            })
            .await?;
            let verb = if *add { "added to" } else { "removed from" };
            Ok(Outcome::Done(format!("{role} role {verb} {name}")))
        }
        Action::FailureDomain { name, domain } => {
            let path = member_path(name);
            let (_, etag): (ClusterMember, _) = client.get_with_etag(&path).await?;
            let body = serde_json::json!({ "failure_domain": domain });
            client.patch(&path, &body, etag.as_deref()).await?;
            Ok(Outcome::Done(format!(
                "{name} is in failure domain {domain}"
            )))
        }
        Action::PlanEvacuation { name, restore } => {
            let post = ClusterMemberStatePost {
                action: if *restore { "restore" } else { "evacuate" }.into(),
                mode: String::new(),
                dry_run: true,
            };
            let path = format!("{}/state", member_path(name));
            let answer = client.post(&path, &post).await?;
            let plan: EvacuationPlan = serde_json::from_value(answer.envelope.metadata)
                .map_err(|e| CliError::Failed(format!("the daemon's plan cannot be read: {e}")))?;
            Ok(Outcome::Planned(Action::Evacuate {
                name: name.clone(),
                restore: *restore,
                plan: plan_lines(&plan),
            }))
        }
        Action::Evacuate { name, restore, .. } => {
            let action = if *restore { "restore" } else { "evacuate" };
            let post = ClusterMemberStatePost {
                action: action.into(),
                mode: String::new(),
                dry_run: false,
            };
            let path = format!("{}/state", member_path(name));
            let op = client.post(&path, &post).await?.operation()?;
            let url = format!("/1.0/operations/{}", op.id);
            let done = client.wait_operation(&url, EVACUATION_WAIT).await?;
            let handled = done
                .metadata
                .get("done")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            Ok(Outcome::Done(format!(
                "{name} {}: {handled} instances handled",
                if *restore { "restored" } else { "evacuated" }
            )))
        }
        Action::SetConfig { key, value } => {
            let changes = [(key.clone(), value.clone())].into_iter().collect();
            client.patch("/1.0", &patch_body(changes), None).await?;
            Ok(Outcome::Done(if value.is_empty() {
                format!("{key} unset")
            } else {
                format!("{key} set to {value}")
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_say_what_will_happen() {
        let set = Action::SetConfig {
            key: "cluster.max_voters".into(),
            value: "5".into(),
        };
        assert_eq!(
            set.explain(Some("3")),
            "cluster.max_voters (now 3) will be set to 5. Rule: database voters; odd, 3 or more \
             (default 3). The daemon checks the value and refuses it with the rule if it \
             breaks it."
        );
        let force = Action::Remove {
            name: "node2".into(),
            force: true,
        };
        assert_eq!(force.title(), "Force-remove a member");
        assert!(force.explain(None).contains("without being asked"));
        let role = Action::Role {
            name: "node1".into(),
            role: Role::EventHub,
            add: false,
        };
        assert_eq!(role.doing(), "removing event-hub on node1");
    }

    #[tokio::test]
    async fn a_daemon_that_cannot_be_reached_is_reported() {
        let client = Client::unix("/nonexistent/unix.socket".into());
        let err = perform(
            &client,
            &Action::CreateToken {
                name: "node4".into(),
            },
        )
        .await
        .unwrap_err();
        assert!(err.starts_with("cannot reach the Corral daemon"), "{err}");
    }
}
