//! Members are written as compact specs so each table row reads like a cluster listing:
//! `3V!@az2` is member 3, a voter, offline, in failure domain az2. Roles are `V` (voter),
//! `S` (stand-by) and `-` (spare); `!` marks offline and `~` evacuated; the domain defaults
//! to `default`. Changes and resulting roles use the same id-and-letter form.

use super::*;

const DEFAULTS: Limits = Limits {
    max_voters: 3,
    max_standby: 2,
};

fn limits(max_voters: usize, max_standby: usize) -> Limits {
    Limits {
        max_voters,
        max_standby,
    }
}

fn cluster(spec: &str) -> Vec<MemberState> {
    spec.split_whitespace().map(member).collect()
}

fn member(token: &str) -> MemberState {
    let (head, domain) = token.split_once('@').unwrap_or((token, "default"));
    let digits = head
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(head.len());
    let (id, rest) = head.split_at(digits);
    let mut flags = rest.chars();
    let role = match flags.next() {
        Some('V') => DbRole::Voter,
        Some('S') => DbRole::StandBy,
        Some('-') => DbRole::Spare,
        other => panic!("bad role {other:?} in {token}"),
    };
    let flags: String = flags.collect();
    MemberState {
        id: id.parse().unwrap_or_else(|_| panic!("bad id in {token}")),
        role,
        online: !flags.contains('!'),
        failure_domain: domain.to_owned(),
        evacuated: flags.contains('~'),
    }
}

fn letter(role: DbRole) -> char {
    match role {
        DbRole::Voter => 'V',
        DbRole::StandBy => 'S',
        DbRole::Spare => '-',
    }
}

fn show_changes(changes: &[Change]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| format!("{}{}", c.id, letter(c.role)))
        .collect();
    parts.join(" ")
}

fn show_roles(members: &[MemberState]) -> String {
    let mut sorted: Vec<&MemberState> = members.iter().collect();
    sorted.sort_by_key(|m| m.id);
    let parts: Vec<String> = sorted
        .iter()
        .map(|m| format!("{}{}", m.id, letter(m.role)))
        .collect();
    parts.join(" ")
}

fn change(shown: &str) -> Option<Change> {
    if shown.is_empty() {
        return None;
    }
    let m = member(shown);
    Some(Change {
        id: m.id,
        role: m.role,
    })
}

