//! The OCSPRequest parser (RFC 6960 §4.1.1), for untrusted bytes.
//!
//! ```text
//! OCSPRequest ::= SEQUENCE {
//!     tbsRequest              TBSRequest,
//!     optionalSignature   [0] EXPLICIT Signature OPTIONAL }
//! TBSRequest ::= SEQUENCE {
//!     version             [0] EXPLICIT Version DEFAULT v1,
//!     requestorName       [1] EXPLICIT GeneralName OPTIONAL,
//!     requestList             SEQUENCE OF Request,
//!     requestExtensions   [2] EXPLICIT Extensions OPTIONAL }
//! Signature ::= SEQUENCE {
//!     signatureAlgorithm      AlgorithmIdentifier,
//!     signature               BIT STRING,
//!     certs               [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
//! Request ::= SEQUENCE {
//!     reqCert                     CertID,
//!     singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
//! ```
//!
//! Policies (each refusal is a [`RequestError`], answered `malformedRequest`, RFC 6960 §2.3):
//!
//! - Size: input over [`Limits::max_bytes`] is refused unread; more than
//!   [`Limits::max_requests`] Requests are refused as soon as the limit is passed.
//! - DER: strict. Lengths and INTEGERs in their shortest form, no trailing data anywhere, parts
//!   the responder does not use (requestorName, the signature) well-formed to a bounded depth.
//!   One leniency: `version` written out as v1 (DER omits a DEFAULT) is accepted; any other
//!   version is refused. An extension's `critical` written out as FALSE is refused, as in
//!   CRLs and certificates ([`der::default_false`]).
//! - requestList: at least one Request (RFC 6960 says SEQUENCE OF; an empty list asks nothing).
//! - Extensions (RFC 6960 §4.4): at least one when the field is present, none twice; an unknown
//!   critical extension is refused (RFC 5280 §4.2); unknown non-critical ones are ignored.
//!   Understood and ignored: acceptable response types (§4.4.3; the responder always answers
//!   id-pkix-ocsp-basic, which every client must accept), preferred signature algorithms
//!   (§4.4.7), and, per Request, the service locator (§4.4.6).
//! - Nonce (RFC 6960 §4.4.1 as RFC 8954 §2.1 replaces it): `Nonce ::= OCTET STRING
//!   (SIZE(1..32))`, DER-encoded inside extnValue; an empty nonce, one over 32 octets, or an
//!   extnValue that is not one OCTET STRING is refused. The extnValue is echoed byte for byte.
//! - optionalSignature: **accepted and ignored**. Its structure is checked (algorithm, whole
//!   octets of signature, certificates well-formed) but the signature is not verified: who may
//!   ask is decided by the service's access control (an API key, or open access), never by a
//!   signature this responder could not tie to anyone.
//! - requestorName: accepted (well-formed GeneralName) and ignored, for the same reason.
//!
//! ```
//! use jpki_fast_core::ocsp::{Limits, OcspRequest};
//!
//! let der = include_bytes!("../../../../tests/vectors/ocsp/openssl_sha256_nonce.der");
//! let request = OcspRequest::parse(der, &Limits::default()).unwrap();
//! assert_eq!(request.requests.len(), 1);
//! assert_eq!(request.requests[0].cert_id.serial, [0x05, 0x4C, 0xFC, 0xD8]);
//! assert_eq!(request.nonce.unwrap().value.len(), 16);
//! assert!(OcspRequest::parse(&der[..40], &Limits::default()).is_err());
//! ```

use super::cert_id::CertId;
use super::error::{RequestError, RequestErrorKind};
use super::{oid, strict};
use crate::der::{self, tag, DerErrorKind, Reader, Tlv};

/// Size limits of the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests larger than this are refused unread. A request for one certificate is about
    /// 70 to 140 bytes; a signed one with its signer's certificate one or two KB.
    pub max_bytes: usize,
    /// Requests (CertIDs) in one OCSPRequest.
    pub max_requests: usize,
}

