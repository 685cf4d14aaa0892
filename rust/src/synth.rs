//! Synthetic CRLs: a DER encoder for X.509 v2 CRLs (RFC 5280 §5) that signs with RSA PKCS#1 v1.5
//! SHA-256, and a parallel writer of many partition CRLs.
//!
//! This is the encoding half of `jpki-fast synth`: Python decides *what* is revoked (numpy), this
//! module turns columnar entries into signed DER files fast enough for tens of millions of
//! entries. The output has the shape of a J-LIS partition CRL:
//!
//! ```text
//! CertificateList ::= SEQUENCE {
//!   tbsCertList  SEQUENCE {
//!     version              INTEGER v2(1)
//!     signature            sha256WithRSAEncryption, NULL parameters
//!     issuer               Name (given as DER)
//!     thisUpdate           Time          -- UTCTime for 1950..2049, else GeneralizedTime
//!     nextUpdate           Time OPTIONAL
//!     revokedCertificates  SEQUENCE OF SEQUENCE {              -- absent when empty (§5.1.2.6)
//!       userCertificate    INTEGER, revocationDate Time,
//!       crlEntryExtensions { reasonCode ENUMERATED, invalidityDate GeneralizedTime } OPTIONAL }
//!     crlExtensions [0] { authorityKeyIdentifier, cRLNumber,
//!                         issuingDistributionPoint (critical): fullName directoryName,
//!                         onlyContainsUserCerts TRUE, any extra raw extensions } }
//!   signatureAlgorithm   sha256WithRSAEncryption
//!   signatureValue       BIT STRING }
//! ```
//!
//! Lengths are computed before anything is written, so every element is written once, in
//! place, and the signature is computed over the finished `tbsCertList` slice without copying.
//! Bad input (mismatched columns, times outside year 0..9999, over-long serials, a key that is
//! not RSA PKCS#8) is an [`SynthError`], never a panic.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rayon::prelude::*;

use crate::der::{self, tag};
use crate::serial::MAX_SERIAL_OCTETS;

/// `AlgorithmIdentifier { sha256WithRSAEncryption, NULL }` (RFC 4055 §5: parameters are NULL).
const SHA256_WITH_RSA: [u8; 15] =
    [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00];
/// `version INTEGER v2(1)`.
const VERSION_V2: [u8; 3] = [tag::INTEGER, 0x01, 0x01];

/// Extension OIDs (content octets).
const OID_AKI: &[u8] = &[0x55, 0x1D, 0x23]; // 2.5.29.35
const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1D, 0x14]; // 2.5.29.20
const OID_IDP: &[u8] = &[0x55, 0x1D, 0x1C]; // 2.5.29.28
const OID_REASON_CODE: &[u8] = &[0x55, 0x1D, 0x15]; // 2.5.29.21
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1D, 0x18]; // 2.5.29.24

/// Marks "no reasonCode" in a reason column (same value as [`crate::crl::NO_REASON`]).
pub const NO_REASON: u8 = crate::crl::NO_REASON;

/// First and last second that GeneralizedTime's four-digit year can express
/// (0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z).
const MIN_TIME: i64 = -62_167_219_200;
const MAX_TIME: i64 = 253_402_300_799;
/// RFC 5280 §4.1.2.5: UTCTime covers 1950-01-01 .. 2049-12-31; GeneralizedTime everything else.
const UTC_TIME_START: i64 = -631_152_000;
const UTC_TIME_END: i64 = 2_524_608_000;

/// Why a CRL could not be encoded, signed or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynthError {
    /// The entry columns do not fit together (lengths, widths, ranges).
    Columns(String),
    /// One entry cannot be encoded.
    Entry { index: usize, what: String },
    /// A header field (issuer, times, cRLNumber, extension) cannot be encoded.
    Header(String),
    /// The signing key is unusable.
    Key(String),
    /// Signing failed.
    Sign,
    /// A job names a signer that was not given.
    NoSuchSigner { signer: usize, signers: usize },
    /// Writing the output file failed.
    Io { path: String, what: String },
    /// A batch job failed; `job` is its index in the caller's list.
    Job { job: usize, path: String, error: Box<SynthError> },
}

impl SynthError {
    /// A stable machine-readable name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            SynthError::Columns(_) => "columns",
            SynthError::Entry { .. } => "entry",
            SynthError::Header(_) => "header",
            SynthError::Key(_) => "key",
            SynthError::Sign => "sign",
            SynthError::NoSuchSigner { .. } => "no_such_signer",
            SynthError::Io { .. } => "io",
            SynthError::Job { error, .. } => error.kind(),
        }
    }
}

impl fmt::Display for SynthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SynthError::Columns(what) => write!(f, "entry columns: {what}"),
            SynthError::Entry { index, what } => write!(f, "entry #{index}: {what}"),
            SynthError::Header(what) => write!(f, "CRL header: {what}"),
            SynthError::Key(what) => write!(f, "signing key: {what}"),
            SynthError::Sign => write!(f, "RSA signing failed"),
            SynthError::NoSuchSigner { signer, signers } => {
                write!(f, "signer #{signer} does not exist (there are {signers} signers)")
            }
            SynthError::Io { path, what } => write!(f, "{path}: {what}"),
            SynthError::Job { job, path, error } => write!(f, "CRL job #{job} ({path}): {error}"),
        }
    }
}

impl std::error::Error for SynthError {}

