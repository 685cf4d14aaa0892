//! Python bindings of the OCSP module (`jpki_fast._core.OcspIssuers`, `OcspSigner`,
//! `parse_ocsp_request`, `ocsp_error_response`, `ocsp_cert_id`; the API is
//! `python/jpki_fast/ocsp.py`). Thin: the parsing, matching, encoding and signing are the core's,
//! run with the GIL released; a request's few CertIDs cross as small tuples, a batch of responses
//! to pre-produce as column buffers.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use jpki_fast_core::cert::Certificate;
use jpki_fast_core::ocsp::{
    self, cert_id, CertStatus, IssuerHashes, Limits, OcspRequest, Responder, ResponseData, ResponseStatus, SingleResponse,
};
use jpki_fast_core::signature::HashAlg;

use crate::buffers::Held;
use crate::certs::Binary;

create_exception!(_core, OcspRequestError, PyValueError, "An OCSPRequest that cannot be answered (malformedRequest).");

/// The trusted CA keys a CertID may name, as `OcspIssuers([ca_certificate_der, ...])` in
/// issuer-row order.
#[pyclass(module = "jpki_fast._core", frozen)]
struct OcspIssuers {
    hashes: IssuerHashes,
    len: usize,
}

#[pymethods]
impl OcspIssuers {
    #[new]
    fn new(certificates: Vec<Vec<u8>>) -> PyResult<OcspIssuers> {
        let parsed = certificates
            .iter()
            .enumerate()
            .map(|(i, der)| Certificate::parse(der).map_err(|e| PyValueError::new_err(format!("issuer #{i}: {e}"))))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(OcspIssuers { hashes: IssuerHashes::new(parsed.iter().map(|c| (c.subject_der, c.public_key_bits))), len: parsed.len() })
    }

    fn __len__(&self) -> usize {
        self.len
    }
}

/// Parses a request and finds each CertID's issuer. Returns `(items, nonce, signed)`: `items`
/// one `(cert_id_der, issuer_row or None, serial magnitude bytes or None, hash name)` per
/// Request in order (the serial is None when negative); `nonce` the extnValue to echo, or None.
/// Raises `OcspRequestError` naming the field at fault.
#[pyfunction]
#[pyo3(signature = (issuers, request, max_bytes=Limits::DEFAULT_MAX_BYTES, max_requests=Limits::DEFAULT_MAX_REQUESTS))]
fn parse_ocsp_request<'py>(
    py: Python<'py>,
    issuers: &OcspIssuers,
    request: &[u8],
    max_bytes: usize,
    max_requests: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let limits = Limits { max_bytes, max_requests };
    let parsed = OcspRequest::parse(request, &limits).map_err(|e| OcspRequestError::new_err(e.to_string()))?;
    let items = PyList::empty(py);
    for q in &parsed.requests {
        let id = &q.cert_id;
        let row = issuers.hashes.find(id);
        let serial = id.serial_magnitude().map(|s| PyBytes::new(py, s));
        items.append((PyBytes::new(py, id.raw), row, serial, id.hash.name()))?;
    }
    let nonce = parsed.nonce.map(|n| PyBytes::new(py, n.extn_value));
    PyTuple::new(py, [items.into_any(), nonce.into_pyobject(py)?.into_any(), parsed.signed.into_pyobject(py)?.to_owned().into_any()])
}

/// The cache key of a request whose response may be pre-produced and shared (RFC 5019): the DER
/// of its CertID when it parses, asks about exactly one certificate and has no nonce; else None.
#[pyfunction]
#[pyo3(signature = (request, max_bytes=Limits::DEFAULT_MAX_BYTES))]
fn ocsp_cache_key<'py>(py: Python<'py>, request: &[u8], max_bytes: usize) -> Option<Bound<'py, PyBytes>> {
    let parsed = OcspRequest::parse(request, &Limits { max_bytes, max_requests: 1 }).ok()?;
    match (parsed.requests.as_slice(), parsed.nonce) {
        ([one], None) => Some(PyBytes::new(py, one.cert_id.raw)),
        _ => None,
    }
}

