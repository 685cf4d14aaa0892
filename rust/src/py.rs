//! Python bindings (`jpki_fast._core`): thin wrappers that move buffers across, release the GIL
//! around every heavy call, and turn Rust errors into Python exceptions. No logic of their own.

use std::ffi::{c_int, c_void};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::check::{self, Coverage, Issuers};
use crate::crl::REASON_NAMES;
use crate::build::{self, Carry, CrlEntries};
use crate::index::{IssuerColumns, IssuerView, LongKey};
use crate::ingest::{self, Anchor, FileOutcome};
use crate::names::hex_upper;
use crate::pybuf::Held;
use crate::serial::{SerialKey, MAX_SERIAL_OCTETS};

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
        Bytes { ptr, len, _owner: Box::new(v) }
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

pub(crate) fn bytes<T: Copy + Send + Sync + 'static>(py: Python<'_>, v: Vec<T>) -> PyResult<Py<Bytes>> {
    Py::new(py, Bytes::from_vec(v))
}

/// Parsed and verified CRL files, waiting to be built into a snapshot.
#[pyclass(module = "jpki_fast._core")]
pub struct CrlBatch {
    outcomes: Vec<FileOutcome>,
    anchors: Vec<Anchor>,
}

fn outcome_dict<'py>(py: Python<'py>, o: &FileOutcome, anchors: &[Anchor]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("path", &o.path)?;
    d.set_item("size", o.size)?;
    match &o.result {
        Ok(c) => {
            d.set_item("ok", true)?;
            d.set_item("issuer_index", c.anchor)?;
            d.set_item("issuer_alias", &anchors[c.anchor].alias)?;
            d.set_item("issuer_name", &c.issuer)?;
            d.set_item("version", c.version)?;
            d.set_item("signature_algorithm", &c.scheme)?;
            d.set_item("authority_key_id", c.authority_key_id.as_ref().map(|a| hex_upper(a)))?;
            d.set_item("this_update", c.this_update)?;
            d.set_item("next_update", c.next_update)?;
            d.set_item("crl_number", c.crl_number.as_ref().map(|n| PyBytes::new(py, n)))?;
            d.set_item("partition", c.idp.as_ref().and_then(|i| i.name.clone()))?;
            d.set_item("only_user_certs", c.idp.as_ref().is_some_and(|i| i.only_user_certs))?;
            d.set_item("only_ca_certs", c.idp.as_ref().is_some_and(|i| i.only_ca_certs))?;
            d.set_item("content_sha256", hex_upper(&c.content_sha256))?;
            d.set_item("entries", c.entries)?;
            let reasons = PyDict::new(py);
            for (code, &count) in c.reason_counts.iter().enumerate() {
                if count > 0 {
                    let name = if code == 11 { "none" } else { REASON_NAMES[code] };
                    reasons.set_item(name, count)?;
                }
            }
            d.set_item("reason_counts", reasons)?;
        }
        Err(e) => {
            d.set_item("ok", false)?;
            d.set_item("error_kind", e.kind())?;
            d.set_item("error", e.to_string())?;
        }
    }
    Ok(d)
}

fn columns_dict<'py>(py: Python<'py>, c: IssuerColumns) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("entries", c.serials.len())?;
    d.set_item("long_entries", c.long_serials.len())?;
    d.set_item("dir_base", c.dir_base)?;
    d.set_item("dir_shift", c.dir_shift)?;
    let bitmap_mode = !c.bitmap.is_empty();
    d.set_item("lookup", if bitmap_mode { "bitmap" } else { "offsets" })?;
    d.set_item("cross_partition_duplicates", c.cross_partition_duplicates)?;
    d.set_item("duplicates", c.duplicates.iter().map(|&(p, n)| (p, n)).collect::<Vec<_>>())?;
    d.set_item("serial", bytes(py, c.serials)?)?;
    d.set_item("payload", bytes(py, c.payload)?)?;
    d.set_item("directory", bytes(py, if bitmap_mode { c.ranks } else { c.directory })?)?;
    d.set_item("bitmap", bytes(py, c.bitmap)?)?;
    d.set_item("long_serial", bytes(py, c.long_serials)?)?;
    d.set_item("long_payload", bytes(py, c.long_payload)?)?;
    d.set_item("invalidity_row", bytes(py, c.invalidity_rows)?)?;
    d.set_item("invalidity_date", bytes(py, c.invalidity_dates)?)?;
    Ok(d)
}

