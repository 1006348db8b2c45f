//! The cluster's tunables as typed values, read from a config map with defaults filled in.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use super::default_value;
use super::expiry::parse_expiry;

/// The typed `cluster.*` settings a running cluster acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `cluster.offline_threshold`: silence after which a member counts as offline.
    pub offline_threshold: Duration,
    /// `cluster.max_voters`: how many members vote in the database.
    pub max_voters: usize,
    /// `cluster.max_standby`: how many members replicate without voting.
    pub max_standby: usize,
    /// `cluster.join_token_expiry`: how long a join token lives; `None` = forever.
    pub join_token_expiry: Option<Duration>,
    /// `cluster.images_minimal_replica`: copies of each image; -1 = every member.
    pub images_minimal_replica: i64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self::from_config(&BTreeMap::new())
    }
}

impl ClusterSettings {
    /// Reads the settings from a server config map; unset keys take their defaults.
    ///
    /// Values are validated when set, so one that still fails to parse (an old or hand-edited
    /// database) falls back to the default rather than stopping the daemon.
    pub fn from_config(config: &BTreeMap<String, String>) -> Self {
        Self {
            offline_threshold: Duration::from_secs(number(config, "cluster.offline_threshold")),
            max_voters: number(config, "cluster.max_voters"),
            max_standby: number(config, "cluster.max_standby"),
            join_token_expiry: config
                .get("cluster.join_token_expiry")
                .and_then(|v| parse_expiry(v).ok())
                .unwrap_or_else(|| {
                    parse_expiry(default_value("cluster.join_token_expiry").unwrap_or(""))
                        .ok()
                        .flatten()
                }),
            images_minimal_replica: number(config, "cluster.images_minimal_replica"),
        }
    }
}

/// The key's value as a number, else its default's.
fn number<T: FromStr + Default>(config: &BTreeMap<String, String>, key: &str) -> T {
    config
        .get(key)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
        .or_else(|| default_value(key).and_then(|d| d.parse().ok()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_unset_keys() {
        assert_eq!(
            ClusterSettings::default(),
            ClusterSettings {
                offline_threshold: Duration::from_secs(20),
                max_voters: 3,
                max_standby: 2,
                join_token_expiry: Some(Duration::from_secs(3 * 3600)),
                images_minimal_replica: 3,
            }
        );
    }

    #[test]
    fn set_keys_win_and_bad_ones_fall_back() {
        let s = ClusterSettings::from_config(&config(&[
            ("cluster.offline_threshold", "11"),
            ("cluster.max_voters", "5"),
            ("cluster.max_standby", "0"),
            ("cluster.join_token_expiry", ""),
            ("cluster.images_minimal_replica", "-1"),
        ]));
        assert_eq!(s.offline_threshold, Duration::from_secs(11));
        assert_eq!((s.max_voters, s.max_standby), (5, 0));
        assert_eq!(s.join_token_expiry, None, "empty expiry means never");
        assert_eq!(s.images_minimal_replica, -1);

        let s = ClusterSettings::from_config(&config(&[
            ("cluster.max_voters", "many"),
            ("cluster.join_token_expiry", "soon"),
        ]));
        assert_eq!(s.max_voters, 3);
        assert_eq!(s.join_token_expiry, Some(Duration::from_secs(3 * 3600)));
    }
}
