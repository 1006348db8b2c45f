//! Table tests for the instance scheduler's placement choices.

use super::*;

/// `node{id}`, online, x86_64, `all`, in `default`, with `instances` instances.
fn member(id: u64, instances: u64) -> MemberLoad {
    MemberLoad {
        id,
        name: format!("node{id}"),
        architecture: "x86_64".into(),
        availability: Availability::Online,
        scheduler: SchedulerInstance::All,
        groups: vec!["default".into()],
        instances,
        creating: 0,
    }
}

fn with(mut m: MemberLoad, f: impl FnOnce(&mut MemberLoad)) -> MemberLoad {
    f(&mut m);
    m
}

fn groups() -> Vec<String> {
    vec!["default".into(), "gpu".into(), "empty".into()]
}

fn run(members: &[MemberLoad], target: Target, arch: &[&str]) -> Result<String, String> {
    let architectures: Vec<String> = arch.iter().map(|a| (*a).to_owned()).collect();
    let groups = groups();
    place(
        members,
        &Request {
            target,
            architectures: &architectures,
            groups: &groups,
        },
    )
    .map(|p| match p.group {
        Some(g) => format!("{}@{g}", p.member),
        None => p.member,
    })
    .map_err(|e| e.to_string())
}

fn any() -> Target {
    Target::Any
}
fn to(name: &str) -> Target {
    Target::Member(name.into())
}
fn at(group: &str) -> Target {
    Target::Group(group.into())
}

const NONE_FITS: &str = "No suitable cluster member could be found";

/// What a case is called, the members, the target, the architectures, and the member
/// chosen (`NAME` or `NAME@GROUP`) or the refusal.
type Case = (
    &'static str,
    Vec<MemberLoad>,
    Target,
    &'static [&'static str],
    Result<&'static str, &'static str>,
);

#[test]
fn placement_follows_lxd_rule() {
    let gpu = |m: &mut MemberLoad| m.groups = vec!["gpu".into()];
    let both = |m: &mut MemberLoad| m.groups = vec!["default".into(), "gpu".into()];
    let manual = |m: &mut MemberLoad| m.scheduler = SchedulerInstance::Manual;
    let group_only = |m: &mut MemberLoad| m.scheduler = SchedulerInstance::Group;
    let state = |a: Availability| move |m: &mut MemberLoad| m.availability = a;
    let arch = |a: &'static str| move |m: &mut MemberLoad| m.architecture = a.into();

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("fewest instances wins",
         vec![member(1, 2), member(2, 0), member(3, 1)], any(), &[], Ok("node2")),
        ("tie goes to the lowest id, not the first listed",
         vec![member(3, 0), member(2, 0), member(1, 0)], any(), &[], Ok("node1")),
        ("tie among the fewest only",
         vec![member(1, 5), member(2, 1), member(3, 1)], any(), &[], Ok("node2")),
        ("creations in flight count as instances",
         vec![with(member(1, 0), |m| m.creating = 2), member(2, 1)], any(), &[], Ok("node2")),
        ("in-flight plus existing, tie to lowest id",
         vec![with(member(1, 0), |m| m.creating = 1), member(2, 1)], any(), &[], Ok("node1")),
        ("evacuated member excluded",
         vec![with(member(1, 0), state(Availability::Evacuated)), member(2, 3)], any(), &[], Ok("node2")),
        ("offline member excluded",
         vec![with(member(1, 0), state(Availability::Offline)), member(2, 3)], any(), &[], Ok("node2")),
        ("pending member excluded",
         vec![with(member(1, 0), state(Availability::Pending)), member(2, 3)], any(), &[], Ok("node2")),
        ("blocked member excluded",
         vec![with(member(1, 0), state(Availability::Blocked)), member(2, 3)], any(), &[], Ok("node2")),
        ("manual member skipped automatically",
         vec![with(member(1, 0), manual), member(2, 4)], any(), &[], Ok("node2")),
        ("group member skipped without a group target",
         vec![with(member(1, 0), group_only), member(2, 4)], any(), &[], Ok("node2")),
        ("no candidate at all",
         vec![with(member(1, 0), manual), with(member(2, 0), state(Availability::Offline))],
         any(), &[], Err(NONE_FITS)),
        ("no members",
         vec![], any(), &[], Err(NONE_FITS)),
        // --target MEMBER
        ("target member used although others have fewer",
         vec![member(1, 0), member(2, 9)], to("node2"), &[], Ok("node2")),
        ("target member used although manual",
         vec![member(1, 0), with(member(2, 9), manual)], to("node2"), &[], Ok("node2")),
        ("target member used although group-only",
         vec![member(1, 0), with(member(2, 9), group_only)], to("node2"), &[], Ok("node2")),
        ("target unknown member",
         vec![member(1, 0)], to("node7"), &[], Err("Cluster member not found")),
        ("target evacuated member",
         vec![with(member(1, 0), state(Availability::Evacuated))], to("node1"), &[],
         Err("Cluster member is evacuated")),
        ("target offline member",
         vec![with(member(1, 0), state(Availability::Offline))], to("node1"), &[],
         Err("Cluster member \"node1\" is offline: start it, or target another member (or none, to let the cluster choose)")),
        ("target pending member",
         vec![with(member(1, 0), state(Availability::Pending))], to("node1"), &[],
         Err("Cluster member \"node1\" is still joining the cluster: wait until 'corral cluster list' shows it online, or target another member")),
        ("target blocked member",
         vec![with(member(1, 0), state(Availability::Blocked))], to("node1"), &[],
         Err("Cluster member \"node1\" is blocked (its version differs from the other members'): upgrade the members to one version, or target another member")),
        ("target member of another architecture",
         vec![with(member(1, 0), arch("aarch64"))], to("node1"), &["x86_64"],
         Err("Requested architecture isn't supported by this host")),
        // --target @GROUP
        ("group target: fewest among its members, group recorded",
         vec![member(1, 0), with(member(2, 3), gpu), with(member(3, 1), gpu)], at("gpu"), &[], Ok("node3@gpu")),
        ("group target: manual member of the group skipped",
         vec![with(member(2, 0), |m| { gpu(m); manual(m) }), with(member(3, 5), gpu)], at("gpu"), &[], Ok("node3@gpu")),
        ("group target: group-only member of that group taken",
         vec![member(1, 0), with(member(2, 4), |m| { gpu(m); group_only(m) })], at("gpu"), &[], Ok("node2@gpu")),
        ("group target: group-only member of another group skipped",
         vec![with(member(1, 0), group_only), with(member(2, 4), gpu)], at("gpu"), &[], Ok("node2@gpu")),
        ("group-only member in two groups, targeted through either",
         vec![with(member(1, 0), |m| { both(m); group_only(m) }), member(2, 0)], at("default"), &[], Ok("node1@default")),
        ("group target: evacuated member of the group skipped",
         vec![with(member(1, 0), |m| { gpu(m); m.availability = Availability::Evacuated }),
              with(member(2, 7), gpu)], at("gpu"), &[], Ok("node2@gpu")),
        ("group target: tie to lowest id",
         vec![with(member(3, 1), gpu), with(member(2, 1), gpu)], at("gpu"), &[], Ok("node2@gpu")),
        ("group that exists but holds no member",
         vec![member(1, 0)], at("empty"), &[], Err(NONE_FITS)),
        ("group that does not exist",
         vec![member(1, 0)], at("fpga"), &[], Err("Cluster group \"fpga\" doesn't exist")),
        // architectures
        ("architecture filters candidates",
         vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["x86_64"], Ok("node2")),
        ("aliases are the same architecture",
         vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["arm64"], Ok("node1")),
        ("a 64-bit x86 member runs i686",
         vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["i686"], Ok("node2")),
        ("an aarch64 member runs armv7l",
         vec![with(member(1, 3), arch("aarch64")), member(2, 0)], any(), &["armhf"], Ok("node1")),
        ("no member runs it",
         vec![member(1, 0), member(2, 0)], any(), &["s390x"], Err(NONE_FITS)),
        ("any of several architectures",
         vec![with(member(1, 0), arch("s390x")), member(2, 6)], any(), &["aarch64", "s390x"], Ok("node1")),
    ];
    for (what, members, target, arch, want) in cases {
        let got = run(&members, target, arch);
        assert_eq!(got, want.map(String::from).map_err(String::from), "{what}");
    }
}

