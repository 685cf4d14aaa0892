//! Python bindings of the wire codecs (`jpki_fast._core.wire_*`; the API is
//! `python/jpki_fast/wire.py`). Thin: buffers in, buffers out, the GIL released around the work.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use jpki_fast_core::wire::{self, Column, Field, Indices, LongKey, Offsets, Serials, Strings};

use crate::buffers::{bytes, Bytes, Held};

/// A buffer's items, borrowed when aligned, else copied (Arrow buffers read from a Python
/// bytes object need not be aligned for `T`).
fn items<'a, T: Copy + Default>(held: &'a Held) -> Cow<'a, [T]> {
    let raw = held.bytes();
    let size = std::mem::size_of::<T>();
    if (raw.as_ptr() as usize) % std::mem::align_of::<T>() == 0 {
        if let Ok(s) = held.slice::<T>() {
            return Cow::Borrowed(s);
        }
    }
    let n = raw.len() / size;
    let mut out = vec![T::default(); n];
    for (i, item) in out.iter_mut().enumerate() {
        // SAFETY: i * size + size <= raw.len(); T is a plain integer (or byte array) type.
        *item = unsafe { std::ptr::read_unaligned(raw.as_ptr().add(i * size) as *const T) };
    }
    Cow::Owned(out)
}

fn serials_dict<'py>(py: Python<'py>, d: &Bound<'py, PyDict>, s: Serials) -> PyResult<()> {
    let valid = if s.bad_text_valid.iter().all(|&v| v) { None } else { Some(wire::bitmap(&s.bad_text_valid)) };
    d.set_item("short", bytes(py, s.short)?)?;
    d.set_item("long_rows", bytes(py, s.long_rows)?)?;
    d.set_item("long_keys", bytes(py, s.long_keys)?)?;
    d.set_item("bad_rows", bytes(py, s.bad_rows)?)?;
    d.set_item("bad_codes", bytes(py, s.bad_codes)?)?;
    d.set_item("bad_args", bytes(py, s.bad_args)?)?;
    d.set_item("bad_text_offsets", bytes(py, s.bad_text_offsets)?)?;
    d.set_item("bad_text", bytes(py, s.bad_text)?)?;
    d.set_item("bad_text_valid", valid.map(|v| bytes(py, v)).transpose()?)?;
    Ok(())
}

/// Decodes a JSON batch request body. Returns a dict of column buffers, or the fault as
/// `(http_status, location, message)`.
#[pyfunction]
fn wire_decode_json<'py>(py: Python<'py>, body: Bound<'py, PyAny>, max_items: usize) -> PyResult<Bound<'py, PyAny>> {
    let held = Held::get(&body, "body")?;
    let b = held.bytes();
    let decoded = py.detach(|| wire::decode_json(b, max_items));
    let r = match decoded {
        Ok(r) => r,
        Err(f) => {
            return Ok(PyTuple::new(
                py,
                [f.status.into_pyobject(py)?.into_any(), f.location.into_pyobject(py)?.into_any(), f.message.into_pyobject(py)?.into_any()],
            )?
            .into_any())
        }
    };
    let d = PyDict::new(py);
    d.set_item("items_form", r.items_form)?;
    d.set_item("provenance", r.provenance)?;
    d.set_item("now", r.now)?;
    d.set_item("issuer_count", r.issuer_offsets.len() - 1)?;
    d.set_item("issuer_offsets", bytes(py, r.issuer_offsets)?)?;
    d.set_item("issuer_data", bytes(py, r.issuer_data)?)?;
    d.set_item("issuer_codes", if r.issuer_codes.is_empty() { None } else { Some(bytes(py, r.issuer_codes)?) })?;
    serials_dict(py, &d, r.serials)?;
    Ok(d.into_any())
}

/// The buffers of an Arrow string or binary array: `(offsets, data, validity, offset, large,
/// length)`.
type StringTuple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>, usize, bool, usize);

struct HeldStrings {
    offsets: Held,
    data: Held,
    valid: Option<Held>,
    offset: usize,
    large: bool,
    len: usize,
}