pub type Result<T> = std::result::Result<T, SynthError>;

// ---------------------------------------------------------------------------------------------
// DER primitives (X.690 §8.1.3: definite lengths, short form below 128, else the minimal
// long form).

/// Number of octets the length field of a `len`-byte value takes.
#[inline]
pub fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

/// Size of a whole TLV whose value is `len` bytes (single-byte tags only).
#[inline]
pub fn tlv_len(len: usize) -> usize {
    1 + length_octets(len) + len
}

/// Appends a DER length field.
#[inline]
pub fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
}

#[inline]
fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    push_len(out, len);
}

/// One complete TLV (for the small header structures; entries are written without it).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_len(value.len()));
    push_header(&mut out, tag, value.len());
    out.extend_from_slice(value);
    out
}

/// The content octets of a non-negative INTEGER (or ENUMERATED) with this big-endian
/// magnitude: leading zeros dropped, and a 0x00 prepended when the high bit is set so the value
/// does not read as negative (X.690 §8.3). Holds up to 20 magnitude octets plus the pad.
#[derive(Clone, Copy)]
struct UnsignedInt {
    buf: [u8; MAX_SERIAL_OCTETS + 1],
    start: usize,
}

impl UnsignedInt {
    /// Fails when the magnitude has more than 20 significant octets.
    #[inline]
    fn new(magnitude: &[u8]) -> std::result::Result<Self, usize> {
        let first = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        let m = &magnitude[first..];
        if m.len() > MAX_SERIAL_OCTETS {
            return Err(m.len());
        }
        let mut buf = [0u8; MAX_SERIAL_OCTETS + 1];
        let end = buf.len();
        buf[end - m.len()..].copy_from_slice(m);
        // Zero is the single octet 0x00; a set high bit needs the 0x00 pad.
        let start = if m.is_empty() || m[0] & 0x80 != 0 { end - m.len() - 1 } else { end - m.len() };
        Ok(UnsignedInt { buf, start })
    }

    #[inline]
    fn from_u64(v: u64) -> Self {
        // Eight octets never exceed the limit.
        match Self::new(&v.to_be_bytes()) {
            Ok(i) => i,
            Err(_) => unreachable!("a u64 has at most 8 octets"),
        }
    }

    #[inline]
    fn content(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Calendar date from days since 1970-01-01 (inverse of [`der::days_from_civil`]; Howard
/// Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// How a point in time is encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TimeForm {
    Utc,
    Generalized,
}

impl TimeForm {
    /// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050 (and before 1950).
    #[inline]
    fn for_time(secs: i64) -> TimeForm {
        if (UTC_TIME_START..UTC_TIME_END).contains(&secs) {
            TimeForm::Utc
        } else {
            TimeForm::Generalized
        }
    }

    /// Whole TLV size: `YYMMDDHHMMSSZ` (13) or `YYYYMMDDHHMMSSZ` (15) plus two header octets.
    #[inline]
    fn tlv_len(self) -> usize {
        match self {
            TimeForm::Utc => 15,
            TimeForm::Generalized => 17,
        }
    }
}

/// Fails for times GeneralizedTime cannot express.
#[inline]
fn check_time(secs: i64) -> std::result::Result<(), String> {
    if (MIN_TIME..=MAX_TIME).contains(&secs) {
        Ok(())
    } else {
        Err(format!("time {secs} (seconds since 1970) is outside years 0000..9999"))
    }
}

/// Appends two decimal digits (`v` < 100).
#[inline]
fn push_two_digits(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Appends a UTCTime or GeneralizedTime TLV (second precision, `Z`). The caller has checked
/// the range with [`check_time`].
#[inline]
fn push_time(out: &mut Vec<u8>, secs: i64, form: TimeForm) {
    let second_of_day = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let year = year as u32;
    match form {
        TimeForm::Utc => out.extend_from_slice(&[tag::UTC_TIME, 13]),
        TimeForm::Generalized => {
            out.extend_from_slice(&[tag::GENERALIZED_TIME, 15]);
            push_two_digits(out, year / 100);
        }
    }
    for v in [year % 100, month, day, second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60] {
        push_two_digits(out, v);
    }
    out.push(b'Z');
}

// ---------------------------------------------------------------------------------------------
// Entries.

/// Serial numbers of the entries, one per row.
#[derive(Clone, Copy, Debug)]
pub enum Serials<'a> {
    /// Fixed-width big-endian magnitudes, `width` octets per row (1..=20; leading zero octets
    /// are allowed and dropped).
    Fixed { bytes: &'a [u8], width: usize },
    /// Unsigned 64-bit values.
    U64(&'a [u64]),
}

impl Serials<'_> {
    fn len(&self) -> usize {
        match self {
            Serials::Fixed { bytes, width } => bytes.len() / width,
            Serials::U64(v) => v.len(),
        }
    }

    #[inline]
    fn integer(&self, row: usize) -> std::result::Result<UnsignedInt, usize> {
        match self {
            Serials::Fixed { bytes, width } => UnsignedInt::new(&bytes[row * width..(row + 1) * width]),
            Serials::U64(v) => Ok(UnsignedInt::from_u64(v[row])),
        }
    }
}

/// Revoked entries as columns (all of one length). Build with [`Entries::new`], which checks
/// the shapes; [`Entries::rows`] selects the rows of one CRL.
#[derive(Clone, Copy, Debug)]
pub struct Entries<'a> {
    serials: Serials<'a>,
    revocation_time: &'a [i64],
    /// Reason code per row, [`NO_REASON`] for none; `None`: no row has one.
    reason: Option<&'a [u8]>,
    /// Invalidity date per row, used where `invalidity_mask` is non-zero.
    invalidity: Option<(&'a [i64], &'a [u8])>,
    /// Row range of this view.
    start: usize,
    end: usize,
}

impl<'a> Entries<'a> {
    /// Checks that the columns have one length and the serial width is 1..=20.
    ///
    /// `reason` uses [`NO_REASON`] (255) for "no reasonCode"; any other value is encoded as is
    /// (so tests can make CRLs with codes RFC 5280 does not define). `invalidity` is the date
    /// column and its mask (0 = no invalidityDate).
    pub fn new(
        serials: Serials<'a>,
        revocation_time: &'a [i64],
        reason: Option<&'a [u8]>,
        invalidity: Option<(&'a [i64], &'a [u8])>,
    ) -> Result<Self> {
        if let Serials::Fixed { bytes, width } = serials {
            if !(1..=MAX_SERIAL_OCTETS).contains(&width) {
                return Err(SynthError::Columns(format!("serial width {width} is not 1..=20 octets")));
            }
            if bytes.len() % width != 0 {
                return Err(SynthError::Columns(format!(
                    "serial buffer of {} bytes is not a whole number of {width}-byte serials",
                    bytes.len()
                )));
            }
        }
        let n = serials.len();
        let check = |name: &str, len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(SynthError::Columns(format!("{name} has {len} rows but there are {n} serials")))
            }
        };
        check("revocation_time", revocation_time.len())?;
        if let Some(r) = reason {
            check("reason", r.len())?;
        }
        if let Some((dates, mask)) = invalidity {
            check("invalidity_time", dates.len())?;
            check("invalidity_mask", mask.len())?;
        }
        Ok(Entries { serials, revocation_time, reason, invalidity, start: 0, end: n })
    }

