//! Batch status checks against the revocation index, on all cores.
//!
//! The rules (DESIGN.md, "Statuses for a serial"):
//! - `unknown`: the issuer is not in the trust store.
//! - `revoked`: the serial is on a CRL of that issuer key (any partition: a revocation is never
//!   undone by staleness), or the issuer key itself was revoked by an authority revocation list.
//! - `good`: not revoked, and the covering data is fresh at `now` (thisUpdate <= now < nextUpdate):
//!   the row's own partition when it is known, otherwise every partition of the issuer.
//! - `stale`: not revoked and the covering data is missing or not fresh. Stale never yields good.

use rayon::prelude::*;

use crate::index::{Hit, IssuerView, LongKey, NOT_FOUND};

pub const GOOD: u8 = 0;
pub const REVOKED: u8 = 1;
pub const STALE: u8 = 2;
pub const UNKNOWN: u8 = 3;

/// Issuer slot for "not in the trust store".
pub const UNKNOWN_ISSUER: u16 = u16::MAX;
/// Partition slot for "judge freshness over all partitions of the issuer".
pub const ISSUER_WIDE: u16 = u16::MAX;
/// Partition slot for "the certificate names a partition the store has no CRL for".
pub const MISSING_PARTITION: u16 = u16::MAX - 1;
/// Time slot for "absent" (nextUpdate, dates).
pub const NO_TIME: i64 = i64::MIN;

/// Freshness of every partition and issuer at one instant.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub partition_fresh: Vec<bool>,
    /// True when the issuer has at least one partition and all of them are fresh.
    pub issuer_fresh: Vec<bool>,
    /// Per issuer: revoked by an authority revocation list (date, reason), if so.
    pub issuer_revoked: Vec<Option<(i64, u8)>>,
}

impl Coverage {
    /// `partition_issuer[p]` is the issuer of partition `p`; `counts[p]` says whether `p` covers
    /// end-entity certificates (authority revocation lists do not).
    pub fn at(now: i64, n_issuers: usize, partition_issuer: &[u16], this_update: &[i64], next_update: &[i64], counts: &[bool]) -> Coverage {
        let partition_fresh: Vec<bool> = (0..partition_issuer.len())
            .map(|p| this_update[p] <= now && next_update[p] != NO_TIME && now < next_update[p])
            .collect();
        let mut has_any = vec![false; n_issuers];
        let mut all_fresh = vec![true; n_issuers];
        for p in 0..partition_issuer.len() {
            let i = partition_issuer[p] as usize;
            if i < n_issuers && counts[p] {
                has_any[i] = true;
                all_fresh[i] &= partition_fresh[p];
            }
        }
        let issuer_fresh = (0..n_issuers).map(|i| has_any[i] && all_fresh[i]).collect();
        Coverage { partition_fresh, issuer_fresh, issuer_revoked: vec![None; n_issuers] }
    }
}

/// Which issuer each row belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Issuers<'a> {
    All(u16),
    PerRow(&'a [u16]),
}

impl Issuers<'_> {
    #[inline]
    fn get(&self, row: usize) -> u16 {
        match self {
            Issuers::All(i) => *i,
            Issuers::PerRow(v) => v[row],
        }
    }
}

/// Outputs, one value per row; bitmaps are Arrow validity bitmaps (LSB first).
#[derive(Debug, Default)]
pub struct CheckOutput {
    pub status: Vec<u8>,
    pub reason: Vec<u8>,
    pub revocation_date: Vec<i64>,
    pub invalidity_date: Vec<i64>,
    /// The deciding partition for revoked rows; `ISSUER_WIDE` otherwise.
    pub partition: Vec<u16>,
    pub revocation_valid: Vec<u8>,
    pub reason_valid: Vec<u8>,
    pub invalidity_valid: Vec<u8>,
    pub counts: [u64; 4],
}

const CHUNK: usize = 1 << 14; // a multiple of 8, so chunks own whole bitmap bytes
const G: usize = 16;

