//! Errors of the OCSP module: why a request cannot be answered ([`RequestError`], which a
//! responder answers `malformedRequest`, RFC 6960 §2.3), and why a responder certificate and key
//! cannot sign ([`ResponderError`]).
//!
//! Messages name the field at fault and what is wrong with it, never its value: a request
//! holds serial numbers, which the project never puts in a message or a log line.

use crate::cert::CertError;
use crate::der::writer::WriteError;
use crate::der::DerError;

/// Why an OCSPRequest was refused: the field (`"tbsRequest.requestList"`, `"CertID.serialNumber"`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct RequestError {
    pub field: &'static str,
    pub kind: RequestErrorKind,
}

/// What is wrong with a request, a variant per refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestErrorKind {
    #[error("empty request")]
    Empty,
    #[error("{size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Der(DerError),
    #[error("{0} bytes of trailing data")]
    TrailingData(usize),
    #[error("version {0} is not v1(0), the only version RFC 6960 §4.1.1 defines")]
    UnsupportedVersion(u64),
    #[error("no Request in requestList")]
    NoRequests,
    #[error("{count} requests exceed the limit of {limit} per OCSPRequest")]
    TooManyRequests { count: usize, limit: usize },
    #[error("{found} octets where the hash algorithm gives {expected}")]
    HashLength { expected: usize, found: usize },
    #[error("empty SEQUENCE (Extensions has SIZE (1..MAX), RFC 5280 §4.1)")]
    EmptyExtensions,
    #[error("extension {0} appears twice (RFC 5280 §4.2)")]
    DuplicateExtension(String),
    #[error("critical extension {0} is not supported")]
    UnsupportedCriticalExtension(String),
    #[error("nonce is not a DER OCTET STRING (RFC 8954: Nonce ::= OCTET STRING (SIZE(1..32)))")]
    NonceNotOctetString,
    #[error("nonce of {0} octets is outside 1..32 (RFC 8954 §2.1)")]
    NonceLength(usize),
    #[error("BIT STRING has unused bits or is empty")]
    BitStringNotOctets,
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
}

impl RequestError {
    pub(crate) fn new(field: &'static str, kind: RequestErrorKind) -> RequestError {
        RequestError { field, kind }
    }
}

/// Why a responder certificate and private key cannot be used to sign responses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponderError {
    #[error("responder certificate: {0}")]
    Certificate(CertError),
    #[error("responder key: not an unencrypted PKCS#8 private key of an ECDSA P-256 or RSA key ({0})")]
    Key(aws_lc_rs::error::KeyRejected),
    #[error("responder key type {found} does not match the certificate's key ({certificate})")]
    KeyTypeMismatch { found: &'static str, certificate: String },
    #[error("responder key is not the private key of the responder certificate")]
    KeyMismatch,
    #[error("responder certificate key {0}: only ECDSA P-256 and RSA keys of 2048 to 8192 bits are supported")]
    UnsupportedKey(String),
    #[error("signing failed")]
    Sign,
    #[error("cannot encode the response: {0}")]
    Encode(WriteError),
}
