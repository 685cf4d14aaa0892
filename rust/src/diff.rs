//! What changed between two snapshots of one issuer key: a merge of two sorted serial columns.
//!
//! An entry is `added` (only in the newer snapshot), `removed` (only in the older: expired
//! certificates leave the CRL) or `changed` (in both, but its revocation date, reason or
//! partition differs). Partitions are compared by identity across snapshots through the
//! `*_partition_key` maps, since partition ids are renumbered in every generation. The merge
//! runs on all cores: both sides are cut at the same serial values.

use rayon::prelude::*;

use crate::index::{unpack, IssuerView, LongKey, Payload};

pub const ADDED: u8 = 0;
pub const REMOVED: u8 = 1;
pub const CHANGED: u8 = 2;

/// Differences of short (<= 8 octet) serials, as columns.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShortDiff {
    pub serial: Vec<u64>,
    pub change: Vec<u8>,
    /// The entry as it is now (added, changed) or was (removed).
    pub payload: Vec<Payload>,
    /// Whether the payload's partition id refers to the newer snapshot (else the older).
    pub in_new: Vec<bool>,
    /// For changed entries: the older payload (else equal to `payload`).
    pub old_payload: Vec<Payload>,
}

/// Differences of long serials.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LongDiff {
    pub serial: Vec<LongKey>,
    pub change: Vec<u8>,
    pub payload: Vec<Payload>,
    pub in_new: Vec<bool>,
    pub old_payload: Vec<Payload>,
}

const SPLIT: usize = 1 << 18;

/// Compares two payloads by identity: same date, reason, and partition key.
#[inline]
fn same(old: &Payload, new: &Payload, old_key: &[u32], new_key: &[u32]) -> bool {
    let (od, op, or) = unpack(old);
    let (nd, np, nr) = unpack(new);
    od == nd && or == nr && old_key.get(op as usize) == new_key.get(np as usize)
}

/// Diffs the short serials of two views. `old_key[p]` / `new_key[p]` map each side's partition
/// ids to a shared identity (e.g. an index into the union of partition names).
pub fn diff_short(old: &IssuerView<'_>, new: &IssuerView<'_>, old_key: &[u32], new_key: &[u32]) -> ShortDiff {
    // Cut points: serial values that split the newer side into pieces of about SPLIT entries.
    let cuts: Vec<u64> = new.serials.iter().step_by(SPLIT).skip(1).copied().collect();
    let ranges = |s: &[u64]| -> Vec<(usize, usize)> {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().map(|&c| s.partition_point(|&x| x < c)));
        bounds.push(s.len());
        bounds.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let old_ranges = ranges(old.serials);
    let new_ranges = ranges(new.serials);
    let pieces: Vec<ShortDiff> = old_ranges
        .into_par_iter()
        .zip(new_ranges.into_par_iter())
        .map(|((oa, ob), (na, nb))| {
            let mut d = ShortDiff::default();
            let (os, op) = (&old.serials[oa..ob], &old.payload[oa..ob]);
            let (ns, np) = (&new.serials[na..nb], &new.payload[na..nb]);
            let (mut i, mut j) = (0, 0);
            let push = |d: &mut ShortDiff, serial, change, payload: Payload, in_new, old_payload: Payload| {
                d.serial.push(serial);
                d.change.push(change);
                d.payload.push(payload);
                d.in_new.push(in_new);
                d.old_payload.push(old_payload);
            };
            while i < os.len() || j < ns.len() {
                if j == ns.len() || (i < os.len() && os[i] < ns[j]) {
                    push(&mut d, os[i], REMOVED, op[i], false, op[i]);
                    i += 1;
                } else if i == os.len() || ns[j] < os[i] {
                    push(&mut d, ns[j], ADDED, np[j], true, np[j]);
                    j += 1;
                } else {
                    if !same(&op[i], &np[j], old_key, new_key) {
                        push(&mut d, ns[j], CHANGED, np[j], true, op[i]);
                    }
                    i += 1;
                    j += 1;
                }
            }
            d
        })
        .collect();
    let mut out = ShortDiff::default();
    for p in pieces {
        out.serial.extend(p.serial);
        out.change.extend(p.change);
        out.payload.extend(p.payload);
        out.in_new.extend(p.in_new);
        out.old_payload.extend(p.old_payload);
    }
    out
}

/// Diffs the long serials (few; sequential merge).
pub fn diff_long(old: &IssuerView<'_>, new: &IssuerView<'_>, old_key: &[u32], new_key: &[u32]) -> LongDiff {
    let mut d = LongDiff::default();
    let (os, op, ns, np) = (old.long_serials, old.long_payload, new.long_serials, new.long_payload);
    let (mut i, mut j) = (0, 0);
    while i < os.len() || j < ns.len() {
        let (serial, change, payload, in_new, old_payload) = if j == ns.len() || (i < os.len() && os[i] < ns[j]) {
            i += 1;
            (os[i - 1], REMOVED, op[i - 1], false, op[i - 1])
        } else if i == os.len() || ns[j] < os[i] {
            j += 1;
            (ns[j - 1], ADDED, np[j - 1], true, np[j - 1])
        } else {
            i += 1;
            j += 1;
            if same(&op[i - 1], &np[j - 1], old_key, new_key) {
                continue;
            }
            (ns[j - 1], CHANGED, np[j - 1], true, op[i - 1])
        };
        d.serial.push(serial);
        d.change.push(change);
        d.payload.push(payload);
        d.in_new.push(in_new);
        d.old_payload.push(old_payload);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{build, pack, Record};

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
        let d = diff_short(&old.view(), &new.view(), &old_key, &new_key);
        assert_eq!(d.serial, vec![1, 3, 4]);
        assert_eq!(d.change, vec![REMOVED, CHANGED, ADDED]);
        assert_eq!(d.payload[1], pack(31, 0, 4));
        assert_eq!(d.old_payload[1], pack(30, 1, 4));
        assert_eq!(d.in_new, vec![false, true, true]);
    }

    #[test]
    fn parallel_pieces_equal_a_sequential_merge() {
        let old: Vec<Record> = (0..1_000_000u64).filter(|s| s % 3 != 0).map(|s| rec(s, 1, 0)).collect();
        let new: Vec<Record> = (0..1_000_000u64).filter(|s| s % 5 != 0).map(|s| rec(s, 1, 0)).collect();
        let (o, n) = (build(old, vec![], vec![]), build(new, vec![], vec![]));
        let d = diff_short(&o.view(), &n.view(), &[0], &[0]);
        let removed: Vec<u64> = (0..1_000_000u64).filter(|s| s % 3 != 0 && s % 5 == 0).collect();
        let added: Vec<u64> = (0..1_000_000u64).filter(|s| s % 3 == 0 && s % 5 != 0).collect();
        let got_removed: Vec<u64> = d.serial.iter().zip(&d.change).filter(|(_, &c)| c == REMOVED).map(|(&s, _)| s).collect();
        let got_added: Vec<u64> = d.serial.iter().zip(&d.change).filter(|(_, &c)| c == ADDED).map(|(&s, _)| s).collect();
        assert_eq!(got_removed, removed);
        assert_eq!(got_added, added);
        assert!(d.serial.windows(2).all(|w| w[0] < w[1]));
    }
}
