//! X.500 distinguished names (RFC 5280 §4.1.2.4) rendered as text.
//!
//! The text form lists RDNs in encoded order, as JPKI documents and OpenSSL print them:
//! `C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido,
//! CN=Sapporo-shi-Minami-ku CRLDP`. It is also the key that ties a certificate's CRL
//! distribution point to the partition CRL whose issuing distribution point names the same
//! directory name, so it must be deterministic: attribute values are decoded from their string
//! type, and `,`, `+`, `=` and `\` inside values are escaped with a backslash.

use std::borrow::Cow;

use crate::der::{self, tag, Reader, Tlv};

const KNOWN_ATTRIBUTES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "street"),
    (&[0x55, 0x04, 0x0A], "O"),
    (&[0x55, 0x04, 0x0B], "OU"),
    (&[0x55, 0x04, 0x0C], "title"),
    (&[0x55, 0x04, 0x2A], "GN"),
    (&[0x55, 0x04, 0x04], "SN"),
    (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19], "DC"),
    (&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01], "emailAddress"),
];

fn attribute_name(oid: &[u8]) -> Cow<'static, str> {
    match KNOWN_ATTRIBUTES.iter().find(|(k, _)| *k == oid) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(der::oid_to_string(oid)),
    }
}

/// Decodes a directory string value to Unicode text.
pub fn directory_string(tlv: &Tlv<'_>) -> der::Result<String> {
    string_value(tlv).map(Cow::into_owned)
}

/// [`directory_string`], borrowing the value where its encoding already is UTF-8 (UTF8String,
/// PrintableString, IA5String: every JPKI name), so rendering a name allocates nothing per value.
fn string_value<'a>(tlv: &Tlv<'a>) -> der::Result<Cow<'a, str>> {
    let v = tlv.value;
    let invalid = |kind: &'static str| der::DerError { offset: tlv.offset, kind: der::DerErrorKind::InvalidString(kind) };
    match tlv.tag {
        tag::UTF8_STRING => std::str::from_utf8(v).map(Cow::Borrowed).map_err(|_| invalid("UTF8String")),
        tag::PRINTABLE_STRING | tag::IA5_STRING => {
            if v.is_ascii() {
                Ok(Cow::Borrowed(std::str::from_utf8(v).expect("ASCII is UTF-8")))
            } else {
                Err(invalid("PrintableString/IA5String"))
            }
        }
        // T61String: treated as Latin-1, which is what it holds in practice.
        tag::T61_STRING => Ok(Cow::Owned(v.iter().map(|&b| b as char).collect())),
        tag::BMP_STRING => {
            if v.len() % 2 != 0 {
                return Err(invalid("BMPString"));
            }
            let units: Vec<u16> = v.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).map(Cow::Owned).map_err(|_| invalid("BMPString"))
        }
        tag::UNIVERSAL_STRING => {
            if v.len() % 4 != 0 {
                return Err(invalid("UniversalString"));
            }
            v.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).ok_or_else(|| invalid("UniversalString")))
                .collect::<der::Result<String>>()
                .map(Cow::Owned)
        }
        _ => Ok(Cow::Owned(format!("#{}", hex_upper(tlv.raw)))),
    }
}

pub fn hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xF) as usize] as char);
    }
    s
}