#[test]
fn next_change_takes_one_step() {
    struct Case {
        name: &'static str,
        leader: u64,
        members: &'static str,
        limits: Limits,
        want: &'static str,
    }
    let cases = [
        Case {
            name: "1: a lone leader that votes needs nothing",
            leader: 1,
            members: "1V",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "2: a lone leader not recorded as voter is promoted",
            leader: 1,
            members: "1S",
            limits: DEFAULTS,
            want: "1V",
        },
        Case {
            name: "2: with two members a second voter is demoted",
            leader: 1,
            members: "1V 2V",
            limits: DEFAULTS,
            want: "2-",
        },
        Case {
            name: "2: with two members the other one becomes a stand-by",
            leader: 1,
            members: "1V 2-",
            limits: DEFAULTS,
            want: "2S",
        },
        Case {
            name: "2: with two members and max_standby 0 the stand-by goes",
            leader: 1,
            members: "1V 2S",
            limits: limits(3, 0),
            want: "2-",
        },
        Case {
            name: "a leader missing from the list means no decision",
            leader: 9,
            members: "1V 2V 3V 4-",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "a leader flagged offline still counts as online",
            leader: 1,
            members: "1V! 2V 3V",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "4: voters all in az1 and a stand-by in az2: the stand-by gets a vote",
            leader: 1,
            members: "1V@az1 2V@az1 3V@az1 4S@az2",
            limits: DEFAULTS,
            want: "4V",
        },
        Case {
            name: "4: in the voterless domains a stand-by beats a spare",
            leader: 1,
            members: "1V@az1 2V@az1 3V@az1 4-@az2 5S@az3",
            limits: DEFAULTS,
            want: "5V",
        },
        Case {
            name: "4: a voterless domain with only offline or evacuated members is left alone",
            leader: 1,
            members: "1V@az1 2V@az1 3V@az1 4S@az1 5S@az1 6-!@az2 7-~@az2",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "5: three voters and two stand-bys, all online, is settled",
            leader: 1,
            members: "1V 2V 3V 4S 5S 6-",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "6: a domain without a voter beats being a stand-by",
            leader: 1,
            members: "1V@az1 2V@az2 3V!@az3 4S@az1 5-@az3",
            limits: DEFAULTS,
            want: "5V",
        },
        Case {
            name: "6: within equal domains a stand-by beats a spare",
            leader: 1,
            members: "1V 2V 3V! 4- 5S",
            limits: DEFAULTS,
            want: "5V",
        },
        Case {
            name: "6: otherwise the lowest id wins",
            leader: 1,
            members: "1V 2V 3V! 5- 4-",
            limits: DEFAULTS,
            want: "4V",
        },
        Case {
            name: "6: an offline voter with nobody to replace it keeps its vote",
            leader: 1,
            members: "1V 2V 3V!",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "6: offline members are never promoted",
            leader: 1,
            members: "1V 2V 3V! 4S! 5-!",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "6: evacuated members are never promoted",
            leader: 1,
            members: "1V 2V 3V! 4S~ 5-~",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "7: the surplus voter comes from the domain with most voters, highest id",
            leader: 1,
            members: "1V@az1 2V@az1 3V@az2 4V@az1 5V@az3",
            limits: DEFAULTS,
            want: "4-",
        },
        Case {
            name: "7: the leader is never the one demoted",
            leader: 4,
            members: "1V 2V 3V 4V",
            limits: DEFAULTS,
            want: "3-",
        },
        Case {
            name: "7: the leader counts towards its domain's voters",
            leader: 1,
            members: "1V@az1 2V@az1 3V@az2 4V@az3",
            limits: DEFAULTS,
            want: "2-",
        },
        Case {
            name: "8: once enough voters are online an offline one loses its vote",
            leader: 1,
            members: "1V 2V 3V! 4V",
            limits: DEFAULTS,
            want: "3-",
        },
        Case {
            name: "9: the new stand-by comes from a domain without one",
            leader: 1,
            members: "1V@az1 2V@az2 3V@az3 4S@az1 5-@az1 6-@az2",
            limits: DEFAULTS,
            want: "6S",
        },
        Case {
            name: "9: evacuated spares are never made stand-bys",
            leader: 1,
            members: "1V 2V 3V 4-~",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "9: an offline stand-by with nobody to replace it is kept",
            leader: 1,
            members: "1V 2V 3V 4S!",
            limits: DEFAULTS,
            want: "",
        },
        Case {
            name: "10: the surplus stand-by with the highest id goes",
            leader: 1,
            members: "1V 2V 3V 4S 5S 6S",
            limits: DEFAULTS,
            want: "6-",
        },
        Case {
            name: "11: once enough stand-bys are online an offline one goes",
            leader: 1,
            members: "1V 2V 3V 4S 5S! 6S",
            limits: DEFAULTS,
            want: "5-",
        },
        Case {
            name: "an evacuated voter keeps its vote",
            leader: 1,
            members: "1V 2V~ 3V 4S 5S",
            limits: DEFAULTS,
            want: "",
        },
    ];
    for case in cases {
        let got = next_change(case.leader, &cluster(case.members), &case.limits);
        assert_eq!(got, change(case.want), "{}", case.name);
    }
}

