//! X.509 v3 certificates (RFC 5280 §4): a strict parser, and path validation of JPKI
//! end-entity certificates against a set of trusted CA keys.
//!
//! [`Certificate::parse`] reads every field a JPKI verifier needs straight out of the input
//! (nothing is copied but the rendered names): serial, issuer and subject, validity, the RSA
//! public key, key usage, extended key usage, basic constraints, certificate policies, key
//! identifiers, the CRL distribution point (the partition the certificate's revocation lives in),
//! the OCSP URL, and, for JPKI signing certificates, the holder's basic 4 facts
//! (基本4情報) from the subjectAltName otherNames.
//!
//! The basic 4 facts are personal data. They never appear in an error message, and
//! [`BasicFourFacts`]' `Debug` output is redacted so that a stray `{:?}` cannot log them.
//!
//! [`Anchors::validate`] then decides what a verifier must know before it looks at revocation:
//! the issuing CA key (by authority key identifier, confirmed by verifying the signature over the
//! exact `tbsCertificate` bytes once), the test hierarchy, the validity period and the key usage
//! for the purpose. Revocation itself is the store's business (see `jpki_fast.certs`).
//!
//! Every function returns an error instead of panicking; input over [`MAX_CERTIFICATE_SIZE`]
//! is refused before it is read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::signature::ParsedPublicKey;

use crate::crl::general_names_text;
use crate::der::{self, tag, Reader, Tlv};
use crate::names;
use crate::serial::MAX_SERIAL_OCTETS;
use crate::signature::{self, HashAlg, Padding, Scheme, SignatureError};

/// Certificates larger than this are refused unread (JPKI certificates are about 1.5 KB; the
/// largest ordinary certificates a few KB).
pub const MAX_CERTIFICATE_SIZE: usize = 64 * 1024;

/// Why a certificate could not be parsed: the field at fault and what is wrong with it. Never
/// carries field values (a certificate may hold personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError {
    pub field: &'static str,
    pub what: String,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.what)
    }
}

impl std::error::Error for CertError {}

fn fail<T>(field: &'static str, what: impl Into<String>) -> Result<T, CertError> {
    Err(CertError { field, what: what.into() })
}

/// Attaches the field name to a DER error.
trait Field<T> {
    fn field(self, field: &'static str) -> Result<T, CertError>;
}

impl<T> Field<T> for der::Result<T> {
    fn field(self, field: &'static str) -> Result<T, CertError> {
        self.map_err(|e| CertError { field, what: e.to_string() })
    }
}

// ---------------------------------------------------------------------------------------------
// Object identifiers (content octets).

const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_RSASSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
const EXT_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1D, 0x0E];
const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
const EXT_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];
const EXT_ISSUER_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x12];
const EXT_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];
const EXT_CRL_DISTRIBUTION_POINTS: &[u8] = &[0x55, 0x1D, 0x1F];
const EXT_CERTIFICATE_POLICIES: &[u8] = &[0x55, 0x1D, 0x20];
const EXT_AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1D, 0x23];
const EXT_EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25];
const EXT_AUTHORITY_INFO_ACCESS: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
const AD_OCSP: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
const AD_CA_ISSUERS: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
/// 1.2.392.200149.8.5.5: the arc of JPKI's subjectAltName otherNames (the basic 4 facts).
const JPKI_FACTS_ARC: &[u8] = &[0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x05];

/// Well-known extended key usages by name (RFC 5280 §4.2.1.12); others are given dotted.
const EKU_NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x1D, 0x25, 0x00], "anyExtendedKeyUsage"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01], "serverAuth"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02], "clientAuth"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03], "codeSigning"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04], "emailProtection"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08], "timeStamping"),
    (&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09], "OCSPSigning"),
];

/// keyUsage bits (RFC 5280 §4.2.1.3): bit `i` of [`Certificate::key_usage`] is usage `i`.
pub mod usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
    /// Names by bit number.
    pub const NAMES: [&str; 9] = [
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
        "encipherOnly",
        "decipherOnly",
    ];
}

// ---------------------------------------------------------------------------------------------
// The parsed certificate.

/// The basic 4 facts (基本4情報) of a JPKI signing certificate's holder, from the
/// subjectAltName otherNames 1.2.392.200149.8.5.5.1 to .6. Values are decoded from their string
/// type; a value of another type is given as `#` and the hex of its DER.
///
/// Personal data: `Debug` is redacted, and nothing in this crate logs or prints it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BasicFourFacts {
    /// .1 氏名 (name)
    pub name: Option<String>,
    /// .2 氏名代替文字の使用位置 (where substitute characters stand in the name)
    pub name_substitute: Option<String>,
    /// .3 性別 (sex, as coded by J-LIS)
    pub sex: Option<String>,
    /// .4 生年月日 (date of birth, as coded by J-LIS)
    pub date_of_birth: Option<String>,
    /// .5 住所 (address)
    pub address: Option<String>,
    /// .6 住所代替文字の使用位置 (where substitute characters stand in the address)
    pub address_substitute: Option<String>,
}

impl fmt::Debug for BasicFourFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicFourFacts { <personal data redacted> }")
    }
}

impl BasicFourFacts {
    fn slot(&mut self, last_arc: u8) -> Option<&mut Option<String>> {
        match last_arc {
            1 => Some(&mut self.name),
            2 => Some(&mut self.name_substitute),
            3 => Some(&mut self.sex),
            4 => Some(&mut self.date_of_birth),
            5 => Some(&mut self.address),
            6 => Some(&mut self.address_substitute),
            _ => None,
        }
    }
}

