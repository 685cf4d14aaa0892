//! Certificate serial numbers as exact integers (RFC 5280 §4.1.2.2).
//!
//! A serial is a non-negative integer of at most 20 octets. Serials whose value fits in 8 octets
//! (every JPKI serial today) are keyed as `u64`; longer ones as 20 big-endian octets, left-padded
//! with zeros so that byte order equals numeric order. The two key spaces never overlap: a value
//! below 2^64 is always `Short`.

use std::fmt;

/// Serials longer than this many significant octets are refused (RFC 5280 §4.1.2.2).
pub const MAX_SERIAL_OCTETS: usize = 20;

/// A serial's value, keyed for the revocation index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SerialKey {
    Short(u64),
    Long([u8; MAX_SERIAL_OCTETS]),
}

/// Why a serial was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error("empty serial")]
    Empty,
    #[error("serial of {0} significant octets exceeds the {MAX_SERIAL_OCTETS}-octet limit of RFC 5280")]
    TooLong(usize),
    #[error("not a hexadecimal serial (expected digits 0-9/A-F, optional 0x prefix and ':' separators)")]
    InvalidHex,
}

impl SerialKey {
    /// From big-endian magnitude octets (leading zeros allowed and ignored; empty means zero).
    #[inline]
    pub fn from_be_bytes(bytes: &[u8]) -> Result<SerialKey, SerialError> {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let m = &bytes[first..];
        if m.len() <= 8 {
            let mut v = 0u64;
            for &b in m {
                v = (v << 8) | b as u64;
            }
            Ok(SerialKey::Short(v))
        } else if m.len() <= MAX_SERIAL_OCTETS {
            let mut k = [0u8; MAX_SERIAL_OCTETS];
            k[MAX_SERIAL_OCTETS - m.len()..].copy_from_slice(m);
            Ok(SerialKey::Long(k))
        } else {
            Err(SerialError::TooLong(m.len()))
        }
    }

    /// From hex text: any case, optional `0x` prefix, optional `:` separators, surrounding
    /// whitespace ignored, leading zeros allowed.
    pub fn from_hex(text: &[u8]) -> Result<SerialKey, SerialError> {
        let mut s = text.trim_ascii();
        if s.len() >= 2 && s[0] == b'0' && (s[1] == b'x' || s[1] == b'X') {
            s = &s[2..];
        }
        let mut nibbles = [0u8; 2 * MAX_SERIAL_OCTETS];
        let mut count = 0usize;
        let mut seen_digit = false;
        for &c in s {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b':' => continue,
                _ => return Err(SerialError::InvalidHex),
            };
            seen_digit = true;
            if count == 0 && v == 0 {
                continue; // leading zero
            }
            if count == nibbles.len() {
                let significant = s.iter().filter(|c| c.is_ascii_hexdigit()).count();
                return Err(SerialError::TooLong(significant.div_ceil(2)));
            }
            nibbles[count] = v;
            count += 1;
        }
        if !seen_digit {
            return Err(SerialError::Empty);
        }
        let mut bytes = [0u8; MAX_SERIAL_OCTETS];
        let n = count.div_ceil(2);
        let start = MAX_SERIAL_OCTETS - n;
        // Right-align the nibbles: an odd count gets an implicit leading zero nibble.
        let pad = 2 * n - count;
        for (i, &nibble) in nibbles[..count].iter().enumerate() {
            let pos = i + pad;
            bytes[start + pos / 2] |= if pos % 2 == 0 { nibble << 4 } else { nibble };
        }
        SerialKey::from_be_bytes(&bytes)
    }

    /// Big-endian magnitude octets without leading zeros (zero is `[0]`).
    pub fn to_be_bytes(&self) -> Vec<u8> {
        match self {
            SerialKey::Short(v) => {
                let b = v.to_be_bytes();
                let first = b.iter().position(|&x| x != 0).unwrap_or(7);
                b[first..].to_vec()
            }
            SerialKey::Long(k) => {
                let first = k.iter().position(|&x| x != 0).unwrap_or(MAX_SERIAL_OCTETS - 1);
                k[first..].to_vec()
            }
        }
    }

    /// The canonical text form: uppercase hex with an even number of digits (`054CFCD8`).
    pub fn to_hex(&self) -> String {
        crate::names::hex_upper(&self.to_be_bytes())
    }
}

impl fmt::Display for SerialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms_agree() {
        let want = SerialKey::Short(0x054CFCD8);
        for s in ["054CFCD8", "54cfcd8", "0x054cfcd8", "05:4C:FC:D8", " 0054CFCD8 ", "0X54CFCD8"] {
            assert_eq!(SerialKey::from_hex(s.as_bytes()).unwrap(), want, "{s}");
        }
        assert_eq!(want.to_hex(), "054CFCD8");
    }

    #[test]
    fn zero_and_one_octet() {
        assert_eq!(SerialKey::from_hex(b"0").unwrap(), SerialKey::Short(0));
        assert_eq!(SerialKey::Short(0).to_hex(), "00");
        assert_eq!(SerialKey::from_be_bytes(&[0x7F]).unwrap().to_hex(), "7F");
        assert_eq!(SerialKey::from_be_bytes(&[]).unwrap(), SerialKey::Short(0));
    }

    #[test]
    fn long_serials_are_exact() {
        let twenty = "8".to_string() + &"1".repeat(39);
        let k = SerialKey::from_hex(twenty.as_bytes()).unwrap();
        assert!(matches!(k, SerialKey::Long(_)));
        assert_eq!(k.to_hex(), twenty);
        let nine = "010203040506070809";
        let k = SerialKey::from_hex(nine.as_bytes()).unwrap();
        assert_eq!(k.to_hex(), nine);
        assert_eq!(SerialKey::from_be_bytes(&[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap(), SerialKey::Short(0x0102030405060708));
        assert_eq!(SerialKey::from_hex("1".repeat(41).as_bytes()), Err(SerialError::TooLong(21)));
        assert_eq!(SerialKey::from_be_bytes(&[1u8; 21]), Err(SerialError::TooLong(21)));
    }

    #[test]
    fn bad_hex() {
        assert_eq!(SerialKey::from_hex(b""), Err(SerialError::Empty));
        assert_eq!(SerialKey::from_hex(b"0x"), Err(SerialError::Empty));
        assert_eq!(SerialKey::from_hex(b"12G4"), Err(SerialError::InvalidHex));
        assert_eq!(SerialKey::from_hex(b"-12"), Err(SerialError::InvalidHex));
    }
}
