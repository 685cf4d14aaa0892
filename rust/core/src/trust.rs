//! Trusted CA keys, and the one rule that ties a CRL or a certificate to the key that signed it
//! (docs/DESIGN.md, "Trust anchors").
//!
//! An [`Anchor`] is one trusted CA *key*, identified by its key identifier (the CA
//! certificate's subjectKeyIdentifier). A name never identifies a key: J-LIS runs several key
//! generations of each CA under one distinguished name, so a name alone cannot tell which key
//! signed. The rule, for CRL ingest and certificate validation alike ([`Anchors::candidates`]):
//!
//! 1. With an authorityKeyIdentifier, the anchors with that key identifier are the candidates,
//!    and the object's issuer name must match their subject ([`names_match`], RFC 5280 §7.1);
//!    an object that cites one CA's key under another's name is refused.
//! 2. Without one, every anchor whose subject matches the issuer name is a candidate.
//! 3. Only a signature that verifies with a candidate's key establishes the issuer; neither the
//!    key identifier nor the name is enough on its own.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_lc_rs::signature::ParsedPublicKey;

use crate::cert::{usage, CertError, Certificate};
use crate::names::{hex_upper, names_match};
use crate::signature::{self, HashAlg, Padding, Scheme, SignatureError};

/// The JPKI CA a trusted key belongs to (the trust store's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    /// 利用者証明用電子証明書 (login) CA.
    Authentication,
    /// 署名用電子証明書 (document signing) CA.
    Signing,
    Other,
}

impl CaKind {
    pub fn from_name(name: Option<&str>) -> CaKind {
        match name {
            Some("authentication") => CaKind::Authentication,
            Some("signing") => CaKind::Signing,
            _ => CaKind::Other,
        }
    }
}

/// What an [`Anchor`] is made of, for trust stores that hand over the parts of a CA
/// certificate rather than the certificate (see [`Anchor::from_certificate`] for the other way).
#[derive(Debug, Clone)]
pub struct AnchorParts {
    /// The trust store's name for the key (`auth_ca_2023`); may be empty.
    pub alias: String,
    pub key_id: Vec<u8>,
    /// The CA certificate's subject, DER.
    pub subject_der: Vec<u8>,
    /// The subject as text ([`names::name_to_string`]), for messages.
    pub subject: String,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    pub kind: CaKind,
    /// The JPKI test hierarchy (`O=JPKI-TEST`).
    pub test: bool,
    /// keyUsage allows cRLSign (or is absent).
    pub may_sign_crls: bool,
    /// keyUsage allows keyCertSign (or is absent).
    pub may_sign_certificates: bool,
}

/// Number of schemes [`scheme_slot`] distinguishes.
const SCHEME_SLOTS: usize = 8;

/// A dense index for a scheme, for the per-scheme key cache.
fn scheme_slot(s: Scheme) -> usize {
    let h = match s.hash {
        HashAlg::Sha1 => 0,
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    };
    match s.padding {
        Padding::Pkcs1v15 => h,
        Padding::Pss => 4 + h,
    }
}

/// One trusted CA key.
#[derive(Debug)]
pub struct Anchor {
    pub alias: String,
    pub key_id: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub subject: String,
    pub spki: Vec<u8>,
    pub kind: CaKind,
    pub test: bool,
    pub may_sign_crls: bool,
    pub may_sign_certificates: bool,
    /// The key parsed for each scheme on first use, then shared by every thread.
    keys: [OnceLock<Result<ParsedPublicKey, SignatureError>>; SCHEME_SLOTS],
}

impl From<AnchorParts> for Anchor {
    fn from(p: AnchorParts) -> Anchor {
        Anchor {
            alias: p.alias,
            key_id: p.key_id,
            subject_der: p.subject_der,
            subject: p.subject,
            spki: p.spki,
            kind: p.kind,
            test: p.test,
            may_sign_crls: p.may_sign_crls,
            may_sign_certificates: p.may_sign_certificates,
            keys: Default::default(),
        }
    }
}

