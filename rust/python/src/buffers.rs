//! Buffers across the boundary, both ways, without copies.
//!
//! - [`Held`]: a read-only view of a Python buffer (numpy array, pyarrow Buffer, bytes,
//!   memoryview), checked for contiguity, size and alignment (and, where asked, item type)
//!   before it is viewed as a slice; the view lives as long as the `Held`.
//! - [`Bytes`]: a vector Rust made, handed to Python through the buffer protocol.

use std::ffi::{c_int, c_void};

use pyo3::buffer::{ElementType, PyUntypedBuffer};
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

/// An immutable byte buffer owned by Rust, exported through the buffer protocol so numpy and
/// pyarrow can wrap it without copying (`pyarrow.py_buffer(b)`, `numpy.frombuffer(b, dtype)`).
/// It keeps the vector it was made from: no copy is made on the way out.
#[pyclass(module = "jpki_fast._core", frozen)]
pub struct Bytes {
    ptr: *const u8,
    len: usize,
    _owner: Box<dyn std::any::Any + Send + Sync>,
}

// SAFETY: the buffer is immutable for the object's whole life and owned by `_owner`, which is
// Send + Sync; the raw pointer only points into it.
unsafe impl Send for Bytes {}
unsafe impl Sync for Bytes {}

impl Bytes {
    fn from_vec<T: Copy + Send + Sync + 'static>(v: Vec<T>) -> Bytes {
        let len = v.len() * std::mem::size_of::<T>();
        let ptr = if len == 0 { std::ptr::NonNull::<u64>::dangling().as_ptr() as *const u8 } else { v.as_ptr() as *const u8 };
        Bytes { ptr, len, _owner: Box::new(Recycled(v)) }
    }
}

/// A vector that goes back to the core's buffer pool when dropped (`mem::recycle`: large
/// ones only, within the pool's limit), so that the next big output reuses its memory.
struct Recycled<T: Copy>(Vec<T>);

impl<T: Copy> Drop for Recycled<T> {
    fn drop(&mut self) {
        jpki_fast_core::mem::recycle(std::mem::take(&mut self.0));
    }
}

#[pymethods]
impl Bytes {
    fn __len__(&self) -> usize {
        self.len
    }

    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("view is null"));
        }
        if (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("jpki_fast buffers are read-only"));
        }
        let (ptr, len) = {
            let this = slf.get();
            (this.ptr, this.len)
        };
        // SAFETY: `view` is a valid Py_buffer supplied by CPython; the data outlives the view
        // because the view holds a strong reference to `slf`.
        unsafe {
            (*view).obj = slf.into_any().into_ptr();
            (*view).buf = ptr as *mut c_void;
            (*view).len = len as isize;
            (*view).readonly = 1;
            (*view).itemsize = 1;
            (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT { c"B".as_ptr() as *mut _ } else { std::ptr::null_mut() };
            (*view).ndim = 1;
            (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND { &mut (*view).len } else { std::ptr::null_mut() };
            (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES { &mut (*view).itemsize } else { std::ptr::null_mut() };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
        }
        Ok(())
    }
}

/// `v` as a [`Bytes`] object.
pub fn bytes<T: Copy + Send + Sync + 'static>(py: Python<'_>, v: Vec<T>) -> PyResult<Py<Bytes>> {
    Py::new(py, Bytes::from_vec(v))
}

pub struct Held {
    buf: PyUntypedBuffer,
    name: &'static str,
}

impl Held {
    pub fn get(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Held> {
        let buf = PyUntypedBuffer::get(obj).map_err(|e| PyValueError::new_err(format!("{name}: not a buffer ({e})")))?;
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err(format!("{name}: buffer must be C-contiguous")));
        }
        Ok(Held { buf, name })
    }

    /// The raw bytes, whatever the item type.
    pub fn bytes(&self) -> &[u8] {
        let len = self.buf.len_bytes();
        if len == 0 {
            return &[];
        }
        // SAFETY: the exporter keeps the memory alive and contiguous while `self.buf` is held;
        // any bit pattern is a valid u8.
        unsafe { std::slice::from_raw_parts(self.buf.buf_ptr() as *const u8, len) }
    }

    /// The bytes viewed as `T` items (whatever the buffer's declared format: pyarrow Buffers
    /// are untyped), after checking size and alignment.
    pub fn slice<T: Copy>(&self) -> PyResult<&[T]> {
        let size = std::mem::size_of::<T>();
        let bytes = self.bytes();
        if bytes.len() % size != 0 {
            return Err(PyValueError::new_err(format!("{}: {} bytes is not a whole number of {size}-byte items", self.name, bytes.len())));
        }
        if bytes.is_empty() {
            return Ok(&[]);
        }
        if (bytes.as_ptr() as usize) % std::mem::align_of::<T>() != 0 {
            return Err(PyValueError::new_err(format!("{}: buffer is not aligned to {size} bytes", self.name)));
        }
        // SAFETY: size and alignment were checked; T is a plain integer type (or byte array)
        // valid for any bit pattern; the memory lives as long as `self.buf`.
        Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, bytes.len() / size) })
    }

    /// Like [`Held::slice`], but also requires the buffer's format to be `want`, so that an
    /// int32 or float array is refused instead of being misread.
    pub fn typed<T: Copy>(&self, want: ElementType, type_name: &str) -> PyResult<&[T]> {
        let got = ElementType::from_format(self.buf.format());
        if got != want || self.buf.item_size() != std::mem::size_of::<T>() {
            return Err(PyValueError::new_err(format!(
                "{}: expected {type_name} items, got buffer format {:?}",
                self.name,
                self.buf.format()
            )));
        }
        self.slice()
    }
}
