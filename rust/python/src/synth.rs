//! Python bindings of the synthetic-data generators (the `synth` feature): the CRL encoder
//! (`jpki_fast._core.encode_crl`, `write_crls`) and RSA keys and signatures
//! (`generate_rsa_keys`, `sign_messages`). They take numpy/bytes buffers without copying,
//! release the GIL, and turn `SynthError`s into `ValueError` / `OSError`. No logic of their
//! own; see `jpki_fast_core::synth`.

use std::path::PathBuf;

use pyo3::buffer::ElementType;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use jpki_fast_core::synth::{self, CrlHeader, CrlJob, Entries, RawExtension, Serials, Signer, SynthError};

use crate::certs::{scheme_of, Binary};

fn to_py_err(e: SynthError) -> PyErr {
    match e.kind() {
        "io" => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

use crate::buffers::Held as Column;

const U8: ElementType = ElementType::UnsignedInteger { bytes: 1 };
const U64: ElementType = ElementType::UnsignedInteger { bytes: 8 };
const I64: ElementType = ElementType::SignedInteger { bytes: 8 };

/// The held entry buffers; [`Held::entries`] views them as [`Entries`].
struct Held {
    serials: Column,
    serial_width: Option<usize>,
    revocation_time: Column,
    reason: Option<Column>,
    invalidity: Option<(Column, Column)>,
}

impl Held {
    fn get(
        serials: &Bound<'_, PyAny>,
        serial_width: Option<usize>,
        revocation_time: &Bound<'_, PyAny>,
        reason: Option<&Bound<'_, PyAny>>,
        invalidity_time: Option<&Bound<'_, PyAny>>,
        invalidity_mask: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Held> {
        let invalidity = match (invalidity_time, invalidity_mask) {
            (Some(t), Some(m)) => Some((Column::get(t, "invalidity_time")?, Column::get(m, "invalidity_mask")?)),
            (None, None) => None,
            _ => return Err(PyValueError::new_err("invalidity_time and invalidity_mask go together: give both or neither")),
        };
        Ok(Held {
            serials: Column::get(serials, "serials")?,
            serial_width,
            revocation_time: Column::get(revocation_time, "revocation_time")?,
            reason: reason.map(|r| Column::get(r, "reason")).transpose()?,
            invalidity,
        })
    }

    fn entries(&self) -> PyResult<Entries<'_>> {
        let serials = match self.serial_width {
            Some(width) => Serials::Fixed { bytes: self.serials.bytes(), width },
            None => Serials::U64(self.serials.typed::<u64>(U64, "uint64")?),
        };
        let revocation_time = self.revocation_time.typed::<i64>(I64, "int64")?;
        let reason = self.reason.as_ref().map(|r| r.typed::<u8>(U8, "uint8")).transpose()?;
        let invalidity = match &self.invalidity {
            Some((t, m)) => Some((t.typed::<i64>(I64, "int64")?, m.typed::<u8>(U8, "uint8")?)),
            None => None,
        };
        Entries::new(serials, revocation_time, reason, invalidity).map_err(to_py_err)
    }
}

/// Encodes and signs one X.509 v2 CRL; returns its DER.
///
/// - `private_key`: unencrypted PKCS#8 DER of an RSA key (2048..8192 bits); the signature is
///   sha256WithRSAEncryption (PKCS#1 v1.5).
/// - `issuer`: the issuer `Name` as DER (the CA certificate's subject, byte for byte).
/// - `this_update`, `next_update`: seconds since 1970 UTC; `next_update=None` leaves it out.
/// - `serials`: uint64 array, or with `serial_width=B` a buffer of B-byte big-endian serials
///   (e.g. a `(n, B)` uint8 array).
/// - `revocation_time`: int64 seconds; `reason`: uint8 codes, 255 for no reasonCode;
///   `invalidity_time` (int64) with `invalidity_mask` (uint8, 0 = none).
/// - `crl_number`: big-endian magnitude bytes; `authority_key_id`: keyIdentifier bytes;
///   `distribution_point`: the partition's directory name as `Name` DER (an issuing
///   distribution point with onlyContainsUserCerts, critical). Each `None` omits it.
/// - `extra_extensions`: `(oid_content_octets, critical, value_der)` tuples, appended.
///
/// Example (see `jpki_fast.synth.make_crl` for the friendly wrapper):
///
/// ```python
/// der = _core.encode_crl(key_der, issuer_der, 1795000000, 1795172800,
///                        np.array([0x054CFCD8], np.uint64), np.array([1700000000], np.int64))
/// ```
#[pyfunction]
#[pyo3(signature = (
    private_key, issuer, this_update, next_update, serials, revocation_time, *,
    serial_width=None, reason=None, invalidity_time=None, invalidity_mask=None,
    crl_number=None, authority_key_id=None, distribution_point=None, extra_extensions=Vec::new(),
))]
#[allow(clippy::too_many_arguments)]
fn encode_crl<'py>(
    py: Python<'py>,
    private_key: &[u8],
    issuer: Vec<u8>,
    this_update: i64,
    next_update: Option<i64>,
    serials: Bound<'py, PyAny>,
    revocation_time: Bound<'py, PyAny>,
    serial_width: Option<usize>,
    reason: Option<Bound<'py, PyAny>>,
    invalidity_time: Option<Bound<'py, PyAny>>,
    invalidity_mask: Option<Bound<'py, PyAny>>,
    crl_number: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    distribution_point: Option<Vec<u8>>,
    extra_extensions: Vec<(Vec<u8>, bool, Vec<u8>)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let signer = Signer::new(private_key, issuer, authority_key_id).map_err(to_py_err)?;
    let held = Held::get(&serials, serial_width, &revocation_time, reason.as_ref(), invalidity_time.as_ref(), invalidity_mask.as_ref())?;
    let entries = held.entries()?;
    let extra: Vec<RawExtension> =
        extra_extensions.into_iter().map(|(oid, critical, value)| RawExtension { oid, critical, value }).collect();
    let header = CrlHeader {
        this_update,
        next_update,
        crl_number: crl_number.as_deref(),
        distribution_point: distribution_point.as_deref(),
        extra_extensions: &extra,
    };
    let der = py.detach(|| synth::encode_crl(&signer, &header, &entries)).map_err(to_py_err)?;
    Ok(PyBytes::new(py, &der))
}