#[pymethods]
impl CrlBatch {
    fn __len__(&self) -> usize {
        self.outcomes.len()
    }

    /// One dict per file, in input order: header fields when `ok`, else `error_kind` and `error`.
    fn outcomes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for o in &self.outcomes {
            list.append(outcome_dict(py, o, &self.anchors)?)?;
        }
        Ok(list)
    }

    /// Builds the per-issuer index columns from the selected files, each with its partition id,
    /// plus the entries of `carry` (a previous Snapshot) whose partition `remap` maps to a new id
    /// (`0xFFFF` drops the partition). Consumes the selected files' entries.
    /// `carry_issuers[i]` is the new index of the carried snapshot's issuer `i` (65535: dropped).
    #[pyo3(signature = (selection, n_issuers, carry=None, remap=None, carry_issuers=None))]
    fn build<'py>(
        &mut self,
        py: Python<'py>,
        selection: Vec<(usize, u16)>,
        n_issuers: usize,
        carry: Option<PyRef<'py, Snapshot>>,
        remap: Option<Bound<'py, PyAny>>,
        carry_issuers: Option<Vec<u16>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut crls = Vec::with_capacity(selection.len());
        for &(file, partition) in &selection {
            let outcome = self.outcomes.get_mut(file).ok_or_else(|| PyValueError::new_err(format!("no file #{file}")))?;
            let crl = match &mut outcome.result {
                Ok(c) => c,
                Err(_) => return Err(PyValueError::new_err(format!("file #{file} was refused; it cannot be built"))),
            };
            if crl.anchor >= n_issuers {
                return Err(PyValueError::new_err("issuer index out of range"));
            }
            if partition >= check::MISSING_PARTITION {
                return Err(PyValueError::new_err("too many partitions (at most 65,533 per snapshot)"));
            }
            crls.push(CrlEntries {
                issuer: crl.anchor,
                partition,
                records: std::mem::take(&mut crl.records),
                long: std::mem::take(&mut crl.long_records),
                invalidity: std::mem::take(&mut crl.invalidity),
            });
        }
        let remap_held = remap.as_ref().map(|r| Held::get(r, "remap")).transpose()?;
        let carry = match (&carry, &remap_held) {
            (Some(snapshot), Some(remap)) => Some(Carry {
                views: snapshot.views()?,
                remap: remap.slice::<u16>()?,
                issuers: carry_issuers.unwrap_or_else(|| (0..snapshot.issuers.len() as u16).collect()),
            }),
            _ => None,
        };
        let built: Vec<IssuerColumns> = py.detach(|| build::build_indexes(crls, n_issuers, carry.as_ref()));
        let list = PyList::empty(py);
        for cols in built {
            list.append(columns_dict(py, cols)?)?;
        }
        Ok(list)
    }
}

/// `(alias, key_id, subject_der, subject_text, spki_der, crl_sign)`, as trust.py builds it.
type AnchorTuple = (String, Vec<u8>, Vec<u8>, String, Vec<u8>, bool);

fn anchors_from_py(anchors: Vec<AnchorTuple>) -> Vec<Anchor> {
    anchors
        .into_iter()
        .map(|(alias, key_id, subject_der, subject, public_key, crl_sign)| Anchor { alias, key_id, subject_der, subject, public_key, crl_sign })
        .collect()
}

/// One piece of a diff as a dict of column buffers; `long` says whether its serials are
/// 20-octet keys (else uint64).
fn diff_columns<'py, K: Copy + Send + Sync + 'static>(py: Python<'py>, d: crate::diff::DiffColumns<K>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("count", d.serial.len())?;
    out.set_item("long", std::mem::size_of::<K>() != std::mem::size_of::<u64>())?;
    out.set_item("serial", bytes(py, d.serial)?)?;
    out.set_item("change", bytes(py, d.change)?)?;
    out.set_item("date", bytes(py, d.date)?)?;
    out.set_item("partition", bytes(py, d.partition)?)?;
    out.set_item("reason", bytes(py, d.reason)?)?;
    out.set_item("reason_valid", bytes(py, d.reason_valid)?)?;
    out.set_item("changed", d.changed)?;
    out.set_item("old_valid", bytes(py, d.old_valid)?)?;
    out.set_item("old_date", bytes(py, d.old_date)?)?;
    out.set_item("old_partition", bytes(py, d.old_partition)?)?;
    out.set_item("old_reason", bytes(py, d.old_reason)?)?;
    out.set_item("old_reason_valid", bytes(py, d.old_reason_valid)?)?;
    Ok(out)
}

