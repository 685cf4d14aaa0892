//! Certificate serial numbers as exact integers (RFC 5280 §4.1.2.2, docs/DESIGN.md §3.1).
//!
//! A serial is the value of the certificate's serialNumber INTEGER, whose DER content octets
//! (minimal two's complement, at most 20 of them) are its identity: `FF` (-1) and `00FF` (255)
//! are different serials. RFC 5280 asks relying parties to handle negative serials gracefully,
//! so they are kept, exact and distinct, instead of being refused.
//!
//! Serials from 0 to 2^64-1 (every JPKI serial today) are keyed as `u64`; every other one
//! (longer positive ones, and negative ones) as the INTEGER's 160-bit two's complement, 20
//! big-endian octets: a positive value left-padded with `00`, a negative one with `FF`. Twenty
//! content octets hold values from -2^159 to 2^159-1, so the two halves of the 20-octet space
//! never meet, and the two key spaces never overlap: a value in 0..2^64 is always `Short`.
//!
//! As text, a serial is canonical hex of its magnitude, uppercase with an even number of digits,
//! with a leading `-` when negative: `054CFCD8`, `FF` (255), `-01` (-1), `-80` (-128).

use std::fmt;

/// Serials of more content octets than this (as a DER INTEGER) are refused (RFC 5280 §4.1.2.2).
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
    #[error("serial of {0} octets (as a DER INTEGER) exceeds the {MAX_SERIAL_OCTETS}-octet limit of RFC 5280")]
    TooLong(usize),
    #[error("not a hexadecimal serial (expected digits 0-9/A-F, optional 0x prefix and ':' separators)")]
    InvalidHex,
}

/// Octets a DER INTEGER needs for the non-negative value of `magnitude` (minimal, no leading
/// zeros; empty for zero): one more when the top bit is set, for the sign.
#[inline]
fn positive_content_len(magnitude: &[u8]) -> usize {
    match magnitude.first() {
        None => 1,
        Some(&b) => magnitude.len() + (b >> 7) as usize,
    }
}

impl SerialKey {
    /// From big-endian magnitude octets of a non-negative value (leading zeros allowed and
    /// ignored; empty means zero). Fails when the value needs more than 20 content octets.
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
        } else if positive_content_len(m) <= MAX_SERIAL_OCTETS {
            let mut k = [0u8; MAX_SERIAL_OCTETS];
            k[MAX_SERIAL_OCTETS - m.len()..].copy_from_slice(m);
            Ok(SerialKey::Long(k))
        } else {
            Err(SerialError::TooLong(positive_content_len(m)))
        }
    }

    /// From the content octets of a DER INTEGER, exactly (two's complement, big-endian, as
    /// [`crate::der::integer`] returns them: non-empty and minimal). Negative values are kept.
    #[inline]
    pub fn from_integer(content: &[u8]) -> Result<SerialKey, SerialError> {
        let Some(&first) = content.first() else { return Err(SerialError::Empty) };
        if content.len() > MAX_SERIAL_OCTETS {
            return Err(SerialError::TooLong(content.len()));
        }
        if first & 0x80 == 0 {
            return SerialKey::from_be_bytes(content);
        }
        let mut k = [0xFFu8; MAX_SERIAL_OCTETS];
        k[MAX_SERIAL_OCTETS - content.len()..].copy_from_slice(content);
        Ok(SerialKey::Long(k))
    }

    /// The negative serial `-magnitude` (magnitude big-endian, leading zeros allowed); zero
    /// for a zero magnitude. Fails when it needs more than 20 content octets.
    pub fn negative(magnitude: &[u8]) -> Result<SerialKey, SerialError> {
        let first = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        let m = &magnitude[first..];
        if m.is_empty() {
            return Ok(SerialKey::Short(0));
        }
        // -m fits in n octets exactly when m <= 2^(8n-1).
        let power_of_two_top = m[0] == 0x80 && m[1..].iter().all(|&b| b == 0);
        let needed = if m[0] < 0x80 || power_of_two_top { m.len() } else { m.len() + 1 };
        if needed > MAX_SERIAL_OCTETS {
            return Err(SerialError::TooLong(needed));
        }
        let mut k = [0u8; MAX_SERIAL_OCTETS];
        k[MAX_SERIAL_OCTETS - m.len()..].copy_from_slice(m);
        Ok(SerialKey::Long(twos_complement(k)))
    }

    /// From hex text: any case, optional `-` sign, then an optional `0x` prefix, optional `:`
    /// separators, surrounding whitespace ignored, leading zeros allowed. The digits are the
    /// magnitude: `-01` is -1, `FF` is 255.
    pub fn from_hex(text: &[u8]) -> Result<SerialKey, SerialError> {
        let mut s = text.trim_ascii();
        let negative = s.first() == Some(&b'-');
        if negative {
            s = &s[1..];
        }
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
        if negative {
            SerialKey::negative(&bytes)
        } else {
            SerialKey::from_be_bytes(&bytes)
        }
    }

    /// True for a negative serial.
    pub fn is_negative(&self) -> bool {
        matches!(self, SerialKey::Long(k) if k[0] & 0x80 != 0)
    }

    /// Big-endian magnitude octets without leading zeros (zero is `[0]`); the sign is
    /// [`SerialKey::is_negative`].
    pub fn magnitude(&self) -> Vec<u8> {
        match self {
            SerialKey::Short(v) => {
                let b = v.to_be_bytes();
                let first = b.iter().position(|&x| x != 0).unwrap_or(7);
                b[first..].to_vec()
            }
            SerialKey::Long(k) => {
                let m = if self.is_negative() { twos_complement(*k) } else { *k };
                let first = m.iter().position(|&x| x != 0).unwrap_or(MAX_SERIAL_OCTETS - 1);
                m[first..].to_vec()
            }
        }
    }

    /// The DER INTEGER content octets of the serial (minimal two's complement): its identity.
    pub fn to_integer(&self) -> Vec<u8> {
        let k = match self {
            SerialKey::Short(v) => {
                let mut k = [0u8; MAX_SERIAL_OCTETS];
                k[MAX_SERIAL_OCTETS - 8..].copy_from_slice(&v.to_be_bytes());
                k
            }
            SerialKey::Long(k) => *k,
        };
        let pad = if k[0] & 0x80 != 0 { 0xFF } else { 0x00 };
        let mut first = 0;
        while first + 1 < MAX_SERIAL_OCTETS && k[first] == pad && (k[first + 1] & 0x80) == (pad & 0x80) {
            first += 1;
        }
        k[first..].to_vec()
    }

    /// The canonical text form: uppercase hex of the magnitude with an even number of digits,
    /// `-` first when negative (`054CFCD8`, `-01`).
    pub fn to_hex(&self) -> String {
        let hex = crate::names::hex_upper(&self.magnitude());
        if self.is_negative() {
            format!("-{hex}")
        } else {
            hex
        }
    }
}

