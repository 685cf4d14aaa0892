//! An opened snapshot (`jpki_fast._core.Snapshot`): the per-issuer index columns, held from
//! memory-mapped Arrow buffers, and the partitions' freshness; batch checks and diffs against it.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use jpki_fast_core::check::{self, Coverage, Issuers};
use jpki_fast_core::index::{IssuerView, LongKey};

use crate::buffers::{bytes, Held};
/// One piece of a diff as a dict of column buffers; `long` says whether its serials are
/// 20-octet keys (else uint64).
fn diff_columns<'py, K: Copy + Send + Sync + 'static>(
    py: Python<'py>,
    d: jpki_fast_core::diff::DiffColumns<K>,
) -> PyResult<Bound<'py, PyDict>> {
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

/// The columns of one issuer's index, held from Python buffers (memory-mapped Arrow IPC).
pub(crate) struct HeldIssuer {
    serial: Held,
    payload: Held,
    /// Bucket offsets (offset-table lookup) or block ranks (bitmap lookup).
    directory: Held,
    bitmap: Held,
    /// The bitmap in cache-line-aligned blocks, when the file's buffer is not aligned.
    aligned_bitmap: Option<Vec<jpki_fast_core::index::BitmapBlock>>,
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
        let aligned_bitmap = jpki_fast_core::index::aligned_bitmap(bitmap.slice()?);
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
            Some(blocks) => jpki_fast_core::index::block_words(blocks),
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
    pub(crate) issuers: Vec<Option<HeldIssuer>>,
    partition_issuer: Vec<u16>,
    this_update: Vec<i64>,
    next_update: Vec<i64>,
    counts_for_freshness: Vec<bool>,
    issuer_revoked: Vec<Option<(i64, u8)>>,
    /// Working memory of big batch checks, kept for the next one (see `check::Scratch`).
    scratch: check::Scratch,
}

impl Snapshot {
    pub(crate) fn views(&self) -> PyResult<Vec<Option<IssuerView<'_>>>> {
        self.issuers.iter().map(|h| h.as_ref().map(|h| h.view()).transpose()).collect()
    }

    /// The partition table and authority revocations, for one-item checks (`one.rs`).
    pub(crate) fn freshness_facts(&self) -> jpki_fast_core::one::Freshness<'_> {
        jpki_fast_core::one::Freshness {
            partition_issuer: &self.partition_issuer,
            this_update: &self.this_update,
            next_update: &self.next_update,
            counts: &self.counts_for_freshness,
            issuer_revoked: &self.issuer_revoked,
        }
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
        let held: Vec<Option<HeldIssuer>> =
            issuers.iter().map(|d| d.as_ref().map(HeldIssuer::from_dict).transpose()).collect::<PyResult<_>>()?;
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
            scratch: check::Scratch::default(),
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
            let mut coverage =
                Coverage::at(now, views.len(), &self.partition_issuer, &self.this_update, &self.next_update, &self.counts_for_freshness);
            coverage.issuer_revoked = self.issuer_revoked.clone();
            check::check_reusing(&self.scratch, &views, issuers, part_s, short_s, &long, &coverage, want_partition)
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
        let empty = jpki_fast_core::index::IssuerColumns::default();
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
        let (short, long) =
            py.detach(|| (jpki_fast_core::diff::diff_short(&o, &n, ok_s, nk_s), jpki_fast_core::diff::diff_long(&o, &n, ok_s, nk_s)));
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
        let c =
            Coverage::at(now, self.issuers.len(), &self.partition_issuer, &self.this_update, &self.next_update, &self.counts_for_freshness);
        (c.partition_fresh, c.issuer_fresh)
    }
}