/// Reads, verifies and collects CRL files in parallel (GIL released).
///
/// `anchors` are `(alias, key_id, subject_der, subject_text, spki_der, crl_sign)` tuples.
#[pyfunction]
fn read_crls(py: Python<'_>, paths: Vec<String>, anchors: Vec<AnchorTuple>) -> CrlBatch {
    let anchors = anchors_from_py(anchors);
    let outcomes = py.detach(|| ingest::read_files(&paths, &anchors));
    CrlBatch { outcomes, anchors }
}

/// The columns of one issuer's index, held from Python buffers (memory-mapped Arrow IPC).
struct HeldIssuer {
    serial: Held,
    payload: Held,
    /// Bucket offsets (offset-table lookup) or block ranks (bitmap lookup).
    directory: Held,
    bitmap: Held,
    /// The bitmap in cache-line-aligned blocks, when the file's buffer is not aligned.
    aligned_bitmap: Option<Vec<crate::index::BitmapBlock>>,
    dir_base: u64,
    dir_shift: u32,
    long_serial: Held,
    long_payload: Held,
    invalidity_row: Held,
    invalidity_date: Held,
}

impl HeldIssuer {
    fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<HeldIssuer> {
        let get = |k: &'static str| -> PyResult<Held> {
            let v = d.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("missing column {k}")))?;
            Held::get(&v, k)
        };
        let int = |k: &str| -> PyResult<Bound<'_, PyAny>> { d.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("missing {k}"))) };
        let bitmap = get("bitmap")?;
        let aligned_bitmap = crate::index::aligned_bitmap(bitmap.slice()?);
        Ok(HeldIssuer {
            serial: get("serial")?,
            payload: get("payload")?,
            directory: get("directory")?,
            bitmap,
            aligned_bitmap,
            dir_base: int("dir_base")?.extract()?,
            dir_shift: int("dir_shift")?.extract()?,
            long_serial: get("long_serial")?,
            long_payload: get("long_payload")?,
            invalidity_row: get("invalidity_row")?,
            invalidity_date: get("invalidity_date")?,
        })
    }

    fn view(&self) -> PyResult<IssuerView<'_>> {
        let bitmap: &[u64] = match &self.aligned_bitmap {
            Some(blocks) => crate::index::block_words(blocks),
            None => self.bitmap.slice()?,
        };
        let directory: &[u32] = self.directory.slice()?;
        Ok(IssuerView {
            serials: self.serial.slice()?,
            payload: self.payload.slice()?,
            directory: if bitmap.is_empty() { directory } else { &[] },
            dir_base: self.dir_base,
            dir_shift: self.dir_shift,
            bitmap,
            ranks: if bitmap.is_empty() { &[] } else { directory },
            long_serials: self.long_serial.slice::<LongKey>()?,
            long_payload: self.long_payload.slice()?,
            invalidity_rows: self.invalidity_row.slice()?,
            invalidity_dates: self.invalidity_date.slice()?,
        })
    }
}

/// An opened snapshot: per-issuer indexes plus the partition table's freshness columns.
#[pyclass(module = "jpki_fast._core", frozen)]
pub struct Snapshot {
    issuers: Vec<Option<HeldIssuer>>,
    partition_issuer: Vec<u16>,
    this_update: Vec<i64>,
    next_update: Vec<i64>,
    counts_for_freshness: Vec<bool>,
    issuer_revoked: Vec<Option<(i64, u8)>>,
}

impl Snapshot {
    fn views(&self) -> PyResult<Vec<Option<IssuerView<'_>>>> {
        self.issuers.iter().map(|h| h.as_ref().map(|h| h.view()).transpose()).collect()
    }
}

