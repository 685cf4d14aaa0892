//! Batch lookups alone (no Python, no Arrow), on the index as the store holds it: its columns
//! written to a file and memory-mapped, as `open_store` maps entries.arrow and directory.arrow
//! (4 KiB pages of the page cache, not the huge pages an owned vector gets). For working on
//! the lookup code; bench/peers.py measures `Store.check` itself.
//!
//!     cargo run --release -p jpki-fast-core --example lookups -- [ENTRIES] [LAYOUT] [REVOKED_PERCENT] [QUERIES] [ISSUERS]
//!
//! LAYOUT: `random` (uniform 8-byte serials, the whole u64 range), `dense` (JPKI-like: a third
//! of a range revoked), or `both` (the default). ISSUERS > 1 gives the queries per-row issuers,
//! drawn at random among that many issuers that all share the one index. Prints one JSON line per layout: the first
//! call, the median of seven calls after it, and the CPU seconds of those seven.

use std::io::Write;
use std::time::Instant;

use jpki_fast_core::check::{check_reusing, Coverage, Issuers, Scratch};
use jpki_fast_core::index::{aligned_bitmap, block_words, build, IssuerView, Payload, Record};

struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The bytes of a slice of plain integers.
fn raw<T>(v: &[T]) -> &[u8] {
    // SAFETY: any initialised memory may be read as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// A slice of `T` at `offset` of the map (8-aligned by construction).
fn at<T>(map: &[u8], offset: usize, len: usize) -> &[T] {
    assert!(offset + len * std::mem::size_of::<T>() <= map.len() && offset % std::mem::align_of::<T>() == 0);
    // SAFETY: in bounds and aligned (checked above); T is a plain integer type or byte array.
    unsafe { std::slice::from_raw_parts(map.as_ptr().add(offset) as *const T, len) }
}

fn run(layout: &str, n: usize, revoked_percent: u64, queries: Option<usize>, issuers: usize) {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let serials: Vec<u64> = match layout {
        "random" => (0..n).map(|_| rng.next()).collect(),
        _ => {
            let base = 0x0500_0000u64;
            (0..3 * n as u64).filter(|_| rng.next() % 3 == 0).map(|i| base + i).take(n).collect()
        }
    };
    let now = 1_795_651_200i64;
    let records: Vec<Record> = serials
        .iter()
        .map(|&serial| Record { serial, date: (now - 3600) as u32 - (rng.next() % 1_000_000) as u32, partition: 0, reason: 4 })
        .collect();
    let cols = build(records, vec![], vec![]);
    let n = cols.serials.len();
    let q = queries.unwrap_or(n);

    // The columns in one file, each at a multiple of 64 bytes, mapped read-only.
    let path = std::env::temp_dir().join(format!("jpki-lookups-{}-{layout}.bin", std::process::id()));
    let mut offsets = Vec::new();
    {
        let mut f = std::fs::File::create(&path).expect("temp file");
        let mut pos = 0usize;
        let ranks_or_dir: &[u32] = if cols.bitmap.is_empty() { &cols.directory } else { &cols.ranks };
        for bytes in [raw(&cols.serials), raw(&cols.payload), raw(ranks_or_dir), raw(&cols.bitmap)] {
            offsets.push(pos);
            f.write_all(bytes).expect("write");
            let pad = bytes.len().next_multiple_of(64) - bytes.len();
            f.write_all(&vec![0u8; pad]).expect("write");
            pos += bytes.len() + pad;
        }
    }
    let file = std::fs::File::open(&path).expect("open");
    // SAFETY: the file is ours and nothing writes it while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&file).expect("mmap") };
    std::fs::remove_file(&path).ok();
    let dir_len = if cols.bitmap.is_empty() { cols.directory.len() } else { cols.ranks.len() };
    let bitmap: &[u64] = at(&map, offsets[3], cols.bitmap.len());
    let aligned = aligned_bitmap(bitmap);
    let bitmap = aligned.as_deref().map_or(bitmap, block_words);
    let dir: &[u32] = at(&map, offsets[2], dir_len);
    let view = IssuerView {
        serials: at(&map, offsets[0], n),
        payload: at::<Payload>(&map, offsets[1], n),
        directory: if bitmap.is_empty() { dir } else { &[] },
        dir_base: cols.dir_base,
        dir_shift: cols.dir_shift,
        bitmap,
        ranks: if bitmap.is_empty() { &[] } else { dir },
        long_serials: &[],
        long_payload: &[],
        invalidity_rows: &[],
        invalidity_dates: &[],
    };
    view.validate().expect("valid");
    let (lo, hi) = (cols.serials[0], cols.serials[n - 1]);
    let queries: Vec<u64> =
        (0..queries.unwrap_or(n))
            .map(|_| {
                if rng.next() % 100 < revoked_percent {
                    cols.serials[(rng.next() % n as u64) as usize]
                } else {
                    lo + rng.next() % (hi - lo)
                }
            })
            .collect();
    drop(cols);
    let views = vec![Some(view); issuers];
    let per_row: Vec<u16> = (0..queries.len()).map(|_| (rng.next() % issuers as u64) as u16).collect();
    let who = if issuers > 1 { Issuers::PerRow(&per_row) } else { Issuers::All(0) };
    let coverage = Coverage::at(
        now,
        issuers,
        &(0..issuers as u16).collect::<Vec<_>>(),
        &vec![now - 3600; issuers],
        &vec![now + 86400; issuers],
        &vec![true; issuers],
    );
    // As a snapshot of the store does, the calls share one scratch space.
    let scratch = Scratch::default();
    let t = Instant::now();
    let first = check_reusing(&scratch, &views, who, None, &queries, &[], &coverage, false);
    let first_s = t.elapsed().as_secs_f64();
    let revoked = first.counts[1];
    // As the bindings do when Python drops a result: its memory serves the next call.
    first.recycle();
    let mut runs = Vec::new();
    let cpu = cpu_seconds();
    for _ in 0..7 {
        let t = Instant::now();
        let out = check_reusing(&scratch, &views, who, None, &queries, &[], &coverage, false);
        runs.push(t.elapsed().as_secs_f64());
        assert_eq!(out.counts[1], revoked);
        out.recycle();
    }
    let cpu = cpu_seconds() - cpu;
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[3];
    println!(
        "{{\"layout\": \"{layout}\", \"entries\": {n}, \"queries\": {q}, \"lookup\": \"{}\", \"revoked\": {revoked}, \"first_mps\": {:.1}, \
         \"median_mps\": {:.1}, \"runs_ms\": {:?}, \"cpu_s_7_runs\": {cpu:.2}}}",
        if bitmap.is_empty() { "offsets" } else { "bitmap" },
        q as f64 / first_s / 1e6,
        q as f64 / median / 1e6,
        runs.iter().map(|r| (r * 1e4).round() / 10.0).collect::<Vec<_>>(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let layout = args.get(2).map_or("both", |s| s.as_str());
    let revoked: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50);
    let queries: Option<usize> = args.get(4).and_then(|a| a.parse().ok());
    let issuers: usize = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    for l in ["random", "dense"] {
        if layout == l || layout == "both" {
            run(l, n, revoked, queries, issuers);
        }
    }
}
