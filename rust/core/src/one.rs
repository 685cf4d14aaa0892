//! One item at a time: the revocation status of a single serial, for latency-critical callers
//! (a login is one certificate).
//!
//! [`check::check`](crate::check::check) is built for batches: it computes the freshness of
//! every partition at `now` ([`Coverage::at`](crate::check::Coverage::at), thousands of
//! them), allocates its output columns and spreads rows over the thread pool, which costs more
//! than one lookup itself. [`check_key`] answers one serial with the same rules on the calling
//! thread, judging only the freshness it needs. Its answers equal the batch path's (tested
//! below on generated snapshots).

use crate::check::{Status, ISSUER_WIDE, MISSING_PARTITION, NO_TIME, UNKNOWN_ISSUER};
use crate::crl::NO_REASON;
use crate::index::IssuerView;
use crate::serial::SerialKey;

/// A snapshot's partition table and authority revocations, as [`Coverage::at`] reads them.
///
/// [`Coverage::at`]: crate::check::Coverage::at
#[derive(Clone, Copy)]
pub struct Freshness<'a> {
    /// The issuer of each partition.
    pub partition_issuer: &'a [u16],
    pub this_update: &'a [i64],
    /// [`NO_TIME`] when absent.
    pub next_update: &'a [i64],
    /// Whether each partition covers end-entity certificates (authority revocation lists do not).
    pub counts: &'a [bool],
    /// Per issuer: revoked by an authority revocation list (date, reason), if so.
    pub issuer_revoked: &'a [Option<(i64, u8)>],
}

impl Freshness<'_> {
    /// Whether partition `p` is fresh at `now` (thisUpdate <= now < nextUpdate).
    pub fn partition_fresh(&self, p: usize, now: i64) -> bool {
        p < self.partition_issuer.len() && self.this_update[p] <= now && self.next_update[p] != NO_TIME && now < self.next_update[p]
    }

    /// Whether `issuer` has at least one partition covering end-entity certificates, and all of
    /// them are fresh at `now`.
    pub fn issuer_fresh(&self, issuer: usize, now: i64) -> bool {
        let mut any = false;
        for p in 0..self.partition_issuer.len() {
            if self.partition_issuer[p] as usize == issuer && self.counts[p] {
                if !self.partition_fresh(p, now) {
                    return false;
                }
                any = true;
            }
        }
        any
    }
}

/// The answer for one serial (the columns [`check::check`](crate::check::check) gives a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: Status,
    pub reason: Option<u8>,
    pub revocation_date: Option<i64>,
    pub invalidity_date: Option<i64>,
    /// The partition whose CRL lists the serial, for a revoked one; [`ISSUER_WIDE`] otherwise.
    pub partition: u16,
}

