//! The responder: its certificate and private key, and signing responses with them (RFC 6960
//! §4.2.1, §4.2.2.3) through aws-lc-rs.
//!
//! Two signature algorithms, chosen by the key:
//!
//! - ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`, 1.2.840.10045.4.3.2, parameters absent as
//!   RFC 5758 §3.2 requires; the signature is the DER `ECDSA-Sig-Value`): small and fast to sign.
//! - RSASSA-PKCS1-v1_5 with SHA-256 (`sha256WithRSAEncryption`, 1.2.840.113549.1.1.11,
//!   parameters NULL, RFC 4055 §5), for RSA keys of 2048 to 8192 bits (JPKI's own keys are
//!   RSA-2048).
//!
//! [`Responder::new`] checks that the key is the certificate's (the same public key bits) and
//! computes the responder's KeyHash (SHA-1 of those bits, §4.2.1) once. Whether the certificate
//! is a *delegated* responder for a CA (id-kp-OCSPSigning, id-pkix-ocsp-nocheck, issued by the CA
//! key it answers for, RFC 6960 §4.2.2.2) is checked where the trust store is known
//! (`python/jpki_fast/ocsp.py`).
//!
//! A Responder is shared by every thread; [`Responder::sign_many`] signs a batch on all cores, to
//! fill a cache of pre-produced responses (RFC 5019 §2.1.1) cheaply.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as awssig, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rayon::prelude::*;

use super::error::ResponderError;
use super::response::{self, ResponseData};
use crate::cert::Certificate;
use crate::signature::{self, HashAlg};

/// The signature algorithm of a responder's responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    EcdsaP256Sha256,
    RsaPkcs1Sha256,
}

impl SigningAlgorithm {
    /// The usual name: `ecdsa-with-SHA256`, `sha256WithRSAEncryption`.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::EcdsaP256Sha256 => "ecdsa-with-SHA256",
            SigningAlgorithm::RsaPkcs1Sha256 => "sha256WithRSAEncryption",
        }
    }

    /// The signatureAlgorithm AlgorithmIdentifier DER.
    pub fn algorithm_identifier(self) -> &'static [u8] {
        match self {
            SigningAlgorithm::EcdsaP256Sha256 => &[0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02],
            SigningAlgorithm::RsaPkcs1Sha256 => &[0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00],
        }
    }
}

enum Key {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// id-ecPublicKey 1.2.840.10045.2.1, dotted as the certificate parser gives key algorithms.
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// A responder certificate and its private key, ready to sign.
pub struct Responder {
    certificate: Vec<u8>,
    key_hash: Vec<u8>,
    algorithm: SigningAlgorithm,
    key: Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Responder").field("algorithm", &self.algorithm).field("key_hash", &crate::names::hex_upper(&self.key_hash)).finish()
    }
}

