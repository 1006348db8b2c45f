//! The `:` prompt: what a typed command line means. Pure, so every form is unit-tested.

use corral_shared::api::Role;

use super::action::Action;
use super::app::View;

/// A command line understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Something to confirm, then run.
    Confirm(Action),
    /// Something to run at once (it changes nothing: a plan to confirm next).
    Run(Action),
    /// Switch the view.
    View(View),
    /// Set the filter.
    Filter(String),
    /// Show the help overlay.
    Help,
    /// Leave.
    Quit,
}

/// Reads a command line (without its `:`); the error says how to write it.
pub fn parse(line: &str) -> Result<Parsed, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let usage = |form: &str| Err(format!("usage: :{form}"));
    match words.as_slice() {
        [] => Err("empty command; ? lists the commands".into()),
        ["q" | "quit" | "exit"] => Ok(Parsed::Quit),
        ["help" | "h" | "?"] => Ok(Parsed::Help),
        ["add" | "token", name] => Ok(Parsed::Confirm(Action::CreateToken {
            name: (*name).to_string(),
        })),
        ["add" | "token", ..] => usage("add NAME"),
        ["remove" | "rm", "--force" | "-f", name] | ["remove" | "rm", name, "--force" | "-f"] => {
            Ok(Parsed::Confirm(Action::Remove {
                name: (*name).to_string(),
                force: true,
            }))
        }
        ["remove" | "rm", name] if !name.starts_with('-') => Ok(Parsed::Confirm(Action::Remove {
            name: (*name).to_string(),
            force: false,
        })),
        ["remove" | "rm", ..] => usage("remove [--force] NAME"),
        ["role", verb @ ("add" | "remove" | "rm"), name, role] => {
            let role = match *role {
                "event-hub" => Role::EventHub,
                "ovn-chassis" => Role::OvnChassis,
                other => {
                    return Err(format!(
                        "the role {other:?} cannot be set by hand; the roles that can are \
                         event-hub and ovn-chassis (database roles are assigned automatically)"
                    ));
                }
            };
            Ok(Parsed::Confirm(Action::Role {
                name: (*name).to_string(),
                role,
                add: *verb == "add",
            }))
        }
        ["role", ..] => usage("role add|remove NAME event-hub|ovn-chassis"),
        ["domain" | "failure-domain", name, domain] => Ok(Parsed::Confirm(Action::FailureDomain {
            name: (*name).to_string(),
            domain: (*domain).to_string(),
        })),
        ["domain" | "failure-domain", ..] => usage("domain NAME DOMAIN"),
        ["set", key, value] => Ok(Parsed::Confirm(Action::SetConfig {
            key: (*key).to_string(),
            value: (*value).to_string(),
        })),
        ["set", assignment] if assignment.contains('=') => {
            let (key, value) = assignment.split_once('=').unwrap_or_default();
            Ok(Parsed::Confirm(Action::SetConfig {
                key: key.to_string(),
                value: value.to_string(),
            }))
        }
        ["set", ..] => usage("set KEY VALUE (e.g. :set cluster.max_voters 5)"),
        ["unset", key] => Ok(Parsed::Confirm(Action::SetConfig {
            key: (*key).to_string(),
            value: String::new(),
        })),
        ["view", "members" | "m"] => Ok(Parsed::View(View::Members)),
        ["view", "domains" | "d" | "failure-domains"] => Ok(Parsed::View(View::Domains)),
        ["view", ..] => usage("view members|domains"),
        ["filter", rest @ ..] => Ok(Parsed::Filter(rest.join(" "))),
        [verb @ ("evacuate" | "restore"), name] => Ok(Parsed::Run(Action::PlanEvacuation {
            name: (*name).to_string(),
            restore: *verb == "restore",
        })),
        ["evacuate" | "restore", ..] => usage("evacuate|restore NAME"),
        [other, ..] => Err(format!("unknown command {other:?}; ? lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirm(line: &str) -> Action {
        match parse(line) {
            Ok(Parsed::Confirm(action)) => action,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn every_command_form_is_understood() {
        assert_eq!(
            confirm("add node4"),
            Action::CreateToken {
                name: "node4".into()
            }
        );
        assert_eq!(
            confirm("remove node2"),
            Action::Remove {
                name: "node2".into(),
                force: false
            }
        );
        for line in ["remove --force node2", "rm node2 -f"] {
            assert_eq!(
                confirm(line),
                Action::Remove {
                    name: "node2".into(),
                    force: true
                }
            );
        }
        assert_eq!(
            confirm("role add node1 event-hub"),
            Action::Role {
                name: "node1".into(),
                role: Role::EventHub,
                add: true
            }
        );
        assert_eq!(
            confirm("role rm node1 ovn-chassis"),
            Action::Role {
                name: "node1".into(),
                role: Role::OvnChassis,
                add: false
            }
        );
        assert_eq!(
            confirm("domain node2 rack2"),
            Action::FailureDomain {
                name: "node2".into(),
                domain: "rack2".into()
            }
        );
        for line in ["set cluster.max_voters 5", "set cluster.max_voters=5"] {
            assert_eq!(
                confirm(line),
                Action::SetConfig {
                    key: "cluster.max_voters".into(),
                    value: "5".into()
                }
            );
        }
        assert_eq!(parse("q"), Ok(Parsed::Quit));
        assert_eq!(parse(" view domains "), Ok(Parsed::View(View::Domains)));
        assert_eq!(parse("filter rack 1"), Ok(Parsed::Filter("rack 1".into())));
        assert_eq!(parse("help"), Ok(Parsed::Help));
    }

    #[test]
    fn mistakes_say_how_to_write_the_command() {
        assert_eq!(parse("add"), Err("usage: :add NAME".into()));
        assert_eq!(
            parse("remove --force"),
            Err("usage: :remove [--force] NAME".into())
        );
        assert!(
            parse("role add node1 database")
                .unwrap_err()
                .contains("event-hub and ovn-chassis")
        );
        assert_eq!(
            parse("frobnicate"),
            Err("unknown command \"frobnicate\"; ? lists the commands".into())
        );
        assert_eq!(
            parse("evacuate node1"),
            Ok(Parsed::Run(Action::PlanEvacuation {
                name: "node1".into(),
                restore: false
            }))
        );
        assert_eq!(
            parse("restore node1"),
            Ok(Parsed::Run(Action::PlanEvacuation {
                name: "node1".into(),
                restore: true
            }))
        );
        assert_eq!(
            parse("evacuate"),
            Err("usage: :evacuate|restore NAME".into())
        );
        assert!(parse("").is_err());
    }
}
