//! Fuzzing of the tokens users paste: join tokens (`corral cluster add`) and trust tokens
//! (`corral config trust add`), as text, as mutated JSON inside valid base64, and as
//! generated tokens that must survive a round trip.
//!
//! Properties: decoding never panics or hangs; a refusal names the kind of token and what
//! is wrong with it (for base64, a byte offset inside the text); an accepted token has every
//! required field and encodes back to a token that decodes to itself.
//!
//! Long mode (see `fuzz_support`): `CORRAL_FUZZ_CASES=1000000 cargo test -p corral-shared
//! --test fuzz_tokens`.

mod fuzz_support;

use std::time::Duration;

use corral_shared::api::{CertificateAddToken, CertificateAddTokenError};
use corral_shared::preseed::{JoinToken, JoinTokenError, base64};
use fuzz_support::{Watchdog, cases, mutated, mutated_text, run};
use proptest::prelude::*;

/// A token LXD 5.0 printed (`lxc cluster add node2`), as the fixtures keep it.
const LXD_JOIN_TOKEN: &str = include_str!("../../tests/fixtures/lxd/join_token_raw.txt");

/// CI's count per target (a few seconds in all, unoptimised).
const CI_CASES: u32 = 2_000;
/// A case of any token target running this long is a hang.
const LIMIT: Duration = Duration::from_secs(5);

fn join_sample() -> JoinToken {
    JoinToken::decode(LXD_JOIN_TOKEN).expect("the LXD fixture is a join token")
}

fn trust_sample() -> CertificateAddToken {
    CertificateAddToken {
        client_name: "laptop".into(),
        fingerprint: join_sample().fingerprint,
        addresses: vec!["127.0.0.11:8443".into(), "[::1]:8443".into()],
        secret: join_sample().secret,
        expires_at: "2026-11-23T21:25:04.106031606Z".into(),
    }
}

/// Token strings: both real tokens, and each with surrounding whitespace.
fn token_texts() -> Vec<String> {
    let join = LXD_JOIN_TOKEN.trim().to_owned();
    let trust = trust_sample().encode();
    vec![
        join.clone(),
        trust.clone(),
        format!("  {join}\n"),
        format!("{trust}\r\n"),
    ]
}

/// The tokens' JSON, to mutate inside valid base64.
fn token_jsons() -> Vec<Vec<u8>> {
    vec![
        serde_json::to_vec(&join_sample()).unwrap(),
        serde_json::to_vec(&trust_sample()).unwrap(),
    ]
}

/// Text a user might paste: a mutated token, a base64 of mutated JSON, or anything at all.
fn pasted() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mutated_text(token_texts()),
        4 => mutated(token_jsons()).prop_map(|json| base64::encode(&json)),
        1 => any::<String>(),
        1 => "[A-Za-z0-9+/=\\s]{0,200}",
    ]
}

fn check_base64_offset(text: &str, offset: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        offset < text.trim().len(),
        "the offset {offset} names no byte of the {} given",
        text.trim().len()
    );
    Ok(())
}

fn check_join(text: &str) -> Result<(), TestCaseError> {
    match JoinToken::decode(text) {
        Ok(token) => {
            for (field, value) in [
                ("server_name", &token.server_name),
                ("secret", &token.secret),
                ("fingerprint", &token.fingerprint),
            ] {
                prop_assert!(!value.is_empty(), "accepted with an empty {field}");
            }
            prop_assert!(!token.addresses.is_empty(), "accepted with no address");
            prop_assert_eq!(JoinToken::decode(&token.encode()), Ok(token));
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("Invalid join token: "), "{message}");
            match &e {
                JoinTokenError::Base64(offset) => check_base64_offset(text, *offset)?,
                JoinTokenError::Json(why) => prop_assert!(!why.trim().is_empty(), "{message}"),
                JoinTokenError::Missing(field) => prop_assert!(!field.is_empty()),
            }
        }
    }
    Ok(())
}

fn check_trust(text: &str) -> Result<(), TestCaseError> {
    match CertificateAddToken::decode(text) {
        Ok(token) => {
            for (field, value) in [
                ("client_name", &token.client_name),
                ("secret", &token.secret),
                ("fingerprint", &token.fingerprint),
            ] {
                prop_assert!(!value.is_empty(), "accepted with an empty {field}");
            }
            prop_assert!(!token.addresses.is_empty(), "accepted with no address");
            prop_assert_eq!(CertificateAddToken::decode(&token.encode()), Ok(token));
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("Invalid trust token: "), "{message}");
            match &e {
                CertificateAddTokenError::Base64(offset) => check_base64_offset(text, *offset)?,
                CertificateAddTokenError::Json(why) => {
                    prop_assert!(!why.trim().is_empty(), "{message}")
                }
                CertificateAddTokenError::Missing(field) => prop_assert!(!field.is_empty()),
            }
        }
    }
    Ok(())
}

#[test]
fn join_token_decoding_never_panics_and_names_every_refusal() {
    let watchdog = Watchdog::new("join token", LIMIT);
    run("join token", cases(CI_CASES), pasted(), |text| {
        watchdog.case(&text, || check_join(&text))
    });
}

#[test]
fn trust_token_decoding_never_panics_and_names_every_refusal() {
    let watchdog = Watchdog::new("trust token", LIMIT);
    run("trust token", cases(CI_CASES), pasted(), |text| {
        watchdog.case(&text, || check_trust(&text))
    });
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any::<String>(),
        "[a-z0-9.:\\[\\]-]{1,30}"
    ]
}

prop_compose! {
    fn generated_join()(server_name in field(), fingerprint in field(),
        addresses in prop::collection::vec(field(), 0..4), secret in field(),
        expires_at in field()) -> JoinToken {
        JoinToken { server_name, fingerprint, addresses, secret, expires_at }
    }
}

/// Generated tokens: those with every required field come back as they went; the others
/// are refused naming the first missing field.
#[test]
fn generated_join_tokens_round_trip_or_name_the_missing_field() {
    let watchdog = Watchdog::new("join token round trip", LIMIT);
    run(
        "join token round trip",
        cases(CI_CASES),
        generated_join(),
        |token| {
            watchdog.case(&token, || {
                let missing = [
                    ("server_name", token.server_name.is_empty()),
                    ("addresses", token.addresses.is_empty()),
                    ("secret", token.secret.is_empty()),
                    ("fingerprint", token.fingerprint.is_empty()),
                ]
                .into_iter()
                .find(|(_, empty)| *empty)
                .map(|(field, _)| JoinTokenError::Missing(field));
                let expected = match missing {
                    Some(err) => Err(err),
                    None => Ok(token.clone()),
                };
                prop_assert_eq!(JoinToken::decode(&token.encode()), expected);
                Ok(())
            })
        },
    );
}

/// Base64 alone: what decodes comes back from its own encoding (trailing bits that are not
/// zero are accepted, as Go's decoder accepts them), and a refusal names a byte.
#[test]
fn base64_decoding_round_trips_or_names_a_byte() {
    let watchdog = Watchdog::new("base64", LIMIT);
    let texts = prop_oneof![
        mutated_text(token_texts()),
        "[A-Za-z0-9+/=]{0,40}",
        any::<String>()
    ];
    run("base64", cases(CI_CASES), texts, |text| {
        watchdog.case(&text, || {
            match base64::decode(&text) {
                Ok(bytes) => prop_assert_eq!(base64::decode(&base64::encode(&bytes)), Ok(bytes)),
                Err(offset) => prop_assert!(offset < text.len(), "offset {offset} of {text:?}"),
            }
            Ok(())
        })
    });
}