#[pymethods]
impl Snapshot {
    /// `issuers[i]` is None or a dict of column buffers (see `CrlBatch.build`); partitions are
    /// given as parallel lists; `issuer_revoked[i]` is None or `(revocation_time, reason_code)`.
    #[new]
    #[pyo3(signature = (issuers, partition_issuer, this_update, next_update, counts_for_freshness, issuer_revoked=None))]
    fn new(
        issuers: Vec<Option<Bound<'_, PyDict>>>,
        partition_issuer: Vec<u16>,
        this_update: Vec<i64>,
        next_update: Vec<Option<i64>>,
        counts_for_freshness: Vec<bool>,
        issuer_revoked: Option<Vec<Option<(i64, u8)>>>,
    ) -> PyResult<Snapshot> {
        let np = partition_issuer.len();
        if this_update.len() != np || next_update.len() != np || counts_for_freshness.len() != np {
            return Err(PyValueError::new_err("partition columns have different lengths"));
        }
        let held: Vec<Option<HeldIssuer>> = issuers.iter().map(|d| d.as_ref().map(HeldIssuer::from_dict).transpose()).collect::<PyResult<_>>()?;
        let n = held.len();
        let issuer_revoked = issuer_revoked.unwrap_or_else(|| vec![None; n]);
        if issuer_revoked.len() != n {
            return Err(PyValueError::new_err("issuer_revoked has the wrong length"));
        }
        let snap = Snapshot {
            issuers: held,
            partition_issuer,
            this_update,
            next_update: next_update.into_iter().map(|t| t.unwrap_or(check::NO_TIME)).collect(),
            counts_for_freshness,
            issuer_revoked,
        };
        for (i, v) in snap.views()?.iter().enumerate() {
            if let Some(v) = v {
                v.validate().map_err(|e| PyValueError::new_err(format!("index of issuer #{i} is damaged: {e}")))?;
            }
        }
        Ok(snap)
    }

    /// Checks serials. `issuer` is an issuer index (int, 65535 for unknown) or a uint16 buffer of
    /// one index per row; `partitions` an optional uint16 buffer (65535: issuer-wide, 65534:
    /// missing); `short` a uint64 buffer; `long_rows`/`long_keys` the rows whose serial is longer
    /// than 8 octets and their 20-octet keys. Returns a dict of output buffers and counts.
    #[pyo3(signature = (issuer, short, now, partitions=None, long_rows=None, long_keys=None, want_partition=false))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments
    fn check<'py>(
        &self,
        py: Python<'py>,
        issuer: Bound<'py, PyAny>,
        short: Bound<'py, PyAny>,
        now: i64,
        partitions: Option<Bound<'py, PyAny>>,
        long_rows: Option<Bound<'py, PyAny>>,
        long_keys: Option<Bound<'py, PyAny>>,
        want_partition: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let short_h = Held::get(&short, "serials")?;
        let short_s: &[u64] = short_h.slice()?;
        let issuer_h;
        let issuers = if let Ok(i) = issuer.extract::<u16>() {
            Issuers::All(i)
        } else {
            issuer_h = Held::get(&issuer, "issuer")?;
            let s: &[u16] = issuer_h.slice()?;
            if s.len() != short_s.len() {
                return Err(PyValueError::new_err("issuer and serial columns differ in length"));
            }
            Issuers::PerRow(s)
        };
        let part_h = partitions.as_ref().map(|p| Held::get(p, "partitions")).transpose()?;
        let part_s: Option<&[u16]> = part_h.as_ref().map(|h| h.slice()).transpose()?;
        if part_s.is_some_and(|p| p.len() != short_s.len()) {
            return Err(PyValueError::new_err("partition and serial columns differ in length"));
        }
        let mut long: Vec<(u32, LongKey)> = Vec::new();
        if let (Some(rows), Some(keys)) = (&long_rows, &long_keys) {
            let rh = Held::get(rows, "long_rows")?;
            let kh = Held::get(keys, "long_keys")?;
            let r: &[u32] = rh.slice()?;
            let k: &[LongKey] = kh.slice()?;
            if r.len() != k.len() || r.iter().any(|&x| x as usize >= short_s.len()) {
                return Err(PyValueError::new_err("long serial rows and keys do not match"));
            }
            long = r.iter().copied().zip(k.iter().copied()).collect();
        }
        let views = self.views()?;
        let out = py.detach(|| {
            let mut coverage = Coverage::at(now, views.len(), &self.partition_issuer, &self.this_update, &self.next_update, &self.counts_for_freshness);
            coverage.issuer_revoked = self.issuer_revoked.clone();
            check::check(&views, issuers, part_s, short_s, &long, &coverage, want_partition)
        });
        let d = PyDict::new(py);
        d.set_item("counts", out.counts.to_vec())?;
        d.set_item("status", bytes(py, out.status)?)?;
        d.set_item("reason", bytes(py, out.reason)?)?;
        d.set_item("reason_valid", bytes(py, out.reason_valid)?)?;
        d.set_item("revocation_date", bytes(py, out.revocation_date)?)?;
        d.set_item("revocation_valid", bytes(py, out.revocation_valid)?)?;
        if let Some((dates, valid)) = out.invalidity {
            d.set_item("invalidity_date", bytes(py, dates)?)?;
            d.set_item("invalidity_valid", bytes(py, valid)?)?;
        }
        if let Some(p) = out.partition {
            d.set_item("partition", bytes(py, p)?)?;
        }
        Ok(d)
    }

    /// Entries added, removed or changed from this snapshot's issuer `old_issuer` to `new`'s
    /// issuer `new_issuer`. `old_key`/`new_key` (uint32 buffers) map each side's partition
    /// ids to a shared identity. Returns column buffers (see `diff.rs`).
    fn diff<'py>(
        &self,
        py: Python<'py>,
        new: PyRef<'py, Snapshot>,
        old_issuer: usize,
        new_issuer: usize,
        old_key: Bound<'py, PyAny>,
        new_key: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let empty = crate::index::IssuerColumns::default();
        let empty_view = empty.view();
        let old_views = self.views()?;
        let new_views = new.views()?;
        if old_issuer >= old_views.len() || new_issuer >= new_views.len() {
            return Err(PyValueError::new_err("issuer index out of range"));
        }
        let o = old_views[old_issuer].unwrap_or(empty_view);
        let n = new_views[new_issuer].unwrap_or(empty_view);
        let ok = Held::get(&old_key, "old_key")?;
        let nk = Held::get(&new_key, "new_key")?;
        let (ok_s, nk_s): (&[u32], &[u32]) = (ok.slice()?, nk.slice()?);
        let (short, long) = py.detach(|| (crate::diff::diff_short(&o, &n, ok_s, nk_s), crate::diff::diff_long(&o, &n, ok_s, nk_s)));
        // A list of pieces, each a dict of columns: the short serials' pieces in serial order,
        // then the long serials.
        let pieces = PyList::empty(py);
        for piece in short {
            pieces.append(diff_columns(py, piece)?)?;
        }
        if !long.is_empty() {
            pieces.append(diff_columns(py, long)?)?;
        }
        Ok(pieces)
    }

    /// Partition freshness at `now`: (partition_fresh bytes, issuer_fresh bytes).
    fn freshness(&self, now: i64) -> (Vec<bool>, Vec<bool>) {
        let c = Coverage::at(now, self.issuers.len(), &self.partition_issuer, &self.this_update, &self.next_update, &self.counts_for_freshness);
        (c.partition_fresh, c.issuer_fresh)
    }
}