#[test]
fn plan_settles_the_cluster_in_order() {
    struct Case {
        name: &'static str,
        members: &'static str,
        limits: Limits,
        changes: &'static str,
        after: &'static str,
    }
    let cases = [
        Case {
            name: "1 member: the leader votes",
            members: "1V",
            limits: DEFAULTS,
            changes: "",
            after: "1V",
        },
        Case {
            name: "2 members: voter and stand-by",
            members: "1V 2-",
            limits: DEFAULTS,
            changes: "2S",
            after: "1V 2S",
        },
        Case {
            name: "3 members: three voters, the stand-by first",
            members: "1V 2S 3-",
            limits: DEFAULTS,
            changes: "2V 3V",
            after: "1V 2V 3V",
        },
        Case {
            name: "4 members: three voters and a stand-by",
            members: "1V 2V 3V 4-",
            limits: DEFAULTS,
            changes: "4S",
            after: "1V 2V 3V 4S",
        },
        Case {
            name: "5 members: three voters and two stand-bys",
            members: "1V 2V 3V 4S 5-",
            limits: DEFAULTS,
            changes: "5S",
            after: "1V 2V 3V 4S 5S",
        },
        Case {
            name: "6 members: one spare",
            members: "1V 2V 3V 4S 5S 6-",
            limits: DEFAULTS,
            changes: "",
            after: "1V 2V 3V 4S 5S 6-",
        },
        Case {
            name: "6 members from scratch",
            members: "1V 2- 3- 4- 5- 6-",
            limits: DEFAULTS,
            changes: "2V 3V 4S 5S",
            after: "1V 2V 3V 4S 5S 6-",
        },
        Case {
            name: "max_voters 5 with 5 members: all vote",
            members: "1V 2V 3V 4S 5S",
            limits: limits(5, 2),
            changes: "4V 5V",
            after: "1V 2V 3V 4V 5V",
        },
        Case {
            name: "max_voters 5 with 7 members: five voters and two stand-bys",
            members: "1V 2V 3V 4S 5S 6- 7-",
            limits: limits(5, 2),
            changes: "4V 5V 6S 7S",
            after: "1V 2V 3V 4V 5V 6S 7S",
        },
        Case {
            name: "max_standby 0: stand-bys become spares",
            members: "1V 2V 3V 4S 5S",
            limits: limits(3, 0),
            changes: "5- 4-",
            after: "1V 2V 3V 4- 5-",
        },
        Case {
            name: "max_voters 5 to 3: demoted from the domain with most voters",
            members: "1V@az1 2V@az1 3V@az1 4V@az2 5V@az3",
            limits: DEFAULTS,
            changes: "3- 2- 2S 3S",
            after: "1V 2S 3S 4V 5V",
        },
        Case {
            name: "4 members, a voter goes offline: stand-by promoted, then it is demoted",
            members: "1V 2V 3V! 4S",
            limits: DEFAULTS,
            changes: "4V 3-",
            after: "1V 2V 3- 4V",
        },
        Case {
            name: "failure domains: the az2 voter's replacement comes from az2",
            members: "1V@az1 2V!@az2 3V@az3 4-@az1 5-@az2 6-@az3",
            limits: DEFAULTS,
            changes: "5V 2- 4S 6S",
            after: "1V 2- 3V 4S 5V 6S",
        },
        Case {
            name: "failure domains with stand-bys: the az2 stand-by takes the vote",
            members: "1V@az1 2V!@az2 3V@az3 4S@az1 5S@az2 6-@az3",
            limits: DEFAULTS,
            changes: "5V 2- 6S",
            after: "1V 2- 3V 4S 5V 6S",
        },
        Case {
            name: "spread: the az2 stand-by gets a vote and an az1 voter steps down",
            members: "1V@az1 2V@az1 3V@az1 4S@az2",
            limits: DEFAULTS,
            changes: "4V 3- 3S",
            after: "1V 2V 3S 4V",
        },
        Case {
            name: "offline members are never promoted",
            members: "1V 2V 3V! 4-! 5S!",
            limits: DEFAULTS,
            changes: "",
            after: "1V 2V 3V 4- 5S",
        },
        Case {
            name: "evacuated members are never promoted",
            members: "1V 2V 3V 4-~ 5-~",
            limits: DEFAULTS,
            changes: "",
            after: "1V 2V 3V 4- 5-",
        },
        Case {
            name: "adversarial: everything but the leader offline",
            members: "1V! 2V! 3V! 4S! 5-!",
            limits: DEFAULTS,
            changes: "",
            after: "1V 2V 3V 4S 5-",
        },
        Case {
            name: "adversarial: max_voters larger than the cluster",
            members: "1V 2- 3- 4-",
            limits: limits(99, 99),
            changes: "2V 3V 4V",
            after: "1V 2V 3V 4V",
        },
        Case {
            name: "adversarial: zero limits keep the leader's vote",
            members: "1V 2V 3V 4S",
            limits: limits(0, 0),
            changes: "3- 2-",
            after: "1V 2- 3- 4S",
        },
    ];
    for case in cases {
        let mut members = cluster(case.members);
        let changes = plan(1, &members, &case.limits);
        assert_eq!(show_changes(&changes), case.changes, "{}", case.name);
        for c in changes {
            apply(&mut members, c);
        }
        assert_eq!(show_roles(&members), case.after, "{}", case.name);
        assert_eq!(
            next_change(1, &members, &case.limits),
            None,
            "{}: settled",
            case.name
        );
    }
}