/// The RSA public key of a certificate.
#[derive(Debug, Clone, Copy)]
pub struct RsaKey<'a> {
    /// Big-endian magnitude, leading zeros removed.
    pub modulus: &'a [u8],
    pub exponent: &'a [u8],
}

impl RsaKey<'_> {
    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        match self.modulus.first() {
            Some(&top) => self.modulus.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        }
    }
}

/// A parsed certificate, borrowing from its DER.
#[derive(Debug, Clone)]
pub struct Certificate<'a> {
    /// The whole certificate DER.
    pub raw: &'a [u8],
    /// The exact `tbsCertificate` encoding: what the issuer's signature covers.
    pub tbs: &'a [u8],
    /// 1, 2 or 3.
    pub version: u8,
    /// Big-endian magnitude of the serial number, leading zeros removed (`[0]` for zero).
    pub serial: &'a [u8],
    /// The signature scheme, or why it is not one this engine verifies.
    pub scheme: Result<Scheme, SignatureError>,
    pub issuer_der: &'a [u8],
    pub issuer: String,
    pub subject_der: &'a [u8],
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The whole SubjectPublicKeyInfo DER (what signature verification takes).
    pub spki: &'a [u8],
    /// The subjectPublicKey BIT STRING's bits (what RFC 5280 key identifiers hash).
    pub public_key_bits: &'a [u8],
    /// The public key algorithm, dotted (`1.2.840.113549.1.1.1` for rsaEncryption).
    pub key_algorithm: String,
    pub rsa: Option<RsaKey<'a>>,
    /// keyUsage bits (see [`usage`]); None when the extension is absent.
    pub key_usage: Option<u16>,
    /// Extended key usages by name (or dotted when not well known); None when absent.
    pub extended_key_usage: Option<Vec<String>>,
    /// basicConstraints: (cA, pathLenConstraint); None when absent.
    pub basic_constraints: Option<(bool, Option<u64>)>,
    /// Certificate policy identifiers, dotted.
    pub policies: Vec<String>,
    pub authority_key_id: Option<&'a [u8]>,
    pub subject_key_id: Option<&'a [u8]>,
    /// Each distribution point's name as text (directory names rendered like CRL issuing
    /// distribution points, so that they compare equal).
    pub crl_distribution_points: Vec<String>,
    /// The first directory name among the distribution points: the JPKI partition.
    pub partition: Option<String>,
    pub ocsp_urls: Vec<String>,
    pub ca_issuer_urls: Vec<String>,
    /// JPKI basic 4 facts, when the subjectAltName carries any of them.
    pub basic_four_facts: Option<BasicFourFacts>,
    /// Critical extensions this parser does not understand (dotted); RFC 5280 §4.2 says a
    /// certificate with any of them must be rejected.
    pub unknown_critical: Vec<String>,
    pub signature: &'a [u8],
}

/// The DER of a certificate given as DER or as PEM holding exactly one `CERTIFICATE` block.
pub fn decode(input: &[u8]) -> Result<Cow<'_, [u8]>, CertError> {
    if input.len() > 2 * MAX_CERTIFICATE_SIZE {
        return fail("certificate", format!("{} bytes exceeds the {MAX_CERTIFICATE_SIZE}-byte limit", input.len()));
    }
    if !der::looks_like_pem(input) {
        return Ok(Cow::Borrowed(input));
    }
    let blocks = der::pem_blocks(input).map_err(|what| CertError { field: "PEM", what })?;
    let mut certs = blocks.into_iter().filter(|(label, _)| is_certificate_label(label));
    match (certs.next(), certs.next()) {
        (Some((_, der_bytes)), None) => Ok(Cow::Owned(der_bytes)),
        (None, _) => fail("PEM", "no CERTIFICATE block"),
        (Some(_), Some(_)) => fail("PEM", "more than one certificate; give one certificate per item"),
    }
}

/// PEM labels that hold an X.509 certificate (RFC 7468 §5.1 and its legacy forms).
pub fn is_certificate_label(label: &str) -> bool {
    matches!(label, "CERTIFICATE" | "X509 CERTIFICATE" | "X.509 CERTIFICATE" | "TRUSTED CERTIFICATE")
}

fn magnitude<'a>(tlv: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], CertError> {
    let m = der::unsigned_integer(tlv, field).field(field)?;
    Ok(m)
}

fn bit_string_contents<'a>(tlv: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], CertError> {
    let t = tlv.expect(tag::BIT_STRING, field).field(field)?;
    match t.value.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => fail(field, "BIT STRING has unused bits or is empty"),
    }
}

