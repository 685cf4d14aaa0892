//! The revocation index of one issuer key: every revoked serial of all its partitions, merged,
//! sorted and deduplicated, with the revocation date, reason and partition of each entry.
//!
//! Layout (each column maps straight onto an Arrow buffer):
//!
//! | column      | type  | bytes/entry |
//! |-------------|-------|-------------|
//! | serial      | u64   | 8 |
//! | payload     | 7 packed bytes: revocation time u32 (seconds since 1970, until 2106), partition u16, reason u8 (0xFF: none), little-endian | 7 |
//! | lookup      | bitmap + ranks, or offset table | < 1 |
//!
//! At most 16 bytes per entry in all. The payload is packed so that a revoked serial's facts
//! cost one cache miss, not three. Two lookup structures, chosen per issuer at build time:
//!
//! - **Bitmap** (dense serials, as JPKI allocates them: roughly sequential, so the revoked ones
//!   cover a good share of their range): one bit per serial value between the smallest and
//!   largest revoked serial, plus a cumulative count per 512 bits. A lookup reads one bitmap
//!   word and one count, both small enough to stay in cache, and the row of a revoked serial is
//!   its rank: `ranks[block] + popcount(earlier words of the block) + popcount(bits below)`.
//!   Used when it costs at most one byte per entry.
//! - **Offset table** (sparse serials): `directory[b]..directory[b+1]` is the range of entries
//!   whose `(serial - base) >> shift` is `b`, about four entries per bucket, so a lookup costs
//!   one directory read and one short scan instead of a binary search's ~24 cache misses.
//!
//! Serials longer than 8 octets live in a separate, sorted table of 20-octet keys (searched by
//! binary search; they are rare). Invalidity dates are rare too and are kept sparse, by row.

use crate::serial::{SerialKey, MAX_SERIAL_OCTETS};
use crate::sort::radix_sort;

pub const NOT_FOUND: u32 = u32::MAX;
pub const NO_PARTITION: u16 = u16::MAX;
/// Average entries per directory bucket.
const ENTRIES_PER_BUCKET: usize = 4;
/// The bitmap is used when it and its ranks take at most this many bits per entry.
const BITMAP_MAX_BITS_PER_ENTRY: u64 = 8;
/// Bitmap words per rank block (one cache line).
const WORDS_PER_BLOCK: usize = 8;
/// Bucket ranges up to this size are searched branch-free (larger ones by binary search).
const LINEAR_SCAN: usize = 16;
/// Bucket ranges up to this size (nearly all) are searched by comparing this many entries with
/// the key at once.
const EQ_SCAN: usize = 8;

pub type LongKey = [u8; MAX_SERIAL_OCTETS];

/// One rank block of the bitmap, aligned to a cache line, so that a lookup reads one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct BitmapBlock(pub [u64; WORDS_PER_BLOCK]);

/// A copy of `words` in cache-line-aligned blocks, when they are not aligned already: a
/// memory-mapped Arrow file places a buffer at any multiple of 8 bytes, and a block that
/// straddles two cache lines costs a second miss on every lookup that ranks it. None when
/// no copy is needed (aligned, empty, or not whole blocks, which validation reports).
pub fn aligned_bitmap(words: &[u64]) -> Option<Vec<BitmapBlock>> {
    let aligned = (words.as_ptr() as usize) % std::mem::align_of::<BitmapBlock>() == 0;
    if aligned || words.is_empty() || words.len() % WORDS_PER_BLOCK != 0 {
        return None;
    }
    Some(words.chunks_exact(WORDS_PER_BLOCK).map(|c| BitmapBlock(c.try_into().expect("whole block"))).collect())
}

/// The words of aligned blocks.
pub fn block_words(blocks: &[BitmapBlock]) -> &[u64] {
    // SAFETY: BitmapBlock is repr(C) around [u64; WORDS_PER_BLOCK] with no padding (its size is
    // exactly its alignment, 64 bytes), so the blocks are contiguous u64s.
    unsafe { std::slice::from_raw_parts(blocks.as_ptr() as *const u64, blocks.len() * WORDS_PER_BLOCK) }
}