/// The status of `key` under issuer row `issuer` ([`UNKNOWN_ISSUER`] for none) at `now`, its
/// freshness judged on `partition` (None or [`ISSUER_WIDE`]: every partition of the issuer;
/// [`MISSING_PARTITION`]: a partition the store holds no CRL for). `views[i]` is issuer `i`'s
/// index (None when it has no entries).
pub fn check_key(
    views: &[Option<IssuerView<'_>>],
    f: &Freshness<'_>,
    issuer: u16,
    key: &SerialKey,
    now: i64,
    partition: Option<u16>,
) -> Answer {
    let none = |status| Answer { status, reason: None, revocation_date: None, invalidity_date: None, partition: ISSUER_WIDE };
    let i = issuer as usize;
    if issuer == UNKNOWN_ISSUER || i >= views.len() {
        return none(Status::Unknown);
    }
    if let Some(&Some((date, code))) = f.issuer_revoked.get(i) {
        return Answer {
            status: Status::Revoked,
            reason: Some(code),
            revocation_date: Some(date),
            invalidity_date: None,
            partition: ISSUER_WIDE,
        };
    }
    if let Some(hit) = views[i].as_ref().and_then(|v| v.find(key)) {
        return Answer {
            status: Status::Revoked,
            reason: (hit.reason != NO_REASON).then_some(hit.reason),
            revocation_date: Some(hit.date as i64),
            invalidity_date: hit.invalidity,
            partition: hit.partition,
        };
    }
    let fresh = match partition {
        None | Some(ISSUER_WIDE) => f.issuer_fresh(i, now),
        Some(MISSING_PARTITION) => false,
        Some(p) => f.partition_fresh(p as usize, now),
    };
    none(if fresh { Status::Good } else { Status::Stale })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{self, Coverage, Issuers};
    use crate::index::{build, InvalidityRecord, LongKey, LongRecord, Record};

    /// A deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn long_key(k: u64, issuer: usize) -> LongKey {
        let mut long = [0u8; 20];
        long[0] = 0x80 | (k % 100) as u8;
        long[19] = issuer as u8;
        long
    }

    #[test]
    fn one_key_answers_like_the_batch() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Two issuers with entries (short and 20-octet serials, some invalidity dates) in four
        // partitions; two more issuers without entries, one of them revoked by an authority
        // revocation list.
        let reasons = [0u8, 1, 4, 5, NO_REASON];
        let columns: Vec<_> = (0..2usize)
            .map(|issuer| {
                let records: Vec<Record> = (0..400u64)
                    .map(|k| Record {
                        serial: 0x0500_0000 + 3 * k + issuer as u64,
                        date: 1_700_000_000 + k as u32,
                        partition: (2 * issuer as u64 + k % 2) as u16,
                        reason: reasons[k as usize % 5],
                    })
                    .collect();
                let long: Vec<LongRecord> = (0..20u64)
                    .map(|k| LongRecord {
                        serial: long_key(k, issuer),
                        date: 1_600_000_000 + k as u32,
                        partition: 2 * issuer as u16,
                        reason: reasons[k as usize % 5],
                    })
                    .collect();
                let invalidity: Vec<InvalidityRecord> = records
                    .iter()
                    .step_by(7)
                    .map(|r| InvalidityRecord {
                        serial: SerialKey::Short(r.serial),
                        partition: r.partition,
                        date: r.date,
                        invalidity: r.date as i64 - 86400,
                    })
                    .collect();
                build(records, long, invalidity)
            })
            .collect();
        let mut views: Vec<Option<IssuerView<'_>>> = columns.iter().map(|c| Some(c.view())).collect();
        views.push(None);
        views.push(None);
        let partition_issuer = [0u16, 0, 1, 1, 2, 3];
        let this_update = [100, 100, 100, 300, 100, 100];
        let next_update = [1000, 500, 1000, 1000, NO_TIME, 1000];
        let counts = [true, true, true, true, true, false];
        let issuer_revoked = [None, None, None, Some((50i64, 1u8))];
        let f = Freshness {
            partition_issuer: &partition_issuer,
            this_update: &this_update,
            next_update: &next_update,
            counts: &counts,
            issuer_revoked: &issuer_revoked,
        };
        let mut asked = 0;
        let mut seen = [0usize; 4];
        for now in [50i64, 100, 200, 400, 600, 2000] {
            let mut coverage = Coverage::at(now, views.len(), &partition_issuer, &this_update, &next_update, &counts);
            coverage.issuer_revoked = issuer_revoked.to_vec();
            for _ in 0..300 {
                let issuer = [0u16, 1, 2, 3, 7, UNKNOWN_ISSUER][rng.next() as usize % 6];
                let pick = rng.next();
                let key = match pick % 4 {
                    0 => SerialKey::Short(0x0500_0000 + (pick >> 8) % 1300),
                    1 => SerialKey::Short(pick >> 3),
                    _ => SerialKey::Long(long_key((pick >> 8) % 30, ((pick >> 20) % 3) as usize)),
                };
                let partition = [None, Some(ISSUER_WIDE), Some(MISSING_PARTITION), Some(0), Some(1), Some(3), Some(4), Some(9)]
                    [rng.next() as usize % 8];
                let (short, long): (Vec<u64>, Vec<(u32, LongKey)>) = match key {
                    SerialKey::Short(v) => (vec![v], vec![]),
                    SerialKey::Long(k) => (vec![0], vec![(0, k)]),
                };
                let parts = partition.map(|p| vec![p]);
                let batch = check::check(&views, Issuers::PerRow(&[issuer]), parts.as_deref(), &short, &long, &coverage, true);
                let got = check_key(&views, &f, issuer, &key, now, partition);
                let want = (
                    batch.status[0],
                    (batch.reason_valid[0] & 1 == 1).then_some(batch.reason[0]),
                    (batch.revocation_valid[0] & 1 == 1).then_some(batch.revocation_date[0]),
                    batch.invalidity.as_ref().and_then(|(d, v)| (v[0] & 1 == 1).then_some(d[0])),
                    batch.partition.as_ref().map_or(ISSUER_WIDE, |p| p[0]),
                );
                let got = (got.status as u8, got.reason, got.revocation_date, got.invalidity_date, got.partition);
                assert_eq!(got, want, "issuer {issuer}, key {key:?}, now {now}, partition {partition:?}");
                asked += 1;
                seen[got.0 as usize] += 1;
            }
        }
        assert_eq!(asked, 1800);
        assert!(seen.iter().all(|&n| n > 50), "every status is exercised: {seen:?}");
    }
}