impl<'a> Certificate<'a> {
    /// Parses one DER certificate. Trailing data, a version below what the fields need, and
    /// malformed extensions are errors naming the field.
    pub fn parse(input: &'a [u8]) -> Result<Certificate<'a>, CertError> {
        if input.is_empty() {
            return fail("certificate", "empty input");
        }
        if input.len() > MAX_CERTIFICATE_SIZE {
            return fail("certificate", format!("{} bytes exceeds the {MAX_CERTIFICATE_SIZE}-byte limit", input.len()));
        }
        let mut outer = Reader::new(input);
        let cert = outer.read_tag(tag::SEQUENCE, "Certificate").field("certificate")?;
        if !outer.is_empty() {
            return fail("certificate", format!("{} bytes of trailing data", input.len() - cert.raw.len()));
        }
        let mut c = cert.reader();
        let tbs = c.read_tag(tag::SEQUENCE, "tbsCertificate").field("tbsCertificate")?;
        let outer_alg = c.read_tag(tag::SEQUENCE, "signatureAlgorithm").field("signatureAlgorithm")?;
        let signature = signature::signature_bits(&c.read().field("signatureValue")?).field("signatureValue")?;
        c.finish("signatureValue").field("certificate")?;

        let mut t = tbs.reader();
        let version = match t.read_optional(tag::context_constructed(0)).field("version")? {
            Some(v) => {
                let mut vr = v.reader();
                let n = der::small_integer(&vr.read_tag(tag::INTEGER, "version").field("version")?, "version").field("version")?;
                vr.finish("version").field("version")?;
                match n {
                    0..=2 => n as u8 + 1,
                    other => return fail("version", format!("unknown version {}", other + 1)),
                }
            }
            None => 1,
        };
        let serial_tlv = t.read_tag(tag::INTEGER, "serialNumber").field("serialNumber")?;
        let serial = magnitude(&serial_tlv, "serialNumber")?;
        if serial.len() > MAX_SERIAL_OCTETS {
            return fail("serialNumber", format!("{} octets exceeds RFC 5280's 20-octet limit", serial.len()));
        }
        let serial = if serial.is_empty() { &serial_tlv.value[serial_tlv.value.len() - 1..] } else { serial };
        let inner_alg = t.read_tag(tag::SEQUENCE, "signature").field("signature")?;
        if inner_alg.raw != outer_alg.raw {
            return fail("signatureAlgorithm", "differs from tbsCertificate.signature (RFC 5280 §4.1.1.2)");
        }
        let scheme = signature::parse_algorithm(&inner_alg);
        if let Err(SignatureError::Malformed(e)) = &scheme {
            return fail("signatureAlgorithm", e.to_string());
        }
        let issuer_tlv = t.read_tag(tag::SEQUENCE, "issuer").field("issuer")?;
        let issuer = names::name_to_string(&issuer_tlv).field("issuer")?;
        let validity = t.read_tag(tag::SEQUENCE, "validity").field("validity")?;
        let mut v = validity.reader();
        let not_before = der::time(&v.read().field("notBefore")?, "notBefore").field("notBefore")?;
        let not_after = der::time(&v.read().field("notAfter")?, "notAfter").field("notAfter")?;
        v.finish("validity").field("validity")?;
        let subject_tlv = t.read_tag(tag::SEQUENCE, "subject").field("subject")?;
        let subject = names::name_to_string(&subject_tlv).field("subject")?;
        let spki = t.read_tag(tag::SEQUENCE, "subjectPublicKeyInfo").field("subjectPublicKeyInfo")?;
        let (key_algorithm, rsa, public_key_bits) = parse_spki(&spki)?;
        let mut cert = Certificate {
            raw: cert.raw,
            tbs: tbs.raw,
            version,
            serial,
            scheme,
            issuer_der: issuer_tlv.raw,
            issuer,
            subject_der: subject_tlv.raw,
            subject,
            not_before,
            not_after,
            spki: spki.raw,
            public_key_bits,
            key_algorithm,
            rsa,
            key_usage: None,
            extended_key_usage: None,
            basic_constraints: None,
            policies: Vec::new(),
            authority_key_id: None,
            subject_key_id: None,
            crl_distribution_points: Vec::new(),
            partition: None,
            ocsp_urls: Vec::new(),
            ca_issuer_urls: Vec::new(),
            basic_four_facts: None,
            unknown_critical: Vec::new(),
            signature,
        };
        for (n, field) in [(1u8, "issuerUniqueID"), (2, "subjectUniqueID")] {
            if t.read_optional(tag::context_primitive(n)).field(field)?.is_some() && version < 2 {
                return fail(field, "present in a version 1 certificate");
            }
        }
        if let Some(exts) = t.read_optional(tag::context_constructed(3)).field("extensions")? {
            if version < 3 {
                return fail("extensions", format!("present in a version {version} certificate"));
            }
            let mut er = exts.reader();
            let list = er.read_tag(tag::SEQUENCE, "extensions").field("extensions")?;
            er.finish("extensions").field("extensions")?;
            cert.parse_extensions(&list)?;
        }
        t.finish("tbsCertificate").field("tbsCertificate")?;
        Ok(cert)
    }

    fn parse_extensions(&mut self, list: &Tlv<'a>) -> Result<(), CertError> {
        let mut r = list.reader();
        let mut seen: Vec<&[u8]> = Vec::new();
        while !r.is_empty() {
            let ext = der::read_extension(&mut r).field("extensions")?;
            if seen.contains(&ext.oid) {
                return fail("extensions", format!("extension {} appears twice", der::oid_to_string(ext.oid)));
            }
            seen.push(ext.oid);
            // The extension's one DER value, its errors named after the extension.
            let value = |field: &'static str| -> Result<Tlv<'a>, CertError> {
                let mut v = ext.value.reader();
                let value = v.read().field(field)?;
                v.finish("extension value").field(field)?;
                Ok(value)
            };
            match ext.oid {
                EXT_KEY_USAGE => self.key_usage = Some(parse_key_usage(&value("keyUsage")?)?),
                EXT_EXTENDED_KEY_USAGE => self.extended_key_usage = Some(parse_eku(&value("extendedKeyUsage")?)?),
                EXT_BASIC_CONSTRAINTS => self.basic_constraints = Some(parse_basic_constraints(&value("basicConstraints")?)?),
                EXT_CERTIFICATE_POLICIES => self.policies = parse_policies(&value("certificatePolicies")?)?,
                EXT_AUTHORITY_KEY_ID => {
                    const FIELD: &str = "authorityKeyIdentifier";
                    let mut a = value(FIELD)?.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
                    if let Some(kid) = a.read_optional(tag::context_primitive(0)).field(FIELD)? {
                        self.authority_key_id = Some(kid.value);
                    }
                    // authorityCertIssuer [1] and authorityCertSerialNumber [2]: identify the
                    // issuer by name and serial, which JPKI's key generations make ambiguous;
                    // only the key identifier is used.
                    a.read_optional(tag::context_constructed(1)).field(FIELD)?;
                    a.read_optional(tag::context_primitive(2)).field(FIELD)?;
                    a.finish(FIELD).field(FIELD)?;
                }
                EXT_SUBJECT_KEY_ID => {
                    const FIELD: &str = "subjectKeyIdentifier";
                    self.subject_key_id = Some(value(FIELD)?.expect(tag::OCTET_STRING, FIELD).field(FIELD)?.value);
                }
                EXT_CRL_DISTRIBUTION_POINTS => self.parse_crl_distribution_points(&value("cRLDistributionPoints")?)?,
                EXT_AUTHORITY_INFO_ACCESS => self.parse_aia(&value("authorityInfoAccess")?)?,
                EXT_SUBJECT_ALT_NAME => self.basic_four_facts = parse_jpki_facts(&value("subjectAltName")?)?,
                EXT_ISSUER_ALT_NAME => {} // understood, nothing a verifier needs
                other => {
                    if ext.critical {
                        self.unknown_critical.push(der::oid_to_string(other));
                    }
                }
            }
        }
        Ok(())
    }

    fn parse_crl_distribution_points(&mut self, value: &Tlv<'a>) -> Result<(), CertError> {
        const FIELD: &str = "cRLDistributionPoints";
        let mut points = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
        while !points.is_empty() {
            let point = points.read_tag(tag::SEQUENCE, "DistributionPoint").field(FIELD)?;
            let mut p = point.reader();
            let Some(dp) = p.read_optional(tag::context_constructed(0)).field(FIELD)? else { continue };
            let mut d = dp.reader();
            let choice = d.read().field(FIELD)?;
            d.finish("distributionPoint").field(FIELD)?;
            match choice.tag {
                // fullName [0] GeneralNames
                t if t == tag::context_constructed(0) => {
                    let first = first_directory_name(&choice)?;
                    let mut names = choice.reader();
                    let lone = names.read().is_ok() && names.is_empty();
                    // One directory name (JPKI's case) is its own text: render it once.
                    let text = match (&first, lone) {
                        (Some(name), true) => name.clone(),
                        _ => general_names_text(&choice).map_err(|e| CertError { field: FIELD, what: e.to_string() })?,
                    };
                    if self.partition.is_none() {
                        self.partition = first;
                    }
                    self.crl_distribution_points.push(text);
                }
                // nameRelativeToCRLIssuer [1]: appended to the issuer's name, as a CRL's issuing
                // distribution point renders it.
                t if t == tag::context_constructed(1) => {
                    let rdn = names::rdn_to_string(&choice).field(FIELD)?;
                    let text = format!("{}, {rdn}", self.issuer);
                    if self.partition.is_none() {
                        self.partition = Some(text.clone());
                    }
                    self.crl_distribution_points.push(text);
                }
                t => return fail(FIELD, format!("unknown DistributionPointName choice 0x{t:02X}")),
            }
        }
        Ok(())
    }

    fn parse_aia(&mut self, value: &Tlv<'a>) -> Result<(), CertError> {
        const FIELD: &str = "authorityInfoAccess";
        let mut list = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
        while !list.is_empty() {
            let ad = list.read_tag(tag::SEQUENCE, "AccessDescription").field(FIELD)?;
            let mut a = ad.reader();
            let method = a.read_tag(tag::OID, "accessMethod").field(FIELD)?;
            let location = a.read().field(FIELD)?;
            a.finish("AccessDescription").field(FIELD)?;
            // uniformResourceIdentifier [6] IA5String; other location forms are not URLs.
            if location.tag != tag::context_primitive(6) {
                continue;
            }
            if !location.value.is_ascii() {
                return fail(FIELD, "URI is not IA5String (ASCII)");
            }
            let url = String::from_utf8_lossy(location.value).into_owned();
            match method.value {
                AD_OCSP => self.ocsp_urls.push(url),
                AD_CA_ISSUERS => self.ca_issuer_urls.push(url),
                _ => {}
            }
        }
        Ok(())
    }

    /// The signature scheme, or the reason it cannot be verified.
    pub fn scheme(&self) -> Result<Scheme, SignatureError> {
        self.scheme.clone()
    }

    /// True when the certificate says it is a CA (basicConstraints cA).
    pub fn is_ca(&self) -> bool {
        matches!(self.basic_constraints, Some((true, _)))
    }

    /// Whether `bits` (see [`usage`]) are all allowed. An absent keyUsage allows everything
    /// (RFC 5280 §4.2.1.3); callers that require the extension check for it themselves.
    pub fn allows(&self, bits: u16) -> bool {
        self.key_usage.map_or(true, |ku| ku & bits == bits)
    }

    /// The key's identifier: the subjectKeyIdentifier, or without one RFC 5280 §4.2.1.2
    /// method (1), the SHA-1 of the subjectPublicKey bits.
    pub fn key_identifier(&self) -> Vec<u8> {
        match self.subject_key_id {
            Some(id) => id.to_vec(),
            None => crate::signature::hash(crate::signature::HashAlg::Sha1, self.public_key_bits).as_ref().to_vec(),
        }
    }
}

/// (algorithm, the RSA key if it is one, the subjectPublicKey bits).
fn parse_spki<'a>(spki: &Tlv<'a>) -> Result<(String, Option<RsaKey<'a>>, &'a [u8]), CertError> {
    const FIELD: &str = "subjectPublicKeyInfo";
    let mut r = spki.reader();
    let alg = r.read_tag(tag::SEQUENCE, "algorithm").field(FIELD)?;
    let bits = bit_string_contents(&r.read().field(FIELD)?, FIELD)?;
    r.finish(FIELD).field(FIELD)?;
    let oid = alg.reader().read_tag(tag::OID, "algorithm").field(FIELD)?;
    let name = der::oid_to_string(oid.value);
    if oid.value != OID_RSA_ENCRYPTION && oid.value != OID_RSASSA_PSS {
        return Ok((name, None, bits));
    }
    let mut k = Reader::new(bits);
    let seq = k.read_tag(tag::SEQUENCE, "RSAPublicKey").field(FIELD)?;
    k.finish("RSAPublicKey").field(FIELD)?;
    let mut kr = seq.reader();
    let modulus = magnitude(&kr.read_tag(tag::INTEGER, "modulus").field(FIELD)?, "RSA modulus")?;
    let exponent = magnitude(&kr.read_tag(tag::INTEGER, "publicExponent").field(FIELD)?, "RSA exponent")?;
    kr.finish("RSAPublicKey").field(FIELD)?;
    if modulus.is_empty() || exponent.is_empty() {
        return fail(FIELD, "RSA modulus or exponent is zero");
    }
    Ok((name, Some(RsaKey { modulus, exponent }), bits))
}

