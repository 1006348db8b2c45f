//! The database-role rule: which members vote in Raft, which follow the log as stand-bys
//! and which stay out of it. It works on plain data and decides one change at a time, so
//! the leader's rebalance loop can re-read the cluster between changes and the rule can be
//! tested without a running cluster.
//!
//! It follows LXD 5.21's rule (go-dqlite's role adjustment) step by step; step numbers in
//! comments are those of the project's LXD notes (section 3.2). Deliberate differences:
//! - LXD breaks ties through map order and weights it never sets; here ties go to the
//!   lowest member id (promotions) or the highest (demotions), so a run is repeatable.
//! - Evacuated members are never promoted (LXD 6.x), but one that already holds a role
//!   keeps it (LXD 5.21): evacuating should not reshuffle the database by itself.
//! - The leader always counts as online: it is the one evaluating the rule.
//! - With fewer than three members the stand-by rules still run after the voter rule, so a
//!   second member becomes a stand-by, as a real LXD cluster shows it.
//!
//! Changes are roles, not Raft mechanics: the caller adds a spare as a learner before
//! making it a voter, and takes a voter's vote away before dropping it to spare.

use std::collections::{BTreeMap, BTreeSet};

#[cfg(test)]
mod tests;

/// Below this many members only the leader votes: two voters tolerate no failure at all,
/// so a second voter would only add a way to lose quorum.
const MIN_VOTERS: usize = 3;

pub use crate::db::global::nodes::DbRole;

/// What the rule needs to know about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// Raft node id.
    pub id: u64,
    /// Database role it holds now.
    pub role: DbRole,
    /// Whether it answered the latest heartbeat round.
    pub online: bool,
    /// Failure domain name (`default` unless set).
    pub failure_domain: String,
    /// Whether it is evacuated.
    pub evacuated: bool,
}

/// Wanted numbers of voters and stand-bys (`cluster.max_voters`, `cluster.max_standby`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wanted number of voters.
    pub max_voters: usize,
    /// Wanted number of stand-bys.
    pub max_standby: usize,
}

impl Default for Limits {
    /// LXD's defaults: three voters, two stand-bys.
    fn default() -> Self {
        Limits {
            max_voters: 3,
            max_standby: 2,
        }
    }
}

/// One role assignment: member `id` should hold `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The member whose role changes.
    pub id: u64,
    /// The role it should hold.
    pub role: DbRole,
}

/// The next single role change the cluster needs, or `None` when it is settled (or when
/// nothing useful can be done, e.g. a voter is offline and no member can replace it).
///
/// Returns `None` when `leader` is not among `members`: the rule cannot be judged safely
/// without knowing where the leader stands.
pub fn next_change(leader: u64, members: &[MemberState], limits: &Limits) -> Option<Change> {
    let me = members.iter().find(|m| m.id == leader)?;
    let census = Census::of(leader, members);

    // Steps 1 and 2: a small cluster keeps its single vote on the leader. Raft's leader is always
    // a voter, so a leader recorded otherwise (say the last member left after the old
    // leader was removed) is promoted first.
    if members.len() < MIN_VOTERS {
        if me.role != DbRole::Voter {
            return Some(to(me, DbRole::Voter));
        }
        let extra = members
            .iter()
            .filter(|m| m.id != leader && m.role == DbRole::Voter)
            .min_by_key(|m| m.id);
        if let Some(m) = extra {
            return Some(to(m, DbRole::Spare));
        }
        return standby_change(leader, &census, limits);
    }

    let voter_domains = per_domain(&census.online_voters);
    let online_domains: BTreeSet<&str> = members
        .iter()
        .filter(|m| is_online(leader, m))
        .map(|m| m.failure_domain.as_str())
        .collect();

    // Step 4: some domain holds two voters while an online domain holds none; give that
    // domain a vote (step 7 then takes the extra one away from the crowded domain).
    if voter_domains.len() < online_domains.len()
        && voter_domains.len() < census.online_voters.len()
    {
        let spread = census
            .promotable
            .iter()
            .filter(|m| !voter_domains.contains_key(m.failure_domain.as_str()))
            .min_by_key(|m| (promotion_rank(m.role), m.id));
        if let Some(m) = spread {
            return Some(to(m, DbRole::Voter));
        }
    }

    // Step 5: exactly what is wanted, all online.
    if census.offline_voters.is_empty()
        && census.offline_standbys.is_empty()
        && census.online_voters.len() == limits.max_voters
        && census.online_standbys.len() == limits.max_standby
    {
        return None;
    }

    // Step 6: too few voters. With nobody to promote, an offline voter is kept: dropping
    // it makes quorum no easier to reach, and loses the vote it brings back on return.
    if census.online_voters.len() < limits.max_voters {
        return best(census.promotable.iter().copied(), &voter_domains)
            .map(|m| to(m, DbRole::Voter));
    }

    // Step 7: too many voters.
    if census.online_voters.len() > limits.max_voters {
        return surplus(leader, &census.online_voters).map(|m| to(m, DbRole::Spare));
    }

    // Step 8: enough voters online, so an offline one can lose its vote.
    if let Some(m) = census.offline_voters.iter().min_by_key(|m| m.id) {
        return Some(to(m, DbRole::Spare));
    }

    standby_change(leader, &census, limits)
}