impl HeldStrings {
    fn get(t: &Bound<'_, PyAny>, what: &'static str) -> PyResult<HeldStrings> {
        let (offsets, data, valid, offset, large, len): StringTuple<'_> = t.extract()?;
        Ok(HeldStrings {
            offsets: Held::get(&offsets, what)?,
            data: Held::get(&data, what)?,
            valid: valid.as_ref().map(|v| Held::get(v, what)).transpose()?,
            offset,
            large,
            len,
        })
    }
}

/// Offsets (either width) borrowed or copied, as `items` gives them.
enum OffsetItems<'a> {
    I32(Cow<'a, [i32]>),
    I64(Cow<'a, [i64]>),
}

impl HeldStrings {
    fn offset_items(&self) -> OffsetItems<'_> {
        if self.large {
            OffsetItems::I64(items::<i64>(&self.offsets))
        } else {
            OffsetItems::I32(items::<i32>(&self.offsets))
        }
    }
}

fn strings<'a>(h: &'a HeldStrings, o: &'a OffsetItems<'a>, what: &str) -> PyResult<Strings<'a>> {
    let s = Strings {
        offsets: match o {
            OffsetItems::I32(v) => Offsets::I32(v),
            OffsetItems::I64(v) => Offsets::I64(v),
        },
        data: h.data.bytes(),
        valid: h.valid.as_ref().map(|v| v.bytes()),
        offset: h.offset,
        len: h.len,
    };
    s.check(what).map_err(PyValueError::new_err)?;
    Ok(s)
}

/// Normalises an Arrow string (`kind="hex"`) or binary (`kind="binary"`) serial column,
/// leniently: each invalid or null value becomes a malformed row (with its text when `echo`).
#[pyfunction]
fn wire_normalize<'py>(py: Python<'py>, kind: &str, column: Bound<'py, PyAny>, echo: bool) -> PyResult<Bound<'py, PyDict>> {
    let hex = match kind {
        "hex" => true,
        "binary" => false,
        other => return Err(PyValueError::new_err(format!("unknown serial kind {other}"))),
    };
    let h = HeldStrings::get(&column, "serials")?;
    let o = h.offset_items();
    let s = strings(&h, &o, "serials")?;
    let out = py.detach(|| {
        let mut out = Serials::with_capacity(s.len);
        for row in 0..s.len {
            match s.get(row) {
                Some(v) if hex => out.push_hex(v, echo),
                Some(v) => out.push_binary(v),
                None => out.push_bad(wire::code::NULL, 0, None),
            }
        }
        out
    });
    let d = PyDict::new(py);
    serials_dict(py, &d, out)?;
    Ok(d)
}

/// The issuer row of each issuer name (a string array), as `Store.issuer_index` finds it;
/// 65534 for names the caller must look up itself, 65535 for unknown.
#[pyfunction]
fn wire_map_issuers<'py>(py: Python<'py>, names: Bound<'py, PyAny>, aliases: Vec<Vec<u8>>, key_ids: Vec<Vec<u8>>) -> PyResult<Py<Bytes>> {
    let h = HeldStrings::get(&names, "issuers")?;
    let o = h.offset_items();
    let s = strings(&h, &o, "issuers")?;
    let a: Vec<&[u8]> = aliases.iter().map(Vec::as_slice).collect();
    let k: Vec<&[u8]> = key_ids.iter().map(Vec::as_slice).collect();
    let rows = py.detach(|| wire::map_issuers((0..s.len).map(|i| s.get(i).unwrap_or(b"")), &a, &k));
    bytes(py, rows)
}

/// An Arrow large_string's buffers: (offsets, data, validity).
type StringBuffers = (Py<Bytes>, Py<Bytes>, Option<Py<Bytes>>);