#[test]
fn placement_through_a_group_records_volatile_cluster_group() {
    let groups = groups();
    let members = [with(member(1, 0), |m| m.groups = vec!["gpu".into()])];
    let through_group = place(
        &members,
        &Request {
            target: Target::Group("gpu".into()),
            architectures: &[],
            groups: &groups,
        },
    )
    .unwrap();
    assert_eq!(
        through_group.volatile_config(),
        Some(("volatile.cluster.group", "gpu".to_owned()))
    );
    for target in [Target::Any, Target::Member("node1".into())] {
        let p = place(
            &members,
            &Request {
                target,
                architectures: &[],
                groups: &groups,
            },
        )
        .unwrap();
        assert_eq!((p.member_id, p.volatile_config()), (1, None));
    }
}

#[test]
fn targets_parse_as_lxd_reads_them() {
    let cases: Vec<(Option<&str>, bool, Result<Target, PlacementError>)> = vec![
        (None, true, Ok(Target::Any)),
        (Some(""), true, Ok(Target::Any)),
        (Some("node2"), true, Ok(Target::Member("node2".into()))),
        (Some("@gpu"), true, Ok(Target::Group("gpu".into()))),
        (None, false, Ok(Target::Any)),
        (Some("node2"), false, Err(PlacementError::NotClustered)),
    ];
    for (raw, clustered, want) in cases {
        assert_eq!(Target::parse(raw, clustered), want, "{raw:?} {clustered}");
    }
}

#[test]
fn refusals_carry_lxd_status_codes() {
    let cases = [
        (PlacementError::NotClustered, 400),
        (PlacementError::MemberNotFound("x".into()), 404),
        (PlacementError::GroupNotFound("x".into()), 400),
        (PlacementError::MemberEvacuated("x".into()), 403),
        (PlacementError::NoSuitableMember, 404),
        (PlacementError::MemberOffline("x".into()), 503),
    ];
    for (e, code) in cases {
        assert_eq!(e.status_code(), code, "{e}");
    }
}

#[test]
fn scheduler_instance_values_are_checked() {
    let cases = [
        ("all", Ok(SchedulerInstance::All)),
        ("", Ok(SchedulerInstance::All)),
        ("manual", Ok(SchedulerInstance::Manual)),
        ("group", Ok(SchedulerInstance::Group)),
        ("Manual", Err("'Manual'")),
        ("none", Err("'none'")),
    ];
    for (value, want) in cases {
        match (value.parse::<SchedulerInstance>(), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, w, "{value}"),
            (Err(e), Err(named)) => {
                let text = e.to_string();
                assert!(
                    text.contains(named)
                        && text.contains("scheduler.instance")
                        && text.contains("all, manual, group"),
                    "{text}"
                );
            }
            (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
        }
    }
    let config = [("user.x", "1"), ("scheduler.instance", "manual")];
    assert_eq!(
        SchedulerInstance::of_config(config.iter().copied()),
        SchedulerInstance::Manual
    );
    assert_eq!(
        SchedulerInstance::of_config([("user.x", "1")].iter().copied()),
        SchedulerInstance::All
    );
}
