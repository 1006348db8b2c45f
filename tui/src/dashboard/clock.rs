//! Time as the dashboard needs it: a moment stamped on each message (so `update` stays
//! pure and testable), the wall clock shown in the log and the banner, and ages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A moment: Unix milliseconds for arithmetic, and the local wall clock for people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// `HH:MM:SS` in the local time zone.
    pub clock: String,
}

impl Stamp {
    /// The present moment.
    pub fn now() -> Stamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        Stamp {
            unix_ms: secs
                .saturating_mul(1000)
                .saturating_add(i64::from(since_epoch.subsec_millis())),
            clock: local_clock(),
        }
    }

    /// A fixed moment, for tests.
    #[cfg(test)]
    pub fn at(unix_ms: i64, clock: &str) -> Stamp {
        Stamp {
            unix_ms,
            clock: clock.to_string(),
        }
    }
}

/// The present `HH:MM:SS` in the local zone.
fn local_clock() -> String {
    // SAFETY: time(NULL) only returns the time; localtime_r writes only into the `tm` we
    // own and reads `t`; it is the re-entrant variant, and nothing in this program changes
    // TZ while it runs. An all-zero `tm` is a valid value of that plain C struct.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "??:??:??".into();
        }
        tm
    };
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// Unix milliseconds of an RFC 3339 time, or None if it is not one.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// An age as a few characters: `0s`, `42s`, `3m`, `5h`, `2d`.
pub fn short_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m", s / 60),
        6000..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A short duration as the banner says it: `200ms`, `1.6s`, `5s`.
pub fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_durations_are_short() {
        assert_eq!(short_age(-5), "0s");
        assert_eq!(short_age(42_900), "42s");
        assert_eq!(short_age(180_000), "3m");
        assert_eq!(short_age(5 * 3_600_000), "5h");
        assert_eq!(short_age(3 * 86_400_000), "3d");
        assert_eq!(short_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(short_duration(Duration::from_millis(1600)), "1.6s");
        assert_eq!(short_duration(Duration::from_secs(5)), "5s");
    }

    #[test]
    fn rfc3339_times_become_milliseconds() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        let now = Stamp::now();
        assert_eq!(now.clock.len(), 8);
        assert!(now.unix_ms > 1_600_000_000_000);
    }
}