    /// Number of rows in this view.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows `start..end` of the full columns (not of this view).
    pub fn rows(&self, start: usize, end: usize) -> Result<Entries<'a>> {
        let n = self.serials.len();
        if start > end || end > n {
            return Err(SynthError::Columns(format!("row range {start}..{end} is outside the {n} entries")));
        }
        Ok(Entries { start, end, ..*self })
    }

    /// The fields of one row, checked; `Entry` errors carry the row number.
    #[inline]
    fn row(&self, row: usize) -> Result<EntryFields> {
        let serial = self.serials.integer(row).map_err(|octets| SynthError::Entry {
            index: row,
            what: format!("serial of {octets} significant octets exceeds RFC 5280's 20-octet limit"),
        })?;
        let revocation = self.revocation_time[row];
        check_time(revocation)
            .map_err(|what| SynthError::Entry { index: row, what: format!("revocationDate: {what}") })?;
        let reason = self.reason.map(|r| r[row]).filter(|&r| r != NO_REASON);
        let invalidity = match self.invalidity {
            Some((dates, mask)) if mask[row] != 0 => {
                check_time(dates[row])
                    .map_err(|what| SynthError::Entry { index: row, what: format!("invalidityDate: {what}") })?;
                Some(dates[row])
            }
            _ => None,
        };
        Ok(EntryFields { serial, revocation, reason, invalidity })
    }
}

/// One entry, ready to encode.
struct EntryFields {
    serial: UnsignedInt,
    revocation: i64,
    reason: Option<u8>,
    invalidity: Option<i64>,
}

/// reasonCode extension: `SEQ { OID, OCTET STRING { ENUMERATED } }`; codes >= 128 need a pad.
#[inline]
fn reason_ext_len(code: u8) -> usize {
    let enumerated = if code >= 0x80 { 4 } else { 3 };
    tlv_len(5 + tlv_len(enumerated))
}

/// invalidityDate extension: `SEQ { OID, OCTET STRING { GeneralizedTime } }` (always
/// GeneralizedTime, RFC 5280 §5.3.2).
const INVALIDITY_EXT_LEN: usize = 2 + 5 + 2 + 17;

impl EntryFields {
    #[inline]
    fn extensions_len(&self) -> usize {
        self.reason.map_or(0, reason_ext_len) + self.invalidity.map_or(0, |_| INVALIDITY_EXT_LEN)
    }

