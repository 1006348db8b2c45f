//! The rule for a cluster member's name, with a message that names the value refused.

/// The reserved name of a server that is not clustered (as in LXD).
const RESERVED: &str = "none";

/// Checks a member name for `corral cluster add`, `rename` and joins; the error names the
/// value, the rule, and what to do.
pub fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "A member name is needed: give one that starts with a letter, e.g. node4".into(),
        );
    }
    if name == RESERVED {
        return Err(format!(
            "Invalid member name {name:?}: \"{RESERVED}\" is reserved for servers that are not \
             clustered; choose another name, e.g. node4"
        ));
    }
    // The verdict is the preseed's name rule, so every way of naming a member agrees.
    if crate::preseed::check_name("member", name).is_err() {
        return Err(format!(
            "Invalid member name {name:?}: a member name starts with a letter and holds only \
             letters, digits, '-', '_' and '.' (at most 63 characters); choose another name, \
             e.g. {}",
            suggestion(name)
        ));
    }
    Ok(())
}

/// A valid name close to `name`: invalid characters become '-', a letter leads.
fn suggestion(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "node-");
    }
    out.truncate(63);
    if crate::preseed::check_name("member", &out).is_ok() {
        out
    } else {
        "node4".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_refused_naming_the_value_and_the_rule() {
        let long = "n".repeat(64);
        for (name, want) in [
            ("node2", None),
            ("db.rack-1_a", None),
            ("", Some("A member name is needed")),
            (
                "none",
                Some("Invalid member name \"none\": \"none\" is reserved"),
            ),
            (
                "bad name",
                Some("Invalid member name \"bad name\": a member name starts with a letter"),
            ),
            ("2node", Some("Invalid member name \"2node\"")),
            (long.as_str(), Some("at most 63 characters")),
        ] {
            let got = check_member_name(name);
            match want {
                None => assert_eq!(got, Ok(()), "{name:?}"),
                Some(text) => {
                    let err = got.expect_err(name);
                    assert!(err.contains(text), "{name:?}: {err}");
                    assert!(!err.contains("name name"), "{err}");
                }
            }
        }
    }

    #[test]
    fn the_suggested_name_is_valid() {
        for (name, want) in [
            ("bad name", "bad-name"),
            ("2node", "node-2node"),
            ("a/b", "a-b"),
        ] {
            assert_eq!(suggestion(name), want);
            assert_eq!(check_member_name(want), Ok(()));
        }
        let err = check_member_name("bad name").unwrap_err();
        assert!(err.ends_with("e.g. bad-name"), "{err}");
    }
}
