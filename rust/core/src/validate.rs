//! Validation of JPKI end-entity certificates against the trusted keys: what a verifier must
//! know before it looks at revocation (docs/DESIGN.md, "Certificate checks").
//!
//! [`validate`] identifies the issuing CA key by the rule of [`crate::trust`] (confirmed by
//! verifying the signature over the exact `tbsCertificate` bytes, once), then checks the test
//! hierarchy, the validity period and the key usage for the purpose. The first failing check
//! decides; its [`Rejection`] says which, and its [`Outcome`] is what callers report.
//! Revocation itself is the store's business (`jpki_fast.certs`).

use crate::cert::{usage, Certificate};
use crate::names::hex_upper;
use crate::signature::{self, HashAlg, Scheme, SignatureError};
use crate::time::iso;
use crate::trust::{Anchors, CaKind, IssuerError};

/// What a certificate is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Whatever its CA issues it for: the login rules for an authentication CA, the signing
    /// rules for a signing CA, digitalSignature or nonRepudiation for any other CA.
    Any,
    /// Logging in with an authentication certificate (利用者証明用電子証明書).
    Login,
    /// Signing a document with a signing certificate (署名用電子証明書).
    Signature,
}

/// The outcome of a check, in order of precedence (the code is what the bindings hand out).
/// `Malformed`, `Untrusted` and `BadSignature` are final: nothing about the certificate can be
/// believed, so revocation is not looked up. `Expired`, `NotYetValid` and `WrongUsage` are
/// about a certificate that did chain to a trusted key: a revocation found in the store
/// outranks them (see `jpki_fast.certs` for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Outcome {
    Ok = 0,
    Malformed = 1,
    Untrusted = 2,
    BadSignature = 3,
    Expired = 4,
    NotYetValid = 5,
    WrongUsage = 6,
}

impl Outcome {
    /// Every outcome, by code.
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::Malformed,
        Outcome::Untrusted,
        Outcome::BadSignature,
        Outcome::Expired,
        Outcome::NotYetValid,
        Outcome::WrongUsage,
    ];

    /// The stable name (`"bad_signature"`).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Malformed => "malformed",
            Outcome::Untrusted => "untrusted",
            Outcome::BadSignature => "bad_signature",
            Outcome::Expired => "expired",
            Outcome::NotYetValid => "not_yet_valid",
            Outcome::WrongUsage => "wrong_usage",
        }
    }
}

/// Why a certificate may not be used for a purpose under its CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsageProblem {
    #[error("a CA certificate, not an end-entity certificate")]
    CaCertificate,
    #[error("a signing certificate cannot be used to log in")]
    SigningCertificateForLogin,
    #[error("an authentication certificate cannot sign documents")]
    AuthenticationCertificateForSigning,
    /// JPKI end-entity certificates always carry a critical keyUsage: its absence is refused
    /// rather than read as "any usage".
    #[error("no keyUsage extension")]
    NoKeyUsage,
    #[error("keyUsage lacks digitalSignature (required to log in)")]
    NoDigitalSignature,
    #[error("extendedKeyUsage lacks clientAuth (required to log in)")]
    NoClientAuth,
    #[error("keyUsage has neither digitalSignature nor nonRepudiation (required to sign)")]
    NoSigningUsage,
}

/// Why a certificate did not pass, a variant per failure. The text is the detail callers
/// report; it never holds personal data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("missing (null) certificate")]
    Missing,
    #[error("{0}")]
    Unparsable(crate::cert::CertError),
    #[error("unsupported critical extension {0} (RFC 5280 §4.2: must be rejected)")]
    UnknownCriticalExtension(String),
    /// SHA-1 certificate signatures can be forged by chosen-prefix collisions; JPKI has signed
    /// with SHA-256 since its 2015 generation.
    #[error("{} is not accepted for certificates (SHA-1 collisions)", .0.name())]
    Sha1Signature(Scheme),
    #[error("cannot verify the certificate's signature: {0}")]
    UnverifiableSignature(SignatureError),
    #[error("{0}")]
    Issuer(IssuerError),
    /// Without a key identifier a failed signature cannot tell a tampered certificate from one
    /// issued by a key the trust store lacks (JPKI's generations share the name): the issuer
    /// is not established, so the certificate is untrusted.
    #[error("no authorityKeyIdentifier, and no trusted CA key of the issuer's name verifies the signature")]
    NoKeyOfTheNameVerifies,
    #[error("trusted CA key {} may not sign certificates (keyUsage lacks keyCertSign)", hex_upper(.key_id))]
    KeyMayNotSignCertificates { key_id: Vec<u8> },
    #[error("trusted CA key {}: {error}", hex_upper(.key_id))]
    UnusableKey { key_id: Vec<u8>, error: SignatureError },
    #[error("certificate signature ({}) does not verify with the CA key {}: tampered or forged certificate", .scheme.name(), hex_upper(.key_id))]
    SignatureDoesNotVerify { scheme: Scheme, key_id: Vec<u8> },
    #[error("issued by the JPKI test hierarchy (O=JPKI-TEST), which is not allowed")]
    TestHierarchy,
    #[error("expired at {}", iso(*.not_after))]
    Expired { not_after: i64 },
    #[error("valid from {} only", iso(*.not_before))]
    NotYetValid { not_before: i64 },
    #[error("{0}")]
    WrongUsage(UsageProblem),
}

