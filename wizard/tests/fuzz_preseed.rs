//! Fuzzing of the preseed reader (`corrald init --preseed`): YAML parsing with serde, then
//! [`Preseed::validate`], through [`parse_preseed`] and [`validate_all`] as the daemon and
//! the wizard call them.
//!
//! Inputs: the example preseeds in `assets/preseed/` (valid and invalid) and LXD's YAML
//! fixtures, mutated; and preseeds generated as data (names, keys and values drawn from the
//! real key list and from anything at all) and printed with [`to_yaml`].
//!
//! Properties: no panic or hang; every refusal has a message, and a line within the text
//! when it has one; an accepted preseed validates and prints to YAML that reads back to the
//! same preseed.
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=1000000 cargo test -p corral-wizard
//! --test fuzz_preseed`.

#[path = "../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::MemberConfigKey;
use corral_shared::preseed::{
    ClusterPreseed, NetworkPreseed, Preseed, ProfilePreseed, StoragePoolPreseed,
};
use corral_wizard::preseed::{PreseedError, parse_preseed, to_yaml, validate_all};
use fuzz_support::{Watchdog, cases, mutated_text, run};
use proptest::prelude::*;

/// CI's count of mutated texts (about a second, unoptimised).
const CI_TEXTS: u32 = 2_000;
/// CI's count of generated preseeds (a few seconds: each is validated three ways).
const CI_GENERATED: u32 = 300;
/// A case running this long is a hang.
const LIMIT: Duration = Duration::from_secs(10);

macro_rules! samples {
    ($($path:literal),* $(,)?) => {
        vec![$(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path)).to_owned()),*]
    };
}

fn samples() -> Vec<String> {
    samples![
        "assets/preseed/bootstrap.yaml",
        "assets/preseed/join-password.yaml",
        "assets/preseed/join-token.yaml",
        "assets/preseed/standalone.yaml",
        "assets/preseed/invalid/bad-address.yaml",
        "assets/preseed/invalid/max-voters-4.yaml",
        "assets/preseed/invalid/offline-threshold-5.yaml",
        "assets/preseed/invalid/syntax-error.yaml",
        "assets/preseed/invalid/unknown-key.yaml",
        "tests/fixtures/lxd/lxc_config_show.yaml",
        "tests/fixtures/lxd/lxc_cluster_show_node1.yaml",
    ]
}

/// Checks one refusal: it says something, and places it inside the text when it can.
fn check_refusal(text: &str, e: &PreseedError) -> Result<(), TestCaseError> {
    prop_assert!(
        !e.message.trim().is_empty(),
        "a refusal without a message: {e:?}"
    );
    let lines = text.lines().count().max(1);
    if let Some(line) = e.line {
        // serde places an error at end of input one line past the last.
        prop_assert!(
            line >= 1 && line <= lines + 1,
            "line {line} of a {lines}-line text: {e:?}"
        );
    }
    if let Some(column) = e.column {
        prop_assert!(column >= 1, "column {column}: {e:?}");
    }
    Ok(())
}

/// Parses `text` every way the daemon and the wizard do, and checks the answers agree and
/// hold the properties above.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    let first = parse_preseed(text);
    let all = validate_all(text);
    match (&first, &all) {
        (Ok(p), Ok(q)) => {
            prop_assert_eq!(p, q);
            prop_assert!(p.validate().is_ok(), "accepted but invalid: {p:?}");
            let again = parse_preseed(&to_yaml(p));
            prop_assert_eq!(again.as_ref(), Ok(p), "printed as:\n{}", to_yaml(p));
        }
        (Err(e), Err(es)) => {
            prop_assert!(!es.is_empty());
            prop_assert_eq!(e, &es[0], "parse_preseed gives the first of validate_all's");
            for e in es {
                check_refusal(text, e)?;
            }
        }
        _ => prop_assert!(
            false,
            "parse_preseed and validate_all disagree: {first:?} {all:?}"
        ),
    }
    Ok(())
}

#[test]
fn mutated_preseeds_are_read_or_refused_clearly() {
    let watchdog = Watchdog::new("preseed text", LIMIT);
    run(
        "preseed text",
        cases(CI_TEXTS),
        mutated_text(samples()),
        |text| watchdog.case(&text, || check_text(&text)),
    );
}

/// A word: a real key or name, something name-like, or any text at all.
fn word() -> impl Strategy<Value = String> {
    let known: Vec<String> = corral_shared::config::known_keys()
        .iter()
        .map(|k| k.name.to_owned())
        .chain(
            [
                "default",
                "corralbr0",
                "dir",
                "zfs",
                "bridge",
                "macvlan",
                "disk",
                "nic",
                "root",
                "path",
                "pool",
                "type",
                "source",
                "size",
                "ipv4.address",
                "user.x",
                "yes",
                "on",
                "off",
                "no",
                "true",
                "null",
                "~",
                "127.0.0.1:8443",
                "[::1]:8443",
                "0",
                "-1",
                "3",
            ]
            .map(String::from),
        )
        .collect();
    prop_oneof![
        4 => prop::sample::select(known),
        2 => "[a-z][a-z0-9.-]{0,12}",
        1 => Just(String::new()),
        1 => any::<String>(),
    ]
}

