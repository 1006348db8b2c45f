use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn accepts_valid_values_for_every_key() {
    for (key, value) in [
        ("core.https_address", "127.0.0.1:8443"),
        ("core.https_address", ":8443"),
        ("core.https_address", "[::]:8443"),
        ("core.https_address", "10.0.0.1"),
        ("core.https_address", ""),
        ("cluster.https_address", "node1.example.com:9443"),
        ("core.trust_password", "sekret"),
        ("core.trust_password", "with spaces and : colons"),
        ("cluster.offline_threshold", "11"),
        ("cluster.offline_threshold", "300"),
        ("cluster.max_voters", "3"),
        ("cluster.max_voters", "7"),
        ("cluster.max_standby", "0"),
        ("cluster.max_standby", "5"),
        ("cluster.images_minimal_replica", "-1"),
        ("cluster.images_minimal_replica", "1"),
        ("cluster.images_minimal_replica", "10"),
        ("cluster.join_token_expiry", "3H"),
        ("cluster.join_token_expiry", "1d 12H"),
        ("cluster.join_token_expiry", ""),
        ("core.remote_token_expiry", "1S"),
        ("core.remote_token_expiry", "2w 3d"),
        ("core.remote_token_expiry", ""),
        ("images.auto_update_interval", "0"),
        ("images.auto_update_interval", "15"),
        ("user.anything", "any value at all"),
        ("user.", "x"),
    ] {
        assert_eq!(validate(key, value), Ok(()), "{key}={value}");
    }
}

#[test]
fn refuses_invalid_values_with_lxd_wording() {
    for (key, value, message) in [
        (
            "cluster.offline_threshold",
            "5",
            "cannot set 'cluster.offline_threshold' to '5': Value must be greater than '10'",
        ),
        (
            "cluster.offline_threshold",
            "10",
            "cannot set 'cluster.offline_threshold' to '10': Value must be greater than '10'",
        ),
        (
            "cluster.max_voters",
            "4",
            "cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3",
        ),
        (
            "cluster.max_voters",
            "1",
            "cannot set 'cluster.max_voters' to '1': Value must be an odd number equal to or higher than 3",
        ),
        (
            "cluster.max_voters",
            "abc",
            "cannot set 'cluster.max_voters' to 'abc': Invalid value for an integer \"abc\"",
        ),
        (
            "cluster.max_standby",
            "10",
            "cannot set 'cluster.max_standby' to '10': Value must be between 0 and 5",
        ),
        (
            "cluster.max_standby",
            "-1",
            "cannot set 'cluster.max_standby' to '-1': Value must be between 0 and 5",
        ),
        (
            "cluster.images_minimal_replica",
            "0",
            "cannot set 'cluster.images_minimal_replica' to '0': Value must be -1 (every member) or a number equal to or higher than 1",
        ),
        (
            "cluster.images_minimal_replica",
            "-2",
            "cannot set 'cluster.images_minimal_replica' to '-2': Value must be -1 (every member) or a number equal to or higher than 1",
        ),
        (
            "images.auto_update_interval",
            "-1",
            "cannot set 'images.auto_update_interval' to '-1': Value must be a number of hours, 0 or higher",
        ),
        (
            "images.auto_update_interval",
            "1.5",
            "cannot set 'images.auto_update_interval' to '1.5': Invalid value for an integer \"1.5\"",
        ),
        (
            "cluster.join_token_expiry",
            "3h",
            "cannot set 'cluster.join_token_expiry' to '3h': Invalid expiry: \"3h\" is not a number followed by a unit; use parts like 30M, 3H or 1d 12H (units S, M, H, d, w, m, y)",
        ),
        (
            "cluster.join_token_expiry",
            "1H 2H",
            "cannot set 'cluster.join_token_expiry' to '1H 2H': Invalid expiry: the unit 'H' appears more than once; give each unit at most once, e.g. 1d 12H",
        ),
        (
            "core.remote_token_expiry",
            "1 hour",
            "cannot set 'core.remote_token_expiry' to '1 hour': Invalid expiry: \"1\" is not a number followed by a unit; use parts like 30M, 3H or 1d 12H (units S, M, H, d, w, m, y)",
        ),
        (
            "core.https_address",
            "1.2.3.4:abc",
            "cannot set 'core.https_address' to '1.2.3.4:abc': Invalid address: port \"abc\" must be a number between 1 and 65535; use host:port, [ipv6]:port or :port (port 1-65535, 8443 when omitted), e.g. 10.0.0.1:8443",
        ),
        (
            "cluster.https_address",
            "not an address:99999",
            "cannot set 'cluster.https_address' to 'not an address:99999': Invalid address: port \"99999\" must be a number between 1 and 65535; use host:port, [ipv6]:port or :port (port 1-65535, 8443 when omitted), e.g. 10.0.0.1:8443",
        ),
    ] {
        let err = validate(key, value).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!((err.key(), err.value()), (key, value));
        assert!(message.ends_with(err.rule()));
        assert!(!err.is_unknown_key());
    }
}

