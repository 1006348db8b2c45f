//! Members as the API shows them: rows of the global database joined with the Raft
//! membership (roles) and heartbeats (status). The joining is a pure function.

use std::collections::BTreeSet;

use corral_shared::api::{Cluster, ClusterMember, MemberStatus, Role};
use openraft::{BasicNode, Membership};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::db::batch::Batch;
use crate::db::global::nodes::{self, DbRole, MemberState};
use crate::db::global::{queries, queries::MemberRow};
use crate::db::local::RaftNode;
use crate::error::{Error, Result};
use crate::node::{Node, Read};
use crate::raft::NodeId;

/// The name a server that is not clustered has in its own database (as in LXD).
pub const STANDALONE_NAME: &str = "none";

/// What Raft says about the database members at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftView {
    /// The leader, if one is known.
    pub leader: Option<NodeId>,
    /// Voters.
    pub voters: BTreeSet<NodeId>,
    /// Non-voting Raft members: stand-bys (and, for a moment, a member on its way to or
    /// from being a spare; the member's label tells which).
    pub standbys: BTreeSet<NodeId>,
    /// Spares, outside Raft, that this member (the leader) feeds and heard from recently.
    pub fed: BTreeSet<NodeId>,
    /// Learners that hold the membership in force (as the leader sees their replication):
    /// they know they do not vote, so they may leave Raft without campaigning on alone.
    pub settled: BTreeSet<NodeId>,
}

impl RaftView {
    /// Reads the view from a member's Raft metrics: leader, voters and stand-bys (what
    /// listings and events need; `fed` and `settled` stay empty, see [`Self::for_roles`]).
    pub fn of(node: &Node) -> Self {
        Self::from_metrics(&node.raft().metrics().borrow())
    }

    /// The view the role rule decides on: also which spares the leader's feed reaches and
    /// which learners are settled. Only the rule needs them, so only it pays for them.
    pub fn for_roles(node: &Node) -> Self {
        let metrics = node.raft().metrics();
        let m = metrics.borrow();
        let mut view = Self::from_metrics(&m);
        let config_index = m.membership_config.log_id().map(|l| l.index);
        view.settled = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, matched)| {
                        view.standbys.contains(*id) && matched.map(|l| l.index) >= config_index
                    })
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        view.fed = node.spares.reachable();
        view
    }

    fn from_metrics(m: &openraft::RaftMetrics<NodeId, BasicNode>) -> Self {
        let membership = m.membership_config.membership();
        let voters: BTreeSet<_> = membership.voter_ids().collect();
        let standbys: BTreeSet<NodeId> = membership
            .learner_ids()
            .filter(|id| !voters.contains(id))
            .collect();
        Self {
            leader: m.current_leader,
            voters,
            standbys,
            ..Self::default()
        }
    }
}

/// The roles a member holds: the automatic database roles first, then assigned ones.
pub fn roles(row: &MemberRow, raft: &RaftView) -> Vec<Role> {
    let mut roles = Vec::new();
    if raft.leader == Some(row.id) {
        roles.push(Role::DatabaseLeader);
    }
    if raft.voters.contains(&row.id) {
        roles.push(Role::Database);
    } else if raft.standbys.contains(&row.id) && row.db_role == DbRole::StandBy {
        // Learners labelled spare replicate too, but hold no database role.
        roles.push(Role::DatabaseStandby);
    }
    for r in &row.roles {
        match r.as_str() {
            "event-hub" => roles.push(Role::EventHub),
            "ovn-chassis" => roles.push(Role::OvnChassis),
            _ => {}
        }
    }
    roles
}

/// What a member's status is judged against.
#[derive(Debug, Clone, Copy)]
pub struct Judgement<'a> {
    /// Every member (versions are compared across them).
    pub rows: &'a [MemberRow],
    /// The member judging (always online to itself).
    pub self_id: NodeId,
    /// The time of judgement.
    pub now: OffsetDateTime,
    /// `cluster.offline_threshold`.
    pub offline_threshold: std::time::Duration,
}

