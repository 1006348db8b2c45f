//! Dates as lxc prints them, always in UTC (lxc uses the local zone; a console shared by
//! people in several zones reads better with one).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The month abbreviations Go's `Jan` layout element prints.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A token's expiry as `cluster list-tokens` shows it: `2026/11/23 21:25 UTC`; `never` for
/// LXD's zero time (or no time), which marks a token that does not expire. Text that is not
/// RFC 3339 is shown as it came.
pub fn token_expiry(rfc3339: &str) -> String {
    if rfc3339.is_empty() || rfc3339.starts_with("0001-01-01") {
        return "never".into();
    }
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(UtcOffset::UTC);
            format!(
                "{:04}/{:02}/{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// A calendar time in UTC, as a certificate carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    /// Full year.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 60.
    pub second: u8,
}

impl UtcTime {
    /// As `config trust list` shows issue and expiry dates: `Nov 23, 2026 at 6:25pm (UTC)`.
    pub fn certificate_date(&self) -> String {
        let month = MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .copied()
            .unwrap_or("???");
        let hour12 = match self.hour % 12 {
            0 => 12,
            h => h,
        };
        let half = if self.hour < 12 { "am" } else { "pm" };
        format!(
            "{month} {}, {} at {hour12}:{:02}{half} (UTC)",
            self.day, self.year, self.minute
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_expiry_reads_as_lxc_prints_it() {
        assert_eq!(
            token_expiry("2026-11-23T21:25:43.995598535Z"),
            "2026/11/23 21:25 UTC"
        );
        assert_eq!(
            token_expiry("2026-11-23T23:05:00+02:00"),
            "2026/11/23 21:05 UTC"
        );
        assert_eq!(token_expiry("0001-01-01T00:00:00Z"), "never");
        assert_eq!(token_expiry(""), "never");
        assert_eq!(token_expiry("soon"), "soon");
    }

    #[test]
    fn certificate_dates_use_go_s_layout_in_utc() {
        let t = |hour, minute| UtcTime {
            year: 2026,
            month: 11,
            day: 3,
            hour,
            minute,
            second: 2,
        };
        assert_eq!(t(18, 25).certificate_date(), "Nov 3, 2026 at 6:25pm (UTC)");
        assert_eq!(t(0, 5).certificate_date(), "Nov 3, 2026 at 12:05am (UTC)");
        assert_eq!(t(12, 0).certificate_date(), "Nov 3, 2026 at 12:00pm (UTC)");
    }
}