fn parse_key_usage(value: &Tlv<'_>) -> Result<u16, CertError> {
    const FIELD: &str = "keyUsage";
    let t = value.expect(tag::BIT_STRING, FIELD).field(FIELD)?;
    let Some((&unused, bytes)) = t.value.split_first() else { return fail(FIELD, "empty BIT STRING") };
    if unused > 7 || bytes.len() > 2 || (bytes.is_empty() && unused != 0) {
        return fail(FIELD, "invalid BIT STRING");
    }
    // Bit 0 is the most significant bit of the first octet (X.690 §8.6.2).
    let mut bits = 0u16;
    for (i, &b) in bytes.iter().enumerate() {
        for j in 0..8 {
            if b & (0x80 >> j) != 0 {
                bits |= 1 << (i * 8 + j);
            }
        }
    }
    Ok(bits & 0x1FF)
}

fn parse_eku(value: &Tlv<'_>) -> Result<Vec<String>, CertError> {
    const FIELD: &str = "extendedKeyUsage";
    let mut r = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
    let mut out = Vec::new();
    while !r.is_empty() {
        let oid = r.read_tag(tag::OID, "KeyPurposeId").field(FIELD)?;
        out.push(match EKU_NAMES.iter().find(|(o, _)| *o == oid.value) {
            Some((_, name)) => name.to_string(),
            None => der::oid_to_string(oid.value),
        });
    }
    if out.is_empty() {
        return fail(FIELD, "empty SEQUENCE (RFC 5280 requires at least one purpose)");
    }
    Ok(out)
}