/// The unsigned response of a non-successful status, by name (`malformedRequest`,
/// `internalError`, `tryLater`, `sigRequired`, `unauthorized`).
#[pyfunction]
fn ocsp_error_response<'py>(py: Python<'py>, status: &str) -> PyResult<Bound<'py, PyBytes>> {
    let s = ResponseStatus::from_name(status).ok_or_else(|| PyValueError::new_err(format!("unknown OCSP response status {status:?}")))?;
    let der = ocsp::error_response(s).ok_or_else(|| PyValueError::new_err("successful responses are signed: use OcspSigner"))?;
    Ok(PyBytes::new(py, &der))
}

/// The CertID DER a client computes for the certificate with this serial (big-endian
/// magnitude) issued by the CA certificate `issuer_der`, under `hash` (`sha1`, `sha256`, ...).
#[pyfunction]
fn ocsp_cert_id<'py>(py: Python<'py>, hash: &str, issuer_der: &[u8], serial: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let h =
        HashAlg::from_name(hash).ok_or_else(|| PyValueError::new_err(format!("hash {hash:?}: expected sha1, sha256, sha384 or sha512")))?;
    let ca = Certificate::parse(issuer_der).map_err(|e| PyValueError::new_err(format!("issuer: {e}")))?;
    Ok(PyBytes::new(py, &cert_id::encode_cert_id(h, ca.subject_der, ca.public_key_bits, serial)))
}

/// A DER OCSPRequest for these CertIDs (DER), with a nonce (its octets) when given.
#[pyfunction]
#[pyo3(signature = (cert_ids, nonce=None))]
fn ocsp_request<'py>(py: Python<'py>, cert_ids: Vec<Vec<u8>>, nonce: Option<Vec<u8>>) -> Bound<'py, PyBytes> {
    let ids: Vec<&[u8]> = cert_ids.iter().map(Vec::as_slice).collect();
    PyBytes::new(py, &ocsp::encode_request(&ids, nonce.as_deref()))
}

/// Status codes of the `status` arguments below.
const GOOD: u8 = 0;
const REVOKED: u8 = 1;
const UNKNOWN: u8 = 2;
/// "No reason" in the `reason` arguments (RFC 5280 reason codes are 0..10).
const NO_REASON: i16 = -1;

fn cert_status(code: u8, time: i64, reason: i16) -> PyResult<CertStatus> {
    Ok(match code {
        GOOD => CertStatus::Good,
        REVOKED => CertStatus::Revoked { time, reason: u8::try_from(reason).ok().filter(|_| reason != NO_REASON) },
        UNKNOWN => CertStatus::Unknown,
        other => return Err(PyValueError::new_err(format!("status code {other}: expected 0 good, 1 revoked, 2 unknown"))),
    })
}

/// One SingleResponse as Python passes it: (cert_id, status, revocation_time, reason,
/// this_update, next_update or None, invalidity_date or None).
type SingleTuple = (Vec<u8>, u8, i64, i16, i64, Option<i64>, Option<i64>);

/// A responder certificate and its private key: `OcspSigner(certificate_der, pkcs8_der)`.
#[pyclass(module = "jpki_fast._core", frozen)]
struct OcspSigner {
    inner: Responder,
}

#[pymethods]
impl OcspSigner {
    #[new]
    fn new(certificate: &[u8], pkcs8: &[u8]) -> PyResult<OcspSigner> {
        Ok(OcspSigner { inner: Responder::new(certificate, pkcs8).map_err(|e| PyValueError::new_err(e.to_string()))? })
    }

