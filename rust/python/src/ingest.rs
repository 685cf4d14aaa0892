//! CRL ingest: `read_crls` reads and verifies files on all cores (GIL released) into a
//! `CrlBatch`, whose `build` turns the accepted files (and a previous snapshot's carried
//! partitions) into per-issuer index columns.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use jpki_fast_core::assemble::{self, Carry, CrlEntries};
use jpki_fast_core::check;
use jpki_fast_core::crl::REASON_NAMES;
use jpki_fast_core::index::IssuerColumns;
use jpki_fast_core::ingest::{self, FileOutcome};
use jpki_fast_core::names::hex_upper;
use jpki_fast_core::trust::{AnchorParts, Anchors, CaKind};

use crate::buffers::{bytes, Held};
use crate::snapshot::Snapshot;

/// Parsed and verified CRL files, waiting to be built into a snapshot.
#[pyclass(module = "jpki_fast._core")]
pub struct CrlBatch {
    outcomes: Vec<FileOutcome>,
    anchors: Anchors,
}

fn outcome_dict<'py>(py: Python<'py>, o: &FileOutcome, anchors: &Anchors) -> PyResult<Bound<'py, PyDict>> {
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
        let built: Vec<IssuerColumns> = py.detach(|| assemble::build_indexes(crls, n_issuers, carry.as_ref()));
        let list = PyList::empty(py);
        for cols in built {
            list.append(columns_dict(py, cols)?)?;
        }
        Ok(list)
    }
}

/// `(alias, key_id, subject_der, subject_text, spki_der, crl_sign)`, as trust.py builds it.
type AnchorTuple = (String, Vec<u8>, Vec<u8>, String, Vec<u8>, bool);

/// The CRL trust store: these keys verify CRLs only, so they are not asked to sign
/// certificates (`jpki_fast.certs` builds its own `TrustAnchors` from the CA certificates).
fn anchors_from_py(anchors: Vec<AnchorTuple>) -> Anchors {
    Anchors::new(
        anchors
            .into_iter()
            .map(|(alias, key_id, subject_der, subject, spki, may_sign_crls)| {
                AnchorParts {
                    alias,
                    key_id,
                    subject_der,
                    subject,
                    spki,
                    kind: CaKind::Other,
                    test: false,
                    may_sign_crls,
                    may_sign_certificates: false,
                }
                .into()
            })
            .collect(),
    )
}

/// Reads, verifies and collects CRL files in parallel (GIL released).
///
/// `anchors` are `(alias, key_id, subject_der, subject_text, spki_der, crl_sign)` tuples; a
/// file over `max_bytes`, or listing more than `max_entries` entries, is refused
/// (`limit_exceeded`); both default to the core's [`ingest::Limits`].
#[pyfunction]
#[pyo3(signature = (paths, anchors, max_bytes=None, max_entries=None))]
pub(crate) fn read_crls(
    py: Python<'_>,
    paths: Vec<String>,
    anchors: Vec<AnchorTuple>,
    max_bytes: Option<u64>,
    max_entries: Option<usize>,
) -> CrlBatch {
    let anchors = anchors_from_py(anchors);
    let defaults = ingest::Limits::default();
    let limits = ingest::Limits {
        max_file_bytes: max_bytes.unwrap_or(defaults.max_file_bytes),
        max_entries: max_entries.unwrap_or(defaults.max_entries),
    };
    let outcomes = py.detach(|| ingest::read_files(&paths, &anchors, limits));
    CrlBatch { outcomes, anchors }
}
