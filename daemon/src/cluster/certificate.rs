//! Replacing the cluster certificate on every member (`PUT /1.0/cluster/certificate`), as
//! LXD's `lxc cluster update-certificate` does: every member in turn, the receiving one
//! last, writes the new pair and presents it without a restart; if one fails (an offline
//! one included), those already changed go back to the old pair.
//!
//! Members pin each other by the cluster certificate's fingerprint, and a member that
//! presents the new one would be a stranger to those that have not switched yet. So the
//! update has three phases (see [`plan`]): every member first *trusts* the new
//! certificate as well (as a server's and as a member's client certificate), then each
//! *switches* to it while still trusting the old one, and finally every member *forgets*
//! the old one, closing the connections still made with it. The cluster stays connected
//! throughout; a failure in the first two phases is undone by [`undo`].

use serde::{Deserialize, Serialize};

use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::{PeerError, Peers};
use crate::tls::Identity;

/// One step a member takes during an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Accept the certificate with `fingerprint` from members, besides the current one.
    Trust {
        /// The certificate's fingerprint.
        fingerprint: String,
    },
    /// Write this pair, present it, call members with it; keep trusting the one replaced.
    Switch {
        /// PEM certificate.
        certificate: String,
        /// PEM private key.
        key: String,
    },
    /// Stop accepting the certificate with `fingerprint` (never the current one).
    Forget {
        /// The certificate's fingerprint.
        fingerprint: String,
    },
}

/// Which member takes a step: another one (by its index in the list given to [`plan`]),
/// or the member running the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The member at this index of the others.
    Other(usize),
    /// The member running the update.
    Here,
}

/// One step on one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Who takes it.
    pub who: Who,
    /// What it does.
    pub step: Step,
}

/// The pair an update goes from and to.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Fingerprint of the certificate replaced.
    pub old_fingerprint: String,
    /// The certificate replaced, PEM (what a revert goes back to).
    pub old: (String, String),
    /// Fingerprint of the new certificate.
    pub new_fingerprint: String,
    /// The new certificate and key, PEM.
    pub new: (String, String),
}

/// The calls an update makes with `others` members besides this one, in order: the ones
/// that must all succeed (trust, then switch; others in turn, this member last), and the
/// ones that only tidy up afterwards (forget the old certificate).
pub fn plan(others: usize, pair: &Pair) -> (Vec<Call>, Vec<Call>) {
    let everyone = || (0..others).map(Who::Other).chain([Who::Here]);
    let trust = Step::Trust {
        fingerprint: pair.new_fingerprint.clone(),
    };
    let switch = Step::Switch {
        certificate: pair.new.0.clone(),
        key: pair.new.1.clone(),
    };
    let forget = Step::Forget {
        fingerprint: pair.old_fingerprint.clone(),
    };
    let required = everyone()
        .map(|who| Call {
            who,
            step: trust.clone(),
        })
        .chain(everyone().map(|who| Call {
            who,
            step: switch.clone(),
        }))
        .collect();
    let tidy = everyone()
        .map(|who| Call {
            who,
            step: forget.clone(),
        })
        .collect();
    (required, tidy)
}

/// What puts every member back as it was, given the calls that succeeded before one
/// failed: those switched go back to the old pair (latest first), then every member that
/// trusted the new certificate forgets it.
pub fn undo(done: &[Call], pair: &Pair) -> Vec<Call> {
    let back = done.iter().rev().filter_map(|c| match c.step {
        Step::Switch { .. } => Some(Call {
            who: c.who,
            step: Step::Switch {
                certificate: pair.old.0.clone(),
                key: pair.old.1.clone(),
            },
        }),
        _ => None,
    });
    let forget = done.iter().filter_map(|c| match c.step {
        Step::Trust { .. } => Some(Call {
            who: c.who,
            step: Step::Forget {
                fingerprint: pair.new_fingerprint.clone(),
            },
        }),
        _ => None,
    });
    back.chain(forget).collect()
}

/// One update at a time on this member: its steps and a whole update never interleave.
fn serialised() -> &'static tokio::sync::Mutex<()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    &LOCK
}

/// A member taking part in an update.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    address: String,
}