fn string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(word(), word(), 0..4)
}

prop_compose! {
    fn network()(name in word(), kind in word(), description in word(), project in word(),
        config in string_map()) -> NetworkPreseed {
        NetworkPreseed { name, kind, description, project, config }
    }
}

prop_compose! {
    fn pool()(name in word(), driver in word(), description in word(), config in string_map())
        -> StoragePoolPreseed {
        StoragePoolPreseed { name, driver, description, config }
    }
}

prop_compose! {
    fn profile()(name in word(), description in word(), config in string_map(),
        devices in prop::collection::btree_map(word(), string_map(), 0..3)) -> ProfilePreseed {
        ProfilePreseed { name, description, config, devices }
    }
}

prop_compose! {
    fn member_config()(entity in word(), name in word(), key in word(), value in word(),
        description in word()) -> MemberConfigKey {
        MemberConfigKey { entity, name, key, value, description }
    }
}

prop_compose! {
    fn cluster()(server_name in word(), enabled in any::<bool>(),
        member_config in prop::collection::vec(member_config(), 0..2),
        cluster_address in word(), cluster_certificate in word(),
        cluster_certificate_path in word(), server_address in word(),
        cluster_password in word(), cluster_token in word()) -> ClusterPreseed {
        ClusterPreseed {
            server_name, enabled, member_config, cluster_address, cluster_certificate,
            cluster_certificate_path, server_address, cluster_password, cluster_token,
        }
    }
}

prop_compose! {
    fn preseed()(config in string_map(), networks in prop::collection::vec(network(), 0..3),
        storage_pools in prop::collection::vec(pool(), 0..3),
        profiles in prop::collection::vec(profile(), 0..3),
        cluster in prop::option::of(cluster())) -> Preseed {
        Preseed { config, networks, storage_pools, profiles, cluster }
    }
}

/// Generated preseeds, printed as the wizard prints them: read back, they are the same
/// preseed when valid, and refused with the same problems [`Preseed::validate`] finds
/// when not.
#[test]
fn generated_preseeds_read_back_as_printed() {
    let watchdog = Watchdog::new("generated preseed", LIMIT);
    run(
        "generated preseed",
        cases(CI_GENERATED),
        preseed(),
        |preseed| {
            watchdog.case(&preseed, || {
                let text = to_yaml(&preseed);
                check_text(&text)?;
                match (preseed.validate(), validate_all(&text)) {
                    (Ok(()), read) => {
                        prop_assert_eq!(read, Ok(preseed.clone()), "printed as:\n{}", text)
                    }
                    (Err(violations), Err(errors)) => {
                        let mut expected: Vec<String> =
                            violations.iter().map(|v| v.message()).collect();
                        let mut got: Vec<String> = errors.into_iter().map(|e| e.message).collect();
                        expected.sort();
                        got.sort();
                        prop_assert_eq!(got, expected, "printed as:\n{}", text);
                    }
                    (Err(violations), Ok(_)) => {
                        prop_assert!(false, "invalid {violations:?} but read back as valid")
                    }
                }
                Ok(())
            })
        },
    );
}

/// What the fuzzing found: YAML takes a carriage return alone as a line break where an
/// editor shows none, so errors after one were placed on lines the file does not have.
/// Such text is refused at the line and column of the carriage return, saying what to do;
/// Windows line endings (CR LF) are read as usual.
#[test]
fn a_carriage_return_alone_is_refused_where_it_is() {
    let text = "config:\n  cluster.https_address: 127.0.0.11:8443\n  core.https_address: \r127.0.0.11:8443\n  cor[exit status 0]\n";
    let e = parse_preseed(text).unwrap_err();
    assert_eq!((e.line, e.column), (Some(3), Some(23)), "{e}");
    assert!(
        e.message.contains("carriage return") && e.message.contains("line endings"),
        "{e}"
    );
    let windows = "config:\r\n  core.https_address: 127.0.0.11:8443\r\n";
    assert!(
        parse_preseed(windows).is_ok(),
        "{:?}",
        parse_preseed(windows)
    );
    for other in ["\u{85}", "\u{2028}", "\u{2029}"] {
        let text = format!("config:\n  user.a: x{other}y\n  user.b: [\n");
        if let Err(e) = parse_preseed(&text) {
            check_refusal(&text, &e).unwrap_or_else(|f| panic!("{other:?}: {f}"));
        }
    }
}
