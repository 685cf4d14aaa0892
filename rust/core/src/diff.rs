//! What changed between two snapshots of one issuer key: a merge of two sorted serial columns.
//!
//! An entry is `added` (only in the newer snapshot), `removed` (only in the older: expired
//! certificates leave the CRL) or `changed` (in both, but its revocation date, reason or
//! partition differs). Partitions are compared by identity across snapshots through the
//! `*_partition_key` maps, since partition ids are renumbered in every generation. The merge
//! runs on all cores: both sides are cut at the same serial values.

use rayon::prelude::*;

use crate::crl::NO_REASON;
use crate::index::{unpack, IssuerView, LongKey, Payload};

pub const ADDED: u8 = 0;
pub const REMOVED: u8 = 1;
pub const CHANGED: u8 = 2;

/// Differences as columns, one row per changed serial, sorted by serial, ready to become Arrow
/// arrays without further passes: absent values are zero, with Arrow validity bitmaps (LSB
/// first). Partitions are given as indexes into the old snapshot's partitions (`0..n_old`)
/// followed by the new one's (`n_old..`), so one list of names serves both sides.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DiffColumns<K> {
    pub serial: Vec<K>,
    pub change: Vec<u8>,
    /// The entry as it is now (added, changed) or was (removed).
    pub date: Vec<i64>,
    pub partition: Vec<u32>,
    pub reason: Vec<u8>,
    pub reason_valid: Vec<u8>,
    /// What a changed entry was: set on changed rows only (`old_valid`).
    pub old_valid: Vec<u8>,
    pub old_date: Vec<i64>,
    pub old_partition: Vec<u32>,
    pub old_reason: Vec<u8>,
    pub old_reason_valid: Vec<u8>,
    /// Rows with `old_valid` set.
    pub changed: usize,
}

pub type ShortDiff = DiffColumns<u64>;
pub type LongDiff = DiffColumns<LongKey>;

impl<K: Copy> DiffColumns<K> {
    fn with_capacity(n: usize) -> Self {
        // Room for the worst case (every entry differs) is reserved but only touched as rows are
        // written, so it costs address space, not memory.
        let bits = n.div_ceil(8);
        DiffColumns {
            serial: crate::mem::with_capacity(n),
            change: crate::mem::with_capacity(n),
            date: crate::mem::with_capacity(n),
            partition: crate::mem::with_capacity(n),
            reason: crate::mem::with_capacity(n),
            reason_valid: crate::mem::with_capacity(bits),
            old_valid: crate::mem::with_capacity(bits),
            old_date: crate::mem::with_capacity(n),
            old_partition: crate::mem::with_capacity(n),
            old_reason: crate::mem::with_capacity(n),
            old_reason_valid: crate::mem::with_capacity(bits),
            changed: 0,
        }
    }

    #[inline]
    fn push(&mut self, serial: K, change: u8, now: (i64, u32, u8), was: Option<(i64, u32, u8)>) {
        let row = self.serial.len();
        if row % 8 == 0 {
            self.reason_valid.push(0);
            self.old_valid.push(0);
            self.old_reason_valid.push(0);
        }
        let (byte, bit) = (row / 8, 1u8 << (row % 8));
        let reason = |r: u8| if r == NO_REASON { 0 } else { r };
        self.serial.push(serial);
        self.change.push(change);
        self.date.push(now.0);
        self.partition.push(now.1);
        self.reason.push(reason(now.2));
        if now.2 != NO_REASON {
            self.reason_valid[byte] |= bit;
        }
        let (old_date, old_partition, old_reason) = was.unwrap_or((0, 0, NO_REASON));
        self.old_date.push(old_date);
        self.old_partition.push(old_partition);
        self.old_reason.push(reason(old_reason));
        if was.is_some() {
            self.old_valid[byte] |= bit;
            self.changed += 1;
        }
        if old_reason != NO_REASON {
            self.old_reason_valid[byte] |= bit;
        }
    }

    pub fn len(&self) -> usize {
        self.serial.len()
    }

    pub fn is_empty(&self) -> bool {
        self.serial.is_empty()
    }
}

const SPLIT: usize = 1 << 18;

/// One side's payload decoded, with its partition in the shared numbering.
#[inline]
fn facts(p: &Payload, offset: u32) -> (i64, u32, u8) {
    let (date, partition, reason) = unpack(p);
    (date as i64, partition as u32 + offset, reason)
}

/// Compares two payloads by identity: same date, reason, and partition key.
#[inline]
fn same(old: &Payload, new: &Payload, old_key: &[u32], new_key: &[u32]) -> bool {
    let (od, op, or) = unpack(old);
    let (nd, np, nr) = unpack(new);
    od == nd && or == nr && old_key.get(op as usize) == new_key.get(np as usize)
}

/// Merges two sorted sides into diff rows.
fn merge<K: Copy + Ord>(
    os: &[K],
    op: &[Payload],
    ns: &[K],
    np: &[Payload],
    old_key: &[u32],
    new_key: &[u32],
    n_old: u32,
) -> DiffColumns<K> {
    let mut d = DiffColumns::with_capacity(os.len() + ns.len());
    let (mut i, mut j) = (0, 0);
    while i < os.len() || j < ns.len() {
        if j == ns.len() || (i < os.len() && os[i] < ns[j]) {
            d.push(os[i], REMOVED, facts(&op[i], 0), None);
            i += 1;
        } else if i == os.len() || ns[j] < os[i] {
            d.push(ns[j], ADDED, facts(&np[j], n_old), None);
            j += 1;
        } else {
            if !same(&op[i], &np[j], old_key, new_key) {
                d.push(ns[j], CHANGED, facts(&np[j], n_old), Some(facts(&op[i], 0)));
            }
            i += 1;
            j += 1;
        }
    }
    d
}

