//! The CertID of a request (RFC 6960 §4.1.1), and finding the trusted CA key it names.
//!
//! ```text
//! CertID ::= SEQUENCE {
//!     hashAlgorithm   AlgorithmIdentifier,
//!     issuerNameHash  OCTET STRING, -- Hash of issuer's DN
//!     issuerKeyHash   OCTET STRING, -- Hash of issuer's public key
//!     serialNumber    CertificateSerialNumber }
//! ```
//!
//! issuerNameHash is the hash of the DER of the issuer's distinguished name (the CA
//! certificate's subject, as OpenSSL and Java compute it); issuerKeyHash is the hash of the value
//! of the issuer certificate's subjectPublicKey BIT STRING, without tag, length and unused-bits
//! octet (RFC 6960 §4.1.1). JPKI's three key generations of a CA share one name, so the name
//! hash alone cannot tell them apart: [`IssuerHashes::find`] looks the key hash up first and
//! then requires the name hash to match too.

use std::collections::HashMap;

use super::error::{RequestError, RequestErrorKind};
use super::strict;
use crate::der::{tag, Reader, Tlv};
use crate::signature::{self, HashAlg};

const SHA1: &[u8] = &[0x2B, 0x0E, 0x03, 0x02, 0x1A];
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

/// The hash algorithm of a CertID: one this responder computes, or another (its OID content
/// octets), whose CertIDs can name no issuer we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm<'a> {
    Known(HashAlg),
    Unsupported(&'a [u8]),
}

impl HashAlgorithm<'_> {
    fn of(oid: &[u8]) -> HashAlgorithm<'_> {
        match oid {
            SHA1 => HashAlgorithm::Known(HashAlg::Sha1),
            SHA256 => HashAlgorithm::Known(HashAlg::Sha256),
            SHA384 => HashAlgorithm::Known(HashAlg::Sha384),
            SHA512 => HashAlgorithm::Known(HashAlg::Sha512),
            other => HashAlgorithm::Unsupported(other),
        }
    }

    /// `sha1`, `sha256`, ... or the dotted OID.
    pub fn name(&self) -> String {
        match self {
            HashAlgorithm::Known(h) => h.name().to_string(),
            HashAlgorithm::Unsupported(oid) => crate::der::oid_to_string(oid),
        }
    }
}

/// One CertID, borrowing from the request.
#[derive(Debug, Clone, Copy)]
pub struct CertId<'a> {
    /// The whole CertID DER: a response echoes it exactly (RFC 6960 §4.2.1), so the client finds
    /// its answer by the same hash algorithm and encoding it asked with.
    pub raw: &'a [u8],
    pub hash: HashAlgorithm<'a>,
    pub issuer_name_hash: &'a [u8],
    pub issuer_key_hash: &'a [u8],
    /// serialNumber's content octets: two's complement, in its shortest form.
    pub serial: &'a [u8],
}

