//! Signature algorithms of X.509 objects and RSA verification through aws-lc-rs.
//!
//! Supports RSASSA-PKCS1-v1_5 with SHA-1/SHA-256/SHA-384/SHA-512 (RFC 8017 §8.2, RFC 4055) and
//! RSASSA-PSS with SHA-256/384/512, MGF1 over the same hash and a salt as long as the hash
//! (RFC 4055 §3.1; the parameters every mainstream CA uses). The signed bytes are hashed exactly
//! as encoded: nothing is ever re-encoded before verification.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as awssig, ParsedPublicKey, RsaParameters};

use crate::der::{self, tag, Reader, Tlv};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    pub fn from_name(name: &str) -> Option<HashAlg> {
        match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "sha1" => Some(HashAlg::Sha1),
            "sha256" => Some(HashAlg::Sha256),
            "sha384" => Some(HashAlg::Sha384),
            "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    pub fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        }
    }

    pub fn output_len(self) -> usize {
        self.digest_algorithm().output_len
    }

    fn from_oid(oid: &[u8]) -> Option<HashAlg> {
        match oid {
            [0x2B, 0x0E, 0x03, 0x02, 0x1A] => Some(HashAlg::Sha1),
            [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01] => Some(HashAlg::Sha256),
            [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02] => Some(HashAlg::Sha384),
            [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03] => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    Pkcs1v15,
    Pss,
}

/// A signature scheme: padding plus hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scheme {
    pub padding: Padding,
    pub hash: HashAlg,
}

impl Scheme {
    pub const RSA_PKCS1_SHA256: Scheme = Scheme { padding: Padding::Pkcs1v15, hash: HashAlg::Sha256 };

    /// The usual name: `sha256WithRSAEncryption`, `rsassaPss-sha256`.
    pub fn name(&self) -> String {
        match self.padding {
            Padding::Pkcs1v15 => format!("{}WithRSAEncryption", self.hash.name()),
            Padding::Pss => format!("rsassaPss-{}", self.hash.name()),
        }
    }

    /// The aws-lc-rs verification parameters (RSA keys of 2048 to 8192 bits; SHA-1 only for
    /// PKCS#1 v1.5, where callers explicitly ask for it).
    pub fn parameters(&self) -> Option<&'static RsaParameters> {
        Some(match (self.padding, self.hash) {
            (Padding::Pkcs1v15, HashAlg::Sha1) => &awssig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            (Padding::Pkcs1v15, HashAlg::Sha256) => &awssig::RSA_PKCS1_2048_8192_SHA256,
            (Padding::Pkcs1v15, HashAlg::Sha384) => &awssig::RSA_PKCS1_2048_8192_SHA384,
            (Padding::Pkcs1v15, HashAlg::Sha512) => &awssig::RSA_PKCS1_2048_8192_SHA512,
            (Padding::Pss, HashAlg::Sha256) => &awssig::RSA_PSS_2048_8192_SHA256,
            (Padding::Pss, HashAlg::Sha384) => &awssig::RSA_PSS_2048_8192_SHA384,
            (Padding::Pss, HashAlg::Sha512) => &awssig::RSA_PSS_2048_8192_SHA512,
            (Padding::Pss, HashAlg::Sha1) => return None,
        })
    }
}

/// Why a signature could not be verified, a variant per failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignatureError {
    /// The AlgorithmIdentifier names an algorithm this engine does not verify (dotted OID).
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A hash other than SHA-1/SHA-256/SHA-384/SHA-512 (dotted OID).
    #[error("unsupported signature algorithm hash {0}")]
    UnsupportedHash(String),
    /// RSASSA-PSS with a mask generation function other than MGF1 (dotted OID).
    #[error("unsupported signature algorithm PSS mask generation {0}")]
    UnsupportedMaskGeneration(String),
    /// RSASSA-PSS parameters outside the interoperable profile (RFC 4055 §3.1).
    #[error(
        "unsupported signature algorithm PSS parameters (hash {}, MGF1 {}, salt {salt}); only SHA-256/384/512 with matching MGF1 and salt length are verified",
        hash.name(),
        mgf.name()
    )]
    UnsupportedPssParameters { hash: HashAlg, mgf: HashAlg, salt: u64 },
    #[error("unsupported signature algorithm PSS trailerField other than 1")]
    UnsupportedTrailerField,
    /// A scheme aws-lc-rs has no verifier for (RSASSA-PSS with SHA-1).
    #[error("unsupported signature algorithm {}", .0.name())]
    UnsupportedScheme(Scheme),
    /// The AlgorithmIdentifier is malformed.
    #[error("malformed signature algorithm: {0}")]
    Malformed(der::DerError),
    /// The public key could not be used (not RSA, too small, malformed), as aws-lc-rs says.
    #[error("unusable public key: {0}")]
    BadKey(aws_lc_rs::error::KeyRejected),
    /// A precomputed digest of the wrong size for its hash.
    #[error("unusable public key: digest must be {} bytes for {}", .0.output_len(), .0.name())]
    DigestLength(HashAlg),
    /// The signature does not verify.
    #[error("signature does not verify")]
    Invalid,
}