/// Diffs the short serials of two views, in pieces (consecutive serial ranges, in order) that
/// are computed in parallel and handed over as they are: concatenating them would copy every
/// row. `old_key[p]` / `new_key[p]` map each side's partition ids to a shared identity (e.g. an
/// index into the union of partition names); `old_key.len()` is the old snapshot's number of
/// partitions.
pub fn diff_short(old: &IssuerView<'_>, new: &IssuerView<'_>, old_key: &[u32], new_key: &[u32]) -> Vec<ShortDiff> {
    let n_old = old_key.len() as u32;
    // Cut points: serial values that split the newer side into pieces of about SPLIT entries.
    let cuts: Vec<u64> = new.serials.iter().step_by(SPLIT).skip(1).copied().collect();
    let ranges = |s: &[u64]| -> Vec<(usize, usize)> {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().map(|&c| s.partition_point(|&x| x < c)));
        bounds.push(s.len());
        bounds.windows(2).map(|w| (w[0], w[1])).collect()
    };
    ranges(old.serials)
        .into_par_iter()
        .zip(ranges(new.serials).into_par_iter())
        .map(|((oa, ob), (na, nb))| {
            merge(&old.serials[oa..ob], &old.payload[oa..ob], &new.serials[na..nb], &new.payload[na..nb], old_key, new_key, n_old)
        })
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// Diffs the long serials (few; sequential merge).
pub fn diff_long(old: &IssuerView<'_>, new: &IssuerView<'_>, old_key: &[u32], new_key: &[u32]) -> LongDiff {
    merge(old.long_serials, old.long_payload, new.long_serials, new.long_payload, old_key, new_key, old_key.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{build, Record};

    fn rec(serial: u64, date: u32, partition: u16) -> Record {
        Record { serial, date, partition, reason: 4 }
    }

    #[test]
    fn added_removed_changed_and_renumbered_partitions() {
        let old = build(vec![rec(1, 10, 0), rec(2, 20, 0), rec(3, 30, 1)], vec![], vec![]);
        // New generation renumbers partitions: old 0 -> new 1, old 1 -> new 0.
        let new = build(vec![rec(2, 20, 1), rec(3, 31, 0), rec(4, 40, 0)], vec![], vec![]);
        let old_key = [100, 200];
        let new_key = [200, 100];
        let pieces = diff_short(&old.view(), &new.view(), &old_key, &new_key);
        assert_eq!(pieces.len(), 1);
        let d = &pieces[0];
        assert_eq!(d.serial, vec![1, 3, 4]);
        assert_eq!(d.change, vec![REMOVED, CHANGED, ADDED]);
        // Removed: old partition 0; changed: now new partition 0 (index 2 + 0), was old 1.
        assert_eq!((d.date[0], d.partition[0]), (10, 0));
        assert_eq!((d.date[1], d.partition[1], d.reason[1]), (31, 2, 4));
        assert_eq!((d.old_valid.clone(), d.changed), (vec![0b010], 1));
        assert_eq!((d.old_date[1], d.old_partition[1], d.old_reason[1]), (30, 1, 4));
        assert_eq!((d.old_date[0], d.old_reason[0], d.old_reason_valid.clone()), (0, 0, vec![0b010]));
        assert_eq!(d.reason_valid, vec![0b111]);
        assert_eq!(d.partition[2], 2);
    }

    #[test]
    fn absent_reasons_are_null_not_zero() {
        let mut none = rec(1, 10, 0);
        none.reason = NO_REASON;
        let old = build(vec![none], vec![], vec![]);
        let new = build(vec![rec(1, 10, 0)], vec![], vec![]);
        let d = &diff_short(&old.view(), &new.view(), &[0], &[0])[0];
        assert_eq!((d.change[0], d.reason[0], d.reason_valid[0]), (CHANGED, 4, 1));
        assert_eq!((d.old_reason[0], d.old_reason_valid[0], d.old_valid[0]), (0, 0, 1));
    }

    #[test]
    fn parallel_pieces_equal_a_sequential_merge() {
        let old: Vec<Record> = (0..1_000_000u64).filter(|s| s % 3 != 0).map(|s| rec(s, 1, 0)).collect();
        let new: Vec<Record> = (0..1_000_000u64).filter(|s| s % 5 != 0).map(|s| rec(s, 1, 0)).collect();
        let (o, n) = (build(old, vec![], vec![]), build(new, vec![], vec![]));
        let pieces = diff_short(&o.view(), &n.view(), &[0], &[0]);
        assert!(pieces.len() > 1);
        let serial: Vec<u64> = pieces.iter().flat_map(|p| p.serial.iter().copied()).collect();
        let change: Vec<u8> = pieces.iter().flat_map(|p| p.change.iter().copied()).collect();
        let d = DiffColumns { serial, change, ..Default::default() };
        let removed: Vec<u64> = (0..1_000_000u64).filter(|s| s % 3 != 0 && s % 5 == 0).collect();
        let added: Vec<u64> = (0..1_000_000u64).filter(|s| s % 3 == 0 && s % 5 != 0).collect();
        let got_removed: Vec<u64> = d.serial.iter().zip(&d.change).filter(|(_, &c)| c == REMOVED).map(|(&s, _)| s).collect();
        let got_added: Vec<u64> = d.serial.iter().zip(&d.change).filter(|(_, &c)| c == ADDED).map(|(&s, _)| s).collect();
        assert_eq!(got_removed, removed);
        assert_eq!(got_added, added);
        assert!(d.serial.windows(2).all(|w| w[0] < w[1]));
    }
}
