//! The OCSP request parser on arbitrary bytes (`rust/core/src/ocsp/request.rs`): it must never
//! panic, and what it accepts must hold together: every CertID re-parses alone, finding an
//! issuer never panics, and a request re-encoded from what was read parses to the same CertIDs
//! and nonce.
#![no_main]

use jpki_fast_core::ocsp::{cert_id, encode_request, IssuerHashes, Limits, OcspRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(request) = OcspRequest::parse(data, &limits) else { return };
    assert!(!request.requests.is_empty() && request.requests.len() <= limits.max_requests);
    let issuers = IssuerHashes::new([(b"name".as_slice(), b"key".as_slice())]);
    let mut ids = Vec::new();
    for q in &request.requests {
        let again = cert_id::parse_cert_id(q.cert_id.raw).expect("a CertID that parsed in a request parses alone");
        assert_eq!(again.serial, q.cert_id.serial);
        let _ = issuers.find(&q.cert_id);
        let _ = q.cert_id.serial_magnitude();
        ids.push(q.cert_id.raw);
    }
    if let Some(nonce) = request.nonce {
        assert!((1..=32).contains(&nonce.value.len()));
    }
    let encoded = encode_request(&ids, request.nonce.map(|n| n.value));
    if encoded.len() <= limits.max_bytes {
        let back = OcspRequest::parse(&encoded, &limits).expect("a re-encoded request parses");
        assert_eq!(back.requests.len(), request.requests.len());
        assert_eq!(back.nonce.map(|n| n.value), request.nonce.map(|n| n.value));
    }
});
