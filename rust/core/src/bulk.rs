//! Bulk RSA on all cores: signature verification over messages or precomputed digests, and
//! batch certificate checks (with the signature a certificate's key made, for logins and signed
//! documents). Key generation and signing, which only synthetic data needs, are in
//! `synth::keys`.
//!
//! Each distinct public key is parsed once per call and then shared by every thread (an
//! aws-lc `EVP_PKEY` may be used concurrently by non-mutating operations). Rows are
//! independent, so they are spread over rayon's pool in chunks; nothing here takes the GIL.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_lc_rs::signature::ParsedPublicKey;
use rayon::prelude::*;

use crate::cert::{self, CertError, Certificate};
use crate::der::{tag, DerError, Reader};
use crate::pem::{self, PemError};
use crate::signature::{self, HashAlg, Scheme, SignatureError};
use crate::trust::Anchors;
use crate::validate::{self, Purpose, Rejection, Validation};

/// Rows per rayon task: large enough to amortise scheduling, small enough to balance.
const MIN_ROWS_PER_TASK: usize = 32;

/// Why a public key input is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Pem(PemError),
    #[error("PEM without a CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY block")]
    NoKeyInPem,
    #[error("PEM with more than one key or certificate")]
    SeveralKeysInPem,
    #[error("certificate: {0}")]
    Certificate(CertError),
    #[error("{0}")]
    Der(DerError),
    #[error("not a certificate, SubjectPublicKeyInfo or RSAPublicKey")]
    NotAKey,
    #[error("{0}")]
    Signature(SignatureError),
}

/// A public key given as a certificate, a SubjectPublicKeyInfo or a PKCS#1 RSAPublicKey, in DER
/// or PEM: the DER that [`signature::parse_key`] takes (SPKI or RSAPublicKey).
pub fn public_key_der(input: &[u8]) -> Result<Cow<'_, [u8]>, KeyError> {
    if pem::looks_like_pem(input) {
        let blocks = pem::blocks(input).map_err(KeyError::Pem)?;
        let mut usable =
            blocks.into_iter().filter(|(label, _)| cert::is_certificate_label(label) || label == "PUBLIC KEY" || label == "RSA PUBLIC KEY");
        let (label, body) = match (usable.next(), usable.next()) {
            (Some(block), None) => block,
            (None, _) => return Err(KeyError::NoKeyInPem),
            (Some(_), Some(_)) => return Err(KeyError::SeveralKeysInPem),
        };
        return if cert::is_certificate_label(&label) {
            let c = Certificate::parse(&body).map_err(KeyError::Certificate)?;
            Ok(Cow::Owned(c.spki.to_vec()))
        } else {
            Ok(Cow::Owned(body))
        };
    }
    // DER: tell the three shapes apart by their first elements.
    //   Certificate   SEQUENCE { SEQUENCE tbs, SEQUENCE alg, BIT STRING }
    //   SPKI          SEQUENCE { SEQUENCE alg, BIT STRING }
    //   RSAPublicKey  SEQUENCE { INTEGER, INTEGER }
    let shape = || -> Result<(u8, u8), DerError> {
        let mut r = Reader::new(input);
        let outer = r.read_tag(tag::SEQUENCE, "public key")?;
        r.finish("public key")?;
        let mut inner = outer.reader();
        Ok((inner.read()?.tag, inner.read()?.tag))
    };
    match shape().map_err(KeyError::Der)? {
        (tag::SEQUENCE, tag::SEQUENCE) => {
            let c = Certificate::parse(input).map_err(KeyError::Certificate)?;
            Ok(Cow::Borrowed(c.spki))
        }
        (tag::SEQUENCE, tag::BIT_STRING) | (tag::INTEGER, tag::INTEGER) => Ok(Cow::Borrowed(input)),
        _ => Err(KeyError::NotAKey),
    }
}

/// Why a batch could not be checked at all; [`RowError`] says which row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BulkError {
    #[error("{keys} keys, {signed} signed items and {signatures} signatures: give one of each per row")]
    KeyRowsMismatch { keys: usize, signed: usize, signatures: usize },
    #[error("{certificates} certificates, {signed} signed items and {signatures} signatures: give one of each per row")]
    CertificateRowsMismatch { certificates: usize, signed: usize, signatures: usize },
    #[error("unsupported scheme {}", .0.name())]
    UnsupportedScheme(Scheme),
    #[error("digest of {len} bytes; {} digests are {} bytes", .hash.name(), .hash.output_len())]
    DigestLength { len: usize, hash: HashAlg },
    #[error("public key: {0}")]
    Key(KeyError),
}

/// A [`BulkError`] and the first row it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("#{row}: {error}")]
pub struct RowError {
    pub row: usize,
    pub error: BulkError,
}

