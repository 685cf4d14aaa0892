//! A stable, parallel radix sort by a `u64` key.
//!
//! One most-significant-digit pass on the top 8 varying bits splits the input into 256 buckets
//! (in parallel, stable); each bucket is then sorted by least-significant-digit passes over the
//! remaining varying bits, buckets in parallel. Bits that are equal in every key cost nothing,
//! so roughly sequential 4-byte serials sort in 4 passes instead of 8. Stability matters: equal
//! serials keep their input order, which is file order, so duplicate handling is deterministic.

use rayon::prelude::*;

const DIGIT_BITS: u32 = 8;
const BUCKETS: usize = 1 << DIGIT_BITS;
/// Below this size a plain stable sort is faster than setting up radix passes.
const SMALL: usize = 512;
const PAR_CHUNK: usize = 1 << 16;

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Through a method, so closures capture the whole (Sync) wrapper, not its raw field.
    fn get(&self) -> *mut T {
        self.0
    }
}

/// Sorts `v` stably by `key`, using `scratch` (resized to `v.len()`) as working memory.
pub fn radix_sort<T, K>(v: &mut Vec<T>, key: K)
where
    T: Copy + Send + Sync,
    K: Fn(&T) -> u64 + Sync,
{
    let n = v.len();
    if n <= SMALL {
        v.sort_by_key(|x| key(x));
        return;
    }
    let (or, and) = v
        .par_chunks(PAR_CHUNK)
        .map(|c| c.iter().fold((0u64, u64::MAX), |(o, a), x| (o | key(x), a & key(x))))
        .reduce(|| (0, u64::MAX), |(o1, a1), (o2, a2)| (o1 | o2, a1 & a2));
    let varying = or ^ and;
    if varying == 0 {
        return; // all keys equal: already sorted (stably)
    }
    let top_bit = 64 - varying.leading_zeros(); // number of bits up to and including the highest varying bit
    let msd_shift = top_bit.saturating_sub(DIGIT_BITS);

    // Every slot of scratch is written exactly once by the scatter below before any read.
    let mut scratch: Vec<T> = crate::mem::uninit_vec(n);

    // MSD pass: per-chunk histograms, then a stable parallel scatter into scratch.
    let digit = |x: &T| ((key(x) >> msd_shift) as usize) & (BUCKETS - 1);
    let hists: Vec<[usize; BUCKETS]> = v
        .par_chunks(PAR_CHUNK)
        .map(|c| {
            let mut h = [0usize; BUCKETS];
            for x in c {
                h[digit(x)] += 1;
            }
            h
        })
        .collect();
    let mut bucket_start = [0usize; BUCKETS + 1];
    for b in 0..BUCKETS {
        bucket_start[b + 1] = bucket_start[b] + hists.iter().map(|h| h[b]).sum::<usize>();
    }
    let mut chunk_offsets: Vec<[usize; BUCKETS]> = Vec::with_capacity(hists.len());
    let mut running = [0usize; BUCKETS];
    running.copy_from_slice(&bucket_start[..BUCKETS]);
    for h in &hists {
        chunk_offsets.push(running);
        for b in 0..BUCKETS {
            running[b] += h[b];
        }
    }
    let dst = SendPtr(scratch.as_mut_ptr());
    v.par_chunks(PAR_CHUNK).zip(chunk_offsets.into_par_iter()).for_each(|(c, mut off)| {
        for x in c {
            let d = digit(x);
            // SAFETY: offsets partition 0..n; each index is written by exactly one chunk.
            unsafe { dst.get().add(off[d]).write(*x) };
            off[d] += 1;
        }
    });

    // LSD passes within each bucket over the bits below msd_shift that vary.
    let low_mask = if msd_shift == 0 { 0 } else { (1u64 << msd_shift) - 1 };
    let low_varying = varying & low_mask;
    let mut passes: Vec<u32> = Vec::new();
    let mut shift = 0;
    while shift < msd_shift {
        if (low_varying >> shift) & ((1u64 << DIGIT_BITS) - 1) != 0 {
            passes.push(shift);
        }
        shift += DIGIT_BITS;
    }
    // Split both buffers into matching per-bucket slices.
    let mut v_slices: Vec<&mut [T]> = Vec::with_capacity(BUCKETS);
    let mut s_slices: Vec<&mut [T]> = Vec::with_capacity(BUCKETS);
    {
        let mut v_rest: &mut [T] = v.as_mut_slice();
        let mut s_rest: &mut [T] = scratch.as_mut_slice();
        for b in 0..BUCKETS {
            let len = bucket_start[b + 1] - bucket_start[b];
            let (va, vb) = std::mem::take(&mut v_rest).split_at_mut(len);
            let (sa, sb) = std::mem::take(&mut s_rest).split_at_mut(len);
            v_slices.push(va);
            s_slices.push(sa);
            v_rest = vb;
            s_rest = sb;
        }
    }
    v_slices.into_par_iter().zip(s_slices.into_par_iter()).for_each(|(vs, ss)| {
        // Data currently lives in `ss` (scratch); it must end up in `vs`.
        let mut in_scratch = true;
        let len = ss.len();
        if len <= SMALL {
            ss.sort_by_key(|x| key(x));
        } else {
            for &p in &passes {
                let (src, dst): (&[T], &mut [T]) = if in_scratch { (&*ss, &mut *vs) } else { (&*vs, &mut *ss) };
                lsd_pass(src, dst, |x| ((key(x) >> p) as usize) & (BUCKETS - 1));
                in_scratch = !in_scratch;
            }
        }
        if in_scratch {
            vs.copy_from_slice(ss);
        }
    });
}

fn lsd_pass<T: Copy, D: Fn(&T) -> usize>(src: &[T], dst: &mut [T], digit: D) {
    let mut counts = [0usize; BUCKETS];
    for x in src {
        counts[digit(x)] += 1;
    }
    let mut offsets = [0usize; BUCKETS];
    let mut sum = 0;
    for b in 0..BUCKETS {
        offsets[b] = sum;
        sum += counts[b];
    }
    for x in src {
        let d = digit(x);
        dst[offsets[d]] = *x;
        offsets[d] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 11
    }

    fn check(mut v: Vec<(u64, u32)>) {
        let mut expected = v.clone();
        expected.sort_by_key(|x| x.0); // stable
        radix_sort(&mut v, |x| x.0);
        assert_eq!(v, expected);
    }

    #[test]
    fn sorts_sequential_like_serials_stably() {
        let mut s = 7;
        let v: Vec<(u64, u32)> = (0..200_000).map(|i| (0x0100_0000 + lcg(&mut s) % 5_000_000, i)).collect();
        check(v);
    }

    #[test]
    fn sorts_full_width_and_duplicates() {
        let mut s = 11;
        let v: Vec<(u64, u32)> = (0..100_000).map(|i| (lcg(&mut s) << 11 | (i as u64 % 3), i)).collect();
        check(v);
        let v: Vec<(u64, u32)> = (0..50_000).map(|i| (i as u64 % 7, i)).collect();
        check(v);
        let v: Vec<(u64, u32)> = (0..5000).map(|i| (42, i)).collect();
        check(v);
        let v: Vec<(u64, u32)> = (0..3000).map(|i| (u64::MAX - (i as u64 % 300), i)).collect();
        check(v);
        check(Vec::new());
    }
}
