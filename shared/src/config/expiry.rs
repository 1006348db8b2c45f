//! LXD's expiry grammar (`cluster.join_token_expiry`): space-separated `<int><unit>` parts.
//!
//! Units: `S` seconds, `M` minutes, `H` hours, `d` days, `w` weeks, `m` months, `y` years.
//! LXD adds months and years on the calendar; a `Duration` cannot, so Corral counts a month
//! as 30 days and a year as 365 days.

use std::time::Duration;

/// Why an expiry string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// A part is not a number followed by one unit letter.
    #[error(
        "\"{0}\" is not a number followed by a unit; use parts like 30M, 3H or 1d 12H \
         (units S, M, H, d, w, m, y)"
    )]
    BadPart(String),
    /// The same unit appears twice.
    #[error("the unit '{0}' appears more than once; give each unit at most once, e.g. 1d 12H")]
    RepeatedUnit(char),
    /// The total does not fit in a duration.
    #[error("the duration is too long; use a smaller number")]
    TooLong,
}

/// Seconds in one of each unit letter, or `None` for a letter that is no unit.
fn unit_seconds(unit: char) -> Option<u64> {
    const DAY: u64 = 24 * 3600;
    Some(match unit {
        'S' => 1,
        'M' => 60,
        'H' => 3600,
        'd' => DAY,
        'w' => 7 * DAY,
        'm' => 30 * DAY,
        'y' => 365 * DAY,
        _ => return None,
    })
}

/// Parses an expiry; an empty (or all-blank) string means "never expires" and gives `None`.
pub fn parse_expiry(text: &str) -> Result<Option<Duration>, ExpiryError> {
    let mut seen = Vec::new();
    let mut total: u64 = 0;
    for part in text.split_whitespace() {
        let Some(unit) = part.chars().last() else {
            continue;
        };
        let digits = &part[..part.len() - unit.len_utf8()];
        let (Some(per_unit), true) = (
            unit_seconds(unit),
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
        ) else {
            return Err(ExpiryError::BadPart(part.to_string()));
        };
        if seen.contains(&unit) {
            return Err(ExpiryError::RepeatedUnit(unit));
        }
        seen.push(unit);
        let count: u64 = digits.parse().map_err(|_| ExpiryError::TooLong)?;
        total = count
            .checked_mul(per_unit)
            .and_then(|s| total.checked_add(s))
            .ok_or(ExpiryError::TooLong)?;
    }
    Ok((!seen.is_empty()).then(|| Duration::from_secs(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        const H: u64 = 3600;
        const D: u64 = 24 * H;
        for (text, secs) in [
            ("", None),
            ("   ", None),
            ("3H", Some(3 * H)),
            ("10S", Some(10)),
            ("5M", Some(300)),
            ("2d", Some(2 * D)),
            ("1w", Some(7 * D)),
            ("1m", Some(30 * D)),
            ("1y", Some(365 * D)),
            ("0H", Some(0)),
            ("1d 12H", Some(D + 12 * H)),
            (
                "1y 2m 3w 4d 5H 6M 7S",
                Some(365 * D + 60 * D + 21 * D + 4 * D + 5 * H + 367),
            ),
        ] {
            assert_eq!(
                parse_expiry(text),
                Ok(secs.map(Duration::from_secs)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_parts() {
        for (text, err) in [
            ("3", ExpiryError::BadPart("3".into())),
            ("H", ExpiryError::BadPart("H".into())),
            ("3h", ExpiryError::BadPart("3h".into())),
            ("-3H", ExpiryError::BadPart("-3H".into())),
            ("3 H", ExpiryError::BadPart("3".into())),
            ("1.5H", ExpiryError::BadPart("1.5H".into())),
            ("1H 2H", ExpiryError::RepeatedUnit('H')),
            ("99999999999999999999y", ExpiryError::TooLong),
            ("999999999999999999y", ExpiryError::TooLong),
        ] {
            assert_eq!(parse_expiry(text), Err(err), "{text:?}");
        }
    }
}