impl Anchor {
    /// The anchor of a CA certificate (DER): its subject, key and key usage.
    pub fn from_certificate(alias: String, key_id: Vec<u8>, certificate_der: &[u8], kind: CaKind, test: bool) -> Result<Anchor, CertError> {
        let cert = Certificate::parse(certificate_der)?;
        Ok(Anchor::from(AnchorParts {
            alias,
            key_id,
            subject_der: cert.subject_der.to_vec(),
            subject: cert.subject.clone(),
            spki: cert.spki.to_vec(),
            kind,
            test,
            may_sign_crls: cert.allows(usage::CRL_SIGN),
            may_sign_certificates: cert.allows(usage::KEY_CERT_SIGN),
        }))
    }

    /// The key for `scheme`, parsed once.
    pub fn key(&self, scheme: Scheme) -> Result<&ParsedPublicKey, SignatureError> {
        self.keys[scheme_slot(scheme)].get_or_init(|| signature::parse_key(scheme, &self.spki)).as_ref().map_err(Clone::clone)
    }
}

/// Why no trusted key can have signed an object (step 1 or 2 of the module's rule failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("issuing CA key {} is not in the trust store", hex_upper(.key_id))]
    UnknownKeyId { key_id: Vec<u8> },
    #[error("issuer name differs from the subject of the trusted CA key {}", hex_upper(.key_id))]
    NameMismatch { key_id: Vec<u8> },
    #[error("no trusted CA key has the issuer's name")]
    UnknownName,
}

/// A trust anchor list that did not load.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("trusted CA #{index}: {error}")]
pub struct AnchorError {
    pub index: usize,
    pub error: CertError,
}

/// The trusted CA keys, in the trust store's order (an anchor's index is its issuer row in a
/// snapshot), looked up by key identifier.
#[derive(Debug, Default)]
pub struct Anchors {
    list: Vec<Anchor>,
    by_key_id: HashMap<Vec<u8>, Vec<usize>>,
}

