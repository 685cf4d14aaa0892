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

use crate::crl::NO_REASON;
use crate::index::{Hit, IssuerView, LongKey, NOT_FOUND};
use crate::mem::{uninit_vec, zeroed_vec};

pub use grouped::Scratch;

/// A serial's status; the code is the byte of the output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    Good = 0,
    Revoked = 1,
    Stale = 2,
    Unknown = 3,
}

impl Status {
    /// Every status, by code.
    pub const ALL: [Status; 4] = [Status::Good, Status::Revoked, Status::Stale, Status::Unknown];

    /// The stable name (`"revoked"`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Good => "good",
            Status::Revoked => "revoked",
            Status::Stale => "stale",
            Status::Unknown => "unknown",
        }
    }

    /// Good when the covering data is fresh, else stale.
    #[inline]
    fn unrevoked(fresh: bool) -> Status {
        if fresh {
            Status::Good
        } else {
            Status::Stale
        }
    }
}

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
        let partition_fresh: Vec<bool> =
            (0..partition_issuer.len()).map(|p| this_update[p] <= now && next_update[p] != NO_TIME && now < next_update[p]).collect();
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
    pub revocation_valid: Vec<u8>,
    pub reason_valid: Vec<u8>,
    /// Only when some issuer has invalidity dates.
    pub invalidity: Option<(Vec<i64>, Vec<u8>)>,
    /// The deciding partition of revoked rows (`ISSUER_WIDE` otherwise), when asked for.
    pub partition: Option<Vec<u16>>,
    pub counts: [u64; 4],
}

impl CheckOutput {
    /// Gives the columns' memory back to the buffer pool ([`crate::mem::recycle`]) for the
    /// next big check, instead of to the system.
    pub fn recycle(self) {
        use crate::mem::recycle;
        recycle(self.status);
        recycle(self.reason);
        recycle(self.revocation_date);
        recycle(self.revocation_valid);
        recycle(self.reason_valid);
        if let Some((d, v)) = self.invalidity {
            recycle(d);
            recycle(v);
        }
        if let Some(p) = self.partition {
            recycle(p);
        }
    }
}

/// Rows per parallel task: a multiple of 8, so tasks own whole bitmap bytes.
const CHUNK: usize = 1 << 14;

/// One task's slice of every output.
struct Slices<'a> {
    status: &'a mut [u8],
    reason: &'a mut [u8],
    date: &'a mut [i64],
    date_valid: &'a mut [u8],
    reason_valid: &'a mut [u8],
    invalidity: Option<(&'a mut [i64], &'a mut [u8])>,
    partition: Option<&'a mut [u16]>,
}

impl Slices<'_> {
    /// Stores one byte (eight rows) of each validity bitmap.
    #[inline(always)]
    fn write_bits(&mut self, byte: usize, date: u8, reason: u8, invalidity: u8) {
        self.date_valid[byte] = date;
        self.reason_valid[byte] = reason;
        if let Some((_, valid)) = &mut self.invalidity {
            valid[byte] = invalidity;
        }
    }

    #[inline(always)]
    fn write(&mut self, i: usize, d: Decision) {
        self.status[i] = d.status as u8;
        self.reason[i] = d.reason.unwrap_or(0);
        self.date[i] = d.date.unwrap_or(0);
        set_bit(self.date_valid, i, d.date.is_some());
        set_bit(self.reason_valid, i, d.reason.is_some());
        if let Some((dates, valid)) = &mut self.invalidity {
            dates[i] = d.invalidity.unwrap_or(0);
            set_bit(valid, i, d.invalidity.is_some());
        }
        if let Some(p) = &mut self.partition {
            p[i] = d.partition;
        }
    }
}

#[derive(Clone, Copy)]
struct Decision {
    status: Status,
    reason: Option<u8>,
    date: Option<i64>,
    invalidity: Option<i64>,
    partition: u16,
}