impl Limits {
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
    pub const DEFAULT_MAX_REQUESTS: usize = 256;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_bytes: Limits::DEFAULT_MAX_BYTES, max_requests: Limits::DEFAULT_MAX_REQUESTS }
    }
}

/// The nonce of a request (RFC 8954).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce<'a> {
    /// The extension's extnValue contents (the DER OCTET STRING): what the response echoes.
    pub extn_value: &'a [u8],
    /// The nonce octets, 1 to 32.
    pub value: &'a [u8],
}

/// One Request of the requestList.
#[derive(Debug, Clone, Copy)]
pub struct SingleRequest<'a> {
    pub cert_id: CertId<'a>,
}

/// A parsed OCSPRequest, borrowing from its DER.
#[derive(Debug, Clone)]
pub struct OcspRequest<'a> {
    /// The requestorName GeneralName DER, when present (not used to answer).
    pub requestor_name: Option<&'a [u8]>,
    /// The Requests in their order: a response answers them in the same order.
    pub requests: Vec<SingleRequest<'a>>,
    pub nonce: Option<Nonce<'a>>,
    /// The request carried an optionalSignature (checked for structure, not verified).
    pub signed: bool,
}

/// Extensions the parser understands per place; the unknown critical ones are refused.
const REQUEST_EXTENSIONS: &[&[u8]] = &[oid::NONCE, oid::ACCEPTABLE_RESPONSES, oid::PREFERRED_SIGNATURE_ALGORITHMS];
const SINGLE_REQUEST_EXTENSIONS: &[&[u8]] = &[oid::SERVICE_LOCATOR];

