//! Reading, verifying and collecting the entries of many CRL files in parallel.
//!
//! Each file is memory-mapped; its `tbsCertList` is hashed on one core while its entries are
//! walked on another (rayon::join), and the signature is verified once against the CA key that
//! the CRL's authority key identifier names (or, without one, every trusted key whose subject
//! equals the CRL issuer). A file either yields all its entries or an error that names the
//! cause; nothing in between.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::crl::{self, Crl, CrlError, IssuingDistributionPoint, NO_REASON};
use crate::index::{InvalidityRecord, LongRecord, Record, NO_PARTITION};
use crate::names::hex_upper;
use crate::serial::SerialKey;
use crate::signature::{self, HashAlg, SignatureError};

/// A CA key from the trust store.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub alias: String,
    pub key_id: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub subject: String,
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// False when the CA certificate's keyUsage lacks cRLSign.
    pub crl_sign: bool,
}

/// Counts of entries by reason code (index 0..=10) plus one slot (11) for "no reason".
pub type ReasonCounts = [u64; 12];

/// A verified CRL: its header and all its entries, ready for the index.
#[derive(Debug)]
pub struct VerifiedCrl {
    pub anchor: usize,
    pub version: u8,
    pub scheme: String,
    pub issuer: String,
    pub authority_key_id: Option<Vec<u8>>,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub crl_number: Option<Vec<u8>>,
    pub idp: Option<IssuingDistributionPoint>,
    /// SHA-256 of the exact tbsCertList: the CRL's content identity.
    pub content_sha256: [u8; 32],
    pub entries: usize,
    pub reason_counts: ReasonCounts,
    pub records: Vec<Record>,
    pub long_records: Vec<LongRecord>,
    pub invalidity: Vec<InvalidityRecord>,
}

/// The outcome for one file.
#[derive(Debug)]
pub struct FileOutcome {
    pub path: String,
    pub size: u64,
    pub result: Result<VerifiedCrl, CrlError>,
}

/// Reads, verifies and collects each file, in parallel. Outcomes are in input order.
pub fn read_files(paths: &[String], anchors: &[Anchor]) -> Vec<FileOutcome> {
    paths
        .par_iter()
        .map(|path| {
            let (size, result) = match map_file(Path::new(path)) {
                Ok(map) => {
                    let size = map.len() as u64;
                    let result = crl::decode_file(&map).and_then(|der| verify_and_collect(&der, anchors));
                    (size, result)
                }
                Err(e) => (0, Err(e)),
            };
            FileOutcome { path: path.clone(), size, result }
        })
        .collect()
}