    #[inline]
    fn content_len(&self) -> usize {
        let ext = self.extensions_len();
        tlv_len(self.serial.content().len())
            + TimeForm::for_time(self.revocation).tlv_len()
            + if ext > 0 { tlv_len(ext) } else { 0 }
    }

    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        push_header(out, tag::SEQUENCE, self.content_len());
        let serial = self.serial.content();
        push_header(out, tag::INTEGER, serial.len());
        out.extend_from_slice(serial);
        push_time(out, self.revocation, TimeForm::for_time(self.revocation));
        let ext = self.extensions_len();
        if ext == 0 {
            return;
        }
        push_header(out, tag::SEQUENCE, ext);
        if let Some(code) = self.reason {
            let enumerated: &[u8] =
                if code >= 0x80 { &[tag::ENUMERATED, 2, 0, code] } else { &[tag::ENUMERATED, 1, code] };
            push_header(out, tag::SEQUENCE, 5 + tlv_len(enumerated.len()));
            out.extend_from_slice(&[tag::OID, 3]);
            out.extend_from_slice(OID_REASON_CODE);
            push_header(out, tag::OCTET_STRING, enumerated.len());
            out.extend_from_slice(enumerated);
        }
        if let Some(date) = self.invalidity {
            push_header(out, tag::SEQUENCE, INVALIDITY_EXT_LEN - 2);
            out.extend_from_slice(&[tag::OID, 3]);
            out.extend_from_slice(OID_INVALIDITY_DATE);
            push_header(out, tag::OCTET_STRING, 17);
            push_time(out, date, TimeForm::Generalized);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The CRL.

/// A raw CRL extension for unusual test CRLs: `extnID` as OID content octets, the critical
/// flag, and the DER that goes inside the `extnValue` OCTET STRING.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawExtension {
    pub oid: Vec<u8>,
    pub critical: bool,
    pub value: Vec<u8>,
}

/// What a CRL says besides its entries and its issuer.
#[derive(Clone, Copy, Debug, Default)]
pub struct CrlHeader<'a> {
    pub this_update: i64,
    /// `None` leaves nextUpdate out (RFC 5280 requires it; allowed for tests).
    pub next_update: Option<i64>,
    /// cRLNumber as a big-endian magnitude (at most 20 significant octets); `None`: no cRLNumber.
    pub crl_number: Option<&'a [u8]>,
    /// The partition's directory name (DER `Name`): issuingDistributionPoint with fullName
    /// directoryName and onlyContainsUserCerts, marked critical (§5.2.5). `None`: no IDP.
    pub distribution_point: Option<&'a [u8]>,
    /// Appended after the standard extensions, in order.
    pub extra_extensions: &'a [RawExtension],
}

/// An RSA private key with the issuer it signs as.
pub struct Signer {
    key: RsaKeyPair,
    issuer: Vec<u8>,
    authority_key_id: Option<Vec<u8>>,
}

impl Signer {
    /// `pkcs8`: an unencrypted PKCS#8 RSA private key (DER, 2048..8192 bits); `issuer`: the DER
    /// `Name` the CRLs carry (the CA certificate's subject, byte for byte); `authority_key_id`:
    /// the CA's subject key identifier for the AKI extension (`None` leaves AKI out).
    pub fn new(pkcs8: &[u8], issuer: Vec<u8>, authority_key_id: Option<Vec<u8>>) -> Result<Signer> {
        let key = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| {
            SynthError::Key(format!("not an unencrypted PKCS#8 RSA private key of 2048..8192 bits ({e})"))
        })?;
        check_name(&issuer, "issuer")?;
        Ok(Signer { key, issuer, authority_key_id })
    }

    fn sign(&self, message: &[u8], signature: &mut [u8]) -> Result<()> {
        // PKCS#1 v1.5 is deterministic; the RNG parameter is part of the API only.
        self.key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, signature).map_err(|_| SynthError::Sign)
    }
}

/// Checks that `der` is exactly one SEQUENCE (a `Name`), so a caller's mistake surfaces here and
/// not as an unreadable CRL.
fn check_name(der_bytes: &[u8], what: &str) -> Result<()> {
    let mut r = der::Reader::new(der_bytes);
    r.read_tag(tag::SEQUENCE, "Name")
        .and_then(|_| r.finish("Name"))
        .map_err(|e| SynthError::Header(format!("{what} is not one DER Name: {e}")))
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut body = tlv(tag::OID, oid);
    if critical {
        body.extend_from_slice(&[tag::BOOLEAN, 1, 0xFF]);
    }
    body.extend(tlv(tag::OCTET_STRING, value));
    tlv(tag::SEQUENCE, &body)
}

/// The content of `crlExtensions [0]`'s SEQUENCE: AKI, cRLNumber, IDP, extras.
fn crl_extensions(signer: &Signer, header: &CrlHeader<'_>) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    if let Some(kid) = &signer.authority_key_id {
        // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
        list.extend(extension(OID_AKI, false, &tlv(tag::SEQUENCE, &tlv(tag::context_primitive(0), kid))));
    }
    if let Some(number) = header.crl_number {
        let n = UnsignedInt::new(number)
            .map_err(|octets| SynthError::Header(format!("cRLNumber of {octets} octets exceeds 20 octets")))?;
        list.extend(extension(OID_CRL_NUMBER, false, &tlv(tag::INTEGER, n.content())));
    }
    if let Some(name) = header.distribution_point {
        check_name(name, "distribution point")?;
        // distributionPoint [0] { fullName [0] { directoryName [4] EXPLICIT Name } }: the CHOICE
        // tags are explicit, GeneralNames' is implicit (RFC 5280 Appendix A.2).
        let full_name = tlv(tag::context_constructed(0), &tlv(tag::context_constructed(4), name));
        let mut idp = tlv(tag::context_constructed(0), &full_name);
        idp.extend_from_slice(&[tag::context_primitive(1), 1, 0xFF]); // onlyContainsUserCerts
        list.extend(extension(OID_IDP, true, &tlv(tag::SEQUENCE, &idp)));
    }
    for ext in header.extra_extensions {
        list.extend(extension(&ext.oid, ext.critical, &ext.value));
    }
    Ok(list)
}