/// Checks `short[i]` (or, for rows listed in `long`, the long serial) of issuer `issuers.get(i)`.
///
/// Lookups run in groups of rows, stage by stage (locate, range, search, decide), each stage
/// prefetching what the next one reads, so the cache misses of a whole group overlap instead
/// of being paid one after another.
pub fn check(
    views: &[Option<IssuerView<'_>>],
    issuers: Issuers<'_>,
    partitions: Option<&[u16]>,
    short: &[u64],
    long: &[(u32, LongKey)],
    coverage: &Coverage,
    want_partition: bool,
) -> CheckOutput {
    check_reusing(&Scratch::default(), views, issuers, partitions, short, long, coverage, want_partition)
}

/// [`check`], with working memory kept in `scratch` from one call to the next (a snapshot
/// keeps one: see [`Scratch`]).
#[allow(clippy::too_many_arguments)]
pub fn check_reusing(
    scratch: &Scratch,
    views: &[Option<IssuerView<'_>>],
    issuers: Issuers<'_>,
    partitions: Option<&[u16]>,
    short: &[u64],
    long: &[(u32, LongKey)],
    coverage: &Coverage,
    want_partition: bool,
) -> CheckOutput {
    let n = short.len();
    let nb = n.div_ceil(8);
    let with_invalidity = views.iter().flatten().any(|v| v.has_invalidity());
    let t = std::time::Instant::now();
    // A big batch against sparse indexes is looked up grouped by serial (see `grouped`); each
    // task then writes a stripe of rows from what was found instead of looking them up.
    let plan = grouped::Plan::new(views, issuers, partitions, coverage, n);
    let found = plan.as_ref().map(|plan| {
        let t = std::time::Instant::now();
        let found = plan.find(short, scratch);
        crate::trace("check: grouped lookups", t);
        found
    });
    // Rows per task: a grouped batch's tasks merge every stream of hits, so there are a few per
    // thread, not one per CHUNK (a multiple of 8, as CHUNK).
    let task_rows = match found {
        Some(_) => n.div_ceil(4 * rayon::current_num_threads().max(1)).next_multiple_of(8).max(CHUNK),
        None => CHUNK,
    };
    let mut out = CheckOutput {
        status: uninit_vec(n),
        reason: uninit_vec(n),
        revocation_date: uninit_vec(n),
        revocation_valid: zeroed_vec(nb),
        reason_valid: zeroed_vec(nb),
        invalidity: with_invalidity.then(|| (uninit_vec(n), zeroed_vec(nb))),
        partition: want_partition.then(|| uninit_vec(n)),
        counts: [0; 4],
    };
    {
        let (inv_dates, inv_valid) = match &mut out.invalidity {
            Some((d, v)) => (Some(d.as_mut_slice()), Some(v.as_mut_slice())),
            None => (None, None),
        };
        let mut tasks: Vec<(usize, Slices<'_>)> = Vec::with_capacity(n.div_ceil(task_rows));
        let mut status = out.status.as_mut_slice();
        let mut reason = out.reason.as_mut_slice();
        let mut date = out.revocation_date.as_mut_slice();
        let mut date_valid = out.revocation_valid.as_mut_slice();
        let mut reason_valid = out.reason_valid.as_mut_slice();
        let mut inv_dates = inv_dates;
        let mut inv_valid = inv_valid;
        let mut part = out.partition.as_deref_mut();
        let mut start = 0;
        while start < n {
            let len = task_rows.min(n - start);
            let bits = len.div_ceil(8);
            let (s0, s1) = std::mem::take(&mut status).split_at_mut(len);
            let (r0, r1) = std::mem::take(&mut reason).split_at_mut(len);
            let (d0, d1) = std::mem::take(&mut date).split_at_mut(len);
            let (dv0, dv1) = std::mem::take(&mut date_valid).split_at_mut(bits);
            let (rv0, rv1) = std::mem::take(&mut reason_valid).split_at_mut(bits);
            let inv = match (inv_dates.take(), inv_valid.take()) {
                (Some(d), Some(v)) => {
                    let (a0, a1) = d.split_at_mut(len);
                    let (b0, b1) = v.split_at_mut(bits);
                    inv_dates = Some(a1);
                    inv_valid = Some(b1);
                    Some((a0, b0))
                }
                _ => None,
            };
            let p = part.take().map(|p| {
                let (p0, p1) = p.split_at_mut(len);
                part = Some(p1);
                p0
            });
            tasks.push((
                start,
                Slices { status: s0, reason: r0, date: d0, date_valid: dv0, reason_valid: rv0, invalidity: inv, partition: p },
            ));
            (status, reason, date, date_valid, reason_valid) = (s1, r1, d1, dv1, rv1);
            start += len;
        }
        crate::trace("check: allocate", t);
        let t = std::time::Instant::now();
        let batch = Batch { views, issuers, partitions, coverage };
        let run = |(start, mut slices): (usize, Slices<'_>)| {
            let len = slices.status.len();
            match (&plan, &found) {
                (Some(plan), Some(found)) => found.unpack(plan, start, &mut slices),
                _ => check_chunk(batch, &short[start..start + len], start, &mut slices),
            }
        };
        // One task (up to CHUNK rows) runs here: handing it to the pool would cost more than
        // the lookups of a small batch, and wake every worker.
        let counts: Vec<[u64; 4]> =
            if tasks.len() > 1 { tasks.into_par_iter().map(run).collect() } else { tasks.into_iter().map(run).collect() };
        for c in counts {
            for (total, n) in out.counts.iter_mut().zip(c) {
                *total += n;
            }
        }
        crate::trace("check: lookups", t);
    }
    if let Some(found) = found {
        if let Some((dates, valid)) = &mut out.invalidity {
            for &(row, d) in &found.invalidity {
                dates[row as usize] = d;
                set_bit(valid, row as usize, true);
            }
        }
        scratch.give_back(found);
    }
    // Long serials are rare: redo those rows one by one.
    for &(row, key) in long {
        let row = row as usize;
        out.counts[out.status[row] as usize] -= 1;
        let issuer = issuers.get(row);
        let hit = views.get(issuer as usize).copied().flatten().and_then(|v| v.find_long(&key).map(|r| v.hit_long(r)));
        let d = decide(views.len(), issuer, partitions.map(|p| p[row]), hit, coverage);
        let mut slices = Slices {
            status: &mut out.status,
            reason: &mut out.reason,
            date: &mut out.revocation_date,
            date_valid: &mut out.revocation_valid,
            reason_valid: &mut out.reason_valid,
            invalidity: out.invalidity.as_mut().map(|(d, v)| (d.as_mut_slice(), v.as_mut_slice())),
            partition: out.partition.as_deref_mut(),
        };
        slices.write(row, d);
        out.counts[d.status as usize] += 1;
    }
    out
}

/// What every chunk of one batch shares.
#[derive(Clone, Copy)]
struct Batch<'a, 'v> {
    views: &'a [Option<IssuerView<'v>>],
    issuers: Issuers<'a>,
    partitions: Option<&'a [u16]>,
    coverage: &'a Coverage,
}

fn check_chunk(batch: Batch<'_, '_>, keys: &[u64], start: usize, out: &mut Slices<'_>) -> [u64; 4] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") && std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has both features the function is compiled for.
        return unsafe { check_chunk_popcnt(batch, keys, start, out) };
    }
    check_chunk_portable(batch, keys, start, out)
}

/// [`check_chunk_portable`] compiled with the popcnt instruction, which the default x86-64
/// target lacks: ranking a bitmap block is eight population counts, each otherwise a dozen
/// vector instructions. (Measured: 10M checks with half revoked ~20% faster.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,sse4.2")]
unsafe fn check_chunk_popcnt(batch: Batch<'_, '_>, keys: &[u64], start: usize, out: &mut Slices<'_>) -> [u64; 4] {
    check_chunk_portable(batch, keys, start, out)
}

#[inline(always)]
fn check_chunk_portable(batch: Batch<'_, '_>, keys: &[u64], start: usize, out: &mut Slices<'_>) -> [u64; 4] {
    let Batch { views, issuers, partitions, coverage } = batch;
    match issuers {
        // One issuer for the whole batch: the view and the answer for a miss are constants.
        Issuers::All(issuer) => check_chunk_with(|_| issuer, views, partitions, keys, start, coverage, out),
        Issuers::PerRow(per_row) => {
            let per_row = &per_row[start..start + keys.len()];
            check_chunk_with(|i| per_row[i], views, partitions, keys, start, coverage, out)
        }
    }
}

/// Rows per lookup group: every stage runs over the whole group before the next stage starts,
/// so the memory each stage prefetched has the time of a whole group's work to arrive.
const G: usize = 64;

#[inline(always)]
fn check_chunk_with<F: Fn(usize) -> u16>(
    issuer_of: F,
    views: &[Option<IssuerView<'_>>],
    partitions: Option<&[u16]>,
    keys: &[u64],
    start: usize,
    coverage: &Coverage,
    out: &mut Slices<'_>,
) -> [u64; 4] {
    let len = keys.len();
    // The common case, one known issuer for all rows and no per-row partitions: every miss has
    // the same answer, decided once.
    if let (Some(i), None) = (issuers_constant(&issuer_of, len), partitions) {
        if coverage.issuer_revoked.get(i as usize).is_some_and(|r| r.is_none()) {
            if let Some(v) = views[i as usize].as_ref() {
                let miss = Status::unrevoked(coverage.issuer_fresh[i as usize]);
                return check_chunk_uniform(v, miss, keys, out);
            }
        }
    }
    let view = |issuer: u16| -> Option<&IssuerView<'_>> { views.get(issuer as usize).and_then(|v| v.as_ref()) };
    let mut counts = [0u64; 4];
    let mut located = [usize::MAX; G];
    let mut ranges = [(0u32, 0u32); G];
    // Rows found for the current group and for the previous one, which is decided only after
    // the current group's lookups have been issued: its prefetched columns get a whole group's
    // time to arrive.
    let mut rows = [[NOT_FOUND; G]; 2];
    let mut pending: Option<(usize, usize)> = None; // (start, length) of the group to decide
    let mut g0 = 0;
    let mut parity = 0;
    while g0 < len || pending.is_some() {
        let mut next = None;
        if g0 < len {
            let g = G.min(len - g0);
            let group = &keys[g0..g0 + g];
            for (j, &key) in group.iter().enumerate() {
                located[j] = view(issuer_of(g0 + j)).map_or(usize::MAX, |v| v.stage_locate(key));
            }
            for j in 0..g {
                ranges[j] = view(issuer_of(g0 + j)).map_or((0, 0), |v| v.stage_range(located[j]));
            }
            let current = &mut rows[parity];
            for (j, &key) in group.iter().enumerate() {
                current[j] = view(issuer_of(g0 + j)).map_or(NOT_FOUND, |v| v.stage_search(ranges[j], key));
            }
            next = Some((g0, g));
            g0 += g;
        }
        if let Some((p0, pg)) = pending {
            decide_group(&issuer_of, views, partitions, start, coverage, out, &rows[parity ^ 1], p0, pg, &mut counts);
        }
        pending = next;
        parity ^= 1;
    }
    counts
}

/// The issuer of every row, when the closure is constant over the chunk (the `Issuers::All`
/// case is compiled to a constant; per-row issuers are checked).
#[inline(always)]
fn issuers_constant<F: Fn(usize) -> u16>(issuer_of: &F, len: usize) -> Option<u16> {
    let first = issuer_of(0);
    (0..len).all(|i| issuer_of(i) == first).then_some(first)
}

/// Batches of at least this many keys may be looked up grouped (`grouped`)...
const GROUPED_MIN_KEYS: usize = 1 << 17;
/// ... when they hold at least one key per this many entries of their issuers' indexes:
/// grouping pays when the keys of a group share the cache lines of their part of the index.
const GROUPED_ENTRIES_PER_KEY: usize = 8;

/// Finds the row of every key (`NOT_FOUND` for a miss) in `view`, calling `emit(i, row)` in
/// row order. The lookup stages are pipelined over groups of `G` keys, each stage one group
/// ahead of the next, so every stage's memory was prefetched a whole group earlier. Payloads
/// are not prefetched: the caller gathers them in a pass of its own.
#[inline(always)]
fn find_rows<const EAGER_RANK: bool>(view: &IssuerView<'_>, keys: &[u64], mut emit: impl FnMut(usize, u32)) {
    let len = keys.len();
    let groups = len.div_ceil(G);
    let mut located = [[usize::MAX; G]; 3];
    let mut ranges = [[(0u32, 0u32); G]; 2];
    for step in 0..groups + 2 {
        if step < groups {
            let g0 = step * G;
            let slot = &mut located[step % 3];
            for (j, &key) in keys[g0..len.min(g0 + G)].iter().enumerate() {
                slot[j] = view.stage_locate(key);
            }
        }
        if (1..=groups).contains(&step) {
            let k = step - 1;
            for j in 0..G.min(len - k * G) {
                ranges[k % 2][j] = view.stage_range_with::<false, EAGER_RANK>(located[k % 3][j]);
            }
        }
        if step >= 2 {
            let k = step - 2;
            let g0 = k * G;
            for (j, &key) in keys[g0..len.min(g0 + G)].iter().enumerate() {
                emit(g0 + j, view.stage_search_with::<false>(ranges[k % 2][j], key));
            }
        }
    }
}

/// The hits among `keys`, all inside `view`'s offset table (the keys of one group of a grouped
/// batch, whose part of the index is in cache), as `(key index, row)`: one loop, each key's
/// directory entry prefetched `2 * SPARSE_AHEAD` keys before it is searched, and its bucket's
/// serials `SPARSE_AHEAD` before. (Measured against the staged lookups of [`find_rows`], 10M
/// random keys: a quarter less time; 8 keys ahead the same, 32 slower.) Compiled for AVX2
/// where the CPU has it, comparing a bucket's entries with the key four at a time.
fn find_hits_sparse(view: &IssuerView<'_>, keys: &[u64], hits: &mut Vec<(u32, u32)>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("bmi1") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { find_hits_sparse_avx2(view, keys, hits) };
    }
    find_hits_sparse_with(view, keys, hits, |lo, hi, key| view.search_bucket(lo, hi, key));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,popcnt")]
unsafe fn find_hits_sparse_avx2(view: &IssuerView<'_>, keys: &[u64], hits: &mut Vec<(u32, u32)>) {
    use std::arch::x86_64::*;
    let serials = view.serials;
    find_hits_sparse_with(view, keys, hits, |lo, hi, key| {
        let (l, h) = (lo as usize, hi as usize);
        if h - l <= 8 && l + 8 <= serials.len() {
            // The bucket's entries (and those after it) in two 4-lane compares; only the
            // bucket's lanes count.
            let w = &serials[l..l + 8];
            // SAFETY: `w` holds 8 u64s: two unaligned 32-byte loads.
            let (a, c) =
                unsafe { (_mm256_loadu_si256(w.as_ptr() as *const __m256i), _mm256_loadu_si256(w.as_ptr().add(4) as *const __m256i)) };
            let k = _mm256_set1_epi64x(key as i64);
            let m = (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(a, k)))
                | (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(c, k))) << 4)) as u32
                & ((1u32 << (h - l)) - 1);
            (lo + m.trailing_zeros()) | ((m == 0) as u32).wrapping_neg()
        } else {
            view.search_bucket(lo, hi, key)
        }
    });
}

