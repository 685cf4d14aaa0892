//! OCSP responses (RFC 6960 §4.2.1), written with the core's DER [`Writer`].
//!
//! ```text
//! OCSPResponse ::= SEQUENCE {
//!    responseStatus         OCSPResponseStatus,
//!    responseBytes          [0] EXPLICIT ResponseBytes OPTIONAL }
//! ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
//! BasicOCSPResponse ::= SEQUENCE {
//!    tbsResponseData      ResponseData,
//!    signatureAlgorithm   AlgorithmIdentifier,
//!    signature            BIT STRING,
//!    certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
//! ResponseData ::= SEQUENCE {
//!    version              [0] EXPLICIT Version DEFAULT v1,
//!    responderID              ResponderID,
//!    producedAt               GeneralizedTime,
//!    responses                SEQUENCE OF SingleResponse,
//!    responseExtensions   [1] EXPLICIT Extensions OPTIONAL }
//! ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }
//! SingleResponse ::= SEQUENCE {
//!    certID                       CertID,
//!    certStatus                   CertStatus,
//!    thisUpdate                   GeneralizedTime,
//!    nextUpdate         [0]       EXPLICIT GeneralizedTime OPTIONAL,
//!    singleExtensions   [1]       EXPLICIT Extensions OPTIONAL }
//! CertStatus ::= CHOICE {
//!    good        [0]     IMPLICIT NULL,
//!    revoked     [1]     IMPLICIT RevokedInfo,
//!    unknown     [2]     IMPLICIT UnknownInfo }
//! RevokedInfo ::= SEQUENCE {
//!    revocationTime              GeneralizedTime,
//!    revocationReason    [0]     EXPLICIT CRLReason OPTIONAL }
//! ```
//!
//! (RFC 6960's module has EXPLICIT tags by default, so `byKey [2]` wraps the OCTET STRING.)
//! The responder is named by key (the SHA-1 of its public key bits, §4.2.2.3), as RFC 5019 §2.2.3
//! recommends: shorter than a name, and the same bytes in every response. Each SingleResponse
//! echoes its request's CertID byte for byte; the nonce extension, when the request had one, is
//! echoed as its extnValue was (RFC 8954); an entry's invalidityDate travels as a singleExtension
//! (§4.4.8 allows the CRL entry extensions there).

use super::oid;
use crate::der::{writer::WriteError, Writer};

/// OCSPResponseStatus (RFC 6960 §4.2.1); 4 is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    /// Response has valid confirmations.
    Successful = 0,
    /// Illegal confirmation request.
    MalformedRequest = 1,
    /// Internal error in issuer.
    InternalError = 2,
    /// Try again later.
    TryLater = 3,
    /// Must sign the request.
    SigRequired = 5,
    /// Request unauthorized (RFC 5019 §2.2.3: the responder is not authoritative for the issuer).
    Unauthorized = 6,
}

impl ResponseStatus {
    pub const ALL: [ResponseStatus; 6] = [
        ResponseStatus::Successful,
        ResponseStatus::MalformedRequest,
        ResponseStatus::InternalError,
        ResponseStatus::TryLater,
        ResponseStatus::SigRequired,
        ResponseStatus::Unauthorized,
    ];

    /// The ASN.1 name: `successful`, `malformedRequest`, ...
    pub fn name(self) -> &'static str {
        match self {
            ResponseStatus::Successful => "successful",
            ResponseStatus::MalformedRequest => "malformedRequest",
            ResponseStatus::InternalError => "internalError",
            ResponseStatus::TryLater => "tryLater",
            ResponseStatus::SigRequired => "sigRequired",
            ResponseStatus::Unauthorized => "unauthorized",
        }
    }

    pub fn from_name(name: &str) -> Option<ResponseStatus> {
        ResponseStatus::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The unsigned response for a status other than `successful` (which needs responseBytes):
/// `SEQUENCE { ENUMERATED status }`. None for `Successful`.
///
/// ```
/// use jpki_fast_core::ocsp::{error_response, ResponseStatus};
/// assert_eq!(error_response(ResponseStatus::MalformedRequest).unwrap(), [0x30, 0x03, 0x0A, 0x01, 0x01]);
/// assert_eq!(error_response(ResponseStatus::Unauthorized).unwrap(), [0x30, 0x03, 0x0A, 0x01, 0x06]);
/// assert!(error_response(ResponseStatus::Successful).is_none());
/// ```
pub fn error_response(status: ResponseStatus) -> Option<Vec<u8>> {
    if status == ResponseStatus::Successful {
        return None;
    }
    Some(vec![0x30, 0x03, 0x0A, 0x01, status as u8])
}

/// What a SingleResponse says of its certificate (RFC 6960 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// Seconds since 1970; the RFC 5280 §5.3.1 reason code, when the CRL entry had one.
    Revoked {
        time: i64,
        reason: Option<u8>,
    },
    Unknown,
}

