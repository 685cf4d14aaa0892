//! Large working buffers.
//!
//! Fresh memory costs a page fault per 4 KiB page on first touch (about 2 µs each on this
//! kind of virtual machine: 50 ms for a 100 MB output). Asking for transparent huge pages on
//! big buffers cuts that by 512x, and also spares TLB misses on random access.

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

/// An empty vector with room for `capacity` elements, huge-page backed when large.
pub fn with_capacity<T>(capacity: usize) -> Vec<T> {
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
