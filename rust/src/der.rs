//! A minimal, strict DER reader: exactly what X.509 CRLs and certificates need.
//!
//! Every function returns an error on malformed input instead of panicking, and reports the
//! byte offset of the problem so callers can name it (ITU-T X.690 §8 and §10 for DER).

use std::fmt;

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

/// A DER decoding failure: what was expected and where (byte offset into the outer input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError {
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DerError {}

pub type Result<T> = std::result::Result<T, DerError>;

fn err<T>(offset: usize, what: impl Into<String>) -> Result<T> {
    Err(DerError { offset, what: what.into() })
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

    pub fn expect(self, tag: u8, what: &str) -> Result<Self> {
        if self.tag != tag {
            return err(self.offset, format!("expected {what} (tag 0x{tag:02X}), found tag 0x{:02X}", self.tag));
        }
        Ok(self)
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
            return err(offset, "unexpected end of data (expected a DER element)");
        };
        if tag & 0x1F == 0x1F {
            return err(offset, format!("multi-byte tag 0x{tag:02X} is not used by X.509"));
        }
        let Some(&first) = data.get(start + 1) else {
            return err(offset, "truncated DER header");
        };
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else if first == 0x80 {
            return err(offset, "indefinite length is not allowed in DER");
        } else {
            let n = (first & 0x7F) as usize;
            if n > 4 {
                return err(offset, format!("length of {n} octets is too large"));
            }
            let Some(bytes) = data.get(start + 2..start + 2 + n) else {
                return err(offset, "truncated DER length");
            };
            let mut len = 0usize;
            for &b in bytes {
                len = (len << 8) | b as usize;
            }
            (len, 2 + n)
        };
        let value_start = start + header;
        let Some(end) = value_start.checked_add(len) else {
            return err(offset, "DER length overflows");
        };
        if end > data.len() {
            return err(
                offset,
                format!(
                    "element of {len} bytes runs past the end of its container ({} bytes left): truncated input",
                    data.len() - value_start.min(data.len())
                ),
            );
        }
        self.pos = end;
        Ok(Tlv { tag, offset, value: &data[value_start..end], raw: &data[start..end] })
    }

    /// Reads the next element and checks its tag.
    #[inline]
    pub fn read_tag(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>> {
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
    pub fn finish(&self, what: &str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            err(self.offset(), format!("unexpected data after {what}"))
        }
    }
}

/// The content octets of an unsigned INTEGER with redundant leading zero octets removed
/// (an empty slice means zero). Fails for negative values.
pub fn unsigned_integer<'a>(tlv: &Tlv<'a>, what: &str) -> Result<&'a [u8]> {
    let v = tlv.value;
    if v.is_empty() {
        return err(tlv.offset, format!("{what}: empty INTEGER"));
    }
    if v[0] & 0x80 != 0 {
        return err(tlv.offset, format!("{what}: negative INTEGER"));
    }
    let mut i = 0;
    while i < v.len() && v[i] == 0 {
        i += 1;
    }
    Ok(&v[i..])
}

