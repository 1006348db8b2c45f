//! The table of server configuration keys: their defaults, meanings and value rules.

use super::address::ListenAddress;
use super::expiry::parse_expiry;

/// One known server configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key, e.g. `cluster.max_voters`.
    pub name: &'static str,
    /// The value used while the key is unset (`None`: unset means "off" or "not set").
    pub default: Option<&'static str>,
    /// One line saying what the key does, for `corral config` and the wizard.
    pub description: &'static str,
    /// How its values are checked.
    pub(crate) rule: Rule,
}

/// How a key's values are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Address,
    AnyString,
    OfflineThreshold,
    MaxVoters,
    MaxStandby,
    MinimalReplica,
    Expiry,
    NonNegativeHours,
}

/// The namespace of free-form keys: any `user.<anything>` is accepted.
pub const USER_NAMESPACE: &str = "user.";

/// Every fixed key, sorted by name.
pub(crate) const KEYS: &[KeyInfo] = &[
    KeyInfo {
        name: "cluster.https_address",
        default: None,
        description: "Address other cluster members reach this one on (host:port)",
        rule: Rule::Address,
    },
    KeyInfo {
        name: "cluster.images_minimal_replica",
        default: Some("3"),
        description: "How many members keep a copy of each image (-1 = all, 1 = no copies)",
        rule: Rule::MinimalReplica,
    },
    KeyInfo {
        name: "cluster.join_token_expiry",
        default: Some("3H"),
        description: "How long a join token stays valid (e.g. 3H, 1d 12H; empty = forever)",
        rule: Rule::Expiry,
    },
    KeyInfo {
        name: "cluster.max_standby",
        default: Some("2"),
        description: "How many members replicate the database without voting (0-5)",
        rule: Rule::MaxStandby,
    },
    KeyInfo {
        name: "cluster.max_voters",
        default: Some("3"),
        description: "How many members vote in the database (odd, 3 or more)",
        rule: Rule::MaxVoters,
    },
    KeyInfo {
        name: "cluster.offline_threshold",
        default: Some("20"),
        description: "Seconds without a heartbeat before a member counts as offline (over 10)",
        rule: Rule::OfflineThreshold,
    },
    KeyInfo {
        name: "core.https_address",
        default: None,
        description: "Address the REST API listens on (host:port, :port for all interfaces)",
        rule: Rule::Address,
    },
    KeyInfo {
        name: "core.remote_token_expiry",
        default: None,
        description: "How long a client's trust token stays valid (e.g. 30M, 1d; empty = forever)",
        rule: Rule::Expiry,
    },
    KeyInfo {
        name: "core.trust_password",
        default: None,
        description: "Password new clients and members may present to be trusted (stored hashed)",
        rule: Rule::AnyString,
    },
    KeyInfo {
        name: "images.auto_update_interval",
        default: Some("6"),
        description: "Hours between checks for newer cached images (0 = never)",
        rule: Rule::NonNegativeHours,
    },
];

/// The entry for `key`, or for the `user.*` namespace; `None` for an unknown key.
pub(crate) fn lookup(key: &str) -> Option<KeyInfo> {
    if let Some(info) = KEYS.iter().find(|k| k.name == key) {
        return Some(*info);
    }
    key.starts_with(USER_NAMESPACE).then_some(KeyInfo {
        name: "user.*",
        default: None,
        description: "Free-form user data",
        rule: Rule::AnyString,
    })
}

/// Checks a non-empty value against its rule; the error is the rule's wording.
pub(crate) fn check(rule: Rule, value: &str) -> Result<(), String> {
    match rule {
        Rule::AnyString => Ok(()),
        Rule::Address => ListenAddress::parse(value).map(|_| ()),
        Rule::Expiry => parse_expiry(value)
            .map(|_| ())
            .map_err(|e| format!("Invalid expiry: {e}")),
        Rule::OfflineThreshold => int_where(value, |n| n > 10, "Value must be greater than '10'"),
        Rule::MaxVoters => int_where(
            value,
            |n| n >= 3 && n % 2 == 1,
            "Value must be an odd number equal to or higher than 3",
        ),
        Rule::MaxStandby => int_where(
            value,
            |n| (0..=5).contains(&n),
            "Value must be between 0 and 5",
        ),
        Rule::MinimalReplica => int_where(
            value,
            |n| n == -1 || n >= 1,
            "Value must be -1 (every member) or a number equal to or higher than 1",
        ),
        Rule::NonNegativeHours => int_where(
            value,
            |n| n >= 0,
            "Value must be a number of hours, 0 or higher",
        ),
    }
}

/// Parses an integer (LXD's wording when it is not one) and applies a range rule.
fn int_where(value: &str, ok: impl Fn(i64) -> bool, rule: &str) -> Result<(), String> {
    let n: i64 = value
        .parse()
        .map_err(|_| format!("Invalid value for an integer \"{value}\""))?;
    if ok(n) { Ok(()) } else { Err(rule.to_string()) }
}

/// A sentence listing the known keys, for "unknown key" messages.
pub(crate) fn known_keys_sentence() -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!(
        "the known keys are {} and any {USER_NAMESPACE}<name>",
        names.join(", ")
    )
}
