//! Just enough X.509 to describe a certificate: the subject's common name and the validity
//! dates, which `corral config trust list` shows and `cluster doctor` checks for expiry.
//! A small DER walk, not a validating parser: TLS has already checked what is stored.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::preseed::base64;

/// What the tools show of a certificate besides its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's CN ("" when it has none).
    pub common_name: String,
    /// Start of validity, UTC.
    pub not_before: OffsetDateTime,
    /// End of validity, UTC.
    pub not_after: OffsetDateTime,
}

/// DER tags met on the way.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Reads the first certificate of a PEM text.
pub fn parse_pem(pem: &str) -> Result<CertificateInfo, String> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    if body.is_empty() {
        return Err("no PEM certificate block".into());
    }
    let der =
        base64::decode(&body).map_err(|at| format!("the PEM body is not base64 (byte {at})"))?;
    parse_der(&der)
}

/// Reads a DER certificate.
pub fn parse_der(der: &[u8]) -> Result<CertificateInfo, String> {
    let certificate = Reader(der).expect(SEQUENCE, "Certificate")?;
    let mut tbs = Reader(Reader(certificate).expect(SEQUENCE, "TBSCertificate")?);
    if tbs.peek() == Some(VERSION) {
        tbs.any()?;
    }
    tbs.any()?; // serialNumber
    tbs.expect(SEQUENCE, "signature")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let mut validity = Reader(tbs.expect(SEQUENCE, "validity")?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let subject = tbs.expect(SEQUENCE, "subject")?;
    Ok(CertificateInfo {
        common_name: common_name(subject)?,
        not_before,
        not_after,
    })
}

/// The last CN of a Name (Go keeps the last one too).
fn common_name(name: &[u8]) -> Result<String, String> {
    let mut found = String::new();
    let mut rdns = Reader(name);
    while !rdns.0.is_empty() {
        let mut set = Reader(rdns.expect(SET, "RelativeDistinguishedName")?);
        while !set.0.is_empty() {
            let mut pair = Reader(set.expect(SEQUENCE, "AttributeTypeAndValue")?);
            let oid = pair.expect(OID, "attribute type")?;
            let (_, value) = pair.any()?;
            if oid == COMMON_NAME {
                found = String::from_utf8_lossy(value).into_owned();
            }
        }
    }
    Ok(found)
}

fn time(reader: &mut Reader<'_>) -> Result<OffsetDateTime, String> {
    let (tag, value) = reader.any()?;
    let text = std::str::from_utf8(value).map_err(|_| "a validity time is not text")?;
    let (year, rest) = match tag {
        // Two-digit years: 50-99 are 19xx, 00-49 are 20xx (RFC 5280).
        UTC_TIME => {
            let yy = digits(text, 0, 2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        GENERALIZED_TIME => (digits(text, 0, 4)?, text.get(4..).unwrap_or("")),
        other => {
            return Err(format!(
                "a validity time has the unexpected tag {other:#04x}"
            ));
        }
    };
    let two = |at: usize| digits(rest, at, at + 2).map(|n| n as u8);
    let invalid =
        |e: time::error::ComponentRange| format!("the validity time {text:?} is invalid: {e}");
    let month = Month::try_from(two(0)?).map_err(invalid)?;
    let date = Date::from_calendar_date(i32::from(year), month, two(2)?).map_err(invalid)?;
    // A leap second (60) is read as the second before it: expiry is never that precise.
    let clock = Time::from_hms(two(4)?, two(6)?, two(8)?.min(59)).map_err(invalid)?;
    Ok(PrimitiveDateTime::new(date, clock).assume_utc())
}

fn digits(text: &str, from: usize, to: usize) -> Result<u16, String> {
    text.get(from..to)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("the validity time {text:?} is malformed"))
}

/// Reads DER elements one after another.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element's tag and contents.
    fn any(&mut self) -> Result<(u8, &'a [u8]), String> {
        let truncated = || "the certificate is truncated".to_string();
        let (&tag, rest) = self.0.split_first().ok_or_else(truncated)?;
        let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("the certificate has a malformed length".into());
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(truncated());
        }
        let (contents, rest) = rest.split_at(len);
        self.0 = rest;
        Ok((tag, contents))
    }

    /// The next element, which must carry `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.any()? {
            (t, contents) if t == tag => Ok(contents),
            (t, _) => Err(format!(
                "the certificate's {what} has tag {t:#04x}, not {tag:#04x}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_certificates() -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/query_certificates_recursion1.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn reads_lxds_server_certificates() {
        let certs = sample_certificates();
        let node1 = certs.iter().find(|c| c["name"] == "node1").unwrap();
        let info = parse_pem(node1["certificate"].as_str().unwrap()).unwrap();
        assert_eq!(info.common_name, "root@vm");
        assert_eq!(
            info.not_before,
            time::macros::datetime!(2026-11-23 18:25:02 UTC)
        );
        assert_eq!(
            info.not_after,
            time::macros::datetime!(2036-11-20 18:25:02 UTC)
        );
        for cert in &certs {
            assert!(parse_pem(cert["certificate"].as_str().unwrap()).is_ok());
        }
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        assert!(parse_pem("").is_err());
        assert!(parse_pem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----").is_err());
        assert!(parse_der(&[0x30, 0x82, 0x01]).is_err());
        assert!(parse_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    }
}