/// (short, long_rows, long_keys, first error as (row, message)).
type NormalizedSerials = (Py<Bytes>, Py<Bytes>, Py<Bytes>, Option<(usize, String)>);
type SerialColumns = (Vec<u64>, Vec<u32>, Vec<LongKey>);

/// Normalises serials given as Arrow string (hex) or binary (big-endian) arrays.
///
/// `offsets` is the Arrow offsets buffer (int32, or int64 when `large`), `data` the values
/// buffer, `validity` the optional validity bitmap and `offset` the array offset. Returns
/// `(short uint64 buffer, long_rows uint32 buffer, long_keys buffer, error)` where error is
/// None or `(row, message)` for the first invalid item.
#[pyfunction]
#[pyo3(signature = (kind, offsets, data, length, offset=0, large=false, validity=None))]
#[allow(clippy::too_many_arguments)]
fn normalize_serials<'py>(
    py: Python<'py>,
    kind: &str,
    offsets: Bound<'py, PyAny>,
    data: Bound<'py, PyAny>,
    length: usize,
    offset: usize,
    large: bool,
    validity: Option<Bound<'py, PyAny>>,
) -> PyResult<NormalizedSerials> {
    let hex = match kind {
        "hex" => true,
        "binary" => false,
        other => return Err(PyValueError::new_err(format!("unknown serial kind {other}"))),
    };
    let off_h = Held::get(&offsets, "offsets")?;
    let data_h = Held::get(&data, "data")?;
    let val_h = validity.as_ref().map(|v| Held::get(v, "validity")).transpose()?;
    let data_s: &[u8] = data_h.slice()?;
    let val_s: Option<&[u8]> = val_h.as_ref().map(|h| h.slice()).transpose()?;
    let offs: Vec<(usize, usize)> = if large {
        let o: &[i64] = off_h.slice()?;
        if o.len() < offset + length + 1 {
            return Err(PyValueError::new_err("offsets buffer too short"));
        }
        (offset..offset + length).map(|i| (o[i] as usize, o[i + 1] as usize)).collect()
    } else {
        let o: &[i32] = off_h.slice()?;
        if o.len() < offset + length + 1 {
            return Err(PyValueError::new_err("offsets buffer too short"));
        }
        (offset..offset + length).map(|i| (o[i] as usize, o[i + 1] as usize)).collect()
    };
    let result = py.detach(|| -> Result<SerialColumns, (usize, String)> {
        let mut short = vec![0u64; length];
        let mut long_rows = Vec::new();
        let mut long_keys = Vec::new();
        for (row, &(a, b)) in offs.iter().enumerate() {
            if let Some(v) = val_s {
                let bit = offset + row;
                if v.get(bit / 8).is_some_and(|byte| byte & (1 << (bit % 8)) == 0) {
                    return Err((row, "missing (null) serial".to_string()));
                }
            }
            let item = data_s.get(a..b).ok_or((row, "offsets out of range".to_string()))?;
            let key = if hex { SerialKey::from_hex(item) } else if item.is_empty() { Err(crate::serial::SerialError::Empty) } else { SerialKey::from_be_bytes(item) };
            match key {
                Ok(SerialKey::Short(v)) => short[row] = v,
                Ok(SerialKey::Long(k)) => {
                    long_rows.push(row as u32);
                    long_keys.push(k);
                }
                Err(e) => return Err((row, e.to_string())),
            }
        }
        Ok((short, long_rows, long_keys))
    });
    match result {
        Ok((s, r, k)) => Ok((bytes(py, s)?, bytes(py, r)?, bytes(py, k)?, None)),
        Err(e) => Ok((bytes(py, Vec::<u64>::new())?, bytes(py, Vec::<u32>::new())?, bytes(py, Vec::<LongKey>::new())?, Some(e))),
    }
}

