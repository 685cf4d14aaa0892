//! RSA key generation and signing on all cores, for synthetic certificates, CRLs and signed
//! challenges (`jpki_fast._core.generate_rsa_keys`, `sign_messages`). Verification, which
//! production needs, is in [`crate::bulk`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as awssig, KeyPair as _, RsaKeyPair};
use rayon::prelude::*;

use super::{Result, SynthError};
use crate::signature::{HashAlg, Padding, Scheme};

/// Rows per rayon task: large enough to amortise scheduling, small enough to balance.
const MIN_ROWS_PER_TASK: usize = 32;

/// A generated key pair: (PKCS#8 private key DER, SubjectPublicKeyInfo DER).
pub type KeyPairDer = (Vec<u8>, Vec<u8>);

/// Generates `n` RSA key pairs of `bits` (2048, 3072, 4096 or 8192) in parallel.
pub fn generate_rsa_keys(n: usize, bits: usize) -> Result<Vec<KeyPairDer>> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        other => return Err(SynthError::KeySize(other)),
    };
    (0..n)
        .into_par_iter()
        .map(|_| {
            let key = RsaKeyPair::generate(size).map_err(|_| SynthError::KeyGeneration)?;
            let pkcs8 = key.as_der().map_err(|_| SynthError::KeyGeneration)?.as_ref().to_vec();
            let spki = key.public_key().as_der().map_err(|_| SynthError::KeyGeneration)?.as_ref().to_vec();
            Ok((pkcs8, spki))
        })
        .collect()
}

/// The aws-lc-rs signing encoding of a scheme.
fn signing_encoding(scheme: Scheme) -> Result<&'static dyn awssig::RsaEncoding> {
    Ok(match (scheme.padding, scheme.hash) {
        (Padding::Pkcs1v15, HashAlg::Sha256) => &awssig::RSA_PKCS1_SHA256,
        (Padding::Pkcs1v15, HashAlg::Sha384) => &awssig::RSA_PKCS1_SHA384,
        (Padding::Pkcs1v15, HashAlg::Sha512) => &awssig::RSA_PKCS1_SHA512,
        (Padding::Pss, HashAlg::Sha256) => &awssig::RSA_PSS_SHA256,
        (Padding::Pss, HashAlg::Sha384) => &awssig::RSA_PSS_SHA384,
        (Padding::Pss, HashAlg::Sha512) => &awssig::RSA_PSS_SHA512,
        _ => return Err(SynthError::SigningScheme(scheme)),
    })
}

/// Signs row i's message with `keys[key_of_row[i]]` (PKCS#8 DER), in parallel. An error comes
/// with the row (or key) it concerns.
pub fn sign_rows(
    scheme: Scheme,
    keys: &[&[u8]],
    key_of_row: &[u32],
    messages: &[&[u8]],
) -> std::result::Result<Vec<Vec<u8>>, (usize, SynthError)> {
    if key_of_row.len() != messages.len() {
        return Err((0, SynthError::KeyIndexes { keys: key_of_row.len(), messages: messages.len() }));
    }
    let encoding = signing_encoding(scheme).map_err(|e| (0, e))?;
    let pairs: Vec<RsaKeyPair> = keys
        .par_iter()
        .enumerate()
        .map(|(index, der_bytes)| RsaKeyPair::from_pkcs8(der_bytes).map_err(|error| (index, SynthError::PrivateKey { index, error })))
        .collect::<std::result::Result<_, _>>()?;
    let rng = SystemRandom::new();
    (0..messages.len())
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(|i| {
            let key = pairs.get(key_of_row[i] as usize).ok_or((i, SynthError::NoPrivateKey(key_of_row[i])))?;
            let mut sig = vec![0u8; key.public_modulus_len()];
            key.sign(encoding, &rng, messages[i], &mut sig).map_err(|_| (i, SynthError::Sign))?;
            Ok(sig)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::{verify_rows, Signed};
    use crate::signature;

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
        assert_eq!(verify_rows(scheme, &spki, &of_row, Signed::Digests(&short), &sig_opts).unwrap_err().row, 1);
        // A garbage key names its first row.
        let bad: Vec<&[u8]> = vec![spki[0], b"\x30\x03\x02\x01\x01"];
        assert_eq!(verify_rows(scheme, &bad, &of_row, Signed::Messages(&msgs), &sig_opts).unwrap_err().row, 1);
        assert!(matches!(sign_rows(scheme, &[b"junk"], &[0], &[b"m"]), Err((0, SynthError::PrivateKey { index: 0, .. }))));
        assert_eq!(generate_rsa_keys(1, 1024).unwrap_err(), SynthError::KeySize(1024));
    }
}