/// `nodes.state` of a member that `recover-from-quorum-loss` left out of the database.
pub const LOST: MemberState = MemberState::Lost;

/// A duration as LXD (Go) prints one, to hundredths: `45.20s`, `1m2.35s`, `2h0m5.00s`.
pub fn go_duration(secs: f64) -> String {
    let secs = secs.max(0.0);
    let whole = secs as u64;
    let (h, m) = (whole / 3600, (whole % 3600) / 60);
    let s = secs - (h * 3600 + m * 60) as f64;
    if h > 0 {
        format!("{h}h{m}m{s:.2}s")
    } else if m > 0 {
        format!("{m}m{s:.2}s")
    } else {
        format!("{s:.2}s")
    }
}

/// How far a member's clock may be from the leader's before it is flagged.
const MAX_SKEW_MS: i64 = 5000;

/// A member's status and message: Evacuated, else Offline (no heartbeat within the
/// threshold), else Blocked (versions differ), else Online, with a clock warning if due.
pub fn status(row: &MemberRow, j: &Judgement<'_>) -> (MemberStatus, String) {
    if row.state == MemberState::Evacuated {
        return (
            MemberStatus::Evacuated,
            "Unavailable due to maintenance".into(),
        );
    }
    if row.id != j.self_id {
        let seen = OffsetDateTime::parse(&row.heartbeat, &Rfc3339).ok();
        let age = seen.map(|t| j.now - t);
        let stale = age.is_none_or(|a| a > j.offline_threshold);
        if stale || row.state == MemberState::Lost {
            let mut message = match age {
                Some(age) => format!(
                    "No heartbeat for {} ({})",
                    go_duration(age.as_seconds_f64()),
                    row.heartbeat
                ),
                None => "No heartbeat recorded".to_owned(),
            };
            if row.state == MemberState::Lost {
                message.push_str(
                    "; left out of the database by recover-from-quorum-loss: remove it \
                     ('corral cluster remove --force NAME') and join it again",
                );
                message = message.replace("NAME", &row.name);
            }
            return (MemberStatus::Offline, message);
        }
    }
    if let Some(message) = super::versions::blocked_message(row, j.rows) {
        return (MemberStatus::Blocked, message);
    }
    if row.clock_skew_ms.abs() > MAX_SKEW_MS {
        let direction = if row.clock_skew_ms > 0 {
            "ahead of"
        } else {
            "behind"
        };
        return (
            MemberStatus::Online,
            format!(
                "Clock is {:.2}s {direction} the database leader's; check its time synchronisation (NTP)",
                row.clock_skew_ms.abs() as f64 / 1000.0
            ),
        );
    }
    (MemberStatus::Online, "Fully operational".into())
}

/// The member as the API shows it.
pub fn view(row: &MemberRow, raft: &RaftView, j: &Judgement<'_>) -> ClusterMember {
    let roles = roles(row, raft);
    let (status, message) = status(row, j);
    ClusterMember {
        database: roles
            .iter()
            .any(|r| matches!(r, Role::Database | Role::DatabaseStandby)),
        roles,
        failure_domain: row.failure_domain.clone(),
        description: row.description.clone(),
        config: row.config.clone(),
        groups: row.groups.clone(),
        server_name: row.name.clone(),
        url: format!("https://{}", row.address),
        status,
        message,
        architecture: row.arch.clone(),
    }
}

fn not_clustered() -> Error {
    Error::BadRequest(
        "This server isn't part of a cluster; bootstrap one with 'corrald init --preseed' (cluster: enabled: true)"
            .into(),
    )
}

/// Every member, by name.
pub async fn list(node: &Node) -> Result<Vec<ClusterMember>> {
    if !node.is_clustered() {
        return Err(not_clustered());
    }
    let (rows, config) = node.global.read(rows_and_config).await?;
    Ok(assemble(node, &rows, &config))
}

