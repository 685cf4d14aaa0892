//! X.509 v3 certificates (RFC 5280 §4): a strict parser. Path validation against the trusted
//! keys is in [`crate::validate`].
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
//! Every function returns an error instead of panicking; input over [`MAX_CERTIFICATE_SIZE`]
//! is refused before it is read.

use std::borrow::Cow;
use std::fmt;

use crate::der::{self, tag, DerError, Reader, Tlv};
use crate::names;
use crate::pem::{self, PemError};
use crate::serial::MAX_SERIAL_OCTETS;
use crate::signature::{self, Scheme, SignatureError};

/// Certificates larger than this are refused unread (JPKI certificates are about 1.5 KB; the
/// largest ordinary certificates a few KB).
pub const MAX_CERTIFICATE_SIZE: usize = 64 * 1024;

/// Why a certificate could not be parsed: the field at fault and what is wrong with it. Never
/// carries field values (a certificate may hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct CertError {
    pub field: &'static str,
    pub kind: CertErrorKind,
}

/// What is wrong with a certificate field, a variant per failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertErrorKind {
    #[error("{0}")]
    Der(DerError),
    #[error("{0}")]
    Pem(PemError),
    #[error("no CERTIFICATE block")]
    NoCertificateInPem,
    #[error("more than one certificate; give one certificate per item")]
    SeveralCertificatesInPem,
    #[error("empty input")]
    Empty,
    #[error("{0} bytes exceeds the {MAX_CERTIFICATE_SIZE}-byte limit")]
    TooLarge(usize),
    #[error("{0} bytes of trailing data")]
    TrailingData(usize),
    #[error("unknown version {0}")]
    UnknownVersion(u64),
    #[error("v1 encoded explicitly (DER omits the DEFAULT value)")]
    ExplicitDefaultVersion,
    #[error("{0} octets exceeds RFC 5280's 20-octet limit")]
    SerialTooLong(usize),
    #[error("differs from tbsCertificate.signature (RFC 5280 §4.1.1.2)")]
    AlgorithmMismatch,
    #[error("present in a version {0} certificate")]
    NotInVersion(u8),
    #[error("extension {0} appears twice")]
    DuplicateExtension(String),
    #[error("BIT STRING has unused bits or is empty")]
    BitStringNotOctets,
    #[error("empty BIT STRING")]
    EmptyBitString,
    #[error("invalid BIT STRING")]
    InvalidBitString,
    #[error("RSA modulus or exponent is zero")]
    ZeroRsaKey,
    #[error("empty SEQUENCE (RFC 5280 requires at least one purpose)")]
    NoKeyPurpose,
    #[error("unknown DistributionPointName choice 0x{0:02X}")]
    UnknownDistributionPointChoice(u8),
    #[error("URI is not IA5String (ASCII)")]
    NonAsciiUri,
    /// The value is personal data: only the otherName's last arc is named.
    #[error("JPKI otherName 1.2.392.200149.8.5.5.{0} appears twice")]
    DuplicateJpkiFact(u8),
    #[error("JPKI otherName 1.2.392.200149.8.5.5.{0} is not a valid string")]
    InvalidJpkiFact(u8),
}

fn fail<T>(field: &'static str, kind: CertErrorKind) -> Result<T, CertError> {
    Err(CertError { field, kind })
}

