//! X.509 certificate revocation lists (RFC 5280 §5), parsed in one streaming pass.
//!
//! [`Crl::parse`] reads the header (everything but the revoked entries) and remembers where the
//! `revokedCertificates` list lies; [`Crl::for_each_entry`] then walks the entries in place,
//! straight out of the (memory-mapped) input, without materialising per-entry objects. This lets
//! a caller hash `tbsCertList` on one core while the entries are walked on another.
//!
//! Refused, with an error naming the cause: delta CRLs (§5.2.4), indirect CRLs (§5.2.5,
//! §5.3.3), CRLs partitioned by reason (`onlySomeReasons`), unknown critical extensions on the
//! CRL or an entry (§5.2, §5.3), extensions in a v1 CRL, an explicitly encoded v1 version,
//! `removeFromCRL` in a full CRL, reason codes RFC 5280 does not define, empty, non-minimal or
//! over-long (more than 20 content octets) serials, SHA-1 signatures, and trailing data. Every
//! DER rule of [`crate::der`] applies (shortest lengths, minimal INTEGERs, `Z` times in whole
//! seconds). Negative serials are kept exactly, as the distinct serials they are
//! ([`crate::serial`]). The policies are listed in README "Input policies".

use crate::der::{self, read_extension, tag, DerError, Reader, Tlv};
use crate::names;
use crate::pem::{self, PemError};
use crate::serial::MAX_SERIAL_OCTETS;
use crate::signature::{self, Scheme, SignatureError};
use crate::trust::IssuerError;

/// Why a CRL was refused, a variant per failure. [`CrlError::kind`] gives a stable
/// machine-readable name (several variants share one); the text names the cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrlError {
    /// Not valid DER, or not shaped like a CertificateList.
    #[error("malformed CRL: {0}")]
    Der(DerError),
    #[error("malformed CRL: {0} bytes of trailing data after the CRL")]
    TrailingData(usize),
    #[error("malformed CRL: crlExtensions present in a v1 CRL")]
    ExtensionsInV1,
    #[error("malformed CRL: version v1 encoded explicitly (RFC 5280 §5.1.2.1: when present, the version is v2)")]
    ExplicitV1,
    #[error("malformed CRL: extension {0} appears twice")]
    DuplicateExtension(String),
    #[error("malformed CRL: cRLNumber longer than 20 octets")]
    CrlNumberTooLong,
    #[error("malformed CRL: unknown DistributionPointName choice 0x{0:02X}")]
    UnknownDistributionPointChoice(u8),
    #[error("malformed CRL: IssuingDistributionPoint asserts both onlyContainsUserCerts and onlyContainsCACerts")]
    ContradictoryScope,
    #[error("malformed CRL: invalid PEM: {0}")]
    Pem(PemError),
    #[error("malformed CRL: more than one CRL in one PEM file")]
    SeveralCrlsInPem,
    /// The file holds no CRL.
    #[error("not a CRL: the file is empty")]
    Empty,
    #[error("not a CRL: PEM file without a '-----BEGIN X509 CRL-----' block")]
    NoCrlInPem,
    /// The file is larger than the configured limit (README "Resource limits").
    #[error("CRL file of {bytes} bytes exceeds the limit of {limit} bytes (max_crl_bytes)")]
    FileTooLarge { bytes: u64, limit: u64 },
    /// The CRL lists more entries than the configured limit.
    #[error("CRL has more than {limit} entries, the limit (max_crl_entries)")]
    TooManyEntries { limit: usize },
    /// The file could not be read (`action`: open, stat, map; `error`: the system's words).
    #[error("not a CRL: cannot {action}: {error}")]
    Io { action: &'static str, error: String },
    /// A delta CRL (deltaCRLIndicator present): only complete CRLs are accepted.
    #[error("delta CRL (deltaCRLIndicator present): only complete CRLs are accepted")]
    DeltaCrl,
    /// A critical extension this engine does not understand, on the CRL or on an entry.
    #[error("unknown critical CRL extension {oid}")]
    UnknownCriticalExtension { oid: String },
    #[error("unknown critical extension {oid} on revoked entry #{entry}")]
    UnknownCriticalEntryExtension { oid: String, entry: usize },
    #[error("unsupported CRL: CRL version {0}")]
    UnsupportedVersion(u64),
    #[error("unsupported CRL: CRL partitioned by reason (onlySomeReasons)")]
    PartitionedByReason,
    #[error("unsupported CRL: indirect CRL")]
    IndirectCrl,
    #[error("unsupported CRL: attribute-certificate CRL")]
    AttributeCertificateCrl,
    #[error("unsupported CRL: certificateIssuer entry extension (indirect CRL)")]
    CertificateIssuerEntry,
    /// One revoked entry is invalid.
    #[error("revoked entry #{index}: {problem}")]
    InvalidEntry { index: usize, problem: EntryProblem },
    /// The signature algorithm, or the signature itself, is not acceptable.
    #[error("{}", signature_message(.0))]
    Signature(SignatureError),
    /// SHA-1 signatures are refused, as for certificates (chosen-prefix collisions).
    #[error("unsupported signature algorithm {0}: SHA-1 is not accepted for CRLs (SHA-1 collisions), as for certificates")]
    Sha1Signature(String),
    /// The inner and outer signature algorithms differ (§5.1.1.2).
    #[error("signatureAlgorithm differs from tbsCertList.signature (RFC 5280 §5.1.1.2)")]
    AlgorithmMismatch,
    /// No trusted CA key may have signed the CRL ([`crate::trust`]'s rule).
    #[error("CRL from an unknown CA: {problem} (CRL issuer: {issuer})")]
    UnknownIssuer { issuer: String, problem: IssuerError },
    /// The CA key that signed it may not sign CRLs.
    #[error("CA '{alias}' may not sign CRLs (its keyUsage lacks cRLSign)")]
    IssuerNotAllowed { alias: String },
}