/// One signing CA of a `write_crls` batch (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SignerArg {
    private_key: Vec<u8>,
    issuer: Vec<u8>,
    #[pyo3(default)]
    authority_key_id: Option<Vec<u8>>,
}

/// One CRL of a `write_crls` batch (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct JobArg {
    path: PathBuf,
    signer: usize,
    start: usize,
    end: usize,
    this_update: i64,
    #[pyo3(default)]
    next_update: Option<i64>,
    #[pyo3(default)]
    crl_number: Option<Vec<u8>>,
    #[pyo3(default)]
    distribution_point: Option<Vec<u8>>,
}

/// Encodes, signs and writes many CRLs in parallel (all cores, GIL released); returns the size
/// in bytes of each file, in job order.
///
/// - `signers`: list of dicts `{"private_key": PKCS#8 DER, "issuer": Name DER,
///   "authority_key_id": bytes | None}`.
/// - `jobs`: list of dicts `{"path", "signer" (index into signers), "start", "end" (rows of the
///   entry columns that go into this CRL), "this_update", "next_update" (seconds, or None),
///   "crl_number" (magnitude bytes or None), "distribution_point" (Name DER or None)}`.
/// - entry columns as for `encode_crl`: `serials` (uint64, or bytes with `serial_width`),
///   `revocation_time`, optional `reason`, `invalidity_time` + `invalidity_mask`.
///
/// Parent directories are created; each file is written as `<path>.tmp` and renamed into
/// place. The first failure raises `ValueError` (bad input) or `OSError` (writing), naming the
/// job and its path; files of jobs that had finished stay.
///
/// ```python
/// sizes = _core.write_crls(
///     [{"private_key": key_der, "issuer": issuer_der, "authority_key_id": ski}],
///     [{"path": "out/a.crl", "signer": 0, "start": 0, "end": 2,
///       "this_update": 1795000000, "next_update": 1795172800}],
///     np.array([1, 2], np.uint64), np.array([1700000000, 1700000001], np.int64))
/// ```
#[pyfunction]
#[pyo3(signature = (
    signers, jobs, serials, revocation_time, *,
    serial_width=None, reason=None, invalidity_time=None, invalidity_mask=None,
))]
#[allow(clippy::too_many_arguments)]
fn write_crls<'py>(
    py: Python<'py>,
    signers: Vec<SignerArg>,
    jobs: Vec<JobArg>,
    serials: Bound<'py, PyAny>,
    revocation_time: Bound<'py, PyAny>,
    serial_width: Option<usize>,
    reason: Option<Bound<'py, PyAny>>,
    invalidity_time: Option<Bound<'py, PyAny>>,
    invalidity_mask: Option<Bound<'py, PyAny>>,
) -> PyResult<Vec<u64>> {
    let signers: Vec<Signer> = signers
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Signer::new(&s.private_key, s.issuer, s.authority_key_id).map_err(|e| PyValueError::new_err(format!("signer #{i}: {e}")))
        })
        .collect::<PyResult<_>>()?;
    let jobs: Vec<CrlJob> = jobs
        .into_iter()
        .map(|j| CrlJob {
            path: j.path,
            signer: j.signer,
            start: j.start,
            end: j.end,
            this_update: j.this_update,
            next_update: j.next_update,
            crl_number: j.crl_number,
            distribution_point: j.distribution_point,
        })
        .collect();
    let held = Held::get(&serials, serial_width, &revocation_time, reason.as_ref(), invalidity_time.as_ref(), invalidity_mask.as_ref())?;
    let entries = held.entries()?;
    py.detach(|| synth::write_crls(&signers, &jobs, &entries)).map_err(to_py_err)
}

