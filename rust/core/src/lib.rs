//! jpki-fast core: the hot paths of JPKI revocation checking, in pure Rust (no Python here:
//! the bindings are the `jpki-fast-python` crate). docs/DESIGN.md describes the contracts these
//! modules implement.
//!
//! Reading X.509:
//! - [`der`]: a strict DER reader, and a DER [`der::Writer`]; [`pem`]: PEM text; [`time`]:
//!   calendar arithmetic; [`names`]: distinguished names as text, and RFC 5280 name matching;
//!   [`serial`]: serial numbers as index keys.
//! - [`crl`]: streaming CRL parser; [`cert`]: certificate parser; [`signature`]: signature
//!   algorithms and RSA verification (aws-lc-rs).
//!
//! Trust and verification:
//! - [`trust`]: the trusted CA keys and the one rule that ties a CRL or certificate to its key.
//! - [`ingest`]: parallel read + verify + collect of many CRL files.
//! - [`validate`]: JPKI certificate validation; [`bulk`]: bulk RSA verification and batch
//!   certificate checks on all cores.
//!
//! The revocation index:
//! - [`index`]: its layout, build and lookups; [`sort`]: the radix sort it is built with;
//!   [`assemble`]: a snapshot's per-issuer indexes from CRLs and the previous snapshot.
//! - [`check`]: batch status checks; [`one`]: the status of one serial, on the calling thread;
//!   [`diff`]: what changed between two snapshots.
//! - [`digest`]: file checksums; [`mem`]: large buffers.
//!
//! On the wire:
//! - [`wire`]: batch status requests (a JSON scanner for the two request shapes, lenient serial
//!   columns) and JSON responses rendered from result columns.
//! - [`ocsp`]: OCSP (RFC 6960): the request parser, CertID matching, signed responses.
//!
//! Behind the `synth` feature, [`synth`](crate::synth) makes synthetic data (signed CRLs, RSA keys and
//! signatures) for `jpki-fast synth`, tests and benchmarks; nothing on a production path uses it.

/// Phase timings on stderr when `JPKI_FAST_TRACE` is set (for profiling; off by default).
pub fn trace(phase: &str, since: std::time::Instant) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("JPKI_FAST_TRACE").is_some()) {
        eprintln!("jpki-fast trace: {phase}: {:.1} ms", since.elapsed().as_secs_f64() * 1e3);
    }
}

pub mod assemble;
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
pub mod ocsp;
pub mod one;
pub mod pem;
pub mod serial;
pub mod signature;
pub mod sort;
#[cfg(feature = "synth")]
pub mod synth;
pub mod time;
pub mod trust;
pub mod validate;
pub mod wire;