/// Every change [`next_change`] asks for, in order, until the cluster is settled.
///
/// Each change is applied to a private copy before asking for the next one. The number of
/// changes is bounded (four per member, plus four) so a rule bug can never spin.
///
/// The plan speaks in roles only: making a spare a voter means adding it as a learner
/// first, and taking a vote away goes through stand-by; both are the caller's mechanics.
pub fn plan(leader: u64, members: &[MemberState], limits: &Limits) -> Vec<Change> {
    let bound = 4 * members.len() + 4;
    let mut state = members.to_vec();
    let mut changes = Vec::new();
    while changes.len() < bound {
        let Some(change) = next_change(leader, &state, limits) else {
            break;
        };
        apply(&mut state, change);
        changes.push(change);
    }
    changes
}

/// Who takes over the role of `leaving`, a member shutting down gracefully, or `None`
/// when it holds no database role, is unknown, or nobody can take over.
///
/// The caller assigns the returned change, then demotes the leaving member to spare. No
/// limits are consulted: the hand-over keeps the counts as they are, and the rebalance that
/// follows corrects them.
pub fn handover(leaving: u64, leader: u64, members: &[MemberState]) -> Option<Change> {
    let me = members.iter().find(|m| m.id == leaving)?;
    if me.role == DbRole::Spare {
        return None;
    }
    let peers: Vec<&MemberState> = members
        .iter()
        .filter(|m| m.id != leaving && m.role == me.role && is_online(leader, m))
        .collect();
    // A vote can go to a stand-by (it already holds the log) or a spare; a stand-by slot
    // only to a spare, since moving a stand-by would just open another gap.
    let candidates = members.iter().filter(|m| {
        m.id != leaving
            && is_promotable(leader, m)
            && (m.role == DbRole::Spare || (me.role == DbRole::Voter && m.role == DbRole::StandBy))
    });
    best(candidates, &per_domain(&peers)).map(|m| to(m, me.role))
}

/// The role a newly accepted member ends up with once the cluster has settled around it.
///
/// The joiner enters as an online spare (replacing any stale entry with the same id) and
/// the whole [`plan`] is played out; the rest of that plan is left to the rebalance that
/// the join triggers.
pub fn role_for_joiner(
    leader: u64,
    members: &[MemberState],
    new_id: u64,
    new_domain: &str,
    limits: &Limits,
) -> DbRole {
    let mut state: Vec<MemberState> = members.iter().filter(|m| m.id != new_id).cloned().collect();
    state.push(MemberState {
        id: new_id,
        role: DbRole::Spare,
        online: true,
        failure_domain: new_domain.to_owned(),
        evacuated: false,
    });
    for change in plan(leader, &state, limits) {
        apply(&mut state, change);
    }
    state
        .iter()
        .find(|m| m.id == new_id)
        .map_or(DbRole::Spare, |m| m.role)
}

/// Whether the leader should run a rebalance now.
///
/// This asks the rule itself rather than LXD's cheaper count check, which stays true for
/// ever in a two-member cluster or while an offline voter has no replacement.
pub fn needs_rebalance(leader: u64, members: &[MemberState], limits: &Limits) -> bool {
    next_change(leader, members, limits).is_some()
}