/// One answer: for the CertID (its exact DER), the status and the interval it holds for.
#[derive(Debug, Clone, Copy)]
pub struct SingleResponse<'a> {
    pub cert_id: &'a [u8],
    pub status: CertStatus,
    pub this_update: i64,
    /// None: omitted ("newer revocation information is available all the time", §4.2.2.1).
    pub next_update: Option<i64>,
    /// The CRL entry's invalidityDate (RFC 5280 §5.3.2), as a singleExtension.
    pub invalidity_date: Option<i64>,
}

/// The signed part of a BasicOCSPResponse, before it is signed.
#[derive(Debug, Clone)]
pub struct ResponseData<'a> {
    pub produced_at: i64,
    pub responses: Vec<SingleResponse<'a>>,
    /// The request nonce's extnValue contents, echoed.
    pub nonce: Option<&'a [u8]>,
}

impl ResponseData<'_> {
    /// The DER of `tbsResponseData` for a responder named by `key_hash`.
    pub fn tbs(&self, key_hash: &[u8]) -> Result<Vec<u8>, WriteError> {
        let mut w = Writer::with_capacity(128 + self.responses.len() * 96);
        w.sequence(|w| {
            w.explicit(2, |w| w.octet_string(key_hash));
            w.generalized_time(self.produced_at);
            w.sequence(|w| self.responses.iter().for_each(|s| single_response(w, s)));
            if let Some(nonce) = self.nonce {
                w.explicit(1, |w| {
                    w.sequence(|w| {
                        w.sequence(|w| {
                            w.oid(oid::NONCE);
                            w.octet_string(nonce);
                        });
                    });
                });
            }
        });
        w.finish()
    }
}

fn single_response(w: &mut Writer, s: &SingleResponse<'_>) {
    w.sequence(|w| {
        w.raw(s.cert_id);
        match s.status {
            CertStatus::Good => w.implicit(0, &[]),
            CertStatus::Revoked { time, reason } => {
                w.constructed(crate::der::tag::context_constructed(1), |w| {
                    w.generalized_time(time);
                    if let Some(code) = reason {
                        w.explicit(0, |w| w.enumerated(code as u64));
                    }
                });
            }
            CertStatus::Unknown => w.implicit(2, &[]),
        }
        w.generalized_time(s.this_update);
        if let Some(next) = s.next_update {
            w.explicit(0, |w| w.generalized_time(next));
        }
        if let Some(invalidity) = s.invalidity_date {
            w.explicit(1, |w| {
                w.sequence(|w| {
                    w.sequence(|w| {
                        w.oid(oid::INVALIDITY_DATE);
                        w.octet_string_with(|w| w.generalized_time(invalidity));
                    });
                });
            });
        }
    });
}