impl Anchors {
    pub fn new(list: Vec<Anchor>) -> Anchors {
        let mut by_key_id: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, a) in list.iter().enumerate() {
            by_key_id.entry(a.key_id.clone()).or_default().push(i);
        }
        Anchors { list, by_key_id }
    }

    /// Anchors from `(key_id, CA certificate DER, kind, test hierarchy)`; fails naming the first
    /// certificate that does not parse.
    pub fn from_certificates(certificates: Vec<(Vec<u8>, Vec<u8>, CaKind, bool)>) -> Result<Anchors, AnchorError> {
        let list = certificates
            .into_iter()
            .enumerate()
            .map(|(index, (key_id, der, kind, test))| {
                Anchor::from_certificate(String::new(), key_id, &der, kind, test).map_err(|error| AnchorError { index, error })
            })
            .collect::<Result<_, _>>()?;
        Ok(Anchors::new(list))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Anchor> {
        self.list.get(i)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Anchor> {
        self.list.iter()
    }

    /// The anchors that may have signed an object issued under `issuer_der` citing
    /// `authority_key_id`, in trust store order (steps 1 and 2 of the module's rule); the caller
    /// verifies the signature with them (step 3).
    pub fn candidates(&self, issuer_der: &[u8], authority_key_id: Option<&[u8]>) -> Result<Vec<usize>, IssuerError> {
        let named = |i: &usize| names_match(&self.list[*i].subject_der, issuer_der);
        match authority_key_id {
            Some(kid) => {
                let same_key = self.by_key_id.get(kid).ok_or_else(|| IssuerError::UnknownKeyId { key_id: kid.to_vec() })?;
                let found: Vec<usize> = same_key.iter().copied().filter(named).collect();
                if found.is_empty() {
                    return Err(IssuerError::NameMismatch { key_id: kid.to_vec() });
                }
                Ok(found)
            }
            None => {
                let found: Vec<usize> = (0..self.list.len()).filter(named).collect();
                if found.is_empty() {
                    return Err(IssuerError::UnknownName);
                }
                Ok(found)
            }
        }
    }
}

impl std::ops::Index<usize> for Anchors {
    type Output = Anchor;
    fn index(&self, i: usize) -> &Anchor {
        &self.list[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{tag, Writer};

    fn name(o: &str, string_type: u8) -> Vec<u8> {
        let mut w = Writer::new();
        w.sequence(|w| {
            for (oid, t, v) in [(&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, "JP"), (&[0x55, 0x04, 0x0A], string_type, o)] {
                w.set(|w| {
                    w.sequence(|w| {
                        w.oid(oid);
                        w.element(t, v.as_bytes());
                    });
                });
            }
        });
        w.finish().unwrap()
    }

    fn anchor(key_id: u8, subject: Vec<u8>) -> Anchor {
        Anchor::from(AnchorParts {
            alias: format!("ca{key_id}"),
            key_id: vec![key_id; 20],
            subject: crate::names::name_der_to_string(&subject).unwrap(),
            subject_der: subject,
            spki: vec![],
            kind: CaKind::Authentication,
            test: false,
            may_sign_crls: true,
            may_sign_certificates: true,
        })
    }

    #[test]
    fn keys_are_found_by_key_identifier_and_confirmed_by_name() {
        // Two key generations of one CA share its name; another CA has its own.
        let jpki = name("JPKI", tag::UTF8_STRING);
        let anchors = Anchors::new(vec![anchor(1, jpki.clone()), anchor(2, jpki.clone()), anchor(3, name("Other", tag::UTF8_STRING))]);
        assert_eq!(anchors.candidates(&jpki, Some(&[2; 20])), Ok(vec![1]));
        // The same name in another string type and case is the same name (RFC 5280 §7.1).
        assert_eq!(anchors.candidates(&name("jpki", tag::PRINTABLE_STRING), Some(&[1; 20])), Ok(vec![0]));
        // A key cited under another CA's name is refused; an unknown key too.
        assert_eq!(anchors.candidates(&jpki, Some(&[3; 20])), Err(IssuerError::NameMismatch { key_id: vec![3; 20] }));
        let unknown = anchors.candidates(&jpki, Some(&[9; 20])).unwrap_err();
        assert_eq!(unknown.to_string(), format!("issuing CA key {} is not in the trust store", "09".repeat(20)));
        // Without a key identifier, the name only narrows the candidates: both generations.
        assert_eq!(anchors.candidates(&jpki, None), Ok(vec![0, 1]));
        assert_eq!(anchors.candidates(&name("Nobody", tag::UTF8_STRING), None), Err(IssuerError::UnknownName));
        assert_eq!(anchors[2].alias, "ca3");
    }

    #[test]
    fn the_real_jpki_generations_share_a_name_and_are_told_apart_by_key() {
        let vectors = [
            include_bytes!("../../../tests/vectors/jpki/auth_ca_2015.pem").as_slice(),
            include_bytes!("../../../tests/vectors/jpki/auth_ca_2023.pem"),
            include_bytes!("../../../tests/vectors/jpki/sign_ca_2015.pem"),
            include_bytes!("../../../tests/vectors/jpki/sign_ca_2023.pem"),
        ];
        let ders: Vec<Vec<u8>> = vectors.iter().map(|pem| crate::cert::decode(pem).unwrap().into_owned()).collect();
        let certs: Vec<Certificate<'_>> = ders.iter().map(|d| Certificate::parse(d).unwrap()).collect();
        let anchors = Anchors::new(
            ders.iter()
                .zip(&certs)
                .zip(["auth_ca_2015", "auth_ca_2023", "sign_ca_2015", "sign_ca_2023"])
                .map(|((der, c), alias)| Anchor::from_certificate(alias.into(), c.key_identifier(), der, CaKind::Other, false).unwrap())
                .collect(),
        );
        assert!(anchors.iter().all(|a| a.may_sign_crls && a.may_sign_certificates));
        let (auth, sign) = (certs[1].subject_der, certs[3].subject_der);
        assert!(names_match(certs[0].subject_der, auth) && !names_match(auth, sign));
        // By name alone: both generations are candidates; by key identifier: exactly one.
        assert_eq!(anchors.candidates(auth, None), Ok(vec![0, 1]));
        assert_eq!(anchors.candidates(auth, Some(&certs[1].key_identifier())), Ok(vec![1]));
        assert_eq!(anchors.candidates(sign, Some(&certs[2].key_identifier())), Ok(vec![2]));
        assert_eq!(
            anchors.candidates(sign, Some(&certs[1].key_identifier())),
            Err(IssuerError::NameMismatch { key_id: certs[1].key_identifier() })
        );
        // Each self-signed root names its own key.
        for (i, c) in certs.iter().enumerate() {
            assert_eq!(anchors.candidates(c.issuer_der, c.authority_key_id.or(c.subject_key_id)), Ok(vec![i]));
        }
    }
}