fn escape_into(out: &mut String, value: &str) {
    if !value.contains([',', '+', '=', '\\']) {
        out.push_str(value);
        return;
    }
    for ch in value.chars() {
        if matches!(ch, ',' | '+' | '=' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// Appends the attributes of one RelativeDistinguishedName (the contents of `rdn`, whatever its
/// tag: a SET, or an implicitly tagged `[1]` in a distribution point name).
fn rdn_into(out: &mut String, rdn: &Tlv<'_>) -> der::Result<()> {
    let mut first = true;
    for_each_attribute(rdn, |oid, value| {
        if !first {
            out.push_str(" + ");
        }
        first = false;
        out.push_str(&attribute_name(oid));
        out.push('=');
        escape_into(out, &string_value(value)?);
        Ok(())
    })
}

/// Calls `f(attribute type OID, value)` for each AttributeTypeAndValue of one
/// RelativeDistinguishedName (the contents of `rdn`, whatever its tag), in encoded order.
fn for_each_attribute<'a>(rdn: &Tlv<'a>, mut f: impl FnMut(&'a [u8], &Tlv<'a>) -> der::Result<()>) -> der::Result<()> {
    let mut atvs = rdn.reader();
    while !atvs.is_empty() {
        let atv = atvs.read_tag(tag::SEQUENCE, "AttributeTypeAndValue")?;
        let mut r = atv.reader();
        let oid = r.read_tag(tag::OID, "attribute type")?;
        let value = r.read()?;
        r.finish("attribute value")?;
        f(oid.value, &value)?;
    }
    Ok(())
}

/// Renders a DER `Name` (the whole SEQUENCE element) as text.
pub fn name_to_string(name: &Tlv<'_>) -> der::Result<String> {
    let name = name.expect(tag::SEQUENCE, "Name")?;
    let mut out = String::new();
    let mut rdns = name.reader();
    while !rdns.is_empty() {
        let rdn = rdns.read_tag(tag::SET, "RelativeDistinguishedName")?;
        if !out.is_empty() {
            out.push_str(", ");
        }
        rdn_into(&mut out, &rdn)?;
    }
    Ok(out)
}

/// Renders one RelativeDistinguishedName given as an element whose contents are its
/// attributes (`nameRelativeToCRLIssuer [1]`, RFC 5280 §4.2.1.13): the text that follows the
/// CRL issuer's name in a distribution point name (`<issuer>, <rdn>`).
pub fn rdn_to_string(rdn: &Tlv<'_>) -> der::Result<String> {
    let mut out = String::new();
    rdn_into(&mut out, rdn)?;
    Ok(out)
}

/// The attributes of a DER `Name`, in encoded order: (short name or dotted OID, decoded value).
pub fn name_attributes(der_bytes: &[u8]) -> der::Result<Vec<(String, String)>> {
    let mut r = Reader::new(der_bytes);
    let name = r.read()?.expect(tag::SEQUENCE, "Name")?;
    r.finish("Name")?;
    let mut out = Vec::new();
    let mut rdns = name.reader();
    while !rdns.is_empty() {
        let rdn = rdns.read_tag(tag::SET, "RelativeDistinguishedName")?;
        for_each_attribute(&rdn, |oid, value| {
            out.push((attribute_name(oid).into_owned(), directory_string(value)?));
            Ok(())
        })?;
    }
    Ok(out)
}

/// Parses `der` as one complete `Name` and renders it.
pub fn name_der_to_string(der_bytes: &[u8]) -> der::Result<String> {
    let mut r = Reader::new(der_bytes);
    let name = r.read()?;
    r.finish("Name")?;
    name_to_string(&name)
}

/// GeneralNames as text: directory names rendered as names, URIs as themselves; several names
/// joined with `; ` (§4.2.1.6).
pub fn general_names_text(names_tlv: &Tlv<'_>) -> der::Result<String> {
    let mut r = names_tlv.reader();
    let mut parts = Vec::new();
    while !r.is_empty() {
        let gn = r.read()?;
        match gn.tag {
            // directoryName [4] EXPLICIT Name
            0xA4 => {
                let mut d = gn.reader();
                let name = d.read()?;
                d.finish("directoryName")?;
                parts.push(name_to_string(&name)?);
            }
            // uniformResourceIdentifier [6] IA5String, dNSName [2], rfc822Name [1]
            0x86 | 0x82 | 0x81 => parts.push(String::from_utf8_lossy(gn.value).into_owned()),
            other => parts.push(format!("[{}]#{}", other & 0x1F, hex_upper(gn.value))),
        }
    }
    Ok(parts.join("; "))
}

/// Whether two DER `Name`s are the same distinguished name under RFC 5280 §7.1: as many RDNs,
/// in the same order; each RDN the same set of attribute types and values. Values of the string
/// types are compared after the LDAP string preparation of RFC 4518 (§2.1 transcode to Unicode,
/// §2.2 map: characters mapped to nothing dropped, white space to SPACE, case folded; §2.3 NFKC;
/// §2.6.1 insignificant spaces: leading and trailing dropped, inner runs collapsed), which
/// X.520's caseIgnoreMatch asks for every attribute JPKI and WebPKI names use (C, O, OU, CN,
/// L, ST, serialNumber, DC, emailAddress). Other values compare as their DER bytes. A Name that
/// does not parse matches nothing, not even itself. Prohibited characters (§2.4) and the bidi
/// check (§2.5) are not enforced: a match only pairs a CRL or certificate with trusted keys
/// whose signature then has to verify, so a looser match can never make a forgery pass.
///
/// ```
/// use jpki_fast_core::names::names_match;
/// // C=JP as PrintableString vs UTF8String, O with other case and spacing: the same name.
/// let a = b"\x30\x1A\x31\x0B\x30\x09\x06\x03\x55\x04\x06\x13\x02JP\x31\x0B\x30\x09\x06\x03\x55\x04\x0A\x0C\x02ab";
/// let b = b"\x30\x1B\x31\x0B\x30\x09\x06\x03\x55\x04\x06\x0C\x02JP\x31\x0C\x30\x0A\x06\x03\x55\x04\x0A\x0C\x03 AB";
/// assert!(names_match(a, b));
/// assert!(!names_match(a, &b[..b.len() - 1]));
/// ```
pub fn names_match(a: &[u8], b: &[u8]) -> bool {
    match (comparable_name(a), comparable_name(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// One attribute value as compared: prepared text for the string types, else the DER.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Comparable<'a> {
    Text(String),
    Der(&'a [u8]),
}

/// One RDN: (attribute type, comparable value) pairs, sorted (an RDN is a SET).
type ComparableRdn<'a> = Vec<(&'a [u8], Comparable<'a>)>;

/// A Name as its comparable RDNs, in order.
fn comparable_name(der_bytes: &[u8]) -> Option<Vec<ComparableRdn<'_>>> {
    let mut r = Reader::new(der_bytes);
    let name = r.read().ok()?.expect(tag::SEQUENCE, "Name").ok()?;
    r.finish("Name").ok()?;
    let mut rdns = name.reader();
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let rdn = rdns.read_tag(tag::SET, "RelativeDistinguishedName").ok()?;
        let mut attributes = Vec::new();
        for_each_attribute(&rdn, |oid, value| {
            let comparable = match value.tag {
                tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::T61_STRING | tag::BMP_STRING | tag::UNIVERSAL_STRING => {
                    Comparable::Text(prepare(&string_value(value)?))
                }
                _ => Comparable::Der(value.raw),
            };
            attributes.push((oid, comparable));
            Ok(())
        })
        .ok()?;
        attributes.sort();
        out.push(attributes);
    }
    Some(out)
}

/// RFC 4518 string preparation for caseIgnoreMatch (see [`names_match`]).
fn prepare(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mapped: String = value
        .chars()
        .filter(|&c| !maps_to_nothing(c))
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .flat_map(char::to_lowercase)
        .collect();
    let normalized: String = mapped.nfkc().collect();
    normalized.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// RFC 4518 §2.2: soft hyphen, variation selectors, zero-width and other characters "mapped to
/// nothing", and control characters other than white space.
fn maps_to_nothing(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{1806}' | '\u{180B}'..='\u{180D}' | '\u{200B}' | '\u{2060}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFFC}')
        || (c.is_control() && !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x06, oid.len() as u8];
        inner.extend_from_slice(oid);
        inner.push(tag);
        inner.push(value.len() as u8);
        inner.extend_from_slice(value);
        let mut seq = vec![0x30, inner.len() as u8];
        seq.extend(inner);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        set
    }

    #[test]
    fn renders_in_encoded_order_with_escapes() {
        let mut body = atv(&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, b"JP");
        body.extend(atv(&[0x55, 0x04, 0x0A], tag::UTF8_STRING, "公的, 個人".as_bytes()));
        body.extend(atv(&[0x55, 0x04, 0x03], tag::PRINTABLE_STRING, b"Sapporo-shi CRLDP"));
        let mut name = vec![0x30, body.len() as u8];
        name.extend(body);
        assert_eq!(name_der_to_string(&name).unwrap(), "C=JP, O=公的\\, 個人, CN=Sapporo-shi CRLDP");
    }

    fn name(attributes: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
        let body: Vec<u8> = attributes.iter().flat_map(|&(oid, t, v)| atv(oid, t, v)).collect();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    const C: &[u8] = &[0x55, 0x04, 0x06];
    const O: &[u8] = &[0x55, 0x04, 0x0A];
    const OU: &[u8] = &[0x55, 0x04, 0x0B];

    #[test]
    fn names_match_under_rfc_5280_rules() {
        let jpki = name(&[
            (C, tag::PRINTABLE_STRING, b"JP"),
            (O, tag::UTF8_STRING, b"JPKI"),
            (OU, tag::UTF8_STRING, b"JPKI for user authentication"),
        ]);
        assert!(names_match(&jpki, &jpki));
        // Another string type, other case, extra spaces, full-width letters (NFKC): the same name.
        let same = name(&[
            (C, tag::UTF8_STRING, b"jp"),
            (O, tag::PRINTABLE_STRING, b" JPKI "),
            (OU, tag::UTF8_STRING, "JPKI  for ＵＳＥＲ\u{00AD} authentication".as_bytes()),
        ]);
        assert!(names_match(&jpki, &same));
        let bmp: Vec<u8> = "JPKI".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(names_match(&name(&[(O, tag::UTF8_STRING, b"JPKI")]), &name(&[(O, tag::BMP_STRING, &bmp)])));
        // Other values, order, or number of RDNs: different names.
        assert!(!names_match(
            &jpki,
            &name(&[(C, tag::PRINTABLE_STRING, b"JP"), (O, tag::UTF8_STRING, b"JPKI"), (OU, tag::UTF8_STRING, b"JPKI for signing")])
        ));
        assert!(!names_match(
            &jpki,
            &name(&[
                (O, tag::UTF8_STRING, b"JPKI"),
                (C, tag::PRINTABLE_STRING, b"JP"),
                (OU, tag::UTF8_STRING, b"JPKI for user authentication")
            ])
        ));
        assert!(!names_match(&jpki, &name(&[(C, tag::PRINTABLE_STRING, b"JP"), (O, tag::UTF8_STRING, b"JPKI")])));
        assert!(!names_match(
            &jpki,
            &name(&[
                (C, tag::PRINTABLE_STRING, b"JP"),
                (OU, tag::UTF8_STRING, b"JPKI"),
                (OU, tag::UTF8_STRING, b"JPKI for user authentication")
            ])
        ));
        // A multi-valued RDN is a set: its order does not matter.
        let seq = |oid: &[u8], t: u8, v: &[u8]| atv(oid, t, v)[2..].to_vec(); // without its SET
        let multi = |parts: &[&[u8]]| {
            let set = parts.concat();
            let mut rdn = vec![0x31, set.len() as u8];
            rdn.extend(set);
            let mut out = vec![0x30, rdn.len() as u8];
            out.extend(rdn);
            out
        };
        let (c, o) = (seq(C, tag::PRINTABLE_STRING, b"JP"), seq(O, tag::UTF8_STRING, b"JPKI"));
        let (co, oc) = (multi(&[&c, &o]), multi(&[&o, &c]));
        assert!(names_match(&co, &oc));
        assert_eq!(name_der_to_string(&co).unwrap(), "C=JP + O=JPKI");
        // Non-string values compare as DER; a damaged Name matches nothing.
        assert!(!names_match(&name(&[(C, tag::OCTET_STRING, b"JP")]), &name(&[(C, tag::PRINTABLE_STRING, b"JP")])));
        assert!(!names_match(&jpki[..jpki.len() - 1], &jpki[..jpki.len() - 1]));
    }

    #[test]
    fn rejects_bad_strings() {
        let body = atv(&[0x55, 0x04, 0x06], tag::UTF8_STRING, &[0xFF, 0xFE]);
        let mut name = vec![0x30, body.len() as u8];
        name.extend(body);
        assert!(name_der_to_string(&name).is_err());
    }
}