impl Responder {
    /// From the responder certificate (DER) and its private key (unencrypted PKCS#8 DER).
    pub fn new(certificate_der: &[u8], pkcs8_der: &[u8]) -> Result<Responder, ResponderError> {
        let cert = Certificate::parse(certificate_der).map_err(ResponderError::Certificate)?;
        let (algorithm, key, public) = if cert.rsa.is_some() {
            let key = RsaKeyPair::from_pkcs8(pkcs8_der).map_err(|e| {
                match EcdsaKeyPair::from_pkcs8(&awssig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8_der) {
                    Ok(_) => ResponderError::KeyTypeMismatch { found: "ECDSA", certificate: "RSA".into() },
                    Err(_) => ResponderError::Key(e),
                }
            })?;
            let public = key.public_key().as_ref().to_vec();
            (SigningAlgorithm::RsaPkcs1Sha256, Key::Rsa(key), public)
        } else if cert.key_algorithm == EC_PUBLIC_KEY {
            let key =
                EcdsaKeyPair::from_pkcs8(&awssig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8_der).map_err(|e| {
                    match RsaKeyPair::from_pkcs8(pkcs8_der) {
                        Ok(_) => ResponderError::KeyTypeMismatch { found: "RSA", certificate: "ECDSA".into() },
                        Err(_) => ResponderError::Key(e),
                    }
                })?;
            let public = key.public_key().as_ref().to_vec();
            (SigningAlgorithm::EcdsaP256Sha256, Key::Ecdsa(key), public)
        } else {
            return Err(ResponderError::UnsupportedKey(cert.key_algorithm.clone()));
        };
        if public != cert.public_key_bits {
            // A P-256 key against a certificate on another curve lands here too: the points differ.
            return Err(ResponderError::KeyMismatch);
        }
        Ok(Responder {
            certificate: certificate_der.to_vec(),
            key_hash: signature::hash(HashAlg::Sha1, cert.public_key_bits).as_ref().to_vec(),
            algorithm,
            key,
            rng: SystemRandom::new(),
        })
    }

    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// The responderID KeyHash: SHA-1 of the responder's public key bits (RFC 6960 §4.2.1).
    pub fn key_hash(&self) -> &[u8] {
        &self.key_hash
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, ResponderError> {
        match &self.key {
            Key::Ecdsa(k) => k.sign(&self.rng, message).map(|s| s.as_ref().to_vec()).map_err(|_| ResponderError::Sign),
            Key::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&awssig::RSA_PKCS1_SHA256, &self.rng, message, &mut sig).map_err(|_| ResponderError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// The complete `successful` OCSPResponse: `data` signed, the responder certificate in
    /// `certs`.
    pub fn sign(&self, data: &ResponseData<'_>) -> Result<Vec<u8>, ResponderError> {
        let tbs = data.tbs(&self.key_hash).map_err(ResponderError::Encode)?;
        let sig = self.sign_bytes(&tbs)?;
        response::successful(&tbs, self.algorithm.algorithm_identifier(), &sig, &self.certificate).map_err(ResponderError::Encode)
    }

    /// Signs many responses on all cores (pre-producing a cache); one result per item, in order.
    pub fn sign_many(&self, items: &[ResponseData<'_>]) -> Vec<Result<Vec<u8>, ResponderError>> {
        items.par_iter().with_min_len(16).map(|d| self.sign(d)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::der::{tag, Reader};
    use crate::ocsp::cert_id::encode_cert_id;
    use crate::ocsp::response::{CertStatus, SingleResponse};
    use aws_lc_rs::signature::UnparsedPublicKey;

    pub(crate) fn pem_der(pem: &[u8]) -> Vec<u8> {
        crate::pem::blocks(pem).unwrap().remove(0).1
    }

    pub(crate) const EC_CERT: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/responder_ec.pem");
    pub(crate) const EC_KEY: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/responder_ec.key.pem");
    pub(crate) const RSA_CERT: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/responder_rsa.pem");
    pub(crate) const RSA_KEY: &[u8] = include_bytes!("../../../../tests/vectors/ocsp/responder_rsa.key.pem");

    /// The signed parts of a successful response: (tbs, algorithm, signature, certificate).
    fn unwrap_basic(der: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut r = Reader::new(der);
        let outer = r.read_tag(tag::SEQUENCE, "OCSPResponse").unwrap();
        r.finish("OCSPResponse").unwrap();
        let mut o = outer.reader();
        assert_eq!(o.read_tag(tag::ENUMERATED, "status").unwrap().value, [0]);
        let bytes = o.read_tag(tag::context_constructed(0), "responseBytes").unwrap();
        let mut b = bytes.reader().read_tag(tag::SEQUENCE, "ResponseBytes").unwrap().reader();
        assert_eq!(b.read_tag(tag::OID, "type").unwrap().value, crate::ocsp::oid::BASIC);
        let basic = b.read_tag(tag::OCTET_STRING, "response").unwrap();
        let mut br = Reader::new(basic.value);
        let mut s = br.read_tag(tag::SEQUENCE, "BasicOCSPResponse").unwrap().reader();
        let tbs = s.read_tag(tag::SEQUENCE, "tbs").unwrap().raw.to_vec();
        let alg = s.read_tag(tag::SEQUENCE, "alg").unwrap().raw.to_vec();
        let sig = s.read().unwrap().octet_bits("signature").unwrap().to_vec();
        let certs = s.read_tag(tag::context_constructed(0), "certs").unwrap();
        let cert = certs.reader().read_tag(tag::SEQUENCE, "list").unwrap().reader().read_tag(tag::SEQUENCE, "cert").unwrap().raw.to_vec();
        s.finish("BasicOCSPResponse").unwrap();
        (tbs, alg, sig, cert)
    }

    fn data(cert_id: &[u8]) -> ResponseData<'_> {
        ResponseData {
            produced_at: 1_796_000_000,
            responses: vec![SingleResponse {
                cert_id,
                status: CertStatus::Good,
                this_update: 1_795_990_000,
                next_update: Some(1_796_100_000),
                invalidity_date: None,
            }],
            nonce: None,
        }
    }

    #[test]
    fn signs_with_ecdsa_and_rsa_and_the_signatures_verify() {
        let cert_id = encode_cert_id(HashAlg::Sha1, b"n", b"k", &[1]);
        for (cert_pem, key_pem, algorithm, verifier) in [
            (EC_CERT, EC_KEY, SigningAlgorithm::EcdsaP256Sha256, &awssig::ECDSA_P256_SHA256_ASN1 as &dyn awssig::VerificationAlgorithm),
            (RSA_CERT, RSA_KEY, SigningAlgorithm::RsaPkcs1Sha256, &awssig::RSA_PKCS1_2048_8192_SHA256),
        ] {
            let cert_der = pem_der(cert_pem);
            let responder = Responder::new(&cert_der, &pem_der(key_pem)).unwrap();
            assert_eq!(responder.algorithm(), algorithm);
            let parsed = Certificate::parse(&cert_der).unwrap();
            assert_eq!(responder.key_hash(), signature::hash(HashAlg::Sha1, parsed.public_key_bits).as_ref());
            let d = data(&cert_id);
            let der = responder.sign(&d).unwrap();
            let (tbs, alg, sig, cert) = unwrap_basic(&der);
            assert_eq!(tbs, d.tbs(responder.key_hash()).unwrap());
            assert_eq!(alg, algorithm.algorithm_identifier());
            assert_eq!(cert, cert_der);
            UnparsedPublicKey::new(verifier, parsed.public_key_bits).verify(&tbs, &sig).unwrap();
            // The batch signs the same bytes, each signature valid.
            let many = responder.sign_many(&[data(&cert_id), data(&cert_id), data(&cert_id)]);
            for one in many {
                let (tbs2, _, sig2, _) = unwrap_basic(&one.unwrap());
                assert_eq!(tbs2, tbs);
                UnparsedPublicKey::new(verifier, parsed.public_key_bits).verify(&tbs2, &sig2).unwrap();
            }
            assert!(!format!("{responder:?}").contains("Key"));
        }
    }

    #[test]
    fn refuses_keys_that_are_not_the_certificates() {
        let (ec_cert, rsa_cert) = (pem_der(EC_CERT), pem_der(RSA_CERT));
        let (ec_key, rsa_key) = (pem_der(EC_KEY), pem_der(RSA_KEY));
        assert_eq!(
            Responder::new(&ec_cert, &rsa_key).unwrap_err(),
            ResponderError::KeyTypeMismatch { found: "RSA", certificate: "ECDSA".into() }
        );
        assert_eq!(
            Responder::new(&rsa_cert, &ec_key).unwrap_err(),
            ResponderError::KeyTypeMismatch { found: "ECDSA", certificate: "RSA".into() }
        );
        let other_ec = EcdsaKeyPair::generate(&awssig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let other_pkcs8 = other_ec.to_pkcs8v1().unwrap();
        assert_eq!(Responder::new(&ec_cert, other_pkcs8.as_ref()).unwrap_err(), ResponderError::KeyMismatch);
        assert!(matches!(Responder::new(&ec_cert, b"not a key").unwrap_err(), ResponderError::Key(_)));
        assert!(matches!(Responder::new(b"not a certificate", &ec_key).unwrap_err(), ResponderError::Certificate(_)));
        // The test CA's certificate is RSA: its key is not the responder's.
        let ca = pem_der(include_bytes!("../../../../tests/vectors/ocsp/test_ca.pem"));
        assert_eq!(Responder::new(&ca, &rsa_key).unwrap_err(), ResponderError::KeyMismatch);
    }
}
