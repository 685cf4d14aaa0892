//! jpki-fast core: the hot paths of JPKI revocation checking.
//!
//! - [`der`], [`names`], [`serial`]: DER reading, distinguished names, serial numbers.
//! - [`crl`]: streaming X.509 CRL parser.
//! - [`signature`]: signature algorithms and RSA verification (aws-lc-rs).
//! - [`ingest`]: parallel read + verify + collect of many CRL files.
//! - [`sort`], [`index`]: the revocation index (build and lookup).
//! - [`check`]: batch status checks.
//! - [`cert`]: X.509 certificate parser and JPKI path validation; [`bulk`]: bulk RSA
//!   verification and batch certificate checks on all cores.
//!
//! The Python bindings (`jpki_fast._core`) live in `py` behind the `python` feature, so
//! `cargo test` runs without libpython.

/// Phase timings on stderr when `JPKI_FAST_TRACE` is set (for profiling; off by default).
pub fn trace(phase: &str, since: std::time::Instant) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("JPKI_FAST_TRACE").is_some()) {
        eprintln!("jpki-fast trace: {phase}: {:.1} ms", since.elapsed().as_secs_f64() * 1e3);
    }
}

pub mod build;
pub mod bulk;
pub mod cert;
pub mod check;
pub mod crl;
pub mod der;
pub mod diff;
pub mod digest;
pub mod index;
pub mod ingest;
pub mod mem;
pub mod names;
pub mod serial;
pub mod signature;
pub mod sort;
pub mod synth;
pub mod wire;

#[cfg(feature = "python")]
mod py;
#[cfg(feature = "python")]
mod pybuf;
#[cfg(feature = "python")]
mod py_cert;
#[cfg(feature = "python")]
mod py_synth;
#[cfg(feature = "python")]
mod py_wire;

#[cfg(feature = "python")]
#[pyo3::pymodule]
fn _core(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    py::register(m)?;
    py_cert::register(m)?;
    py_synth::register(m)?;
    py_wire::register(m)
}
