//! The diagnosis: facts in, findings and next commands out. No I/O, so every situation an
//! operator may face is a row in the table tests below.

use corral_shared::doctor::{Finding, Report, Severity};
use time::{Duration, OffsetDateTime};

use super::{Certificate, DbRole, Facts, MemberFacts, Reach};

/// Clocks further apart than this make heartbeats misjudge members (LXD warns at 5 s too).
pub const MAX_CLOCK_SKEW_MS: i64 = 5000;

/// A certificate this close to expiry is worth a warning.
const EXPIRY_WARNING: Duration = Duration::days(30);

/// What to do next when the certificate must be replaced (there is no online rotation yet).
const REPLACE_CERTIFICATE: &str = "make a new cluster certificate and key, copy the same pair to cluster.crt and cluster.key in every member's directory, then restart every member ('corrald shutdown', then 'corrald')";

/// Diagnoses the cluster from what was gathered.
pub fn diagnose(facts: &Facts) -> Report {
    if !facts.clustered {
        return Report {
            summary:
                "This server is not part of a cluster: there is nothing for the doctor to check."
                    .into(),
            findings: vec![finding(
                Severity::Info,
                "No cluster certificate: bootstrap a cluster with 'corrald init' or join one with a token from 'corral cluster add NAME'.",
            )],
            next: Vec::new(),
        };
    }
    let mut d = Diagnosis::default();
    let quorum = quorum(facts, &mut d);
    members(facts, quorum, &mut d);
    versions(facts, &mut d);
    clocks(facts, &mut d);
    certificate(facts, &mut d);
    d.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let summary = summary(facts, quorum, &d);
    Report {
        summary,
        findings: d.findings,
        next: d.next,
    }
}

#[derive(Default)]
struct Diagnosis {
    findings: Vec<Finding>,
    next: Vec<String>,
    /// What was checked and found fine, for the summary of a healthy cluster.
    fine: Vec<String>,
}

impl Diagnosis {
    fn add(&mut self, severity: Severity, text: impl Into<String>) {
        self.findings.push(finding(severity, text));
    }
}

fn finding(severity: Severity, text: impl Into<String>) -> Finding {
    Finding {
        severity,
        text: text.into(),
    }
}

/// Where the database's quorum stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quorum {
    /// Enough voters answer.
    Holds,
    /// Too few answer, but starting this member's stopped daemon would be enough.
    AwaitsThisMember,
    /// Too few voters can be counted on even with this member started.
    Lost,
    /// No voter is known (the Raft configuration is empty).
    Unknown,
}

fn label(m: &MemberFacts) -> String {
    format!("{} ({})", m.name, m.address)
}

