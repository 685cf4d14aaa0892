//! Python bindings of the certificate parser, path validation and bulk RSA verification
//! (`jpki_fast._core.parse_certificates`, `TrustAnchors`, `check_certificates`,
//! `verify_signatures`, `pem_certificates`, `ca_certificate`).
//!
//! Thin: variable-length inputs come in as Arrow binary arrays, passed as the tuple
//! `(offsets, data, length, offset, large, validity)` of their buffers (see
//! `jpki_fast.certs._binary`), so a million certificates cross without a per-item Python object;
//! the heavy work runs with the GIL released. The public API and its documentation are in
//! `python/jpki_fast/certs.py`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use jpki_fast_core::bulk::{self, RowError, Signed, SignedRows};
use jpki_fast_core::cert::{self, usage, Certificate};
use jpki_fast_core::names::hex_upper;
use jpki_fast_core::serial::SerialKey;
use jpki_fast_core::signature::{HashAlg, Padding, Scheme};
use jpki_fast_core::trust::{Anchors, CaKind};
use jpki_fast_core::validate::{Outcome, Purpose};

use crate::buffers::Held;

/// `(offsets, data, length, offset, large, validity)` as `jpki_fast.certs._buffers` passes them.
type BufferTuple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, usize, usize, bool, Option<Bound<'py, PyAny>>);

/// A trusted key as `jpki_fast.certs` passes it: (key_id, certificate DER, kind, test_hierarchy).
type AnchorTuple = (Vec<u8>, Vec<u8>, Option<String>, bool);

/// The buffers of one Arrow binary (or string) array, held while Rust reads them.
pub(crate) struct Binary {
    offsets: Held,
    data: Held,
    validity: Option<Held>,
    length: usize,
    offset: usize,
    large: bool,
    name: &'static str,
}

impl Binary {
    pub(crate) fn get(arg: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Binary> {
        let t = arg.cast::<PyTuple>().map_err(|_| PyValueError::new_err(format!("{name}: expected an Arrow buffer tuple")))?;
        let (offsets, data, length, offset, large, validity): BufferTuple<'_> = t.extract()?;
        Ok(Binary {
            offsets: Held::get(&offsets, name)?,
            data: Held::get(&data, name)?,
            validity: validity.as_ref().map(|v| Held::get(v, name)).transpose()?,
            length,
            offset,
            large,
            name,
        })
    }

    /// One slice per row (None for a null), after checking the offsets against the data.
    pub(crate) fn rows(&self) -> PyResult<Vec<Option<&[u8]>>> {
        let data = self.data.bytes();
        let bad = |what: &str| PyValueError::new_err(format!("{}: {what}", self.name));
        // Offsets as usize, whatever their width (int32, or int64 for large arrays).
        let offsets: Vec<usize> = if self.large {
            self.offsets.slice::<i64>()?.iter().map(|&o| usize::try_from(o)).collect::<Result<_, _>>()
        } else {
            self.offsets.slice::<i32>()?.iter().map(|&o| usize::try_from(o)).collect::<Result<_, _>>()
        }
        .map_err(|_| bad("negative offset"))?;
        if offsets.len() < self.offset + self.length + 1 {
            return Err(bad("offsets buffer too short"));
        }
        let validity = self.validity.as_ref().map(|v| v.bytes());
        let mut out = Vec::with_capacity(self.length);
        for row in 0..self.length {
            let i = self.offset + row;
            if let Some(v) = validity {
                if v.get(i / 8).map_or(true, |byte| byte & (1 << (i % 8)) == 0) {
                    out.push(None);
                    continue;
                }
            }
            out.push(Some(data.get(offsets[i]..offsets[i + 1]).ok_or_else(|| bad("offsets out of range"))?));
        }
        Ok(out)
    }
}

/// Native-endian bytes of plain values (for numpy.frombuffer / pyarrow.py_buffer).
fn raw<'py, T: Copy>(py: Python<'py>, values: &[T]) -> Bound<'py, PyBytes> {
    // SAFETY: T is a plain integer type; any initialised value is valid as bytes.
    let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) };
    PyBytes::new(py, bytes)
}