fn signature_message(e: &SignatureError) -> String {
    match e {
        SignatureError::Invalid => "signature does not verify with the issuing CA's key (wrong signature or tampered CRL)".into(),
        other => other.to_string(),
    }
}

/// What is wrong with one revoked entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("{0}")]
    Der(DerError),
    #[error("expected SEQUENCE, found tag 0x{0:02X}")]
    NotASequence(u8),
    #[error("empty serial number")]
    EmptySerial,
    #[error("serial number INTEGER not in its minimal DER encoding (a redundant leading 00 or FF octet)")]
    NonMinimalSerial,
    #[error("serial number of {0} octets exceeds RFC 5280's 20-octet limit")]
    SerialTooLong(usize),
    #[error("crlEntryExtensions present in a v1 CRL")]
    ExtensionsInV1,
    #[error("reasonCode appears twice")]
    DuplicateReason,
    #[error("invalidityDate appears twice")]
    DuplicateInvalidityDate,
    #[error("removeFromCRL is only allowed in delta CRLs")]
    RemoveFromCrl,
    #[error("reasonCode {0} is not defined by RFC 5280")]
    UndefinedReason(u64),
    /// The index stores revocation times as u32 seconds.
    #[error("revocationDate outside 1970-01-01..2106-02-07, which this engine stores")]
    DateOutOfRange,
}

impl CrlError {
    /// The stable machine-readable name of the failure.
    pub fn kind(&self) -> &'static str {
        use CrlError::*;
        match self {
            Der(_)
            | TrailingData(_)
            | ExtensionsInV1
            | ExplicitV1
            | DuplicateExtension(_)
            | CrlNumberTooLong
            | UnknownDistributionPointChoice(_)
            | ContradictoryScope
            | Pem(_)
            | SeveralCrlsInPem => "malformed",
            Empty | NoCrlInPem | Io { .. } => "not_a_crl",
            FileTooLarge { .. } | TooManyEntries { .. } => "limit_exceeded",
            DeltaCrl => "delta_crl",
            UnknownCriticalExtension { .. } | UnknownCriticalEntryExtension { .. } => "unknown_critical_extension",
            UnsupportedVersion(_) | PartitionedByReason | IndirectCrl | AttributeCertificateCrl | CertificateIssuerEntry => "unsupported",
            InvalidEntry { .. } => "invalid_entry",
            Signature(e) if e.is_unsupported() => "unsupported_algorithm",
            Sha1Signature(_) => "unsupported_algorithm",
            Signature(_) => "bad_signature",
            AlgorithmMismatch => "algorithm_mismatch",
            UnknownIssuer { .. } => "unknown_issuer",
            IssuerNotAllowed { .. } => "issuer_not_allowed",
        }
    }
}

