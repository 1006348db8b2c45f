//! Placing a new instance on a running cluster: reads the members, their groups and
//! instance counts as of now, adds the creations this member has placed but not yet
//! recorded, and lets the pure rule in [`super::scheduler`] choose.

use std::collections::BTreeMap;
use std::sync::Mutex;

use corral_shared::api::MemberStatus;
use time::OffsetDateTime;

use super::scheduler::{
    self, Availability, MemberLoad, Placement, PlacementError, Request, SchedulerInstance, Target,
};
use crate::cluster::members::{self, Judgement};
use crate::db::global::nodes::MemberState;
use crate::db::global::{groups, queries};
use crate::error::{Error, Result};
use crate::node::Node;

/// Creations placed by this member whose instance row is not written yet, by member id:
/// they count as instances for the placements made meanwhile.
static IN_FLIGHT: Mutex<BTreeMap<u64, u64>> = Mutex::new(BTreeMap::new());

fn in_flight() -> std::sync::MutexGuard<'static, BTreeMap<u64, u64>> {
    IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
}

/// A creation in flight on a member: counted by placement until dropped, which the create
/// path does once the instance's row is proposed (then the row counts instead).
#[derive(Debug)]
pub struct Reservation {
    member_id: u64,
}

impl Reservation {
    fn new(member_id: u64) -> Self {
        *in_flight().entry(member_id).or_default() += 1;
        Reservation { member_id }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut all = in_flight();
        if let Some(n) = all.get_mut(&self.member_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                all.remove(&self.member_id);
            }
        }
    }
}

impl From<PlacementError> for Error {
    fn from(e: PlacementError) -> Self {
        let text = e.to_string();
        match e.status_code() {
            400 => Error::BadRequest(text),
            403 => Error::Forbidden(text),
            404 => Error::NotFound(text),
            _ => Error::Unavailable(text),
        }
    }
}

/// How placement sees a member's row and its judged status (pure).
pub fn availability(state: MemberState, status: MemberStatus) -> Availability {
    match (state, status) {
        (MemberState::Pending, _) => Availability::Pending,
        (MemberState::Evacuated, _) | (_, MemberStatus::Evacuated) => Availability::Evacuated,
        (_, MemberStatus::Offline) => Availability::Offline,
        // A member shutting down takes no new work, as one waiting for an upgrade.
        (MemberState::Stopping, _) | (_, MemberStatus::Blocked) => Availability::Blocked,
        _ => Availability::Online,
    }
}