/// An entry's facts, packed: revocation time (u32 LE), partition (u16 LE), reason (u8).
pub type Payload = [u8; 7];

#[inline(always)]
pub fn pack(date: u32, partition: u16, reason: u8) -> Payload {
    let d = date.to_le_bytes();
    let p = partition.to_le_bytes();
    [d[0], d[1], d[2], d[3], p[0], p[1], reason]
}

#[inline(always)]
pub fn unpack(p: &Payload) -> (u32, u16, u8) {
    (u32::from_le_bytes([p[0], p[1], p[2], p[3]]), u16::from_le_bytes([p[4], p[5]]), p[6])
}

/// One revoked entry while building.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Record {
    pub serial: u64,
    pub date: u32,
    pub partition: u16,
    pub reason: u8,
}

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct LongRecord {
    pub serial: LongKey,
    pub date: u32,
    pub partition: u16,
    pub reason: u8,
}

/// An invalidity date, matched to its entry after sorting by (serial, partition, date).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidityRecord {
    pub serial: SerialKey,
    pub partition: u16,
    pub date: u32,
    pub invalidity: i64,
}

/// The built index of one issuer key, ready to be written out column by column.
#[derive(Default, Debug)]
pub struct IssuerColumns {
    pub serials: Vec<u64>,
    pub payload: Vec<Payload>,
    pub directory: Vec<u32>,
    pub dir_base: u64,
    pub dir_shift: u32,
    pub bitmap: Vec<u64>,
    pub ranks: Vec<u32>,
    pub long_serials: Vec<LongKey>,
    pub long_payload: Vec<Payload>,
    /// Rows with an invalidity date: short rows are `0..n`, long rows `n..n+m`. Sorted.
    pub invalidity_rows: Vec<u32>,
    pub invalidity_dates: Vec<i64>,
    /// Per partition: entries dropped because the same serial appeared again in that partition.
    pub duplicates: Vec<(u16, u64)>,
    /// Entries dropped because the same serial was also listed by another partition.
    pub cross_partition_duplicates: u64,
}

fn count_dup(dups: &mut Vec<(u16, u64)>, partition: u16) {
    match dups.iter_mut().find(|(p, _)| *p == partition) {
        Some((_, c)) => *c += 1,
        None => dups.push((partition, 1)),
    }
}

/// Builds an issuer's index. Equal serials keep the earliest revocation date (the first such
/// entry in input order when dates tie); every dropped entry is counted.
pub fn build(mut records: Vec<Record>, mut long: Vec<LongRecord>, invalidity: Vec<InvalidityRecord>) -> IssuerColumns {
    let mut out = IssuerColumns::default();
    let t = std::time::Instant::now();
    radix_sort(&mut records, |r| r.serial);
    crate::trace("index: sort", t);
    let t = std::time::Instant::now();

    let n_hint = records.len();
    out.serials = crate::mem::with_capacity(n_hint);
    out.payload = crate::mem::with_capacity(n_hint);
    let mut i = 0;
    while i < records.len() {
        let first = records[i];
        let mut best = first;
        let mut j = i + 1;
        while j < records.len() && records[j].serial == first.serial {
            let r = records[j];
            if r.partition == first.partition {
                count_dup(&mut out.duplicates, r.partition);
            } else {
                out.cross_partition_duplicates += 1;
            }
            if r.date < best.date {
                best = r;
            }
            j += 1;
        }
        out.serials.push(best.serial);
        out.payload.push(pack(best.date, best.partition, best.reason));
        i = j;
    }
    drop(records);
    crate::trace("index: dedup", t);
    let t = std::time::Instant::now();
    build_lookup(&mut out);
    crate::trace("index: lookup", t);

    long.sort_by_key(|r| r.serial); // stable
    let mut i = 0;
    while i < long.len() {
        let first = long[i];
        let mut best = first;
        let mut j = i + 1;
        while j < long.len() && long[j].serial == first.serial {
            if long[j].partition == first.partition {
                count_dup(&mut out.duplicates, long[j].partition);
            } else {
                out.cross_partition_duplicates += 1;
            }
            if long[j].date < best.date {
                best = long[j];
            }
            j += 1;
        }
        out.long_serials.push(best.serial);
        out.long_payload.push(pack(best.date, best.partition, best.reason));
        i = j;
    }

    let n = out.serials.len();
    let mut inv: Vec<(u32, i64)> = Vec::new();
    {
        let view = out.view();
        for rec in invalidity {
            let row = match rec.serial {
                SerialKey::Short(s) => view.find_short(s),
                SerialKey::Long(k) => view.find_long(&k).map_or(NOT_FOUND, |r| r + n as u32),
            };
            if row == NOT_FOUND {
                continue;
            }
            let (d, p, _) =
                if (row as usize) < n { unpack(&out.payload[row as usize]) } else { unpack(&out.long_payload[row as usize - n]) };
            if p == rec.partition && d == rec.date {
                inv.push((row, rec.invalidity));
            }
        }
    }
    inv.sort_unstable();
    inv.dedup_by_key(|x| x.0);
    out.invalidity_rows = inv.iter().map(|x| x.0).collect();
    out.invalidity_dates = inv.iter().map(|x| x.1).collect();
    out.duplicates.sort_unstable();
    out
}