/// Encodes and signs one CRL; returns the DER `CertificateList`.
///
/// ```
/// use aws_lc_rs::{encoding::AsDer, rsa::{KeyPair, KeySize}};
/// use jpki_fast_core::{crl::Crl, synth::{encode_crl, CrlHeader, Entries, Serials, Signer}};
///
/// let key = KeyPair::generate(KeySize::Rsa2048).unwrap().as_der().unwrap();
/// let issuer = b"\x30\x0D\x31\x0B\x30\x09\x06\x03\x55\x04\x06\x13\x02JP".to_vec(); // C=JP
/// let signer = Signer::new(key.as_ref(), issuer, Some(vec![0xAB; 20])).unwrap();
/// let (serials, dates, reasons) = ([0x054C_FCD8u64], [1_700_000_000i64], [4u8]); // superseded
/// let entries = Entries::new(Serials::U64(&serials), &dates, Some(&reasons), None).unwrap();
/// let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
/// let der = encode_crl(&signer, &header, &entries).unwrap();
/// assert_eq!(Crl::parse(&der).unwrap().issuer, "C=JP");
/// ```
pub fn encode_crl(signer: &Signer, header: &CrlHeader<'_>, entries: &Entries<'_>) -> Result<Vec<u8>> {
    for (what, t) in [("thisUpdate", Some(header.this_update)), ("nextUpdate", header.next_update)] {
        if let Some(t) = t {
            check_time(t).map_err(|e| SynthError::Header(format!("{what}: {e}")))?;
        }
    }
    // Pass 1: sizes (and every entry checked before anything is written).
    let mut revoked_len = 0usize;
    for row in entries.start..entries.end {
        revoked_len += tlv_len(entries.row(row)?.content_len());
    }
    let extensions = crl_extensions(signer, header)?;
    let this_form = TimeForm::for_time(header.this_update);
    let next_form = header.next_update.map(TimeForm::for_time);
    let tbs_len = VERSION_V2.len()
        + SHA256_WITH_RSA.len()
        + signer.issuer.len()
        + this_form.tlv_len()
        + next_form.map_or(0, TimeForm::tlv_len)
        + if entries.is_empty() { 0 } else { tlv_len(revoked_len) }
        + if extensions.is_empty() { 0 } else { tlv_len(tlv_len(extensions.len())) };
    let sig_len = signer.key.public_modulus_len();
    let bit_string_len = 1 + sig_len; // leading "unused bits" octet
    let list_len = tlv_len(tbs_len) + SHA256_WITH_RSA.len() + tlv_len(bit_string_len);

    // Pass 2: write in place.
    let mut out = Vec::with_capacity(tlv_len(list_len));
    push_header(&mut out, tag::SEQUENCE, list_len);
    let tbs_start = out.len();
    push_header(&mut out, tag::SEQUENCE, tbs_len);
    out.extend_from_slice(&VERSION_V2);
    out.extend_from_slice(&SHA256_WITH_RSA);
    out.extend_from_slice(&signer.issuer);
    push_time(&mut out, header.this_update, this_form);
    if let (Some(t), Some(form)) = (header.next_update, next_form) {
        push_time(&mut out, t, form);
    }
    // RFC 5280 §5.1.2.6: with no revoked certificates the list is absent, not empty.
    if !entries.is_empty() {
        push_header(&mut out, tag::SEQUENCE, revoked_len);
        for row in entries.start..entries.end {
            entries.row(row)?.write(&mut out);
        }
    }
    if !extensions.is_empty() {
        push_header(&mut out, tag::context_constructed(0), tlv_len(extensions.len()));
        push_header(&mut out, tag::SEQUENCE, extensions.len());
        out.extend_from_slice(&extensions);
    }
    let tbs_end = out.len();
    debug_assert_eq!(tbs_end - tbs_start, tlv_len(tbs_len), "tbsCertList size computed wrongly");
    out.extend_from_slice(&SHA256_WITH_RSA);
    push_header(&mut out, tag::BIT_STRING, bit_string_len);
    out.push(0);
    let sig_start = out.len();
    out.resize(sig_start + sig_len, 0);
    let (head, signature) = out.split_at_mut(sig_start);
    signer.sign(&head[tbs_start..tbs_end], signature)?;
    debug_assert_eq!(out.len(), tlv_len(list_len), "CertificateList size computed wrongly");
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Many CRLs at once.

/// One CRL of a batch: rows `start..end` of the shared entry columns, signed by
/// `signers[signer]`, written to `path`.
#[derive(Clone, Debug)]
pub struct CrlJob {
    pub path: PathBuf,
    pub signer: usize,
    pub start: usize,
    pub end: usize,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub crl_number: Option<Vec<u8>>,
    pub distribution_point: Option<Vec<u8>>,
}

/// Encodes, signs and writes every job in parallel (rayon), largest first so that the big
/// partitions do not end up alone on one core at the end. Returns each file's size, in job
/// order, or the first failure (naming its job). Parent directories are created. Each file is
/// written beside its final name (`<name>.tmp`) and renamed into place, so a reader never sees
/// a half-written CRL; files of jobs that finished before a failure stay.
pub fn write_crls(signers: &[Signer], jobs: &[CrlJob], entries: &Entries<'_>) -> Result<Vec<u64>> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].end.saturating_sub(jobs[i].start)));
    let sizes: Vec<(usize, u64)> = order
        .into_par_iter()
        .map(|i| {
            let job = &jobs[i];
            write_one(signers, job, entries).map(|size| (i, size)).map_err(|error| SynthError::Job {
                job: i,
                path: job.path.display().to_string(),
                error: Box::new(error),
            })
        })
        .collect::<Result<_>>()?;
    let mut out = vec![0u64; jobs.len()];
    for (i, size) in sizes {
        out[i] = size;
    }
    Ok(out)
}

fn write_one(signers: &[Signer], job: &CrlJob, entries: &Entries<'_>) -> Result<u64> {
    let signer =
        signers.get(job.signer).ok_or(SynthError::NoSuchSigner { signer: job.signer, signers: signers.len() })?;
    let rows = entries.rows(job.start, job.end)?;
    let header = CrlHeader {
        this_update: job.this_update,
        next_update: job.next_update,
        crl_number: job.crl_number.as_deref(),
        distribution_point: job.distribution_point.as_deref(),
        extra_extensions: &[],
    };
    let der_bytes = encode_crl(signer, &header, &rows)?;
    write_atomically(&job.path, &der_bytes)?;
    Ok(der_bytes.len() as u64)
}

/// Writes `<path>.tmp`, then renames it to `path` (no fsync: synthetic data favours speed).
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| SynthError::Io { path: path.display().to_string(), what: e.to_string() };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = fs::File::create(&tmp).and_then(|mut f| f.write_all(data)).and_then(|_| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crl::{Crl, REASON_NAMES};
    use crate::signature;

    /// An RSA-2048 key (PKCS#8 DER), generated once per test run: generation takes a moment,
    /// and committing key material for tests is not worth it.
    fn test_key() -> &'static [u8] {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::KeySize;
        static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        KEY.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap().as_der().unwrap().as_ref().to_vec())
    }

    /// `C=JP, O=JPKI, OU=<ou>` as DER.
    fn name(ou: &str) -> Vec<u8> {
        let atv = |oid: &[u8], t: u8, v: &str| {
            tlv(tag::SET, &tlv(tag::SEQUENCE, &[tlv(tag::OID, oid), tlv(t, v.as_bytes())].concat()))
        };
        let body = [
            atv(&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, "JP"),
            atv(&[0x55, 0x04, 0x0A], tag::UTF8_STRING, "JPKI"),
            atv(&[0x55, 0x04, 0x0B], tag::UTF8_STRING, ou),
        ]
        .concat();
        tlv(tag::SEQUENCE, &body)
    }

    fn signer() -> Signer {
        Signer::new(test_key(), name("JPKI for user authentication"), Some(vec![0xAB; 20])).unwrap()
    }

    fn public_key_of(signer: &Signer) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair;
        signer.key.public_key().as_ref().to_vec()
    }

    /// Verifies the CRL's signature with the signer's public key (RSAPublicKey DER).
    fn verify(signer: &Signer, crl: &Crl<'_>) {
        use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        let key = public_key_of(signer);
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key)
            .verify(crl.tbs, crl.signature)
            .expect("signature verifies");
    }

    fn collect(crl: &Crl<'_>) -> Vec<(Vec<u8>, i64, u8, Option<i64>)> {
        let mut out = Vec::new();
        crl.for_each_entry(|_, e| {
            out.push((e.serial.to_vec(), e.revocation_date, e.reason, e.invalidity_date));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn length_octets_at_boundaries() {
        for (len, want) in [
            (0usize, vec![0x00]),
            (127, vec![0x7F]),
            (128, vec![0x81, 0x80]),
            (255, vec![0x81, 0xFF]),
            (256, vec![0x82, 0x01, 0x00]),
            (65_535, vec![0x82, 0xFF, 0xFF]),
            (65_536, vec![0x83, 0x01, 0x00, 0x00]),
            (16_777_216, vec![0x84, 0x01, 0x00, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            push_len(&mut out, len);
            assert_eq!(out, want, "length {len}");
            assert_eq!(length_octets(len), want.len(), "length {len}");
        }
    }

    #[test]
    fn tlvs_at_length_boundaries_read_back() {
        for len in [127usize, 128, 255, 256, 65_535, 65_536] {
            let value = vec![0x5A; len];
            let enc = tlv(tag::OCTET_STRING, &value);
            assert_eq!(enc.len(), tlv_len(len));
            let t = der::Reader::new(&enc).read().unwrap();
            assert_eq!(t.value.len(), len);
        }
    }

    #[test]
    fn integers_get_a_pad_only_for_a_set_high_bit() {
        let content = |m: &[u8]| UnsignedInt::new(m).unwrap().content().to_vec();
        assert_eq!(content(&[0x7F]), [0x7F]);
        assert_eq!(content(&[0x80]), [0x00, 0x80]);
        assert_eq!(content(&[0x00, 0x00, 0x05, 0x4C]), [0x05, 0x4C]);
        assert_eq!(content(&[]), [0x00]);
        assert_eq!(content(&[0, 0, 0]), [0x00]);
        assert_eq!(content(&[0xFF; 20]).len(), 21);
        assert_eq!(UnsignedInt::new(&[0x01; 21]).err(), Some(21));
        assert_eq!(UnsignedInt::from_u64(u64::MAX).content(), [0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-719_468i64, -1, 0, 1, 10_957, 19_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(der::days_from_civil(y, m, d), days, "{days} -> {y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn times_use_utc_time_until_2049_and_generalized_after() {
        for (secs, want) in [
            (1_767_225_600i64, "\x17\x0d260101000000Z"),
            (2_524_607_999, "\x17\x0d491231235959Z"),
            (2_524_608_000, "\x18\x0f20500101000000Z"),
            (-631_152_000, "\x17\x0d500101000000Z"),
            (-631_152_001, "\x18\x0f19491231235959Z"),
            (MAX_TIME, "\x18\x0f99991231235959Z"),
        ] {
            let mut out = Vec::new();
            push_time(&mut out, secs, TimeForm::for_time(secs));
            assert_eq!(out, want.as_bytes(), "{secs}");
            assert_eq!(der::time(&der::Reader::new(&out).read().unwrap(), "t").unwrap(), secs);
        }
        assert!(check_time(MAX_TIME + 1).is_err());
        assert!(check_time(MIN_TIME - 1).is_err());
    }

    #[test]
    fn round_trips_through_the_parser() {
        let signer = signer();
        let serials: Vec<u8> = [
            [0x00, 0x00, 0x00, 0x00, 0x05, 0x4C, 0xFC, 0xD8],
            [0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01],
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ]
        .concat();
        let dates = [1_700_000_000i64, 1_700_000_001, 2_600_000_000, -700_000_000];
        let reasons = [1u8, NO_REASON, 3, 10];
        let inv_dates = [1_699_000_000i64, 0, 0, 2_600_000_000];
        let inv_mask = [1u8, 0, 0, 1];
        let entries = Entries::new(
            Serials::Fixed { bytes: &serials, width: 8 },
            &dates,
            Some(&reasons),
            Some((&inv_dates, &inv_mask)),
        )
        .unwrap();
        let dp = name("CRL Distribution Points");
        let extra = [RawExtension { oid: vec![0x2A, 0x03], critical: false, value: vec![0x05, 0x00] }];
        let header = CrlHeader {
            this_update: 1_795_000_000,
            next_update: Some(1_795_172_800),
            crl_number: Some(&[0x01, 0x35, 0x0B, 0x2E]),
            distribution_point: Some(&dp),
            extra_extensions: &extra,
        };
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
        let crl = Crl::parse(&der_bytes).unwrap();
        assert_eq!(crl.version, 2);
        assert_eq!(crl.scheme, signature::Scheme::RSA_PKCS1_SHA256);
        assert_eq!(crl.issuer, "C=JP, O=JPKI, OU=JPKI for user authentication");
        assert_eq!(crl.this_update, 1_795_000_000);
        assert_eq!(crl.next_update, Some(1_795_172_800));
        assert_eq!(crl.authority_key_id, Some(&[0xAB; 20][..]));
        assert_eq!(crl.crl_number, Some(&[0x01, 0x35, 0x0B, 0x2E][..]));
        let idp = crl.idp.clone().unwrap();
        assert_eq!(idp.name.as_deref(), Some("C=JP, O=JPKI, OU=CRL Distribution Points"));
        assert!(idp.only_user_certs);
        assert_eq!(
            collect(&crl),
            vec![
                (vec![0x05, 0x4C, 0xFC, 0xD8], 1_700_000_000, 1, Some(1_699_000_000)),
                (vec![0x80, 0, 0, 0, 0, 0, 0, 1], 1_700_000_001, NO_REASON, None),
                (vec![], 2_600_000_000, 3, None),
                (vec![0xFF; 8], -700_000_000, 10, Some(2_600_000_000)),
            ]
        );
        assert_eq!(REASON_NAMES[10], "aACompromise");
        verify(&signer, &crl);
    }

    #[test]
    fn u64_and_fixed_width_serials_encode_the_same() {
        let signer = signer();
        let values = [1u64, 0x7F, 0x80, 0x054C_FCD8, 0x8000_0000, u64::MAX];
        let fixed: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let dates = [1_700_000_000i64; 6];
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let a =
            encode_crl(&signer, &header, &Entries::new(Serials::U64(&values), &dates, None, None).unwrap()).unwrap();
        let b = encode_crl(
            &signer,
            &header,
            &Entries::new(Serials::Fixed { bytes: &fixed, width: 8 }, &dates, None, None).unwrap(),
        )
        .unwrap();
        assert_eq!(a, b);
        let crl = Crl::parse(&a).unwrap();
        let serials: Vec<Vec<u8>> = collect(&crl).into_iter().map(|e| e.0).collect();
        let want: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let b = v.to_be_bytes();
                b[b.iter().position(|&x| x != 0).unwrap()..].to_vec()
            })
            .collect();
        assert_eq!(serials, want);
    }

    #[test]
    fn twenty_octet_serials_with_the_high_bit_get_a_pad() {
        let signer = signer();
        let serial = [0x9Au8; 20];
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let entries = Entries::new(Serials::Fixed { bytes: &serial, width: 20 }, &[1_700_000_000], None, None).unwrap();
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
        let mut needle = vec![tag::INTEGER, 21, 0x00];
        needle.extend_from_slice(&serial);
        assert!(der_bytes.windows(needle.len()).any(|w| w == needle));
        assert_eq!(collect(&Crl::parse(&der_bytes).unwrap())[0].0, serial.to_vec());
    }

    #[test]
    fn large_crls_use_long_form_lengths_and_verify() {
        let signer = signer();
        let n = 5_000usize;
        let serials: Vec<u64> = (0..n as u64).map(|i| 0x0500_0000 + 3 * i).collect();
        let dates: Vec<i64> = (0..n as i64).map(|i| 1_600_000_000 + 97 * i).collect();
        let reasons: Vec<u8> = (0..n).map(|i| [0u8, 1, 3, 4, 5, 6, NO_REASON][i % 7]).collect();
        let entries = Entries::new(Serials::U64(&serials), &dates, Some(&reasons), None).unwrap();
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
        assert!(der_bytes.len() > 65_536);
        let crl = Crl::parse(&der_bytes).unwrap();
        let got = collect(&crl);
        assert_eq!(got.len(), n);
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.0, serials[i].to_be_bytes()[4..].to_vec());
            assert_eq!((e.1, e.2, e.3), (dates[i], reasons[i], None));
        }
        verify(&signer, &crl);
    }

    #[test]
    fn empty_crl_omits_the_revoked_list() {
        let signer = signer();
        let entries = Entries::new(Serials::U64(&[]), &[], None, None).unwrap();
        let header = CrlHeader { this_update: 1_795_000_000, next_update: None, ..Default::default() };
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
        let crl = Crl::parse(&der_bytes).unwrap();
        assert_eq!(crl.entry_capacity_hint(), 0, "revokedCertificates must be absent");
        assert_eq!(crl.next_update, None);
        assert_eq!(collect(&crl).len(), 0);
        verify(&signer, &crl);
    }

    #[test]
    fn row_ranges_select_one_partition() {
        let signer = signer();
        let serials = [10u64, 11, 12, 13];
        let dates = [1_700_000_000i64; 4];
        let all = Entries::new(Serials::U64(&serials), &dates, None, None).unwrap();
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let der_bytes = encode_crl(&signer, &header, &all.rows(1, 3).unwrap()).unwrap();
        let got: Vec<Vec<u8>> = collect(&Crl::parse(&der_bytes).unwrap()).into_iter().map(|e| e.0).collect();
        assert_eq!(got, vec![vec![11], vec![12]]);
        assert!(matches!(all.rows(3, 5), Err(SynthError::Columns(_))));
        assert!(matches!(all.rows(3, 2), Err(SynthError::Columns(_))));
    }

    #[test]
    fn bad_input_is_an_error_naming_it() {
        let signer = signer();
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let err = Entries::new(Serials::U64(&[1, 2]), &[1], None, None).unwrap_err();
        assert_eq!(err.to_string(), "entry columns: revocation_time has 1 rows but there are 2 serials");
        assert!(Entries::new(Serials::Fixed { bytes: &[0; 21], width: 21 }, &[1], None, None).is_err());
        assert!(Entries::new(Serials::Fixed { bytes: &[0; 7], width: 2 }, &[1, 2, 3], None, None).is_err());
        let entries = Entries::new(Serials::U64(&[1, 2]), &[1, i64::MAX], None, None).unwrap();
        let err = encode_crl(&signer, &header, &entries).unwrap_err();
        assert!(matches!(err, SynthError::Entry { index: 1, .. }), "{err}");
        let entries = Entries::new(Serials::U64(&[1]), &[1], None, None).unwrap();
        let bad = CrlHeader { this_update: i64::MIN, ..header };
        assert!(matches!(encode_crl(&signer, &bad, &entries), Err(SynthError::Header(_))));
        let long_number = [1u8; 21];
        let bad = CrlHeader { crl_number: Some(&long_number), ..header };
        assert!(matches!(encode_crl(&signer, &bad, &entries), Err(SynthError::Header(_))));
        let bad = CrlHeader { distribution_point: Some(&[0x04, 0x00]), ..header };
        assert!(matches!(encode_crl(&signer, &bad, &entries), Err(SynthError::Header(_))));
        assert!(matches!(Signer::new(b"not a key", name("x"), None), Err(SynthError::Key(_))));
        assert!(matches!(Signer::new(test_key(), vec![0x30, 0x05], None), Err(SynthError::Header(_))));
    }

    #[test]
    fn write_crls_writes_every_job_and_names_a_failing_one() {
        let dir = std::env::temp_dir().join(format!("jpki-synth-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let signers = [signer()];
        let serials: Vec<u64> = (0..100).collect();
        let dates = vec![1_700_000_000i64; 100];
        let entries = Entries::new(Serials::U64(&serials), &dates, None, None).unwrap();
        let job = |name: &str, start, end| CrlJob {
            path: dir.join("auth").join(name),
            signer: 0,
            start,
            end,
            this_update: 1_795_000_000,
            next_update: Some(1_795_172_800),
            crl_number: Some(vec![1]),
            distribution_point: None,
        };
        let jobs = [job("a.crl", 0, 10), job("b.crl", 10, 100), job("c.crl", 100, 100)];
        let sizes = write_crls(&signers, &jobs, &entries).unwrap();
        for (j, size) in jobs.iter().zip(&sizes) {
            let data = fs::read(&j.path).unwrap();
            assert_eq!(data.len() as u64, *size);
            assert_eq!(collect(&Crl::parse(&data).unwrap()).len(), j.end - j.start);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.join("auth"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let bad = [job("d.crl", 0, 1), job("e.crl", 50, 101)];
        let err = write_crls(&signers, &bad, &entries).unwrap_err();
        assert!(matches!(&err, SynthError::Job { job: 1, .. }), "{err}");
        assert!(err.to_string().contains("e.crl"), "{err}");
        let bad = [CrlJob { signer: 3, ..job("f.crl", 0, 1) }];
        let err = write_crls(&signers, &bad, &entries).unwrap_err();
        assert_eq!(err.kind(), "no_such_signer");
        assert!(err.to_string().contains("signer #3 does not exist"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