#[test]
fn unknown_keys_are_named_with_the_known_ones() {
    for key in [
        "core.https_adress",
        "cluster.max_voter",
        "scheduler.instance",
        "user",
    ] {
        let err = validate(key, "x").unwrap_err();
        assert!(err.is_unknown_key(), "{key}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot set '{key}' to 'x': Unknown configuration key"
            )),
            "{text}"
        );
        for known in known_keys() {
            assert!(text.contains(known.name), "{text} lacks {}", known.name);
        }
        assert!(text.contains("user.<name>") && text.contains("corral config show"));
    }
}

#[test]
fn defaults() {
    for (key, default) in [
        ("cluster.offline_threshold", Some("20")),
        ("cluster.max_voters", Some("3")),
        ("cluster.max_standby", Some("2")),
        ("cluster.images_minimal_replica", Some("3")),
        ("cluster.join_token_expiry", Some("3H")),
        ("images.auto_update_interval", Some("6")),
        ("core.https_address", None),
        ("cluster.https_address", None),
        ("core.trust_password", None),
        ("core.remote_token_expiry", None),
        ("user.x", None),
        ("nope", None),
    ] {
        assert_eq!(default_value(key), default, "{key}");
    }
    for info in known_keys() {
        if let Some(d) = info.default {
            assert_eq!(validate(info.name, d), Ok(()), "{}'s default", info.name);
        }
    }
}

#[test]
fn json_scalars_become_strings() {
    for (value, text) in [
        (json!("x"), Some("x")),
        (json!(15), Some("15")),
        (json!(-1), Some("-1")),
        (json!(1.5), Some("1.5")),
        (json!(true), Some("true")),
        (json!(null), Some("")),
        (json!([1]), None),
        (json!({"a": 1}), None),
    ] {
        let got = value_to_string("user.k", &value);
        match text {
            Some(t) => assert_eq!(got.as_deref(), Ok(t), "{value}"),
            None => {
                let err = got.unwrap_err();
                assert_eq!(err.key(), "user.k");
                assert!(err.rule().contains("not a list or object"), "{err}");
            }
        }
    }
}

#[test]
fn apply_changes_validates_everything_first() {
    let current = map(&[("cluster.max_voters", "5"), ("user.old", "1")]);
    let changes: BTreeMap<String, Option<String>> = [
        ("cluster.max_standby".to_string(), Some("1".to_string())),
        ("cluster.max_voters".to_string(), Some("4".to_string())),
    ]
    .into();
    let err = apply_changes(&current, &changes).unwrap_err();
    assert_eq!(err.key(), "cluster.max_voters");

    let changes: BTreeMap<String, Option<String>> = [
        ("cluster.max_standby".to_string(), Some("1".to_string())),
        ("cluster.max_voters".to_string(), None),
        ("user.old".to_string(), Some(String::new())),
        ("user.new".to_string(), Some("2".to_string())),
    ]
    .into();
    let next = apply_changes(&current, &changes).unwrap();
    assert_eq!(
        next,
        map(&[("cluster.max_standby", "1"), ("user.new", "2")])
    );
}

#[test]
fn apply_changes_hashes_the_trust_password_and_allows_unsetting_stale_keys() {
    let current = map(&[("legacy.key", "x")]);
    let changes: BTreeMap<String, Option<String>> = [
        (
            "core.trust_password".to_string(),
            Some("sekret".to_string()),
        ),
        ("legacy.key".to_string(), None),
    ]
    .into();
    let next = apply_changes(&current, &changes).unwrap();
    assert_eq!(next.len(), 1);
    let stored = &next["core.trust_password"];
    assert!(is_hashed(stored) && verify_trust_password(stored, "sekret"));

    // An unknown key that is not stored cannot be unset: it is most likely a typo.
    let changes: BTreeMap<String, Option<String>> = [("legacy.other".to_string(), None)].into();
    assert!(
        apply_changes(&current, &changes)
            .unwrap_err()
            .is_unknown_key()
    );
}

#[test]
fn public_view_hides_the_trust_password() {
    let view = public_view(&map(&[
        ("core.https_address", "127.0.0.11:8443"),
        ("core.trust_password", "scrypt$00$11"),
        ("images.auto_update_interval", "15"),
    ]));
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        json!({
            "core.https_address": "127.0.0.11:8443",
            "core.trust_password": true,
            "images.auto_update_interval": "15",
        })
    );
}
