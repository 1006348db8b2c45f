//! The mark on an answer a member gave from its own copy of the database because no leader
//! could confirm that copy current (quorum lost, say): which member, how far its copy goes
//! (the last applied log index) and when it was last known current. Daemon and client share
//! this one definition of the header.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The response header that marks such an answer:
/// `X-Corral-Stale: member=node1; applied-index=123; as-of=2026-12-01T13:40:02Z`.
pub const STALE_HEADER: &str = "X-Corral-Stale";

/// An answer from one member's local copy, not confirmed current by a leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The member that answered.
    pub member: String,
    /// The last Raft log index applied to its copy.
    pub applied_index: u64,
    /// When its copy was last confirmed to hold every acknowledged write (unknown if it
    /// never was since the member started).
    pub as_of: Option<OffsetDateTime>,
}

impl Stale {
    /// The header's value.
    pub fn header_value(&self) -> String {
        let mut value = format!(
            "member={}; applied-index={}",
            self.member, self.applied_index
        );
        if let Some(at) = self.as_of {
            let at = at.replace_nanosecond(0).unwrap_or(at);
            if let Ok(text) = at.to_offset(UtcOffset::UTC).format(&Rfc3339) {
                value.push_str("; as-of=");
                value.push_str(&text);
            }
        }
        value
    }

    /// Reads a header value; unknown parameters are skipped (a newer daemon may add some).
    pub fn parse(value: &str) -> Result<Stale, String> {
        let mut member = None;
        let mut applied_index = None;
        let mut as_of = None;
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| format!("{STALE_HEADER}: {part:?} is not key=value"))?;
            match key.trim() {
                "member" => member = Some(val.trim().to_owned()),
                "applied-index" => {
                    applied_index = Some(val.trim().parse::<u64>().map_err(|_| {
                        format!("{STALE_HEADER}: applied-index {val:?} is not a number")
                    })?)
                }
                "as-of" => {
                    as_of = Some(OffsetDateTime::parse(val.trim(), &Rfc3339).map_err(|_| {
                        format!("{STALE_HEADER}: as-of {val:?} is not an RFC 3339 time")
                    })?)
                }
                _ => {}
            }
        }
        Ok(Stale {
            member: member.ok_or_else(|| format!("{STALE_HEADER}: no member in {value:?}"))?,
            applied_index: applied_index
                .ok_or_else(|| format!("{STALE_HEADER}: no applied-index in {value:?}"))?,
            as_of,
        })
    }

    /// The line an operator is warned with (without "Warning: "); the time is UTC, with
    /// its date when that is not `now`'s.
    pub fn warning(&self, now: OffsetDateTime) -> String {
        let when = match self.as_of.map(|t| t.to_offset(UtcOffset::UTC)) {
            Some(t) if t.date() == now.to_offset(UtcOffset::UTC).date() => format!(
                "as of {:02}:{:02}:{:02} UTC",
                t.hour(),
                t.minute(),
                t.second()
            ),
            Some(t) => format!(
                "as of {} {:02}:{:02}:{:02} UTC",
                t.date(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            None => "never confirmed current since it started".to_owned(),
        };
        format!(
            "quorum lost: this is {}'s local copy {when} (log index {}); later changes may be missing",
            self.member, self.applied_index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_header_round_trips_and_tolerates_what_it_does_not_know() {
        let cases = [
            Stale {
                member: "node1".into(),
                applied_index: 123,
                as_of: Some(datetime!(2026-12-01 13:40:02 UTC)),
            },
            Stale {
                member: "node2".into(),
                applied_index: 0,
                as_of: None,
            },
        ];
        for stale in cases {
            assert_eq!(Stale::parse(&stale.header_value()), Ok(stale.clone()));
        }
        assert_eq!(
            Stale {
                member: "node1".into(),
                applied_index: 7,
                as_of: Some(datetime!(2026-12-01 13:40:02.5 +01:00)),
            }
            .header_value(),
            "member=node1; applied-index=7; as-of=2026-12-01T12:40:02Z"
        );
        let extra = Stale::parse("member=n; applied-index=5; later=thing").unwrap();
        assert_eq!(extra.applied_index, 5);
        for bad in [
            "applied-index=5",
            "member=n",
            "member=n; applied-index=x",
            "member=n; applied-index=1; as-of=yesterday",
            "member",
        ] {
            assert!(Stale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_warning_names_the_member_its_copy_and_when() {
        let now = datetime!(2026-12-01 14:00:00 UTC);
        let cases = [
            (
                Some(datetime!(2026-12-01 13:40:02 UTC)),
                "quorum lost: this is node1's local copy as of 13:40:02 UTC (log index 9); later changes may be missing",
            ),
            (
                Some(datetime!(2026-11-30 23:59:59 UTC)),
                "quorum lost: this is node1's local copy as of 2026-11-30 23:59:59 UTC (log index 9); later changes may be missing",
            ),
            (
                None,
                "quorum lost: this is node1's local copy never confirmed current since it started (log index 9); later changes may be missing",
            ),
        ];
        for (as_of, want) in cases {
            let stale = Stale {
                member: "node1".into(),
                applied_index: 9,
                as_of,
            };
            assert_eq!(stale.warning(now), want);
        }
    }
}