/// Keys between a prefetch and the next stage (see [`find_hits_sparse`]).
const SPARSE_AHEAD: usize = 16;

/// [`find_hits_sparse`], with `search(lo, hi, key)` finding `key` in a bucket.
#[inline(always)]
fn find_hits_sparse_with(view: &IssuerView<'_>, keys: &[u64], hits: &mut Vec<(u32, u32)>, search: impl Fn(u32, u32, u64) -> u32) {
    let (dir, serials) = (view.directory, view.serials);
    let bucket = |key: u64| (key.wrapping_sub(view.dir_base) >> view.dir_shift) as usize;
    let n = keys.len();
    for j in 0..n {
        if let Some(&k) = keys.get(j + 2 * SPARSE_AHEAD) {
            crate::index::prefetch(dir.as_ptr().wrapping_add(bucket(k)));
        }
        if let Some(&k) = keys.get(j + SPARSE_AHEAD) {
            crate::index::prefetch(serials.as_ptr().wrapping_add(dir[bucket(k)] as usize));
        }
        let key = keys[j];
        let b = bucket(key);
        push_hit(hits, j, search(dir[b], dir[b + 1], key));
    }
}

/// Appends `(i, row)` when `row` was found, without a branch: the slot is written either way
/// and kept only for a hit. `hits` must have room for one more.
#[inline(always)]
fn push_hit(hits: &mut Vec<(u32, u32)>, i: usize, row: u32) {
    assert!(hits.len() < hits.capacity());
    // SAFETY: the slot at `len` is within the capacity (checked above).
    unsafe {
        hits.as_mut_ptr().add(hits.len()).write((i as u32, row));
        hits.set_len(hits.len() + (row != NOT_FOUND) as usize);
    }
}

/// Keys of a chunk looked up before choosing how to rank the rest.
const PROBE: usize = 1024;
/// Present keys (percent of the probe) from which every key is ranked, present or not.
/// (Measured, 10M keys: at 50% present 20-35% faster; at 5%, 30% slower.)
const EAGER_RANK_PERCENT: usize = 25;

/// Hits between a payload prefetch and its use in the gather pass.
const GATHER_AHEAD: usize = 96;

/// One known, unrevoked issuer for every row, no per-row partitions (a batch against one CA):
/// a hit is revoked with its payload, a miss gets `miss` (good or stale). Three passes over
/// the chunk, each a plain loop whose cache misses overlap:
/// 1. find the row of every key ([`find_rows`]), listing the hits;
/// 2. write every row's outputs as a miss (sequential stores);
/// 3. gather each hit's payload, prefetched `GATHER_AHEAD` hits ahead, over its row.
///
/// Keeping the payload gather out of the lookup loop means neither kind of miss (the bitmap or
/// directory, in cache; the payload, in memory) waits behind the other.
#[inline(always)] // into check_chunk_popcnt, so that it is compiled with popcnt
fn check_chunk_uniform(view: &IssuerView<'_>, miss: Status, keys: &[u64], out: &mut Slices<'_>) -> [u64; 4] {
    let len = keys.len();
    let mut hits: Vec<(u32, u32)> = Vec::with_capacity(len);
    // The first keys tell how often keys are present; if often, ranking every key beats
    // mispredicting which ones are.
    let probe = len.min(PROBE);
    find_rows::<false>(view, &keys[..probe], |i, row| push_hit(&mut hits, i, row));
    if hits.len() * 100 >= probe * EAGER_RANK_PERCENT {
        find_rows::<true>(view, &keys[probe..], |i, row| push_hit(&mut hits, probe + i, row));
    } else {
        find_rows::<false>(view, &keys[probe..], |i, row| push_hit(&mut hits, probe + i, row));
    }
    out.status.fill(miss as u8);
    out.reason.fill(0);
    out.date.fill(0);
    out.date_valid.fill(0);
    out.reason_valid.fill(0);
    if let Some((dates, valid)) = &mut out.invalidity {
        dates.fill(0);
        valid.fill(0);
    }
    if let Some(p) = &mut out.partition {
        p.fill(ISSUER_WIDE);
    }
    for (k, &(i, row)) in hits.iter().enumerate() {
        if let Some(&(_, ahead)) = hits.get(k + GATHER_AHEAD) {
            view.prefetch_row(ahead as usize);
        }
        let i = i as usize;
        let h = view.hit_short(row);
        let bit = 1u8 << (i % 8);
        out.status[i] = Status::Revoked as u8;
        out.date[i] = h.date as i64;
        out.date_valid[i / 8] |= bit;
        if h.reason != NO_REASON {
            out.reason[i] = h.reason;
            out.reason_valid[i / 8] |= bit;
        }
        if let (Some((dates, valid)), Some(d)) = (&mut out.invalidity, h.invalidity) {
            dates[i] = d;
            valid[i / 8] |= bit;
        }
        if let Some(p) = &mut out.partition {
            p[i] = h.partition;
        }
    }
    let mut counts = [0u64; 4];
    counts[Status::Revoked as usize] = hits.len() as u64;
    counts[miss as usize] += (len - hits.len()) as u64;
    counts
}

