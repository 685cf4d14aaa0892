//! DER (ITU-T X.690 §8 and §10), exactly as much as X.509 CRLs, certificates and OCSP need:
//! a strict reader here, and a writer in [`writer`].
//!
//! Reading never panics on malformed input: every function returns a [`DerError`] naming what
//! was expected and the byte offset of the problem, so callers can report it.
//!
//! Strict DER only (README "Input policies", docs/DESIGN.md §6.4): lengths in their shortest
//! form (X.690 §10.1: `81 01` is refused, as rustls-webpki refuses it), no indefinite lengths,
//! single-byte tags, INTEGERs in their minimal two's-complement form (X.690 §8.3.2: a
//! redundant leading `00` or `FF` octet is refused, never silently stripped), and no component
//! encoded with its DEFAULT value (X.690 §11.5: a `BOOLEAN DEFAULT FALSE` is either absent or
//! TRUE; an explicit `01 01 00` is refused, see [`default_false`]).

pub mod writer;

pub use writer::Writer;

/// Universal tags used by X.509 (X.690 §8.1.2).
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0A;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const UNIVERSAL_STRING: u8 = 0x1C;
    pub const BMP_STRING: u8 = 0x1E;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// `[n]` context-specific, constructed.
    pub const fn context_constructed(n: u8) -> u8 {
        0xA0 | n
    }
    /// `[n]` context-specific, primitive.
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// A DER decoding failure: what is wrong, and where (byte offset into the outermost input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct DerError {
    pub offset: usize,
    pub kind: DerErrorKind,
}