/// The members as placement sees them, from their rows judged `now` (pure).
pub fn loads(
    rows: &[queries::MemberRow],
    counts: &BTreeMap<u64, u64>,
    creating: &BTreeMap<u64, u64>,
    judgement: &Judgement<'_>,
) -> Vec<MemberLoad> {
    rows.iter()
        .map(|row| {
            let (status, _) = members::status(row, judgement);
            MemberLoad {
                id: row.id,
                name: row.name.clone(),
                architecture: row.arch.clone(),
                availability: availability(row.state, status),
                scheduler: SchedulerInstance::of_config(
                    row.config.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                groups: row.groups.clone(),
                instances: counts.get(&row.id).copied().unwrap_or(0),
                creating: creating.get(&row.id).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// Chooses the member for a new instance: `target` is the request's `?target=` (a member,
/// `@GROUP`, or none), `architectures` those the instance's image runs as (empty: any).
/// The reservation counts the creation until the caller drops it, after proposing the
/// instance's row. A server that is not clustered places on itself.
pub async fn choose(
    node: &Node,
    target: Option<&str>,
    architectures: &[String],
) -> Result<(Placement, Reservation)> {
    choose_or_refuse(node, target, architectures)
        .await?
        .map_err(Error::from)
}

/// [`choose`], with placement's refusal kept apart from failures to read the cluster (a
/// move words some refusals its own way).
pub async fn choose_or_refuse(
    node: &Node,
    target: Option<&str>,
    architectures: &[String],
) -> Result<std::result::Result<(Placement, Reservation), PlacementError>> {
    let clustered = node.is_clustered();
    let target = match Target::parse(target, clustered) {
        Ok(target) => target,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if !clustered {
        let placement = Placement {
            member_id: node.id(),
            member: members::own_name(node).await?,
            group: None,
        };
        let reservation = Reservation::new(placement.member_id);
        return Ok(Ok((placement, reservation)));
    }
    // A decision: read as of now, through the leader.
    node.read_barrier().await?;
    let (rows, config, counts, group_names) = node
        .global
        .read(|c| {
            Ok((
                queries::members(c)?,
                queries::config(c)?,
                groups::instance_counts(c)?,
                groups::groups(c)?
                    .into_iter()
                    .map(|g| g.name)
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    let judgement = Judgement {
        rows: &rows,
        self_id: node.id(),
        now: OffsetDateTime::now_utc(),
        offline_threshold: corral_shared::config::ClusterSettings::from_config(&config)
            .offline_threshold,
    };
    // Chosen and reserved under one lock, so two creations placed here at once see each other.
    let mut creating = in_flight();
    let members = loads(&rows, &counts, &creating, &judgement);
    let placement = match scheduler::place(
        &members,
        &Request {
            target,
            architectures,
            groups: &group_names,
        },
    ) {
        Ok(placement) => placement,
        Err(refusal) => return Ok(Err(refusal)),
    };
    *creating.entry(placement.member_id).or_default() += 1;
    drop(creating);
    let reservation = Reservation {
        member_id: placement.member_id,
    };
    Ok(Ok((placement, reservation)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::global::queries::MemberRow;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn member_states_map_to_availability() {
        let cases = [
            (
                MemberState::Created,
                MemberStatus::Online,
                Availability::Online,
            ),
            (
                MemberState::Created,
                MemberStatus::Offline,
                Availability::Offline,
            ),
            (
                MemberState::Created,
                MemberStatus::Blocked,
                Availability::Blocked,
            ),
            (
                MemberState::Evacuated,
                MemberStatus::Evacuated,
                Availability::Evacuated,
            ),
            (
                MemberState::Evacuated,
                MemberStatus::Offline,
                Availability::Evacuated,
            ),
            (
                MemberState::Pending,
                MemberStatus::Online,
                Availability::Pending,
            ),
            (
                MemberState::Stopping,
                MemberStatus::Online,
                Availability::Blocked,
            ),
            (
                MemberState::Lost,
                MemberStatus::Offline,
                Availability::Offline,
            ),
        ];
        for (state, status, want) in cases {
            assert_eq!(availability(state, status), want, "{state:?} {status:?}");
        }
    }

    #[test]
    fn rows_become_loads_with_counts_groups_and_modes() {
        let now = OffsetDateTime::now_utc();
        let fresh = now.format(&Rfc3339).unwrap();
        let mut rows: Vec<MemberRow> = (1..=3)
            .map(|id| MemberRow {
                heartbeat: fresh.clone(),
                groups: vec!["default".into()],
                ..MemberRow::sample(id)
            })
            .collect();
        rows[1]
            .config
            .insert("scheduler.instance".into(), "manual".into());
        rows[2].heartbeat = (now - time::Duration::minutes(5)).format(&Rfc3339).unwrap();
        let judgement = Judgement {
            rows: &rows,
            self_id: 1,
            now,
            offline_threshold: std::time::Duration::from_secs(20),
        };
        let loads = loads(
            &rows,
            &BTreeMap::from([(1, 4), (3, 1)]),
            &BTreeMap::from([(1, 2)]),
            &judgement,
        );
        let got: Vec<_> = loads
            .iter()
            .map(|m| (m.id, m.availability, m.scheduler, m.instances, m.creating))
            .collect();
        assert_eq!(
            got,
            [
                (1, Availability::Online, SchedulerInstance::All, 4, 2),
                (2, Availability::Online, SchedulerInstance::Manual, 0, 0),
                (3, Availability::Offline, SchedulerInstance::All, 1, 0),
            ]
        );
        // node2 is manual and node3 offline: node1 takes it, however loaded.
        let request = Request {
            target: Target::Any,
            architectures: &[],
            groups: &["default".to_owned()],
        };
        assert_eq!(
            scheduler::place(&loads, &request),
            Ok(Placement {
                member_id: 1,
                member: "node1".into(),
                group: None
            })
        );
    }

    #[test]
    fn reservations_count_until_dropped() {
        // An id no other test uses: the count is process-wide.
        let id = 9_000_001;
        let first = Reservation::new(id);
        let second = Reservation::new(id);
        assert_eq!(in_flight().get(&id), Some(&2));
        drop(first);
        assert_eq!(in_flight().get(&id), Some(&1));
        drop(second);
        assert_eq!(in_flight().get(&id), None);
    }
}