impl From<DerError> for CrlError {
    fn from(e: DerError) -> Self {
        CrlError::Der(e)
    }
}

impl From<DerError> for EntryProblem {
    fn from(e: DerError) -> Self {
        EntryProblem::Der(e)
    }
}

/// RFC 5280 §5.3.1 reason codes by value (7 is unused).
pub const REASON_NAMES: [&str; 11] = [
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
];

/// Stored in place of a reason code when the entry has none.
pub const NO_REASON: u8 = 0xFF;

/// The issuing distribution point extension (§5.2.5), as far as it is supported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuingDistributionPoint {
    /// The distribution point's name as text: a directory name (JPKI) or URI(s).
    pub name: Option<String>,
    pub only_user_certs: bool,
    pub only_ca_certs: bool,
}

/// One revoked entry, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The serial: the userCertificate INTEGER's content octets, exactly (minimal two's
    /// complement, 1 to 20 octets; negative when the top bit is set). See [`crate::serial`].
    pub serial: &'a [u8],
    pub revocation_date: i64,
    /// Reason code, or [`NO_REASON`].
    pub reason: u8,
    pub invalidity_date: Option<i64>,
}

/// A parsed CRL header plus the location of its entries.
#[derive(Debug, Clone)]
pub struct Crl<'a> {
    /// The exact `tbsCertList` encoding: what the signature covers.
    pub tbs: &'a [u8],
    /// 1 for v1, 2 for v2.
    pub version: u8,
    pub scheme: Scheme,
    pub issuer_der: &'a [u8],
    pub issuer: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub authority_key_id: Option<&'a [u8]>,
    /// CRL number magnitude (leading zeros removed).
    pub crl_number: Option<&'a [u8]>,
    pub idp: Option<IssuingDistributionPoint>,
    pub signature: &'a [u8],
    revoked: Option<Tlv<'a>>,
}

const EXT_AKI: &[u8] = &[0x55, 0x1D, 0x23];
const EXT_ISSUER_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x12];
const EXT_CRL_NUMBER: &[u8] = &[0x55, 0x1D, 0x14];
const EXT_DELTA_INDICATOR: &[u8] = &[0x55, 0x1D, 0x1B];
const EXT_IDP: &[u8] = &[0x55, 0x1D, 0x1C];
const EXT_FRESHEST_CRL: &[u8] = &[0x55, 0x1D, 0x2E];
const EXT_EXPIRED_CERTS_ON_CRL: &[u8] = &[0x55, 0x1D, 0x3C];
const EXT_AIA: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
const ENTRY_EXT_REASON: &[u8] = &[0x55, 0x1D, 0x15];
const ENTRY_EXT_HOLD_INSTRUCTION: &[u8] = &[0x55, 0x1D, 0x17];
const ENTRY_EXT_INVALIDITY_DATE: &[u8] = &[0x55, 0x1D, 0x18];
const ENTRY_EXT_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1D, 0x1D];