/// Builds the bitmap when the serials are dense enough, else the offset table.
fn build_lookup(out: &mut IssuerColumns) {
    let s = &out.serials;
    let n = s.len();
    out.directory = Vec::new();
    out.bitmap = Vec::new();
    out.ranks = Vec::new();
    if n == 0 {
        out.dir_base = 0;
        out.dir_shift = 63;
        out.directory = vec![0, 0];
        return;
    }
    let base = s[0];
    let range = s[n - 1] - base;
    out.dir_base = base;
    // Whole blocks only, so a rank never reads past the bitmap (the padding bits are zero).
    let blocks = (range / 64 + 1).div_ceil(WORDS_PER_BLOCK as u64);
    let words = blocks * WORDS_PER_BLOCK as u64;
    // In u128: a sparse range's bitmap would not even fit in 64 bits of size.
    let bitmap_bits = words as u128 * 64 + (blocks as u128 + 1) * 32;
    if bitmap_bits <= BITMAP_MAX_BITS_PER_ENTRY as u128 * n as u128 {
        let (blocks, words) = (blocks as usize, words as usize);
        let mut bitmap = vec![0u64; words];
        for &v in s {
            let pos = v - base;
            bitmap[(pos / 64) as usize] |= 1u64 << (pos % 64);
        }
        let mut ranks = Vec::with_capacity(blocks + 1);
        let mut total = 0u32;
        for block in bitmap.chunks(WORDS_PER_BLOCK) {
            ranks.push(total);
            total += block.iter().map(|w| w.count_ones()).sum::<u32>();
        }
        ranks.push(total);
        out.dir_shift = 0;
        out.bitmap = bitmap;
        out.ranks = ranks;
        return;
    }
    // The smallest shift that leaves at most `target` buckets. With fewer than 8 entries the
    // target is 1 bucket, which a range of 2^63 or more cannot reach: the shift stops at 63
    // (2 buckets), as a shift of 64 wraps to 0 in a release build and would never end.
    let target = (n / ENTRIES_PER_BUCKET).max(1) as u64;
    let mut shift = 0u32;
    while shift < 63 && (range >> shift) >= target {
        shift += 1;
    }
    let buckets = ((range >> shift) + 1) as usize;
    let mut dir = Vec::with_capacity(buckets + 1);
    let mut row = 0usize;
    for b in 0..buckets {
        while row < n && (((s[row] - base) >> shift) as usize) < b {
            row += 1;
        }
        dir.push(row as u32);
    }
    dir.push(n as u32);
    out.dir_shift = shift;
    out.directory = dir;
}