/// What is wrong with a DER input. `&'static str` fields name the element that was being read
/// (`"tbsCertList"`, `"serialNumber"`), never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerErrorKind {
    #[error("unexpected end of data (expected a DER element)")]
    UnexpectedEnd,
    #[error("multi-byte tag 0x{0:02X} is not used by X.509")]
    MultiByteTag(u8),
    #[error("truncated DER header")]
    TruncatedHeader,
    #[error("indefinite length is not allowed in DER")]
    IndefiniteLength,
    #[error("length of {0} octets is too large")]
    LengthTooLong(usize),
    #[error("truncated DER length")]
    TruncatedLength,
    #[error("length {0} is not in its shortest form (DER requires minimal length octets)")]
    NonCanonicalLength(usize),
    #[error("DER length overflows")]
    LengthOverflow,
    #[error("element of {len} bytes runs past the end of its container ({left} bytes left): truncated input")]
    Truncated { len: usize, left: usize },
    #[error("expected {what} (tag 0x{expected:02X}), found tag 0x{found:02X}")]
    UnexpectedTag { what: &'static str, expected: u8, found: u8 },
    #[error("unexpected data after {0}")]
    TrailingData(&'static str),
    #[error("{0}: empty INTEGER")]
    EmptyInteger(&'static str),
    #[error("{0}: negative INTEGER")]
    NegativeInteger(&'static str),
    #[error("{0}: INTEGER not in its minimal encoding (a redundant leading 00 or FF octet)")]
    NonMinimalInteger(&'static str),
    #[error("{0}: INTEGER too large")]
    IntegerTooLarge(&'static str),
    #[error("{0}: invalid BOOLEAN")]
    InvalidBoolean(&'static str),
    #[error("{0}: BOOLEAN FALSE encoded explicitly (DER omits a component equal to its DEFAULT FALSE)")]
    EncodedDefault(&'static str),
    #[error("{0}: invalid UTCTime")]
    InvalidUtcTime(&'static str),
    #[error("{0}: invalid GeneralizedTime")]
    InvalidGeneralizedTime(&'static str),
    #[error("{0}: time must be in the DER form YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ")]
    TimeNotDer(&'static str),
    #[error("{what}: expected UTCTime or GeneralizedTime, found tag 0x{found:02X}")]
    NotATime { what: &'static str, found: u8 },
    #[error("{0}: invalid date/time value")]
    InvalidDateTime(&'static str),
    #[error("invalid {0} in a name")]
    InvalidString(&'static str),
    #[error("{0} BIT STRING has unused bits or is empty")]
    BitStringNotOctets(&'static str),
}

pub type Result<T> = std::result::Result<T, DerError>;

fn err<T>(offset: usize, kind: DerErrorKind) -> Result<T> {
    Err(DerError { offset, kind })
}

/// One tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// Offset of the first header byte, relative to the start of the reader's base input.
    pub offset: usize,
    /// The value (contents) octets.
    pub value: &'a [u8],
    /// Header and value together: the exact encoded bytes (what a signature covers).
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Offset of the first value byte relative to the reader's base input.
    pub fn value_offset(&self) -> usize {
        self.offset + (self.raw.len() - self.value.len())
    }

    /// A reader over this element's contents (for constructed types).
    pub fn reader(&self) -> Reader<'a> {
        Reader::with_base(self.value, self.value_offset())
    }

    /// This element, if its tag is `tag`; `what` names it in the error.
    pub fn expect(self, tag: u8, what: &'static str) -> Result<Self> {
        if self.tag != tag {
            return err(self.offset, DerErrorKind::UnexpectedTag { what, expected: tag, found: self.tag });
        }
        Ok(self)
    }

    /// The contents of a BIT STRING that holds whole octets (no unused bits), as signatures
    /// and public keys do.
    pub fn octet_bits(&self, what: &'static str) -> Result<&'a [u8]> {
        let t = self.expect(tag::BIT_STRING, what)?;
        match t.value.split_first() {
            Some((0, rest)) => Ok(rest),
            _ => err(t.offset, DerErrorKind::BitStringNotOctets(what)),
        }
    }
}

/// A cursor over DER input. `base` is the offset of `data[0]` in the outermost input, so errors
/// from nested readers still report absolute offsets.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0, base: 0 }
    }

    pub fn with_base(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The tag of the next element, if any, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next element.
    #[inline]
    pub fn read(&mut self) -> Result<Tlv<'a>> {
        let start = self.pos;
        let data = self.data;
        let offset = self.base + start;
        let Some(&tag) = data.get(start) else {
            return err(offset, DerErrorKind::UnexpectedEnd);
        };
        if tag & 0x1F == 0x1F {
            return err(offset, DerErrorKind::MultiByteTag(tag));
        }
        let Some(&first) = data.get(start + 1) else {
            return err(offset, DerErrorKind::TruncatedHeader);
        };
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else if first == 0x80 {
            return err(offset, DerErrorKind::IndefiniteLength);
        } else {
            let n = (first & 0x7F) as usize;
            if n > 4 {
                return err(offset, DerErrorKind::LengthTooLong(n));
            }
            let Some(bytes) = data.get(start + 2..start + 2 + n) else {
                return err(offset, DerErrorKind::TruncatedLength);
            };
            let mut len = 0usize;
            for &b in bytes {
                len = (len << 8) | b as usize;
            }
            // X.690 §10.1: the long form only for lengths of 128 and more, without leading zeros.
            if len < 0x80 || bytes[0] == 0 {
                return err(offset, DerErrorKind::NonCanonicalLength(len));
            }
            (len, 2 + n)
        };
        let value_start = start + header;
        let Some(end) = value_start.checked_add(len) else {
            return err(offset, DerErrorKind::LengthOverflow);
        };
        if end > data.len() {
            return err(offset, DerErrorKind::Truncated { len, left: data.len() - value_start.min(data.len()) });
        }
        self.pos = end;
        Ok(Tlv { tag, offset, value: &data[value_start..end], raw: &data[start..end] })
    }

    /// Reads the next element and checks its tag.
    #[inline]
    pub fn read_tag(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>> {
        self.read()?.expect(tag, what)
    }

    /// Reads the next element only if it has `tag`.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless everything was consumed.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            err(self.offset(), DerErrorKind::TrailingData(what))
        }
    }
}

/// The content octets of a DER INTEGER (or ENUMERATED), exactly as encoded: two's complement,
/// big-endian, checked to be non-empty and minimal (X.690 §8.3.2: the first nine bits are never
/// all zeros or all ones). Negative values have the top bit of the first octet set.
#[inline]
pub fn integer<'a>(tlv: &Tlv<'a>, what: &'static str) -> Result<&'a [u8]> {
    let v = tlv.value;
    match v {
        [] => err(tlv.offset, DerErrorKind::EmptyInteger(what)),
        [0x00, next, ..] if next & 0x80 == 0 => err(tlv.offset, DerErrorKind::NonMinimalInteger(what)),
        [0xFF, next, ..] if next & 0x80 != 0 => err(tlv.offset, DerErrorKind::NonMinimalInteger(what)),
        _ => Ok(v),
    }
}

/// The magnitude of a non-negative DER INTEGER: its content octets without the sign octet
/// (an empty slice means zero). Fails for negative, empty and non-minimal encodings.
pub fn unsigned_integer<'a>(tlv: &Tlv<'a>, what: &'static str) -> Result<&'a [u8]> {
    let v = integer(tlv, what)?;
    if v[0] & 0x80 != 0 {
        return err(tlv.offset, DerErrorKind::NegativeInteger(what));
    }
    Ok(if v[0] == 0 { &v[1..] } else { v })
}

/// A small non-negative INTEGER or ENUMERATED (version fields, reason codes).
pub fn small_integer(tlv: &Tlv<'_>, what: &'static str) -> Result<u64> {
    let m = unsigned_integer(tlv, what)?;
    if m.len() > 8 {
        return err(tlv.offset, DerErrorKind::IntegerTooLarge(what));
    }
    Ok(m.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

/// A DER BOOLEAN.
pub fn boolean(tlv: &Tlv<'_>, what: &'static str) -> Result<bool> {
    match tlv.value {
        [0x00] => Ok(false),
        [0xFF] => Ok(true),
        _ => err(tlv.offset, DerErrorKind::InvalidBoolean(what)),
    }
}

/// A `BOOLEAN DEFAULT FALSE` component (an extension's `critical`, basicConstraints' `cA`, the
/// flags of an issuingDistributionPoint), read with `read_optional` under its tag: absent is
/// FALSE, present must be TRUE. DER forbids encoding a component equal to its default (X.690
/// §11.5), so an explicit FALSE is refused as pyca/cryptography refuses it (`EncodedDefault`),
/// where rustls-webpki, mozilla::pkix and OpenSSL tolerate it (README "Input policies").
pub fn default_false(present: Option<Tlv<'_>>, what: &'static str) -> Result<bool> {
    match present {
        None => Ok(false),
        Some(tlv) => match boolean(&tlv, what)? {
            true => Ok(true),
            false => err(tlv.offset, DerErrorKind::EncodedDefault(what)),
        },
    }
}

#[inline]
fn digits2(b: &[u8], i: usize) -> Option<u32> {
    let hi = b[i].wrapping_sub(b'0');
    let lo = b[i + 1].wrapping_sub(b'0');
    if hi < 10 && lo < 10 {
        Some(hi as u32 * 10 + lo as u32)
    } else {
        None
    }
}

/// RFC 5280 §4.1.2.5.1: a UTCTime year `YY` >= 50 is 19YY, otherwise 20YY.
#[inline(always)]
fn utc_year(yy: u32) -> i64 {
    if yy >= 50 {
        1900 + yy as i64
    } else {
        2000 + yy as i64
    }
}

/// The value of a DER UTCTime (`YYMMDDHHMMSSZ`, exactly 13 bytes) as Unix seconds, or None if
/// it is not a valid time.
#[inline(always)]
pub fn utc_time_value(v: &[u8]) -> Option<i64> {
    if v.len() != 13 {
        return None;
    }
    seconds_since_epoch(utc_year(digits2(v, 0)?), &v[2..])
}

/// Seconds since 1970 of `year` and the rest of a DER time, `MMDDHHMMSSZ` (11 bytes), or None
/// if it is not a valid date and time.
#[inline(always)]
fn seconds_since_epoch(year: i64, rest: &[u8]) -> Option<i64> {
    if rest.len() != 11 || rest[10] != b'Z' {
        return None;
    }
    let month = digits2(rest, 0)?;
    let day = digits2(rest, 2)?;
    let hour = digits2(rest, 4)?;
    let minute = digits2(rest, 6)?;
    let second = digits2(rest, 8)?;
    crate::time::Civil { year, month, day, hour, minute, second }.to_seconds()
}

/// Parses an X.509 `Time` (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`,
/// RFC 5280 §4.1.2.5) into seconds since the Unix epoch.
#[inline]
pub fn time(tlv: &Tlv<'_>, what: &'static str) -> Result<i64> {
    let v = tlv.value;
    let (year, rest) = match (tlv.tag, v.len()) {
        (tag::UTC_TIME, 13) => {
            let Some(yy) = digits2(v, 0) else { return err(tlv.offset, DerErrorKind::InvalidUtcTime(what)) };
            (utc_year(yy), &v[2..])
        }
        (tag::GENERALIZED_TIME, 15) => {
            let (Some(c), Some(y)) = (digits2(v, 0), digits2(v, 2)) else {
                return err(tlv.offset, DerErrorKind::InvalidGeneralizedTime(what));
            };
            ((c * 100 + y) as i64, &v[4..])
        }
        (tag::UTC_TIME, _) | (tag::GENERALIZED_TIME, _) => return err(tlv.offset, DerErrorKind::TimeNotDer(what)),
        (found, _) => return err(tlv.offset, DerErrorKind::NotATime { what, found }),
    };
    match seconds_since_epoch(year, rest) {
        Some(t) => Ok(t),
        None => err(tlv.offset, DerErrorKind::InvalidDateTime(what)),
    }
}

/// Dotted-decimal form of an OBJECT IDENTIFIER's content octets (`2.5.29.20`).
pub fn oid_to_string(value: &[u8]) -> String {
    let mut parts: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    for &b in value {
        acc = (acc << 7) | (b & 0x7F) as u128;
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (first, second) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(first);
                parts.push(second);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".")
}

/// One X.509 `Extension` (RFC 5280 §4.1): its id, criticality and the contents of extnValue.
#[derive(Debug, Clone, Copy)]
pub struct Extension<'a> {
    pub oid: &'a [u8],
    pub critical: bool,
    /// The extnValue OCTET STRING; its contents are the extension's DER value.
    pub value: Tlv<'a>,
}

/// Reads one `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`.
pub fn read_extension<'a>(r: &mut Reader<'a>) -> Result<Extension<'a>> {
    let ext = r.read_tag(tag::SEQUENCE, "Extension")?;
    let mut e = ext.reader();
    let oid = e.read_tag(tag::OID, "extnID")?;
    let critical = default_false(e.read_optional(tag::BOOLEAN)?, "critical")?;
    let value = e.read_tag(tag::OCTET_STRING, "extnValue")?;
    e.finish("Extension")?;
    Ok(Extension { oid: oid.value, critical, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut data = vec![0x04, 0x02, 0xAA, 0xBB, 0x04, 0x81, 0x80];
        data.extend_from_slice(&[0xCC; 0x80]);
        let mut r = Reader::new(&data);
        let a = r.read().unwrap();
        assert_eq!(a.value, &[0xAA, 0xBB]);
        let b = r.read().unwrap();
        assert_eq!(b.value, &[0xCC; 0x80]);
        assert_eq!(b.offset, 4);
        assert!(r.is_empty());
    }

    #[test]
    fn refuses_non_canonical_lengths() {
        let kind = |data: &[u8]| Reader::new(data).read().unwrap_err().kind;
        // The long form for a length under 128, and long forms with a leading zero octet.
        assert_eq!(kind(&[0x04, 0x81, 0x01, 0xCC]), DerErrorKind::NonCanonicalLength(1));
        assert_eq!(kind(&[0x04, 0x81, 0x7F]), DerErrorKind::NonCanonicalLength(0x7F));
        assert_eq!(kind(&[0x04, 0x82, 0x00, 0x80]), DerErrorKind::NonCanonicalLength(0x80));
        assert_eq!(kind(&[0x04, 0x83, 0x00, 0x01, 0x00]), DerErrorKind::NonCanonicalLength(0x100));
        let mut two = vec![0x04, 0x82, 0x01, 0x00];
        two.extend_from_slice(&[0u8; 0x100]);
        assert_eq!(Reader::new(&two).read().unwrap().value.len(), 0x100);
    }

    #[test]
    fn refuses_truncated_and_indefinite() {
        let kind = |data: &[u8]| Reader::new(data).read().unwrap_err().kind;
        assert_eq!(kind(&[0x30, 0x05, 0x01]), DerErrorKind::Truncated { len: 5, left: 1 });
        assert_eq!(kind(&[0x30, 0x80, 0x00, 0x00]), DerErrorKind::IndefiniteLength);
        assert_eq!(kind(&[0x30]), DerErrorKind::TruncatedHeader);
        assert_eq!(kind(&[]), DerErrorKind::UnexpectedEnd);
        assert_eq!(kind(&[0x30, 0x85, 1, 1, 1, 1, 1]), DerErrorKind::LengthTooLong(5));
        assert_eq!(kind(&[0x1F, 0x01, 0x00]), DerErrorKind::MultiByteTag(0x1F));
        let e = Reader::new(&[0x04, 0x00]).read_tag(tag::SEQUENCE, "Name").unwrap_err();
        assert_eq!(e.to_string(), "expected Name (tag 0x30), found tag 0x04 at byte 0");
    }

    #[test]
    fn parses_times() {
        let read = |t: u8, text: &[u8]| {
            let mut enc = vec![t, text.len() as u8];
            enc.extend_from_slice(text);
            time(&Reader::new(&enc).read().unwrap(), "t")
        };
        assert_eq!(read(tag::UTC_TIME, b"260101000000Z").unwrap(), 1767225600);
        assert_eq!(read(tag::GENERALIZED_TIME, b"20500301123456Z").unwrap(), 2529750896);
        assert_eq!(read(tag::UTC_TIME, b"260230000000Z").unwrap_err().kind, DerErrorKind::InvalidDateTime("t"));
        assert_eq!(read(tag::UTC_TIME, b"490101000000Z").unwrap(), 2493072000);
        assert_eq!(read(tag::UTC_TIME, b"500101000000Z").unwrap(), -631152000);
        assert_eq!(read(tag::UTC_TIME, b"2601010000Z").unwrap_err().kind, DerErrorKind::TimeNotDer("t"));
        assert_eq!(read(tag::INTEGER, b"1").unwrap_err().kind, DerErrorKind::NotATime { what: "t", found: tag::INTEGER });
    }

    #[test]
    fn unsigned_integers_drop_only_the_sign_octet() {
        fn int(enc: &[u8]) -> Result<&[u8]> {
            unsigned_integer(&Reader::new(enc).read().unwrap(), "x")
        }
        assert_eq!(int(&[0x02, 0x03, 0x00, 0x80, 0x01]).unwrap(), &[0x80, 0x01]);
        assert_eq!(int(&[0x02, 0x01, 0x00]).unwrap(), &[] as &[u8]);
        assert_eq!(int(&[0x02, 0x01, 0x7F]).unwrap(), &[0x7F]);
        assert_eq!(int(&[0x02, 0x01, 0x80]).unwrap_err().kind, DerErrorKind::NegativeInteger("x"));
        assert_eq!(int(&[0x02, 0x00]).unwrap_err().kind, DerErrorKind::EmptyInteger("x"));
    }

    #[test]
    fn integers_must_be_minimal_and_are_kept_exact() {
        fn int(enc: &[u8]) -> Result<&[u8]> {
            integer(&Reader::new(enc).read().unwrap(), "x")
        }
        // Redundant padding is refused, never stripped.
        assert_eq!(int(&[0x02, 0x02, 0x00, 0x01]).unwrap_err().kind, DerErrorKind::NonMinimalInteger("x"));
        assert_eq!(int(&[0x02, 0x02, 0x00, 0x00]).unwrap_err().kind, DerErrorKind::NonMinimalInteger("x"));
        assert_eq!(int(&[0x02, 0x02, 0xFF, 0x80]).unwrap_err().kind, DerErrorKind::NonMinimalInteger("x"));
        assert_eq!(int(&[0x02, 0x03, 0x00, 0x00, 0xFF]).unwrap_err().kind, DerErrorKind::NonMinimalInteger("x"));
        assert_eq!(
            unsigned_integer(&Reader::new(&[0x02, 0x02, 0x00, 0x01]).read().unwrap(), "x").unwrap_err().kind,
            DerErrorKind::NonMinimalInteger("x")
        );
        // Minimal forms, negative ones included, are the content octets as encoded.
        assert_eq!(int(&[0x02, 0x01, 0xFF]).unwrap(), &[0xFF]); // -1
        assert_eq!(int(&[0x02, 0x02, 0x00, 0xFF]).unwrap(), &[0x00, 0xFF]); // 255
        assert_eq!(int(&[0x02, 0x02, 0xFF, 0x7F]).unwrap(), &[0xFF, 0x7F]); // -129
        assert_eq!(int(&[0x02, 0x01, 0x00]).unwrap(), &[0x00]);
    }

    #[test]
    fn formats_oids() {
        assert_eq!(oid_to_string(&[0x55, 0x1D, 0x14]), "2.5.29.20");
        assert_eq!(oid_to_string(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]), "1.2.840.113549.1.1.11");
    }

    #[test]
    fn reads_extensions() {
        // SEQUENCE { OID 2.5.29.15, BOOLEAN TRUE, OCTET STRING { 03 02 07 80 } }
        let enc = [0x30, 0x0E, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x01, 0x01, 0xFF, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80];
        let ext = read_extension(&mut Reader::new(&enc)).unwrap();
        assert_eq!(ext.oid, &[0x55, 0x1D, 0x0F]);
        assert!(ext.critical);
        assert_eq!(ext.value.value, &[0x03, 0x02, 0x07, 0x80]);
        // Without the BOOLEAN: not critical (the DEFAULT).
        let enc = [0x30, 0x0B, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80];
        assert!(!read_extension(&mut Reader::new(&enc)).unwrap().critical);
    }

    #[test]
    fn refuses_an_explicit_default_false() {
        // SEQUENCE { OID 2.5.29.15, BOOLEAN FALSE, OCTET STRING { 03 02 07 80 } }: X.690 §11.5.
        let enc = [0x30, 0x0E, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x01, 0x01, 0x00, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80];
        let e = read_extension(&mut Reader::new(&enc)).unwrap_err();
        assert!(e.to_string().contains("critical: BOOLEAN FALSE encoded explicitly"), "{e}");
        assert_eq!((e.offset, e.kind), (7, DerErrorKind::EncodedDefault("critical")));
        // Any other content octet is not a BOOLEAN at all.
        let enc = [0x30, 0x0E, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x01, 0x01, 0x01, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80];
        assert_eq!(read_extension(&mut Reader::new(&enc)).unwrap_err().kind, DerErrorKind::InvalidBoolean("critical"));
        let (yes, no) = ([0x01, 0x01, 0xFF], [0x01, 0x01, 0x00]);
        assert_eq!(default_false(None, "x"), Ok(false));
        assert_eq!(default_false(Reader::new(&yes).read().ok(), "x"), Ok(true));
        assert_eq!(default_false(Reader::new(&no).read().ok(), "x").unwrap_err().kind, DerErrorKind::EncodedDefault("x"));
    }
}