/// Checks `short[i]` (or, for rows listed in `long`, the long serial) of issuer `issuers.get(i)`.
pub fn check(
    views: &[Option<IssuerView<'_>>],
    issuers: Issuers<'_>,
    partitions: Option<&[u16]>,
    short: &[u64],
    long: &[(u32, LongKey)],
    coverage: &Coverage,
) -> CheckOutput {
    let n = short.len();
    let mut out = CheckOutput {
        status: vec![0; n],
        reason: vec![0; n],
        revocation_date: vec![0; n],
        invalidity_date: vec![0; n],
        partition: vec![0; n],
        revocation_valid: vec![0; n.div_ceil(8)],
        reason_valid: vec![0; n.div_ceil(8)],
        invalidity_valid: vec![0; n.div_ceil(8)],
        counts: [0; 4],
    };
    let counts: Vec<[u64; 4]> = out
        .status
        .par_chunks_mut(CHUNK)
        .zip(out.reason.par_chunks_mut(CHUNK))
        .zip(out.revocation_date.par_chunks_mut(CHUNK))
        .zip(out.invalidity_date.par_chunks_mut(CHUNK))
        .zip(out.partition.par_chunks_mut(CHUNK))
        .zip(out.revocation_valid.par_chunks_mut(CHUNK / 8))
        .zip(out.reason_valid.par_chunks_mut(CHUNK / 8))
        .zip(out.invalidity_valid.par_chunks_mut(CHUNK / 8))
        .enumerate()
        .map(|(c, (((((((status, reason), rdate), idate), part), rv), sv), iv))| {
            let start = c * CHUNK;
            let mut rows = [NOT_FOUND; G];
            let mut counts = [0u64; 4];
            let mut k = 0;
            while k < status.len() {
                let g = G.min(status.len() - k);
                let base = start + k;
                lookup_group(views, issuers, &short[base..base + g], base, &mut rows[..g]);
                for j in 0..g {
                    let row = base + j;
                    let issuer = issuers.get(row);
                    let hit = if rows[j] == NOT_FOUND {
                        None
                    } else {
                        views[issuer as usize].map(|v| v.hit_short(rows[j]))
                    };
                    let local = k + j;
                    let s = decide(views, issuer, partitions.map(|p| p[row]), hit, coverage, local, status, reason, rdate, idate, part, rv, sv, iv);
                    counts[s as usize] += 1;
                }
                k += g;
            }
            counts
        })
        .collect();
    for c in counts {
        for s in 0..4 {
            out.counts[s] += c[s];
        }
    }
    // Long serials are rare: redo those rows one by one.
    for &(row, key) in long {
        let row = row as usize;
        out.counts[out.status[row] as usize] -= 1;
        let issuer = issuers.get(row);
        let hit = views.get(issuer as usize).copied().flatten().and_then(|v| v.find_long(&key).map(|r| v.hit_long(r)));
        let s = decide(
            views,
            issuer,
            partitions.map(|p| p[row]),
            hit,
            coverage,
            row,
            &mut out.status,
            &mut out.reason,
            &mut out.revocation_date,
            &mut out.invalidity_date,
            &mut out.partition,
            &mut out.revocation_valid,
            &mut out.reason_valid,
            &mut out.invalidity_valid,
        );
        out.counts[s as usize] += 1;
    }
    out
}

#[inline]
fn lookup_group(views: &[Option<IssuerView<'_>>], issuers: Issuers<'_>, keys: &[u64], base: usize, rows: &mut [u32]) {
    match issuers {
        Issuers::All(i) => match views.get(i as usize).copied().flatten() {
            Some(v) => v.find_short_batch(keys, rows),
            None => rows.fill(NOT_FOUND),
        },
        Issuers::PerRow(per_row) => {
            for (j, &k) in keys.iter().enumerate() {
                rows[j] = match views.get(per_row[base + j] as usize).copied().flatten() {
                    Some(v) => v.find_short(k),
                    None => NOT_FOUND,
                };
            }
        }
    }
}

#[inline(always)]
fn set_bit(bits: &mut [u8], i: usize, on: bool) {
    let mask = 1u8 << (i % 8);
    if on {
        bits[i / 8] |= mask;
    } else {
        bits[i / 8] &= !mask;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decide(
    views: &[Option<IssuerView<'_>>],
    issuer: u16,
    partition: Option<u16>,
    hit: Option<Hit>,
    coverage: &Coverage,
    i: usize,
    status: &mut [u8],
    reason: &mut [u8],
    rdate: &mut [i64],
    idate: &mut [i64],
    part: &mut [u16],
    rv: &mut [u8],
    sv: &mut [u8],
    iv: &mut [u8],
) -> u8 {
    let known = issuer != crate::check::UNKNOWN_ISSUER && (issuer as usize) < views.len();
    let (s, r, d, inv, p) = if !known {
        (UNKNOWN, None, None, None, ISSUER_WIDE)
    } else if let Some((date, code)) = coverage.issuer_revoked[issuer as usize] {
        (REVOKED, Some(code), Some(date), None, ISSUER_WIDE)
    } else if let Some(h) = hit {
        let r = if h.reason == crate::crl::NO_REASON { None } else { Some(h.reason) };
        (REVOKED, r, Some(h.date as i64), h.invalidity, h.partition)
    } else {
        let fresh = match partition {
            None | Some(ISSUER_WIDE) => coverage.issuer_fresh[issuer as usize],
            Some(MISSING_PARTITION) => false,
            Some(p) => coverage.partition_fresh.get(p as usize).copied().unwrap_or(false),
        };
        (if fresh { GOOD } else { STALE }, None, None, None, ISSUER_WIDE)
    };
    status[i] = s;
    reason[i] = r.unwrap_or(0);
    rdate[i] = d.unwrap_or(0);
    idate[i] = inv.unwrap_or(0);
    part[i] = p;
    set_bit(rv, i, d.is_some());
    set_bit(sv, i, r.is_some());
    set_bit(iv, i, inv.is_some());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{build, Record};

    #[test]
    fn statuses_follow_the_contract() {
        let cols = build(vec![Record { serial: 10, date: 100, partition: 0, reason: 1 }], vec![], vec![]);
        let views = vec![Some(cols.view()), None];
        // partition 0 fresh, partition 1 stale, both of issuer 0
        let cov = Coverage::at(1000, 2, &[0, 0], &[0, 0], &[2000, 500], &[true, true]);
        assert!(!cov.issuer_fresh[0]);
        let short = [10u64, 11, 11, 11, 11];
        let issuers = [0u16, 0, 0, 0, UNKNOWN_ISSUER];
        let parts = [ISSUER_WIDE, 0, 1, MISSING_PARTITION, ISSUER_WIDE];
        let out = check(&views, Issuers::PerRow(&issuers), Some(&parts), &short, &[], &cov);
        assert_eq!(out.status, vec![REVOKED, GOOD, STALE, STALE, UNKNOWN]);
        assert_eq!(out.revocation_date[0], 100);
        assert_eq!(out.revocation_valid[0], 0b0000_0001);
        assert_eq!(out.counts, [1, 1, 2, 1]);
        // Issuer-wide: one stale partition makes every unrevoked serial stale.
        let out = check(&views, Issuers::All(0), None, &short, &[], &cov);
        assert_eq!(out.status, vec![REVOKED, STALE, STALE, STALE, STALE]);
        // All fresh: good.
        let cov = Coverage::at(100, 2, &[0, 0], &[0, 0], &[2000, 500], &[true, true]);
        let out = check(&views, Issuers::All(0), None, &short, &[], &cov);
        assert_eq!(out.status, vec![REVOKED, GOOD, GOOD, GOOD, GOOD]);
        // Issuer 1 has no CRL at all: stale.
        let out = check(&views, Issuers::All(1), None, &short, &[], &cov);
        assert_eq!(out.status, vec![STALE; 5]);
    }
}