/// Replaces the cluster certificate on every member with `certificate` and `key` (PEM).
pub async fn update(node: &Node, certificate: &str, key: &str) -> Result<()> {
    let new = Identity::from_user_pem(certificate, key).map_err(|e| {
        Error::BadRequest(format!(
            "Failed to parse the new cluster certificate: {e}; give the PEM certificate and \
             the PEM private key that belongs to it"
        ))
    })?;
    let old = node
        .cluster_identity()
        .ok_or_else(|| Error::BadRequest("This server is not clustered".into()))?;
    let _one = serialised().lock().await;
    let pair = Pair {
        old_fingerprint: old.fingerprint().to_owned(),
        old: (old.cert_pem().to_owned(), old.key_pem().to_owned()),
        new_fingerprint: new.fingerprint().to_owned(),
        new: (new.cert_pem().to_owned(), new.key_pem().to_owned()),
    };
    if pair.old_fingerprint == pair.new_fingerprint {
        return Ok(());
    }
    // The member list as of now: a member added a moment ago must not be left out.
    node.read_barrier().await?;
    let own = node.id();
    let others: Vec<Target> = node
        .global
        .read(queries::members)
        .await?
        .into_iter()
        .filter(|m| m.id != own)
        .map(|m| Target {
            name: m.name,
            address: m.address,
        })
        .collect();
    let peers = Peers::of(node)?;
    let (required, tidy) = plan(others.len(), &pair);
    let mut done = Vec::new();
    for call in required {
        if let Err(why) = run(node, &peers, &others, &call).await {
            let failed = name_of(node, &others, call.who).await;
            let unreverted = revert(node, &peers, &others, &undo(&done, &pair)).await;
            return Err(failure(&failed, why, &unreverted, &pair));
        }
        done.push(call);
    }
    for call in tidy {
        if let Err(why) = run(node, &peers, &others, &call).await {
            // Everyone presents the new certificate; the old one stays trusted there until
            // that member restarts.
            let who = name_of(node, &others, call.who).await;
            tracing::warn!(
                "member {who} still accepts the old cluster certificate {} until it restarts: {}",
                pair.old_fingerprint,
                why
            );
        }
    }
    Ok(())
}

/// The failure of one member's step.
#[derive(Debug)]
enum StepError {
    Peer(PeerError),
    Here(Error),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Peer(e) => write!(f, "{e}"),
            Self::Here(e) => write!(f, "{e}"),
        }
    }
}

async fn run(node: &Node, peers: &Peers, others: &[Target], call: &Call) -> Result<(), StepError> {
    match call.who {
        Who::Here => apply(node, &call.step).await.map_err(StepError::Here),
        Who::Other(i) => peers
            .member(&others[i].address)
            .certificate_step(&call.step)
            .await
            .map_err(StepError::Peer),
    }
}

/// Runs the undoing calls, each whatever became of the others; returns the members that
/// could not be put back, with why.
async fn revert(node: &Node, peers: &Peers, others: &[Target], calls: &[Call]) -> Vec<String> {
    let mut failed = Vec::new();
    for call in calls {
        if let Err(why) = run(node, peers, others, call).await {
            let who = name_of(node, others, call.who).await;
            tracing::warn!("cannot revert the cluster certificate on member {who}: {why}");
            failed.push(format!("{who} ({why})"));
        }
    }
    failed
}

async fn name_of(node: &Node, others: &[Target], who: Who) -> String {
    match who {
        Who::Other(i) => format!("\"{}\" ({})", others[i].name, others[i].address),
        Who::Here => format!("\"{}\" (this member)", node.own_name().await),
    }
}

fn failure(member: &str, why: StepError, unreverted: &[String], pair: &Pair) -> Error {
    let old = &pair.old_fingerprint;
    let outcome = if unreverted.is_empty() {
        format!("Nothing was changed: every member keeps the old certificate ({old})")
    } else {
        format!(
            "These members could not be put back on the old certificate ({old}): {}; run the \
             update again once they answer",
            unreverted.join(", ")
        )
    };
    let message = format!(
        "Failed to update the cluster certificate on member {member}: {why}. {outcome}. \
         Start that member again (or remove it from the cluster) and retry"
    );
    match why {
        StepError::Peer(PeerError::Unreachable { .. }) => Error::Unavailable(message),
        StepError::Here(Error::BadRequest(_)) => Error::BadRequest(message),
        _ => Error::Internal(message),
    }
}

/// Takes one step on this member (asked by the member running an update, or by itself).
pub async fn step(node: &Node, step: &Step) -> Result<()> {
    // An update run here holds the lock already and calls `apply` directly.
    let _one = serialised().lock().await;
    apply(node, step).await
}

