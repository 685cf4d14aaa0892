//! Synthetic CRLs: an encoder for X.509 v2 CRLs (RFC 5280 §5) that signs with RSA PKCS#1 v1.5
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
//! Everything is written with the core's [`Writer`]. The entry list's length is computed
//! before it is written (the small header parts are encoded first), so the millions of entries
//! are written once, in place, and the signature is computed over the finished `tbsCertList`
//! slice without copying. Bad input (mismatched columns, times outside years 0..9999, over-long
//! serials, a key that is not RSA PKCS#8) is a [`SynthError`], never a panic.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rayon::prelude::*;

use super::{ColumnsError, EntryError, HeaderError, Result, SynthError};
use crate::der::writer::{encoded_len, time_len, unsigned_integer_len, WriteError};
use crate::der::{self, tag, Writer};
use crate::serial::MAX_SERIAL_OCTETS;
use crate::time::{MAX_GENERALIZED_TIME, MIN_GENERALIZED_TIME};

/// sha256WithRSAEncryption (1.2.840.113549.1.1.11), with NULL parameters (RFC 4055 §5).
const OID_SHA256_WITH_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];

/// Extension OIDs (content octets).
const OID_AKI: &[u8] = &[0x55, 0x1D, 0x23]; // 2.5.29.35
const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1D, 0x14]; // 2.5.29.20
const OID_IDP: &[u8] = &[0x55, 0x1D, 0x1C]; // 2.5.29.28
const OID_REASON_CODE: &[u8] = &[0x55, 0x1D, 0x15]; // 2.5.29.21
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1D, 0x18]; // 2.5.29.24

/// Marks "no reasonCode" in a reason column (same value as [`crate::crl::NO_REASON`]).
pub const NO_REASON: u8 = crate::crl::NO_REASON;

/// Fails for times GeneralizedTime cannot express.
#[inline]
fn check_time(secs: i64) -> std::result::Result<(), WriteError> {
    if (MIN_GENERALIZED_TIME..=MAX_GENERALIZED_TIME).contains(&secs) {
        Ok(())
    } else {
        Err(WriteError::TimeOutOfRange(secs))
    }
}

fn sig_algorithm(w: &mut Writer) {
    w.sequence(|w| {
        w.oid(OID_SHA256_WITH_RSA);
        w.null();
    });
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

/// A serial's magnitude, leading zeros dropped (at most 20 octets).
#[derive(Clone, Copy)]
struct Magnitude {
    buf: [u8; MAX_SERIAL_OCTETS],
    len: usize,
}

impl Magnitude {
    #[inline]
    fn new(bytes: &[u8]) -> std::result::Result<Magnitude, usize> {
        let m = &bytes[bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len())..];
        if m.len() > MAX_SERIAL_OCTETS {
            return Err(m.len());
        }
        let mut buf = [0u8; MAX_SERIAL_OCTETS];
        buf[..m.len()].copy_from_slice(m);
        Ok(Magnitude { buf, len: m.len() })
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Serials<'_> {
    fn len(&self) -> usize {
        match self {
            Serials::Fixed { bytes, width } => bytes.len() / width,
            Serials::U64(v) => v.len(),
        }
    }

    /// Fails with the number of significant octets when there are more than 20.
    #[inline]
    fn magnitude(&self, row: usize) -> std::result::Result<Magnitude, usize> {
        match self {
            Serials::Fixed { bytes, width } => Magnitude::new(&bytes[row * width..(row + 1) * width]),
            Serials::U64(v) => Magnitude::new(&v[row].to_be_bytes()),
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
                return Err(SynthError::Columns(ColumnsError::SerialWidth(width)));
            }
            if bytes.len() % width != 0 {
                return Err(SynthError::Columns(ColumnsError::SerialBytes { bytes: bytes.len(), width }));
            }
        }
        let n = serials.len();
        let check = |column: &'static str, rows: usize| {
            if rows == n {
                Ok(())
            } else {
                Err(SynthError::Columns(ColumnsError::Length { column, rows, serials: n }))
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
            return Err(SynthError::Columns(ColumnsError::RowRange { start, end, entries: n }));
        }
        Ok(Entries { start, end, ..*self })
    }

    /// The fields of one row, checked; `Entry` errors carry the row number.
    #[inline]
    fn row(&self, row: usize) -> Result<EntryFields> {
        let entry = |problem| SynthError::Entry { index: row, problem };
        let serial = self.serials.magnitude(row).map_err(|octets| entry(EntryError::SerialTooLong(octets)))?;
        let revocation = self.revocation_time[row];
        check_time(revocation).map_err(|e| entry(EntryError::RevocationDate(e)))?;
        let reason = self.reason.map(|r| r[row]).filter(|&r| r != NO_REASON);
        let invalidity = match self.invalidity {
            Some((dates, mask)) if mask[row] != 0 => {
                check_time(dates[row]).map_err(|e| entry(EntryError::InvalidityDate(e)))?;
                Some(dates[row])
            }
            _ => None,
        };
        Ok(EntryFields { serial, revocation, reason, invalidity })
    }
}