/// The whole `successful` OCSPResponse around a signed BasicOCSPResponse.
pub(crate) fn successful(tbs: &[u8], algorithm: &[u8], signature: &[u8], certificate: &[u8]) -> Result<Vec<u8>, WriteError> {
    let mut w = Writer::with_capacity(tbs.len() + algorithm.len() + signature.len() + certificate.len() + 48);
    w.sequence(|w| {
        w.enumerated(ResponseStatus::Successful as u64);
        w.explicit(0, |w| {
            w.sequence(|w| {
                w.oid(oid::BASIC);
                w.octet_string_with(|w| {
                    w.sequence(|w| {
                        w.raw(tbs);
                        w.raw(algorithm);
                        w.bit_string(0, signature);
                        w.explicit(0, |w| {
                            w.sequence(|w| w.raw(certificate));
                        });
                    });
                });
            });
        });
    });
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{self, tag, Reader};

    #[test]
    fn statuses_by_name() {
        for s in ResponseStatus::ALL {
            assert_eq!(ResponseStatus::from_name(s.name()), Some(s));
        }
        assert_eq!(ResponseStatus::from_name("nope"), None);
    }

    #[test]
    fn tbs_response_data_reads_back() {
        let cert_id = crate::ocsp::cert_id::encode_cert_id(crate::signature::HashAlg::Sha1, b"n", b"k", &[0x12]);
        let data = ResponseData {
            produced_at: 1_796_000_000,
            responses: vec![
                SingleResponse {
                    cert_id: &cert_id,
                    status: CertStatus::Good,
                    this_update: 1_795_990_000,
                    next_update: Some(1_796_100_000),
                    invalidity_date: None,
                },
                SingleResponse {
                    cert_id: &cert_id,
                    status: CertStatus::Revoked { time: 1_700_000_000, reason: Some(4) },
                    this_update: 1_795_990_000,
                    next_update: None,
                    invalidity_date: Some(1_699_000_000),
                },
                SingleResponse {
                    cert_id: &cert_id,
                    status: CertStatus::Revoked { time: 1_700_000_000, reason: None },
                    this_update: 1,
                    next_update: None,
                    invalidity_date: None,
                },
                SingleResponse {
                    cert_id: &cert_id,
                    status: CertStatus::Unknown,
                    this_update: 1_796_000_000,
                    next_update: None,
                    invalidity_date: None,
                },
            ],
            nonce: Some(&[0x04, 0x02, 0xAB, 0xCD]),
        };
        let tbs = data.tbs(&[0x11; 20]).unwrap();
        let mut r = Reader::new(&tbs);
        let seq = r.read_tag(tag::SEQUENCE, "tbs").unwrap();
        r.finish("tbs").unwrap();
        let mut t = seq.reader();
        let by_key = t.read_tag(tag::context_constructed(2), "byKey").unwrap();
        assert_eq!(by_key.reader().read_tag(tag::OCTET_STRING, "kh").unwrap().value, [0x11; 20]);
        let produced = t.read_tag(tag::GENERALIZED_TIME, "producedAt").unwrap();
        assert_eq!(der::time(&produced, "producedAt").unwrap(), 1_796_000_000);
        let responses = t.read_tag(tag::SEQUENCE, "responses").unwrap();
        let mut rs = responses.reader();
        let mut statuses = vec![];
        while !rs.is_empty() {
            let one = rs.read_tag(tag::SEQUENCE, "SingleResponse").unwrap();
            let mut s = one.reader();
            assert_eq!(s.read().unwrap().raw, cert_id.as_slice());
            let status = s.read().unwrap();
            statuses.push((status.tag, status.value.to_vec()));
            der::time(&s.read_tag(tag::GENERALIZED_TIME, "thisUpdate").unwrap(), "t").unwrap();
            while !s.is_empty() {
                s.read().unwrap();
            }
        }
        assert_eq!(statuses[0], (0x80, vec![]));
        assert_eq!(statuses[1].0, 0xA1);
        assert_eq!(&statuses[1].1[..2], [tag::GENERALIZED_TIME, 15]);
        assert_eq!(&statuses[1].1[17..], [0xA0, 0x03, 0x0A, 0x01, 0x04]);
        assert_eq!(statuses[2].1.len(), 17); // no reason
        assert_eq!(statuses[3], (0x82, vec![]));
        let exts = t.read_tag(tag::context_constructed(1), "responseExtensions").unwrap();
        let list = exts.reader().read_tag(tag::SEQUENCE, "exts").unwrap();
        let ext = der::read_extension(&mut list.reader()).unwrap();
        assert_eq!((ext.oid, ext.critical, ext.value.value), (oid::NONCE, false, &[0x04, 0x02, 0xAB, 0xCD][..]));
        t.finish("tbs").unwrap();
    }

    #[test]
    fn times_the_writer_cannot_encode_are_errors() {
        let cert_id = [0x30, 0x00];
        let data = ResponseData {
            produced_at: 0,
            responses: vec![SingleResponse {
                cert_id: &cert_id,
                status: CertStatus::Good,
                this_update: i64::MAX,
                next_update: None,
                invalidity_date: None,
            }],
            nonce: None,
        };
        assert!(matches!(data.tbs(&[0; 20]), Err(WriteError::TimeOutOfRange(_))));
    }
}