/// Canonical uppercase hex of many serials: `short` uint64 buffer, with the rows listed in
/// `long_rows` taking their value from `long_keys`. Returns (offsets int64 buffer, data buffer): an Arrow large_string.
#[pyfunction]
#[pyo3(signature = (short, long_rows=None, long_keys=None))]
fn serials_to_hex<'py>(
    py: Python<'py>,
    short: Bound<'py, PyAny>,
    long_rows: Option<Bound<'py, PyAny>>,
    long_keys: Option<Bound<'py, PyAny>>,
) -> PyResult<(Py<Bytes>, Py<Bytes>)> {
    let sh = Held::get(&short, "serials")?;
    let s: &[u64] = sh.slice()?;
    let mut long: Vec<(u32, LongKey)> = Vec::new();
    if let (Some(r), Some(k)) = (&long_rows, &long_keys) {
        let rh = Held::get(r, "long_rows")?;
        let kh = Held::get(k, "long_keys")?;
        let rs: &[u32] = rh.slice()?;
        let ks: &[LongKey] = kh.slice()?;
        long = rs.iter().copied().zip(ks.iter().copied()).collect();
    }
    let (offsets, data) = py.detach(|| hex_column(s, long));
    Ok((bytes(py, offsets)?, bytes(py, data)?))
}

/// The text form of a DER-encoded X.500 Name, exactly as CRL issuers and partitions are named.
#[pyfunction]
fn name_to_text(der: &[u8]) -> PyResult<String> {
    crate::names::name_der_to_string(der).map_err(|e| PyValueError::new_err(format!("invalid Name: {e}")))
}