/// One entry, ready to encode.
struct EntryFields {
    serial: Magnitude,
    revocation: i64,
    reason: Option<u8>,
    invalidity: Option<i64>,
}

/// ENUMERATED content octets of a reason code (codes >= 128 need a 0x00 pad).
#[inline]
fn enumerated_len(code: u8) -> usize {
    if code >= 0x80 {
        2
    } else {
        1
    }
}

/// reasonCode extension contents: `OID, OCTET STRING { ENUMERATED }`.
#[inline]
fn reason_ext_contents(code: u8) -> usize {
    5 + encoded_len(encoded_len(enumerated_len(code)))
}

/// invalidityDate extension contents: `OID, OCTET STRING { GeneralizedTime }` (always
/// GeneralizedTime, RFC 5280 §5.3.2).
const INVALIDITY_EXT_CONTENTS: usize = 5 + 2 + 17;

impl EntryFields {
    #[inline]
    fn extensions_len(&self) -> usize {
        self.reason.map_or(0, |c| encoded_len(reason_ext_contents(c))) + self.invalidity.map_or(0, |_| encoded_len(INVALIDITY_EXT_CONTENTS))
    }

    #[inline]
    fn content_len(&self) -> usize {
        let ext = self.extensions_len();
        encoded_len(unsigned_integer_len(self.serial.bytes())) + time_len(self.revocation) + if ext > 0 { encoded_len(ext) } else { 0 }
    }

    /// Writes the entry; its length was computed by [`EntryFields::content_len`].
    #[inline]
    fn write(&self, w: &mut Writer) {
        w.header(tag::SEQUENCE, self.content_len());
        w.integer(self.serial.bytes());
        w.time(self.revocation);
        let ext = self.extensions_len();
        if ext == 0 {
            return;
        }
        w.header(tag::SEQUENCE, ext);
        if let Some(code) = self.reason {
            w.header(tag::SEQUENCE, reason_ext_contents(code));
            w.oid(OID_REASON_CODE);
            w.header(tag::OCTET_STRING, encoded_len(enumerated_len(code)));
            w.enumerated(code as u64);
        }
        if let Some(date) = self.invalidity {
            w.header(tag::SEQUENCE, INVALIDITY_EXT_CONTENTS);
            w.oid(OID_INVALIDITY_DATE);
            w.header(tag::OCTET_STRING, 17);
            w.generalized_time(date);
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
        let key = RsaKeyPair::from_pkcs8(pkcs8).map_err(SynthError::Key)?;
        check_name(&issuer, "issuer")?;
        Ok(Signer { key, issuer, authority_key_id })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        // PKCS#1 v1.5 is deterministic; the RNG parameter is part of the API only.
        self.key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature).map_err(|_| SynthError::Sign)?;
        Ok(signature)
    }

    /// The signer's public key (PKCS#1 RSAPublicKey DER).
    pub fn public_key(&self) -> &[u8] {
        use aws_lc_rs::signature::KeyPair;
        self.key.public_key().as_ref()
    }
}

/// Checks that `der` is exactly one SEQUENCE (a `Name`), so a caller's mistake surfaces here and
/// not as an unreadable CRL.
fn check_name(der_bytes: &[u8], what: &'static str) -> Result<()> {
    let mut r = der::Reader::new(der_bytes);
    r.read_tag(tag::SEQUENCE, "Name")
        .and_then(|_| r.finish("Name"))
        .map_err(|error| SynthError::Header(HeaderError::NotAName { what, error }))
}

