//! The example preseeds in `assets/preseed/` parse, and the malformed ones fail exactly as
//! their `# expect:` first line says.

use corral_shared::preseed::JoinToken;

use super::*;

macro_rules! asset {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../assets/preseed/",
                $name
            )),
        )
    };
}

const VALID: &[(&str, &str)] = &[
    asset!("bootstrap.yaml"),
    asset!("join-password.yaml"),
    asset!("standalone.yaml"),
];

const INVALID: &[(&str, &str)] = &[
    asset!("invalid/unknown-key.yaml"),
    asset!("invalid/max-voters-4.yaml"),
    asset!("invalid/offline-threshold-5.yaml"),
    asset!("invalid/bad-address.yaml"),
    asset!("invalid/syntax-error.yaml"),
];

/// The placeholder `join-token.yaml` carries instead of a real token.
const TOKEN_PLACEHOLDER: &str = "<paste the token from corral cluster add>";

#[test]
fn valid_examples_parse_and_round_trip() {
    for (name, text) in VALID {
        let p = parse_preseed(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parse_preseed(&to_yaml(&p)).as_ref(), Ok(&p), "{name}");
    }
    let boot = parse_preseed(VALID[0].1).unwrap();
    assert!(boot.is_bootstrap());
    assert!(
        !corral_shared::config::is_hashed(&boot.config["core.trust_password"]),
        "a preseed carries the password in the clear; the daemon hashes it when applying"
    );
    assert!(parse_preseed(VALID[1].1).unwrap().is_join());
    let standalone = parse_preseed(VALID[2].1).unwrap();
    assert!(standalone.cluster.is_none() && standalone.storage_pools.len() == 1);
}

#[test]
fn join_token_example_parses_with_a_real_token() {
    let (_, text) = asset!("join-token.yaml");
    assert!(text.contains(TOKEN_PLACEHOLDER));
    let err = parse_preseed(text).unwrap_err();
    assert_eq!(
        err.key, "cluster.cluster_token",
        "the placeholder alone is refused"
    );
    let token = JoinToken {
        server_name: "node2".into(),
        fingerprint: "48a9d8003c5632b63a4864da9cbf1041d09fbfa1f49e2f195468d3587fd61ad7".into(),
        addresses: vec!["127.0.0.1:8443".into()],
        secret: "40076f453ed7deb747d11819a0f4998dace7342ae90618f6091d7333491db635".into(),
        expires_at: "2030-01-01T00:00:00Z".into(),
    };
    let p = parse_preseed(&text.replace(TOKEN_PLACEHOLDER, &token.encode())).unwrap();
    assert!(p.is_join());
}

#[test]
fn invalid_examples_fail_as_their_first_line_says() {
    for (name, text) in INVALID {
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name} must start with `# expect: <error>`"));
        let err = parse_preseed(text).expect_err(name);
        assert_eq!(err.to_string(), expect, "{name}");
    }
}