/// The two's complement of a 160-bit big-endian value (negation modulo 2^160).
fn twos_complement(mut k: [u8; MAX_SERIAL_OCTETS]) -> [u8; MAX_SERIAL_OCTETS] {
    let mut carry = true;
    for b in k.iter_mut().rev() {
        let (v, c) = (!*b).overflowing_add(carry as u8);
        *b = v;
        carry = c;
    }
    k
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
        let twenty = "7".to_string() + &"1".repeat(39);
        let k = SerialKey::from_hex(twenty.as_bytes()).unwrap();
        assert!(matches!(k, SerialKey::Long(_)));
        assert_eq!(k.to_hex(), twenty);
        // 20 octets of magnitude with the top bit set need a 21st (sign) octet in DER.
        let signed = "8".to_string() + &"1".repeat(39);
        assert_eq!(SerialKey::from_hex(signed.as_bytes()), Err(SerialError::TooLong(21)));
        let nine = "010203040506070809";
        let k = SerialKey::from_hex(nine.as_bytes()).unwrap();
        assert_eq!(k.to_hex(), nine);
        assert_eq!(SerialKey::from_be_bytes(&[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap(), SerialKey::Short(0x0102030405060708));
        assert_eq!(SerialKey::from_hex("1".repeat(41).as_bytes()), Err(SerialError::TooLong(21)));
        assert_eq!(SerialKey::from_be_bytes(&[1u8; 21]), Err(SerialError::TooLong(21)));
    }

    #[test]
    fn negative_serials_are_exact_and_distinct() {
        let int = |c: &[u8]| SerialKey::from_integer(c).unwrap();
        // FF is -1 and 00FF is 255: two serials.
        assert_ne!(int(&[0xFF]), int(&[0x00, 0xFF]));
        assert_eq!(int(&[0x00, 0xFF]), SerialKey::Short(255));
        assert_eq!(int(&[0xFF]).to_hex(), "-01");
        assert_eq!(int(&[0x80]).to_hex(), "-80");
        assert_eq!(int(&[0xFF, 0x7F]).to_hex(), "-81");
        assert_eq!(int(&[0x00, 0xFF]).to_hex(), "FF");
        for text in ["-01", "-1", "-0x01", " -00:01 "] {
            assert_eq!(SerialKey::from_hex(text.as_bytes()).unwrap(), int(&[0xFF]), "{text}");
        }
        assert_eq!(SerialKey::from_hex(b"-80").unwrap(), int(&[0x80]));
        assert_eq!(SerialKey::from_hex(b"-81").unwrap(), int(&[0xFF, 0x7F]));
        assert_eq!(SerialKey::from_hex(b"-0").unwrap(), SerialKey::Short(0));
        // Round trips through the content octets.
        for c in [&[0xFF][..], &[0x80], &[0xFF, 0x7F], &[0x80, 0, 0, 0, 0, 0, 0, 0, 0], &[0x00, 0xFF], &[0x01], &[0x00]] {
            assert_eq!(int(c).to_integer(), c, "{c:02X?}");
            assert_eq!(SerialKey::from_hex(int(c).to_hex().as_bytes()).unwrap(), int(c));
        }
        // The most negative 20-octet value, and one past it.
        let min = "-8".to_string() + &"0".repeat(39);
        let k = SerialKey::from_hex(min.as_bytes()).unwrap();
        assert_eq!(k.to_integer().len(), 20);
        assert_eq!(k.to_hex(), min);
        let past = "-8".to_string() + &"0".repeat(38) + "1";
        assert_eq!(SerialKey::from_hex(past.as_bytes()), Err(SerialError::TooLong(21)));
        assert_eq!(SerialKey::from_integer(&[0xFF; 21]), Err(SerialError::TooLong(21)));
        assert_eq!(SerialKey::from_integer(&[]), Err(SerialError::Empty));
        assert!(int(&[0xFF]).is_negative() && !int(&[0x7F]).is_negative());
    }

    #[test]
    fn bad_hex() {
        assert_eq!(SerialKey::from_hex(b""), Err(SerialError::Empty));
        assert_eq!(SerialKey::from_hex(b"0x"), Err(SerialError::Empty));
        assert_eq!(SerialKey::from_hex(b"12G4"), Err(SerialError::InvalidHex));
        assert_eq!(SerialKey::from_hex(b"--12"), Err(SerialError::InvalidHex));
        assert_eq!(SerialKey::from_hex(b"+12"), Err(SerialError::InvalidHex));
        assert_eq!(SerialKey::from_hex(b"-"), Err(SerialError::Empty));
    }
}
