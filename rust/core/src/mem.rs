//! Large working buffers.
//!
//! Fresh memory costs a page fault per 4 KiB page on first touch (about 2 µs each on this
//! kind of virtual machine: 50 ms for a 100 MB output). Asking for transparent huge pages on
//! big buffers cuts that by 512x, and also spares TLB misses on random access.
//!
//! Even in huge pages, the kernel clears fresh memory before handing it over: for a
//! 10-million-row check, 100 MB of output columns cleared on every call (a tenth of its CPU
//! time), only to be overwritten. So large buffers given back with [`recycle`] (the bindings
//! do, when Python drops an output) are kept in a bounded pool, [`pool_limit`] bytes at most
//! (256 MiB unless [`set_pool_limit`] says otherwise; 0 turns it off), and the next large
//! buffer of the same alignment and about the same size is taken from it instead of the
//! kernel.

use std::ptr::NonNull;
use std::sync::Mutex;

/// Buffers at least this large are advised to use huge pages.
const HUGE_THRESHOLD: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back `[ptr, ptr+len)` with transparent huge pages (best effort).
pub fn advise_huge(ptr: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
        let end = (ptr as usize + len) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: madvise only changes paging advice for pages inside our own allocation;
            // a failure (old kernel, THP disabled) is harmless and ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// Bytes the pool keeps unless [`set_pool_limit`] is called.
pub const DEFAULT_POOL_LIMIT: usize = 256 << 20;

/// An allocation kept for reuse: `bytes` bytes aligned to `align`, as a `Vec` of some plain
/// type whose capacity times element size is `bytes` allocated it.
struct Free {
    ptr: NonNull<u8>,
    bytes: usize,
    align: usize,
}

// SAFETY: a `Free` is an owned allocation nothing else points into.
unsafe impl Send for Free {}

struct Pool {
    /// Oldest first.
    free: Vec<Free>,
    held: usize,
    limit: usize,
}

impl Pool {
    /// Drops the oldest allocations until at most `keep` bytes are held.
    fn shrink_to(&mut self, keep: usize) {
        while self.held > keep {
            let f = self.free.remove(0);
            self.held -= f.bytes;
            // SAFETY: `f` was allocated with exactly this layout (see `Free`) and is owned here.
            unsafe { std::alloc::dealloc(f.ptr.as_ptr(), std::alloc::Layout::from_size_align_unchecked(f.bytes, f.align)) };
        }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool { free: Vec::new(), held: 0, limit: DEFAULT_POOL_LIMIT });

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool's state is consistent after any panic (it only moves whole entries).
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The most bytes the pool keeps.
pub fn pool_limit() -> usize {
    pool().limit
}

/// Bytes the pool holds now.
pub fn pool_held() -> usize {
    pool().held
}

/// Sets the most bytes the pool keeps (0: none), freeing the oldest buffers beyond it.
pub fn set_pool_limit(limit: usize) {
    let mut p = pool();
    p.limit = limit;
    p.shrink_to(limit);
}

/// Keeps `v`'s allocation for a later large buffer, if it is large and the pool has room
/// (making room by freeing its oldest); frees it otherwise. `T` is a plain type, as the
/// buffers of this module are.
pub fn recycle<T: Copy>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    let mut p = pool();
    if bytes < HUGE_THRESHOLD || bytes > p.limit {
        return;
    }
    let limit = p.limit;
    p.shrink_to(limit - bytes);
    let mut v = std::mem::ManuallyDrop::new(v);
    let ptr = NonNull::new(v.as_mut_ptr() as *mut u8).expect("a vector with capacity has a pointer");
    p.free.push(Free { ptr, bytes, align: std::mem::align_of::<T>() });
    p.held += bytes;
}

/// A kept allocation for `capacity` elements of `T` (at most twice the room), newest first.
fn take<T: Copy>(capacity: usize) -> Option<Vec<T>> {
    let size = std::mem::size_of::<T>();
    let bytes = capacity.checked_mul(size)?;
    if bytes < HUGE_THRESHOLD {
        return None;
    }
    let mut p = pool();
    let fits = |f: &Free| f.align == std::mem::align_of::<T>() && f.bytes >= bytes && f.bytes / 2 <= bytes && f.bytes % size == 0;
    let i = p.free.iter().rposition(fits)?;
    let f = p.free.remove(i);
    p.held -= f.bytes;
    // SAFETY: the allocation was made for `f.bytes` bytes aligned to `align_of::<T>()`, so as a
    // `Vec<T>` of capacity `f.bytes / size` it has the layout it was allocated with; it is
    // owned by the pool alone, and an empty vector reads none of its (plain) contents.
    Some(unsafe { Vec::from_raw_parts(f.ptr.as_ptr() as *mut T, 0, f.bytes / size) })
}

/// An empty vector with room for `capacity` elements, huge-page backed when large; taken from
/// the pool where it holds a fitting buffer.
pub fn with_capacity<T: Copy>(capacity: usize) -> Vec<T> {
    if let Some(v) = take(capacity) {
        return v;
    }
    let v: Vec<T> = Vec::with_capacity(capacity);
    let bytes = capacity * std::mem::size_of::<T>();
    if bytes >= HUGE_THRESHOLD {
        advise_huge(v.as_ptr() as *const u8, bytes);
    }
    v
}

/// A vector of `n` elements whose contents are unspecified: the caller must write every element
/// before reading it. Large ones are backed by huge pages where the kernel allows.
pub fn uninit_vec<T: Copy>(n: usize) -> Vec<T> {
    let mut v: Vec<T> = with_capacity(n);
    // SAFETY: T is a plain integer type (valid for any bit pattern) and the caller writes every
    // element before reading it.
    #[allow(clippy::uninit_vec)]
    unsafe {
        v.set_len(n)
    };
    v
}

/// A zero-filled vector of `n` elements, huge-page backed when large.
pub fn zeroed_vec<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = uninit_vec::<T>(n);
    v.fill(T::default());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    // u128 buffers (16-byte aligned): no other test allocates them, so the pool's other users
    // running in parallel never take these.
    const N: usize = (HUGE_THRESHOLD / 16) * 2;

    #[test]
    fn a_recycled_buffer_serves_the_next_one_of_its_alignment_and_size() {
        let mut a: Vec<u128> = uninit_vec(N);
        a.fill(7);
        let at = a.as_ptr();
        recycle(a);
        // Under the pool's floor, or asking for more than it holds: not this one.
        let small: Vec<u128> = with_capacity(N / 4);
        assert_ne!(small.as_ptr(), at);
        let big: Vec<u128> = with_capacity(N + 1);
        assert_ne!(big.as_ptr(), at);
        // Within twice the room: reused, as an empty vector.
        let b: Vec<u128> = with_capacity(N - 10);
        assert_eq!((b.as_ptr(), b.len(), b.capacity()), (at, 0, N));
        let z: Vec<u128> = {
            recycle(b);
            zeroed_vec(N)
        };
        assert_eq!(z.as_ptr(), at);
        assert!(z.iter().all(|&x| x == 0));
    }
}
