//! Server configuration keys (`corral config set ...`): their rules, defaults and messages.
//!
//! Values are strings, as in LXD; an empty string means "unset". Errors read exactly as
//! LXD's do where LXD's wording is known: `cannot set '<key>' to '<value>': <rule>`.

mod address;
mod expiry;
mod keys;
mod member_name;
mod password;
mod settings;

use std::collections::BTreeMap;

pub use address::{DEFAULT_PORT, ListenAddress, canonical_address};
pub use expiry::{ExpiryError, parse_expiry};
pub use keys::{KeyInfo, USER_NAMESPACE};
pub use member_name::check_member_name;
pub use password::{hash_trust_password, is_hashed, verify_trust_password};
pub use settings::ClusterSettings;

/// The key whose value is stored hashed and shown only as `true`.
pub const TRUST_PASSWORD_KEY: &str = "core.trust_password";

/// A value refused for a key, displayed as LXD does: `cannot set '<key>' to '<value>': <rule>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set '{key}' to '{value}': {rule}")]
pub struct ConfigError {
    key: String,
    value: String,
    rule: String,
    unknown_key: bool,
}

impl ConfigError {
    /// An error for `key` = `value` breaking `rule`.
    pub fn new(key: impl Into<String>, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            rule: rule.into(),
            unknown_key: false,
        }
    }

    /// The key that was being set.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value that was refused.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The rule the value broke, with what to do instead.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Whether the refusal is because the key itself is unknown (not because of its value).
    pub fn is_unknown_key(&self) -> bool {
        self.unknown_key
    }
}

/// Every fixed key with its default and meaning (sorted); `user.*` keys are free-form besides.
pub fn known_keys() -> &'static [KeyInfo] {
    keys::KEYS
}

/// The default of a known key, if it has one (`None` also for unknown keys).
pub fn default_value(key: &str) -> Option<&'static str> {
    keys::lookup(key).and_then(|k| k.default)
}

/// Checks that `key` is known and `value` obeys its rule; an empty value (unset) always does.
pub fn validate(key: &str, value: &str) -> Result<(), ConfigError> {
    let Some(info) = keys::lookup(key) else {
        return Err(ConfigError {
            unknown_key: true,
            ..ConfigError::new(
                key,
                value,
                format!(
                    "Unknown configuration key; check the spelling: {} \
                     (`corral config show` lists what is set now)",
                    keys::known_keys_sentence()
                ),
            )
        });
    };
    if value.is_empty() {
        return Ok(());
    }
    keys::check(info.rule, value).map_err(|rule| ConfigError::new(key, value, rule))
}

/// Turns a JSON scalar into a config value: strings as they are, numbers and booleans as
/// their text, `null` as "" (unset). Lists and objects are refused.
pub fn value_to_string(key: &str, value: &serde_json::Value) -> Result<String, ConfigError> {
    use serde_json::Value;
    match value {
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(_) | Value::Object(_) => Err(ConfigError::new(
            key,
            value.to_string(),
            "Config values must be a string, number or boolean, not a list or object; \
             quote the value if it is meant as text",
        )),
    }
}

/// Applies `changes` to `current` and returns the new config, or the first refused change
/// (in key order) leaving nothing applied. `None` or "" unsets a key; unsetting a key that is
/// stored is always allowed, even one no longer known. `core.trust_password` is stored hashed.
pub fn apply_changes(
    current: &BTreeMap<String, String>,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    for (key, value) in changes {
        let value = value.as_deref().unwrap_or("");
        if !(value.is_empty() && current.contains_key(key)) {
            validate(key, value)?;
        }
    }
    let mut next = current.clone();
    for (key, value) in changes {
        match value.as_deref() {
            None | Some("") => {
                next.remove(key);
            }
            Some(value) if key == TRUST_PASSWORD_KEY => {
                next.insert(key.clone(), hash_trust_password(value));
            }
            Some(value) => {
                next.insert(key.clone(), value.to_string());
            }
        }
    }
    Ok(next)
}

/// The config as `GET /1.0` shows it: every stored key as a string, except a set
/// `core.trust_password`, shown only as `true` (as LXD does) so the hash never leaves.
pub fn public_view(config: &BTreeMap<String, String>) -> BTreeMap<String, serde_json::Value> {
    config
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let shown = if k == TRUST_PASSWORD_KEY {
                serde_json::Value::Bool(true)
            } else {
                serde_json::Value::String(v.clone())
            };
            (k.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests;