fn names(members: &[&MemberFacts]) -> String {
    members
        .iter()
        .map(|m| label(m))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quorum(facts: &Facts, d: &mut Diagnosis) -> Quorum {
    let voters: Vec<&MemberFacts> = facts
        .members
        .iter()
        .filter(|m| m.role == DbRole::Voter)
        .collect();
    if voters.is_empty() {
        d.add(
            Severity::Info,
            "No database voter is recorded in this member's Raft configuration: quorum cannot be judged from here; run the doctor on another member.",
        );
        return Quorum::Unknown;
    }
    let needed = corral_shared::quorum::quorum(voters.len());
    let up = voters.iter().filter(|m| m.reach == Reach::Up).count();
    let stopped_here = voters.iter().any(|m| m.reach == Reach::Stopped);
    let missing: Vec<&MemberFacts> = voters
        .iter()
        .copied()
        .filter(|m| matches!(m.reach, Reach::Unreachable(_)))
        .collect();
    let counts = format!(
        "{up} of {} database voters answer, {needed} are needed",
        voters.len()
    );
    if up >= needed {
        let leader = facts
            .leader
            .and_then(|id| facts.members.iter().find(|m| m.id == id))
            .map(|m| format!("; the leader is {}", m.name))
            .unwrap_or_default();
        d.add(
            Severity::Ok,
            format!("The database has quorum: {counts}{leader}."),
        );
        d.fine.push(format!(
            "the database has quorum ({up} of {} voters)",
            voters.len()
        ));
        return Quorum::Holds;
    }
    if stopped_here && up + 1 >= needed {
        d.add(
            Severity::Problem,
            format!("The database has no quorum while this member's daemon is stopped: {counts}; starting it restores quorum."),
        );
        return Quorum::AwaitsThisMember;
    }
    d.add(
        Severity::Problem,
        format!(
            "The cluster database has lost quorum: {counts}. Unreachable voters: {}.",
            names(&missing)
        ),
    );
    d.add(
        Severity::Info,
        "If the unreachable members can come back, start their daemons ('corrald') instead: one more voter restores quorum. Recover only from members lost for good.",
    );
    Quorum::Lost
}

/// The member whose log is newest (this member wins ties: recovering here is simplest).
fn newest_log(facts: &Facts) -> Option<&MemberFacts> {
    facts
        .members
        .iter()
        .filter(|m| m.log.is_some() && !matches!(m.reach, Reach::Unreachable(_)))
        .max_by_key(|m| (m.log, m.is_self, std::cmp::Reverse(m.name.clone())))
}

fn members(facts: &Facts, quorum: Quorum, d: &mut Diagnosis) {
    let severity = if quorum == Quorum::Lost {
        Severity::Problem
    } else {
        Severity::Warning
    };
    let mut lost: Vec<&MemberFacts> = Vec::new();
    for m in &facts.members {
        match &m.reach {
            Reach::Unreachable(why) => {
                d.add(severity, format!("{} does not answer: {why}.", label(m)));
                lost.push(m);
            }
            Reach::Stopped => d.add(
                Severity::Problem,
                format!(
                    "This member's daemon is not running ({} at {}).",
                    m.name, m.address
                ),
            ),
            Reach::Up if m.heartbeat_offline => d.add(
                Severity::Warning,
                format!(
                    "{} answers, but the leader's heartbeats do not reach it: check the network between it and the leader.",
                    label(m)
                ),
            ),
            Reach::Up => {}
        }
        if !m.listed {
            d.add(
                Severity::Warning,
                format!(
                    "Raft member {} at {} is in the Raft configuration but not in the member list (it left uncleanly).",
                    m.id, m.address
                ),
            );
        }
    }
    let here = facts.members.iter().find(|m| m.is_self);
    match quorum {
        Quorum::Lost => {
            let Some(survivor) = newest_log(facts) else {
                d.add(
                    Severity::Info,
                    "No surviving member's log could be read: run 'corrald cluster doctor' on each surviving member and recover on the one with the highest term, then the highest index.",
                );
                return;
            };
            let log = survivor.log.unwrap_or_default();
            let others: Vec<String> = facts
                .members
                .iter()
                .filter(|m| m.id != survivor.id)
                .filter_map(|m| {
                    m.log
                        .map(|l| format!("{} term {} index {}", m.name, l.term, l.index))
                })
                .collect();
            let compared = if others.is_empty() {
                String::new()
            } else {
                format!(" (other survivors: {})", others.join(", "))
            };
            d.add(
                Severity::Info,
                format!(
                    "{} has the newest database log among the survivors: term {}, index {}{compared}.",
                    survivor.name, log.term, log.index
                ),
            );
            let on = format!("on {} ({})", survivor.name, survivor.address);
            if survivor.reach == Reach::Up {
                d.next.push(format!("{on}: corrald shutdown"));
            }
            d.next
                .push(format!("{on}: corrald cluster recover-from-quorum-loss"));
            d.next.push(format!("{on}: corrald"));
            for m in lost.iter().filter(|m| m.listed) {
                d.next
                    .push(format!("corral cluster remove {} --force", m.name));
            }
        }
        Quorum::AwaitsThisMember | Quorum::Holds | Quorum::Unknown => {
            if let Some(me) = here.filter(|m| m.reach == Reach::Stopped) {
                d.next
                    .push(format!("on {}: start the daemon with 'corrald'", label(me)));
            }
            for m in lost.iter().filter(|m| m.listed) {
                d.next.push(format!(
                    "bring {} back by starting 'corrald' on it; if it is lost for good: corral cluster remove {} --force",
                    label(m),
                    m.name
                ));
            }
        }
    }
    for m in facts.members.iter().filter(|m| !m.listed) {
        d.next
            .push(format!("corrald cluster remove-raft-node {}", m.address));
    }
    if lost.is_empty() && here.is_none_or(|m| m.reach == Reach::Up) {
        d.fine
            .push(format!("all {} members answer", facts.members.len()));
    }
}

fn version_text(v: (i64, i64)) -> String {
    format!("schema {}, API extensions {}", v.0, v.1)
}

fn versions(facts: &Facts, d: &mut Diagnosis) {
    let known: Vec<(&MemberFacts, (i64, i64))> = facts
        .members
        .iter()
        .filter_map(|m| m.version.map(|v| (m, v)))
        .collect();
    let Some(newest) = known.iter().map(|(_, v)| *v).max() else {
        return;
    };
    let behind: Vec<&(&MemberFacts, (i64, i64))> =
        known.iter().filter(|(_, v)| *v != newest).collect();
    if behind.is_empty() {
        d.add(
            Severity::Ok,
            format!(
                "Every member runs the same version ({}).",
                version_text(newest)
            ),
        );
        d.fine.push("versions match".into());
        return;
    }
    let all: Vec<String> = known
        .iter()
        .map(|(m, v)| format!("{} ({})", m.name, version_text(*v)))
        .collect();
    d.add(
        Severity::Warning,
        format!(
            "Members run different versions: {}. The newer ones refuse the API until every member runs their version.",
            all.join(", ")
        ),
    );
    for (m, _) in behind {
        d.next.push(format!(
            "on {}: upgrade corrald to the version the others run ({}), then restart it",
            label(m),
            version_text(newest)
        ));
    }
}

fn clocks(facts: &Facts, d: &mut Diagnosis) {
    let mut skewed = false;
    for m in &facts.members {
        let Some(skew) = m.clock_skew_ms.filter(|s| s.abs() > MAX_CLOCK_SKEW_MS) else {
            continue;
        };
        skewed = true;
        let direction = if skew > 0 { "ahead of" } else { "behind" };
        d.add(
            Severity::Warning,
            format!(
                "{}'s clock is {:.1}s {direction} this member's: heartbeats may mark members offline wrongly.",
                m.name,
                skew.abs() as f64 / 1000.0
            ),
        );
        d.next.push(format!(
            "on {}: fix its time synchronisation (NTP), e.g. 'timedatectl set-ntp true'",
            label(m)
        ));
    }
    let measured = facts.members.iter().any(|m| m.clock_skew_ms.is_some());
    if !skewed && measured {
        d.add(
            Severity::Ok,
            format!("Clocks agree within {}s.", MAX_CLOCK_SKEW_MS / 1000),
        );
        d.fine.push("clocks agree".into());
    }
}

fn date(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn certificate(facts: &Facts, d: &mut Diagnosis) {
    match &facts.certificate {
        Certificate::Unreadable(why) => d.add(
            Severity::Warning,
            format!("The cluster certificate could not be read: {why}."),
        ),
        Certificate::Expires(at) if *at <= facts.now => {
            d.add(
                Severity::Problem,
                format!(
                    "The cluster certificate expired on {}: members refuse each other's connections.",
                    date(*at)
                ),
            );
            d.next.push(REPLACE_CERTIFICATE.into());
        }
        Certificate::Expires(at) if *at - facts.now <= EXPIRY_WARNING => {
            d.add(
                Severity::Warning,
                format!(
                    "The cluster certificate expires on {}, in {} days.",
                    date(*at),
                    (*at - facts.now).whole_days()
                ),
            );
            d.next
                .push(format!("before {}: {REPLACE_CERTIFICATE}", date(*at)));
        }
        Certificate::Expires(at) => {
            d.add(
                Severity::Ok,
                format!("The cluster certificate is valid until {}.", date(*at)),
            );
            d.fine.push(format!(
                "the cluster certificate is valid until {}",
                date(*at)
            ));
        }
    }
}

fn summary(facts: &Facts, quorum: Quorum, d: &Diagnosis) -> String {
    let worst = d.findings.iter().map(|f| f.severity).max();
    match (quorum, worst) {
        (Quorum::Lost, _) => {
            "The cluster database has lost quorum: writes fail until it is restored.".into()
        }
        (_, Some(Severity::Problem)) => {
            let problems = d
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Problem)
                .count();
            format!("The cluster needs attention: {problems} problem(s) found.")
        }
        (_, Some(Severity::Warning)) => {
            "The cluster works, but needs attention soon (see the warnings).".into()
        }
        _ => format!(
            "All is well: {} member(s); {}.",
            facts.members.len(),
            d.fine.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::super::LogPosition;
    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn member(id: u64) -> MemberFacts {
        MemberFacts {
            id,
            name: format!("node{id}"),
            address: format!("127.0.0.{id}:8443"),
            is_self: id == 1,
            role: DbRole::Voter,
            listed: true,
            reach: Reach::Up,
            log: Some(LogPosition { term: 3, index: 40 }),
            version: Some((1, 40)),
            clock_skew_ms: Some(0),
            heartbeat_offline: false,
        }
    }

    fn down(mut m: MemberFacts) -> MemberFacts {
        m.reach = Reach::Unreachable("connection refused".into());
        m.log = None;
        m.clock_skew_ms = None;
        m
    }

    fn facts(members: Vec<MemberFacts>) -> Facts {
        Facts {
            clustered: true,
            members,
            leader: Some(1),
            certificate: Certificate::Expires(datetime!(2036-01-01 00:00 UTC)),
            now: NOW,
        }
    }

    fn healthy() -> Facts {
        facts(vec![member(1), member(2), member(3)])
    }

    struct Case {
        name: &'static str,
        facts: Facts,
        summary: &'static str,
        /// Each must appear in some finding.
        findings: &'static [&'static str],
        /// The next commands, exactly.
        next: &'static [&'static str],
    }

    #[test]
    fn diagnoses() {
        let cases = vec![
            Case {
                name: "healthy",
                facts: healthy(),
                summary: "All is well: 3 member(s); the database has quorum (3 of 3 voters), all 3 members answer, versions match, clocks agree, the cluster certificate is valid until 2036-01-01 00:00 UTC.",
                findings: &["3 of 3 database voters answer, 2 are needed; the leader is node1"],
                next: &[],
            },
            Case {
                name: "one member down, quorum holds",
                facts: facts(vec![member(1), member(2), down(member(3))]),
                summary: "The cluster works, but needs attention soon (see the warnings).",
                findings: &[
                    "node3 (127.0.0.3:8443) does not answer: connection refused.",
                    "The database has quorum: 2 of 3",
                ],
                next: &[
                    "bring node3 (127.0.0.3:8443) back by starting 'corrald' on it; if it is lost for good: corral cluster remove node3 --force",
                ],
            },
            Case {
                name: "quorum lost, this member has the newest log",
                facts: facts(vec![member(1), down(member(2)), down(member(3))]),
                summary: "The cluster database has lost quorum: writes fail until it is restored.",
                findings: &[
                    "lost quorum: 1 of 3 database voters answer, 2 are needed. Unreachable voters: node2 (127.0.0.2:8443), node3 (127.0.0.3:8443).",
                    "node1 has the newest database log among the survivors: term 3, index 40.",
                ],
                next: &[
                    "on node1 (127.0.0.1:8443): corrald shutdown",
                    "on node1 (127.0.0.1:8443): corrald cluster recover-from-quorum-loss",
                    "on node1 (127.0.0.1:8443): corrald",
                    "corral cluster remove node2 --force",
                    "corral cluster remove node3 --force",
                ],
            },
            Case {
                name: "quorum lost, another survivor has a newer log; this daemon stopped",
                facts: {
                    let mut me = member(1);
                    me.reach = Reach::Stopped;
                    me.log = Some(LogPosition { term: 3, index: 38 });
                    let mut two = member(2);
                    two.log = Some(LogPosition { term: 4, index: 2 });
                    facts(vec![
                        me,
                        two,
                        down(member(3)),
                        down(member(4)),
                        down(member(5)),
                    ])
                },
                summary: "The cluster database has lost quorum: writes fail until it is restored.",
                findings: &[
                    "1 of 5 database voters answer, 3 are needed",
                    "This member's daemon is not running (node1 at 127.0.0.1:8443).",
                    "node2 has the newest database log among the survivors: term 4, index 2 (other survivors: node1 term 3 index 38).",
                ],
                next: &[
                    "on node2 (127.0.0.2:8443): corrald shutdown",
                    "on node2 (127.0.0.2:8443): corrald cluster recover-from-quorum-loss",
                    "on node2 (127.0.0.2:8443): corrald",
                    "corral cluster remove node3 --force",
                    "corral cluster remove node4 --force",
                    "corral cluster remove node5 --force",
                ],
            },
            Case {
                name: "this daemon stopped, starting it restores quorum",
                facts: {
                    let mut me = member(1);
                    me.reach = Reach::Stopped;
                    facts(vec![me, member(2), down(member(3))])
                },
                summary: "The cluster needs attention: 2 problem(s) found.",
                findings: &["starting it restores quorum"],
                next: &[
                    "on node1 (127.0.0.1:8443): start the daemon with 'corrald'",
                    "bring node3 (127.0.0.3:8443) back by starting 'corrald' on it; if it is lost for good: corral cluster remove node3 --force",
                ],
            },
            Case {
                name: "version mismatch",
                facts: {
                    let mut two = member(2);
                    two.version = Some((1, 38));
                    facts(vec![member(1), two, member(3)])
                },
                summary: "The cluster works, but needs attention soon (see the warnings).",
                findings: &[
                    "Members run different versions: node1 (schema 1, API extensions 40), node2 (schema 1, API extensions 38), node3 (schema 1, API extensions 40).",
                ],
                next: &[
                    "on node2 (127.0.0.2:8443): upgrade corrald to the version the others run (schema 1, API extensions 40), then restart it",
                ],
            },
            Case {
                name: "clock skew over 5 s",
                facts: {
                    let mut three = member(3);
                    three.clock_skew_ms = Some(-7200);
                    facts(vec![member(1), member(2), three])
                },
                summary: "The cluster works, but needs attention soon (see the warnings).",
                findings: &["node3's clock is 7.2s behind this member's"],
                next: &[
                    "on node3 (127.0.0.3:8443): fix its time synchronisation (NTP), e.g. 'timedatectl set-ntp true'",
                ],
            },
            Case {
                name: "clock skew of 5 s exactly is tolerated",
                facts: {
                    let mut three = member(3);
                    three.clock_skew_ms = Some(5000);
                    facts(vec![member(1), member(2), three])
                },
                summary: "All is well: 3 member(s); the database has quorum (3 of 3 voters), all 3 members answer, versions match, clocks agree, the cluster certificate is valid until 2036-01-01 00:00 UTC.",
                findings: &[],
                next: &[],
            },
            Case {
                name: "certificate expiring within 30 days",
                facts: {
                    let mut f = healthy();
                    f.certificate = Certificate::Expires(datetime!(2026-06-21 12:00 UTC));
                    f
                },
                summary: "The cluster works, but needs attention soon (see the warnings).",
                findings: &["The cluster certificate expires on 2026-06-21 12:00 UTC, in 20 days."],
                next: &[
                    "before 2026-06-21 12:00 UTC: make a new cluster certificate and key, copy the same pair to cluster.crt and cluster.key in every member's directory, then restart every member ('corrald shutdown', then 'corrald')",
                ],
            },
            Case {
                name: "certificate expired",
                facts: {
                    let mut f = healthy();
                    f.certificate = Certificate::Expires(datetime!(2026-05-01 00:00 UTC));
                    f
                },
                summary: "The cluster needs attention: 1 problem(s) found.",
                findings: &["The cluster certificate expired on 2026-05-01 00:00 UTC"],
                next: &[REPLACE_CERTIFICATE],
            },
            Case {
                name: "a Raft member left uncleanly",
                facts: {
                    let mut stray = member(4);
                    stray.listed = false;
                    stray.name = "member 4".into();
                    facts(vec![member(1), member(2), member(3), stray])
                },
                summary: "The cluster works, but needs attention soon (see the warnings).",
                findings: &[
                    "Raft member 4 at 127.0.0.4:8443 is in the Raft configuration but not in the member list",
                ],
                next: &["corrald cluster remove-raft-node 127.0.0.4:8443"],
            },
            Case {
                name: "not clustered",
                facts: Facts {
                    clustered: false,
                    ..healthy()
                },
                summary: "This server is not part of a cluster: there is nothing for the doctor to check.",
                findings: &["corrald init"],
                next: &[],
            },
        ];
        for case in cases {
            let report = diagnose(&case.facts);
            assert_eq!(report.summary, case.summary, "{}", case.name);
            for wanted in case.findings {
                assert!(
                    report.findings.iter().any(|f| f.text.contains(wanted)),
                    "{}: no finding contains {wanted:?} in {:#?}",
                    case.name,
                    report.findings
                );
            }
            let next: Vec<&str> = report.next.iter().map(String::as_str).collect();
            assert_eq!(next, case.next, "{}", case.name);
        }
    }

    #[test]
    fn findings_come_worst_first() {
        let report = diagnose(&facts(vec![member(1), down(member(2)), down(member(3))]));
        let severities: Vec<Severity> = report.findings.iter().map(|f| f.severity).collect();
        let mut sorted = severities.clone();
        sorted.sort_by_key(|s| std::cmp::Reverse(*s));
        assert_eq!(severities, sorted);
        assert_eq!(report.worst(), Severity::Problem);
    }
}
