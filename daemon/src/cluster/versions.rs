//! Versions and the Blocked state of rolling upgrades, as LXD has them: a member's version
//! is its (schema, API extensions) pair; a member newer than another waits, refusing its
//! public API, until every member runs its version. The decisions only: the member's
//! memo of its refusal is `node::upgrade_gate`.

use crate::db::global::queries::MemberRow;

/// The environment setting that makes this daemon claim more API extensions than it has:
/// test-only, to exercise the Blocked state without building two versions.
pub const EXTRA_EXTENSIONS_ENV: &str = "CORRAL_TEST_EXTRA_API_EXTENSIONS";

/// A member's version.
pub type Version = (i64, i64);

/// The version this daemon runs (plus the test-only extra extensions, if set).
pub fn own() -> Version {
    let extra = std::env::var(EXTRA_EXTENSIONS_ENV)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    (
        crate::db::global::schema::VERSION,
        corral_shared::api::API_EXTENSIONS.len() as i64 + extra,
    )
}

/// How one version compares with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The same.
    Same,
    /// Newer in one part and not older in the other.
    Newer,
    /// Older in one part and not newer in the other.
    Older,
    /// Newer in one part, older in the other: nothing sensible to wait for.
    Inconsistent,
}

/// Compares `a` with `b`.
pub fn compare(a: Version, b: Version) -> Compared {
    match (a.0.cmp(&b.0), a.1.cmp(&b.1)) {
        (std::cmp::Ordering::Equal, std::cmp::Ordering::Equal) => Compared::Same,
        (x, y) if x.is_ge() && y.is_ge() => Compared::Newer,
        (x, y) if x.is_le() && y.is_le() => Compared::Older,
        _ => Compared::Inconsistent,
    }
}

fn version_of(row: &MemberRow) -> Version {
    (row.schema, row.api_extensions)
}

/// The members `me` waits for: those on an older version than `mine`.
pub fn waiting_for(mine: Version, me: u64, rows: &[MemberRow]) -> Vec<&MemberRow> {
    rows.iter()
        .filter(|r| r.id != me && compare(mine, version_of(r)) != Compared::Same)
        .filter(|r| {
            matches!(
                compare(mine, version_of(r)),
                Compared::Newer | Compared::Inconsistent
            )
        })
        .collect()
}

/// How a member shows in the list while versions differ: None when its version matches
/// every other member's, else LXD's message.
pub fn blocked_message(row: &MemberRow, rows: &[MemberRow]) -> Option<String> {
    let mine = version_of(row);
    let mut newer = false;
    let mut older = false;
    for other in rows.iter().filter(|r| r.id != row.id) {
        match compare(mine, version_of(other)) {
            Compared::Same => {}
            Compared::Newer => newer = true,
            Compared::Older => older = true,
            Compared::Inconsistent => {
                return Some("Cluster members have inconsistent versions".into());
            }
        }
    }
    match (older, newer) {
        (true, _) => Some("Corral version is older than other members".into()),
        (false, true) => Some("Corral version is newer than other members".into()),
        _ => None,
    }
}

/// The 503 answer of a member that waits for others to be upgraded.
pub fn blocked_refusal(mine: Version, waiting: &[&MemberRow]) -> String {
    let names: Vec<String> = waiting
        .iter()
        .map(|r| {
            format!(
                "{} at {} (schema {}, {} API extensions)",
                r.name, r.address, r.schema, r.api_extensions
            )
        })
        .collect();
    format!(
        "This member runs a newer version (schema {}, {} API extensions) and waits for {} to be upgraded; \
         it serves again by itself once they run the same version",
        mine.0,
        mine.1,
        names.join(", ")
    )
}

/// Which Raft entry format each schema version writes, oldest first; append a row with a
/// new schema version whenever `proposal::ENTRY_FORMAT` changes. A format never changes
/// without the schema, so a member that writes a new format is on a newer version than a
/// member that cannot read it, and the Blocked state above applies between them (and a
/// member that still meets such an entry refuses it by name, see `db::proposal`).
pub const ENTRY_FORMATS: &[(i64, u32)] = &[(1, 1)];

/// The newest entry format a member on `schema` reads (and writes).
pub fn entry_format_at(schema: i64) -> u32 {
    ENTRY_FORMATS
        .iter()
        .take_while(|(since, _)| *since <= schema)
        .last()
        .map_or(0, |(_, format)| *format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_formats_change_only_with_the_schema() {
        use crate::db::global::schema::VERSION;
        use crate::db::proposal::ENTRY_FORMAT;
        assert_eq!(
            entry_format_at(VERSION),
            ENTRY_FORMAT,
            "proposal::ENTRY_FORMAT changed: add a row to ENTRY_FORMATS with a new schema version"
        );
        for pair in ENTRY_FORMATS.windows(2) {
            assert!(pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1, "{pair:?}");
        }
        // Entries before formats were numbered read as format 0: every schema reads them.
        assert_eq!(entry_format_at(0), 0);
    }

    fn row(id: u64, version: Version) -> MemberRow {
        MemberRow {
            schema: version.0,
            api_extensions: version.1,
            ..MemberRow::sample(id)
        }
    }

    #[test]
    fn versions_compare_as_lxd_compares_them() {
        for (a, b, want) in [
            ((1, 10), (1, 10), Compared::Same),
            ((1, 11), (1, 10), Compared::Newer),
            ((2, 10), (1, 10), Compared::Newer),
            ((1, 9), (1, 10), Compared::Older),
            ((2, 9), (1, 10), Compared::Inconsistent),
        ] {
            assert_eq!(compare(a, b), want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn newer_members_wait_and_every_member_shows_blocked_while_versions_differ() {
        let rows = vec![row(1, (1, 10)), row(2, (1, 11)), row(3, (1, 10))];
        assert_eq!(waiting_for((1, 11), 2, &rows).len(), 2);
        assert!(
            waiting_for((1, 10), 1, &rows).is_empty(),
            "older members keep serving"
        );
        assert_eq!(
            blocked_message(&rows[0], &rows).as_deref(),
            Some("Corral version is older than other members")
        );
        assert_eq!(
            blocked_message(&rows[1], &rows).as_deref(),
            Some("Corral version is newer than other members")
        );
        let same = vec![row(1, (1, 10)), row(2, (1, 10))];
        assert_eq!(blocked_message(&same[0], &same), None);
        let refusal = blocked_refusal((1, 11), &waiting_for((1, 11), 2, &rows));
        assert!(refusal.contains("node1 at 127.0.0.1:8443"), "{refusal}");
    }
}
