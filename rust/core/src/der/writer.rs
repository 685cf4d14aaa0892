//! A DER writer (X.690 §10): definite, minimal lengths; INTEGERs in their shortest two's
//! complement form; BOOLEAN TRUE as 0xFF; times to the second with `Z`.
//!
//! [`Writer`] appends elements to one buffer. Constructed elements take a closure that writes
//! their contents, and their length is filled in afterwards, so nesting reads like the ASN.1
//! it encodes; each returns the byte range of the element it wrote (what a signature over
//! `tbsCertList` or `tbsResponseData` covers). The range holds until an enclosing element is
//! closed (closing one may move what it contains), so sign inside the enclosing closure, right
//! after the signed element. Where a caller knows a content length up front
//! (a CRL's millions of entries), [`Writer::header`] writes the header alone, so nothing is
//! moved afterwards.
//!
//! Calls never fail on the spot: the first value that cannot be encoded (a time outside the
//! years GeneralizedTime can express, a malformed OID) is remembered and returned by
//! [`Writer::finish`], so a whole structure is written without a `?` per element.
//!
//! ```
//! use jpki_fast_core::der::{tag, Reader, Writer};
//!
//! let mut w = Writer::new();
//! // Extension ::= SEQUENCE { extnID, critical BOOLEAN, extnValue OCTET STRING }
//! let ext = w.sequence(|w| {
//!     w.oid(&[0x55, 0x1D, 0x14]); // cRLNumber
//!     w.boolean(true);
//!     w.octet_string_with(|w| w.integer_u64(0x1234));
//! });
//! let der = w.finish().unwrap();
//! assert_eq!(ext, 0..der.len());
//! let e = jpki_fast_core::der::read_extension(&mut Reader::new(&der)).unwrap();
//! assert!(e.critical);
//! assert_eq!(e.value.value, [tag::INTEGER, 2, 0x12, 0x34]);
//! ```

use std::ops::Range;

use super::tag;
use crate::time::{Civil, MAX_GENERALIZED_TIME, MIN_GENERALIZED_TIME, UTC_TIME_END, UTC_TIME_START};

/// A value [`Writer`] could not encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("time {0} (seconds since 1970) is outside years 0000..9999")]
    TimeOutOfRange(i64),
    #[error("time {0} (seconds since 1970) is outside the years 1950..2049 UTCTime can express")]
    UtcTimeOutOfRange(i64),
    #[error("OBJECT IDENTIFIER arcs {0:?} are not valid (X.660: first arc 0..2, second below 40 unless the first is 2)")]
    InvalidOid(Vec<u64>),
    #[error("BIT STRING with {0} unused bits (0..7 allowed, 0 when empty)")]
    InvalidUnusedBits(u8),
}

/// Octets of the length field for a `len`-byte value (X.690 §8.1.3: short form below 128,
/// else the minimal long form).
#[inline]
pub fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

/// Size of a whole element (one-octet tag) whose contents are `len` bytes.
#[inline]
pub fn encoded_len(len: usize) -> usize {
    1 + length_octets(len) + len
}

/// Content octets of the INTEGER whose value is the unsigned big-endian `magnitude`.
#[inline]
pub fn unsigned_integer_len(magnitude: &[u8]) -> usize {
    let m = strip_zeros(magnitude);
    m.len() + usize::from(!matches!(m.first(), Some(&b) if b & 0x80 == 0))
}

/// Size of a whole UTCTime or GeneralizedTime element for `secs`, as [`Writer::time`] chooses.
#[inline]
pub fn time_len(secs: i64) -> usize {
    if (UTC_TIME_START..UTC_TIME_END).contains(&secs) {
        15
    } else {
        17
    }
}

#[inline]
fn strip_zeros(b: &[u8]) -> &[u8] {
    &b[b.iter().position(|&x| x != 0).unwrap_or(b.len())..]
}

