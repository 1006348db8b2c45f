//! A trusted certificate as `lxc config trust list` shows it: the subject's common name and
//! the validity dates, read by `corral_shared::x509` and turned into the console's dates.

use time::OffsetDateTime;

use crate::format::dates::UtcTime;

/// What `config trust list` shows of a certificate besides its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's CN ("" when it has none).
    pub common_name: String,
    /// Start of validity.
    pub not_before: UtcTime,
    /// End of validity.
    pub not_after: UtcTime,
}

/// Reads the first certificate of a PEM text.
pub fn parse_pem(pem: &str) -> Result<CertificateInfo, String> {
    let info = corral_shared::x509::parse_pem(pem)?;
    Ok(CertificateInfo {
        common_name: info.common_name,
        not_before: utc(info.not_before),
        not_after: utc(info.not_after),
    })
}

fn utc(t: OffsetDateTime) -> UtcTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    UtcTime {
        // Certificates carry years 1950 to 9999, which fit.
        year: u16::try_from(t.year()).unwrap_or(0),
        month: u8::from(t.month()),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxds_certificate_dates_become_console_dates() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/query_certificates_recursion1.json"
        ))
        .unwrap();
        let certs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let node1 = certs.iter().find(|c| c["name"] == "node1").unwrap();
        let info = parse_pem(node1["certificate"].as_str().unwrap()).unwrap();
        assert_eq!(info.common_name, "root@vm");
        let at = |year, day| UtcTime {
            year,
            month: 11,
            day,
            hour: 18,
            minute: 25,
            second: 2,
        };
        assert_eq!(info.not_before, at(2026, 23));
        assert_eq!(info.not_after, at(2036, 20));
    }
}