fn at(row: usize, error: BulkError) -> RowError {
    RowError { row, error }
}

/// Groups equal byte strings: returns the first row of each distinct value and, per row, the
/// index of its value. Consecutive equal rows (the common case: one key for many rows) are
/// recognised without hashing.
pub fn group_rows<'a>(rows: &[&'a [u8]]) -> (Vec<usize>, Vec<u32>) {
    let mut firsts: Vec<usize> = Vec::new();
    let mut of_row = Vec::with_capacity(rows.len());
    let mut seen: HashMap<&'a [u8], u32> = HashMap::new();
    for (i, &row) in rows.iter().enumerate() {
        if i > 0 && rows[i - 1] == row {
            let prev = of_row[i - 1];
            of_row.push(prev);
            continue;
        }
        let next = firsts.len() as u32;
        let id = *seen.entry(row).or_insert(next);
        if id == next {
            firsts.push(i);
        }
        of_row.push(id);
    }
    (firsts, of_row)
}

/// Parses each distinct key for `scheme`, in parallel. An error names what is wrong with it.
pub fn parse_keys(scheme: Scheme, keys: &[&[u8]]) -> Vec<Result<ParsedPublicKey, KeyError>> {
    keys.par_iter()
        .map(|k| {
            let der_bytes = public_key_der(k)?;
            signature::parse_key(scheme, &der_bytes).map_err(KeyError::Signature)
        })
        .collect()
}

/// One optional byte string per row (an Arrow binary column; None for a null).
pub type Rows<'a> = [Option<&'a [u8]>];

/// Signatures to verify beside certificate checks: row i's signature over row i's message or
/// digest, under `scheme`, with certificate i's key.
#[derive(Clone, Copy)]
pub struct SignedRows<'a> {
    pub scheme: Scheme,
    pub signed: Signed<'a>,
    pub signatures: &'a Rows<'a>,
}

/// What the signatures are over.
#[derive(Clone, Copy)]
pub enum Signed<'a> {
    /// The messages themselves (hashed here).
    Messages(&'a Rows<'a>),
    /// Digests of the messages under the scheme's hash.
    Digests(&'a Rows<'a>),
}

impl<'a> Signed<'a> {
    fn len(&self) -> usize {
        match self {
            Signed::Messages(m) | Signed::Digests(m) => m.len(),
        }
    }

    /// Fails naming the first digest whose length does not fit the hash.
    fn check(&self, hash: HashAlg) -> Result<(), RowError> {
        if let Signed::Digests(d) = self {
            if let Some(row) = d.iter().position(|x| x.is_some_and(|x| x.len() != hash.output_len())) {
                return Err(at(row, BulkError::DigestLength { len: d[row].map_or(0, <[u8]>::len), hash }));
            }
        }
        Ok(())
    }

    /// Verifies row `i` with `key`; a missing message, digest or signature is a failure.
    #[inline]
    fn verify(&self, i: usize, key: &ParsedPublicKey, hash: HashAlg, signature_bytes: Option<&[u8]>) -> bool {
        let Some(sig) = signature_bytes else { return false };
        match self {
            Signed::Messages(m) => m[i].is_some_and(|msg| signature::verify_message(key, msg, sig).is_ok()),
            Signed::Digests(d) => d[i].is_some_and(|dg| signature::verify_digest(key, hash, dg, sig).is_ok()),
        }
    }
}

/// Verifies every row: `keys[key_of_row[i]]` over `signed` row i against `signatures[i]`.
/// Returns one bool per row (an invalid or missing signature is `false`), or the first row
/// whose input is unusable (its key does not parse, a digest of the wrong length).
pub fn verify_rows(
    scheme: Scheme,
    keys: &[&[u8]],
    key_of_row: &[u32],
    signed: Signed<'_>,
    signatures: &Rows<'_>,
) -> Result<Vec<bool>, RowError> {
    let n = signatures.len();
    if signed.len() != n || key_of_row.len() != n {
        return Err(at(0, BulkError::KeyRowsMismatch { keys: key_of_row.len(), signed: signed.len(), signatures: n }));
    }
    scheme.parameters().ok_or(at(0, BulkError::UnsupportedScheme(scheme)))?;
    signed.check(scheme.hash)?;
    let parsed = parse_keys(scheme, keys);
    if let Some((k, e)) = parsed.iter().enumerate().find_map(|(k, p)| p.as_ref().err().map(|e| (k, e))) {
        let row = key_of_row.iter().position(|&x| x as usize == k).unwrap_or(0);
        return Err(at(row, BulkError::Key(e.clone())));
    }
    let keys: Vec<&ParsedPublicKey> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
    Ok((0..n)
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(|i| signed.verify(i, keys[key_of_row[i] as usize], scheme.hash, signatures[i]))
        .collect())
}