/// Entries per reason code (index 0..=255; 255 is "no reason") of packed payload buffers
/// (7 bytes per entry, the reason last), counted in parallel with the GIL released.
#[pyfunction]
fn payload_reason_counts(py: Python<'_>, payloads: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<u64>> {
    use rayon::prelude::*;
    let held = payloads.iter().map(|p| crate::pybuf::Held::get(p, "payload")).collect::<PyResult<Vec<_>>>()?;
    let views = held.iter().map(|h| h.slice::<crate::index::Payload>()).collect::<PyResult<Vec<_>>>()?;
    Ok(py.detach(|| {
        views
            .par_iter()
            .flat_map(|v| v.par_chunks(1 << 16))
            .fold(
                || vec![0u64; 256],
                |mut counts, chunk| {
                    for p in chunk {
                        counts[p[6] as usize] += 1;
                    }
                    counts
                },
            )
            .reduce(|| vec![0u64; 256], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
    }))
}

/// BLAKE3 digests (hex) of files, hashed in parallel with the GIL released. Raises OSError
/// naming the first unreadable file.
#[pyfunction]
fn file_digests(py: Python<'_>, paths: Vec<String>) -> PyResult<Vec<String>> {
    py.detach(|| crate::digest::file_digests(&paths))
        .into_iter()
        .map(|r| r.map_err(pyo3::exceptions::PyOSError::new_err))
        .collect()
}

/// Canonical hex of many serials as an Arrow large_string (offsets, data), built on all cores:
/// each chunk measures its rows, then writes its own slice of the data.
fn hex_column(short: &[u64], mut long: Vec<(u32, LongKey)>) -> (Vec<i64>, Vec<u8>) {
    use rayon::prelude::*;
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    const CHUNK: usize = 1 << 16;
    long.sort_unstable_by_key(|x| x.0);
    let long_text: std::collections::HashMap<usize, String> =
        long.iter().map(|&(row, key)| (row as usize, SerialKey::Long(key).to_hex())).collect();
    let width = |row: usize, v: u64| -> usize {
        match long_text.get(&row) {
            Some(t) => t.len(),
            None => 2 * if v == 0 { 1 } else { (64 - v.leading_zeros() as usize).div_ceil(8) },
        }
    };
    let n = short.len();
    let mut offsets: Vec<i64> = crate::mem::uninit_vec(n + 1);
    offsets[0] = 0;
    // Pass 1: per-chunk lengths, then running starts.
    let chunk_len: Vec<usize> = short
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, vs)| vs.iter().enumerate().map(|(k, &v)| width(c * CHUNK + k, v)).sum())
        .collect();
    let mut starts = Vec::with_capacity(chunk_len.len());
    let mut total = 0usize;
    for len in &chunk_len {
        starts.push(total);
        total += len;
    }
    let mut data: Vec<u8> = crate::mem::uninit_vec(total);
    // Pass 2: each chunk writes its offsets and its slice of the data.
    let mut data_slices = Vec::with_capacity(chunk_len.len());
    let mut rest = data.as_mut_slice();
    for len in &chunk_len {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(*len);
        data_slices.push(head);
        rest = tail;
    }
    short
        .par_chunks(CHUNK)
        .zip(offsets[1..].par_chunks_mut(CHUNK))
        .zip(data_slices.into_par_iter())
        .enumerate()
        .for_each(|(c, ((vs, offs), out))| {
            let mut pos = 0usize;
            for (k, &v) in vs.iter().enumerate() {
                let row = c * CHUNK + k;
                if let Some(t) = long_text.get(&row) {
                    out[pos..pos + t.len()].copy_from_slice(t.as_bytes());
                    pos += t.len();
                } else {
                    let octets = if v == 0 { 1 } else { (64 - v.leading_zeros() as usize).div_ceil(8) };
                    for i in (0..octets).rev() {
                        let b = (v >> (i * 8)) as u8;
                        out[pos] = DIGITS[(b >> 4) as usize];
                        out[pos + 1] = DIGITS[(b & 0xF) as usize];
                        pos += 2;
                    }
                }
                offs[k] = (starts[c] + pos) as i64;
            }
        });
    (offsets, data)
}

/// Number of worker threads rayon uses.
#[pyfunction]
fn thread_count() -> usize {
    rayon::current_num_threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Bytes>()?;
    m.add_class::<CrlBatch>()?;
    m.add_class::<Snapshot>()?;
    m.add_function(wrap_pyfunction!(read_crls, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_serials, m)?)?;
    m.add_function(wrap_pyfunction!(serials_to_hex, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(name_to_text, m)?)?;
    m.add_function(wrap_pyfunction!(file_digests, m)?)?;
    m.add_function(wrap_pyfunction!(payload_reason_counts, m)?)?;
    m.add("REASON_NAMES", REASON_NAMES.to_vec())?;
    m.add("MAX_SERIAL_OCTETS", MAX_SERIAL_OCTETS)?;
    Ok(())
}