impl<'a> Crl<'a> {
    /// Parses the CertificateList structure and its header. Entries are validated later, by
    /// [`Crl::for_each_entry`].
    pub fn parse(input: &'a [u8]) -> Result<Crl<'a>, CrlError> {
        if input.is_empty() {
            return Err(CrlError::Empty);
        }
        let mut outer = Reader::new(input);
        let cert_list = outer.read_tag(tag::SEQUENCE, "CertificateList")?;
        if !outer.is_empty() {
            return Err(CrlError::TrailingData(input.len() - cert_list.raw.len()));
        }
        let mut cl = cert_list.reader();
        let tbs = cl.read_tag(tag::SEQUENCE, "tbsCertList")?;
        let outer_alg = cl.read_tag(tag::SEQUENCE, "signatureAlgorithm")?;
        let sig = cl.read()?;
        cl.finish("signatureValue")?;
        let signature = signature::signature_bits(&sig)?;

        let mut t = tbs.reader();
        let version = match t.read_optional(tag::INTEGER)? {
            Some(v) => match der::small_integer(&v, "version")? {
                1 => 2u8,
                0 => return Err(CrlError::ExplicitV1),
                other => return Err(CrlError::UnsupportedVersion(other + 1)),
            },
            None => 1,
        };
        let inner_alg = t.read_tag(tag::SEQUENCE, "signature")?;
        if inner_alg.raw != outer_alg.raw {
            return Err(CrlError::AlgorithmMismatch);
        }
        let scheme = signature::parse_algorithm(&inner_alg).map_err(CrlError::Signature)?;
        if scheme.hash == signature::HashAlg::Sha1 {
            return Err(CrlError::Sha1Signature(scheme.name()));
        }
        let issuer_tlv = t.read_tag(tag::SEQUENCE, "issuer")?;
        let issuer = names::name_to_string(&issuer_tlv)?;
        let this_update = der::time(&t.read()?, "thisUpdate")?;
        let next_update = match t.peek_tag() {
            Some(tag::UTC_TIME) | Some(tag::GENERALIZED_TIME) => Some(der::time(&t.read()?, "nextUpdate")?),
            _ => None,
        };
        let revoked = t.read_optional(tag::SEQUENCE)?;
        let mut crl = Crl {
            tbs: tbs.raw,
            version,
            scheme,
            issuer_der: issuer_tlv.raw,
            issuer,
            this_update,
            next_update,
            authority_key_id: None,
            crl_number: None,
            idp: None,
            signature,
            revoked,
        };
        if let Some(exts) = t.read_optional(tag::context_constructed(0))? {
            if version == 1 {
                return Err(CrlError::ExtensionsInV1);
            }
            let mut er = exts.reader();
            let list = er.read_tag(tag::SEQUENCE, "crlExtensions")?;
            er.finish("crlExtensions")?;
            crl.parse_extensions(list)?;
        }
        t.finish("tbsCertList")?;
        Ok(crl)
    }

    fn parse_extensions(&mut self, list: Tlv<'a>) -> Result<(), CrlError> {
        let mut r = list.reader();
        let mut seen: Vec<&[u8]> = Vec::new();
        while !r.is_empty() {
            let ext = read_extension(&mut r)?;
            if seen.contains(&ext.oid) {
                return Err(CrlError::DuplicateExtension(der::oid_to_string(ext.oid)));
            }
            seen.push(ext.oid);
            let mut v = ext.value.reader();
            match ext.oid {
                EXT_DELTA_INDICATOR => return Err(CrlError::DeltaCrl),
                EXT_AKI => {
                    let aki = v.read_tag(tag::SEQUENCE, "AuthorityKeyIdentifier")?;
                    let mut a = aki.reader();
                    if let Some(kid) = a.read_optional(tag::context_primitive(0))? {
                        self.authority_key_id = Some(kid.value);
                    }
                }
                EXT_CRL_NUMBER => {
                    let n = v.read_tag(tag::INTEGER, "cRLNumber")?;
                    let m = der::unsigned_integer(&n, "cRLNumber")?;
                    if m.len() > MAX_SERIAL_OCTETS {
                        return Err(CrlError::CrlNumberTooLong);
                    }
                    self.crl_number = Some(m);
                }
                EXT_IDP => self.idp = Some(self.parse_idp(&v.read_tag(tag::SEQUENCE, "IssuingDistributionPoint")?)?),
                EXT_ISSUER_ALT_NAME | EXT_FRESHEST_CRL | EXT_EXPIRED_CERTS_ON_CRL | EXT_AIA => continue,
                other if ext.critical => return Err(CrlError::UnknownCriticalExtension { oid: der::oid_to_string(other) }),
                _ => continue,
            }
            v.finish("extension value")?;
        }
        Ok(())
    }

    fn parse_idp(&self, idp: &Tlv<'a>) -> Result<IssuingDistributionPoint, CrlError> {
        let mut r = idp.reader();
        let mut out = IssuingDistributionPoint::default();
        if let Some(dp) = r.read_optional(tag::context_constructed(0))? {
            let mut d = dp.reader();
            let choice = d.read()?;
            d.finish("distributionPoint")?;
            out.name = Some(match choice.tag {
                // fullName [0] GeneralNames
                t if t == tag::context_constructed(0) => names::general_names_text(&choice)?,
                // nameRelativeToCRLIssuer [1] RelativeDistinguishedName: appended to the issuer
                t if t == tag::context_constructed(1) => format!("{}, {}", self.issuer, names::rdn_to_string(&choice)?),
                t => return Err(CrlError::UnknownDistributionPointChoice(t)),
            });
        }
        // Each flag is a BOOLEAN DEFAULT FALSE: absent or TRUE (an explicit FALSE is not DER).
        let flag = |r: &mut Reader<'a>, n: u8, what: &'static str| -> Result<bool, CrlError> {
            Ok(der::default_false(r.read_optional(tag::context_primitive(n))?, what)?)
        };
        out.only_user_certs = flag(&mut r, 1, "onlyContainsUserCerts")?;
        out.only_ca_certs = flag(&mut r, 2, "onlyContainsCACerts")?;
        if r.read_optional(tag::context_primitive(3))?.is_some() {
            return Err(CrlError::PartitionedByReason);
        }
        if flag(&mut r, 4, "indirectCRL")? {
            return Err(CrlError::IndirectCrl);
        }
        if flag(&mut r, 5, "onlyContainsAttributeCerts")? {
            return Err(CrlError::AttributeCertificateCrl);
        }
        r.finish("IssuingDistributionPoint")?;
        if out.only_user_certs && out.only_ca_certs {
            return Err(CrlError::ContradictoryScope);
        }
        Ok(out)
    }

    /// An upper bound on the number of entries, from the size of the list (each entry takes at
    /// least 19 bytes), for sizing buffers without a counting pass.
    pub fn entry_capacity_hint(&self) -> usize {
        self.revoked.map_or(0, |r| r.value.len() / 19 + 1)
    }

    /// Walks every revoked entry in order, calling `f(index, entry)`. Stops at the first error
    /// (of the input or of `f`). Returns the number of entries.
    #[inline]
    pub fn for_each_entry<F>(&self, mut f: F) -> Result<usize, CrlError>
    where
        F: FnMut(usize, Entry<'a>) -> Result<(), CrlError>,
    {
        let Some(list) = self.revoked else { return Ok(0) };
        let mut r = list.reader();
        let mut index = 0usize;
        while !r.is_empty() {
            let entry = r.read().map_err(|e| CrlError::InvalidEntry { index, problem: e.into() })?;
            if entry.tag != tag::SEQUENCE {
                return Err(CrlError::InvalidEntry { index, problem: EntryProblem::NotASequence(entry.tag) });
            }
            let parsed = self.parse_entry(&entry, index).map_err(|e| match e {
                CrlError::Der(e) => CrlError::InvalidEntry { index, problem: e.into() },
                other => other,
            })?;
            f(index, parsed)?;
            index += 1;
        }
        Ok(index)
    }

    /// The common shapes of an entry, decoded without the general reader: a short, minimal,
    /// positive serial, a UTCTime, and either no extensions or exactly one non-critical reasonCode.
    /// Anything else (including every malformed entry) returns None and takes the general
    /// path, which validates fully and names what is wrong.
    #[inline(always)]
    fn parse_entry_fast(&self, v: &'a [u8]) -> Option<Entry<'a>> {
        /// Extensions ::= SEQUENCE { SEQUENCE { id-ce-cRLReasons, OCTET STRING { ENUMERATED } } }
        const REASON_PREFIX: [u8; 13] = [0x30, 0x0C, 0x30, 0x0A, 0x06, 0x03, 0x55, 0x1D, 0x15, 0x04, 0x03, 0x0A, 0x01];
        let (&t, rest) = v.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = len as usize;
        if t != tag::INTEGER || len == 0 || len >= 0x80 || rest.len() < len + 15 {
            return None;
        }
        let (serial, rest) = rest.split_at(len);
        // Negative, non-minimal or over-long serials take the general path (which keeps a
        // negative one and names what is wrong with the others).
        if serial[0] & 0x80 != 0 || (len > 1 && serial[0] == 0 && serial[1] & 0x80 == 0) {
            return None;
        }
        if len > MAX_SERIAL_OCTETS || rest[0] != tag::UTC_TIME || rest[1] != 13 {
            return None;
        }
        let revocation_date = der::utc_time_value(&rest[2..15])?;
        let ext = &rest[15..];
        let reason = match ext.len() {
            0 => NO_REASON,
            14 if ext[..13] == REASON_PREFIX && self.version == 2 => match ext[13] {
                code @ (0..=6 | 9 | 10) => code,
                _ => return None,
            },
            _ => return None,
        };
        Some(Entry { serial, revocation_date, reason, invalidity_date: None })
    }

    #[inline]
    fn parse_entry(&self, entry: &Tlv<'a>, index: usize) -> Result<Entry<'a>, CrlError> {
        if let Some(fast) = self.parse_entry_fast(entry.value) {
            return Ok(fast);
        }
        let mut e = entry.reader();
        let serial_tlv = e.read_tag(tag::INTEGER, "userCertificate")?;
        let serial = der::integer(&serial_tlv, "userCertificate").map_err(|e| CrlError::InvalidEntry {
            index,
            problem: match e.kind {
                der::DerErrorKind::EmptyInteger(_) => EntryProblem::EmptySerial,
                _ => EntryProblem::NonMinimalSerial,
            },
        })?;
        if serial.len() > MAX_SERIAL_OCTETS {
            return Err(CrlError::InvalidEntry { index, problem: EntryProblem::SerialTooLong(serial.len()) });
        }
        let revocation_date = der::time(&e.read()?, "revocationDate")?;
        let mut out = Entry { serial, revocation_date, reason: NO_REASON, invalidity_date: None };
        if let Some(exts) = e.read_optional(tag::SEQUENCE)? {
            if self.version == 1 {
                return Err(CrlError::InvalidEntry { index, problem: EntryProblem::ExtensionsInV1 });
            }
            self.parse_entry_extensions(&exts, index, &mut out)?;
        }
        e.finish("revoked entry")?;
        Ok(out)
    }

    fn parse_entry_extensions(&self, exts: &Tlv<'a>, index: usize, out: &mut Entry<'a>) -> Result<(), CrlError> {
        let mut r = exts.reader();
        let mut seen_reason = false;
        let mut seen_invalidity = false;
        while !r.is_empty() {
            let ext = read_extension(&mut r)?;
            let mut v = ext.value.reader();
            match ext.oid {
                ENTRY_EXT_REASON => {
                    if seen_reason {
                        return Err(CrlError::InvalidEntry { index, problem: EntryProblem::DuplicateReason });
                    }
                    seen_reason = true;
                    let code = der::small_integer(&v.read_tag(tag::ENUMERATED, "reasonCode")?, "reasonCode")?;
                    match code {
                        8 => return Err(CrlError::InvalidEntry { index, problem: EntryProblem::RemoveFromCrl }),
                        0..=6 | 9 | 10 => out.reason = code as u8,
                        _ => return Err(CrlError::InvalidEntry { index, problem: EntryProblem::UndefinedReason(code) }),
                    }
                }
                ENTRY_EXT_INVALIDITY_DATE => {
                    if seen_invalidity {
                        return Err(CrlError::InvalidEntry { index, problem: EntryProblem::DuplicateInvalidityDate });
                    }
                    seen_invalidity = true;
                    let t = v.read_tag(tag::GENERALIZED_TIME, "invalidityDate")?;
                    out.invalidity_date = Some(der::time(&t, "invalidityDate")?);
                }
                ENTRY_EXT_HOLD_INSTRUCTION => continue,
                ENTRY_EXT_CERTIFICATE_ISSUER => return Err(CrlError::CertificateIssuerEntry),
                other if ext.critical => {
                    return Err(CrlError::UnknownCriticalEntryExtension { oid: der::oid_to_string(other), entry: index })
                }
                _ => continue,
            }
            v.finish("entry extension value")?;
        }
        Ok(())
    }
}

/// Extracts the DER of a CRL from file contents: DER as is, or the one
/// `-----BEGIN X509 CRL-----` block of a PEM file (other blocks are ignored).
pub fn decode_file(contents: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, CrlError> {
    if !pem::looks_like_pem(contents) {
        return Ok(std::borrow::Cow::Borrowed(contents));
    }
    let blocks = pem::blocks(contents).map_err(CrlError::Pem)?;
    let mut crls = blocks.into_iter().filter(|(label, _)| label == "X509 CRL").map(|(_, der)| der);
    match (crls.next(), crls.next()) {
        (None, _) => Err(CrlError::NoCrlInPem),
        (Some(_), Some(_)) => Err(CrlError::SeveralCrlsInPem),
        (Some(der), None) => Ok(std::borrow::Cow::Owned(der)),
    }
}