impl IssuerColumns {
    pub fn view(&self) -> IssuerView<'_> {
        IssuerView {
            serials: &self.serials,
            payload: &self.payload,
            directory: &self.directory,
            dir_base: self.dir_base,
            dir_shift: self.dir_shift,
            bitmap: &self.bitmap,
            ranks: &self.ranks,
            long_serials: &self.long_serials,
            long_payload: &self.long_payload,
            invalidity_rows: &self.invalidity_rows,
            invalidity_dates: &self.invalidity_dates,
        }
    }
}

/// A read-only view of an issuer's index, over owned vectors or memory-mapped files.
#[derive(Clone, Copy, Debug)]
pub struct IssuerView<'a> {
    pub serials: &'a [u64],
    pub payload: &'a [Payload],
    pub directory: &'a [u32],
    pub dir_base: u64,
    pub dir_shift: u32,
    pub bitmap: &'a [u64],
    pub ranks: &'a [u32],
    pub long_serials: &'a [LongKey],
    pub long_payload: &'a [Payload],
    pub invalidity_rows: &'a [u32],
    pub invalidity_dates: &'a [i64],
}

/// Why an index read from a file cannot be used (checked before any lookup, so that a damaged
/// file can never make a lookup read out of bounds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("entry columns have different lengths ({serials} serials)")]
    EntryColumns { serials: usize },
    #[error("long-serial columns have different lengths")]
    LongColumns,
    #[error("invalidity columns have different lengths")]
    InvalidityColumns,
    #[error("invalidity row out of range")]
    InvalidityRow,
    #[error("bitmap and ranks do not match")]
    BitmapShape,
    #[error("rank of bitmap block {block} is wrong")]
    Rank { block: usize },
    #[error("bitmap does not hold one bit per entry")]
    BitmapCount,
    #[error("directory does not span the entries")]
    DirectorySpan,
    #[error("directory offsets are not monotonic")]
    DirectoryOrder,
}

/// What was found for one serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub date: u32,
    pub partition: u16,
    pub reason: u8,
    pub invalidity: Option<i64>,
}

