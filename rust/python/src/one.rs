//! Bindings of the one-item paths (`jpki_fast._core.check_certificate_one`,
//! `check_serial_one`): one certificate or one serial per call, plain values in and out, on the
//! calling thread (no thread pool, no Arrow buffers). The public API is
//! `jpki_fast.certs.check_certificate` / `verify_login` / `verify_signed_document`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use jpki_fast_core::bulk::{self, Signed, SignedRows};
use jpki_fast_core::one;
use jpki_fast_core::serial::SerialKey;

use crate::certs::{purpose_of, scheme_of, TrustAnchors};
use crate::snapshot::Snapshot;

/// `(outcome, anchor, not_before, not_after, serial, serial text, partition, detail,
/// signature_valid)`: one row of `check_certificates`. The serial is the serialNumber
/// INTEGER's content octets as encoded (empty when the certificate did not parse; look it up
/// with `check_serial_one(..., integer=True)`), its text the canonical hex the batch gives
/// (`054CFCD8`, `-01` for a negative serial; None when unparsed).
type OneCertificate<'py> =
    (u8, Option<u16>, Option<i64>, Option<i64>, Bound<'py, PyBytes>, Option<String>, Option<String>, Option<String>, bool);

/// Checks one certificate (DER or PEM bytes; None for a missing one) against `anchors` at
/// `now`, as `check_certificates` checks a row; with `signed`, also whether `signature` over
/// `message` (or over the precomputed `digest`) verifies with the certificate's key (a missing
/// one does not).
#[pyfunction]
#[pyo3(signature = (anchors, cert, now, purpose=None, allow_test=false, signed=false, message=None, digest=None, signature=None, hash="sha256", padding="pkcs1v15"))]
#[allow(clippy::too_many_arguments)]
fn check_certificate_one<'py>(
    py: Python<'py>,
    anchors: PyRef<'py, TrustAnchors>,
    cert: Option<&[u8]>,
    now: i64,
    purpose: Option<&str>,
    allow_test: bool,
    signed: bool,
    message: Option<&[u8]>,
    digest: Option<&[u8]>,
    signature: Option<&[u8]>,
    hash: &str,
    padding: &str,
) -> PyResult<OneCertificate<'py>> {
    let purpose = purpose_of(purpose)?;
    let scheme = scheme_of(hash, padding)?;
    if message.is_some() && digest.is_some() {
        return Err(PyValueError::new_err("give a message or a digest, not both"));
    }
    let signed_rows = [if digest.is_some() { digest } else { message }];
    let signature_rows = [signature];
    let inner = &anchors.inner;
    let c = py
        .detach(|| {
            let signed = signed.then(|| SignedRows {
                scheme,
                signed: if digest.is_some() { Signed::Digests(&signed_rows) } else { Signed::Messages(&signed_rows) },
                signatures: &signature_rows,
            });
            bulk::check_certificate(inner, cert, now, purpose, allow_test, signed)
        })
        .map_err(|e| PyValueError::new_err(e.error.to_string()))?;
    let text = if c.not_after.is_some() { SerialKey::from_integer(&c.serial).ok().map(|k| k.to_hex()) } else { None };
    Ok((
        c.validation.outcome() as u8,
        c.validation.anchor.map(|a| a as u16),
        c.not_before,
        c.not_after,
        PyBytes::new(py, &c.serial),
        text,
        c.partition,
        c.validation.rejection.as_ref().map(|r| r.to_string()),
        c.signature_valid,
    ))
}

/// `(status, reason, revocation_date, invalidity_date, deciding partition)`: one row of
/// `Snapshot.check`.
type OneAnswer = (u8, Option<u8>, Option<i64>, Option<i64>, u16);

/// The status of one serial under issuer row `issuer` (65535: unknown) at `now`, judged on
/// `partition` (None or 65535: issuer-wide; 65534: missing), as `Snapshot.check` answers a
/// row. `serial` is big-endian magnitude octets, or with `integer` a DER INTEGER's content
/// octets (two's complement: negative serials are exact, as the batch keys them).
#[pyfunction]
#[pyo3(signature = (snapshot, issuer, serial, now, partition=None, integer=false))]
fn check_serial_one(
    snapshot: PyRef<'_, Snapshot>,
    issuer: u16,
    serial: &[u8],
    now: i64,
    partition: Option<u16>,
    integer: bool,
) -> PyResult<OneAnswer> {
    let key = if integer { SerialKey::from_integer(serial) } else { SerialKey::from_be_bytes(serial) }
        .map_err(|e| PyValueError::new_err(format!("serial: {e}")))?;
    let views = snapshot.views()?;
    let a = one::check_key(&views, &snapshot.freshness_facts(), issuer, &key, now, partition);
    Ok((a.status as u8, a.reason, a.revocation_date, a.invalidity_date, a.partition))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_certificate_one, m)?)?;
    m.add_function(wrap_pyfunction!(check_serial_one, m)?)?;
    Ok(())
}