#[test]
fn handover_finds_a_successor() {
    struct Case {
        name: &'static str,
        leaving: u64,
        members: &'static str,
        want: &'static str,
    }
    let cases = [
        Case {
            name: "a voter leaves with a stand-by present: the stand-by gets the vote",
            leaving: 3,
            members: "1V 2V 3V 4S 5-",
            want: "4V",
        },
        Case {
            name: "a voter leaves with only spares: one in a domain without voters",
            leaving: 3,
            members: "1V@az1 2V@az2 3V@az3 4-@az1 5-@az3",
            want: "5V",
        },
        Case {
            name: "a voter leaves: a spare in a free domain beats a stand-by in a used one",
            leaving: 3,
            members: "1V@az1 2V@az2 3V@az3 4S@az1 5-@az3",
            want: "5V",
        },
        Case {
            name: "a stand-by leaves: a spare takes its place",
            leaving: 4,
            members: "1V 2V 3V 4S 5S 6-",
            want: "6S",
        },
        Case {
            name: "a stand-by leaves: another stand-by is not moved",
            leaving: 4,
            members: "1V 2V 3V 4S 5S",
            want: "",
        },
        Case {
            name: "a stand-by leaves: a spare in a domain without stand-bys",
            leaving: 4,
            members: "1V 2V 3V 4S@az1 5S@az2 6-@az2 7-@az1",
            want: "7S",
        },
        Case {
            name: "a spare leaves: nothing to hand over",
            leaving: 6,
            members: "1V 2V 3V 4S 5S 6-",
            want: "",
        },
        Case {
            name: "an unknown member: nothing to hand over",
            leaving: 9,
            members: "1V 2V 3V 4S",
            want: "",
        },
        Case {
            name: "offline and evacuated members are skipped",
            leaving: 2,
            members: "1V 2V 3V 4S! 5-~ 6-",
            want: "6V",
        },
        Case {
            name: "nobody to take over",
            leaving: 2,
            members: "1V 2V 3V 4-!",
            want: "",
        },
    ];
    for case in cases {
        let got = handover(case.leaving, 1, &cluster(case.members));
        assert_eq!(got, change(case.want), "{}", case.name);
    }
}

#[test]
fn joiners_get_the_role_the_settled_cluster_gives_them() {
    struct Case {
        name: &'static str,
        members: &'static str,
        new_id: u64,
        new_domain: &'static str,
        limits: Limits,
        want: DbRole,
    }
    let cases = [
        Case {
            name: "second member: stand-by",
            members: "1V",
            new_id: 2,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::StandBy,
        },
        Case {
            name: "third member: voter",
            members: "1V 2S",
            new_id: 3,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::Voter,
        },
        Case {
            name: "fourth member: stand-by",
            members: "1V 2V 3V",
            new_id: 4,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::StandBy,
        },
        Case {
            name: "fifth member: stand-by",
            members: "1V 2V 3V 4S",
            new_id: 5,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::StandBy,
        },
        Case {
            name: "sixth member: spare",
            members: "1V 2V 3V 4S 5S",
            new_id: 6,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::Spare,
        },
        Case {
            name: "fourth member with max_standby 0: spare",
            members: "1V 2V 3V",
            new_id: 4,
            new_domain: "default",
            limits: limits(3, 0),
            want: DbRole::Spare,
        },
        Case {
            name: "first member of a new domain gets a vote",
            members: "1V@az1 2V@az1 3V@az1",
            new_id: 4,
            new_domain: "az2",
            limits: DEFAULTS,
            want: DbRole::Voter,
        },
        Case {
            name: "a joiner in the offline voter's domain replaces it",
            members: "1V@az1 2V@az2 3V!@az3 4S@az1",
            new_id: 5,
            new_domain: "az3",
            limits: DEFAULTS,
            want: DbRole::Voter,
        },
        Case {
            name: "a stale entry with the joiner's id is replaced",
            members: "1V 2V 3V 4V!",
            new_id: 4,
            new_domain: "default",
            limits: DEFAULTS,
            want: DbRole::StandBy,
        },
    ];
    for case in cases {
        let got = role_for_joiner(
            1,
            &cluster(case.members),
            case.new_id,
            case.new_domain,
            &case.limits,
        );
        assert_eq!(got, case.want, "{}", case.name);
    }
}