impl<'a> IssuerView<'a> {
    /// Checks that the columns are consistent, so lookups can never index out of bounds even
    /// if a file was damaged. Cheap: it reads the directory, not the entries.
    pub fn validate(&self) -> Result<(), IndexError> {
        let n = self.serials.len();
        if self.payload.len() != n {
            return Err(IndexError::EntryColumns { serials: n });
        }
        let m = self.long_serials.len();
        if self.long_payload.len() != m {
            return Err(IndexError::LongColumns);
        }
        if self.invalidity_rows.len() != self.invalidity_dates.len() {
            return Err(IndexError::InvalidityColumns);
        }
        if self.invalidity_rows.iter().any(|&r| r as usize >= n + m) {
            return Err(IndexError::InvalidityRow);
        }
        if !self.bitmap.is_empty() {
            // Every rank must equal the bits before it, so a rank can never point past `n`.
            let blocks = self.bitmap.len() / WORDS_PER_BLOCK;
            if self.bitmap.len() % WORDS_PER_BLOCK != 0 || self.ranks.len() != blocks + 1 || !self.directory.is_empty() {
                return Err(IndexError::BitmapShape);
            }
            let mut total = 0u32;
            for (i, block) in self.bitmap.chunks(WORDS_PER_BLOCK).enumerate() {
                if self.ranks[i] != total {
                    return Err(IndexError::Rank { block: i });
                }
                total += block.iter().map(|w| w.count_ones()).sum::<u32>();
            }
            if self.ranks[blocks] != total || total as usize != n {
                return Err(IndexError::BitmapCount);
            }
            return Ok(());
        }
        let d = self.directory;
        if d.len() < 2 || d[0] != 0 || d[d.len() - 1] as usize != n || self.dir_shift > 63 {
            return Err(IndexError::DirectorySpan);
        }
        if d.windows(2).any(|w| w[0] > w[1]) {
            return Err(IndexError::DirectoryOrder);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.serials.len() + self.long_serials.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the index uses the bitmap (dense serials), else the offset table.
    #[inline(always)]
    pub fn is_bitmap(&self) -> bool {
        !self.bitmap.is_empty()
    }

    /// First stage of a lookup: locates the key's bitmap word or directory bucket (`usize::MAX`
    /// when the key lies outside the index) and prefetches what the next stage reads.
    #[inline(always)]
    pub fn stage_locate(&self, key: u64) -> usize {
        if key < self.dir_base {
            return usize::MAX;
        }
        let offset = key - self.dir_base;
        if self.is_bitmap() {
            let word = (offset / 64) as usize;
            if offset >= (self.bitmap.len() as u64) * 64 {
                return usize::MAX;
            }
            prefetch(self.bitmap.as_ptr().wrapping_add(word));
            prefetch(self.ranks.as_ptr().wrapping_add(word / WORDS_PER_BLOCK));
            offset as usize
        } else {
            let b = (offset >> self.dir_shift) as usize;
            if b + 1 >= self.directory.len() {
                return usize::MAX;
            }
            prefetch(self.directory.as_ptr().wrapping_add(b));
            b
        }
    }

    /// Second stage: the candidate rows `lo..hi` (prefetched). In bitmap mode the row is exact:
    /// `hi == lo + 1` for a present key, an empty range otherwise.
    #[inline(always)]
    pub fn stage_range(&self, located: usize) -> (u32, u32) {
        self.stage_range_with::<true, false>(located)
    }

    /// [`Self::stage_range`], prefetching a found row's payload only when `PAYLOAD` is set. With
    /// `EAGER_RANK`, a bitmap lookup computes the rank whether or not the key is present instead
    /// of branching on it: cheaper when presence is unpredictable (a batch with many revoked
    /// serials), dearer when most keys are absent.
    #[inline(always)]
    pub fn stage_range_with<const PAYLOAD: bool, const EAGER_RANK: bool>(&self, located: usize) -> (u32, u32) {
        if located == usize::MAX {
            return (0, 0);
        }
        if self.is_bitmap() {
            let w = located / 64;
            let word = self.bitmap[w];
            let bit = located % 64;
            let present = ((word >> bit) & 1) as u32;
            if !EAGER_RANK && present == 0 {
                return (0, 0);
            }
            let block = w / WORDS_PER_BLOCK;
            let first = block * WORDS_PER_BLOCK;
            let words: &[u64; WORDS_PER_BLOCK] = self.bitmap[first..first + WORDS_PER_BLOCK].try_into().expect("whole blocks");
            // Branch-free: a data-dependent loop length would mispredict on every lookup.
            let before = w - first;
            let mut row = self.ranks[block];
            for (i, &x) in words.iter().enumerate() {
                row += (x & ((i < before) as u64).wrapping_neg()).count_ones();
            }
            row += (word & ((1u64 << bit) - 1)).count_ones();
            if PAYLOAD {
                self.prefetch_row(row as usize);
            }
            return (row, row + present);
        }
        let lo = self.directory[located];
        let hi = self.directory[located + 1];
        if lo < hi {
            prefetch(self.serials.as_ptr().wrapping_add(lo as usize));
        }
        (lo, hi)
    }

    /// Third stage: the row of `key`, or `NOT_FOUND`; a found row's columns are prefetched.
    #[inline(always)]
    pub fn stage_search(&self, range: (u32, u32), key: u64) -> u32 {
        self.stage_search_with::<true>(range, key)
    }

    /// [`Self::stage_search`], prefetching a found row's payload only when `PAYLOAD` is set.
    #[inline(always)]
    pub fn stage_search_with<const PAYLOAD: bool>(&self, range: (u32, u32), key: u64) -> u32 {
        let (lo, hi) = range;
        if self.is_bitmap() {
            return if lo < hi { lo } else { NOT_FOUND };
        }
        if lo >= hi {
            return NOT_FOUND;
        }
        let row = self.search_bucket(lo, hi, key);
        if PAYLOAD && row != NOT_FOUND {
            self.prefetch_row(row as usize);
        }
        row
    }

    /// The row of `key` among the rows `lo..hi` of one directory bucket (possibly empty), or
    /// `NOT_FOUND`.
    #[inline(always)]
    pub fn search_bucket(&self, lo: u32, hi: u32, key: u64) -> u32 {
        let (lo, hi) = (lo as usize, hi as usize);
        let s = self.serials;
        if hi - lo <= EQ_SCAN && lo + EQ_SCAN <= s.len() {
            // Most buckets (about four entries on average): compare the key with `EQ_SCAN`
            // entries at once and keep the matches inside the bucket; no load depends on
            // another, and the compares vectorise.
            let w: &[u64; EQ_SCAN] = s[lo..lo + EQ_SCAN].try_into().expect("EQ_SCAN entries");
            let mut m = 0u32;
            for (t, &x) in w.iter().enumerate() {
                m |= ((x == key) as u32) << t;
            }
            m &= (1u32 << (hi - lo)) - 1;
            // Without a branch (whether a key is present is a coin toss in a batch with many
            // revoked serials): all ones, NOT_FOUND, when nothing matched.
            let none = ((m == 0) as u32).wrapping_neg();
            (lo as u32 + m.trailing_zeros()) | none
        } else if lo >= hi {
            NOT_FOUND
        } else if hi - lo <= LINEAR_SCAN {
            // Branch-free lower bound (a scan's exit, at a random place, mispredicts once per
            // key): steps of 8, 4, 2 and 1 entries, each taken when the entry before its end is
            // below the key. A step past `hi` is never taken; its read is clamped to the bucket.
            let mut at = lo;
            for step in [8, 4, 2, 1] {
                let next = at + step;
                let below = s[next.min(hi) - 1] < key;
                at = if (next <= hi) & below { next } else { at };
            }
            // `at` is the first row of the bucket not below the key; with 16 entries all below
            // it, the last (which is not the key either).
            if (at < hi) & (s[at.min(hi - 1)] == key) {
                at as u32
            } else {
                NOT_FOUND
            }
        } else {
            match s[lo..hi].binary_search(&key) {
                Ok(i) => (lo + i) as u32,
                Err(_) => NOT_FOUND,
            }
        }
    }

    #[inline(always)]
    pub fn prefetch_row(&self, r: usize) {
        // A 7-byte record may straddle two cache lines.
        let p = self.payload.as_ptr().wrapping_add(r) as *const u8;
        prefetch(p);
        prefetch(p.wrapping_add(6));
    }

    /// Row of a serial of at most 8 octets, or `NOT_FOUND`.
    #[inline]
    pub fn find_short(&self, key: u64) -> u32 {
        self.stage_search(self.stage_range(self.stage_locate(key)), key)
    }

    /// Row (counted within the long table) of a serial longer than 8 octets.
    pub fn find_long(&self, key: &LongKey) -> Option<u32> {
        self.long_serials.binary_search(key).ok().map(|i| i as u32)
    }

    /// Whether any entry has an invalidity date.
    pub fn has_invalidity(&self) -> bool {
        !self.invalidity_rows.is_empty()
    }

    fn invalidity(&self, row: u32) -> Option<i64> {
        if self.invalidity_rows.is_empty() {
            return None;
        }
        self.invalidity_rows.binary_search(&row).ok().map(|i| self.invalidity_dates[i])
    }

    /// The entry at a short-table row.
    #[inline]
    pub fn hit_short(&self, row: u32) -> Hit {
        let (date, partition, reason) = unpack(&self.payload[row as usize]);
        Hit { date, partition, reason, invalidity: self.invalidity(row) }
    }

    /// The entry at a long-table row.
    pub fn hit_long(&self, long_row: u32) -> Hit {
        let (date, partition, reason) = unpack(&self.long_payload[long_row as usize]);
        Hit { date, partition, reason, invalidity: self.invalidity(long_row + self.serials.len() as u32) }
    }

    /// Looks up any serial.
    pub fn find(&self, key: &SerialKey) -> Option<Hit> {
        match key {
            SerialKey::Short(s) => {
                let row = self.find_short(*s);
                (row != NOT_FOUND).then(|| self.hit_short(row))
            }
            SerialKey::Long(k) => self.find_long(k).map(|r| self.hit_long(r)),
        }
    }
}

/// A hint to bring the cache line of `p` in (any address: it never faults).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(serial: u64, date: u32, partition: u16) -> Record {
        Record { serial, date, partition, reason: 1 }
    }