pub(crate) fn scheme_of(hash: &str, padding: &str) -> PyResult<Scheme> {
    let hash =
        HashAlg::from_name(hash).ok_or_else(|| PyValueError::new_err(format!("hash {hash:?}: expected sha1, sha256, sha384 or sha512")))?;
    let padding = match padding.to_ascii_lowercase().replace(['-', '_', '.'], "").as_str() {
        "pkcs1v15" | "pkcs1" => Padding::Pkcs1v15,
        "pss" => Padding::Pss,
        other => return Err(PyValueError::new_err(format!("padding {other:?}: expected 'pkcs1v15' or 'pss'"))),
    };
    let scheme = Scheme { padding, hash };
    scheme
        .parameters()
        .ok_or_else(|| PyValueError::new_err(format!("{} is not supported (PSS needs SHA-256 or longer)", scheme.name())))?;
    Ok(scheme)
}

fn row_error(what: &str, e: RowError) -> PyErr {
    PyValueError::new_err(format!("{what} #{}: {}", e.row, e.error))
}

/// The trusted CA keys of a snapshot, parsed once: `TrustAnchors([(key_id, certificate_der,
/// kind, test_hierarchy), ...])` in issuer-row order.
#[pyclass(module = "jpki_fast._core", frozen)]
pub(crate) struct TrustAnchors {
    pub(crate) inner: Anchors,
}