/// The member rows and the cluster config, read together.
fn rows_and_config(
    c: &rusqlite::Connection,
) -> rusqlite::Result<(Vec<MemberRow>, std::collections::BTreeMap<String, String>)> {
    Ok((queries::members(c)?, queries::config(c)?))
}

/// The members as the API shows them, judged now from their rows and Raft's view.
fn assemble(
    node: &Node,
    rows: &[MemberRow],
    config: &std::collections::BTreeMap<String, String>,
) -> Vec<ClusterMember> {
    assemble_where(node, rows, config, |_| true)
}

/// [`assemble`] for the rows `keep` selects (every row still informs the judgement).
fn assemble_where(
    node: &Node,
    rows: &[MemberRow],
    config: &std::collections::BTreeMap<String, String>,
    keep: impl Fn(&MemberRow) -> bool,
) -> Vec<ClusterMember> {
    let threshold = corral_shared::config::ClusterSettings::from_config(config).offline_threshold;
    let raft = RaftView::of(node);
    let judgement = Judgement {
        rows,
        self_id: node.id(),
        now: OffsetDateTime::now_utc(),
        offline_threshold: threshold,
    };
    rows.iter()
        .filter(|r| keep(r))
        .map(|r| view(r, &raft, &judgement))
        .collect()
}

/// One member by name.
pub async fn get(node: &Node, name: &str) -> Result<ClusterMember> {
    let rows = node.global.read(Rows::read).await?;
    one_in(node, &rows, name)
}

/// What [`one_in`] needs from the database, read with whatever else a caller reads in the
/// same transaction.
pub(crate) struct Rows {
    rows: Vec<MemberRow>,
    config: std::collections::BTreeMap<String, String>,
}

impl Rows {
    /// Reads the member rows and the cluster config (inside the caller's transaction).
    pub(crate) fn read(c: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let (rows, config) = rows_and_config(c)?;
        Ok(Self { rows, config })
    }
}

/// Member `name` as the API shows it, from rows read by [`Rows::read`]: only that member
/// is judged (a member edit reads one before every write).
pub(crate) fn one_in(node: &Node, rows: &Rows, name: &str) -> Result<ClusterMember> {
    if !node.is_clustered() {
        return Err(not_clustered());
    }
    find(
        assemble_where(node, &rows.rows, &rows.config, |r| r.name == name),
        name,
    )
}

fn find(all: Vec<ClusterMember>, name: &str) -> Result<ClusterMember> {
    all.into_iter()
        .find(|m| m.server_name == name)
        .ok_or_else(|| Error::NotFound("Cluster member not found".into()))
}

/// Every member as of now (a linearizable read, as LXD's go through its leader). When that
/// cannot be confirmed (quorum lost, say), the replica is listed as it is, marked stale: in
/// that state its heartbeat ages are what tell an operator who is gone.
pub async fn list_current(node: &Node) -> Result<Read<Vec<ClusterMember>>> {
    if !node.is_clustered() {
        return Err(not_clustered());
    }
    let read = node.read_current(rows_and_config).await?;
    Ok(read.map(|(rows, config)| assemble(node, &rows, &config)))
}

/// One member by name, as [`list_current`] reads (LXD's error when there is none).
pub async fn get_current(node: &Node, name: &str) -> Result<Read<Result<ClusterMember>>> {
    Ok(list_current(node).await?.map(|all| find(all, name)))
}

/// What `GET /1.0/cluster` shows, as of now: this member's name and the keys a joiner
/// must answer for the cluster's storage pools and networks.
pub async fn cluster_current(node: &Node) -> Result<Read<Result<Cluster>>> {
    let clustered = node.is_clustered();
    let id = node.id();
    let read = node
        .read_current(move |c| {
            let me = queries::member_by_id(c, id)?;
            Ok((
                me,
                crate::db::global::storage_pools::created_pools(c)?,
                queries::networks(c)?,
            ))
        })
        .await?;
    Ok(read.map(|(me, pools, networks)| {
        if !clustered {
            return Ok(Cluster {
                server_name: String::new(),
                enabled: false,
                member_config: Vec::new(),
            });
        }
        let me = me.ok_or_else(|| no_row(id))?;
        Ok(Cluster {
            server_name: me.name,
            enabled: true,
            member_config: super::member_config::required(&pools, &networks),
        })
    }))
}