/// The result's `serial` column: `(offsets int64, data, validity or None)` of an Arrow
/// large_string: canonical hex, or the malformed rows' text as sent.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn wire_serial_text<'py>(
    py: Python<'py>,
    short: Bound<'py, PyAny>,
    long_rows: Bound<'py, PyAny>,
    long_keys: Bound<'py, PyAny>,
    bad_rows: Bound<'py, PyAny>,
    bad_text_offsets: Bound<'py, PyAny>,
    bad_text: Bound<'py, PyAny>,
    bad_text_valid: Option<Bound<'py, PyAny>>,
) -> PyResult<StringBuffers> {
    let held = [&short, &long_rows, &long_keys, &bad_rows, &bad_text_offsets, &bad_text].map(|b| Held::get(b, "serials"));
    let [short, long_rows, long_keys, bad_rows, bad_offsets, bad_text] = held;
    let (short, long_rows, long_keys, bad_rows, bad_offsets, bad_text) =
        (short?, long_rows?, long_keys?, bad_rows?, bad_offsets?, bad_text?);
    let valid = bad_text_valid.as_ref().map(|v| Held::get(v, "serials")).transpose()?;
    let s = wire::SerialsView {
        short: &items::<u64>(&short),
        long_rows: &items::<u32>(&long_rows),
        long_keys: &items::<LongKey>(&long_keys),
        bad_rows: &items::<u32>(&bad_rows),
        bad_text_offsets: &items::<i64>(&bad_offsets),
        bad_text: bad_text.bytes(),
        bad_text_valid: valid.as_ref().map(|v| v.bytes()),
    };
    s.check().map_err(PyValueError::new_err)?;
    let (offsets, data, validity) = py.detach(|| wire::serial_text(&s));
    Ok((bytes(py, offsets)?, bytes(py, data)?, validity.map(|v| bytes(py, v)).transpose()?))
}

/// One field spec as `wire.py` passes it, its buffers held.
enum Spec {
    Str(HeldStrings),
    Dict { indices: Held, width: String, valid: Option<Held>, offset: usize, values: HeldStrings },
    Time { values: Held, valid: Option<Held>, offset: usize },
}

/// Renders result rows as JSON: `header`, then `n` objects of `fields`, then `footer`.
/// A field is `(name, omit_null, kind, args)`: kind `"str"` with a string tuple, `"dict"` with
/// `(indices, width, validity, offset, values string tuple)`, `"time"` with `(seconds int64,
/// validity, offset)`.
#[pyfunction]
fn wire_render_json<'py>(
    py: Python<'py>,
    header: &[u8],
    footer: &[u8],
    n: usize,
    fields: Vec<(String, bool, String, Bound<'py, PyAny>)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut specs = Vec::with_capacity(fields.len());
    for (name, _, kind, args) in &fields {
        let what = "column";
        specs.push(match kind.as_str() {
            "str" => Spec::Str(HeldStrings::get(args, what)?),
            "dict" => {
                let (indices, width, valid, offset, values): (
                    Bound<'py, PyAny>,
                    String,
                    Option<Bound<'py, PyAny>>,
                    usize,
                    Bound<'py, PyAny>,
                ) = args.extract()?;
                Spec::Dict {
                    indices: Held::get(&indices, what)?,
                    width,
                    valid: valid.as_ref().map(|v| Held::get(v, what)).transpose()?,
                    offset,
                    values: HeldStrings::get(&values, what)?,
                }
            }
            "time" => {
                let (values, valid, offset): (Bound<'py, PyAny>, Option<Bound<'py, PyAny>>, usize) = args.extract()?;
                Spec::Time { values: Held::get(&values, what)?, valid: valid.as_ref().map(|v| Held::get(v, what)).transpose()?, offset }
            }
            other => return Err(PyValueError::new_err(format!("{name}: unknown column kind {other}"))),
        });
    }
    // Typed views of every buffer (borrowed, or copied when unaligned), then the fields.
    enum Typed<'a> {
        Str(OffsetItems<'a>),
        Dict(IndexItems<'a>, OffsetItems<'a>),
        Time(Cow<'a, [i64]>),
    }
    let typed: Vec<Typed<'_>> = specs
        .iter()
        .map(|s| {
            Ok(match s {
                Spec::Str(h) => Typed::Str(h.offset_items()),
                Spec::Dict { indices, width, values, .. } => Typed::Dict(index_items(indices, width)?, values.offset_items()),
                Spec::Time { values, .. } => Typed::Time(items::<i64>(values)),
            })
        })
        .collect::<PyResult<_>>()?;
    let mut columns = Vec::with_capacity(specs.len());
    for ((spec, t), (name, omit_null, _, _)) in specs.iter().zip(&typed).zip(&fields) {
        let column = match (spec, t) {
            (Spec::Str(h), Typed::Str(o)) => Column::Str(strings(h, o, name)?),
            (Spec::Dict { valid, offset, values, .. }, Typed::Dict(ix, o)) => Column::Dict {
                indices: ix.view(),
                valid: valid.as_ref().map(|v| v.bytes()),
                offset: *offset,
                values: strings(values, o, name)?,
            },
            (Spec::Time { valid, offset, .. }, Typed::Time(v)) => {
                Column::Time { values: v, valid: valid.as_ref().map(|v| v.bytes()), offset: *offset }
            }
            _ => unreachable!("spec and view built together"),
        };
        columns.push(Field { name, column, omit_null: *omit_null });
    }
    let rendering = py.detach(|| wire::Rendering::new(&columns, n)).map_err(PyValueError::new_err)?;
    let (h, rows) = (header.len(), rendering.len());
    let total = h + rows + footer.len();
    // Written straight into the bytes object, which is not zero-filled first (every byte is
    // written below): no copy of the rendered rows.
    let len = isize::try_from(total).map_err(|_| PyValueError::new_err("response too large"))?;
    // SAFETY: PyBytes_FromStringAndSize(NULL, len) returns a new bytes object of `len`
    // uninitialised bytes (or NULL with an exception set), which nothing else can see until we
    // return it; its buffer is `len` bytes long.
    let out = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len))? };
    // SAFETY: `out` is a bytes object of `total` bytes owned by us alone.
    let buf: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(pyo3::ffi::PyBytes_AsString(out.as_ptr()) as *mut u8, total) };
    buf[..h].copy_from_slice(header);
    buf[h + rows..].copy_from_slice(footer);
    let body = &mut buf[h..h + rows];
    py.detach(|| rendering.write(body));
    Ok(out.cast_into::<PyBytes>()?)
}