/// Attaches the field name to a DER error.
trait Field<T> {
    fn field(self, field: &'static str) -> Result<T, CertError>;
}

impl<T> Field<T> for der::Result<T> {
    fn field(self, field: &'static str) -> Result<T, CertError> {
        self.map_err(|e| CertError { field, kind: CertErrorKind::Der(e) })
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
    /// The serialNumber INTEGER's content octets, exactly (minimal two's complement, 1 to 20
    /// octets; negative when the top bit is set): the serial's identity ([`crate::serial`]).
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
        return fail("certificate", CertErrorKind::TooLarge(input.len()));
    }
    if !pem::looks_like_pem(input) {
        return Ok(Cow::Borrowed(input));
    }
    let blocks = pem::blocks(input).map_err(|e| CertError { field: "PEM", kind: CertErrorKind::Pem(e) })?;
    let mut certs = blocks.into_iter().filter(|(label, _)| is_certificate_label(label));
    match (certs.next(), certs.next()) {
        (Some((_, der_bytes)), None) => Ok(Cow::Owned(der_bytes)),
        (None, _) => fail("PEM", CertErrorKind::NoCertificateInPem),
        (Some(_), Some(_)) => fail("PEM", CertErrorKind::SeveralCertificatesInPem),
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
        _ => fail(field, CertErrorKind::BitStringNotOctets),
    }
}

impl<'a> Certificate<'a> {
    /// Parses one DER certificate. Trailing data, a version below what the fields need, and
    /// malformed extensions are errors naming the field.
    pub fn parse(input: &'a [u8]) -> Result<Certificate<'a>, CertError> {
        if input.is_empty() {
            return fail("certificate", CertErrorKind::Empty);
        }
        if input.len() > MAX_CERTIFICATE_SIZE {
            return fail("certificate", CertErrorKind::TooLarge(input.len()));
        }
        let mut outer = Reader::new(input);
        let cert = outer.read_tag(tag::SEQUENCE, "Certificate").field("certificate")?;
        if !outer.is_empty() {
            return fail("certificate", CertErrorKind::TrailingData(input.len() - cert.raw.len()));
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
                    // DER never encodes a DEFAULT value (X.690 §11.5): v1 is the absent field.
                    0 => return fail("version", CertErrorKind::ExplicitDefaultVersion),
                    1..=2 => n as u8 + 1,
                    other => return fail("version", CertErrorKind::UnknownVersion(other + 1)),
                }
            }
            None => 1,
        };
        let serial_tlv = t.read_tag(tag::INTEGER, "serialNumber").field("serialNumber")?;
        // Kept exactly, negative values included (RFC 5280 §4.1.2.2 asks verifiers to handle
        // them gracefully); non-minimal encodings are refused by the DER reader.
        let serial = der::integer(&serial_tlv, "serialNumber").field("serialNumber")?;
        if serial.len() > MAX_SERIAL_OCTETS {
            return fail("serialNumber", CertErrorKind::SerialTooLong(serial.len()));
        }
        let inner_alg = t.read_tag(tag::SEQUENCE, "signature").field("signature")?;
        if inner_alg.raw != outer_alg.raw {
            return fail("signatureAlgorithm", CertErrorKind::AlgorithmMismatch);
        }
        let scheme = signature::parse_algorithm(&inner_alg);
        if let Err(SignatureError::Malformed(e)) = &scheme {
            return fail("signatureAlgorithm", CertErrorKind::Der(e.clone()));
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
                return fail(field, CertErrorKind::NotInVersion(1));
            }
        }
        if let Some(exts) = t.read_optional(tag::context_constructed(3)).field("extensions")? {
            if version < 3 {
                return fail("extensions", CertErrorKind::NotInVersion(version));
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
                return fail("extensions", CertErrorKind::DuplicateExtension(der::oid_to_string(ext.oid)));
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
                        _ => names::general_names_text(&choice).field(FIELD)?,
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
                t => return fail(FIELD, CertErrorKind::UnknownDistributionPointChoice(t)),
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
                return fail(FIELD, CertErrorKind::NonAsciiUri);
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
        return fail(FIELD, CertErrorKind::ZeroRsaKey);
    }
    Ok((name, Some(RsaKey { modulus, exponent }), bits))
}

fn parse_key_usage(value: &Tlv<'_>) -> Result<u16, CertError> {
    const FIELD: &str = "keyUsage";
    let t = value.expect(tag::BIT_STRING, FIELD).field(FIELD)?;
    let Some((&unused, bytes)) = t.value.split_first() else { return fail(FIELD, CertErrorKind::EmptyBitString) };
    if unused > 7 || bytes.len() > 2 || (bytes.is_empty() && unused != 0) {
        return fail(FIELD, CertErrorKind::InvalidBitString);
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
        return fail(FIELD, CertErrorKind::NoKeyPurpose);
    }
    Ok(out)
}

fn parse_basic_constraints(value: &Tlv<'_>) -> Result<(bool, Option<u64>), CertError> {
    const FIELD: &str = "basicConstraints";
    let mut r = value.expect(tag::SEQUENCE, FIELD).field(FIELD)?.reader();
    let ca = der::default_false(r.read_optional(tag::BOOLEAN).field(FIELD)?, "cA").field(FIELD)?;
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
            return fail(FIELD, CertErrorKind::DuplicateJpkiFact(last));
        }
        // The error names the type only: the value is personal data.
        *slot = Some(names::directory_string(&inner).map_err(|_| CertError { field: FIELD, kind: CertErrorKind::InvalidJpkiFact(last) })?);
        any = true;
    }
    Ok(any.then_some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("../../../tests/vectors/jpki/auth_cert_sample.der");

    #[test]
    fn parses_the_real_authentication_certificate() {
        let c = Certificate::parse(REAL).unwrap();
        assert_eq!(c.version, 3);
        assert_eq!(names::hex_upper(c.serial), "054CFCD8");
        assert_eq!(crate::serial::SerialKey::from_integer(c.serial).unwrap().to_hex(), "054CFCD8");
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
        assert_eq!(crate::time::iso(c.not_after), "2027-09-23T14:59:59Z");
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
        assert_eq!(Certificate::parse(&buf).unwrap_err().kind, CertErrorKind::TrailingData(1));
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
        assert_eq!(decode(two.as_bytes()).unwrap_err().kind, CertErrorKind::SeveralCertificatesInPem);
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
    fn basic_four_facts_debug_is_redacted() {
        let f = BasicFourFacts { name: Some("x".into()), ..Default::default() };
        assert!(!format!("{f:?}").contains('x'));
    }
}