/// Lookups of a big batch against sparse (offset-table) indexes, grouped by serial
/// (docs/DESIGN.md §4.6).
///
/// Looked up in input order, random serials touch a random cache line of the directory, one or
/// two of the serials and one of the payload per key, each on a page of its own (a TLB miss as
/// well): far more memory traffic than a dense index, whose bitmap stays in cache. Grouped,
/// the keys that fall in one part of an index (about `GROUP_ENTRIES` entries: its directory,
/// serials and payloads, ~512 KiB) are looked up together, so that those lines are fetched once
/// for all of them and stay in cache. Nothing is stored at random: the answers go back to
/// their rows by a merge, not a scatter.
///
/// 1. [`Plan::new`]: whether the batch is one for grouping (no per-row partitions, every
///    issuer of the batch unknown or an unrevoked one with a sparse index), and what a row whose
///    serial is not found gets, by issuer.
/// 2. [`Plan::group`]: the keys and their row numbers, radix-partitioned by issuer and directory
///    bucket (one pass to count, one to scatter, both over parts of the batch in parallel).
///    Within a group, each part's keys keep their input order: a *stream* of ascending rows.
/// 3. [`Plan::find`]: each group looked up with the pipelined stages of [`find_rows`]; the found
///    entries' facts, packed into one `u64` each (see [`pack`]), and their rows are written over
///    the group's keys and rows, in order, so every stream stays ascending.
/// 4. [`Found::unpack`]: each task of `check` writes a stripe of rows as misses, a block at a
///    time, then merges every stream's hits of that block into it, with one cursor per stream.
mod grouped {
    use rayon::prelude::*;

    use std::sync::Mutex;

    use super::{
        find_hits_sparse, Coverage, Issuers, Slices, Status, GATHER_AHEAD, GROUPED_ENTRIES_PER_KEY, GROUPED_MIN_KEYS, ISSUER_WIDE,
    };
    use crate::crl::NO_REASON;
    use crate::index::IssuerView;
    use crate::mem::uninit_vec;

    /// Working memory of the grouped lookups (12 bytes a key, and about a tenth more: see
    /// `room`), kept from one batch to the next: fresh memory costs a page fault and the zeroing
    /// of every page on first touch (measured, 10M keys on the 2-core EPYC: a fifth of a call's
    /// time went to the kernel's page clearing), reused memory nothing. One batch at a time uses it; a concurrent one allocates its own.
    #[derive(Debug, Default)]
    pub struct Scratch(Mutex<Option<(Vec<u64>, Vec<u32>)>>);

    impl Scratch {
        /// Keys and rows with room for `n` each (contents unspecified).
        fn take(&self, n: usize) -> (Vec<u64>, Vec<u32>) {
            let kept = self.0.try_lock().ok().and_then(|mut s| s.take());
            match kept {
                Some((mut keys, mut rows)) if keys.capacity() >= n && rows.capacity() >= n => {
                    // SAFETY: plain integers, valid for any bit pattern (and only the slots `group`
                    // wrote are read).
                    unsafe {
                        keys.set_len(n);
                        rows.set_len(n);
                    }
                    (keys, rows)
                }
                _ => (uninit_vec(n), uninit_vec(n)),
            }
        }

        /// Keeps the buffers for the next batch (the larger ones, when two batches ran at once).
        pub(super) fn give_back(&self, found: Found) {
            self.keep(found.packed, found.rows);
        }

        fn keep(&self, keys: Vec<u64>, rows: Vec<u32>) {
            if let Ok(mut s) = self.0.try_lock() {
                if s.as_ref().map_or(true, |(k, _)| k.capacity() < keys.capacity()) {
                    *s = Some((keys, rows));
                }
            }
        }
    }

    /// Entries of the index per group: its directory, serials and payloads (~16 bytes each,
    /// 512 KiB) stay in a core's L2 cache while the group's keys are looked up. (Measured on
    /// the 2-core EPYC, 10M random serials: 4,096 or 8,192 entries per group cost more, the
    /// scatter to thousands of groups being slow; 16,384 about the same; 65,536 1.4x as much.)
    const GROUP_ENTRIES: usize = 32768;
    /// At most this many groups per index: the scatter writes one stream per group, whose
    /// current cache lines must stay in cache.
    const MAX_GROUPS: usize = 4096;
    /// Rows written and merged at a time by [`Found::unpack`]: the block's outputs (~10 bytes a
    /// row) stay in L2 while the streams' hits land in it.
    const BLOCK: usize = 1 << 14;

    /// An entry's facts in one word: revocation time (bits 0-31), partition (32-47), reason
    /// (48-55). (Its invalidity date, if any, is kept aside: see [`Found::invalidity`].)
    #[inline(always)]
    fn pack(date: u32, partition: u16, reason: u8) -> u64 {
        date as u64 | (partition as u64) << 32 | (reason as u64) << 48
    }

    /// How the keys of one issuer map onto groups: the key's directory bucket, shifted.
    #[derive(Clone, Copy, Default)]
    struct Split {
        base: u64,
        dir_shift: u32,
        /// Buckets of the directory; 0 for an issuer whose keys are in no group.
        buckets: u64,
        shift: u32,
        /// The issuer's first group.
        first: usize,
    }

    impl Split {
        /// The group of key `k`, or `none` when it is outside the index.
        #[inline(always)]
        fn group_of(&self, k: u64, none: usize) -> usize {
            let bucket = k.wrapping_sub(self.base) >> self.dir_shift;
            if k < self.base || bucket >= self.buckets {
                none
            } else {
                self.first + ((bucket as usize) >> self.shift)
            }
        }
    }

    /// An issuer's slot in a plan's tables: its index, or `n_views` (the last slot) for every
    /// issuer not in the store.
    #[inline(always)]
    fn slot(issuer: u16, n_views: usize) -> usize {
        (issuer as usize).min(n_views)
    }

