//! Standard base64 (`+/` alphabet, `=` padding), as join tokens use it.
//!
//! Small enough to keep here, and decoding errors name the offending byte offset the way
//! LXD's ("illegal base64 data at input byte 8"), which a generic crate would not.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes bytes as padded standard base64.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes padded standard base64; the error is the offset of the first byte that cannot be.
pub fn decode(text: &str) -> Result<Vec<u8>, usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (q, quantum) in bytes.chunks(4).enumerate() {
        let start = q * 4;
        if quantum.len() < 4 {
            // Go reports a short final quantum at its start.
            return Err(start);
        }
        let mut n: u32 = 0;
        let mut data_len = 0;
        for (i, &c) in quantum.iter().enumerate() {
            let value = match c {
                b'=' if i >= 2 => None,
                _ => ALPHABET.iter().position(|&a| a == c).map(|v| v as u32),
            };
            match value {
                Some(v) if data_len == i => {
                    n = n << 6 | v;
                    data_len += 1;
                }
                // Data after padding inside the quantum.
                Some(_) => return Err(start + i),
                None if c == b'=' => {}
                None => return Err(start + i),
            }
        }
        // "xx=y" was caught above; "x===" and "xx=" + data are invalid too.
        if data_len < 2 {
            return Err(start + data_len);
        }
        if data_len < 4 && start + 4 < bytes.len() {
            return Err(start + 4);
        }
        n <<= 6 * (4 - data_len as u32);
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..data_len - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("\u{3fe}\u{3ff}", "z77Pvw=="),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn names_the_first_bad_byte() {
        for (text, offset) in [
            ("Zm9v!mFy", 4),
            ("abcdefgh-ijk", 8),
            ("Zm9vYg", 4),
            ("Zm8", 0),
            ("Z===", 1),
            ("Zm=v", 3),
            ("Zm8=Zm9v", 4),
            ("Zm9v Zm9v", 4),
        ] {
            assert_eq!(decode(text), Err(offset), "{text}");
        }
    }
}