impl<'a> CertId<'a> {
    /// Parses a CertID element (strict DER; the hashes must have the hash algorithm's length).
    pub fn parse(tlv: &Tlv<'a>) -> Result<CertId<'a>, RequestError> {
        const FIELD: &str = "CertID";
        let cert_id = tlv.expect(tag::SEQUENCE, FIELD).map_err(|e| strict::der(FIELD, e))?;
        let mut r = cert_id.reader();
        let alg = strict::read(&mut r, tag::SEQUENCE, "CertID.hashAlgorithm")?;
        let name_hash = strict::read(&mut r, tag::OCTET_STRING, "CertID.issuerNameHash")?;
        let key_hash = strict::read(&mut r, tag::OCTET_STRING, "CertID.issuerKeyHash")?;
        let serial_tlv = strict::read(&mut r, tag::INTEGER, "CertID.serialNumber")?;
        strict::finish(&r, FIELD)?;
        let serial = strict::integer(&serial_tlv, "CertID.serialNumber")?;
        let hash = hash_algorithm(&alg)?;
        if let HashAlgorithm::Known(h) = hash {
            for (field, value) in [("CertID.issuerNameHash", name_hash.value), ("CertID.issuerKeyHash", key_hash.value)] {
                if value.len() != h.output_len() {
                    return Err(RequestError::new(field, RequestErrorKind::HashLength { expected: h.output_len(), found: value.len() }));
                }
            }
        }
        Ok(CertId { raw: cert_id.raw, hash, issuer_name_hash: name_hash.value, issuer_key_hash: key_hash.value, serial })
    }

    /// The serial as an unsigned big-endian magnitude (the sign octet dropped), or None for a
    /// negative serialNumber, which no certificate of the trust store can carry here.
    pub fn serial_magnitude(&self) -> Option<&'a [u8]> {
        match self.serial {
            [first, ..] if first & 0x80 != 0 => None,
            [0x00, rest @ ..] if !rest.is_empty() => Some(rest),
            v => Some(v),
        }
    }
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`, parameters
/// absent or NULL (RFC 5754 §2 allows both for the SHA-2 family; OpenSSL writes NULL).
fn hash_algorithm<'a>(alg: &Tlv<'a>) -> Result<HashAlgorithm<'a>, RequestError> {
    const FIELD: &str = "CertID.hashAlgorithm";
    let mut r = alg.reader();
    let oid = strict::read(&mut r, tag::OID, FIELD)?;
    if !r.is_empty() {
        let params = strict::read_any(&mut r, FIELD)?;
        strict::well_formed(&params, FIELD)?;
        if params.tag != tag::NULL || !params.value.is_empty() {
            // Parameters of an algorithm this responder does not compute are not its business;
            // a known hash with parameters other than NULL is malformed.
            if let HashAlgorithm::Known(_) = HashAlgorithm::of(oid.value) {
                return Err(strict::der(
                    FIELD,
                    crate::der::DerError {
                        offset: params.offset,
                        kind: crate::der::DerErrorKind::UnexpectedTag { what: "NULL parameters", expected: tag::NULL, found: params.tag },
                    },
                ));
            }
        }
    }
    strict::finish(&r, FIELD)?;
    Ok(HashAlgorithm::of(oid.value))
}

/// (hash, issuerKeyHash) -> [(issuer index, issuerNameHash)], in trust store order.
type ByKey = HashMap<(HashAlg, Vec<u8>), Vec<(usize, Vec<u8>)>>;

/// The issuerNameHash and issuerKeyHash of every trusted CA key under each supported hash, for
/// finding the key a CertID names.
#[derive(Debug, Default)]
pub struct IssuerHashes {
    by_key: ByKey,
}

const HASHES: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

impl IssuerHashes {
    /// From each issuer's subject Name DER and subjectPublicKey bits, in trust store order (the
    /// index [`find`](Self::find) returns is the position in this list).
    pub fn new<'b>(issuers: impl IntoIterator<Item = (&'b [u8], &'b [u8])>) -> IssuerHashes {
        let mut by_key = ByKey::new();
        for (i, (subject, key_bits)) in issuers.into_iter().enumerate() {
            for h in HASHES {
                let key_hash = signature::hash(h, key_bits).as_ref().to_vec();
                let name_hash = signature::hash(h, subject).as_ref().to_vec();
                by_key.entry((h, key_hash)).or_default().push((i, name_hash));
            }
        }
        IssuerHashes { by_key }
    }

    /// The first issuer (in trust store order) whose key hash and name hash both match, or
    /// None: the CertID names a CA key this store does not hold, or uses a hash algorithm this
    /// responder does not compute.
    pub fn find(&self, id: &CertId<'_>) -> Option<usize> {
        let HashAlgorithm::Known(h) = id.hash else { return None };
        let candidates = self.by_key.get(&(h, id.issuer_key_hash.to_vec()))?;
        candidates.iter().find(|(_, name)| name.as_slice() == id.issuer_name_hash).map(|(i, _)| *i)
    }
}

/// The CertID of a certificate: what a client computes from the issuer's subject and key bits.
/// For tests and for pre-producing responses without a request.
pub fn encode_cert_id(hash: HashAlg, issuer_subject: &[u8], issuer_key_bits: &[u8], serial_magnitude: &[u8]) -> Vec<u8> {
    let mut w = crate::der::Writer::new();
    w.sequence(|w| {
        w.sequence(|w| {
            w.oid(match hash {
                HashAlg::Sha1 => SHA1,
                HashAlg::Sha256 => SHA256,
                HashAlg::Sha384 => SHA384,
                HashAlg::Sha512 => SHA512,
            });
            w.null();
        });
        w.octet_string(signature::hash(hash, issuer_subject).as_ref());
        w.octet_string(signature::hash(hash, issuer_key_bits).as_ref());
        w.integer(serial_magnitude);
    });
    w.finish().expect("a CertID has no value the writer refuses")
}

/// Reads one CertID from its DER (the whole element, nothing after it).
pub fn parse_cert_id(der: &[u8]) -> Result<CertId<'_>, RequestError> {
    let mut r = Reader::new(der);
    let tlv = strict::read_any(&mut r, "CertID")?;
    strict::finish(&r, "CertID")?;
    CertId::parse(&tlv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Certificate;
    use crate::der::{DerError, DerErrorKind};

    fn real_cas() -> Vec<Vec<u8>> {
        [
            include_bytes!("../../../../tests/vectors/jpki/auth_ca_2015.pem").as_slice(),
            include_bytes!("../../../../tests/vectors/jpki/auth_ca_2023.pem"),
            include_bytes!("../../../../tests/vectors/jpki/sign_ca_2023.pem"),
        ]
        .iter()
        .map(|pem| crate::cert::decode(pem).unwrap().into_owned())
        .collect()
    }

    #[test]
    fn finds_the_key_generation_by_key_hash_under_every_hash() {
        let ders = real_cas();
        let certs: Vec<Certificate<'_>> = ders.iter().map(|d| Certificate::parse(d).unwrap()).collect();
        let hashes = IssuerHashes::new(certs.iter().map(|c| (c.subject_der, c.public_key_bits)));
        // The two authentication generations share a name: the key hash picks each.
        assert_eq!(certs[0].subject_der, certs[1].subject_der);
        for h in HASHES {
            for (i, c) in certs.iter().enumerate() {
                let der = encode_cert_id(h, c.subject_der, c.public_key_bits, &[0x05, 0x4C, 0xFC, 0xD8]);
                let id = parse_cert_id(&der).unwrap();
                assert_eq!(id.raw, der.as_slice());
                assert_eq!(id.hash, HashAlgorithm::Known(h));
                assert_eq!(id.serial, [0x05, 0x4C, 0xFC, 0xD8]);
                assert_eq!(hashes.find(&id), Some(i), "{h:?} issuer {i}");
            }
            // One CA's name with another CA's key names no trusted key.
            let mixed = encode_cert_id(h, certs[2].subject_der, certs[1].public_key_bits, &[1]);
            assert_eq!(hashes.find(&parse_cert_id(&mixed).unwrap()), None);
        }
    }

    #[test]
    fn serial_magnitudes() {
        let id = |serial: &[u8]| {
            let der = encode_cert_id(HashAlg::Sha1, b"n", b"k", &[]);
            // Rebuild with an exact INTEGER content.
            let mut w = crate::der::Writer::new();
            let parsed = parse_cert_id(&der).unwrap();
            w.sequence(|w| {
                w.sequence(|w| {
                    w.oid(SHA1);
                    w.null();
                });
                w.octet_string(parsed.issuer_name_hash);
                w.octet_string(parsed.issuer_key_hash);
                w.element(tag::INTEGER, serial);
            });
            let der = w.finish().unwrap();
            parse_cert_id(&der).map(|c| c.serial_magnitude().map(<[u8]>::to_vec))
        };
        assert_eq!(id(&[0x00]).unwrap(), Some(vec![0x00]));
        assert_eq!(id(&[0x00, 0x80]).unwrap(), Some(vec![0x80]));
        assert_eq!(id(&[0x7F]).unwrap(), Some(vec![0x7F]));
        assert_eq!(id(&[0x80]).unwrap(), None);
        assert_eq!(id(&[0xFF, 0x7F]).unwrap(), None);
        assert!(matches!(
            id(&[0x00, 0x01]).unwrap_err().kind,
            RequestErrorKind::Der(DerError { kind: DerErrorKind::NonMinimalInteger(_), .. })
        ));
        assert!(id(&[]).is_err());
    }

    #[test]
    fn refusals() {
        let good = encode_cert_id(HashAlg::Sha256, b"name", b"key", &[0x12, 0x34]);
        let parsed = parse_cert_id(&good).unwrap();
        let rebuild = |alg: &dyn Fn(&mut crate::der::Writer), name_hash: &[u8], key_hash: &[u8], tail: &[u8]| {
            let mut w = crate::der::Writer::new();
            w.sequence(|w| {
                w.sequence(|w| alg(w));
                w.octet_string(name_hash);
                w.octet_string(key_hash);
                w.integer(&[0x12, 0x34]);
                w.raw(tail);
            });
            w.finish().unwrap()
        };
        let sha256_null = |w: &mut crate::der::Writer| {
            w.oid(SHA256);
            w.null();
        };
        let sha256_absent = |w: &mut crate::der::Writer| w.oid(SHA256);
        let (n, k) = (parsed.issuer_name_hash, parsed.issuer_key_hash);
        // Parameters absent are accepted as NULL is.
        assert_eq!(parse_cert_id(&rebuild(&sha256_absent, n, k, &[])).unwrap().hash, HashAlgorithm::Known(HashAlg::Sha256));
        // A hash of the wrong length for its algorithm.
        let e = parse_cert_id(&rebuild(&sha256_null, &n[..20], k, &[])).unwrap_err();
        assert_eq!((e.field, e.kind), ("CertID.issuerNameHash", RequestErrorKind::HashLength { expected: 32, found: 20 }));
        let e = parse_cert_id(&rebuild(&sha256_null, n, &[0; 33], &[])).unwrap_err();
        assert_eq!(e.field, "CertID.issuerKeyHash");
        // Trailing data inside the CertID.
        let e = parse_cert_id(&rebuild(&sha256_null, n, k, &[0x05, 0x00])).unwrap_err();
        assert!(matches!(e.kind, RequestErrorKind::Der(_)), "{e}");
        // Parameters other than NULL on a known hash.
        let with_int = |w: &mut crate::der::Writer| {
            w.oid(SHA256);
            w.integer_u64(1);
        };
        assert!(parse_cert_id(&rebuild(&with_int, n, k, &[])).is_err());
        // An unknown hash (MD5) parses, with any hash length, and names no issuer.
        let md5 = |w: &mut crate::der::Writer| {
            w.oid(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05]);
            w.null();
        };
        let id_der = rebuild(&md5, &[0; 16], &[0; 16], &[]);
        let id = parse_cert_id(&id_der).unwrap();
        assert_eq!(id.hash.name(), "1.2.840.113549.2.5");
        assert_eq!(IssuerHashes::new([(b"name".as_slice(), b"key".as_slice())]).find(&id), None);
        // Wrong outer tag, and trailing bytes after the CertID.
        assert!(parse_cert_id(&[0x31, 0x00]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(parse_cert_id(&trailing).is_err());
        for n in 0..good.len() {
            assert!(parse_cert_id(&good[..n]).is_err(), "prefix {n}");
        }
    }
}