/// One certificate's check, before revocation (see [`check_certificates`]).
#[derive(Debug, Clone)]
pub struct CertCheck {
    pub validation: Validation,
    /// Serial magnitude (empty when the certificate did not parse).
    pub serial: Vec<u8>,
    pub partition: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// The signature over the row's message/digest, when one was given and the certificate
    /// parsed: whether it verifies with the certificate's key.
    pub signature_valid: bool,
}

/// Checks each certificate (DER or PEM; None for a missing one) at `now` for `purpose`, and, with
/// `signed`, whether `signatures[i]` over row i verifies with certificate i's own key.
pub fn check_certificates(
    anchors: &Anchors,
    certs: &Rows<'_>,
    now: i64,
    purpose: Purpose,
    allow_test: bool,
    signed: Option<SignedRows<'_>>,
) -> Result<Vec<CertCheck>, RowError> {
    check_signed(certs.len(), signed.as_ref())?;
    Ok(certs
        .par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .enumerate()
        .map(|(i, input)| check_one(anchors, *input, now, purpose, allow_test, signed.as_ref(), i))
        .collect())
}

/// [`check_certificates`] for one certificate, on the calling thread: for single,
/// latency-critical checks (a login), where handing one row to the thread pool would cost more
/// than the row. `signed`, if given, holds one row.
pub fn check_certificate(
    anchors: &Anchors,
    cert: Option<&[u8]>,
    now: i64,
    purpose: Purpose,
    allow_test: bool,
    signed: Option<SignedRows<'_>>,
) -> Result<CertCheck, RowError> {
    check_signed(1, signed.as_ref())?;
    Ok(check_one(anchors, cert, now, purpose, allow_test, signed.as_ref(), 0))
}

/// Signed rows fit `certs` certificates and the scheme, with digests of the hash's length.
fn check_signed(certs: usize, signed: Option<&SignedRows<'_>>) -> Result<(), RowError> {
    if let Some(s) = signed {
        if s.signed.len() != certs || s.signatures.len() != certs {
            return Err(at(
                0,
                BulkError::CertificateRowsMismatch { certificates: certs, signed: s.signed.len(), signatures: s.signatures.len() },
            ));
        }
        s.scheme.parameters().ok_or(at(0, BulkError::UnsupportedScheme(s.scheme)))?;
        s.signed.check(s.scheme.hash)?;
    }
    Ok(())
}

fn check_one(
    anchors: &Anchors,
    input: Option<&[u8]>,
    now: i64,
    purpose: Purpose,
    allow_test: bool,
    signed: Option<&SignedRows<'_>>,
    row: usize,
) -> CertCheck {
    let malformed = |rejection: Rejection| CertCheck {
        validation: Validation { anchor: None, rejection: Some(rejection) },
        serial: Vec::new(),
        partition: None,
        not_before: None,
        not_after: None,
        signature_valid: false,
    };
    let Some(input) = input else { return malformed(Rejection::Missing) };
    let der_bytes = match cert::decode(input) {
        Ok(d) => d,
        Err(e) => return malformed(Rejection::Unparsable(e)),
    };
    let c = match Certificate::parse(&der_bytes) {
        Ok(c) => c,
        Err(e) => return malformed(Rejection::Unparsable(e)),
    };
    let validation = validate::validate(anchors, &c, now, purpose, allow_test);
    let signature_valid = signed.is_some_and(|s| match signature::parse_key(s.scheme, c.spki) {
        Ok(key) => s.signed.verify(row, &key, s.scheme.hash, s.signatures[row]),
        Err(_) => false,
    });
    CertCheck {
        validation,
        serial: c.serial.to_vec(),
        partition: c.partition.clone(),
        not_before: Some(c.not_before),
        not_after: Some(c.not_after),
        signature_valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rows() {
        let rows: Vec<&[u8]> = vec![b"a", b"a", b"b", b"a", b"c", b"c"];
        let (firsts, of_row) = group_rows(&rows);
        assert_eq!(firsts, vec![0, 2, 4]);
        assert_eq!(of_row, vec![0, 0, 1, 0, 2, 2]);
    }

    #[test]
    fn key_shapes() {
        let real = include_bytes!("../../../tests/vectors/jpki/auth_cert_sample.der");
        let spki = public_key_der(real).unwrap().into_owned();
        assert_eq!(public_key_der(&spki).unwrap().as_ref(), spki.as_slice());
        assert!(public_key_der(b"\x30\x03\x01\x01\xFF").is_err());
        assert!(public_key_der(b"").is_err());
    }
}
