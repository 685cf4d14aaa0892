//! Bulk RSA on all cores: signature verification over messages or precomputed digests,
//! batch certificate checks (with the signature a certificate's key made, for logins and signed
//! documents), and, for synthetic data, key generation and signing.
//!
//! Each distinct public key is parsed once per call and then shared by every thread (an
//! aws-lc `EVP_PKEY` may be used concurrently by non-mutating operations). Rows are
//! independent, so they are spread over rayon's pool in chunks; nothing here takes the GIL.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as awssig, KeyPair as _, ParsedPublicKey, RsaKeyPair};
use rayon::prelude::*;

use crate::cert::{self, outcome, Anchors, Certificate, Purpose};
use crate::der::{self, tag, Reader};
use crate::signature::{self, HashAlg, Padding, Scheme};

/// Rows per rayon task: large enough to amortise scheduling, small enough to balance.
const MIN_ROWS_PER_TASK: usize = 32;

/// A public key given as a certificate, a SubjectPublicKeyInfo or a PKCS#1 RSAPublicKey, in DER
/// or PEM: the DER that [`signature::parse_key`] takes (SPKI or RSAPublicKey).
pub fn public_key_der(input: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if der::looks_like_pem(input) {
        let blocks = der::pem_blocks(input)?;
        let mut usable = blocks.into_iter().filter(|(label, _)| {
            cert::is_certificate_label(label) || label == "PUBLIC KEY" || label == "RSA PUBLIC KEY"
        });
        let (label, body) = match (usable.next(), usable.next()) {
            (Some(block), None) => block,
            (None, _) => return Err("PEM without a CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY block".into()),
            (Some(_), Some(_)) => return Err("PEM with more than one key or certificate".into()),
        };
        return if cert::is_certificate_label(&label) {
            let c = Certificate::parse(&body).map_err(|e| format!("certificate: {e}"))?;
            Ok(Cow::Owned(c.spki.to_vec()))
        } else {
            Ok(Cow::Owned(body))
        };
    }
    // DER: tell the three shapes apart by their first elements.
    //   Certificate   SEQUENCE { SEQUENCE tbs, SEQUENCE alg, BIT STRING }
    //   SPKI          SEQUENCE { SEQUENCE alg, BIT STRING }
    //   RSAPublicKey  SEQUENCE { INTEGER, INTEGER }
    let mut r = Reader::new(input);
    let outer = r.read_tag(tag::SEQUENCE, "public key").map_err(|e| e.to_string())?;
    r.finish("public key").map_err(|e| e.to_string())?;
    let mut inner = outer.reader();
    let first = inner.read().map_err(|e| e.to_string())?;
    let second = inner.read().map_err(|e| e.to_string())?;
    match (first.tag, second.tag) {
        (tag::SEQUENCE, tag::SEQUENCE) => {
            let c = Certificate::parse(input).map_err(|e| format!("certificate: {e}"))?;
            Ok(Cow::Borrowed(c.spki))
        }
        (tag::SEQUENCE, tag::BIT_STRING) | (tag::INTEGER, tag::INTEGER) => Ok(Cow::Borrowed(input)),
        _ => Err("not a certificate, SubjectPublicKeyInfo or RSAPublicKey".into()),
    }
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
pub fn parse_keys(scheme: Scheme, keys: &[&[u8]]) -> Vec<Result<ParsedPublicKey, String>> {
    keys.par_iter()
        .map(|k| {
            let der_bytes = public_key_der(k)?;
            signature::parse_key(scheme, &der_bytes).map_err(|e| e.to_string())
        })
        .collect()
}

/// One optional byte string per row (an Arrow binary column; None for a null).
pub type Rows<'a> = [Option<&'a [u8]>];