enum IndexItems<'a> {
    I8(Cow<'a, [i8]>),
    I16(Cow<'a, [i16]>),
    I32(Cow<'a, [i32]>),
    I64(Cow<'a, [i64]>),
    U8(Cow<'a, [u8]>),
    U16(Cow<'a, [u16]>),
    U32(Cow<'a, [u32]>),
}

impl IndexItems<'_> {
    fn view(&self) -> Indices<'_> {
        match self {
            IndexItems::I8(v) => Indices::I8(v),
            IndexItems::I16(v) => Indices::I16(v),
            IndexItems::I32(v) => Indices::I32(v),
            IndexItems::I64(v) => Indices::I64(v),
            IndexItems::U8(v) => Indices::U8(v),
            IndexItems::U16(v) => Indices::U16(v),
            IndexItems::U32(v) => Indices::U32(v),
        }
    }
}

fn index_items<'a>(h: &'a Held, width: &str) -> PyResult<IndexItems<'a>> {
    Ok(match width {
        "int8" => IndexItems::I8(items(h)),
        "int16" => IndexItems::I16(items(h)),
        "int32" => IndexItems::I32(items(h)),
        "int64" => IndexItems::I64(items(h)),
        "uint8" => IndexItems::U8(items(h)),
        "uint16" => IndexItems::U16(items(h)),
        "uint32" => IndexItems::U32(items(h)),
        other => return Err(PyValueError::new_err(format!("unsupported dictionary index type {other}"))),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(wire_decode_json, m)?)?;
    m.add_function(wrap_pyfunction!(wire_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(wire_map_issuers, m)?)?;
    m.add_function(wrap_pyfunction!(wire_serial_text, m)?)?;
    m.add_function(wrap_pyfunction!(wire_render_json, m)?)?;
    m.add("WIRE_ASK_CALLER", wire::ASK_CALLER)?;
    Ok(())
}