#[test]
fn members_joining_one_by_one_settle_like_lxd() {
    let after_each_join = [
        "1V",
        "1V 2S",
        "1V 2V 3V",
        "1V 2V 3V 4S",
        "1V 2V 3V 4S 5S",
        "1V 2V 3V 4S 5S 6-",
        "1V 2V 3V 4S 5S 6- 7-",
    ];
    let mut members = cluster("1V");
    for (i, want) in after_each_join.iter().enumerate() {
        if i > 0 {
            members.push(member(&format!("{}-", i + 1)));
        }
        for c in plan(1, &members, &DEFAULTS) {
            apply(&mut members, c);
        }
        assert_eq!(show_roles(&members), *want, "{} members", i + 1);
    }
}

#[test]
fn needs_rebalance_asks_the_rule() {
    struct Case {
        name: &'static str,
        members: &'static str,
        want: bool,
    }
    let cases = [
        Case {
            name: "settled",
            members: "1V 2V 3V 4S 5S",
            want: false,
        },
        Case {
            name: "two members settled",
            members: "1V 2S",
            want: false,
        },
        Case {
            name: "an offline voter with a replacement",
            members: "1V 2V 3V! 4S",
            want: true,
        },
        Case {
            name: "an offline voter without a replacement",
            members: "1V 2V 3V!",
            want: false,
        },
        Case {
            name: "a stand-by short",
            members: "1V 2V 3V 4S 5-",
            want: true,
        },
    ];
    for case in cases {
        let got = needs_rebalance(1, &cluster(case.members), &DEFAULTS);
        assert_eq!(got, case.want, "{}", case.name);
    }
}

/// A tiny deterministic generator: the sweep must be repeatable without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn arbitrary_member(id: u64, code: u64) -> MemberState {
    let role = [DbRole::Voter, DbRole::StandBy, DbRole::Spare][(code % 3) as usize];
    MemberState {
        id,
        role,
        online: (code / 3).is_multiple_of(2),
        evacuated: (code / 6) % 2 == 1,
        failure_domain: ["az1", "az2", "az3"][((code / 12) % 3) as usize].to_owned(),
    }
}

/// Plays the plan and checks it settles and never breaks the rule's promises.
fn check_plan(leader: u64, members: &[MemberState], limits: &Limits) {
    let mut state = members.to_vec();
    for c in plan(leader, members, limits) {
        let before = state
            .iter()
            .find(|m| m.id == c.id)
            .expect("change names a member");
        assert_ne!(before.role, c.role, "no-op change in {members:?}");
        let promoted = matches!(
            (before.role, c.role),
            (DbRole::StandBy | DbRole::Spare, DbRole::Voter) | (DbRole::Spare, DbRole::StandBy)
        );
        if c.id == leader {
            assert!(promoted, "leader demoted in {members:?}");
        } else if promoted {
            assert!(
                before.online && !before.evacuated,
                "bad promotion in {members:?}"
            );
        }
        apply(&mut state, c);
    }
    assert_eq!(
        next_change(leader, &state, limits),
        None,
        "did not settle: {members:?} {limits:?}"
    );
}

#[test]
fn plan_always_settles_and_keeps_its_promises() {
    let all_limits = [
        limits(3, 2),
        limits(3, 0),
        limits(5, 2),
        limits(1, 1),
        limits(0, 0),
    ];
    // Every member in every state for small clusters...
    let states: u64 = 3 * 2 * 2 * 3;
    for n in 1..=3u32 {
        for combo in 0..states.pow(n) {
            let members: Vec<MemberState> = (0..n)
                .map(|i| arbitrary_member(u64::from(i) + 1, (combo / states.pow(i)) % states))
                .collect();
            for l in &all_limits {
                check_plan(1, &members, l);
            }
        }
    }
    // ...and a repeatable sample of larger ones, with the leader anywhere.
    let mut rng = Lcg(7);
    for _ in 0..20_000 {
        let n = 4 + rng.next(6);
        let members: Vec<MemberState> = (1..=n)
            .map(|id| arbitrary_member(id, rng.next(states)))
            .collect();
        let leader = 1 + rng.next(n);
        let l = all_limits[rng.next(all_limits.len() as u64) as usize];
        check_plan(leader, &members, &l);
    }
}