/// A generated key pair: (PKCS#8 private key DER, SubjectPublicKeyInfo DER).
pub type KeyPairDer = (Vec<u8>, Vec<u8>);

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
    fn check(&self, hash: HashAlg) -> Result<(), (usize, String)> {
        if let Signed::Digests(d) = self {
            if let Some(row) = d.iter().position(|x| x.is_some_and(|x| x.len() != hash.output_len())) {
                return Err((
                    row,
                    format!(
                        "digest of {} bytes; {} digests are {} bytes",
                        d[row].map_or(0, <[u8]>::len),
                        hash.name(),
                        hash.output_len()
                    ),
                ));
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
) -> Result<Vec<bool>, (usize, String)> {
    let n = signatures.len();
    if signed.len() != n || key_of_row.len() != n {
        return Err((0, format!("{} keys, {} signed items and {n} signatures: give one of each per row", key_of_row.len(), signed.len())));
    }
    scheme.parameters().ok_or_else(|| (0, format!("unsupported scheme {}", scheme.name())))?;
    signed.check(scheme.hash)?;
    let parsed = parse_keys(scheme, keys);
    if let Some((k, e)) = parsed.iter().enumerate().find_map(|(k, p)| p.as_ref().err().map(|e| (k, e))) {
        let row = key_of_row.iter().position(|&x| x as usize == k).unwrap_or(0);
        return Err((row, format!("public key: {e}")));
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
    pub validation: cert::Validation,
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
) -> Result<Vec<CertCheck>, (usize, String)> {
    if let Some(s) = &signed {
        if s.signed.len() != certs.len() || s.signatures.len() != certs.len() {
            return Err((
                0,
                format!(
                    "{} certificates, {} signed items and {} signatures: give one of each per row",
                    certs.len(),
                    s.signed.len(),
                    s.signatures.len()
                ),
            ));
        }
        s.scheme.parameters().ok_or_else(|| (0, format!("unsupported scheme {}", s.scheme.name())))?;
        s.signed.check(s.scheme.hash)?;
    }
    Ok(certs
        .par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .enumerate()
        .map(|(i, input)| check_one(anchors, *input, now, purpose, allow_test, signed.as_ref(), i))
        .collect())
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
    let malformed = |detail: String| CertCheck {
        validation: cert::Validation { outcome: outcome::MALFORMED, detail: Some(detail), anchor: None },
        serial: Vec::new(),
        partition: None,
        not_before: None,
        not_after: None,
        signature_valid: false,
    };
    let Some(input) = input else { return malformed("missing (null) certificate".into()) };
    let der_bytes = match cert::decode(input) {
        Ok(d) => d,
        Err(e) => return malformed(e.to_string()),
    };
    let c = match Certificate::parse(&der_bytes) {
        Ok(c) => c,
        Err(e) => return malformed(e.to_string()),
    };
    let validation = anchors.validate(&c, now, purpose, allow_test);
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

// ---------------------------------------------------------------------------------------------
// Synthetic keys and signatures (for `jpki-fast synth`, tests and benchmarks).

/// Generates `n` RSA key pairs of `bits` (2048, 3072, 4096 or 8192) in parallel. Returns
/// (PKCS#8 private key DER, SubjectPublicKeyInfo DER) per key.
pub fn generate_rsa_keys(n: usize, bits: usize) -> Result<Vec<KeyPairDer>, String> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        other => return Err(format!("RSA key size {other}: expected 2048, 3072, 4096 or 8192")),
    };
    (0..n)
        .into_par_iter()
        .map(|_| {
            let key = RsaKeyPair::generate(size).map_err(|e| format!("RSA key generation failed: {e}"))?;
            let pkcs8 = key.as_der().map_err(|e| format!("PKCS#8 encoding failed: {e}"))?.as_ref().to_vec();
            let spki = key.public_key().as_der().map_err(|e| format!("public key encoding failed: {e}"))?.as_ref().to_vec();
            Ok((pkcs8, spki))
        })
        .collect()
}

/// The aws-lc-rs signing encoding of a scheme.
fn signing_encoding(scheme: Scheme) -> Result<&'static dyn awssig::RsaEncoding, String> {
    Ok(match (scheme.padding, scheme.hash) {
        (Padding::Pkcs1v15, HashAlg::Sha256) => &awssig::RSA_PKCS1_SHA256,
        (Padding::Pkcs1v15, HashAlg::Sha384) => &awssig::RSA_PKCS1_SHA384,
        (Padding::Pkcs1v15, HashAlg::Sha512) => &awssig::RSA_PKCS1_SHA512,
        (Padding::Pss, HashAlg::Sha256) => &awssig::RSA_PSS_SHA256,
        (Padding::Pss, HashAlg::Sha384) => &awssig::RSA_PSS_SHA384,
        (Padding::Pss, HashAlg::Sha512) => &awssig::RSA_PSS_SHA512,
        _ => return Err(format!("signing with {} is not supported", scheme.name())),
    })
}

/// Signs row i's message with `keys[key_of_row[i]]` (PKCS#8 DER), in parallel.
pub fn sign_rows(scheme: Scheme, keys: &[&[u8]], key_of_row: &[u32], messages: &[&[u8]]) -> Result<Vec<Vec<u8>>, (usize, String)> {
    if key_of_row.len() != messages.len() {
        return Err((0, format!("{} key indexes for {} messages", key_of_row.len(), messages.len())));
    }
    let encoding = signing_encoding(scheme).map_err(|e| (0, e))?;
    let pairs: Vec<RsaKeyPair> = keys
        .par_iter()
        .enumerate()
        .map(|(k, der_bytes)| RsaKeyPair::from_pkcs8(der_bytes).map_err(|e| (k, format!("private key #{k}: {e}"))))
        .collect::<Result<_, _>>()?;
    let rng = SystemRandom::new();
    (0..messages.len())
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(|i| {
            let key = pairs.get(key_of_row[i] as usize).ok_or_else(|| (i, format!("no private key #{}", key_of_row[i])))?;
            let mut sig = vec![0u8; key.public_modulus_len()];
            key.sign(encoding, &rng, messages[i], &mut sig).map_err(|_| (i, "RSA signing failed".to_string()))?;
            Ok(sig)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_in_bulk_with_mixed_rows() {
        let keys = generate_rsa_keys(2, 2048).unwrap();
        let pkcs8: Vec<&[u8]> = keys.iter().map(|k| k.0.as_slice()).collect();
        let spki: Vec<&[u8]> = keys.iter().map(|k| k.1.as_slice()).collect();
        let messages: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d"];
        let of_row = [0u32, 1, 0, 1];
        let scheme = Scheme::RSA_PKCS1_SHA256;
        let mut sigs = sign_rows(scheme, &pkcs8, &of_row, &messages).unwrap();
        sigs[2][10] ^= 1; // tampered
        let msgs: Vec<Option<&[u8]>> = messages.iter().map(|m| Some(*m)).collect();
        let mut sig_opts: Vec<Option<&[u8]>> = sigs.iter().map(|s| Some(s.as_slice())).collect();
        sig_opts[3] = None;
        let ok = verify_rows(scheme, &spki, &of_row, Signed::Messages(&msgs), &sig_opts).unwrap();
        assert_eq!(ok, vec![true, true, false, false]);
        // The same over digests.
        let digests: Vec<Vec<u8>> = messages.iter().map(|m| signature::hash(HashAlg::Sha256, m).as_ref().to_vec()).collect();
        let dg: Vec<Option<&[u8]>> = digests.iter().map(|d| Some(d.as_slice())).collect();
        let ok = verify_rows(scheme, &spki, &of_row, Signed::Digests(&dg), &sig_opts).unwrap();
        assert_eq!(ok, vec![true, true, false, false]);
        // A wrong-size digest is an input error naming the row.
        let short: Vec<Option<&[u8]>> = vec![Some(&digests[0][..]), Some(&b"xx"[..]), None, None];
        assert_eq!(verify_rows(scheme, &spki, &of_row, Signed::Digests(&short), &sig_opts).unwrap_err().0, 1);
        // A garbage key names its first row.
        let bad: Vec<&[u8]> = vec![spki[0], b"\x30\x03\x02\x01\x01"];
        assert_eq!(verify_rows(scheme, &bad, &of_row, Signed::Messages(&msgs), &sig_opts).unwrap_err().0, 1);
    }

    #[test]
    fn groups_rows() {
        let rows: Vec<&[u8]> = vec![b"a", b"a", b"b", b"a", b"c", b"c"];
        let (firsts, of_row) = group_rows(&rows);
        assert_eq!(firsts, vec![0, 2, 4]);
        assert_eq!(of_row, vec![0, 0, 1, 0, 2, 2]);
    }

    #[test]
    fn key_shapes() {
        let real = include_bytes!("../../tests/vectors/jpki/auth_cert_sample.der");
        let spki = public_key_der(real).unwrap().into_owned();
        assert_eq!(public_key_der(&spki).unwrap().as_ref(), spki.as_slice());
        assert!(public_key_der(b"\x30\x03\x01\x01\xFF").is_err());
        assert!(public_key_der(b"").is_err());
    }
}
