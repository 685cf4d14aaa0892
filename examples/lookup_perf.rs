use jpki_fast_core::check::{check, Coverage, Issuers};
use jpki_fast_core::index::{build, Record};
use std::time::Instant;
fn main() {
    let n = 10_000_000usize;
    let mut seed = 1u64;
    let mut next = || { seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); seed >> 11 };
    let base = 0x0100_0000u64;
    let mut recs: Vec<Record> = (0..n).map(|i| Record { serial: base + next() % (3 * n as u64), date: i as u32, partition: (i % 1900) as u16, reason: 1 }).collect();
    let t = Instant::now();
    let keys: Vec<u64> = recs.iter().map(|r| r.serial).collect();
    let cols = build(std::mem::take(&mut recs), vec![], vec![]);
    println!("build {:?} entries {}", t.elapsed(), cols.serials.len());
    let huge = std::env::var("HUGE").is_ok();
    let cols = if huge {
        let mut c = cols;
        fn h<T: Copy>(v: &Vec<T>) -> Vec<T> { let mut n = jpki_fast_core::mem::uninit_vec::<T>(v.len()); n.copy_from_slice(v); n }
        c.serials = h(&c.serials); c.payload = h(&c.payload); c.directory = h(&c.directory); c.bitmap = h(&c.bitmap);
        c
    } else { cols };
    let v = cols.view();
    let mut q: Vec<u64> = (0..n).map(|i| if i % 2 == 0 { keys[(next() as usize) % n] } else { base + next() % (3 * n as u64) }).collect();
    let cov = Coverage::at(0, 1, &[0], &[0], &[10], &[true]);
    let views = vec![Some(v)];
    for _ in 0..3 {
        let t = Instant::now();
        let out = check(&views, Issuers::All(0), None, &q, &[], &cov, false);
        let e = t.elapsed();
        println!("check {:?} -> {:.1} M/s counts {:?}", e, n as f64 / e.as_secs_f64() / 1e6, out.counts);
    }
    let hits: Vec<u64> = (0..n).map(|_| keys[(next() as usize) % n]).collect();
    let misses: Vec<u64> = (0..n).map(|_| 0x7000_0000 + next() % 1000).collect();
    for (name, qq) in [("hits", &hits), ("outside", &misses)] {
        let t = Instant::now();
        let out = check(&views, Issuers::All(0), None, qq, &[], &cov, false);
        println!("{name} {:?} {:?}", t.elapsed(), out.counts);
    }
    q.sort_unstable();
    let t = Instant::now();
    let out = check(&views, Issuers::All(0), None, &q, &[], &cov, false);
    println!("sorted check {:?} counts {:?}", t.elapsed(), out.counts);
    let qr: Vec<u64> = (0..n).map(|_| base + next() % (3 * n as u64)).collect();
    let t = Instant::now();
    let mut c = 0u64;
    for &k in &qr { c += (v.find_short(k) != u32::MAX) as u64; }
    println!("raw single 1 thread random {:?} {}", t.elapsed(), c);
}
#[allow(dead_code)]
fn unused() {}