    /// `ecdsa-with-SHA256` or `sha256WithRSAEncryption`.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().name()
    }

    /// The responderID KeyHash (SHA-1 of the public key bits).
    #[getter]
    fn key_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.key_hash())
    }

    /// One signed response answering `singles` (a list of [`SingleTuple`]), echoing `nonce`.
    #[pyo3(signature = (produced_at, singles, nonce=None))]
    fn sign<'py>(
        &self,
        py: Python<'py>,
        produced_at: i64,
        singles: Vec<SingleTuple>,
        nonce: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut responses = Vec::with_capacity(singles.len());
        for (cert_id, code, time, reason, this_update, next_update, invalidity_date) in &singles {
            responses.push(SingleResponse {
                cert_id,
                status: cert_status(*code, *time, *reason)?,
                this_update: *this_update,
                next_update: *next_update,
                invalidity_date: *invalidity_date,
            });
        }
        let data = ResponseData { produced_at, responses, nonce: nonce.as_deref() };
        let der = py.detach(|| self.inner.sign(&data)).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyBytes::new(py, &der))
    }

    /// Pre-produces one signed response per item, on all cores: `cert_ids` is an Arrow binary
    /// buffer tuple, the other columns numpy arrays of one value per item (`status` u8,
    /// `revocation_time` / `this_update` / `next_update` / `invalidity_date` i64, `reason` i16
    /// with -1 for none; `has_next_update` / `has_invalidity_date` u8 masks). Returns a list of
    /// bytes.
    #[allow(clippy::too_many_arguments)]
    fn sign_many<'py>(
        &self,
        py: Python<'py>,
        produced_at: i64,
        cert_ids: Bound<'py, PyAny>,
        status: Bound<'py, PyAny>,
        revocation_time: Bound<'py, PyAny>,
        reason: Bound<'py, PyAny>,
        this_update: Bound<'py, PyAny>,
        next_update: Bound<'py, PyAny>,
        has_next_update: Bound<'py, PyAny>,
        invalidity_date: Bound<'py, PyAny>,
        has_invalidity_date: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = Binary::get(&cert_ids, "cert_ids")?;
        let rows = ids.rows()?;
        let n = rows.len();
        let held: Vec<Held> = [
            (&status, "status"),
            (&revocation_time, "revocation_time"),
            (&reason, "reason"),
            (&this_update, "this_update"),
            (&next_update, "next_update"),
            (&has_next_update, "has_next_update"),
            (&invalidity_date, "invalidity_date"),
            (&has_invalidity_date, "has_invalidity_date"),
        ]
        .iter()
        .map(|(obj, name)| Held::get(obj, name))
        .collect::<PyResult<_>>()?;
        let status = held[0].slice::<u8>()?;
        let revoked_at = held[1].slice::<i64>()?;
        let reason = held[2].slice::<i16>()?;
        let this_update = held[3].slice::<i64>()?;
        let next_update = held[4].slice::<i64>()?;
        let has_next = held[5].slice::<u8>()?;
        let invalidity = held[6].slice::<i64>()?;
        let has_invalidity = held[7].slice::<u8>()?;
        for (len, name) in [
            (status.len(), "status"),
            (revoked_at.len(), "revocation_time"),
            (reason.len(), "reason"),
            (this_update.len(), "this_update"),
            (next_update.len(), "next_update"),
            (has_next.len(), "has_next_update"),
            (invalidity.len(), "invalidity_date"),
            (has_invalidity.len(), "has_invalidity_date"),
        ] {
            if len != n {
                return Err(PyValueError::new_err(format!("{name}: {len} values for {n} cert_ids")));
            }
        }
        let mut items = Vec::with_capacity(n);
        for i in 0..n {
            let cert_id = rows[i].ok_or_else(|| PyValueError::new_err(format!("cert_ids #{i}: null")))?;
            items.push(ResponseData {
                produced_at,
                responses: vec![SingleResponse {
                    cert_id,
                    status: cert_status(status[i], revoked_at[i], reason[i])?,
                    this_update: this_update[i],
                    next_update: (has_next[i] != 0).then_some(next_update[i]),
                    invalidity_date: (has_invalidity[i] != 0).then_some(invalidity[i]),
                }],
                nonce: None,
            });
        }
        let signed = py.detach(|| self.inner.sign_many(&items));
        let out = PyList::empty(py);
        for (i, r) in signed.into_iter().enumerate() {
            let der = r.map_err(|e| PyValueError::new_err(format!("item #{i}: {e}")))?;
            out.append(PyBytes::new(py, &der))?;
        }
        Ok(out)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<OcspIssuers>()?;
    m.add_class::<OcspSigner>()?;
    m.add("OcspRequestError", m.py().get_type::<OcspRequestError>())?;
    m.add_function(wrap_pyfunction!(parse_ocsp_request, m)?)?;
    m.add_function(wrap_pyfunction!(ocsp_error_response, m)?)?;
    m.add_function(wrap_pyfunction!(ocsp_cert_id, m)?)?;
    m.add_function(wrap_pyfunction!(ocsp_request, m)?)?;
    m.add_function(wrap_pyfunction!(ocsp_cache_key, m)?)?;
    Ok(())
}
