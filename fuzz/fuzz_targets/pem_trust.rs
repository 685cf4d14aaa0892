//! PEM text and the trust-anchor reader: PEM blocks, a certificate or CRL from PEM, and a CA
//! certificate turned into a trust anchor (rust/core/src/pem.rs, trust.rs). Never panics.
#![no_main]

use jpki_fast_core::trust::{Anchor, Anchors, CaKind};
use jpki_fast_core::{cert, crl, pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if pem::looks_like_pem(data) {
        if let Ok(blocks) = pem::blocks(data) {
            for (label, der) in &blocks {
                let _ = cert::is_certificate_label(label);
                if let Ok(a) = Anchor::from_certificate("fuzz".into(), vec![1; 20], der, CaKind::Other, false) {
                    let anchors = Anchors::new(vec![a]);
                    let _ = anchors.candidates(der, Some(&[1; 20]));
                }
            }
        }
    }
    let _ = crl::decode_file(data).map(|d| d.len());
    if let Ok(der) = cert::decode(data) {
        let _ = Anchors::from_certificates(vec![(vec![2; 20], der.into_owned(), CaKind::Other, false)]).map(|a| a.len());
    }
});