    #[test]
    fn finds_every_entry_and_nothing_else() {
        let mut seed = 3u64;
        let mut recs = Vec::new();
        for i in 0..50_000u32 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            recs.push(rec(0x0100_0000 + (seed >> 40) % 400_000, i, (i % 7) as u16));
        }
        let set: std::collections::BTreeSet<u64> = recs.iter().map(|r| r.serial).collect();
        let cols = build(recs, vec![], vec![]);
        let v = cols.view();
        v.validate().unwrap();
        assert_eq!(v.serials.len(), set.len());
        let queries: Vec<u64> = (0x00FF_0000..0x0107_0000).collect();
        for q in &queries {
            let row = v.find_short(*q);
            assert_eq!(row != NOT_FOUND, set.contains(q), "serial {q:X}");
            if row != NOT_FOUND {
                assert_eq!(v.serials[row as usize], *q);
            }
        }
        assert_eq!(v.find_short(0), NOT_FOUND);
        assert_eq!(v.find_short(u64::MAX), NOT_FOUND);
    }

    #[test]
    fn dense_serials_use_the_bitmap_and_stay_exact() {
        let mut seed = 9u64;
        let mut recs = Vec::new();
        for i in 0..100_000u32 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            recs.push(rec(0x0500_0000 + (seed >> 40) % 300_000, i, (i % 5) as u16));
        }
        let set: std::collections::BTreeSet<u64> = recs.iter().map(|r| r.serial).collect();
        let cols = build(recs, vec![], vec![]);
        assert!(!cols.bitmap.is_empty() && cols.directory.is_empty());
        let v = cols.view();
        v.validate().unwrap();
        for q in 0x04FF_FF00..0x0505_0100u64 {
            let row = v.find_short(q);
            assert_eq!(row != NOT_FOUND, set.contains(&q), "serial {q:X}");
            if row != NOT_FOUND {
                assert_eq!(v.serials[row as usize], q);
            }
        }
        // A damaged rank is caught before any lookup.
        let mut ranks = cols.ranks.clone();
        ranks[3] += 1;
        let broken = IssuerView { ranks: &ranks, ..v };
        assert!(broken.validate().is_err());
    }

    #[test]
    fn duplicates_keep_earliest_date_and_are_counted() {
        let cols = build(vec![rec(5, 300, 0), rec(5, 100, 0), rec(5, 200, 1), rec(9, 1, 2)], vec![], vec![]);
        assert_eq!(cols.serials, vec![5, 9]);
        assert_eq!(cols.payload.iter().map(|p| unpack(p).0).collect::<Vec<_>>(), vec![100, 1]);
        assert_eq!(cols.duplicates, vec![(0, 1)]);
        assert_eq!(cols.cross_partition_duplicates, 1);
    }

    #[test]
    fn long_serials_and_invalidity() {
        let mut k = [0u8; 20];
        k[0] = 0x7F;
        k[19] = 1;
        let long = vec![LongRecord { serial: k, date: 50, partition: 3, reason: 4 }];
        let inv = vec![
            InvalidityRecord { serial: SerialKey::Long(k), partition: 3, date: 50, invalidity: -5 },
            InvalidityRecord { serial: SerialKey::Short(7), partition: 0, date: 10, invalidity: 9 },
        ];
        let cols = build(vec![rec(7, 10, 0)], long, inv);
        let v = cols.view();
        v.validate().unwrap();
        assert_eq!(v.find(&SerialKey::Long(k)).unwrap(), Hit { date: 50, partition: 3, reason: 4, invalidity: Some(-5) });
        assert_eq!(v.find(&SerialKey::Short(7)).unwrap().invalidity, Some(9));
        assert!(v.find(&SerialKey::Short(8)).is_none());
    }

    #[test]
    fn aligned_bitmap_copy_reads_the_same() {
        let words: Vec<u64> = (0..33u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        // Some 8-word window of this vector starts off a cache line.
        let start = (0..8).find(|&k| (words[k..].as_ptr() as usize) % 64 != 0).unwrap();
        let view = &words[start..start + 16];
        let blocks = aligned_bitmap(view).expect("a misaligned bitmap is copied");
        assert_eq!(block_words(&blocks), view);
        assert_eq!(block_words(&blocks).as_ptr() as usize % 64, 0);
        assert!(aligned_bitmap(block_words(&blocks)).is_none());
        assert!(aligned_bitmap(&view[..5]).is_none());
    }

    #[test]
    fn empty_index_finds_nothing() {
        let cols = build(vec![], vec![], vec![]);
        let v = cols.view();
        v.validate().unwrap();
        assert_eq!(v.find_short(0), NOT_FOUND);
        assert_eq!(v.find_short(u64::MAX), NOT_FOUND);
    }

    /// Fewer than eight serials spread 2^63 or more apart: the offset table's shift once grew to
    /// 64, which wraps to 0 in a release build and looped for ever (issue 9). Built on a thread
    /// so that a regression fails here (after a minute, far longer than the build takes) instead
    /// of hanging the test run.
    #[test]
    fn few_serials_spread_over_the_whole_range_build_and_stay_exact() {
        let cases: Vec<Vec<u64>> = vec![
            vec![1, 0x8000_0000_0000_0001],
            vec![0, u64::MAX],
            vec![0, 1 << 63],
            vec![0, 1, u64::MAX],
            vec![3, 1 << 62, 1 << 63, u64::MAX - 1, u64::MAX],
            vec![0, 1 << 61, 2 << 61, 3 << 61, 4 << 61, 5 << 61, 6 << 61],
            vec![5, 9, 0xFFFF_FFFF_FFFF_FF00, 0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x1234, 0xFFFF_FFFF_FFFF_FFFE],
        ];
        for serials in cases {
            let records: Vec<Record> = serials.iter().map(|&s| rec(s, 7, 0)).collect();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(build(records, vec![], vec![])).ok());
            let cols = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("building the index of {serials:X?} did not finish"));
            let v = cols.view();
            v.validate().unwrap();
            for &s in &serials {
                let row = v.find_short(s);
                assert_ne!(row, NOT_FOUND, "serial {s:X} of {serials:X?}");
                assert_eq!(v.serials[row as usize], s);
                for probe in [s.wrapping_add(1), s.wrapping_sub(1), s ^ (1 << 63), s ^ 1] {
                    assert_eq!(v.find_short(probe) != NOT_FOUND, serials.contains(&probe), "probe {probe:X} of {serials:X?}");
                }
            }
        }
    }

    #[test]
    fn skewed_serials_still_exact() {
        let recs: Vec<Record> = (0..10_000u64).map(|i| rec(if i % 2 == 0 { i } else { u64::MAX - i }, 1, 0)).collect();
        let cols = build(recs, vec![], vec![]);
        let v = cols.view();
        v.validate().unwrap();
        for i in 0..10_000u64 {
            let key = if i % 2 == 0 { i } else { u64::MAX - i };
            assert_ne!(v.find_short(key), NOT_FOUND);
            let neighbour = if i % 2 == 0 { key + 1 } else { key - 1 };
            assert_eq!(v.find_short(neighbour), NOT_FOUND);
        }
    }
}