fn no_row(id: NodeId) -> Error {
    Error::Internal(format!("member {id} has no row in the database yet"))
}

/// This member's name ("none" until it is clustered).
pub async fn own_name(node: &Node) -> Result<String> {
    let id = node.id();
    node.global
        .read(move |c| queries::member_by_id(c, id))
        .await?
        .map(|r| r.name)
        .ok_or_else(|| Error::Internal(format!("member {id} has no row in the database yet")))
}

/// The current time as stored in heartbeats.
pub fn now() -> String {
    crate::operations::now_rfc3339()
}

/// Inserts this member's row if the database has none (first start of a standalone server).
pub async fn ensure_self(node: &Node) -> Result<()> {
    let id = node.id();
    let exists = node
        .global
        .read(move |c| queries::member_by_id(c, id))
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let mut batch = Batch::new();
    nodes::add_standalone(
        &mut batch,
        id,
        STANDALONE_NAME,
        super::versions::own(),
        &now(),
    );
    node.propose(batch).await.map(|_| ())
}

/// Records, through Raft, that this member runs: its version, a fresh heartbeat, and that
/// it is no longer shutting down. Sent at start so a restarted member shows ONLINE at once
/// (never a stale OFFLINE) and its version is known before anything compares it.
pub async fn announce(node: &Node) -> Result<()> {
    let mut batch = Batch::new();
    nodes::announce(&mut batch, node.id(), super::versions::own(), &now());
    node.propose(batch).await.map(|_| ())
}

/// How long a member waits before announcing itself again after a failed try.
const ANNOUNCE_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// [`announce`], tried again until it is recorded, the member stops or leaves the cluster.
/// A member that came back before a quorum did would otherwise stay marked as stopping,
/// and a stopping member is never given a role again.
pub async fn announce_until_recorded(node: &Node) {
    let mut said = false;
    while node.is_clustered() {
        match announce(node).await {
            Ok(()) => {
                if said {
                    tracing::info!("announced this member to the cluster");
                }
                return;
            }
            Err(e) if !said => {
                tracing::warn!("could not announce this member to the cluster (trying again): {e}");
                said = true;
            }
            Err(e) => tracing::debug!("could not announce this member yet: {e}"),
        }
        tokio::select! {
            _ = node.shutdown_requested() => return,
            _ = tokio::time::sleep(ANNOUNCE_RETRY) => {}
        }
    }
}

