//! The evacuation and restore rules as tables, LXD's own test matrix first
//! (test_clustering_evacuation: c1..c7 on node1 of three members).

use super::*;
use crate::instances::scheduler::{Availability, SchedulerInstance};

fn subject(name: &str, location: &str, running: bool, config: &[(&str, &str)]) -> Subject {
    Subject {
        name: name.into(),
        location: location.into(),
        running,
        virtual_machine: false,
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// LXD's matrix: c1 default, c2 auto, c3 stop, c4 migrate, c5 stopped, c6 on node2, c7
/// placed through group foo (node3 only).
fn matrix() -> Vec<Subject> {
    vec![
        subject("c1", "node1", true, &[]),
        subject("c2", "node1", true, &[(EVACUATE_KEY, "auto")]),
        subject("c3", "node1", true, &[(EVACUATE_KEY, "stop")]),
        subject("c4", "node1", true, &[(EVACUATE_KEY, "migrate")]),
        subject("c5", "node1", false, &[]),
        subject("c6", "node2", true, &[]),
        subject("c7", "node1", true, &[(GROUP_KEY, "foo")]),
    ]
}

fn load(id: u64, name: &str, groups: &[&str], instances: u64) -> MemberLoad {
    MemberLoad {
        id,
        name: name.into(),
        architecture: "x86_64".into(),
        availability: Availability::Online,
        scheduler: SchedulerInstance::All,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        instances,
        creating: 0,
    }
}

/// The matrix's members: node2 holds c6, node3 alone is in group foo.
fn members() -> Placer {
    Placer {
        members: vec![
            load(1, "node1", &["default"], 6),
            load(2, "node2", &["default"], 1),
            load(3, "node3", &["default", "foo"], 0),
        ],
        groups: vec!["default".into(), "foo".into()],
        evacuated: "node1".into(),
    }
}

/// (instance, action, destination, stop first, start after, remember running, origin set)
type Want = (&'static str, Action, &'static str, bool, bool, bool, bool);

fn check(plan: &Plan, want: &[Want]) {
    let got: Vec<_> = plan
        .steps
        .iter()
        .map(|s| {
            (
                s.instance.as_str(),
                s.action,
                s.destination.as_str(),
                s.stop_first,
                s.start_after,
                s.remember_running,
                s.set_origin.is_some(),
            )
        })
        .collect();
    assert_eq!(got, want, "{plan:#?}");
}

#[test]
fn lxds_matrix_evacuation() {
    let plan = evacuate("node1", &matrix(), None, &mut members()).unwrap();
    // node3 starts empty, node2 holds c6: moves alternate as the counts even out, c7 goes
    // to node3 whatever the counts, since only node3 is in foo.
    check(
        &plan,
        &[
            ("c1", Action::Migrate, "node3", true, true, false, true),
            ("c2", Action::Migrate, "node2", true, true, false, true),
            ("c3", Action::Stop, "node1", true, false, true, false),
            ("c4", Action::Migrate, "node3", true, true, false, true),
            ("c5", Action::Migrate, "node2", false, false, false, true),
            ("c7", Action::Migrate, "node3", true, true, false, true),
        ],
    );
    assert!(
        plan.steps.iter().all(|s| s.instance != "c6"),
        "c6 is untouched"
    );
    assert!(
        plan.steps
            .iter()
            .filter_map(|s| s.set_origin.as_deref())
            .all(|o| o == "node1")
    );
}

/// The matrix after its evacuation, as the run leaves it.
fn evacuated_matrix() -> Vec<Subject> {
    let origin = (ORIGIN_KEY, "node1");
    vec![
        subject("c1", "node3", true, &[origin]),
        subject("c2", "node2", true, &[(EVACUATE_KEY, "auto"), origin]),
        subject(
            "c3",
            "node1",
            false,
            &[(EVACUATE_KEY, "stop"), (LAST_POWER_KEY, "RUNNING")],
        ),
        subject("c4", "node3", true, &[(EVACUATE_KEY, "migrate"), origin]),
        subject("c5", "node2", false, &[origin, (LAST_POWER_KEY, "STOPPED")]),
        subject("c6", "node2", true, &[]),
        subject("c7", "node3", true, &[(GROUP_KEY, "foo"), origin]),
    ]
}

#[test]
fn lxds_matrix_restore_with_skip_moves_and_starts_nothing() {
    let plan = restore("node1", &evacuated_matrix(), "skip").unwrap();
    assert!(plan.steps.is_empty(), "{plan:#?}");
}

#[test]
fn lxds_matrix_full_restore() {
    let plan = restore("node1", &evacuated_matrix(), "").unwrap();
    check(
        &plan,
        &[
            ("c1", Action::MoveBack, "node1", true, true, false, false),
            ("c2", Action::MoveBack, "node1", true, true, false, false),
            ("c3", Action::Start, "node1", false, true, false, false),
            ("c4", Action::MoveBack, "node1", true, true, false, false),
            ("c5", Action::MoveBack, "node1", false, false, false, false),
            ("c7", Action::MoveBack, "node1", true, true, false, false),
        ],
    );
    let sources: Vec<_> = plan.steps.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(
        sources,
        ["node3", "node2", "node1", "node3", "node2", "node3"]
    );
}

#[test]
fn request_modes_override_each_instance() {
    struct Case {
        name: &'static str,
        requested: &'static str,
        instance: Subject,
        want: Result<(Action, &'static str), &'static str>,
    }
    let cases = [
        Case {
            name: "stop mode keeps a migrate instance here",
            requested: "stop",
            instance: subject("a", "node1", true, &[(EVACUATE_KEY, "migrate")]),
            want: Ok((Action::Stop, "node1")),
        },
        Case {
            name: "migrate mode moves a stop instance",
            requested: "migrate",
            instance: subject("a", "node1", true, &[(EVACUATE_KEY, "stop")]),
            want: Ok((Action::Migrate, "node3")),
        },
        Case {
            name: "a stopped instance with stop mode stays, nothing to do",
            requested: "stop",
            instance: subject("a", "node1", false, &[]),
            want: Ok((Action::Stay, "node1")),
        },
        Case {
            name: "live migration of a container is refused",
            requested: "live-migrate",
            instance: subject("a", "node1", true, &[]),
            want: Err("cannot be live-migrated"),
        },
        Case {
            name: "an instance asking for live migration is refused",
            requested: "",
            instance: subject("a", "node1", true, &[(EVACUATE_KEY, "live-migrate")]),
            want: Err("cannot be live-migrated"),
        },
        Case {
            name: "an unknown request mode is refused",
            requested: "teleport",
            instance: subject("a", "node1", true, &[]),
            want: Err("Invalid evacuation mode"),
        },
        Case {
            name: "an unknown instance mode is refused, naming the key",
            requested: "",
            instance: subject("a", "node1", true, &[(EVACUATE_KEY, "sometimes")]),
            want: Err("invalid cluster.evacuate value"),
        },
    ];
    for case in cases {
        let got = requested_mode(case.requested).and_then(|mode| {
            evacuate(
                "node1",
                std::slice::from_ref(&case.instance),
                mode,
                &mut members(),
            )
        });
        match (got, case.want) {
            (Ok(plan), Ok((action, dest))) => {
                assert_eq!(plan.steps.len(), 1, "{}", case.name);
                assert_eq!(plan.steps[0].action, action, "{}", case.name);
                assert_eq!(plan.steps[0].destination, dest, "{}", case.name);
            }
            (Err(e), Err(text)) => {
                assert!(e.to_string().contains(text), "{}: {e}", case.name)
            }
            (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
        }
    }
}

#[test]
fn a_refused_instance_refuses_the_whole_plan() {
    let mut all = matrix();
    all.push(subject(
        "z",
        "node1",
        true,
        &[(EVACUATE_KEY, "live-migrate")],
    ));
    let err = evacuate("node1", &all, None, &mut members()).unwrap_err();
    assert_eq!(err, PlanError::LiveMigrateContainer("z".into()));
}

#[test]
fn no_destination_leaves_the_instance_stopped_where_it_is() {
    let mut nowhere = |_: &Subject, _: &BTreeMap<String, usize>| None::<String>;
    let plan = evacuate(
        "node1",
        &[subject("a", "node1", true, &[])],
        None,
        &mut nowhere,
    )
    .unwrap();
    let step = &plan.steps[0];
    assert_eq!(
        (step.action, step.destination.as_str()),
        (Action::Stop, "node1")
    );
    assert!(step.remember_running, "restore must start it again");
    assert!(step.note.contains("No suitable cluster member"), "{step:?}");
}

#[test]
fn a_second_evacuation_keeps_the_first_origin() {
    let moved = subject("a", "node2", true, &[(ORIGIN_KEY, "node1")]);
    let mut members = members();
    members.evacuated = "node2".into();
    let plan = evacuate("node2", &[moved], None, &mut members).unwrap();
    assert_eq!(plan.steps[0].action, Action::Migrate);
    assert_eq!(plan.steps[0].set_origin, None);
}

#[test]
fn restore_actions_other_than_skip_are_refused() {
    let err = restore("node1", &[], "later").unwrap_err();
    assert!(err.to_string().contains("use skip"), "{err}");
}

#[test]
fn a_restored_instance_that_is_already_running_is_left_alone() {
    let running = subject("a", "node1", true, &[(LAST_POWER_KEY, "RUNNING")]);
    let stopped = subject("b", "node1", false, &[(LAST_POWER_KEY, "STOPPED")]);
    let plan = restore("node1", &[running, stopped], "").unwrap();
    assert!(plan.steps.is_empty(), "{plan:#?}");
}

#[test]
fn shutdown_timeout_defaults_to_thirty_seconds() {
    let config = |v: &str| BTreeMap::from([(SHUTDOWN_TIMEOUT_KEY.to_owned(), v.to_owned())]);
    let cases = [
        (BTreeMap::new(), 30),
        (config("5"), 5),
        (config("soon"), 30),
        (config("-1"), 30),
    ];
    for (c, want) in cases {
        assert_eq!(shutdown_timeout(&c).as_secs(), want, "{c:?}");
    }
}

#[test]
fn offline_members_are_not_destinations_and_a_group_without_one_keeps_its_instance() {
    let mut placer = members();
    placer.members[2].availability = Availability::Offline;
    let plan = evacuate("node1", &matrix(), None, &mut placer).unwrap();
    let by_name = |n: &str| plan.steps.iter().find(|s| s.instance == n).unwrap();
    for moved in ["c1", "c2", "c4", "c5"] {
        assert_eq!(by_name(moved).destination, "node2", "{moved}");
    }
    let c7 = by_name("c7");
    assert_eq!(
        (c7.action, c7.destination.as_str()),
        (Action::Stop, "node1")
    );
    assert!(c7.remember_running);
}