fn parse_basic_constraints(value: &Tlv<'_>) -> Result<(bool, Option<u64>), CertError> {
    const FIELD: &str = "basicConstraints";
    let mut r = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
    let ca = match r.read_optional(tag::BOOLEAN).field(FIELD)? {
        Some(b) => der::boolean(&b, "cA").field(FIELD)?,
        None => false,
    };
    let path_len = match r.read_optional(tag::INTEGER).field(FIELD)? {
        Some(n) => Some(der::small_integer(&n, "pathLenConstraint").field(FIELD)?),
        None => None,
    };
    r.finish(FIELD).field(FIELD)?;
    Ok((ca, path_len))
}

fn parse_policies(value: &Tlv<'_>) -> Result<Vec<String>, CertError> {
    const FIELD: &str = "certificatePolicies";
    let mut r = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
    let mut out = Vec::new();
    while !r.is_empty() {
        let info = r.read_tag(tag::SEQUENCE, "PolicyInformation").field(FIELD)?;
        let mut p = info.reader();
        let oid = p.read_tag(tag::OID, "policyIdentifier").field(FIELD)?;
        // policyQualifiers (CPS URI, user notice) carry nothing a verifier decides on.
        p.read_optional(tag::SEQUENCE).field(FIELD)?;
        p.finish("PolicyInformation").field(FIELD)?;
        out.push(der::oid_to_string(oid.value));
    }
    Ok(out)
}

fn first_directory_name(names_tlv: &Tlv<'_>) -> Result<Option<String>, CertError> {
    const FIELD: &str = "cRLDistributionPoints";
    let mut r = names_tlv.reader();
    while !r.is_empty() {
        let gn = r.read().field(FIELD)?;
        if gn.tag == tag::context_constructed(4) {
            let mut d = gn.reader();
            let name = d.read().field(FIELD)?;
            d.finish("directoryName").field(FIELD)?;
            return Ok(Some(names::name_to_string(&name).field(FIELD)?));
        }
    }
    Ok(None)
}

