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
    let invalid = |kind: &str| der::DerError { offset: tlv.offset, what: format!("invalid {kind} in a name") };
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

    #[test]
    fn rejects_bad_strings() {
        let body = atv(&[0x55, 0x04, 0x06], tag::UTF8_STRING, &[0xFF, 0xFE]);
        let mut name = vec![0x30, body.len() as u8];
        name.extend(body);
        assert!(name_der_to_string(&name).is_err());
    }
}