impl SignatureError {
    /// True when the algorithm, not the signature or key, is what could not be used.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            SignatureError::UnsupportedAlgorithm(_)
                | SignatureError::UnsupportedHash(_)
                | SignatureError::UnsupportedMaskGeneration(_)
                | SignatureError::UnsupportedPssParameters { .. }
                | SignatureError::UnsupportedTrailerField
                | SignatureError::UnsupportedScheme(_)
        )
    }
}

impl From<der::DerError> for SignatureError {
    fn from(e: der::DerError) -> Self {
        SignatureError::Malformed(e)
    }
}

const OID_RSA_PREFIX: [u8; 8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01];
const OID_MGF1: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08];

fn absent_or_null(r: &mut Reader<'_>) -> der::Result<()> {
    if !r.is_empty() {
        r.read_tag(tag::NULL, "NULL parameters")?;
    }
    r.finish("algorithm parameters")
}

/// Parses a hash AlgorithmIdentifier (parameters absent or NULL).
fn hash_identifier(tlv: &Tlv<'_>) -> Result<HashAlg, SignatureError> {
    let mut r = tlv.expect(tag::SEQUENCE, "hash AlgorithmIdentifier")?.reader();
    let oid = r.read_tag(tag::OID, "hash algorithm")?;
    absent_or_null(&mut r)?;
    HashAlg::from_oid(oid.value).ok_or_else(|| SignatureError::UnsupportedHash(der::oid_to_string(oid.value)))
}

/// Parses RSASSA-PSS-params (RFC 4055 §3.1); only the interoperable profile is accepted.
fn pss_parameters(r: &mut Reader<'_>) -> Result<HashAlg, SignatureError> {
    let params = r.read_tag(tag::SEQUENCE, "RSASSA-PSS-params")?;
    r.finish("RSASSA-PSS-params")?;
    let mut p = params.reader();
    let mut hash = HashAlg::Sha1;
    let mut mgf_hash = HashAlg::Sha1;
    let mut salt = 20u64;
    if let Some(h) = p.read_optional(tag::context_constructed(0))? {
        let mut hr = h.reader();
        hash = hash_identifier(&hr.read()?)?;
        hr.finish("hashAlgorithm")?;
    }
    if let Some(m) = p.read_optional(tag::context_constructed(1))? {
        let mut mr = m.reader();
        let mgf = mr.read_tag(tag::SEQUENCE, "maskGenAlgorithm")?;
        mr.finish("maskGenAlgorithm")?;
        let mut g = mgf.reader();
        let oid = g.read_tag(tag::OID, "mask generation function")?;
        if oid.value != OID_MGF1 {
            return Err(SignatureError::UnsupportedMaskGeneration(der::oid_to_string(oid.value)));
        }
        mgf_hash = hash_identifier(&g.read()?)?;
        g.finish("MGF1 parameters")?;
    }
    if let Some(s) = p.read_optional(tag::context_constructed(2))? {
        let mut sr = s.reader();
        salt = der::small_integer(&sr.read_tag(tag::INTEGER, "saltLength")?, "saltLength")?;
        sr.finish("saltLength")?;
    }
    if let Some(t) = p.read_optional(tag::context_constructed(3))? {
        let mut tr = t.reader();
        if der::small_integer(&tr.read_tag(tag::INTEGER, "trailerField")?, "trailerField")? != 1 {
            return Err(SignatureError::UnsupportedTrailerField);
        }
    }
    p.finish("RSASSA-PSS-params")?;
    if mgf_hash != hash || salt != hash.output_len() as u64 || hash == HashAlg::Sha1 {
        return Err(SignatureError::UnsupportedPssParameters { hash, mgf: mgf_hash, salt });
    }
    Ok(hash)
}

