//! Strict DER for untrusted requests: the shared [`Reader`], which already refuses lengths not in
//! their shortest form (X.690 §10.1) and, through [`der::integer`], INTEGERs not in their shortest
//! two's complement form (X.690 §8.3.2), plus the one rule a request adds: opaque parts (a
//! requestorName, a request's signature) must be well-formed DER all the way down, to a bounded
//! depth.

use super::error::{RequestError, RequestErrorKind};
use crate::der::{self, DerError, Reader, Tlv};

/// Nesting deeper than this in an opaque part is refused (no recursion a request can run away with).
pub(super) const MAX_DEPTH: usize = 32;

pub(super) fn der(field: &'static str, e: DerError) -> RequestError {
    RequestError::new(field, RequestErrorKind::Der(e))
}

pub(super) fn read_any<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<Tlv<'a>, RequestError> {
    r.read().map_err(|e| der(field, e))
}

pub(super) fn read<'a>(r: &mut Reader<'a>, tag: u8, field: &'static str) -> Result<Tlv<'a>, RequestError> {
    let tlv = read_any(r, field)?;
    tlv.expect(tag, field).map_err(|e| der(field, e))
}

pub(super) fn read_optional<'a>(r: &mut Reader<'a>, tag: u8, field: &'static str) -> Result<Option<Tlv<'a>>, RequestError> {
    if r.peek_tag() == Some(tag) {
        read_any(r, field).map(Some)
    } else {
        Ok(None)
    }
}

pub(super) fn finish(r: &Reader<'_>, field: &'static str) -> Result<(), RequestError> {
    r.finish(field).map_err(|e| der(field, e))
}

/// The content octets of an INTEGER in its shortest form (non-empty; no redundant sign octet).
pub(super) fn integer<'a>(tlv: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], RequestError> {
    der::integer(tlv, field).map_err(|e| der(field, e))
}

/// Checks that a constructed element's contents are well-formed DER to [`MAX_DEPTH`]: every
/// element inside parses, with a canonical length, and nothing trails.
pub(super) fn well_formed(tlv: &Tlv<'_>, field: &'static str) -> Result<(), RequestError> {
    fn walk(tlv: &Tlv<'_>, field: &'static str, depth: usize) -> Result<(), RequestError> {
        if tlv.tag & 0x20 == 0 {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(RequestError::new(field, RequestErrorKind::TooDeep(MAX_DEPTH)));
        }
        let mut r = tlv.reader();
        while !r.is_empty() {
            walk(&read_any(&mut r, field)?, field, depth + 1)?;
        }
        Ok(())
    }
    walk(tlv, field, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::DerErrorKind;

    fn one(bytes: &[u8]) -> Result<Tlv<'_>, RequestError> {
        read_any(&mut Reader::new(bytes), "x")
    }

    #[test]
    fn lengths_must_be_shortest() {
        assert!(one(&[0x04, 0x01, 0xAA]).is_ok());
        assert!(matches!(
            one(&[0x04, 0x81, 0x01, 0xAA]).unwrap_err().kind,
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonCanonicalLength(_), .. })
        ));
        assert!(matches!(
            one(&[0x04, 0x82, 0x00, 0x01, 0xAA]).unwrap_err().kind,
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonCanonicalLength(_), .. })
        ));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 128]);
        assert!(one(&long).is_ok());
    }

    #[test]
    fn integers_must_be_shortest() {
        let int = |bytes: &[u8]| integer(&Reader::new(bytes).read().unwrap(), "n").map(|v| v.to_vec());
        assert_eq!(int(&[0x02, 0x01, 0x00]).unwrap(), [0x00]);
        assert_eq!(int(&[0x02, 0x02, 0x00, 0x80]).unwrap(), [0x00, 0x80]);
        assert_eq!(int(&[0x02, 0x02, 0xFF, 0x7F]).unwrap(), [0xFF, 0x7F]);
        assert!(matches!(
            int(&[0x02, 0x02, 0x00, 0x7F]).unwrap_err().kind,
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonMinimalInteger(_), .. })
        ));
        assert!(matches!(
            int(&[0x02, 0x02, 0xFF, 0x80]).unwrap_err().kind,
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonMinimalInteger(_), .. })
        ));
        assert!(matches!(int(&[0x02, 0x00]).unwrap_err().kind, RequestErrorKind::Der(_)));
    }

    #[test]
    fn opaque_parts_are_walked_to_a_bounded_depth() {
        let ok = [0x30, 0x05, 0x30, 0x03, 0x04, 0x01, 0xAA];
        assert!(well_formed(&one(&ok).unwrap(), "x").is_ok());
        let bad_inner = [0x30, 0x06, 0x30, 0x04, 0x04, 0x81, 0x01, 0xAA];
        assert!(matches!(
            well_formed(&one(&bad_inner).unwrap(), "x").unwrap_err().kind,
            RequestErrorKind::Der(DerError { offset: 4, kind: DerErrorKind::NonCanonicalLength(_) })
        ));
        let truncated_inner = [0x30, 0x03, 0x30, 0x05, 0x00];
        assert!(matches!(well_formed(&one(&truncated_inner).unwrap(), "x").unwrap_err().kind, RequestErrorKind::Der(_)));
        // 40 nested SEQUENCEs: refused at MAX_DEPTH, without deep recursion.
        let mut deep = vec![0x05, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, deep.len() as u8];
            outer.extend(deep);
            deep = outer;
        }
        assert_eq!(well_formed(&one(&deep).unwrap(), "x").unwrap_err().kind, RequestErrorKind::TooDeep(MAX_DEPTH));
    }
}
