//! Certificate fingerprints as LXD writes them: lowercase hex SHA-256 of the DER bytes.

use sha2::{Digest, Sha256};

/// The fingerprint of a DER-encoded certificate.
pub fn of_der(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Compares two secrets without leaking, through timing, where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_lowercase_hex_sha256() {
        assert_eq!(
            of_der(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        for (a, b, same) in [
            ("", "", true),
            ("secret", "secret", true),
            ("secret", "secreT", false),
            ("secret", "secret2", false),
        ] {
            assert_eq!(
                constant_time_eq(a.as_bytes(), b.as_bytes()),
                same,
                "{a} vs {b}"
            );
        }
    }
}
