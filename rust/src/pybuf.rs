//! Read-only views of Python buffers (numpy arrays, pyarrow Buffers, bytes, memoryviews),
//! shared by the bindings. A buffer is checked for contiguity, size and alignment (and, where
//! asked, item type) before it is viewed as a slice; the view lives as long as the `Held`.

use pyo3::buffer::{ElementType, PyUntypedBuffer};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

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
            return Err(PyValueError::new_err(format!(
                "{}: {} bytes is not a whole number of {size}-byte items",
                self.name,
                bytes.len()
            )));
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
