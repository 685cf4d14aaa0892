//! Assembling a snapshot's per-issuer indexes from verified CRLs, plus the entries carried over
//! from the previous snapshot for partitions this run did not replace.
//!
//! Records are gathered into one vector per issuer with a single allocation and a parallel
//! copy (each CRL into its own slice), or moved without a copy when one CRL is all an issuer
//! has; the issuers' indexes are then built in parallel.

use rayon::prelude::*;

use crate::index::{self, unpack, InvalidityRecord, IssuerColumns, IssuerView, LongRecord, Record, NO_PARTITION};
use crate::serial::SerialKey;

/// The entries of one verified CRL, bound for an issuer's index under a partition id.
pub struct CrlEntries {
    pub issuer: usize,
    pub partition: u16,
    pub records: Vec<Record>,
    pub long: Vec<LongRecord>,
    pub invalidity: Vec<InvalidityRecord>,
}

/// The previous snapshot's entries to keep: `remap[old partition]` is the new partition id
/// (`NO_PARTITION` drops it) and `issuers[old issuer]` the new issuer index (`NO_PARTITION`
/// drops the issuer).
pub struct Carry<'a> {
    pub views: Vec<Option<IssuerView<'a>>>,
    pub remap: &'a [u16],
    pub issuers: Vec<u16>,
}

const COPY_CHUNK: usize = 1 << 16;

/// Builds one index per issuer (`n_issuers` of them, empty where nothing was given).
pub fn build_indexes(crls: Vec<CrlEntries>, n_issuers: usize, carry: Option<&Carry<'_>>) -> Vec<IssuerColumns> {
    let mut groups: Vec<Vec<CrlEntries>> = (0..n_issuers).map(|_| Vec::new()).collect();
    for crl in crls {
        if crl.issuer < n_issuers {
            groups[crl.issuer].push(crl);
        }
    }
    let mut carried: Vec<Option<&IssuerView<'_>>> = vec![None; n_issuers];
    if let Some(c) = carry {
        for (old, view) in c.views.iter().enumerate() {
            let new = c.issuers.get(old).copied().unwrap_or(NO_PARTITION) as usize;
            if let (Some(v), true) = (view, new < n_issuers) {
                carried[new] = Some(v);
            }
        }
    }
    groups
        .into_par_iter()
        .zip(carried.into_par_iter())
        .map(|(group, old)| {
            let t = std::time::Instant::now();
            let (records, long, invalidity) = gather(group, old.zip(carry.map(|c| c.remap)));
            crate::trace("build: gather", t);
            index::build(records, long, invalidity)
        })
        .collect()
}

type Gathered = (Vec<Record>, Vec<LongRecord>, Vec<InvalidityRecord>);