/// The members sorted the way every step looks at them.
struct Census<'a> {
    online_voters: Vec<&'a MemberState>,
    offline_voters: Vec<&'a MemberState>,
    online_standbys: Vec<&'a MemberState>,
    offline_standbys: Vec<&'a MemberState>,
    /// Stand-bys and spares that may be promoted: online and not evacuated.
    promotable: Vec<&'a MemberState>,
}

impl<'a> Census<'a> {
    fn of(leader: u64, members: &'a [MemberState]) -> Self {
        let mut census = Census {
            online_voters: Vec::new(),
            offline_voters: Vec::new(),
            online_standbys: Vec::new(),
            offline_standbys: Vec::new(),
            promotable: Vec::new(),
        };
        for m in members {
            let online = is_online(leader, m);
            match (m.role, online) {
                (DbRole::Voter, true) => census.online_voters.push(m),
                (DbRole::Voter, false) => census.offline_voters.push(m),
                (DbRole::StandBy, true) => census.online_standbys.push(m),
                (DbRole::StandBy, false) => census.offline_standbys.push(m),
                (DbRole::Spare, _) => {}
            }
            if m.role != DbRole::Voter && is_promotable(leader, m) {
                census.promotable.push(m);
            }
        }
        census
    }
}

/// Steps 9 to 11: stand-bys, once the voters are settled.
fn standby_change(leader: u64, census: &Census, limits: &Limits) -> Option<Change> {
    let online = census.online_standbys.len();

    // Step 9: too few stand-bys. With no spare to promote an offline stand-by is kept: it
    // costs nothing and resumes following the log as soon as it is back.
    if online < limits.max_standby {
        let spares = census
            .promotable
            .iter()
            .copied()
            .filter(|m| m.role == DbRole::Spare);
        return best(spares, &per_domain(&census.online_standbys)).map(|m| to(m, DbRole::StandBy));
    }

    // Step 10: too many stand-bys.
    if online > limits.max_standby {
        return surplus(leader, &census.online_standbys).map(|m| to(m, DbRole::Spare));
    }

    // Step 11: enough stand-bys online, so an offline one can go.
    census
        .offline_standbys
        .iter()
        .min_by_key(|m| m.id)
        .map(|m| to(m, DbRole::Spare))
}

/// The candidate to promote: first one from a domain not yet among `taken`, since spreading
/// roles over domains is what failure domains are for; then a stand-by over a spare (it
/// already holds the log, so no snapshot is needed); then the lowest id.
fn best<'a>(
    candidates: impl Iterator<Item = &'a MemberState>,
    taken: &BTreeMap<&str, usize>,
) -> Option<&'a MemberState> {
    candidates.min_by_key(|m| {
        (
            taken.contains_key(m.failure_domain.as_str()),
            promotion_rank(m.role),
            m.id,
        )
    })
}

/// The holder to demote: never the leader; first from the domain holding the most of
/// them, so the spread over domains survives; then the highest id.
///
/// The domain count includes the leader: it still occupies a slot in its domain. Counting
/// only the demotable holders can strip a domain's last voter, which step 4 then restores,
/// and the two steps take turns for ever.
fn surplus<'a>(leader: u64, holders: &[&'a MemberState]) -> Option<&'a MemberState> {
    let counts = per_domain(holders);
    holders
        .iter()
        .copied()
        .filter(|m| m.id != leader)
        .max_by_key(|m| {
            (
                counts.get(m.failure_domain.as_str()).copied().unwrap_or(0),
                m.id,
            )
        })
}

/// How many of `members` sit in each failure domain.
fn per_domain<'a>(members: &[&'a MemberState]) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for m in members {
        *counts.entry(m.failure_domain.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Stand-bys sort before spares when either could be promoted.
fn promotion_rank(role: DbRole) -> u8 {
    match role {
        DbRole::StandBy => 0,
        DbRole::Spare => 1,
        DbRole::Voter => 2,
    }
}

fn is_online(leader: u64, m: &MemberState) -> bool {
    m.online || m.id == leader
}

fn is_promotable(leader: u64, m: &MemberState) -> bool {
    is_online(leader, m) && !m.evacuated
}

fn to(m: &MemberState, role: DbRole) -> Change {
    Change { id: m.id, role }
}

fn apply(members: &mut [MemberState], change: Change) {
    for m in members.iter_mut().filter(|m| m.id == change.id) {
        m.role = change.role;
    }
}