fn extension(w: &mut Writer, oid: &[u8], critical: bool, value: impl FnOnce(&mut Writer)) {
    w.sequence(|w| {
        w.oid(oid);
        if critical {
            w.boolean(true);
        }
        w.octet_string_with(value);
    });
}

/// `crlExtensions [0]`: AKI, cRLNumber, IDP, extras; nothing when there are none.
fn crl_extensions(w: &mut Writer, signer: &Signer, header: &CrlHeader<'_>) -> Result<()> {
    if let Some(number) = header.crl_number {
        let octets = Magnitude::new(number).err();
        if let Some(octets) = octets {
            return Err(SynthError::Header(HeaderError::CrlNumberTooLong(octets)));
        }
    }
    if let Some(name) = header.distribution_point {
        check_name(name, "distribution point")?;
    }
    if signer.authority_key_id.is_none()
        && header.crl_number.is_none()
        && header.distribution_point.is_none()
        && header.extra_extensions.is_empty()
    {
        return Ok(());
    }
    w.explicit(0, |w| {
        w.sequence(|w| {
            if let Some(kid) = &signer.authority_key_id {
                // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
                extension(w, OID_AKI, false, |w| {
                    w.sequence(|w| w.implicit(0, kid));
                });
            }
            if let Some(number) = header.crl_number {
                extension(w, OID_CRL_NUMBER, false, |w| w.integer(number));
            }
            if let Some(name) = header.distribution_point {
                // distributionPoint [0] { fullName [0] { directoryName [4] EXPLICIT Name } }: the
                // CHOICE tags are explicit, GeneralNames' is implicit (RFC 5280 Appendix A.2).
                extension(w, OID_IDP, true, |w| {
                    w.sequence(|w| {
                        w.explicit(0, |w| {
                            w.explicit(0, |w| {
                                w.explicit(4, |w| w.raw(name));
                            });
                        });
                        w.implicit(1, &[0xFF]); // onlyContainsUserCerts
                    });
                });
            }
            for ext in header.extra_extensions {
                extension(w, &ext.oid, ext.critical, |w| w.raw(&ext.value));
            }
        });
    });
    Ok(())
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
    let time_error = |field| move |error| SynthError::Header(HeaderError::Time { field, error });
    check_time(header.this_update).map_err(time_error("thisUpdate"))?;
    if let Some(t) = header.next_update {
        check_time(t).map_err(time_error("nextUpdate"))?;
    }
    // The small parts first, each into its own buffer, so that every length is known before the
    // entries are written.
    let mut before = Writer::new(); // version .. nextUpdate
    before.integer_u64(1); // v2
    sig_algorithm(&mut before);
    before.raw(&signer.issuer);
    before.time(header.this_update);
    if let Some(t) = header.next_update {
        before.time(t);
    }
    let before = before.finish().map_err(|e| SynthError::Header(HeaderError::Der(e)))?;
    let mut after = Writer::new(); // crlExtensions
    crl_extensions(&mut after, signer, header)?;
    let after = after.finish().map_err(|e| SynthError::Header(HeaderError::Der(e)))?;
    // Every entry is checked before anything is written.
    let mut revoked_len = 0usize;
    for row in entries.start..entries.end {
        revoked_len += encoded_len(entries.row(row)?.content_len());
    }
    // RFC 5280 §5.1.2.6: with no revoked certificates the list is absent, not empty.
    let tbs_len = before.len() + if entries.is_empty() { 0 } else { encoded_len(revoked_len) } + after.len();
    let sig_len = signer.key.public_modulus_len();
    let mut algorithm = Writer::new();
    sig_algorithm(&mut algorithm);
    let algorithm = algorithm.finish().map_err(|e| SynthError::Header(HeaderError::Der(e)))?;
    let list_len = encoded_len(tbs_len) + algorithm.len() + encoded_len(1 + sig_len);

    let mut w = Writer::with_capacity(encoded_len(list_len));
    w.header(tag::SEQUENCE, list_len);
    let tbs_start = w.len();
    w.header(tag::SEQUENCE, tbs_len);
    w.raw(&before);
    if !entries.is_empty() {
        w.header(tag::SEQUENCE, revoked_len);
        for row in entries.start..entries.end {
            entries.row(row)?.write(&mut w);
        }
    }
    w.raw(&after);
    let tbs_end = w.len();
    debug_assert_eq!(tbs_end - tbs_start, encoded_len(tbs_len), "tbsCertList size computed wrongly");
    let signature = signer.sign(&w.as_bytes()[tbs_start..tbs_end])?;
    w.raw(&algorithm);
    w.bit_string(0, &signature);
    let out = w.finish().map_err(|e| SynthError::Header(HeaderError::Der(e)))?;
    debug_assert_eq!(out.len(), encoded_len(list_len), "CertificateList size computed wrongly");
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
    let signer = signers.get(job.signer).ok_or(SynthError::NoSuchSigner { signer: job.signer, signers: signers.len() })?;
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
    let io = |e: std::io::Error| SynthError::Io { path: path.display().to_string(), error: e.to_string() };
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
        let mut w = Writer::new();
        w.sequence(|w| {
            for (oid, t, v) in [
                (&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, "JP"),
                (&[0x55, 0x04, 0x0A], tag::UTF8_STRING, "JPKI"),
                (&[0x55, 0x04, 0x0B], tag::UTF8_STRING, ou),
            ] {
                w.set(|w| {
                    w.sequence(|w| {
                        w.oid(oid);
                        w.element(t, v.as_bytes());
                    });
                });
            }
        });
        w.finish().unwrap()
    }

    fn signer() -> Signer {
        Signer::new(test_key(), name("JPKI for user authentication"), Some(vec![0xAB; 20])).unwrap()
    }

    /// Verifies the CRL's signature with the signer's public key (RSAPublicKey DER).
    fn verify(signer: &Signer, crl: &Crl<'_>) {
        use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, signer.public_key())
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
        let entries =
            Entries::new(Serials::Fixed { bytes: &serials, width: 8 }, &dates, Some(&reasons), Some((&inv_dates, &inv_mask))).unwrap();
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
            // The INTEGER content octets: a sign octet before a set top bit.
            vec![
                (vec![0x05, 0x4C, 0xFC, 0xD8], 1_700_000_000, 1, Some(1_699_000_000)),
                (vec![0x00, 0x80, 0, 0, 0, 0, 0, 0, 1], 1_700_000_001, NO_REASON, None),
                (vec![0x00], 2_600_000_000, 3, None),
                ([&[0x00][..], &[0xFF; 8]].concat(), -700_000_000, 10, Some(2_600_000_000)),
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
        let a = encode_crl(&signer, &header, &Entries::new(Serials::U64(&values), &dates, None, None).unwrap()).unwrap();
        let b =
            encode_crl(&signer, &header, &Entries::new(Serials::Fixed { bytes: &fixed, width: 8 }, &dates, None, None).unwrap()).unwrap();
        assert_eq!(a, b);
        let crl = Crl::parse(&a).unwrap();
        let serials: Vec<Vec<u8>> = collect(&crl).into_iter().map(|e| e.0).collect();
        let want: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let b = v.to_be_bytes();
                let m = &b[b.iter().position(|&x| x != 0).unwrap()..];
                if m[0] & 0x80 != 0 {
                    [&[0x00][..], m].concat()
                } else {
                    m.to_vec()
                }
            })
            .collect();
        assert_eq!(serials, want);
    }

    #[test]
    fn twenty_octet_serials_with_the_high_bit_get_a_pad_and_are_refused_as_21_octets() {
        let signer = signer();
        let serial = [0x9Au8; 20];
        let header = CrlHeader { this_update: 1_795_000_000, next_update: Some(1_795_172_800), ..Default::default() };
        let entries = Entries::new(Serials::Fixed { bytes: &serial, width: 20 }, &[1_700_000_000], None, None).unwrap();
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
        let mut needle = vec![tag::INTEGER, 21, 0x00];
        needle.extend_from_slice(&serial);
        assert!(der_bytes.windows(needle.len()).any(|w| w == needle));
        // 21 content octets: over RFC 5280's limit, which counts the INTEGER's octets.
        let err = Crl::parse(&der_bytes).unwrap().for_each_entry(|_, _| Ok(())).unwrap_err();
        assert_eq!(err, crate::crl::CrlError::InvalidEntry { index: 0, problem: crate::crl::EntryProblem::SerialTooLong(21) });
        let serial = [0x7Au8; 20];
        let entries = Entries::new(Serials::Fixed { bytes: &serial, width: 20 }, &[1_700_000_000], None, None).unwrap();
        let der_bytes = encode_crl(&signer, &header, &entries).unwrap();
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