impl Rejection {
    pub fn outcome(&self) -> Outcome {
        match self {
            Rejection::Missing | Rejection::Unparsable(_) | Rejection::UnknownCriticalExtension(_) => Outcome::Malformed,
            Rejection::Issuer(_) | Rejection::NoKeyOfTheNameVerifies | Rejection::TestHierarchy => Outcome::Untrusted,
            Rejection::Sha1Signature(_)
            | Rejection::UnverifiableSignature(_)
            | Rejection::KeyMayNotSignCertificates { .. }
            | Rejection::UnusableKey { .. }
            | Rejection::SignatureDoesNotVerify { .. } => Outcome::BadSignature,
            Rejection::Expired { .. } => Outcome::Expired,
            Rejection::NotYetValid { .. } => Outcome::NotYetValid,
            Rejection::WrongUsage(_) => Outcome::WrongUsage,
        }
    }
}

/// What [`validate`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The issuing anchor, once identified (also for a rejection after that point).
    pub anchor: Option<usize>,
    /// Why the certificate did not pass; None when it did.
    pub rejection: Option<Rejection>,
}

impl Validation {
    pub fn outcome(&self) -> Outcome {
        self.rejection.as_ref().map_or(Outcome::Ok, Rejection::outcome)
    }

    fn rejected(rejection: Rejection, anchor: Option<usize>) -> Validation {
        Validation { anchor, rejection: Some(rejection) }
    }
}

/// Checks a parsed certificate at `now` (seconds since 1970) for `purpose`.
pub fn validate(anchors: &Anchors, cert: &Certificate<'_>, now: i64, purpose: Purpose, allow_test: bool) -> Validation {
    if let Some(oid) = cert.unknown_critical.first() {
        return Validation::rejected(Rejection::UnknownCriticalExtension(oid.clone()), None);
    }
    let scheme = match &cert.scheme {
        Ok(s) if s.hash == HashAlg::Sha1 => return Validation::rejected(Rejection::Sha1Signature(*s), None),
        Ok(s) => *s,
        Err(e) => return Validation::rejected(Rejection::UnverifiableSignature(e.clone()), None),
    };
    let candidates = match anchors.candidates(cert.issuer_der, cert.authority_key_id) {
        Ok(c) => c,
        Err(e) => return Validation::rejected(Rejection::Issuer(e), None),
    };
    let mut first_failure = None;
    let mut anchor = None;
    for &i in &candidates {
        match verify_with(anchors, i, scheme, cert) {
            Ok(()) => {
                anchor = Some(i);
                break;
            }
            Err(e) => {
                first_failure.get_or_insert((e, i));
            }
        }
    }
    let Some(anchor) = anchor else {
        return match (cert.authority_key_id, first_failure) {
            // The key is named: the signature is bad.
            (Some(_), Some((e, i))) => Validation::rejected(e, Some(i)),
            _ => Validation::rejected(Rejection::NoKeyOfTheNameVerifies, None),
        };
    };
    let a = &anchors[anchor];
    if a.test && !allow_test {
        return Validation::rejected(Rejection::TestHierarchy, Some(anchor));
    }
    // notBefore and notAfter are both inclusive (RFC 5280 §4.1.2.5).
    if now > cert.not_after {
        return Validation::rejected(Rejection::Expired { not_after: cert.not_after }, Some(anchor));
    }
    if now < cert.not_before {
        return Validation::rejected(Rejection::NotYetValid { not_before: cert.not_before }, Some(anchor));
    }
    if let Some(problem) = usage_problem(cert, a.kind, purpose) {
        return Validation::rejected(Rejection::WrongUsage(problem), Some(anchor));
    }
    Validation { anchor: Some(anchor), rejection: None }
}