    /// A batch to be looked up grouped, and what its rows get when their serial is not found.
    pub(super) struct Plan<'a, 'v> {
        views: &'a [Option<IssuerView<'v>>],
        issuers: Issuers<'a>,
        /// By issuer slot ([`Plan::slot`]: the last one for issuers not in the store).
        miss: Vec<Status>,
        /// How each issuer's keys map onto groups, by slot.
        splits: Vec<Split>,
        /// The issuer of every group.
        group_issuer: Vec<u16>,
    }

    impl<'a, 'v> Plan<'a, 'v> {
        /// A plan when the batch is one for grouping: big enough (and not so big that a row
        /// number overflows 32 bits), no per-row partitions, every issuer of the batch either
        /// not in the store or unrevoked, at least one with a sparse index, none with a dense
        /// one (bitmap lookups stay in cache without grouping), and at least one key per
        /// `GROUPED_ENTRIES_PER_KEY` entries of those indexes.
        pub fn new(
            views: &'a [Option<IssuerView<'v>>],
            issuers: Issuers<'a>,
            partitions: Option<&[u16]>,
            coverage: &Coverage,
            n: usize,
        ) -> Option<Plan<'a, 'v>> {
            let sparse = |v: &Option<IssuerView<'_>>| v.as_ref().is_some_and(|v| !v.is_bitmap() && v.directory.len() >= 2);
            if partitions.is_some() || !(GROUPED_MIN_KEYS..=u32::MAX as usize).contains(&n) || !views.iter().any(sparse) {
                return None;
            }
            let nv = views.len();
            let mut present = vec![false; nv + 1];
            match issuers {
                Issuers::All(i) => present[slot(i, nv)] = true,
                Issuers::PerRow(v) => v.iter().for_each(|&i| present[slot(i, nv)] = true),
            }
            let mut miss = vec![Status::Unknown; nv + 1];
            let mut splits = vec![Split::default(); nv + 1];
            let mut group_issuer = Vec::new();
            let mut entries = 0;
            for i in (0..nv).filter(|&i| present[i]) {
                if coverage.issuer_revoked[i].is_some() || views[i].as_ref().is_some_and(|v| v.is_bitmap()) {
                    return None;
                }
                miss[i] = Status::unrevoked(coverage.issuer_fresh[i]);
                let Some(v) = views[i].as_ref().filter(|_| sparse(&views[i])) else { continue };
                entries += v.serials.len();
                let buckets = v.directory.len() - 1;
                let target = (v.serials.len() / GROUP_ENTRIES).clamp(1, MAX_GROUPS);
                let mut shift = 0u32;
                while ((buckets - 1) >> shift) >= target {
                    shift += 1;
                }
                let groups = ((buckets - 1) >> shift) + 1;
                splits[i] = Split { base: v.dir_base, dir_shift: v.dir_shift, buckets: buckets as u64, shift, first: group_issuer.len() };
                group_issuer.resize(group_issuer.len() + groups, i as u16);
            }
            let eligible = !group_issuer.is_empty() && n * GROUPED_ENTRIES_PER_KEY >= entries;
            eligible.then_some(Plan { views, issuers, miss, splits, group_issuer })
        }

        #[inline(always)]
        fn slot(&self, issuer: u16) -> usize {
            slot(issuer, self.views.len())
        }

        /// Keys grouped by the part of an index they fall in: group `g` (of issuer
        /// `group_issuer[g]`) is made of the streams `g * parts .. (g + 1) * parts`, stream `s`
        /// being `keys[bounds[s]..bounds[s] + lens[s]]` (`rows`: the keys' rows in the batch,
        /// ascending within a stream). Keys outside their index's range, and those of issuers
        /// without an index, are in no group (they are misses).
        fn group(&self, keys: &[u64], scratch: &Scratch) -> Groups {
            let groups = self.group_issuer.len();
            match self.issuers {
                // One issuer: its split is a constant in the loops.
                Issuers::All(i) => {
                    let split = self.splits[self.slot(i)];
                    group_keys(keys, groups, move |k, _| split.group_of(k, groups), scratch)
                }
                Issuers::PerRow(v) => group_keys(keys, groups, |k, row| self.splits[self.slot(v[row])].group_of(k, groups), scratch),
            }
        }

        /// Looks up every key of the batch, grouped.
        pub fn find(&self, keys: &[u64], scratch: &Scratch) -> Found {
            let t = std::time::Instant::now();
            let Groups { keys: mut gkeys, rows: mut grows, bounds, lens, parts } = self.group(keys, scratch);
            crate::trace("check: group keys", t);
            let n_groups = self.group_issuer.len();
            // Each group's room (its streams and the room left after each), as slices of their own.
            let mut work: Vec<(usize, &mut [u64], &mut [u32])> = Vec::with_capacity(n_groups);
            let (mut rest_k, mut rest_r) = (gkeys.as_mut_slice(), grows.as_mut_slice());
            for g in 0..n_groups {
                let len = bounds[(g + 1) * parts] - bounds[g * parts];
                let (k0, k1) = std::mem::take(&mut rest_k).split_at_mut(len);
                let (r0, r1) = std::mem::take(&mut rest_r).split_at_mut(len);
                work.push((g, k0, r0));
                (rest_k, rest_r) = (k1, r1);
            }
            let per_group: Vec<GroupHits> = work
                .into_par_iter()
                .map_init(Vec::new, |hits: &mut Vec<(u32, u32)>, (g, keys, rows)| {
                    let view = self.views[self.group_issuer[g] as usize].as_ref().expect("groups are of issuers with an index");
                    let first = bounds[g * parts];
                    let mut out = Vec::with_capacity(parts);
                    let mut invalidity = Vec::new();
                    for s in g * parts..(g + 1) * parts {
                        let at = bounds[s] - first;
                        let (keys, rows) = (&mut keys[at..at + lens[s]], &mut rows[at..at + lens[s]]);
                        hits.clear();
                        hits.reserve(keys.len());
                        find_hits_sparse(view, keys, hits);
                        // The stream's hits, in order, over its first keys and rows: a hit's slot
                        // is never after its key's, so nothing is overwritten before it is read.
                        for k in 0..hits.len() {
                            if let Some(&(_, ahead)) = hits.get(k + GATHER_AHEAD) {
                                view.prefetch_row(ahead as usize);
                            }
                            let (j, entry) = hits[k];
                            let h = view.hit_short(entry);
                            let row = rows[j as usize];
                            if let Some(d) = h.invalidity {
                                invalidity.push((row, d));
                            }
                            keys[k] = pack(h.date, h.partition, h.reason);
                            rows[k] = row;
                        }
                        out.push((bounds[s], hits.len()));
                    }
                    (out, invalidity)
                })
                .collect();
            let mut found = Found { packed: gkeys, rows: grows, streams: Vec::with_capacity(lens.len()), invalidity: Vec::new() };
            for (s, inv) in per_group {
                found.streams.extend(s);
                found.invalidity.extend(inv);
            }
            found
        }
    }

    /// Keys grouped (see [`Plan::group`]).
    struct Groups {
        keys: Vec<u64>,
        rows: Vec<u32>,
        /// Where each stream's room starts (and, last, where the last one ends).
        bounds: Vec<usize>,
        /// Keys in each stream.
        lens: Vec<usize>,
        parts: usize,
    }

    /// One part's slices of the grouped keys and rows, one slice per group.
    type Shares<'a> = (Vec<&'a mut [u64]>, Vec<&'a mut [u32]>);

    /// Every `SAMPLE`-th key of a part is counted to size its streams (see [`room`]).
    pub(super) const SAMPLE: usize = 8;

    #[cfg(test)]
    thread_local! {
        /// Batches of this thread whose sample fell short, so that their keys were counted.
        pub(super) static RECOUNTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Room for a stream of which `c` keys were sampled: the count it suggests plus five of its
    /// standard deviations (and a little), so that the sample falls short of a stream's real
    /// count about once in 10^6 streams, whatever the keys' order (sorted keys are counted
    /// almost exactly). About 11% more room than keys, for 16,000-key streams.
    fn room(c: u32) -> u32 {
        SAMPLE as u32 * (c + 5 * (c as f64).sqrt().ceil() as u32 + 8)
    }

    /// Radix-partitions `keys` (with their rows) into `groups` groups by `group_of(key, row)`
    /// (`groups` itself for a key in none), in parts of the batch that run in parallel. Each
    /// part's share of a group is sized from a sample of its keys, which saves counting them
    /// all (a tenth of a big check); when a share proves too small, the keys are counted and
    /// scattered again.
    #[inline(always)]
    fn group_keys(keys: &[u64], groups: usize, group_of: impl Fn(u64, usize) -> usize + Sync, scratch: &Scratch) -> Groups {
        let per = keys.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
        let t = std::time::Instant::now();
        let mut sampled = count_parts(keys, per, groups, &group_of, SAMPLE);
        sampled.iter_mut().flatten().for_each(|x| *x = room(*x));
        crate::trace("check: group: sample", t);
        if let Some(g) = scatter_keys(keys, per, groups, &group_of, &sampled, scratch) {
            return g;
        }
        #[cfg(test)]
        RECOUNTS.with(|c| c.set(c.get() + 1));
        let t = std::time::Instant::now();
        let counts = count_parts(keys, per, groups, &group_of, 1);
        crate::trace("check: group: count", t);
        scatter_keys(keys, per, groups, &group_of, &counts, scratch).expect("exact counts leave room for every key")
    }

    /// Per part (`per` keys) of `keys`: how many of every `step`-th key fall in each group (the
    /// last slot: in none).
    #[inline(always)]
    fn count_parts(
        keys: &[u64],
        per: usize,
        groups: usize,
        group_of: &(impl Fn(u64, usize) -> usize + Sync),
        step: usize,
    ) -> Vec<Vec<u32>> {
        keys.par_chunks(per)
            .enumerate()
            .map(|(part, chunk)| {
                let mut c = vec![0u32; groups + 1];
                let first = part * per;
                for j in (0..chunk.len()).step_by(step) {
                    c[group_of(chunk[j], first + j)] += 1;
                }
                c
            })
            .collect()
    }

    /// Scatters each part (`per` keys) of `keys` into its streams, part `p`'s share of group
    /// `g` having room for `room[p][g]` keys; `None` (the scratch space given back) when a
    /// share has too little.
    #[inline(always)]
    fn scatter_keys(
        keys: &[u64],
        per: usize,
        groups: usize,
        group_of: &(impl Fn(u64, usize) -> usize + Sync),
        room: &[Vec<u32>],
        scratch: &Scratch,
    ) -> Option<Groups> {
        let parts = room.len();
        let total: usize = room.iter().map(|c| c[..groups].iter().map(|&x| x as usize).sum::<usize>()).sum();
        let (mut out_keys, mut out_rows) = scratch.take(total);
        // Each part's share of each group, as its own slices of the outputs: group-major, so a
        // group is contiguous; within a group, in part (input) order.
        let mut dest: Vec<Shares<'_>> = room.iter().map(|_| (Vec::with_capacity(groups), Vec::with_capacity(groups))).collect();
        let mut bounds = Vec::with_capacity(groups * parts + 1);
        let (mut rest_k, mut rest_r) = (out_keys.as_mut_slice(), out_rows.as_mut_slice());
        let mut pos = 0;
        for g in 0..groups {
            for ((dk, dr), part_room) in dest.iter_mut().zip(room) {
                bounds.push(pos);
                let c = part_room[g] as usize;
                let (k0, k1) = std::mem::take(&mut rest_k).split_at_mut(c);
                let (r0, r1) = std::mem::take(&mut rest_r).split_at_mut(c);
                dk.push(k0);
                dr.push(r0);
                (rest_k, rest_r) = (k1, r1);
                pos += c;
            }
        }
        bounds.push(pos);
        let t = std::time::Instant::now();
        // Per part: the keys written to each of its shares, or None when one overflowed.
        let written: Vec<Option<Vec<usize>>> = dest
            .into_par_iter()
            .zip(keys.par_chunks(per))
            .enumerate()
            .map(|(part, ((mut dk, mut dr), chunk))| {
                // A write cursor per group, as raw pointers into this part's share of it, with
                // the share's end: one load and one store per key and column, no bounds check.
                let mut at: Vec<(*mut u64, *mut u32, *const u64)> = dk
                    .iter_mut()
                    .zip(dr.iter_mut())
                    .map(|(k, r)| (k.as_mut_ptr(), r.as_mut_ptr(), k.as_mut_ptr_range().end as *const u64))
                    .collect();
                let first = part * per;
                let mut full = false;
                // Where a key goes when its share is full (and the part is then redone): a
                // select, not a branch, keeps the loop as fast as one without the check.
                let (mut sink_k, mut sink_r) = (0u64, 0u32);
                let (sink_k, sink_r) = (&mut sink_k as *mut u64, &mut sink_r as *mut u32);
                for (j, &k) in chunk.iter().enumerate() {
                    let g = group_of(k, first + j);
                    if g < groups {
                        let (pk, pr, end) = at[g];
                        let over = std::ptr::eq(pk, end);
                        full |= over;
                        let (wk, wr) = if over { (sink_k, sink_r) } else { (pk, pr) };
                        // SAFETY: `pk` is below the end of this part's share `dk[g]` unless
                        // `over` (then the sinks are written instead), and `pr` as far into
                        // `dr[g]`, which is as long; a full share's cursors stay at its end.
                        unsafe {
                            wk.write(k);
                            wr.write((first + j) as u32);
                            at[g] = (pk.add(!over as usize), pr.add(!over as usize), end);
                        }
                    }
                }
                (!full).then(|| {
                    at.iter()
                        .zip(dk.iter_mut())
                        .map(|(a, d)| (a.0 as usize - d.as_mut_ptr() as usize) / std::mem::size_of::<u64>())
                        .collect()
                })
            })
            .collect();
        crate::trace("check: group: scatter", t);
        let Some(written) = written.into_iter().collect::<Option<Vec<_>>>() else {
            scratch.keep(out_keys, out_rows);
            return None;
        };
        // Stream `g * parts + p` is part `p`'s share of group `g`.
        let lens = (0..groups).flat_map(|g| written.iter().map(move |w| w[g])).collect();
        Some(Groups { keys: out_keys, rows: out_rows, bounds, lens, parts })
    }

    /// One group's streams of hits (start, length) and hits with an invalidity date.
    type GroupHits = (Vec<(usize, usize)>, Vec<(u32, i64)>);

    /// The found entries of a batch, by stream: stream `s`'s hits are `packed[s0..s0 + len]`
    /// (see [`pack`]) at rows `rows[s0..s0 + len]`, ascending, with `(s0, len) = streams[s]`.
    pub(super) struct Found {
        packed: Vec<u64>,
        rows: Vec<u32>,
        streams: Vec<(usize, usize)>,
        /// `(row, date)` of the hits with an invalidity date (rare), in no order.
        pub invalidity: Vec<(u32, i64)>,
    }

    impl Found {
        /// Writes the outputs of rows `start..start + out.status.len()` (a stripe; `start` a
        /// multiple of 8): every row as a miss, then the found ones, a block at a time. The
        /// same outputs as `check_chunk_uniform` and `decide_group` write, except invalidity
        /// dates, which the caller sets afterwards from [`Found::invalidity`]. Returns the
        /// stripe's counts.
        pub fn unpack(&self, plan: &Plan<'_, '_>, start: usize, out: &mut Slices<'_>) -> [u64; 4] {
            let len = out.status.len();
            // Each stream's first hit at or after `start`, and where the stream ends.
            let mut cursors: Vec<(usize, usize)> = self
                .streams
                .iter()
                .map(|&(s0, n)| (s0 + self.rows[s0..s0 + n].partition_point(|&r| (r as usize) < start), s0 + n))
                .collect();
            let mut counts = [0u64; 4];
            let mut found = 0u64;
            let mut b0 = 0;
            while b0 < len {
                let b1 = (b0 + BLOCK).min(len);
                match plan.issuers {
                    Issuers::All(i) => out.status[b0..b1].fill(plan.miss[plan.slot(i)] as u8),
                    Issuers::PerRow(v) => {
                        for (s, &i) in out.status[b0..b1].iter_mut().zip(&v[start + b0..start + b1]) {
                            *s = plan.miss[plan.slot(i)] as u8;
                        }
                    }
                }
                out.reason[b0..b1].fill(0);
                out.date[b0..b1].fill(0);
                let bits = b0 / 8..b1.div_ceil(8);
                out.date_valid[bits.clone()].fill(0);
                out.reason_valid[bits.clone()].fill(0);
                if let Some((dates, valid)) = &mut out.invalidity {
                    dates[b0..b1].fill(0);
                    valid[bits].fill(0);
                }
                if let Some(p) = &mut out.partition {
                    p[b0..b1].fill(ISSUER_WIDE);
                }
                let limit = (start + b1) as u32;
                for (at, stream_end) in cursors.iter_mut() {
                    let mut c = *at;
                    while c < *stream_end && self.rows[c] < limit {
                        let i = self.rows[c] as usize - start;
                        let v = self.packed[c];
                        let reason = (v >> 48) as u8;
                        let has_reason = reason != NO_REASON;
                        let bit = 1u8 << (i % 8);
                        out.status[i] = Status::Revoked as u8;
                        out.date[i] = (v as u32) as i64;
                        out.reason[i] = if has_reason { reason } else { 0 };
                        out.date_valid[i / 8] |= bit;
                        out.reason_valid[i / 8] |= bit & (has_reason as u8).wrapping_neg();
                        if let Some(p) = &mut out.partition {
                            p[i] = (v >> 32) as u16;
                        }
                        c += 1;
                    }
                    found += (c - *at) as u64;
                    *at = c;
                }
                match plan.issuers {
                    Issuers::All(_) => {}
                    Issuers::PerRow(_) => out.status[b0..b1].iter().for_each(|&s| counts[s as usize] += 1),
                }
                b0 = b1;
            }
            if let Issuers::All(i) = plan.issuers {
                counts[Status::Revoked as usize] = found;
                counts[plan.miss[plan.slot(i)] as usize] += len as u64 - found;
            }
            counts
        }
    }
}

