//! The Python bindings of jpki-fast-core: the `jpki_fast._core` extension module.
//!
//! Thin by design: each function moves buffers across without copying ([`buffers`]), releases
//! the GIL around the heavy call, and turns the core's typed outcomes and errors into Python
//! values (status and outcome codes, `ValueError`/`OSError` with the error's text). The logic
//! lives in the core; the public, documented API is `python/jpki_fast`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod buffers;
mod certs;
mod ingest;
mod ocsp;
mod one;
mod serials;
mod snapshot;
#[cfg(feature = "synth")]
mod synth;
mod wire;

/// The text form of a DER-encoded X.500 Name, exactly as CRL issuers and partitions are named.
#[pyfunction]
fn name_to_text(der: &[u8]) -> PyResult<String> {
    jpki_fast_core::names::name_der_to_string(der).map_err(|e| PyValueError::new_err(format!("invalid Name: {e}")))
}

/// Entries per reason code (index 0..=255; 255 is "no reason") of packed payload buffers
/// (7 bytes per entry, the reason last), counted in parallel with the GIL released.
#[pyfunction]
fn payload_reason_counts(py: Python<'_>, payloads: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<u64>> {
    use rayon::prelude::*;
    let held = payloads.iter().map(|p| crate::buffers::Held::get(p, "payload")).collect::<PyResult<Vec<_>>>()?;
    let views = held.iter().map(|h| h.slice::<jpki_fast_core::index::Payload>()).collect::<PyResult<Vec<_>>>()?;
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
    py.detach(|| jpki_fast_core::digest::file_digests(&paths))
        .into_iter()
        .map(|r| r.map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string())))
        .collect()
}

/// Number of worker threads rayon uses.
#[pyfunction]
fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// The output buffer pool (see `jpki_fast_core::mem`): sets its limit in bytes when `limit`
/// is given (0 turns it off and frees what it holds); returns (bytes held, limit).
#[pyfunction]
#[pyo3(signature = (limit=None))]
fn buffer_pool(limit: Option<usize>) -> (usize, usize) {
    if let Some(l) = limit {
        jpki_fast_core::mem::set_pool_limit(l);
    }
    (jpki_fast_core::mem::pool_held(), jpki_fast_core::mem::pool_limit())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<buffers::Bytes>()?;
    m.add_class::<ingest::CrlBatch>()?;
    m.add_class::<snapshot::Snapshot>()?;
    m.add_function(wrap_pyfunction!(ingest::read_crls, m)?)?;
    m.add_function(wrap_pyfunction!(serials::normalize_serials, m)?)?;
    m.add_function(wrap_pyfunction!(serials::serials_to_hex, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(buffer_pool, m)?)?;
    m.add_function(wrap_pyfunction!(name_to_text, m)?)?;
    m.add_function(wrap_pyfunction!(file_digests, m)?)?;
    m.add_function(wrap_pyfunction!(payload_reason_counts, m)?)?;
    m.add("REASON_NAMES", jpki_fast_core::crl::REASON_NAMES.to_vec())?;
    m.add("MAX_SERIAL_OCTETS", jpki_fast_core::serial::MAX_SERIAL_OCTETS)?;
    m.add("STATUSES", jpki_fast_core::check::Status::ALL.map(jpki_fast_core::check::Status::name).to_vec())?;
    certs::register(m)?;
    wire::register(m)?;
    one::register(m)?;
    ocsp::register(m)?;
    #[cfg(feature = "synth")]
    synth::register(m)?;
    Ok(())
}