/// The `raft_nodes` rows for a membership: LXD's role numbers (0 voter, 1 stand-by).
pub async fn raft_node_rows(
    node: &Node,
    membership: &Membership<NodeId, BasicNode>,
) -> Vec<RaftNode> {
    let names = node.global.read(queries::members).await.unwrap_or_default();
    let voters: BTreeSet<_> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, n)| {
            let row = names.iter().find(|r| r.id == *id);
            RaftNode {
                id: *id,
                address: row.map_or(n.addr.clone(), |r| r.address.clone()),
                role: if voters.contains(id) {
                    DbRole::Voter
                } else {
                    DbRole::StandBy
                },
                name: row.map_or_else(String::new, |r| r.name.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(id: u64, heartbeat: &str) -> MemberRow {
        let db_role = if id == 3 {
            DbRole::StandBy
        } else {
            DbRole::Spare
        };
        MemberRow {
            heartbeat: heartbeat.into(),
            db_role,
            groups: vec!["default".into()],
            ..MemberRow::sample(id)
        }
    }

    #[test]
    fn roles_follow_raft_membership() {
        let raft = RaftView {
            leader: Some(1),
            voters: [1, 2].into(),
            standbys: [3, 4].into(),
            fed: [5].into(),
            settled: Default::default(),
        };
        let cases = [
            (1, vec![Role::DatabaseLeader, Role::Database]),
            (2, vec![Role::Database]),
            (3, vec![Role::DatabaseStandby]),
            (4, vec![]),
        ];
        for (id, want) in cases {
            assert_eq!(roles(&row(id, ""), &raft), want, "member {id}");
        }
    }

    #[test]
    fn status_is_offline_only_past_the_threshold() {
        let now = OffsetDateTime::parse("2026-11-23T18:00:30Z", &Rfc3339).unwrap();
        let threshold = Duration::from_secs(20);
        let cases = [
            ("2026-11-23T18:00:20Z", false, MemberStatus::Online),
            ("2026-11-23T18:00:00Z", false, MemberStatus::Offline),
            ("2026-11-23T18:00:00Z", true, MemberStatus::Online),
            ("garbage", false, MemberStatus::Offline),
        ];
        for (beat, is_self, want) in cases {
            let rows = vec![row(2, beat)];
            let j = Judgement {
                rows: &rows,
                self_id: if is_self { 2 } else { 1 },
                now,
                offline_threshold: threshold,
            };
            let (got, message) = status(&rows[0], &j);
            assert_eq!(got, want, "{beat} self={is_self}: {message}");
        }
        let rows = vec![row(2, "2026-11-23T18:00:00Z")];
        let j = Judgement {
            rows: &rows,
            self_id: 1,
            now,
            offline_threshold: threshold,
        };
        let (_, message) = status(&rows[0], &j);
        assert_eq!(message, "No heartbeat for 30.00s (2026-11-23T18:00:00Z)");

        // A member recovery left out is offline even with a recent heartbeat, which it shows.
        let mut lost = row(2, "2026-11-23T18:00:25Z");
        lost.state = LOST;
        let rows = vec![lost, row(3, "")];
        let j = Judgement {
            rows: &rows,
            self_id: 1,
            now,
            offline_threshold: threshold,
        };
        let (got, message) = status(&rows[0], &j);
        assert_eq!(got, MemberStatus::Offline);
        assert!(
            message.starts_with("No heartbeat for 5.00s (2026-11-23T18:00:25Z); left out"),
            "{message}"
        );
        let (got, message) = status(&rows[1], &j);
        assert_eq!(
            (got, message.as_str()),
            (MemberStatus::Offline, "No heartbeat recorded")
        );

        let mut skewed = row(2, "2026-11-23T18:00:25Z");
        skewed.clock_skew_ms = -7200;
        let rows = vec![skewed];
        let j = Judgement {
            rows: &rows,
            self_id: 1,
            now,
            offline_threshold: threshold,
        };
        let (got, message) = status(&rows[0], &j);
        assert_eq!(got, MemberStatus::Online);
        assert!(
            message.starts_with("Clock is 7.20s behind the database leader's"),
            "{message}"
        );
    }

    #[test]
    fn durations_read_as_lxds() {
        for (secs, want) in [
            (0.0, "0.00s"),
            (45.2, "45.20s"),
            (62.346, "1m2.35s"),
            (7205.0, "2h0m5.00s"),
            (-1.0, "0.00s"),
        ] {
            assert_eq!(go_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn view_matches_lxds_member_shape() {
        let raft = RaftView {
            leader: Some(1),
            voters: [1].into(),
            standbys: Default::default(),
            fed: Default::default(),
            settled: Default::default(),
        };
        let rows = vec![row(1, "")];
        let j = Judgement {
            rows: &rows,
            self_id: 1,
            now: OffsetDateTime::now_utc(),
            offline_threshold: Duration::from_secs(20),
        };
        let m = view(&rows[0], &raft, &j);
        assert_eq!(m.url, "https://127.0.0.1:8443");
        assert!(m.database);
        assert_eq!(m.status, MemberStatus::Online);
        assert_eq!(m.message, "Fully operational");
    }
}