/// The JPKI otherNames of a subjectAltName (`otherName [0] { type-id, [0] EXPLICIT value }`);
/// None when there are none. Other GeneralName forms are skipped.
fn parse_jpki_facts(value: &Tlv<'_>) -> Result<Option<BasicFourFacts>, CertError> {
    const FIELD: &str = "subjectAltName";
    let mut r = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
    let mut facts = BasicFourFacts::default();
    let mut any = false;
    while !r.is_empty() {
        let gn = r.read().field(FIELD)?;
        if gn.tag != tag::context_constructed(0) {
            continue;
        }
        let mut o = gn.reader();
        let type_id = o.read_tag(tag::OID, "otherName type-id").field(FIELD)?;
        let wrapped = o.read_tag(tag::context_constructed(0), "otherName value").field(FIELD)?;
        o.finish("otherName").field(FIELD)?;
        let Some((&last, arc)) = type_id.value.split_last() else { continue };
        if arc != JPKI_FACTS_ARC {
            continue;
        }
        let Some(slot) = facts.slot(last) else { continue };
        let mut w = wrapped.reader();
        let inner = w.read().field(FIELD)?;
        w.finish("otherName value").field(FIELD)?;
        if slot.is_some() {
            return fail(FIELD, format!("JPKI otherName 1.2.392.200149.8.5.5.{last} appears twice"));
        }
        // The error names the type only: the value is personal data.
        *slot = Some(names::directory_string(&inner).map_err(|_| CertError {
            field: FIELD,
            what: format!("JPKI otherName 1.2.392.200149.8.5.5.{last} is not a valid string"),
        })?);
        any = true;
    }
    Ok(any.then_some(facts))
}

// ---------------------------------------------------------------------------------------------
// Path validation.

/// What a certificate is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Whatever its CA issues it for: the login rules for an authentication CA, the signing
    /// rules for a signing CA, digitalSignature or nonRepudiation for any other CA.
    Any,
    /// Logging in with an authentication certificate (利用者証明用電子証明書).
    Login,
    /// Signing a document with a signing certificate (署名用電子証明書).
    Signature,
}

/// The JPKI CA a trusted key belongs to (the trust store's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    Authentication,
    Signing,
    Other,
}

impl CaKind {
    pub fn from_name(name: Option<&str>) -> CaKind {
        match name {
            Some("authentication") => CaKind::Authentication,
            Some("signing") => CaKind::Signing,
            _ => CaKind::Other,
        }
    }
}

/// Outcome codes of [`Anchors::validate`], in order of precedence. `MALFORMED`, `UNTRUSTED` and
/// `BAD_SIGNATURE` are final: nothing about the certificate can be believed, so revocation is
/// not looked up. `EXPIRED`, `NOT_YET_VALID` and `WRONG_USAGE` are about a certificate that
/// did chain to a trusted key: a revocation found in the store outranks them (see
/// `jpki_fast.certs` for why).
pub mod outcome {
    pub const OK: u8 = 0;
    pub const MALFORMED: u8 = 1;
    pub const UNTRUSTED: u8 = 2;
    pub const BAD_SIGNATURE: u8 = 3;
    pub const EXPIRED: u8 = 4;
    pub const NOT_YET_VALID: u8 = 5;
    pub const WRONG_USAGE: u8 = 6;
    pub const NAMES: [&str; 7] = ["ok", "malformed", "untrusted", "bad_signature", "expired", "not_yet_valid", "wrong_usage"];
}

/// Number of schemes [`scheme_slot`] distinguishes.
const SCHEME_SLOTS: usize = 8;

/// A dense index for a scheme, for per-scheme key caches.
pub fn scheme_slot(s: Scheme) -> usize {
    let h = match s.hash {
        HashAlg::Sha1 => 0,
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    };
    match s.padding {
        Padding::Pkcs1v15 => h,
        Padding::Pss => 4 + h,
    }
}

/// One trusted CA key.
pub struct Anchor {
    pub key_id: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub spki: Vec<u8>,
    pub kind: CaKind,
    /// The JPKI test hierarchy (`O=JPKI-TEST`).
    pub test: bool,
    /// keyUsage allows keyCertSign (or is absent).
    pub may_sign_certificates: bool,
    /// The key parsed for each scheme on first use, then shared by every thread.
    keys: [OnceLock<Result<ParsedPublicKey, SignatureError>>; SCHEME_SLOTS],
}

impl Anchor {
    /// The key for `scheme`, parsed once.
    pub fn key(&self, scheme: Scheme) -> Result<&ParsedPublicKey, SignatureError> {
        self.keys[scheme_slot(scheme)].get_or_init(|| signature::parse_key(scheme, &self.spki)).as_ref().map_err(Clone::clone)
    }
}

/// The trusted CA keys, looked up by key identifier.
pub struct Anchors {
    pub list: Vec<Anchor>,
    by_key_id: HashMap<Vec<u8>, usize>,
}

/// What [`Anchors::validate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// One of [`outcome`].
    pub outcome: u8,
    /// Why, for every outcome but `OK`; never holds personal data.
    pub detail: Option<String>,
    /// The issuing anchor, once identified.
    pub anchor: Option<usize>,
}