fn map_file(path: &Path) -> Result<Mmap, CrlError> {
    let file = File::open(path).map_err(|e| CrlError::NotACrl(format!("cannot open: {e}")))?;
    let len = file.metadata().map_err(|e| CrlError::NotACrl(format!("cannot stat: {e}")))?.len();
    if len == 0 {
        return Err(CrlError::NotACrl("the file is empty".into()));
    }
    // SAFETY: the mapping is read-only; ingest inputs are not modified while being read (a
    // concurrent writer could at worst make this CRL fail to parse or verify).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| CrlError::NotACrl(format!("cannot map: {e}")))?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// Finds the CA keys that may have signed `crl`.
fn candidates(crl: &Crl<'_>, anchors: &[Anchor]) -> Result<Vec<usize>, CrlError> {
    if let Some(aki) = crl.authority_key_id {
        let found: Vec<usize> = (0..anchors.len()).filter(|&i| anchors[i].key_id == aki).collect();
        if found.is_empty() {
            return Err(CrlError::UnknownIssuer(format!(
                "no CA in the trust store has key identifier {} (CRL issuer: {})",
                hex_upper(aki),
                crl.issuer
            )));
        }
        for &i in &found {
            let a = &anchors[i];
            if a.subject_der != crl.issuer_der && a.subject != crl.issuer {
                return Err(CrlError::UnknownIssuer(format!(
                    "CRL issuer '{}' differs from the subject '{}' of CA '{}' whose key it names",
                    crl.issuer, a.subject, a.alias
                )));
            }
        }
        Ok(found)
    } else {
        let found: Vec<usize> =
            (0..anchors.len()).filter(|&i| anchors[i].subject_der == crl.issuer_der || anchors[i].subject == crl.issuer).collect();
        if found.is_empty() {
            return Err(CrlError::UnknownIssuer(format!("no CA in the trust store is named '{}'", crl.issuer)));
        }
        Ok(found)
    }
}

/// Verifies the signature of `der` and collects its entries.
pub fn verify_and_collect(der: &[u8], anchors: &[Anchor]) -> Result<VerifiedCrl, CrlError> {
    let crl = Crl::parse(der)?;
    let found = candidates(&crl, anchors)?;
    let scheme = crl.scheme;

    // Hash the signed bytes on one core while the entries are walked on another.
    let (digests, collected) = rayon::join(
        || {
            let t = std::time::Instant::now();
            let content = signature::hash(HashAlg::Sha256, crl.tbs);
            let signed = if scheme.hash == HashAlg::Sha256 { None } else { Some(signature::hash(scheme.hash, crl.tbs)) };
            crate::trace("ingest: hash", t);
            (content, signed)
        },
        || {
            let t = std::time::Instant::now();
            let collected = collect_entries(&crl);
            crate::trace("ingest: walk", t);
            collected
        },
    );
    let (content, signed) = digests;
    let signed_digest = signed.as_ref().unwrap_or(&content);

    let mut verified = None;
    let mut last_error = CrlError::Signature(SignatureError::Invalid);
    for &i in &found {
        let key = match signature::parse_key(scheme, &anchors[i].public_key) {
            Ok(k) => k,
            Err(e) => {
                last_error = CrlError::Signature(e);
                continue;
            }
        };
        match signature::verify_digest(&key, scheme.hash, signed_digest.as_ref(), crl.signature) {
            Ok(()) => {
                verified = Some(i);
                break;
            }
            Err(e) => last_error = CrlError::Signature(e),
        }
    }
    let anchor = verified.ok_or(last_error)?;
    if !anchors[anchor].crl_sign {
        return Err(CrlError::IssuerNotAllowed(format!(
            "CA '{}' may not sign CRLs (its keyUsage lacks cRLSign)",
            anchors[anchor].alias
        )));
    }
    let (entries, records, long_records, invalidity, reason_counts) = collected?;
    let mut content_sha256 = [0u8; 32];
    content_sha256.copy_from_slice(content.as_ref());
    Ok(VerifiedCrl {
        anchor,
        version: crl.version,
        scheme: scheme.name(),
        issuer: crl.issuer.clone(),
        authority_key_id: crl.authority_key_id.map(|a| a.to_vec()),
        this_update: crl.this_update,
        next_update: crl.next_update,
        crl_number: crl.crl_number.map(|n| n.to_vec()),
        idp: crl.idp.clone(),
        content_sha256,
        entries,
        reason_counts,
        records,
        long_records,
        invalidity,
    })
}

type Collected = (usize, Vec<Record>, Vec<LongRecord>, Vec<InvalidityRecord>, ReasonCounts);

fn collect_entries(crl: &Crl<'_>) -> Result<Collected, CrlError> {
    let mut records: Vec<Record> = crate::mem::with_capacity(crl.entry_capacity_hint());
    let mut long_records = Vec::new();
    let mut invalidity = Vec::new();
    let mut reasons: ReasonCounts = [0; 12];
    let count = crl.for_each_entry(|index, e| {
        let date = u32::try_from(e.revocation_date).map_err(|_| CrlError::InvalidEntry {
            index,
            what: "revocationDate outside 1970-01-01..2106-02-07, which this engine stores".into(),
        })?;
        reasons[if e.reason == NO_REASON { 11 } else { e.reason as usize }] += 1;
        let key = SerialKey::from_be_bytes(e.serial).map_err(|err| CrlError::InvalidEntry { index, what: err.to_string() })?;
        match key {
            SerialKey::Short(serial) => records.push(Record { serial, date, partition: NO_PARTITION, reason: e.reason }),
            SerialKey::Long(serial) => long_records.push(LongRecord { serial, date, partition: NO_PARTITION, reason: e.reason }),
        }
        if let Some(invalidity_date) = e.invalidity_date {
            invalidity.push(InvalidityRecord { serial: key, partition: NO_PARTITION, date, invalidity: invalidity_date });
        }
        Ok(())
    })?;
    // No shrink_to_fit: the unused tail of the reservation was never touched (not resident),
    // and reallocating would split the huge pages the sort benefits from.
    Ok((count, records, long_records, invalidity, reasons))
}