/// `n` fresh RSA key pairs, generated on all cores: a list of (PKCS#8 DER, SubjectPublicKeyInfo
/// DER).
#[pyfunction]
#[pyo3(signature = (n, bits=2048))]
fn generate_rsa_keys(py: Python<'_>, n: usize, bits: usize) -> PyResult<Vec<(Py<PyBytes>, Py<PyBytes>)>> {
    let keys = py.detach(|| synth::generate_rsa_keys(n, bits)).map_err(to_py_err)?;
    Ok(keys.into_iter().map(|(k, p)| (PyBytes::new(py, &k).unbind(), PyBytes::new(py, &p).unbind())).collect())
}

/// Signs `messages[i]` with `private_keys[key_index[i]]` (PKCS#8 DER) on all cores; returns the
/// signatures as a list of bytes.
#[pyfunction]
#[pyo3(signature = (private_keys, key_index, messages, hash="sha256", padding="pkcs1v15"))]
fn sign_messages<'py>(
    py: Python<'py>,
    private_keys: Vec<Vec<u8>>,
    key_index: Vec<u32>,
    messages: Bound<'py, PyAny>,
    hash: &str,
    padding: &str,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let scheme = scheme_of(hash, padding)?;
    let msg_h = Binary::get(&messages, "messages")?;
    let rows = msg_h.rows()?;
    if let Some(row) = rows.iter().position(Option::is_none) {
        return Err(PyValueError::new_err(format!("message #{row}: missing (null) message")));
    }
    let rows: Vec<&[u8]> = rows.into_iter().flatten().collect();
    let keys: Vec<&[u8]> = private_keys.iter().map(Vec::as_slice).collect();
    let sigs = py
        .detach(|| synth::sign_rows(scheme, &keys, &key_index, &rows))
        .map_err(|(row, e)| PyValueError::new_err(format!("message #{row}: {e}")))?;
    Ok(sigs.iter().map(|s| PyBytes::new(py, s)).collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_rsa_keys, m)?)?;
    m.add_function(wrap_pyfunction!(sign_messages, m)?)?;
    m.add_function(wrap_pyfunction!(encode_crl, m)?)?;
    m.add_function(wrap_pyfunction!(write_crls, m)?)?;
    Ok(())
}
