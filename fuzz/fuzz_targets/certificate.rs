//! The certificate parser (rust/core/src/cert.rs) and JPKI path validation
//! (rust/core/src/validate.rs) against the real JPKI CA keys: never panics, a parsed serial is
//! exact, what was parsed is the whole input (its tbsCertificate inside it), and the same
//! certificate given as PEM parses to the same fields.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use jpki_fast_core::cert::{self, Certificate};
use jpki_fast_core::serial::SerialKey;
use jpki_fast_core::trust::{Anchors, CaKind};
use jpki_fast_core::validate::{self, Purpose};
use libfuzzer_sys::fuzz_target;

const CAS: [&[u8]; 4] = [
    include_bytes!("../../tests/vectors/jpki/auth_ca_2015.pem"),
    include_bytes!("../../tests/vectors/jpki/auth_ca_2023.pem"),
    include_bytes!("../../tests/vectors/jpki/sign_ca_2015.pem"),
    include_bytes!("../../tests/vectors/jpki/sign_ca_2023.pem"),
];

fn anchors() -> &'static Anchors {
    static ANCHORS: OnceLock<Anchors> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let certs = CAS
            .iter()
            .map(|pem| {
                let der = cert::decode(pem).expect("CA PEM").into_owned();
                let key_id = Certificate::parse(&der).expect("CA certificate").key_identifier();
                (key_id, der, CaKind::Other, false)
            })
            .collect();
        Anchors::from_certificates(certs).expect("anchors")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(der) = cert::decode(data) else { return };
    let c = match Certificate::parse(&der) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(c.raw, &der[..], "the certificate is not the whole input");
    assert!(der.windows(c.tbs.len()).any(|w| w == c.tbs), "tbsCertificate is not inside the input");
    if !jpki_fast_core::pem::looks_like_pem(&der) {
        let body = base64::engine::general_purpose::STANDARD.encode(&der[..]);
        let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        let again = cert::decode(pem.as_bytes()).expect("the certificate as PEM");
        assert_eq!(again.as_ref(), &der[..], "PEM round trip");
        let p = Certificate::parse(&again).expect("the same certificate from PEM");
        assert_eq!((p.serial, &p.issuer, &p.subject, p.not_before, p.not_after), (c.serial, &c.issuer, &c.subject, c.not_before, c.not_after));
    }
    let key = SerialKey::from_integer(c.serial).expect("a parsed serial is a valid key");
    assert_eq!(key.to_integer(), c.serial, "serial identity is not exact");
    let _ = (c.key_identifier(), c.is_ca(), c.allows(1), c.rsa.map(|k| k.bits()));
    for purpose in [Purpose::Any, Purpose::Login, Purpose::Signature] {
        let v = validate::validate(anchors(), &c, 1_790_000_000, purpose, false);
        let _ = (v.outcome(), v.rejection.map(|r| r.to_string()));
    }
});