/// Decides and writes the rows `g0..g0+g` of a chunk, eight rows (one bitmap byte) at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decide_group<F: Fn(usize) -> u16>(
    issuer_of: &F,
    views: &[Option<IssuerView<'_>>],
    partitions: Option<&[u16]>,
    start: usize,
    coverage: &Coverage,
    out: &mut Slices<'_>,
    rows: &[u32; G],
    g0: usize,
    g: usize,
    counts: &mut [u64; 4],
) {
    let n_views = views.len();
    let mut j = 0;
    while j < g {
        let mut date_bits = 0u8;
        let mut reason_bits = 0u8;
        let mut inv_bits = 0u8;
        let byte_rows = 8.min(g - j);
        for b in 0..byte_rows {
            let i = g0 + j + b;
            let issuer = issuer_of(i);
            let row = rows[j + b];
            let (status, reason, date, inv, part) = if issuer as usize >= n_views {
                (Status::Unknown, NO_REASON, None, None, ISSUER_WIDE)
            } else if let Some((date, code)) = coverage.issuer_revoked[issuer as usize] {
                (Status::Revoked, code, Some(date), None, ISSUER_WIDE)
            } else if let (true, Some(v)) = (row != NOT_FOUND, &views[issuer as usize]) {
                let h = v.hit_short(row);
                (Status::Revoked, h.reason, Some(h.date as i64), h.invalidity, h.partition)
            } else {
                let fresh = match partitions.map(|p| p[start + i]) {
                    None | Some(ISSUER_WIDE) => coverage.issuer_fresh[issuer as usize],
                    Some(MISSING_PARTITION) => false,
                    Some(p) => coverage.partition_fresh.get(p as usize).copied().unwrap_or(false),
                };
                (Status::unrevoked(fresh), NO_REASON, None, None, ISSUER_WIDE)
            };
            out.status[i] = status as u8;
            out.reason[i] = if reason == NO_REASON { 0 } else { reason };
            out.date[i] = date.unwrap_or(0);
            date_bits |= (date.is_some() as u8) << b;
            reason_bits |= ((reason != NO_REASON) as u8) << b;
            if let Some((dates, _)) = &mut out.invalidity {
                dates[i] = inv.unwrap_or(0);
                inv_bits |= (inv.is_some() as u8) << b;
            }
            if let Some(p) = &mut out.partition {
                p[i] = part;
            }
            counts[status as usize] += 1;
        }
        out.write_bits((g0 + j) / 8, date_bits, reason_bits, inv_bits);
        j += byte_rows;
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

#[inline(always)]
fn decide(n_views: usize, issuer: u16, partition: Option<u16>, hit: Option<Hit>, coverage: &Coverage) -> Decision {
    let none = |status| Decision { status, reason: None, date: None, invalidity: None, partition: ISSUER_WIDE };
    if issuer == UNKNOWN_ISSUER || issuer as usize >= n_views {
        return none(Status::Unknown);
    }
    if let Some((date, code)) = coverage.issuer_revoked[issuer as usize] {
        return Decision { status: Status::Revoked, reason: Some(code), date: Some(date), invalidity: None, partition: ISSUER_WIDE };
    }
    if let Some(h) = hit {
        return Decision {
            status: Status::Revoked,
            reason: if h.reason == crate::crl::NO_REASON { None } else { Some(h.reason) },
            date: Some(h.date as i64),
            invalidity: h.invalidity,
            partition: h.partition,
        };
    }
    let fresh = match partition {
        None | Some(ISSUER_WIDE) => coverage.issuer_fresh[issuer as usize],
        Some(MISSING_PARTITION) => false,
        Some(p) => coverage.partition_fresh.get(p as usize).copied().unwrap_or(false),
    };
    none(Status::unrevoked(fresh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{build, Record};

    fn codes(statuses: &[Status]) -> Vec<u8> {
        statuses.iter().map(|&s| s as u8).collect()
    }

    /// A xorshift generator: reproducible test data without a dependency.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Two checks' outputs are the same, column by column.
    fn assert_same_outputs(a: &CheckOutput, b: &CheckOutput) {
        assert_eq!(a.status, b.status);
        assert_eq!(a.reason, b.reason);
        assert_eq!(a.revocation_date, b.revocation_date);
        assert_eq!(a.revocation_valid, b.revocation_valid);
        assert_eq!(a.reason_valid, b.reason_valid);
        assert_eq!(a.invalidity, b.invalidity);
        assert_eq!(a.partition, b.partition);
        assert_eq!(a.counts, b.counts);
    }

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
        let out = check(&views, Issuers::PerRow(&issuers), Some(&parts), &short, &[], &cov, true);
        assert_eq!(out.status, codes(&[Status::Revoked, Status::Good, Status::Stale, Status::Stale, Status::Unknown]));
        assert_eq!(out.revocation_date[0], 100);
        assert_eq!(out.partition.as_ref().unwrap()[0], 0);
        assert!(out.invalidity.is_none());
        assert_eq!(out.revocation_valid[0], 0b0000_0001);
        assert_eq!(out.counts, [1, 1, 2, 1]);
        // Issuer-wide: one stale partition makes every unrevoked serial stale.
        let out = check(&views, Issuers::All(0), None, &short, &[], &cov, false);
        assert_eq!(out.status, codes(&[Status::Revoked, Status::Stale, Status::Stale, Status::Stale, Status::Stale]));
        // All fresh: good.
        let cov = Coverage::at(100, 2, &[0, 0], &[0, 0], &[2000, 500], &[true, true]);
        let out = check(&views, Issuers::All(0), None, &short, &[], &cov, false);
        assert_eq!(out.status, codes(&[Status::Revoked, Status::Good, Status::Good, Status::Good, Status::Good]));
        // Issuer 1 has no CRL at all: stale.
        let out = check(&views, Issuers::All(1), None, &short, &[], &cov, false);
        assert_eq!(out.status, codes(&[Status::Stale; 5]));
    }

    /// The one-issuer fast paths and the general path give identical outputs, byte for byte,
    /// over several chunks, for dense (bitmap) and sparse (directory) serials: the batch of
    /// 3 chunks is looked up chunk by chunk, the bigger one grouped when the index is sparse.
    #[test]
    fn uniform_path_matches_the_general_path() {
        use crate::index::InvalidityRecord;
        use crate::serial::SerialKey;
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        for spread in [2u64, 1 << 40] {
            let serials: Vec<u64> = (0..20_000u64).map(|i| 1000 + i * spread + next() % spread).collect();
            let records: Vec<Record> = serials
                .iter()
                .map(|&serial| Record {
                    serial,
                    date: (next() % 1_000_000) as u32,
                    partition: (next() % 7) as u16,
                    reason: [0, 1, 4, 5, NO_REASON][(next() % 5) as usize],
                })
                .collect();
            let invalidity: Vec<InvalidityRecord> = records
                .iter()
                .step_by(97)
                .map(|r| InvalidityRecord {
                    serial: SerialKey::Short(r.serial),
                    partition: r.partition,
                    date: r.date,
                    invalidity: -(r.date as i64),
                })
                .collect();
            let cols = build(records, vec![], invalidity);
            let views = vec![Some(cols.view())];
            // Half of the keys present (ranked eagerly), and one in twenty (ranked on a hit).
            for (one_in, now, len) in
                [(2, 10, 3 * CHUNK + 123), (20, 10, 3 * CHUNK + 123), (2, 5000, 3 * CHUNK + 123), (2, 10, GROUPED_MIN_KEYS + 77)]
            {
                let cov = Coverage::at(now, 1, &[0; 7], &[0; 7], &[1000; 7], &[true; 7]);
                assert_eq!(grouped::Plan::new(&views, Issuers::All(0), None, &cov, len).is_some(), spread > 2 && len >= GROUPED_MIN_KEYS);
                let queries: Vec<u64> = (0..len)
                    .map(|_| {
                        if next() % one_in == 0 {
                            serials[(next() % serials.len() as u64) as usize]
                        } else {
                            next() % (serials[serials.len() - 1] + 50)
                        }
                    })
                    .collect();
                let fast = check(&views, Issuers::All(0), None, &queries, &[], &cov, true);
                let wide = vec![ISSUER_WIDE; queries.len()];
                let general = check(&views, Issuers::All(0), Some(&wide), &queries, &[], &cov, true);
                assert_same_outputs(&fast, &general);
                assert!(fast.counts[Status::Revoked as usize] > 0 && fast.counts[Status::Revoked as usize] < queries.len() as u64);
                assert!(fast.invalidity.as_ref().unwrap().1.iter().any(|&b| b != 0));
            }
        }
    }

    /// Per-row issuers, grouped: two sparse issuers (one fresh, one stale), an issuer of the
    /// store without a CRL, and issuers not in the store, mixed row by row, give the outputs of
    /// the general path; with a dense issuer in the batch too, the batch is not grouped, and
    /// the outputs are the same again.
    #[test]
    fn per_row_issuers_grouped_match_the_general_path() {
        let mut next = xorshift(0x1234_5678_9ABC_DEF1u64);
        let sparse = |next: &mut dyn FnMut() -> u64, n: usize, partition: u16| {
            let serials: Vec<u64> = (0..n).map(|_| next()).collect();
            let records = serials
                .iter()
                .map(|&serial| Record {
                    serial,
                    date: (next() % 1_000_000) as u32,
                    partition,
                    reason: [0, 1, 4, NO_REASON][(next() % 4) as usize],
                })
                .collect();
            (serials, build(records, vec![], vec![]))
        };
        let (a_serials, a) = sparse(&mut next, 30_000, 0);
        let (b_serials, b) = sparse(&mut next, 20_000, 1);
        let dense = build((0..5000u64).map(|i| Record { serial: 1000 + i, date: 7, partition: 2, reason: 1 }).collect(), vec![], vec![]);
        assert!(dense.view().is_bitmap() && !a.view().is_bitmap());
        // Issuer 0 fresh (partition 0), issuer 1 stale (partition 1), issuer 2 without a CRL,
        // issuer 3 dense (partition 2, fresh).
        let cov = Coverage::at(10, 4, &[0, 1, 3], &[0, 0, 0], &[1000, 5, 1000], &[true, true, true]);
        for with_dense in [false, true] {
            let views = vec![Some(a.view()), Some(b.view()), None, Some(dense.view())];
            let len = 2 * GROUPED_MIN_KEYS + 13;
            let mut issuers = Vec::with_capacity(len);
            let queries: Vec<u64> = (0..len)
                .map(|_| {
                    let r = next() % 16;
                    let (issuer, key) = match r {
                        0..=5 => (0, if r % 2 == 0 { a_serials[(next() % a_serials.len() as u64) as usize] } else { next() }),
                        6..=10 => (1, if r % 2 == 0 { b_serials[(next() % b_serials.len() as u64) as usize] } else { a_serials[0] }),
                        11 => (2, a_serials[1]),
                        12 => (9, b_serials[0]),
                        13 => (UNKNOWN_ISSUER, next()),
                        _ if with_dense => (3, 990 + next() % 5020),
                        _ => (0, next()),
                    };
                    issuers.push(issuer);
                    key
                })
                .collect();
            let plan = grouped::Plan::new(&views, Issuers::PerRow(&issuers), None, &cov, len);
            assert_eq!(plan.is_some(), !with_dense);
            let grouped = check(&views, Issuers::PerRow(&issuers), None, &queries, &[], &cov, true);
            let wide = vec![ISSUER_WIDE; len];
            let general = check(&views, Issuers::PerRow(&issuers), Some(&wide), &queries, &[], &cov, true);
            assert_same_outputs(&grouped, &general);
            assert!(grouped.counts.iter().all(|&c| c > 0), "every status occurs: {:?}", grouped.counts);
        }
    }

    /// A scratch space kept between grouped batches of different sizes (larger, smaller, larger
    /// again, as a store's snapshot keeps one) changes no output.
    #[test]
    fn reused_scratch_changes_no_output() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1Du64);
        let serials: Vec<u64> = (0..50_000).map(|_| next()).collect();
        let records = serials.iter().map(|&serial| Record { serial, date: (next() % 1_000_000) as u32, partition: 0, reason: 1 }).collect();
        let cols = build(records, vec![], vec![]);
        let views = vec![Some(cols.view())];
        let cov = Coverage::at(10, 1, &[0], &[0], &[1000], &[true]);
        let scratch = Scratch::default();
        for len in [3 * GROUPED_MIN_KEYS + 5, GROUPED_MIN_KEYS + 3, 2 * GROUPED_MIN_KEYS + 8] {
            let queries: Vec<u64> =
                (0..len).map(|_| if next() % 2 == 0 { serials[(next() % serials.len() as u64) as usize] } else { next() }).collect();
            assert!(grouped::Plan::new(&views, Issuers::All(0), None, &cov, len).is_some());
            let reused = check_reusing(&scratch, &views, Issuers::All(0), None, &queries, &[], &cov, true);
            let wide = vec![ISSUER_WIDE; len];
            let general = check(&views, Issuers::All(0), Some(&wide), &queries, &[], &cov, true);
            assert_same_outputs(&reused, &general);
        }
    }

    /// Keys the sample misjudges (every sampled one in the bottom of the index, nearly all the
    /// others at its top) overflow their streams' room; the batch is then counted and scattered
    /// again, with the outputs of the general path. Sorted keys, sampled exactly, need no
    /// second pass.
    #[test]
    fn a_batch_its_sample_misjudges_is_counted_again() {
        let mut next = xorshift(0x0DDB_A11C_AFE0_F00Du64);
        let mut serials: Vec<u64> = (0..200_000).map(|_| next()).collect();
        serials.sort_unstable();
        let records = serials.iter().map(|&serial| Record { serial, date: (next() % 1_000_000) as u32, partition: 0, reason: 4 }).collect();
        let cols = build(records, vec![], vec![]);
        let views = vec![Some(cols.view())];
        let cov = Coverage::at(10, 1, &[0], &[0], &[1000], &[true]);
        let len = 4 * GROUPED_MIN_KEYS + 40;
        let per = len.div_ceil(rayon::current_num_threads().max(1));
        let (low, high) = (&serials[..serials.len() / 8], &serials[serials.len() / 2..]);
        let mut misjudged: Vec<u64> = (0..len)
            .map(|i| {
                let from = if (i % per) % grouped::SAMPLE == 0 { low } else { high };
                if next() % 2 == 0 {
                    from[(next() % from.len() as u64) as usize]
                } else {
                    from[(next() % from.len() as u64) as usize] + 1
                }
            })
            .collect();
        for sorted in [false, true] {
            if sorted {
                misjudged.sort_unstable();
            }
            let before = grouped::RECOUNTS.with(|c| c.get());
            let out = check(&views, Issuers::All(0), None, &misjudged, &[], &cov, true);
            assert_eq!(grouped::RECOUNTS.with(|c| c.get()) - before, !sorted as usize, "sorted: {sorted}");
            let wide = vec![ISSUER_WIDE; len];
            let general = check(&views, Issuers::All(0), Some(&wide), &misjudged, &[], &cov, true);
            assert_same_outputs(&out, &general);
            assert!(out.counts[Status::Revoked as usize] > len as u64 / 4);
        }
    }

    /// The grouped lookups' search (AVX2 where the CPU has it) and its portable form find the
    /// same hits as a sorted array, with buckets of up to 8 entries, bigger ones, and the table's
    /// last entries.
    #[test]
    fn sparse_search_finds_what_a_sorted_array_holds() {
        let mut next = xorshift(0x5851_F42D_4C95_7F2Du64);
        // Uniform serials, then runs of 40 adjacent ones (buckets far over 8 entries).
        let mut serials: Vec<u64> = (0..20_000).map(|_| next() >> 1).collect();
        serials.extend((0..50u64).flat_map(|r| (0..40).map(move |i| (1 << 63) + r * (1 << 50) + i)));
        serials.sort_unstable();
        serials.dedup();
        let records = serials.iter().map(|&serial| Record { serial, date: 1, partition: 0, reason: 1 }).collect();
        let cols = build(records, vec![], vec![]);
        let view = cols.view();
        assert!(!view.is_bitmap());
        let (lo, hi) = (serials[0], *serials.last().unwrap());
        let keys: Vec<u64> = (0..60_000)
            .map(|i| match i % 4 {
                0 => serials[(next() % serials.len() as u64) as usize],
                1 => serials[serials.len() - 1 - (next() % 20) as usize],
                2 => serials[(next() % serials.len() as u64) as usize].wrapping_add(1).min(hi),
                _ => lo + next() % (hi - lo),
            })
            .collect();
        let want: Vec<(u32, u32)> =
            keys.iter().enumerate().filter_map(|(j, k)| serials.binary_search(k).ok().map(|r| (j as u32, r as u32))).collect();
        let mut fast = Vec::with_capacity(keys.len());
        find_hits_sparse(&view, &keys, &mut fast);
        let mut portable = Vec::with_capacity(keys.len());
        find_hits_sparse_with(&view, &keys, &mut portable, |lo, hi, key| view.search_bucket(lo, hi, key));
        assert_eq!(fast, want);
        assert_eq!(portable, want);
    }
}