/// Appends DER elements to a buffer. See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    error: Option<WriteError>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn with_capacity(bytes: usize) -> Writer {
        Writer { buf: Vec::with_capacity(bytes), error: None }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Everything written so far (for signing a range returned by a constructed element).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The encoding, or the first value that could not be encoded.
    pub fn finish(self) -> Result<Vec<u8>, WriteError> {
        match self.error {
            None => Ok(self.buf),
            Some(e) => Err(e),
        }
    }

    fn fail(&mut self, e: WriteError) {
        self.error.get_or_insert(e);
    }

    /// A tag and the length of contents the caller writes next, `len` bytes exactly.
    #[inline]
    pub fn header(&mut self, tag: u8, len: usize) {
        self.buf.push(tag);
        if len < 0x80 {
            self.buf.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
            self.buf.push(0x80 | (bytes.len() - first) as u8);
            self.buf.extend_from_slice(&bytes[first..]);
        }
    }

    /// Bytes that are already DER (a `Name` taken from a certificate), appended as they are.
    #[inline]
    pub fn raw(&mut self, der: &[u8]) {
        self.buf.extend_from_slice(der);
    }

    /// A primitive element with these content octets.
    #[inline]
    pub fn element(&mut self, tag: u8, contents: &[u8]) {
        self.header(tag, contents.len());
        self.buf.extend_from_slice(contents);
    }

    /// An element whose contents `f` writes; returns the range of the whole element (valid until
    /// an enclosing element is closed).
    pub fn constructed(&mut self, tag: u8, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[tag, 0]);
        let contents = self.buf.len();
        f(self);
        let len = self.buf.len() - contents;
        if len < 0x80 {
            self.buf[contents - 1] = len as u8;
        } else {
            let extra = length_octets(len) - 1;
            let bytes = len.to_be_bytes();
            self.buf[contents - 1] = 0x80 | extra as u8;
            self.buf.splice(contents..contents, bytes[bytes.len() - extra..].iter().copied());
        }
        start..self.buf.len()
    }

    /// `SEQUENCE { ... }`.
    pub fn sequence(&mut self, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        self.constructed(tag::SEQUENCE, f)
    }

    /// `SET { ... }` (the caller writes the members in DER order).
    pub fn set(&mut self, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        self.constructed(tag::SET, f)
    }

    /// `[n] EXPLICIT ...` (context-specific, constructed).
    pub fn explicit(&mut self, n: u8, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        self.constructed(tag::context_constructed(n), f)
    }

    /// `[n] IMPLICIT` of a primitive type: the content octets under a context tag.
    pub fn implicit(&mut self, n: u8, contents: &[u8]) {
        self.element(tag::context_primitive(n), contents)
    }

    /// An OCTET STRING holding DER that `f` writes (an extension's `extnValue`).
    pub fn octet_string_with(&mut self, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        self.constructed(tag::OCTET_STRING, f)
    }

    pub fn octet_string(&mut self, bytes: &[u8]) {
        self.element(tag::OCTET_STRING, bytes)
    }

    pub fn boolean(&mut self, value: bool) {
        self.element(tag::BOOLEAN, &[if value { 0xFF } else { 0x00 }])
    }

    pub fn null(&mut self) {
        self.element(tag::NULL, &[])
    }

    /// INTEGER of an unsigned big-endian magnitude (leading zeros dropped; a 0x00 octet put in
    /// front when the high bit is set, so the value does not read as negative; zero is `02 01 00`).
    #[inline]
    pub fn integer(&mut self, magnitude: &[u8]) {
        self.unsigned(tag::INTEGER, magnitude)
    }

    #[inline]
    pub fn integer_u64(&mut self, v: u64) {
        self.integer(&v.to_be_bytes())
    }

    /// INTEGER of a signed value, in its shortest two's complement form.
    pub fn integer_i64(&mut self, v: i64) {
        let b = v.to_be_bytes();
        // Drop a leading octet while it only repeats the sign of the next one.
        let mut first = 0;
        while first < 7 && ((b[first] == 0 && b[first + 1] & 0x80 == 0) || (b[first] == 0xFF && b[first + 1] & 0x80 != 0)) {
            first += 1;
        }
        self.element(tag::INTEGER, &b[first..])
    }

    /// ENUMERATED (reason codes, OCSP response status).
    pub fn enumerated(&mut self, v: u64) {
        self.unsigned(tag::ENUMERATED, &v.to_be_bytes())
    }

    #[inline]
    fn unsigned(&mut self, tag: u8, magnitude: &[u8]) {
        let m = strip_zeros(magnitude);
        let pad = !matches!(m.first(), Some(&b) if b & 0x80 == 0);
        self.header(tag, m.len() + usize::from(pad));
        if pad {
            self.buf.push(0);
        }
        self.buf.extend_from_slice(m);
    }

    /// OBJECT IDENTIFIER from its content octets (`&[0x55, 0x1D, 0x14]` for 2.5.29.20).
    pub fn oid(&mut self, contents: &[u8]) {
        self.element(tag::OID, contents)
    }

    /// OBJECT IDENTIFIER from its arcs (`&[2, 5, 29, 20]`).
    pub fn oid_arcs(&mut self, arcs: &[u64]) {
        let valid = arcs.len() >= 2 && arcs[0] <= 2 && (arcs[0] == 2 || arcs[1] < 40) && arcs[1] <= u64::MAX - 80;
        if !valid {
            return self.fail(WriteError::InvalidOid(arcs.to_vec()));
        }
        let mut contents = Vec::with_capacity(arcs.len() + 4);
        let mut push_arc = |v: u64| {
            let groups = (64 - v.leading_zeros()).div_ceil(7).max(1);
            for g in (0..groups).rev() {
                let bits = ((v >> (7 * g)) & 0x7F) as u8;
                contents.push(if g == 0 { bits } else { bits | 0x80 });
            }
        };
        push_arc(arcs[0] * 40 + arcs[1]);
        arcs[2..].iter().for_each(|&a| push_arc(a));
        self.oid(&contents)
    }

    /// BIT STRING of `bytes` whose last `unused_bits` bits are padding (and zeroed, as DER wants).
    pub fn bit_string(&mut self, unused_bits: u8, bytes: &[u8]) {
        if unused_bits > 7 || (bytes.is_empty() && unused_bits != 0) {
            return self.fail(WriteError::InvalidUnusedBits(unused_bits));
        }
        self.header(tag::BIT_STRING, 1 + bytes.len());
        self.buf.push(unused_bits);
        self.buf.extend_from_slice(bytes);
        if let Some(last) = self.buf.last_mut().filter(|_| !bytes.is_empty()) {
            *last &= 0xFFu8 << unused_bits;
        }
    }

    /// A BIT STRING holding DER that `f` writes, with no unused bits (a SubjectPublicKeyInfo's
    /// key, a signature).
    pub fn bit_string_with(&mut self, f: impl FnOnce(&mut Writer)) -> Range<usize> {
        self.constructed(tag::BIT_STRING, |w| {
            w.buf.push(0);
            f(w)
        })
    }

    /// UTCTime `YYMMDDHHMMSSZ`; `secs` must lie in 1950..2049.
    pub fn utc_time(&mut self, secs: i64) {
        if !(UTC_TIME_START..UTC_TIME_END).contains(&secs) {
            return self.fail(WriteError::UtcTimeOutOfRange(secs));
        }
        self.time_element(tag::UTC_TIME, secs)
    }

    /// GeneralizedTime `YYYYMMDDHHMMSSZ`; `secs` must lie in years 0000..9999.
    pub fn generalized_time(&mut self, secs: i64) {
        if !(MIN_GENERALIZED_TIME..=MAX_GENERALIZED_TIME).contains(&secs) {
            return self.fail(WriteError::TimeOutOfRange(secs));
        }
        self.time_element(tag::GENERALIZED_TIME, secs)
    }

    /// An X.509 `Time` (RFC 5280 §4.1.2.5, §5.1.2.4): UTCTime for 1950..2049, GeneralizedTime
    /// before and after.
    #[inline]
    pub fn time(&mut self, secs: i64) {
        if (UTC_TIME_START..UTC_TIME_END).contains(&secs) {
            self.time_element(tag::UTC_TIME, secs)
        } else {
            self.generalized_time(secs)
        }
    }

    #[inline]
    fn time_element(&mut self, tag: u8, secs: i64) {
        let c = Civil::from_seconds(secs);
        let year = c.year as u32;
        let generalized = tag == tag::GENERALIZED_TIME;
        self.buf.extend_from_slice(&[tag, if generalized { 15 } else { 13 }]);
        let mut two = |v: u32| self.buf.extend_from_slice(&[b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]);
        if generalized {
            two(year / 100);
        }
        for v in [year % 100, c.month, c.day, c.hour, c.minute, c.second] {
            two(v);
        }
        self.buf.push(b'Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{self, Reader};

    fn one(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.finish().unwrap()
    }

    #[test]
    fn lengths_at_the_form_boundaries_read_back() {
        for (len, header) in [
            (0usize, vec![0x04, 0x00]),
            (127, vec![0x04, 0x7F]),
            (128, vec![0x04, 0x81, 0x80]),
            (255, vec![0x04, 0x81, 0xFF]),
            (256, vec![0x04, 0x82, 0x01, 0x00]),
            (65_535, vec![0x04, 0x82, 0xFF, 0xFF]),
            (65_536, vec![0x04, 0x83, 0x01, 0x00, 0x00]),
            (16_777_216, vec![0x04, 0x84, 0x01, 0x00, 0x00, 0x00]),
        ] {
            let value = vec![0x5A; len];
            // Known length, and patched in after the contents: the same bytes.
            let a = one(|w| w.octet_string(&value));
            let b = one(|w| {
                w.constructed(tag::OCTET_STRING, |w| w.raw(&value));
            });
            assert_eq!(a, b, "length {len}");
            assert_eq!(&a[..header.len()], header, "length {len}");
            assert_eq!(a.len(), encoded_len(len));
            assert_eq!(length_octets(len), header.len() - 1);
            let t = Reader::new(&a).read().unwrap();
            assert_eq!(t.value.len(), len);
        }
    }

    #[test]
    fn nested_elements_read_back_and_report_their_ranges() {
        let mut w = Writer::new();
        let mut inner = Vec::new();
        let outer = w.sequence(|w| {
            w.integer_u64(1);
            // As a signer would: take the signed element's bytes before the enclosing one closes.
            let range = w.explicit(0, |w| {
                w.sequence(|w| w.raw(&[0x5A; 300]));
            });
            inner = w.as_bytes()[range].to_vec();
            w.set(|w| w.null());
        });
        let der = w.finish().unwrap();
        assert_eq!(outer, 0..der.len());
        let mut r = Reader::new(&der);
        let seq = r.read_tag(tag::SEQUENCE, "outer").unwrap();
        r.finish("outer").unwrap();
        let mut s = seq.reader();
        assert_eq!(der::small_integer(&s.read_tag(tag::INTEGER, "n").unwrap(), "n").unwrap(), 1);
        let explicit = s.read_tag(tag::context_constructed(0), "[0]").unwrap();
        assert_eq!(explicit.raw, inner);
        assert_eq!(explicit.reader().read_tag(tag::SEQUENCE, "inner").unwrap().value, [0x5A; 300]);
        assert_eq!(s.read_tag(tag::SET, "set").unwrap().value, [tag::NULL, 0]);
        s.finish("outer").unwrap();
    }

    #[test]
    fn integers_are_minimal_and_read_back() {
        let int = |f: &dyn Fn(&mut Writer)| one(|w| f(w));
        assert_eq!(int(&|w| w.integer(&[])), [2, 1, 0]);
        assert_eq!(int(&|w| w.integer(&[0, 0, 0])), [2, 1, 0]);
        assert_eq!(int(&|w| w.integer(&[0x7F])), [2, 1, 0x7F]);
        assert_eq!(int(&|w| w.integer(&[0x80])), [2, 2, 0, 0x80]);
        assert_eq!(int(&|w| w.integer(&[0, 0, 0x05, 0x4C])), [2, 2, 0x05, 0x4C]);
        assert_eq!(int(&|w| w.integer_u64(u64::MAX)), [2, 9, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(int(&|w| w.integer_i64(0)), [2, 1, 0]);
        assert_eq!(int(&|w| w.integer_i64(-1)), [2, 1, 0xFF]);
        assert_eq!(int(&|w| w.integer_i64(-129)), [2, 2, 0xFF, 0x7F]);
        assert_eq!(int(&|w| w.integer_i64(128)), [2, 2, 0, 0x80]);
        assert_eq!(int(&|w| w.integer_i64(i64::MIN)), [2, 8, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(int(&|w| w.enumerated(1)), [tag::ENUMERATED, 1, 1]);
        assert_eq!(int(&|w| w.enumerated(200)), [tag::ENUMERATED, 2, 0, 200]);
        for m in [&[][..], &[0x00, 0x01], &[0x80, 0, 0], &[0xFF; 20], &[0x12; 9]] {
            let enc = one(|w| w.integer(m));
            assert_eq!(enc.len(), encoded_len(unsigned_integer_len(m)));
            let t = Reader::new(&enc).read().unwrap();
            assert_eq!(der::unsigned_integer(&t, "x").unwrap(), strip_zeros(m));
        }
    }

    #[test]
    fn oids_booleans_and_strings_read_back() {
        assert_eq!(one(|w| w.oid_arcs(&[2, 5, 29, 20])), [6, 3, 0x55, 0x1D, 0x14]);
        let rsa = one(|w| w.oid_arcs(&[1, 2, 840, 113549, 1, 1, 11]));
        assert_eq!(der::oid_to_string(Reader::new(&rsa).read().unwrap().value), "1.2.840.113549.1.1.11");
        assert_eq!(one(|w| w.oid_arcs(&[2, 999, 3])), [6, 3, 0x88, 0x37, 0x03]);
        let mut w = Writer::new();
        w.oid_arcs(&[1, 40]);
        assert_eq!(w.finish(), Err(WriteError::InvalidOid(vec![1, 40])));
        for v in [true, false] {
            assert_eq!(der::boolean(&Reader::new(&one(|w| w.boolean(v))).read().unwrap(), "b").unwrap(), v);
        }
        assert_eq!(one(|w| w.null()), [5, 0]);
        assert_eq!(one(|w| w.implicit(0, &[1, 2])), [0x80, 2, 1, 2]);
        let bits = one(|w| w.bit_string(0, &[0xAB, 0xCD]));
        assert_eq!(Reader::new(&bits).read().unwrap().octet_bits("key").unwrap(), [0xAB, 0xCD]);
        assert_eq!(one(|w| w.bit_string(7, &[0xFF])), [3, 2, 7, 0x80]);
        let wrapped = one(|w| {
            w.bit_string_with(|w| w.null());
        });
        assert_eq!(wrapped, [3, 3, 0, 5, 0]);
        let mut w = Writer::new();
        w.bit_string(8, &[1]);
        assert_eq!(w.finish(), Err(WriteError::InvalidUnusedBits(8)));
    }

    #[test]
    fn times_use_utc_time_until_2049_and_generalized_after() {
        for (secs, want) in [
            (1_767_225_600i64, "\x17\x0d260101000000Z"),
            (2_524_607_999, "\x17\x0d491231235959Z"),
            (2_524_608_000, "\x18\x0f20500101000000Z"),
            (-631_152_000, "\x17\x0d500101000000Z"),
            (-631_152_001, "\x18\x0f19491231235959Z"),
            (MAX_GENERALIZED_TIME, "\x18\x0f99991231235959Z"),
            (MIN_GENERALIZED_TIME, "\x18\x0f00000101000000Z"),
        ] {
            let out = one(|w| w.time(secs));
            assert_eq!(out, want.as_bytes(), "{secs}");
            assert_eq!(out.len(), time_len(secs));
            assert_eq!(der::time(&Reader::new(&out).read().unwrap(), "t").unwrap(), secs);
        }
        let g = one(|w| w.generalized_time(1_767_225_600));
        assert_eq!(g, b"\x18\x0f20260101000000Z");
        for (f, secs, e) in [
            (Writer::time as fn(&mut Writer, i64), MAX_GENERALIZED_TIME + 1, WriteError::TimeOutOfRange(MAX_GENERALIZED_TIME + 1)),
            (Writer::generalized_time, MIN_GENERALIZED_TIME - 1, WriteError::TimeOutOfRange(MIN_GENERALIZED_TIME - 1)),
            (Writer::utc_time, UTC_TIME_END, WriteError::UtcTimeOutOfRange(UTC_TIME_END)),
        ] {
            let mut w = Writer::new();
            f(&mut w, secs);
            w.integer_u64(1); // later elements do not hide the first error
            assert_eq!(w.finish(), Err(e));
        }
        // What the reader refuses, the writer never produces: every second of a leap day.
        let leap = crate::time::days_from_civil(2048, 2, 29) * 86_400;
        for secs in [leap, leap + 86_399] {
            let out = one(|w| w.utc_time(secs));
            assert_eq!(der::time(&Reader::new(&out).read().unwrap(), "t"), Ok(secs));
        }
    }
}