#[pymethods]
impl TrustAnchors {
    #[new]
    fn new(anchors: Vec<AnchorTuple>) -> PyResult<TrustAnchors> {
        let list = anchors.into_iter().map(|(kid, der, kind, test)| (kid, der, CaKind::from_name(kind.as_deref()), test)).collect();
        Ok(TrustAnchors { inner: Anchors::from_certificates(list).map_err(|e| PyValueError::new_err(e.to_string()))? })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Parses certificates (an Arrow binary buffer tuple of DER or PEM items). Returns a dict of
/// column lists; `error` is None for parsed rows. The basic 4 facts are included only with
/// `personal_data=True` (`facts`: None or a 6-tuple), `has_basic_four_facts` always.
#[pyfunction]
#[pyo3(signature = (certs, personal_data=false))]
fn parse_certificates<'py>(py: Python<'py>, certs: Bound<'py, PyAny>, personal_data: bool) -> PyResult<Bound<'py, PyDict>> {
    use rayon::prelude::*;
    let held = Binary::get(&certs, "certificates")?;
    let rows = held.rows()?;
    /// One parsed row, owned so it can leave the parallel section.
    #[derive(Default)]
    struct Row {
        error: Option<String>,
        version: u8,
        serial: Option<String>,
        algorithm: Option<String>,
        issuer: Option<String>,
        issuer_der: Option<Vec<u8>>,
        subject: Option<String>,
        subject_der: Option<Vec<u8>>,
        not_before: Option<i64>,
        not_after: Option<i64>,
        key_algorithm: Option<String>,
        spki: Option<Vec<u8>>,
        modulus: Option<Vec<u8>>,
        exponent: Option<Vec<u8>>,
        key_bits: Option<usize>,
        key_usage: Option<Vec<&'static str>>,
        eku: Option<Vec<String>>,
        is_ca: Option<bool>,
        path_length: Option<u64>,
        policies: Vec<String>,
        aki: Option<String>,
        ski: Option<String>,
        crl_dps: Vec<String>,
        partition: Option<String>,
        ocsp: Vec<String>,
        ca_issuers: Vec<String>,
        unknown_critical: Vec<String>,
        facts: Option<cert::BasicFourFacts>,
    }
    let parsed: Vec<Row> = py.detach(|| {
        rows.par_iter()
            .map(|item| {
                let Some(item) = item else { return Row { error: Some("missing (null) certificate".into()), ..Default::default() } };
                let der_bytes = match cert::decode(item) {
                    Ok(d) => d,
                    Err(e) => return Row { error: Some(e.to_string()), ..Default::default() },
                };
                let c = match Certificate::parse(&der_bytes) {
                    Ok(c) => c,
                    Err(e) => return Row { error: Some(e.to_string()), ..Default::default() },
                };
                Row {
                    error: None,
                    version: c.version,
                    serial: SerialKey::from_integer(c.serial).ok().map(|k| k.to_hex()),
                    algorithm: Some(match &c.scheme {
                        Ok(s) => s.name(),
                        Err(e) => e.to_string(),
                    }),
                    issuer: Some(c.issuer.clone()),
                    issuer_der: Some(c.issuer_der.to_vec()),
                    subject: Some(c.subject.clone()),
                    subject_der: Some(c.subject_der.to_vec()),
                    not_before: Some(c.not_before),
                    not_after: Some(c.not_after),
                    key_algorithm: Some(c.key_algorithm.clone()),
                    spki: Some(c.spki.to_vec()),
                    modulus: c.rsa.map(|k| k.modulus.to_vec()),
                    exponent: c.rsa.map(|k| k.exponent.to_vec()),
                    key_bits: c.rsa.map(|k| k.bits()),
                    key_usage: c.key_usage.map(|ku| (0..9).filter(|b| ku & (1 << b) != 0).map(|b| usage::NAMES[b]).collect()),
                    eku: c.extended_key_usage.clone(),
                    is_ca: c.basic_constraints.map(|b| b.0),
                    path_length: c.basic_constraints.and_then(|b| b.1),
                    policies: c.policies.clone(),
                    aki: c.authority_key_id.map(hex_upper),
                    ski: c.subject_key_id.map(hex_upper),
                    crl_dps: c.crl_distribution_points.clone(),
                    partition: c.partition.clone(),
                    ocsp: c.ocsp_urls.clone(),
                    ca_issuers: c.ca_issuer_urls.clone(),
                    unknown_critical: c.unknown_critical.clone(),
                    facts: c.basic_four_facts.clone(),
                }
            })
            .collect()
    });
    let d = PyDict::new(py);
    macro_rules! column {
        ($name:expr, $f:expr) => {{
            let list = PyList::empty(py);
            for r in &parsed {
                list.append($f(r))?;
            }
            d.set_item($name, list)?;
        }};
    }
    let bytes_opt = |v: &Option<Vec<u8>>| v.as_ref().map(|b| PyBytes::new(py, b));
    column!("error", |r: &Row| r.error.clone());
    column!("version", |r: &Row| (r.error.is_none()).then_some(r.version));
    column!("serial", |r: &Row| r.serial.clone());
    column!("signature_algorithm", |r: &Row| r.algorithm.clone());
    column!("issuer", |r: &Row| r.issuer.clone());
    column!("issuer_der", |r: &Row| bytes_opt(&r.issuer_der));
    column!("subject", |r: &Row| r.subject.clone());
    column!("subject_der", |r: &Row| bytes_opt(&r.subject_der));
    column!("not_before", |r: &Row| r.not_before);
    column!("not_after", |r: &Row| r.not_after);
    column!("public_key_algorithm", |r: &Row| r.key_algorithm.clone());
    column!("subject_public_key_info", |r: &Row| bytes_opt(&r.spki));
    column!("rsa_modulus", |r: &Row| bytes_opt(&r.modulus));
    column!("rsa_exponent", |r: &Row| bytes_opt(&r.exponent));
    column!("key_bits", |r: &Row| r.key_bits);
    column!("key_usage", |r: &Row| r.key_usage.clone());
    column!("extended_key_usage", |r: &Row| r.eku.clone());
    column!("is_ca", |r: &Row| r.is_ca);
    column!("path_length", |r: &Row| r.path_length);
    column!("policies", |r: &Row| r.error.is_none().then(|| r.policies.clone()));
    column!("authority_key_id", |r: &Row| r.aki.clone());
    column!("subject_key_id", |r: &Row| r.ski.clone());
    column!("crl_distribution_points", |r: &Row| r.error.is_none().then(|| r.crl_dps.clone()));
    column!("partition", |r: &Row| r.partition.clone());
    column!("ocsp_urls", |r: &Row| r.error.is_none().then(|| r.ocsp.clone()));
    column!("ca_issuer_urls", |r: &Row| r.error.is_none().then(|| r.ca_issuers.clone()));
    column!("unknown_critical_extensions", |r: &Row| r.error.is_none().then(|| r.unknown_critical.clone()));
    column!("has_basic_four_facts", |r: &Row| r.error.is_none().then_some(r.facts.is_some()));
    if personal_data {
        column!("basic_four_facts", |r: &Row| r.facts.as_ref().map(|f| {
            (
                f.name.clone(),
                f.name_substitute.clone(),
                f.sex.clone(),
                f.date_of_birth.clone(),
                f.address.clone(),
                f.address_substitute.clone(),
            )
        }));
    }
    Ok(d)
}

pub(crate) fn purpose_of(purpose: Option<&str>) -> PyResult<Purpose> {
    Ok(match purpose {
        None => Purpose::Any,
        Some("login") => Purpose::Login,
        Some("signature") => Purpose::Signature,
        Some(other) => return Err(PyValueError::new_err(format!("purpose {other:?}: expected 'login', 'signature' or None"))),
    })
}

/// Checks certificates against `anchors` at `now` (path, validity, usage; revocation is left to
/// the caller). With `signatures` and `messages` (or `digests`), also verifies each row's
/// signature with its certificate's key. Returns buffers: `outcome` (u8, see cert::outcome),
/// `anchor` (u16, 65535 for none), `not_before`/`not_after` (i64), `has_times` (u8),
/// `serial_offsets` (i32) + `serial_data` (each serial's INTEGER content octets, exactly, `00`
/// for rows without one: normalise them with the "integer" kind of `normalize_serials`),
/// `signature_valid` (u8); and lists: `partition` (str or None per row), `details`
/// ((row, text) for every row with a detail).
#[pyfunction]
#[pyo3(signature = (anchors, certs, now, purpose=None, allow_test=false, messages=None, digests=None, signatures=None, hash="sha256", padding="pkcs1v15"))]
#[allow(clippy::too_many_arguments)]
fn check_certificates<'py>(
    py: Python<'py>,
    anchors: PyRef<'py, TrustAnchors>,
    certs: Bound<'py, PyAny>,
    now: i64,
    purpose: Option<&str>,
    allow_test: bool,
    messages: Option<Bound<'py, PyAny>>,
    digests: Option<Bound<'py, PyAny>>,
    signatures: Option<Bound<'py, PyAny>>,
    hash: &str,
    padding: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let purpose = purpose_of(purpose)?;
    let certs_h = Binary::get(&certs, "certificates")?;
    let cert_rows = certs_h.rows()?;
    let (signed_h, prehashed) = match (&messages, &digests) {
        (Some(m), None) => (Some(Binary::get(m, "messages")?), false),
        (None, Some(d)) => (Some(Binary::get(d, "digests")?), true),
        (None, None) => (None, false),
        (Some(_), Some(_)) => return Err(PyValueError::new_err("give messages or digests, not both")),
    };
    let sig_h = signatures.as_ref().map(|s| Binary::get(s, "signatures")).transpose()?;
    if signed_h.is_some() != sig_h.is_some() {
        return Err(PyValueError::new_err("signatures and messages (or digests) go together"));
    }
    let signed_rows = signed_h.as_ref().map(|h| h.rows()).transpose()?;
    let sig_rows = sig_h.as_ref().map(|h| h.rows()).transpose()?;
    let scheme = scheme_of(hash, padding)?;
    let inner = &anchors.inner;
    let checks = py
        .detach(|| {
            let signed = match (&signed_rows, &sig_rows) {
                (Some(s), Some(sig)) => {
                    Some(SignedRows { scheme, signed: if prehashed { Signed::Digests(s) } else { Signed::Messages(s) }, signatures: sig })
                }
                _ => None,
            };
            bulk::check_certificates(inner, &cert_rows, now, purpose, allow_test, signed)
        })
        .map_err(|e| row_error("row", e))?;
    let n = checks.len();
    let mut outcome = Vec::with_capacity(n);
    let mut anchor = Vec::with_capacity(n);
    let mut not_before = Vec::with_capacity(n);
    let mut not_after = Vec::with_capacity(n);
    let mut has_times = Vec::with_capacity(n);
    let mut serial_offsets: Vec<i32> = Vec::with_capacity(n + 1);
    let mut serial_data = Vec::with_capacity(n * 4);
    let mut signature_valid = Vec::with_capacity(n);
    let partition = PyList::empty(py);
    let details = PyList::empty(py);
    serial_offsets.push(0);
    for (row, c) in checks.iter().enumerate() {
        outcome.push(c.validation.outcome() as u8);
        anchor.push(c.validation.anchor.map_or(u16::MAX, |a| a as u16));
        not_before.push(c.not_before.unwrap_or(0));
        not_after.push(c.not_after.unwrap_or(0));
        has_times.push(c.not_after.is_some() as u8);
        serial_data.extend_from_slice(if c.serial.is_empty() { &[0u8] } else { &c.serial });
        serial_offsets.push(i32::try_from(serial_data.len()).map_err(|_| PyValueError::new_err("too many certificates in one call"))?);
        signature_valid.push(c.signature_valid as u8);
        partition.append(c.partition.as_deref())?;
        if let Some(rejection) = &c.validation.rejection {
            details.append((row, rejection.to_string()))?;
        }
    }
    let d = PyDict::new(py);
    d.set_item("outcome", raw(py, &outcome))?;
    d.set_item("anchor", raw(py, &anchor))?;
    d.set_item("not_before", raw(py, &not_before))?;
    d.set_item("not_after", raw(py, &not_after))?;
    d.set_item("has_times", raw(py, &has_times))?;
    d.set_item("serial_offsets", raw(py, &serial_offsets))?;
    d.set_item("serial_data", PyBytes::new(py, &serial_data))?;
    d.set_item("signature_valid", raw(py, &signature_valid))?;
    d.set_item("partition", partition)?;
    d.set_item("details", details)?;
    Ok(d)
}

/// Verifies signatures in bulk: `keys` (buffer tuple; one item, or one per row) of certificates,
/// SubjectPublicKeyInfo or RSAPublicKey (DER or PEM); `messages` or `digests`; `signatures`.
/// Returns a bytes object of one 0/1 per row. Raises ValueError naming the first unusable row.
#[pyfunction]
#[pyo3(signature = (keys, signatures, messages=None, digests=None, hash="sha256", padding="pkcs1v15"))]
fn verify_signatures<'py>(
    py: Python<'py>,
    keys: Bound<'py, PyAny>,
    signatures: Bound<'py, PyAny>,
    messages: Option<Bound<'py, PyAny>>,
    digests: Option<Bound<'py, PyAny>>,
    hash: &str,
    padding: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let scheme = scheme_of(hash, padding)?;
    let keys_h = Binary::get(&keys, "keys")?;
    let sig_h = Binary::get(&signatures, "signatures")?;
    let (signed_h, prehashed) = match (&messages, &digests) {
        (Some(m), None) => (Binary::get(m, "messages")?, false),
        (None, Some(d)) => (Binary::get(d, "digests")?, true),
        _ => return Err(PyValueError::new_err("give exactly one of messages or digests")),
    };
    let key_rows = keys_h.rows()?;
    let sig_rows = sig_h.rows()?;
    let signed_rows = signed_h.rows()?;
    let n = sig_rows.len();
    if let Some(row) = key_rows.iter().position(Option::is_none) {
        return Err(PyValueError::new_err(format!("key #{row}: missing (null) key")));
    }
    let key_rows: Vec<&[u8]> = key_rows.into_iter().flatten().collect();
    if key_rows.len() != 1 && key_rows.len() != n {
        return Err(PyValueError::new_err(format!("row #0: {} keys for {n} signatures: give one key, or one per row", key_rows.len())));
    }
    let ok = py
        .detach(|| {
            let (firsts, of_row) = if key_rows.len() == 1 { (vec![0], vec![0u32; n]) } else { bulk::group_rows(&key_rows) };
            let distinct: Vec<&[u8]> = firsts.iter().map(|&i| key_rows[i]).collect();
            let signed = if prehashed { Signed::Digests(&signed_rows) } else { Signed::Messages(&signed_rows) };
            bulk::verify_rows(scheme, &distinct, &of_row, signed, &sig_rows)
        })
        .map_err(|e| row_error("row", e))?;
    let bytes: Vec<u8> = ok.into_iter().map(u8::from).collect();
    Ok(PyBytes::new(py, &bytes))
}

