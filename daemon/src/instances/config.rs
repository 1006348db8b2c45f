//! Checking what a user asks of an instance before anything changes: its name (LXD's
//! hostname rule) and its configuration keys and values.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Whether the instance ran when its member last changed it (`RUNNING`/`STOPPED`), as LXD
/// records it; restore starts again what ran.
pub const LAST_POWER_KEY: &str = "volatile.last_state.power";
/// The image the instance was made from.
pub const BASE_IMAGE_KEY: &str = "volatile.base_image";
/// The instance's identity, kept across moves.
pub const UUID_KEY: &str = "volatile.uuid";
/// How long a clean shutdown may take when its member stops it.
pub const SHUTDOWN_TIMEOUT_KEY: &str = "boot.host_shutdown_timeout";
/// LXD's default for [`SHUTDOWN_TIMEOUT_KEY`], in seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30;

/// Checks an instance name: LXD's rule (a hostname label).
pub fn check_name(name: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::BadRequest(format!(
            "Invalid instance name {name:?}: {why}; names are 1 to 63 letters, digits and \
             hyphens, starting with a letter and not ending with a hyphen"
        )))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > 63 {
        return refuse("it is longer than 63 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return refuse("it must start with a letter");
    }
    if name.ends_with('-') {
        return refuse("it must not end with a hyphen");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return refuse(&format!("{c:?} is not allowed"));
    }
    Ok(())
}

/// The configuration changes a PATCH body asks for, as LXD reads them: each key of its
/// `config` is set, one given as `""` or `null` is removed, and a non-string value is set
/// to its JSON text.
pub fn patch_changes(patch: &serde_json::Value) -> BTreeMap<String, Option<String>> {
    let Some(config) = patch.get("config").and_then(|c| c.as_object()) else {
        return BTreeMap::new();
    };
    config
        .iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(s) if s.is_empty() => None,
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            };
            (key.clone(), value)
        })
        .collect()
}

/// Checks one user-set configuration key and value.
pub fn check_key(key: &str, value: &str) -> Result<()> {
    let unknown = || {
        Err(Error::BadRequest(format!(
            "Invalid instance config key {key:?}: Corral knows user.*, environment.*, \
             boot.autostart, boot.autostart.delay, boot.autostart.priority, \
             boot.host_shutdown_timeout, cluster.evacuate, limits.*, \
             security.*, image.* and volatile.* keys"
        )))
    };
    let bad_value = |rule: &str| {
        Err(Error::BadRequest(format!(
            "Invalid value {value:?} for instance config key {key:?}: {rule}"
        )))
    };
    match key {
        "cluster.evacuate" => match value {
            "" | "auto" | "migrate" | "live-migrate" | "stop" => Ok(()),
            _ => bad_value("use auto, migrate, live-migrate or stop"),
        },
        "boot.autostart.delay" => match value.parse::<u64>() {
            Ok(_) => Ok(()),
            Err(_) if value.is_empty() => Ok(()),
            Err(_) => bad_value("give a whole number of seconds to wait after starting it"),
        },
        "boot.autostart.priority" => match value.parse::<i64>() {
            Ok(_) => Ok(()),
            Err(_) if value.is_empty() => Ok(()),
            Err(_) => bad_value("give a whole number (higher starts first)"),
        },
        SHUTDOWN_TIMEOUT_KEY => match value.parse::<u64>() {
            Ok(_) => Ok(()),
            Err(_) if value.is_empty() => Ok(()),
            Err(_) => bad_value("give a whole number of seconds"),
        },
        "boot.autostart" | "security.privileged" | "security.nesting" => match value {
            "" | "true" | "false" | "1" | "0" => Ok(()),
            _ => bad_value("use true or false"),
        },
        _ if [
            "user.",
            "environment.",
            "limits.",
            "security.",
            "image.",
            "volatile.",
        ]
        .iter()
        .any(|p| key.starts_with(p) && key.len() > p.len()) =>
        {
            Ok(())
        }
        _ => unknown(),
    }
}

/// Checks every key of `config`.
pub fn check(config: &BTreeMap<String, String>) -> Result<()> {
    config.iter().try_for_each(|(k, v)| check_key(k, v))
}

/// Parses `key=value` as `corral config set NAME key=value` and `-c` give them.
pub fn parse_pair(pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(Error::BadRequest(format!(
            "Bad key=value pair: {pair:?}; write it as key=value, e.g. -c user.role=web"
        ))),
    }
}

/// How long a clean shutdown may take for an instance with `config`: its
/// `boot.host_shutdown_timeout`, else LXD's 30 s.
pub fn shutdown_timeout(config: &BTreeMap<String, String>) -> u64 {
    config
        .get(SHUTDOWN_TIMEOUT_KEY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_hostname_rule() {
        for (name, ok) in [
            ("c1", true),
            ("web-01", true),
            ("a", true),
            ("", false),
            ("1c", false),
            ("-c", false),
            ("c-", false),
            ("c_1", false),
            ("c.1", false),
            (&"a".repeat(64), false),
            (&"a".repeat(63), true),
        ] {
            assert_eq!(check_name(name).is_ok(), ok, "{name:?}");
        }
        let err = check_name("c_1").unwrap_err().to_string();
        assert!(err.contains("'_' is not allowed"), "{err}");
    }

    #[test]
    fn keys_and_values_are_checked() {
        for (key, value, ok) in [
            ("user.role", "web", true),
            ("cluster.evacuate", "stop", true),
            ("cluster.evacuate", "sideways", false),
            ("boot.host_shutdown_timeout", "10", true),
            ("boot.host_shutdown_timeout", "ten", false),
            ("boot.autostart", "maybe", false),
            ("boot.autostart", "true", true),
            ("boot.autostart.delay", "5", true),
            ("boot.autostart.delay", "-5", false),
            ("boot.autostart.priority", "-5", true),
            ("boot.autostart.priority", "first", false),
            ("limits.cpu", "2", true),
            ("user.", "x", false),
            ("flavour", "x", false),
        ] {
            assert_eq!(check_key(key, value).is_ok(), ok, "{key}={value}");
        }
        let err = check_key("flavour", "x").unwrap_err().to_string();
        assert!(err.contains("\"flavour\""), "{err}");
    }

    #[test]
    fn a_patch_sets_given_keys_and_removes_empty_ones() {
        let patch = serde_json::json!({
            "config": {"user.a": "x", "user.b": "", "user.c": null, "limits.cpu": 2},
            "description": "ignored here",
        });
        let want = BTreeMap::from([
            ("limits.cpu".to_owned(), Some("2".to_owned())),
            ("user.a".to_owned(), Some("x".to_owned())),
            ("user.b".to_owned(), None),
            ("user.c".to_owned(), None),
        ]);
        assert_eq!(patch_changes(&patch), want);
        assert!(patch_changes(&serde_json::json!({"description": "d"})).is_empty());
    }

    #[test]
    fn pairs_and_timeouts() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=x").is_err());
        let mut config = BTreeMap::new();
        assert_eq!(shutdown_timeout(&config), 30);
        config.insert(SHUTDOWN_TIMEOUT_KEY.to_owned(), "5".to_owned());
        assert_eq!(shutdown_timeout(&config), 5);
    }
}
