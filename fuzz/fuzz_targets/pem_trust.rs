//! PEM text and the trust-anchor reader: PEM blocks, a certificate or CRL from PEM, and a CA
//! certificate turned into a trust anchor (rust/core/src/pem.rs, trust.rs). Never panics, and
//! the blocks read, written out again as PEM, read back the same.
#![no_main]

use base64::Engine;
use jpki_fast_core::trust::{Anchor, Anchors, CaKind};
use jpki_fast_core::{cert, crl, pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if pem::looks_like_pem(data) {
        if let Ok(blocks) = pem::blocks(data) {
            let mut text = String::new();
            for (label, der) in &blocks {
                let body = base64::engine::general_purpose::STANDARD.encode(der);
                text.push_str(&format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"));
            }
            if blocks.len() < pem::MAX_PEM_BLOCKS {
                assert_eq!(pem::blocks(text.as_bytes()).as_ref(), Ok(&blocks), "PEM round trip");
            }
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