/// The DER of every certificate in `data`: itself when it is DER, else each CERTIFICATE block of
/// its PEM text. Raises ValueError for damaged PEM.
#[pyfunction]
fn pem_certificates<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    if !jpki_fast_core::pem::looks_like_pem(data) {
        return Ok(vec![PyBytes::new(py, data)]);
    }
    let blocks = jpki_fast_core::pem::blocks(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(blocks.iter().filter(|(label, _)| cert::is_certificate_label(label)).map(|(_, der)| PyBytes::new(py, der)).collect())
}

/// One CA certificate (DER) for the trust store (`jpki_fast.trust`). Returns a dict of the facts
/// the trust store keeps; raises ValueError naming what is wrong. `key_id` is
/// [`Certificate::key_identifier`].
#[pyfunction]
fn ca_certificate<'py>(py: Python<'py>, der_bytes: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let invalid = |what: String| PyValueError::new_err(what);
    let c = Certificate::parse(der_bytes).map_err(|e| invalid(e.to_string()))?;
    let attributes = jpki_fast_core::names::name_attributes(c.subject_der).map_err(|e| invalid(format!("subject: {e}")))?;
    let d = PyDict::new(py);
    d.set_item("certificate_der", PyBytes::new(py, der_bytes))?;
    d.set_item("subject_der", PyBytes::new(py, c.subject_der))?;
    d.set_item("subject", &c.subject)?;
    d.set_item("self_issued", c.subject_der == c.issuer_der)?;
    d.set_item("subject_attributes", attributes)?;
    d.set_item("public_key_der", PyBytes::new(py, c.spki))?;
    d.set_item("serial", PyBytes::new(py, c.serial))?;
    d.set_item("not_before", c.not_before)?;
    d.set_item("not_after", c.not_after)?;
    d.set_item("is_ca", c.basic_constraints.is_some_and(|b| b.0))?;
    d.set_item("crl_sign", c.allows(usage::CRL_SIGN))?;
    d.set_item("key_id", PyBytes::new(py, &c.key_identifier()))?;
    d.set_item("authority_key_id", c.authority_key_id.map(|k| PyBytes::new(py, k)))?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ca_certificate, m)?)?;
    m.add_class::<TrustAnchors>()?;
    m.add_function(wrap_pyfunction!(parse_certificates, m)?)?;
    m.add_function(wrap_pyfunction!(check_certificates, m)?)?;
    m.add_function(wrap_pyfunction!(verify_signatures, m)?)?;
    m.add_function(wrap_pyfunction!(pem_certificates, m)?)?;
    m.add("CERT_OUTCOMES", Outcome::ALL.map(Outcome::name).to_vec())?;
    Ok(())
}