/// A small non-negative INTEGER (version fields, reason codes).
pub fn small_integer(tlv: &Tlv<'_>, what: &str) -> Result<u64> {
    let m = unsigned_integer(tlv, what)?;
    if m.len() > 8 {
        return err(tlv.offset, format!("{what}: INTEGER too large"));
    }
    Ok(m.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

/// A DER BOOLEAN.
pub fn boolean(tlv: &Tlv<'_>, what: &str) -> Result<bool> {
    match tlv.value {
        [0x00] => Ok(false),
        [0xFF] => Ok(true),
        _ => err(tlv.offset, format!("{what}: invalid BOOLEAN")),
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
                29
            } else {
                28
            }
        }
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

/// The value of a DER UTCTime (`YYMMDDHHMMSSZ`, exactly 13 bytes) as Unix seconds, or None if
/// it is not a valid time.
#[inline(always)]
pub fn utc_time_value(v: &[u8]) -> Option<i64> {
    if v.len() != 13 {
        return None;
    }
    let yy = digits2(v, 0)?;
    seconds_since_epoch(if yy >= 50 { 1900 + yy as i64 } else { 2000 + yy as i64 }, &v[2..])
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
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + (hour * 3600 + minute * 60 + second) as i64)
}

/// Parses an X.509 `Time` (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`,
/// RFC 5280 §4.1.2.5) into seconds since the Unix epoch.
#[inline]
pub fn time(tlv: &Tlv<'_>, what: &str) -> Result<i64> {
    let v = tlv.value;
    let (year, rest) = match (tlv.tag, v.len()) {
        (tag::UTC_TIME, 13) => {
            let Some(yy) = digits2(v, 0) else { return err(tlv.offset, format!("{what}: invalid UTCTime")) };
            // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, otherwise 20YY.
            (if yy >= 50 { 1900 + yy as i64 } else { 2000 + yy as i64 }, &v[2..])
        }
        (tag::GENERALIZED_TIME, 15) => {
            let (Some(c), Some(y)) = (digits2(v, 0), digits2(v, 2)) else {
                return err(tlv.offset, format!("{what}: invalid GeneralizedTime"));
            };
            ((c * 100 + y) as i64, &v[4..])
        }
        (tag::UTC_TIME, _) | (tag::GENERALIZED_TIME, _) => {
            return err(
                tlv.offset,
                format!("{what}: time must be in the DER form YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ"),
            )
        }
        (t, _) => return err(tlv.offset, format!("{what}: expected UTCTime or GeneralizedTime, found tag 0x{t:02X}")),
    };
    let parsed = seconds_since_epoch(year, rest);
    match parsed {
        Some(t) => Ok(t),
        None => err(tlv.offset, format!("{what}: invalid date/time value")),
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
    let critical = match e.read_optional(tag::BOOLEAN)? {
        Some(b) => boolean(&b, "critical")?,
        None => false,
    };
    let value = e.read_tag(tag::OCTET_STRING, "extnValue")?;
    e.finish("Extension")?;
    Ok(Extension { oid: oid.value, critical, value })
}

/// PEM (RFC 7468) input is refused beyond this many blocks, so a hostile file cannot make the
/// reader allocate without bound.
pub const MAX_PEM_BLOCKS: usize = 10_000;

/// Every `-----BEGIN <label>-----` ... `-----END <label>-----` block of a PEM text, in order, as
/// `(label, decoded bytes)`. Text outside blocks (comments, `openssl x509 -text` output) is
/// ignored, as RFC 7468 §2 allows. Errors name the block: an END line missing or with another
/// label, or invalid base64.
pub fn pem_blocks(contents: &[u8]) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    use base64::Engine;
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut out = Vec::new();
    let mut rest = contents;
    while let Some(start) = find(rest, BEGIN) {
        if out.len() == MAX_PEM_BLOCKS {
            return Err(format!("more than {MAX_PEM_BLOCKS} PEM blocks"));
        }
        let after = &rest[start + BEGIN.len()..];
        let label_end = find(after, DASHES).ok_or_else(|| format!("PEM block #{}: unterminated BEGIN line", out.len()))?;
        let label = &after[..label_end];
        if label.len() > 64 || !label.iter().all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ') {
            return Err(format!("PEM block #{}: invalid label", out.len()));
        }
        let body_start = &after[label_end + DASHES.len()..];
        let mut end_line = b"-----END ".to_vec();
        end_line.extend_from_slice(label);
        end_line.extend_from_slice(DASHES);
        let label_text = String::from_utf8_lossy(label).into_owned();
        let body_len = find(body_start, &end_line)
            .ok_or_else(|| format!("PEM block #{} ({label_text}): no matching END line (truncated file?)", out.len()))?;
        let body: Vec<u8> = body_start[..body_len].iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| format!("PEM block #{} ({label_text}): invalid base64 ({e})", out.len()))?;
        out.push((label_text, decoded));
        rest = &body_start[body_len + end_line.len()..];
    }
    Ok(out)
}

