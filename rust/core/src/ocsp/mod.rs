//! OCSP (RFC 6960): the request parser, CertID matching, and the signed response encoder of the
//! jpki-fast responder. One concept per file, as rustls-webpki lays its modules out:
//!
//! - [`request`]: [`OcspRequest::parse`], a strict parser for untrusted bytes (RFC 6960 §4.1),
//!   with the nonce limits of RFC 8954; it never panics and has size limits ([`Limits`]).
//! - [`cert_id`]: [`CertId`] (RFC 6960 §4.1.1) and [`IssuerHashes`], which finds the trusted CA
//!   key a CertID names by its issuerNameHash and issuerKeyHash (SHA-1, SHA-256, SHA-384,
//!   SHA-512). JPKI's key generations share one name, so the key hash is what tells them apart.
//! - [`response`]: the BasicOCSPResponse (RFC 6960 §4.2.1) written with the core's DER
//!   [`Writer`](crate::der::Writer): responderID byKey, producedAt, SingleResponses good /
//!   revoked / unknown with thisUpdate and nextUpdate, the nonce echoed, the responder
//!   certificate in `certs`; and the unsigned error responses (malformedRequest, unauthorized, ...).
//! - [`signer`]: the responder's certificate and key ([`Responder`]): ECDSA P-256 with SHA-256
//!   or RSA PKCS#1 v1.5 with SHA-256, through aws-lc-rs; many responses signed at once on all
//!   cores ([`Responder::sign_many`]) for caches of pre-produced responses (RFC 5019).
//! - [`error`]: [`RequestError`] (why a request is malformed) and [`ResponderError`]; `strict`:
//!   the DER rules a request must keep (shortest lengths and INTEGERs, opaque parts well-formed).
//!
//! What a response *says* (which serial is good, revoked or unknown, and on which CRL that
//! rests) is decided by the caller from the store (`python/jpki_fast/ocsp.py`); this module
//! only reads and writes the protocol.

pub mod cert_id;
pub mod error;
pub mod request;
pub mod response;
pub mod signer;
mod strict;

pub use cert_id::{CertId, HashAlgorithm, IssuerHashes};
pub use error::{RequestError, RequestErrorKind, ResponderError};
pub use request::{encode_request, Limits, Nonce, OcspRequest, SingleRequest};
pub use response::{error_response, CertStatus, ResponseData, ResponseStatus, SingleResponse};
pub use signer::{Responder, SigningAlgorithm};

/// Object identifiers (content octets) of RFC 6960 §4.4 and Appendix B.
pub mod oid {
    /// id-pkix-ocsp-basic 1.3.6.1.5.5.7.48.1.1 (the response type, RFC 6960 §4.2.1).
    pub const BASIC: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
    /// id-pkix-ocsp-nonce 1.3.6.1.5.5.7.48.1.2 (RFC 6960 §4.4.1, RFC 8954).
    pub const NONCE: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
    /// id-pkix-ocsp-crl 1.3.6.1.5.5.7.48.1.3 (CRL references, RFC 6960 §4.4.2).
    pub const CRL: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x03];
    /// id-pkix-ocsp-response 1.3.6.1.5.5.7.48.1.4 (acceptable response types, RFC 6960 §4.4.3).
    pub const ACCEPTABLE_RESPONSES: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x04];
    /// id-pkix-ocsp-nocheck 1.3.6.1.5.5.7.48.1.5 (RFC 6960 §4.2.2.2.1).
    pub const NOCHECK: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x05];
    /// id-pkix-ocsp-service-locator 1.3.6.1.5.5.7.48.1.7 (RFC 6960 §4.4.6).
    pub const SERVICE_LOCATOR: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x07];
    /// id-pkix-ocsp-pref-sig-algs 1.3.6.1.5.5.7.48.1.8 (RFC 6960 §4.4.7).
    pub const PREFERRED_SIGNATURE_ALGORITHMS: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x08];
    /// id-ce-invalidityDate 2.5.29.24 (a CRL entry extension, also a singleExtension: §4.4.8).
    pub const INVALIDITY_DATE: &[u8] = &[0x55, 0x1D, 0x18];
    /// id-kp-OCSPSigning 1.3.6.1.5.5.7.3.9 (RFC 6960 §4.2.2.2).
    pub const OCSP_SIGNING: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
}
