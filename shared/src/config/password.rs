//! `core.trust_password` is never stored in the clear: scrypt with a random salt.
//!
//! Stored form: `scrypt$<salt hex>$<hash hex>`, with LXD's parameters (N = 2^14, r = 8, p = 1,
//! 64-byte output, 32-byte salt), so the string says how to check a candidate against it.

use crate::fingerprint::constant_time_eq;

const PREFIX: &str = "scrypt";
const LOG_N: u8 = 14;
const R: u32 = 8;
const P: u32 = 1;
const SALT_LEN: usize = 32;
const HASH_LEN: usize = 64;

/// Hashes a trust password with a fresh random salt, giving the string to store.
pub fn hash_trust_password(plain: &str) -> String {
    let salt: [u8; SALT_LEN] = rand::random();
    let hash = derive(plain, &salt);
    format!("{PREFIX}${}${}", hex::encode(salt), hex::encode(hash))
}

/// Whether `candidate` is the password `stored` was hashed from; false for a malformed `stored`.
pub fn verify_trust_password(stored: &str, candidate: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(PREFIX), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (hex::decode(salt), hex::decode(hash)) else {
        return false;
    };
    if salt.is_empty() || hash.len() != HASH_LEN {
        return false;
    }
    constant_time_eq(&derive(candidate, &salt), &hash)
}

/// Whether a stored value already has the hashed form (so it must not be hashed again).
pub fn is_hashed(stored: &str) -> bool {
    stored.starts_with("scrypt$")
}

fn derive(plain: &str, salt: &[u8]) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    // Both calls only fail for constants outside scrypt's limits, which these are not.
    let params = scrypt::Params::new(LOG_N, R, P).expect("fixed scrypt parameters are valid");
    scrypt::scrypt(plain.as_bytes(), salt, &params, &mut out)
        .expect("a 64-byte scrypt output is valid");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let stored = hash_trust_password("sekret");
        assert!(is_hashed(&stored));
        assert!(!stored.contains("sekret"));
        assert_eq!(stored.split('$').count(), 3);
        assert!(verify_trust_password(&stored, "sekret"));
        assert!(!verify_trust_password(&stored, "sekreT"));
        assert!(!verify_trust_password(&stored, ""));
        // A fresh salt each time: the same password never hashes to the same string twice.
        assert_ne!(stored, hash_trust_password("sekret"));
    }

    #[test]
    fn malformed_stored_values_never_verify() {
        for stored in [
            "",
            "sekret",
            "scrypt$",
            "scrypt$zz$00",
            "scrypt$00$00",
            "bcrypt$00$00",
            "scrypt$00$00$00",
        ] {
            assert!(!verify_trust_password(stored, "sekret"), "{stored}");
            assert!(!verify_trust_password(stored, ""), "{stored}");
        }
    }
}