async fn apply(node: &Node, step: &Step) -> Result<()> {
    let current = node
        .cluster_identity()
        .ok_or_else(|| Error::BadRequest("This server is not clustered".into()))?;
    let dialer = node.network.dialer();
    match step {
        Step::Trust { fingerprint } => {
            if fingerprint != current.fingerprint() {
                dialer.also_trust(fingerprint);
            }
            node.pin_members(&current)
        }
        Step::Switch { certificate, key } => {
            let new = Identity::from_user_pem(certificate, key).map_err(|e| {
                Error::BadRequest(format!("the cluster certificate sent is unusable: {e}"))
            })?;
            if new.fingerprint() == current.fingerprint() {
                return Ok(());
            }
            new.save(node.dirs.root(), "cluster").map_err(|e| {
                Error::Internal(format!("cannot write the new cluster certificate: {e}"))
            })?;
            dialer.also_trust(current.fingerprint());
            dialer.stop_trusting(new.fingerprint());
            node.set_cluster_identity(new.clone())?;
            // New connections get the new certificate; those open keep theirs.
            node.reconcile_listeners().await?;
            announce(node).await;
            tracing::info!(
                "now presenting cluster certificate {} (was {})",
                new.fingerprint(),
                current.fingerprint()
            );
            Ok(())
        }
        Step::Forget { fingerprint } => {
            if fingerprint == current.fingerprint() {
                return Err(Error::BadRequest(format!(
                    "certificate {fingerprint} is this member's cluster certificate and cannot \
                     be forgotten"
                )));
            }
            dialer.stop_trusting(fingerprint);
            node.pin_members(&current)?;
            crate::api::listener::close_connections_of(fingerprint);
            Ok(())
        }
    }
}

/// LXD's lifecycle event for this member's new certificate.
async fn announce(node: &Node) {
    let event = corral_shared::api::Event::lifecycle(
        corral_shared::api::Action::ClusterCertificateUpdated,
        "/1.0/cluster/certificate".into(),
        Default::default(),
        &node.own_name().await,
        crate::operations::now_rfc3339(),
    );
    crate::events::bus::bus().publish(crate::events::bus::Happened::Event(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Pair {
        Pair {
            old_fingerprint: "old".into(),
            old: ("old-crt".into(), "old-key".into()),
            new_fingerprint: "new".into(),
            new: ("new-crt".into(), "new-key".into()),
        }
    }

    fn short(calls: &[Call]) -> Vec<String> {
        calls
            .iter()
            .map(|c| {
                let who = match c.who {
                    Who::Other(i) => format!("m{i}"),
                    Who::Here => "here".into(),
                };
                let what = match &c.step {
                    Step::Trust { fingerprint } => format!("trust {fingerprint}"),
                    Step::Switch { certificate, .. } => format!("switch {certificate}"),
                    Step::Forget { fingerprint } => format!("forget {fingerprint}"),
                };
                format!("{who}: {what}")
            })
            .collect()
    }

    #[test]
    fn everyone_trusts_before_anyone_switches_and_this_member_goes_last() {
        let (required, tidy) = plan(2, &pair());
        assert_eq!(
            short(&required),
            [
                "m0: trust new",
                "m1: trust new",
                "here: trust new",
                "m0: switch new-crt",
                "m1: switch new-crt",
                "here: switch new-crt",
            ]
        );
        assert_eq!(
            short(&tidy),
            ["m0: forget old", "m1: forget old", "here: forget old"]
        );
    }

    #[test]
    fn a_failure_puts_back_exactly_what_was_done() {
        let (required, _) = plan(2, &pair());
        for (failed_at, want) in [
            // The first member is down: nothing was done.
            (0, vec![]),
            // The second is down during the trust phase: the first forgets the new one.
            (1, vec!["m0: forget new"]),
            // The second fails to switch: the first goes back, then all forget.
            (
                4,
                vec![
                    "m0: switch old-crt",
                    "m0: forget new",
                    "m1: forget new",
                    "here: forget new",
                ],
            ),
            // This member fails last: both others go back, latest first.
            (
                5,
                vec![
                    "m1: switch old-crt",
                    "m0: switch old-crt",
                    "m0: forget new",
                    "m1: forget new",
                    "here: forget new",
                ],
            ),
        ] {
            assert_eq!(
                short(&undo(&required[..failed_at], &pair())),
                want,
                "failed at {failed_at}"
            );
        }
    }

    #[test]
    fn steps_travel_as_tagged_json() {
        let step = Step::Forget {
            fingerprint: "ab".into(),
        };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"step": "forget", "fingerprint": "ab"})
        );
        assert_eq!(serde_json::from_value::<Step>(json).unwrap(), step);
    }
}
