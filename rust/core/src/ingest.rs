//! Reading, verifying and collecting the entries of many CRL files in parallel.
//!
//! Each file is memory-mapped; its `tbsCertList` is hashed on one core while its entries are
//! walked on another (rayon::join), and the signature is verified against the trusted keys that
//! [`crate::trust`]'s rule makes candidates (the key the CRL's authority key identifier names,
//! or without one every key whose subject matches the CRL issuer's name). A file either yields
//! all its entries or an error that names the cause; nothing in between.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::crl::{self, Crl, CrlError, EntryProblem, IssuingDistributionPoint, NO_REASON};
use crate::index::{InvalidityRecord, LongRecord, Record, NO_PARTITION};
use crate::serial::SerialKey;
use crate::signature::{self, HashAlg, SignatureError};
use crate::trust::Anchors;

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

/// Resource limits of one ingest (README "Resource limits"): a file over either is refused
/// (`limit_exceeded`) before it can take the memory its size or entries would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest CRL file accepted, in bytes (checked before the file is mapped).
    pub max_file_bytes: u64,
    /// Most revoked entries one CRL may list (checked while walking them).
    pub max_entries: usize,
}

impl Default for Limits {
    /// 1 GiB and 30 million entries: a day's JPKI partition CRLs are about 100 KB each, and a
    /// whole issuer's 10 million entries in one full CRL would take some 400 MB.
    fn default() -> Self {
        Limits { max_file_bytes: 1 << 30, max_entries: 30_000_000 }
    }
}

/// Reads, verifies and collects each file, in parallel. Outcomes are in input order.
pub fn read_files(paths: &[String], anchors: &Anchors, limits: Limits) -> Vec<FileOutcome> {
    paths
        .par_iter()
        .map(|path| {
            let (size, result) = match map_file(Path::new(path), limits.max_file_bytes) {
                Ok(map) => {
                    let size = map.len() as u64;
                    let result = crl::decode_file(&map).and_then(|der| verify_and_collect_within(&der, anchors, limits));
                    (size, result)
                }
                Err((size, e)) => (size, Err(e)),
            };
            FileOutcome { path: path.clone(), size, result }
        })
        .collect()
}

fn map_file(path: &Path, max_bytes: u64) -> Result<Mmap, (u64, CrlError)> {
    let io = |action: &'static str| move |e: std::io::Error| (0, CrlError::Io { action, error: e.to_string() });
    let file = File::open(path).map_err(io("open"))?;
    let len = file.metadata().map_err(io("stat"))?.len();
    if len == 0 {
        return Err((0, CrlError::Empty));
    }
    if len > max_bytes {
        return Err((len, CrlError::FileTooLarge { bytes: len, limit: max_bytes }));
    }
    // SAFETY: the mapping is read-only; ingest inputs are not modified while being read (a
    // concurrent writer could at worst make this CRL fail to parse or verify).
    let map = unsafe { Mmap::map(&file) }.map_err(io("map"))?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// Verifies the signature of `der` and collects its entries, under the default [`Limits`].
pub fn verify_and_collect(der: &[u8], anchors: &Anchors) -> Result<VerifiedCrl, CrlError> {
    verify_and_collect_within(der, anchors, Limits::default())
}

/// Verifies the signature of `der` and collects its entries, refusing a CRL of more entries
/// than `limits.max_entries`.
pub fn verify_and_collect_within(der: &[u8], anchors: &Anchors, limits: Limits) -> Result<VerifiedCrl, CrlError> {
    let crl = Crl::parse(der)?;
    let found = anchors
        .candidates(crl.issuer_der, crl.authority_key_id)
        .map_err(|problem| CrlError::UnknownIssuer { issuer: crl.issuer.clone(), problem })?;
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
            let collected = collect_entries(&crl, limits.max_entries);
            crate::trace("ingest: walk", t);
            collected
        },
    );
    let (content, signed) = digests;
    let signed_digest = signed.as_ref().unwrap_or(&content);

    let mut verified = None;
    let mut last_error = CrlError::Signature(SignatureError::Invalid);
    for &i in &found {
        let key = match anchors[i].key(scheme) {
            Ok(k) => k,
            Err(e) => {
                last_error = CrlError::Signature(e);
                continue;
            }
        };
        match signature::verify_digest(key, scheme.hash, signed_digest.as_ref(), crl.signature) {
            Ok(()) => {
                verified = Some(i);
                break;
            }
            Err(e) => last_error = CrlError::Signature(e),
        }
    }
    let anchor = verified.ok_or(last_error)?;
    if !anchors[anchor].may_sign_crls {
        return Err(CrlError::IssuerNotAllowed { alias: anchors[anchor].alias.clone() });
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

fn collect_entries(crl: &Crl<'_>, max_entries: usize) -> Result<Collected, CrlError> {
    let mut records: Vec<Record> = crate::mem::with_capacity(crl.entry_capacity_hint().min(max_entries.saturating_add(1)));
    let mut long_records = Vec::new();
    let mut invalidity = Vec::new();
    let mut reasons: ReasonCounts = [0; 12];
    let count = crl.for_each_entry(|index, e| {
        if index >= max_entries {
            return Err(CrlError::TooManyEntries { limit: max_entries });
        }
        let date = u32::try_from(e.revocation_date).map_err(|_| CrlError::InvalidEntry { index, problem: EntryProblem::DateOutOfRange })?;
        reasons[if e.reason == NO_REASON { 11 } else { e.reason as usize }] += 1;
        // The parser has refused serials over 20 octets already; negative ones are kept.
        let key = SerialKey::from_integer(e.serial)
            .map_err(|_| CrlError::InvalidEntry { index, problem: EntryProblem::SerialTooLong(e.serial.len()) })?;
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