/// Parses a signature AlgorithmIdentifier (the whole SEQUENCE element).
pub fn parse_algorithm(tlv: &Tlv<'_>) -> Result<Scheme, SignatureError> {
    let mut r = tlv.expect(tag::SEQUENCE, "AlgorithmIdentifier")?.reader();
    let oid = r.read_tag(tag::OID, "signature algorithm")?;
    let o = oid.value;
    if o.len() == 9 && o[..8] == OID_RSA_PREFIX {
        let hash = match o[8] {
            0x05 => Some(HashAlg::Sha1),
            0x0B => Some(HashAlg::Sha256),
            0x0C => Some(HashAlg::Sha384),
            0x0D => Some(HashAlg::Sha512),
            0x0A => {
                let hash = pss_parameters(&mut r)?;
                return Ok(Scheme { padding: Padding::Pss, hash });
            }
            _ => None,
        };
        if let Some(hash) = hash {
            absent_or_null(&mut r)?;
            return Ok(Scheme { padding: Padding::Pkcs1v15, hash });
        }
    }
    Err(SignatureError::UnsupportedAlgorithm(der::oid_to_string(o)))
}

/// Parses an RSA public key (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER) for a scheme.
pub fn parse_key(scheme: Scheme, key_der: &[u8]) -> Result<ParsedPublicKey, SignatureError> {
    let params = scheme.parameters().ok_or(SignatureError::UnsupportedScheme(scheme))?;
    ParsedPublicKey::new(params, key_der).map_err(SignatureError::BadKey)
}

/// Verifies a signature over a precomputed digest of the signed bytes.
pub fn verify_digest(key: &ParsedPublicKey, hash: HashAlg, digest_bytes: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let d = digest::Digest::import_less_safe(digest_bytes, hash.digest_algorithm()).map_err(|_| SignatureError::DigestLength(hash))?;
    key.verify_digest_sig(&d, signature).map_err(|_| SignatureError::Invalid)
}

/// Verifies a signature over `message`.
pub fn verify_message(key: &ParsedPublicKey, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    key.verify_sig(message, signature).map_err(|_| SignatureError::Invalid)
}

/// Hashes `data` with `hash`.
pub fn hash(hash: HashAlg, data: &[u8]) -> digest::Digest {
    digest::digest(hash.digest_algorithm(), data)
}

/// The signature of a signed object: its signatureValue BIT STRING, which holds whole octets.
pub fn signature_bits<'a>(tlv: &Tlv<'a>) -> der::Result<&'a [u8]> {
    tlv.octet_bits("signatureValue")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alg(bytes: &[u8]) -> Result<Scheme, SignatureError> {
        parse_algorithm(&Reader::new(bytes).read().unwrap())
    }

    #[test]
    fn pkcs1_with_and_without_null() {
        let with_null = [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00];
        assert_eq!(alg(&with_null).unwrap(), Scheme::RSA_PKCS1_SHA256);
        let absent = [0x30, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
        assert_eq!(alg(&absent).unwrap(), Scheme { padding: Padding::Pkcs1v15, hash: HashAlg::Sha512 });
    }

    #[test]
    fn unknown_algorithm_is_named() {
        // ecdsa-with-SHA256 1.2.840.10045.4.3.2
        let ecdsa = [0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
        assert_eq!(alg(&ecdsa), Err(SignatureError::UnsupportedAlgorithm("1.2.840.10045.4.3.2".into())));
        assert_eq!(alg(&ecdsa).unwrap_err().to_string(), "unsupported signature algorithm 1.2.840.10045.4.3.2");
    }

    #[test]
    fn pss_sha256_profile() {
        // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32
        let der = [
            0x30, 0x41, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A, 0x30, 0x34, 0xA0, 0x0F, 0x30, 0x0D, 0x06, 0x09,
            0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xA1, 0x1C, 0x30, 0x1A, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
            0xF7, 0x0D, 0x01, 0x01, 0x08, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xA2,
            0x03, 0x02, 0x01, 0x20,
        ];
        assert_eq!(alg(&der).unwrap(), Scheme { padding: Padding::Pss, hash: HashAlg::Sha256 });
    }
}