/// True when `contents` looks like PEM text rather than DER (DER starts with a tag byte, never
/// with `-`; leading whitespace is allowed before PEM).
pub fn looks_like_pem(contents: &[u8]) -> bool {
    contents.trim_ascii_start().starts_with(b"-----BEGIN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let data = [0x04, 0x02, 0xAA, 0xBB, 0x04, 0x81, 0x01, 0xCC];
        let mut r = Reader::new(&data);
        let a = r.read().unwrap();
        assert_eq!(a.value, &[0xAA, 0xBB]);
        let b = r.read().unwrap();
        assert_eq!(b.value, &[0xCC]);
        assert_eq!(b.offset, 4);
        assert!(r.is_empty());
    }

    #[test]
    fn refuses_truncated_and_indefinite() {
        assert!(Reader::new(&[0x30, 0x05, 0x01]).read().is_err());
        assert!(Reader::new(&[0x30, 0x80, 0x00, 0x00]).read().is_err());
        assert!(Reader::new(&[0x30]).read().is_err());
        assert!(Reader::new(&[]).read().is_err());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).read().is_err());
    }

    #[test]
    fn parses_times() {
        let utc = b"260101000000Z";
        let mut enc = vec![tag::UTC_TIME, 13];
        enc.extend_from_slice(utc);
        let t = Reader::new(&enc).read().unwrap();
        assert_eq!(time(&t, "t").unwrap(), 1767225600);
        let mut enc = vec![tag::GENERALIZED_TIME, 15];
        enc.extend_from_slice(b"20500301123456Z");
        let t = Reader::new(&enc).read().unwrap();
        assert_eq!(time(&t, "t").unwrap(), 2529750896);
        let mut enc = vec![tag::UTC_TIME, 13];
        enc.extend_from_slice(b"260230000000Z");
        let t = Reader::new(&enc).read().unwrap();
        assert!(time(&t, "t").is_err());
        let mut enc = vec![tag::UTC_TIME, 13];
        enc.extend_from_slice(b"490101000000Z");
        assert_eq!(time(&Reader::new(&enc).read().unwrap(), "t").unwrap(), 2493072000);
        let mut enc = vec![tag::UTC_TIME, 13];
        enc.extend_from_slice(b"500101000000Z");
        assert_eq!(time(&Reader::new(&enc).read().unwrap(), "t").unwrap(), -631152000);
    }

    #[test]
    fn unsigned_integers_strip_leading_zeros() {
        let enc = [0x02, 0x03, 0x00, 0x80, 0x01];
        let t = Reader::new(&enc).read().unwrap();
        assert_eq!(unsigned_integer(&t, "x").unwrap(), &[0x80, 0x01]);
        let enc = [0x02, 0x01, 0x80];
        assert!(unsigned_integer(&Reader::new(&enc).read().unwrap(), "x").is_err());
    }

    #[test]
    fn formats_oids() {
        assert_eq!(oid_to_string(&[0x55, 0x1D, 0x14]), "2.5.29.20");
        assert_eq!(oid_to_string(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]), "1.2.840.113549.1.1.11");
    }

    #[test]
    fn pem_blocks_in_order_with_labels() {
        let text = b"junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\nmore\n-----BEGIN PUBLIC KEY-----\nBAU=\n-----END PUBLIC KEY-----\n";
        let blocks = pem_blocks(text).unwrap();
        assert_eq!(blocks, vec![("CERTIFICATE".to_string(), vec![1, 2, 3]), ("PUBLIC KEY".to_string(), vec![4, 5])]);
        assert!(pem_blocks(b"-----BEGIN CERTIFICATE-----\nAQID\n").unwrap_err().contains("no matching END"));
        assert!(pem_blocks(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----").unwrap_err().contains("base64"));
        assert!(pem_blocks(b"no pem here").unwrap().is_empty());
        assert!(looks_like_pem(b"  \n-----BEGIN X"));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }

    #[test]
    fn reads_extensions() {
        // SEQUENCE { OID 2.5.29.15, BOOLEAN TRUE, OCTET STRING { 03 02 07 80 } }
        let enc = [0x30, 0x0E, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x01, 0x01, 0xFF, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80];
        let ext = read_extension(&mut Reader::new(&enc)).unwrap();
        assert_eq!(ext.oid, &[0x55, 0x1D, 0x0F]);
        assert!(ext.critical);
        assert_eq!(ext.value.value, &[0x03, 0x02, 0x07, 0x80]);
    }
}