impl<'a> OcspRequest<'a> {
    /// Parses one DER OCSPRequest. Never panics; every refusal names the field.
    pub fn parse(input: &'a [u8], limits: &Limits) -> Result<OcspRequest<'a>, RequestError> {
        const FIELD: &str = "OCSPRequest";
        if input.is_empty() {
            return Err(RequestError::new(FIELD, RequestErrorKind::Empty));
        }
        if input.len() > limits.max_bytes {
            return Err(RequestError::new(FIELD, RequestErrorKind::TooLarge { size: input.len(), limit: limits.max_bytes }));
        }
        let mut outer = Reader::new(input);
        let request = strict::read(&mut outer, tag::SEQUENCE, FIELD)?;
        if !outer.is_empty() {
            return Err(RequestError::new(FIELD, RequestErrorKind::TrailingData(input.len() - request.raw.len())));
        }
        let mut r = request.reader();
        let tbs = strict::read(&mut r, tag::SEQUENCE, "tbsRequest")?;
        let signed = match strict::read_optional(&mut r, tag::context_constructed(0), "optionalSignature")? {
            Some(sig) => {
                signature(&sig)?;
                true
            }
            None => false,
        };
        strict::finish(&r, FIELD)?;

        let mut t = tbs.reader();
        if let Some(v) = strict::read_optional(&mut t, tag::context_constructed(0), "tbsRequest.version")? {
            version(&v)?;
        }
        let requestor_name = match strict::read_optional(&mut t, tag::context_constructed(1), "tbsRequest.requestorName")? {
            Some(name) => {
                const NAME: &str = "tbsRequest.requestorName";
                strict::well_formed(&name, NAME)?;
                let mut n = name.reader();
                let general_name = strict::read_any(&mut n, NAME)?;
                strict::finish(&n, NAME)?;
                // GeneralName is a CHOICE of context tags [0]..[8] (RFC 5280 §4.2.1.6).
                if general_name.tag & 0xC0 != 0x80 || general_name.tag & 0x1F > 8 {
                    return Err(strict::der(
                        NAME,
                        der::DerError {
                            offset: general_name.offset,
                            kind: der::DerErrorKind::UnexpectedTag { what: "GeneralName", expected: 0xA4, found: general_name.tag },
                        },
                    ));
                }
                Some(general_name.raw)
            }
            None => None,
        };
        let list = strict::read(&mut t, tag::SEQUENCE, "tbsRequest.requestList")?;
        let mut requests = Vec::new();
        let mut l = list.reader();
        while !l.is_empty() {
            if requests.len() == limits.max_requests {
                let count = requests.len() + count_rest(&mut l);
                return Err(RequestError::new(
                    "tbsRequest.requestList",
                    RequestErrorKind::TooManyRequests { count, limit: limits.max_requests },
                ));
            }
            let one = strict::read(&mut l, tag::SEQUENCE, "Request")?;
            let mut q = one.reader();
            let cert_id = CertId::parse(&strict::read_any(&mut q, "Request.reqCert")?)?;
            if let Some(exts) = strict::read_optional(&mut q, tag::context_constructed(0), "Request.singleRequestExtensions")? {
                extensions(&exts, "Request.singleRequestExtensions", SINGLE_REQUEST_EXTENSIONS)?;
            }
            strict::finish(&q, "Request")?;
            requests.push(SingleRequest { cert_id });
        }
        if requests.is_empty() {
            return Err(RequestError::new("tbsRequest.requestList", RequestErrorKind::NoRequests));
        }
        let mut nonce = None;
        if let Some(exts) = strict::read_optional(&mut t, tag::context_constructed(2), "tbsRequest.requestExtensions")? {
            for ext in extensions(&exts, "tbsRequest.requestExtensions", REQUEST_EXTENSIONS)? {
                if ext.oid == oid::NONCE {
                    nonce = Some(read_nonce(&ext.value)?);
                }
            }
        }
        strict::finish(&t, "tbsRequest")?;
        Ok(OcspRequest { requestor_name, requests, nonce, signed })
    }
}

/// How many more elements a reader holds (for the message of a refusal; stops at bad DER).
fn count_rest(r: &mut Reader<'_>) -> usize {
    let mut n = 0;
    while r.read().is_ok() {
        n += 1;
    }
    n
}

/// `version [0] EXPLICIT Version DEFAULT v1`: only v1 (0).
fn version(v: &Tlv<'_>) -> Result<(), RequestError> {
    const FIELD: &str = "tbsRequest.version";
    let mut vr = v.reader();
    let n = strict::read(&mut vr, tag::INTEGER, FIELD)?;
    strict::finish(&vr, FIELD)?;
    let value = der::small_integer(&n, FIELD).map_err(|e| strict::der(FIELD, e))?;
    strict::integer(&n, FIELD)?;
    if value != 0 {
        return Err(RequestError::new(FIELD, RequestErrorKind::UnsupportedVersion(value)));
    }
    Ok(())
}

/// `optionalSignature [0] EXPLICIT Signature`: its structure, not its validity.
fn signature(sig: &Tlv<'_>) -> Result<(), RequestError> {
    const FIELD: &str = "optionalSignature";
    strict::well_formed(sig, FIELD)?;
    let mut s = sig.reader();
    let body = strict::read(&mut s, tag::SEQUENCE, FIELD)?;
    strict::finish(&s, FIELD)?;
    let mut b = body.reader();
    let alg = strict::read(&mut b, tag::SEQUENCE, "optionalSignature.signatureAlgorithm")?;
    strict::read(&mut alg.reader(), tag::OID, "optionalSignature.signatureAlgorithm")?;
    let bits = strict::read(&mut b, tag::BIT_STRING, "optionalSignature.signature")?;
    if !matches!(bits.value, [0, _, ..]) {
        return Err(RequestError::new("optionalSignature.signature", RequestErrorKind::BitStringNotOctets));
    }
    if let Some(certs) = strict::read_optional(&mut b, tag::context_constructed(0), "optionalSignature.certs")? {
        let mut c = certs.reader();
        let list = strict::read(&mut c, tag::SEQUENCE, "optionalSignature.certs")?;
        strict::finish(&c, "optionalSignature.certs")?;
        let mut l = list.reader();
        while !l.is_empty() {
            strict::read(&mut l, tag::SEQUENCE, "optionalSignature.certs")?;
        }
    }
    strict::finish(&b, FIELD)
}

/// `[n] EXPLICIT Extensions`: SIZE (1..MAX), no duplicates, no unknown critical extension.
fn extensions<'a>(wrapper: &Tlv<'a>, field: &'static str, known: &[&[u8]]) -> Result<Vec<der::Extension<'a>>, RequestError> {
    let mut w = wrapper.reader();
    let list = strict::read(&mut w, tag::SEQUENCE, field)?;
    strict::finish(&w, field)?;
    strict::well_formed(&list, field)?;
    let mut r = list.reader();
    let mut out: Vec<der::Extension<'a>> = Vec::new();
    while !r.is_empty() {
        let ext = der::read_extension(&mut r).map_err(|e| strict::der(field, e))?;
        if out.iter().any(|e| e.oid == ext.oid) {
            return Err(RequestError::new(field, RequestErrorKind::DuplicateExtension(der::oid_to_string(ext.oid))));
        }
        if ext.critical && !known.contains(&ext.oid) {
            return Err(RequestError::new(field, RequestErrorKind::UnsupportedCriticalExtension(der::oid_to_string(ext.oid))));
        }
        out.push(ext);
    }
    if out.is_empty() {
        return Err(RequestError::new(field, RequestErrorKind::EmptyExtensions));
    }
    Ok(out)
}

/// The nonce extension's value: one DER OCTET STRING of 1 to 32 octets (RFC 8954 §2.1).
fn read_nonce<'a>(extn_value: &Tlv<'a>) -> Result<Nonce<'a>, RequestError> {
    const FIELD: &str = "tbsRequest.requestExtensions.nonce";
    let mut r = extn_value.reader();
    let inner = match r.read() {
        Ok(t) if t.tag == tag::OCTET_STRING && r.is_empty() => t,
        Err(e) if matches!(e.kind, DerErrorKind::NonCanonicalLength(_)) => return Err(strict::der(FIELD, e)),
        _ => return Err(RequestError::new(FIELD, RequestErrorKind::NonceNotOctetString)),
    };
    if !(1..=32).contains(&inner.value.len()) {
        return Err(RequestError::new(FIELD, RequestErrorKind::NonceLength(inner.value.len())));
    }
    Ok(Nonce { extn_value: extn_value.value, value: inner.value })
}