/// Verifies the certificate's signature over its exact tbsCertificate bytes with anchor `i`.
fn verify_with(anchors: &Anchors, i: usize, scheme: Scheme, cert: &Certificate<'_>) -> Result<(), Rejection> {
    let a = &anchors[i];
    if !a.may_sign_certificates {
        return Err(Rejection::KeyMayNotSignCertificates { key_id: a.key_id.clone() });
    }
    let key = a.key(scheme).map_err(|error| Rejection::UnusableKey { key_id: a.key_id.clone(), error })?;
    signature::verify_message(key, cert.tbs, cert.signature)
        .map_err(|_| Rejection::SignatureDoesNotVerify { scheme, key_id: a.key_id.clone() })
}

/// Why a certificate may not be used for `purpose` under a CA of `kind`, or None.
fn usage_problem(cert: &Certificate<'_>, kind: CaKind, purpose: Purpose) -> Option<UsageProblem> {
    if cert.is_ca() {
        return Some(UsageProblem::CaCertificate);
    }
    let effective = match (purpose, kind) {
        (Purpose::Any, CaKind::Authentication) => Purpose::Login,
        (Purpose::Any, CaKind::Signing) => Purpose::Signature,
        (p, _) => p,
    };
    match (effective, kind) {
        (Purpose::Login, CaKind::Signing) => return Some(UsageProblem::SigningCertificateForLogin),
        (Purpose::Signature, CaKind::Authentication) => return Some(UsageProblem::AuthenticationCertificateForSigning),
        _ => {}
    }
    let Some(ku) = cert.key_usage else { return Some(UsageProblem::NoKeyUsage) };
    match effective {
        Purpose::Login => {
            if ku & usage::DIGITAL_SIGNATURE == 0 {
                return Some(UsageProblem::NoDigitalSignature);
            }
            if let Some(eku) = &cert.extended_key_usage {
                if !eku.iter().any(|e| e == "clientAuth" || e == "anyExtendedKeyUsage") {
                    return Some(UsageProblem::NoClientAuth);
                }
            }
        }
        Purpose::Signature | Purpose::Any => {
            if ku & (usage::DIGITAL_SIGNATURE | usage::NON_REPUDIATION) == 0 {
                return Some(UsageProblem::NoSigningUsage);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::Anchor;

    const REAL: &[u8] = include_bytes!("../../../tests/vectors/jpki/auth_cert_sample.der");
    const AUTH_CA_2015: &[u8] = include_bytes!("../../../tests/vectors/jpki/auth_ca_2015.pem");
    const AUTH_CA_2023: &[u8] = include_bytes!("../../../tests/vectors/jpki/auth_ca_2023.pem");

    fn anchor(pem: &[u8]) -> Anchor {
        let der = crate::cert::decode(pem).unwrap().into_owned();
        let kid = Certificate::parse(&der).unwrap().key_identifier();
        Anchor::from_certificate(String::new(), kid, &der, CaKind::Authentication, false).unwrap()
    }

    #[test]
    fn the_real_certificate_is_untrusted_without_its_generation() {
        let c = Certificate::parse(REAL).unwrap();
        // No anchors at all, and the two generations of its CA the vectors hold: its issuing
        // key (generation 2) is in neither, whatever the shared name.
        for anchors in [Anchors::default(), Anchors::new(vec![anchor(AUTH_CA_2015), anchor(AUTH_CA_2023)])] {
            let v = validate(&anchors, &c, 1_795_651_200, Purpose::Login, false);
            assert_eq!(v.outcome(), Outcome::Untrusted);
            assert_eq!(v.anchor, None);
            assert!(matches!(v.rejection, Some(Rejection::Issuer(IssuerError::UnknownKeyId { .. }))));
            assert!(v.rejection.unwrap().to_string().contains("8CD5586A"));
        }
    }

    #[test]
    fn outcome_codes_and_names_are_stable() {
        for (code, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, code);
        }
        assert_eq!(
            Outcome::ALL.map(Outcome::name),
            ["ok", "malformed", "untrusted", "bad_signature", "expired", "not_yet_valid", "wrong_usage"]
        );
        assert_eq!(Rejection::Expired { not_after: 0 }.to_string(), "expired at 1970-01-01T00:00:00Z");
        assert_eq!(Rejection::WrongUsage(UsageProblem::NoKeyUsage).outcome(), Outcome::WrongUsage);
    }
}