fn gather(mut group: Vec<CrlEntries>, carry: Option<(&IssuerView<'_>, &[u16])>) -> Gathered {
    let mut long = Vec::new();
    let mut invalidity = Vec::new();
    for crl in &mut group {
        let p = crl.partition;
        long.extend(crl.long.drain(..).map(|r| LongRecord { partition: p, ..r }));
        invalidity.extend(crl.invalidity.drain(..).map(|r| InvalidityRecord { partition: p, ..r }));
    }
    if group.len() == 1 && carry.is_none() {
        // The common case of one big CRL: stamp in place, no copy.
        let mut crl = group.pop().expect("one CRL");
        let p = crl.partition;
        crl.records.par_iter_mut().with_min_len(COPY_CHUNK).for_each(|r| r.partition = p);
        return (crl.records, long, invalidity);
    }
    let kept = carry.map(|(v, remap)| kept_rows(v, remap)).unwrap_or_default();
    let total = group.iter().map(|c| c.records.len()).sum::<usize>() + kept.iter().map(|k| k.1).sum::<usize>();
    let mut records: Vec<Record> = crate::mem::uninit_vec(total);
    {
        // Hand each CRL (and each chunk of carried entries) its own slice of the destination.
        let mut rest = records.as_mut_slice();
        let mut crl_slices = Vec::with_capacity(group.len());
        for crl in &group {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(crl.records.len());
            crl_slices.push(head);
            rest = tail;
        }
        let mut carry_slices = Vec::with_capacity(kept.len());
        for &(_, n) in &kept {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            carry_slices.push(head);
            rest = tail;
        }
        group.par_iter().zip(crl_slices.into_par_iter()).for_each(|(crl, dst)| {
            for (d, s) in dst.iter_mut().zip(&crl.records) {
                *d = Record { partition: crl.partition, ..*s };
            }
        });
        if let Some((view, remap)) = carry {
            kept.par_iter().zip(carry_slices.into_par_iter()).for_each(|(&(start, _), dst)| {
                let end = (start + COPY_CHUNK).min(view.serials.len());
                let mut out = dst.iter_mut();
                for (&serial, payload) in view.serials[start..end].iter().zip(&view.payload[start..end]) {
                    let (date, partition, reason) = unpack(payload);
                    let p = remap.get(partition as usize).copied().unwrap_or(NO_PARTITION);
                    if p != NO_PARTITION {
                        *out.next().expect("counted") = Record { serial, date, partition: p, reason };
                    }
                }
            });
        }
    }
    drop(group);
    if let Some((view, remap)) = carry {
        carry_rare(view, remap, &mut long, &mut invalidity);
    }
    (records, long, invalidity)
}

/// For each chunk of the carried view's short entries: (chunk start, entries kept).
fn kept_rows(view: &IssuerView<'_>, remap: &[u16]) -> Vec<(usize, usize)> {
    (0..view.serials.len().div_ceil(COPY_CHUNK))
        .into_par_iter()
        .map(|chunk| chunk * COPY_CHUNK)
        .map(|start| {
            let end = (start + COPY_CHUNK).min(view.serials.len());
            let kept = view.payload[start..end]
                .iter()
                .filter(|p| remap.get(unpack(p).1 as usize).copied().unwrap_or(NO_PARTITION) != NO_PARTITION)
                .count();
            (start, kept)
        })
        .collect()
}

/// Carries the long serials and invalidity dates of the kept partitions.
fn carry_rare(v: &IssuerView<'_>, remap: &[u16], long: &mut Vec<LongRecord>, invalidity: &mut Vec<InvalidityRecord>) {
    let map = |p: u16| remap.get(p as usize).copied().unwrap_or(NO_PARTITION);
    for (&serial, payload) in v.long_serials.iter().zip(v.long_payload) {
        let (date, partition, reason) = unpack(payload);
        let p = map(partition);
        if p != NO_PARTITION {
            long.push(LongRecord { serial, date, partition: p, reason });
        }
    }
    let n = v.serials.len();
    for (k, &row) in v.invalidity_rows.iter().enumerate() {
        let row = row as usize;
        let (serial, (date, partition, _)) = if row < n {
            (SerialKey::Short(v.serials[row]), unpack(&v.payload[row]))
        } else {
            (SerialKey::Long(v.long_serials[row - n]), unpack(&v.long_payload[row - n]))
        };
        let p = map(partition);
        if p != NO_PARTITION {
            invalidity.push(InvalidityRecord { serial, partition: p, date, invalidity: v.invalidity_dates[k] });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::build;

    fn crl(issuer: usize, partition: u16, serials: &[u64]) -> CrlEntries {
        CrlEntries {
            issuer,
            partition,
            records: serials.iter().map(|&s| Record { serial: s, date: s as u32, partition: NO_PARTITION, reason: 1 }).collect(),
            long: vec![],
            invalidity: vec![],
        }
    }

    #[test]
    fn crls_are_grouped_by_issuer_and_stamped_with_their_partition() {
        let built = build_indexes(vec![crl(0, 0, &[5, 1]), crl(1, 1, &[7]), crl(0, 2, &[3])], 3, None);
        assert_eq!(built[0].serials, vec![1, 3, 5]);
        assert_eq!(built[0].payload.iter().map(|p| unpack(p).1).collect::<Vec<_>>(), vec![0, 2, 0]);
        assert_eq!(built[1].serials, vec![7]);
        assert!(built[2].serials.is_empty());
    }

    #[test]
    fn carried_partitions_survive_and_replaced_ones_do_not() {
        // Previous snapshot: partition 0 holds {1, 2}, partition 1 holds {3}.
        let old = build(
            vec![
                Record { serial: 1, date: 1, partition: 0, reason: 1 },
                Record { serial: 2, date: 2, partition: 0, reason: 1 },
                Record { serial: 3, date: 3, partition: 1, reason: 1 },
            ],
            vec![],
            vec![],
        );
        // New run replaces old partition 0 (dropped), keeps old 1 as new 0, adds new 1 = {9}.
        let remap = [NO_PARTITION, 0];
        let carry = Carry { views: vec![Some(old.view())], remap: &remap, issuers: vec![0] };
        let built = build_indexes(vec![crl(0, 1, &[9])], 1, Some(&carry));
        assert_eq!(built[0].serials, vec![3, 9]);
        assert_eq!(built[0].payload.iter().map(|p| unpack(p).1).collect::<Vec<_>>(), vec![0, 1]);
    }
}