/// A DER OCSPRequest (unsigned, v1) for CertIDs (each a CertID's DER, as
/// [`encode_cert_id`](super::cert_id::encode_cert_id) writes it), with a nonce extension when
/// `nonce` (its octets) is given: what a client sends. For tests, benchmarks and clients.
pub fn encode_request(cert_ids: &[&[u8]], nonce: Option<&[u8]>) -> Vec<u8> {
    let mut w = crate::der::Writer::new();
    w.sequence(|w| {
        w.sequence(|w| {
            w.sequence(|w| {
                for id in cert_ids {
                    w.sequence(|w| w.raw(id));
                }
            });
            if let Some(n) = nonce {
                w.explicit(2, |w| {
                    w.sequence(|w| {
                        w.sequence(|w| {
                            w.oid(oid::NONCE);
                            w.octet_string_with(|w| w.octet_string(n));
                        });
                    });
                });
            }
        });
    });
    w.finish().expect("a request has no value the writer refuses")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{DerError, Writer};
    use crate::ocsp::cert_id::{encode_cert_id, HashAlgorithm};
    use crate::signature::HashAlg;

    const SHA1_NO_NONCE: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/openssl_sha1_no_nonce.der");
    const SHA256_NONCE: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/openssl_sha256_nonce.der");
    const TWO_ISSUERS: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/openssl_two_issuers.der");
    const SIGNED: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/openssl_signed.der");
    const VECTORS: [&[u8]; 4] = [SHA1_NO_NONCE, SHA256_NONCE, TWO_ISSUERS, SIGNED];

    fn parse(der: &[u8]) -> Result<OcspRequest<'_>, RequestError> {
        OcspRequest::parse(der, &Limits::default())
    }

    fn kind(der: &[u8]) -> RequestErrorKind {
        parse(der).unwrap_err().kind
    }

    /// The parts of a request, each written by the test as it wants them.
    struct Parts {
        version: Option<Vec<u8>>,
        requestor: Option<Vec<u8>>,
        requests: Vec<Vec<u8>>,
        extensions: Option<Vec<u8>>,
        signature: Option<Vec<u8>>,
        trailing_in_tbs: Vec<u8>,
    }

    fn cert_id(serial: &[u8]) -> Vec<u8> {
        encode_cert_id(HashAlg::Sha1, b"issuer name", b"issuer key", serial)
    }

    /// A CertID whose serialNumber has exactly these content octets (negative ones too).
    fn cert_id_raw(serial: &[u8]) -> Vec<u8> {
        let good = cert_id(&[1]);
        let mut w = Writer::new();
        w.sequence(|w| {
            w.raw(&good[2..good.len() - 3]);
            w.element(tag::INTEGER, serial);
        });
        w.finish().unwrap()
    }

    fn request_item(cert_id: &[u8], extensions: Option<&[u8]>) -> Vec<u8> {
        let mut w = Writer::new();
        w.sequence(|w| {
            w.raw(cert_id);
            if let Some(e) = extensions {
                w.explicit(0, |w| w.raw(e));
            }
        });
        w.finish().unwrap()
    }

    fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.sequence(|w| {
            w.oid(oid);
            if critical {
                w.boolean(true);
            }
            w.octet_string(value);
        });
        w.finish().unwrap()
    }

    fn list(items: &[Vec<u8>]) -> Vec<u8> {
        let mut w = Writer::new();
        w.sequence(|w| items.iter().for_each(|i| w.raw(i)));
        w.finish().unwrap()
    }

    fn nonce_value(n: usize) -> Vec<u8> {
        let mut w = Writer::new();
        w.octet_string(&vec![0xA5; n]);
        w.finish().unwrap()
    }

    impl Parts {
        fn new() -> Parts {
            Parts {
                version: None,
                requestor: None,
                requests: vec![request_item(&cert_id(&[0x05, 0x4C, 0xFC, 0xD8]), None)],
                extensions: None,
                signature: None,
                trailing_in_tbs: vec![],
            }
        }

        fn encode(&self) -> Vec<u8> {
            let mut w = Writer::new();
            w.sequence(|w| {
                w.sequence(|w| {
                    if let Some(v) = &self.version {
                        w.explicit(0, |w| w.raw(v));
                    }
                    if let Some(n) = &self.requestor {
                        w.explicit(1, |w| w.raw(n));
                    }
                    w.raw(&list(&self.requests));
                    if let Some(e) = &self.extensions {
                        w.explicit(2, |w| w.raw(e));
                    }
                    w.raw(&self.trailing_in_tbs);
                });
                if let Some(s) = &self.signature {
                    w.explicit(0, |w| w.raw(s));
                }
            });
            w.finish().unwrap()
        }
    }

    #[test]
    fn reads_what_openssl_sends() {
        let r = parse(SHA1_NO_NONCE).unwrap();
        assert_eq!(r.requests.len(), 1);
        let id = r.requests[0].cert_id;
        assert_eq!(id.hash, HashAlgorithm::Known(HashAlg::Sha1));
        assert_eq!(id.serial_magnitude().unwrap(), [0x05, 0x4C, 0xFC, 0xD8]);
        // OpenSSL's issuerKeyHash is the SHA-1 of the CA's key bits: here the 2023 CA's key id.
        assert_eq!(crate::names::hex_upper(id.issuer_key_hash), "1AC100F596A3BC8C4B3DF195E32699249E9E308A");
        assert!(r.nonce.is_none() && !r.signed && r.requestor_name.is_none());

        let r = parse(SHA256_NONCE).unwrap();
        assert_eq!(r.requests[0].cert_id.hash, HashAlgorithm::Known(HashAlg::Sha256));
        let nonce = r.nonce.unwrap();
        assert_eq!(nonce.value.len(), 16);
        assert_eq!(nonce.extn_value[..2], [0x04, 0x10]);

        let r = parse(TWO_ISSUERS).unwrap();
        assert_eq!(r.requests.len(), 2);
        assert_ne!(r.requests[0].cert_id.issuer_key_hash, r.requests[1].cert_id.issuer_key_hash);
        assert_eq!(r.requests[1].cert_id.serial, [0x03, 0x00, 0x00, 0x01]);

        let r = parse(SIGNED).unwrap();
        assert!(r.signed);
        assert_eq!(r.requestor_name.unwrap()[0], 0xA4); // directoryName
    }

    #[test]
    fn every_field_reads_back() {
        let mut p = Parts::new();
        p.version = Some(vec![0x02, 0x01, 0x00]); // v1 written out: accepted
        let mut w = Writer::new();
        w.explicit(4, |w| {
            w.sequence(|_| {});
        });
        p.requestor = Some(w.finish().unwrap());
        let service_locator = list(&[extension(oid::SERVICE_LOCATOR, false, &[0x30, 0x00])]);
        p.requests = vec![
            request_item(&cert_id(&[0x01]), Some(&service_locator)),
            request_item(&cert_id(&[0x00, 0x80]), None),
            request_item(&cert_id_raw(&[0xFF]), None),
        ];
        p.extensions = Some(list(&[
            extension(oid::NONCE, false, &nonce_value(32)),
            extension(oid::ACCEPTABLE_RESPONSES, true, &list(&[vec![0x06, 0x09, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]])),
            extension(&[0x2A, 0x03, 0x04], false, b"ignored"),
        ]));
        let der = p.encode();
        let r = parse(&der).unwrap();
        assert_eq!(r.requestor_name.unwrap(), [0xA4, 0x02, 0x30, 0x00]);
        let serials: Vec<Option<&[u8]>> = r.requests.iter().map(|q| q.cert_id.serial_magnitude()).collect();
        assert_eq!(serials, [Some(&[0x01][..]), Some(&[0x80][..]), None]);
        assert_eq!(r.nonce.unwrap().value, [0xA5; 32]);
        assert_eq!(r.nonce.unwrap().extn_value, nonce_value(32));
        assert_eq!(r.requests[1].cert_id.raw, cert_id(&[0x80]));
    }

    #[test]
    fn refuses_each_malformed_part() {
        let with = |f: &dyn Fn(&mut Parts)| {
            let mut p = Parts::new();
            f(&mut p);
            kind(&p.encode())
        };
        assert_eq!(kind(&[]), RequestErrorKind::Empty);
        assert_eq!(with(&|p| p.version = Some(vec![0x02, 0x01, 0x01])), RequestErrorKind::UnsupportedVersion(1));
        assert!(matches!(with(&|p| p.version = Some(vec![0x02, 0x01, 0xFF])), RequestErrorKind::Der(_)));
        assert!(matches!(with(&|p| p.version = Some(vec![0x04, 0x01, 0x00])), RequestErrorKind::Der(_)));
        assert_eq!(with(&|p| p.requests.clear()), RequestErrorKind::NoRequests);
        // requestorName: not a GeneralName, or not well-formed inside.
        assert!(matches!(with(&|p| p.requestor = Some(vec![0x30, 0x00])), RequestErrorKind::Der(_)));
        assert!(matches!(
            with(&|p| p.requestor = Some(vec![0xA4, 0x03, 0x30, 0x81, 0x00])),
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonCanonicalLength(_), .. })
        ));
        // Extensions: empty, duplicated, unknown critical.
        assert_eq!(with(&|p| p.extensions = Some(list(&[]))), RequestErrorKind::EmptyExtensions);
        let nonce = extension(oid::NONCE, false, &nonce_value(16));
        assert_eq!(
            with(&|p| p.extensions = Some(list(&[nonce.clone(), nonce.clone()]))),
            RequestErrorKind::DuplicateExtension("1.3.6.1.5.5.7.48.1.2".into())
        );
        assert_eq!(
            with(&|p| p.extensions = Some(list(&[extension(&[0x2A, 0x03, 0x04], true, b"x")]))),
            RequestErrorKind::UnsupportedCriticalExtension("1.2.3.4".into())
        );
        let critical_single = list(&[extension(&[0x2A, 0x03, 0x05], true, b"x")]);
        assert_eq!(
            with(&|p| p.requests = vec![request_item(&cert_id(&[1]), Some(&critical_single))]),
            RequestErrorKind::UnsupportedCriticalExtension("1.2.3.5".into())
        );
        assert_eq!(with(&|p| p.requests = vec![request_item(&cert_id(&[1]), Some(&list(&[])))]), RequestErrorKind::EmptyExtensions);
        // A nonce whose critical is written out as FALSE: not DER (X.690 §11.5 omits DEFAULT values).
        let mut w = Writer::new();
        w.sequence(|w| {
            w.oid(oid::NONCE);
            w.boolean(false);
            w.octet_string(&nonce_value(16));
        });
        let explicit_false = list(&[w.finish().unwrap()]);
        assert!(matches!(
            with(&|p| p.extensions = Some(explicit_false.clone())),
            RequestErrorKind::Der(DerError { kind: DerErrorKind::EncodedDefault("critical"), .. })
        ));
        // Nonce: RFC 8954's 1..32 octets, a DER OCTET STRING.
        let nonce_of = |value: Vec<u8>| with(&|p| p.extensions = Some(list(&[extension(oid::NONCE, false, &value)])));
        assert_eq!(nonce_of(nonce_value(0)), RequestErrorKind::NonceLength(0));
        assert_eq!(nonce_of(nonce_value(33)), RequestErrorKind::NonceLength(33));
        assert_eq!(nonce_of(vec![0xA5; 16]), RequestErrorKind::NonceNotOctetString); // raw bytes, no OCTET STRING
        assert_eq!(nonce_of([nonce_value(4), vec![0x00]].concat()), RequestErrorKind::NonceNotOctetString);
        assert!(matches!(
            nonce_of(vec![0x04, 0x81, 0x01, 0xA5]),
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonCanonicalLength(_), .. })
        ));
        assert!(matches!(nonce_of(vec![]), RequestErrorKind::NonceNotOctetString));
        // Trailing data inside tbsRequest, and after the whole request.
        assert!(matches!(with(&|p| p.trailing_in_tbs = vec![0x05, 0x00]), RequestErrorKind::Der(_)));
        let mut der = Parts::new().encode();
        der.push(0x00);
        assert_eq!(kind(&der), RequestErrorKind::TrailingData(1));
        // A Request with something after its CertID that is not its extensions.
        let mut w = Writer::new();
        w.sequence(|w| {
            w.raw(&cert_id(&[1]));
            w.null();
        });
        let item = w.finish().unwrap();
        assert!(matches!(with(&|p| p.requests = vec![item.clone()]), RequestErrorKind::Der(_)));
        // Signature: not whole octets, algorithm missing, certs not a SEQUENCE OF.
        let sig = |alg: bool, bits: &[u8], certs: Option<&[u8]>| {
            let mut w = Writer::new();
            w.sequence(|w| {
                if alg {
                    w.sequence(|w| w.oid(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]));
                }
                w.element(tag::BIT_STRING, bits);
                if let Some(c) = certs {
                    w.explicit(0, |w| w.raw(c));
                }
            });
            w.finish().unwrap()
        };
        let signed = |s: Vec<u8>| {
            let mut p = Parts::new();
            p.signature = Some(s);
            p.encode()
        };
        let cert = [0x30, 0x03, 0x02, 0x01, 0x01];
        assert!(parse(&signed(sig(true, &[0x00, 0x01], Some(&list(&[cert.to_vec()]))))).unwrap().signed);
        assert_eq!(kind(&signed(sig(true, &[0x01, 0x80], None))), RequestErrorKind::BitStringNotOctets);
        assert_eq!(kind(&signed(sig(true, &[0x00], None))), RequestErrorKind::BitStringNotOctets);
        assert!(matches!(kind(&signed(sig(false, &[0x00, 0x01], None))), RequestErrorKind::Der(_)));
        assert!(matches!(kind(&signed(sig(true, &[0x00, 0x01], Some(&[0x04, 0x00])))), RequestErrorKind::Der(_)));
        assert!(matches!(kind(&signed(sig(true, &[0x00, 0x01], Some(&list(&[vec![0x04, 0x00]]))))), RequestErrorKind::Der(_)));
        // Something after the signature.
        let mut der = signed(sig(true, &[0x00, 0x01], None));
        der.extend([0x05, 0x00]);
        der[1] += 2;
        assert!(matches!(kind(&der), RequestErrorKind::Der(_)));
    }

    #[test]
    fn encoded_requests_read_back_as_openssl_writes_them() {
        // OpenSSL's SHA-1 request without a nonce is exactly what encode_request writes.
        let parsed = parse(SHA1_NO_NONCE).unwrap();
        assert_eq!(encode_request(&[parsed.requests[0].cert_id.raw], None), SHA1_NO_NONCE);
        let parsed = parse(SHA256_NONCE).unwrap();
        let nonce = parsed.nonce.unwrap().value;
        assert_eq!(encode_request(&[parsed.requests[0].cert_id.raw], Some(nonce)), SHA256_NONCE);
        let two = parse(TWO_ISSUERS).unwrap();
        let ids: Vec<&[u8]> = two.requests.iter().map(|q| q.cert_id.raw).collect();
        assert_eq!(encode_request(&ids, Some(two.nonce.unwrap().value)), TWO_ISSUERS);
    }

    #[test]
    fn size_limits() {
        let limits = Limits { max_bytes: SHA256_NONCE.len() - 1, max_requests: 1 };
        assert_eq!(
            OcspRequest::parse(SHA256_NONCE, &limits).unwrap_err().kind,
            RequestErrorKind::TooLarge { size: SHA256_NONCE.len(), limit: SHA256_NONCE.len() - 1 }
        );
        let limits = Limits { max_bytes: 4096, max_requests: 1 };
        let e = OcspRequest::parse(TWO_ISSUERS, &limits).unwrap_err();
        assert_eq!((e.field, e.kind), ("tbsRequest.requestList", RequestErrorKind::TooManyRequests { count: 2, limit: 1 }));
        let mut p = Parts::new();
        p.requests = (0..300u32).map(|i| request_item(&cert_id(&i.to_be_bytes()), None)).collect();
        assert_eq!(kind(&p.encode()), RequestErrorKind::TooManyRequests { count: 300, limit: Limits::DEFAULT_MAX_REQUESTS });
        p.requests.truncate(Limits::DEFAULT_MAX_REQUESTS);
        assert_eq!(parse(&p.encode()).unwrap().requests.len(), Limits::DEFAULT_MAX_REQUESTS);
        let big = vec![0x30; Limits::DEFAULT_MAX_BYTES + 1];
        assert!(matches!(kind(&big), RequestErrorKind::TooLarge { .. }));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        for v in VECTORS {
            for n in 0..v.len() {
                assert!(parse(&v[..n]).is_err(), "prefix of {n} bytes parsed");
            }
        }
    }

    #[test]
    fn every_single_byte_corruption_parses_or_errs_without_panicking() {
        for v in VECTORS {
            let mut buf = v.to_vec();
            for i in 0..buf.len() {
                for flip in [0x01u8, 0x20, 0x80, 0xFF] {
                    buf[i] ^= flip;
                    let _ = parse(&buf);
                    buf[i] ^= flip;
                }
            }
        }
    }

    #[test]
    fn garbage_is_refused() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            assert!(parse(&bytes).is_err());
        }
        assert!(parse(b"GET / HTTP/1.1\r\n").is_err());
        assert!(parse(&[0x30, 0x80, 0x00, 0x00]).is_err()); // BER indefinite length
    }
}