impl Anchors {
    /// `anchors`: `(key_id, certificate DER, kind, test_hierarchy)` per trusted key, in the
    /// trust store's order (the index is the issuer row). Fails naming the anchor whose
    /// certificate does not parse.
    pub fn new(anchors: Vec<(Vec<u8>, Vec<u8>, CaKind, bool)>) -> Result<Anchors, String> {
        let mut list = Vec::with_capacity(anchors.len());
        let mut by_key_id = HashMap::new();
        for (i, (key_id, cert_der, kind, test)) in anchors.into_iter().enumerate() {
            let cert = Certificate::parse(&cert_der).map_err(|e| format!("trusted CA #{i}: {e}"))?;
            by_key_id.entry(key_id.clone()).or_insert(i);
            list.push(Anchor {
                key_id,
                subject_der: cert.subject_der.to_vec(),
                spki: cert.spki.to_vec(),
                kind,
                test,
                may_sign_certificates: cert.allows(usage::KEY_CERT_SIGN),
                keys: Default::default(),
            });
        }
        Ok(Anchors { list, by_key_id })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Checks a parsed certificate at `now` for `purpose`. The first failing check decides,
    /// in the order of [`outcome`]'s precedence.
    pub fn validate(&self, cert: &Certificate<'_>, now: i64, purpose: Purpose, allow_test: bool) -> Validation {
        let done = |outcome: u8, detail: String, anchor: Option<usize>| Validation { outcome, detail: Some(detail), anchor };
        if let Some(oid) = cert.unknown_critical.first() {
            return done(outcome::MALFORMED, format!("unsupported critical extension {oid} (RFC 5280 §4.2: must be rejected)"), None);
        }
        let scheme = match &cert.scheme {
            // SHA-1 certificate signatures can be forged by chosen-prefix collisions; JPKI has
            // signed with SHA-256 since its 2015 generation.
            Ok(s) if s.hash == HashAlg::Sha1 => {
                return done(outcome::BAD_SIGNATURE, format!("{} is not accepted for certificates (SHA-1 collisions)", s.name()), None)
            }
            Ok(s) => *s,
            Err(e) => return done(outcome::BAD_SIGNATURE, format!("cannot verify the certificate's signature: {e}"), None),
        };
        // The issuer: by key identifier (JPKI's key generations share one name). Without an
        // AKI, every trusted key with the issuer's name is tried.
        let anchor = match cert.authority_key_id {
            Some(kid) => match self.by_key_id.get(kid) {
                Some(&i) => {
                    if self.list[i].subject_der != cert.issuer_der && !same_name(&self.list[i].subject_der, cert.issuer_der) {
                        return done(
                            outcome::UNTRUSTED,
                            format!("issuer name differs from the subject of the trusted CA key {}", names::hex_upper(kid)),
                            None,
                        );
                    }
                    if let Err(e) = self.verify_with(i, scheme, cert) {
                        return done(outcome::BAD_SIGNATURE, e, Some(i));
                    }
                    i
                }
                None => {
                    return done(
                        outcome::UNTRUSTED,
                        format!("issuing CA key {} is not in the trust store", names::hex_upper(kid)),
                        None,
                    )
                }
            },
            None => {
                let candidates: Vec<usize> = (0..self.list.len())
                    .filter(|&i| self.list[i].subject_der == cert.issuer_der || same_name(&self.list[i].subject_der, cert.issuer_der))
                    .collect();
                if candidates.is_empty() {
                    return done(outcome::UNTRUSTED, "no trusted CA key has the issuer's name".into(), None);
                }
                // Without a key identifier a failed signature cannot tell a tampered certificate
                // from one issued by a key the trust store lacks (JPKI's generations share the
                // name): the issuer is not established, so the certificate is untrusted.
                match candidates.iter().copied().find(|&i| self.verify_with(i, scheme, cert).is_ok()) {
                    Some(i) => i,
                    None => {
                        return done(
                            outcome::UNTRUSTED,
                            "no authorityKeyIdentifier, and no trusted CA key of the issuer's name verifies the signature".into(),
                            None,
                        )
                    }
                }
            }
        };
        let a = &self.list[anchor];
        if a.test && !allow_test {
            return done(outcome::UNTRUSTED, "issued by the JPKI test hierarchy (O=JPKI-TEST), which is not allowed".into(), Some(anchor));
        }
        // notBefore and notAfter are both inclusive (RFC 5280 §4.1.2.5).
        if now > cert.not_after {
            return done(outcome::EXPIRED, format!("expired at {}", iso(cert.not_after)), Some(anchor));
        }
        if now < cert.not_before {
            return done(outcome::NOT_YET_VALID, format!("valid from {} only", iso(cert.not_before)), Some(anchor));
        }
        if let Some(why) = usage_problem(cert, a.kind, purpose) {
            return done(outcome::WRONG_USAGE, why, Some(anchor));
        }
        Validation { outcome: outcome::OK, detail: None, anchor: Some(anchor) }
    }

    /// Verifies the certificate's signature over its exact tbsCertificate bytes with anchor `i`.
    fn verify_with(&self, i: usize, scheme: Scheme, cert: &Certificate<'_>) -> Result<(), String> {
        let a = &self.list[i];
        if !a.may_sign_certificates {
            return Err(format!("trusted CA key {} may not sign certificates (keyUsage lacks keyCertSign)", names::hex_upper(&a.key_id)));
        }
        let key = a.key(scheme).map_err(|e| format!("trusted CA key {}: {e}", names::hex_upper(&a.key_id)))?;
        signature::verify_message(key, cert.tbs, cert.signature).map_err(|_| {
            format!(
                "certificate signature ({}) does not verify with the CA key {}: tampered or forged certificate",
                scheme.name(),
                names::hex_upper(&a.key_id)
            )
        })
    }
}

/// Names compare by their text form when the DER differs (e.g. another string type for the
/// same value); both must parse.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    match (names::name_der_to_string(a), names::name_der_to_string(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Why a certificate may not be used for `purpose` under a CA of `kind`, or None.
fn usage_problem(cert: &Certificate<'_>, kind: CaKind, purpose: Purpose) -> Option<String> {
    if cert.is_ca() {
        return Some("a CA certificate, not an end-entity certificate".into());
    }
    let effective = match (purpose, kind) {
        (Purpose::Any, CaKind::Authentication) => Purpose::Login,
        (Purpose::Any, CaKind::Signing) => Purpose::Signature,
        (p, _) => p,
    };
    match (effective, kind) {
        (Purpose::Login, CaKind::Signing) => return Some("a signing certificate cannot be used to log in".into()),
        (Purpose::Signature, CaKind::Authentication) => {
            return Some("an authentication certificate cannot sign documents".into())
        }
        _ => {}
    }
    // JPKI end-entity certificates always carry a critical keyUsage: its absence is refused
    // rather than read as "any usage".
    let Some(ku) = cert.key_usage else { return Some("no keyUsage extension".into()) };
    match effective {
        Purpose::Login => {
            if ku & usage::DIGITAL_SIGNATURE == 0 {
                return Some("keyUsage lacks digitalSignature (required to log in)".into());
            }
            if let Some(eku) = &cert.extended_key_usage {
                if !eku.iter().any(|e| e == "clientAuth" || e == "anyExtendedKeyUsage") {
                    return Some("extendedKeyUsage lacks clientAuth (required to log in)".into());
                }
            }
        }
        Purpose::Signature | Purpose::Any => {
            if ku & (usage::DIGITAL_SIGNATURE | usage::NON_REPUDIATION) == 0 {
                return Some("keyUsage has neither digitalSignature nor nonRepudiation (required to sign)".into());
            }
        }
    }
    None
}

/// `2026-11-26T00:00:00Z`.
pub fn iso(t: i64) -> String {
    let (y, m, d) = crate::synth::civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("../../tests/vectors/jpki/auth_cert_sample.der");

    #[test]
    fn parses_the_real_authentication_certificate() {
        let c = Certificate::parse(REAL).unwrap();
        assert_eq!(c.version, 3);
        assert_eq!(names::hex_upper(c.serial), "054CFCD8");
        assert_eq!(c.scheme, Ok(Scheme::RSA_PKCS1_SHA256));
        assert_eq!(c.issuer, "C=JP, O=JPKI, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems");
        assert_eq!(
            c.partition.as_deref(),
            Some("C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP")
        );
        assert_eq!(names::hex_upper(c.authority_key_id.unwrap()), "8CD5586A891485E559379B7E29D410CFD28B3593");
        assert_eq!(names::hex_upper(c.subject_key_id.unwrap()), "2165788AF5575F5CAE8818547FC98320A923D333");
        assert_eq!(c.ocsp_urls, vec!["http://ocspauthnorm.jpki.go.jp".to_string()]);
        assert_eq!(c.key_usage, Some(usage::DIGITAL_SIGNATURE));
        assert_eq!(c.extended_key_usage, Some(vec!["clientAuth".to_string()]));
        assert_eq!(c.policies, vec!["1.2.392.200149.8.5.1.3.30".to_string()]);
        assert_eq!(c.rsa.unwrap().bits(), 2048);
        assert_eq!(c.rsa.unwrap().exponent, &[0x01, 0x00, 0x01]);
        assert!(c.unknown_critical.is_empty());
        assert!(c.basic_four_facts.is_none());
        assert_eq!(iso(c.not_after), "2027-09-23T14:59:59Z");
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        for n in 0..REAL.len() {
            assert!(Certificate::parse(&REAL[..n]).is_err(), "prefix of {n} bytes parsed");
        }
    }

    #[test]
    fn every_single_byte_corruption_parses_or_errs_without_panicking() {
        let mut buf = REAL.to_vec();
        for i in 0..buf.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                buf[i] ^= flip;
                let _ = Certificate::parse(&buf);
                buf[i] ^= flip;
            }
        }
    }

    #[test]
    fn refuses_trailing_data_and_oversize_input() {
        let mut buf = REAL.to_vec();
        buf.push(0);
        assert!(Certificate::parse(&buf).unwrap_err().what.contains("trailing"));
        let big = vec![0x30u8; MAX_CERTIFICATE_SIZE + 1];
        assert_eq!(Certificate::parse(&big).unwrap_err().field, "certificate");
    }

    #[test]
    fn pem_is_decoded() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(REAL);
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        assert_eq!(decode(pem.as_bytes()).unwrap().as_ref(), REAL);
        let two = format!("{pem}{pem}");
        assert!(decode(two.as_bytes()).unwrap_err().what.contains("more than one"));
        assert_eq!(decode(REAL).unwrap().as_ref(), REAL);
    }

    #[test]
    fn key_usage_bits() {
        let ku = |bytes: &[u8]| parse_key_usage(&Reader::new(bytes).read().unwrap());
        assert_eq!(ku(&[0x03, 0x02, 0x07, 0x80]).unwrap(), usage::DIGITAL_SIGNATURE);
        assert_eq!(ku(&[0x03, 0x02, 0x06, 0xC0]).unwrap(), usage::DIGITAL_SIGNATURE | usage::NON_REPUDIATION);
        assert_eq!(ku(&[0x03, 0x03, 0x07, 0x00, 0x80]).unwrap(), 1 << 8);
        assert!(ku(&[0x03, 0x01, 0x07]).is_err());
    }

    #[test]
    fn the_real_certificate_is_untrusted_without_its_generation() {
        let anchors = Anchors::new(vec![]).unwrap();
        let c = Certificate::parse(REAL).unwrap();
        let v = anchors.validate(&c, 1_795_651_200, Purpose::Login, false);
        assert_eq!(v.outcome, outcome::UNTRUSTED);
        assert!(v.detail.unwrap().contains("8CD5586A"));
    }

    #[test]
    fn basic_four_facts_debug_is_redacted() {
        let f = BasicFourFacts { name: Some("x".into()), ..Default::default() };
        assert!(!format!("{f:?}").contains('x'));
    }
}
