//! The CRL parser (rust/core/src/crl.rs): file decoding (DER or PEM), the header, every entry,
//! and the error texts. Never panics; every accepted serial is exact (its key gives back the
//! INTEGER's content octets) and within RFC 5280's 20 octets.
#![no_main]

use jpki_fast_core::crl::{self, Crl, CrlError};
use jpki_fast_core::serial::{SerialKey, MAX_SERIAL_OCTETS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let der = match crl::decode_file(data) {
        Ok(d) => d,
        Err(e) => {
            let _ = (e.kind(), e.to_string());
            return;
        }
    };
    let parsed = match Crl::parse(&der) {
        Ok(c) => c,
        Err(e) => {
            let _ = (e.kind(), e.to_string());
            return;
        }
    };
    assert!(parsed.crl_number.is_none_or(|n| n.len() <= MAX_SERIAL_OCTETS));
    let _ = parsed.entry_capacity_hint();
    let walked = parsed.for_each_entry(|_, e| {
        assert!(!e.serial.is_empty() && e.serial.len() <= MAX_SERIAL_OCTETS);
        let key = SerialKey::from_integer(e.serial).expect("a parsed serial is a valid key");
        assert_eq!(key.to_integer(), e.serial, "serial identity is not exact");
        if e.revocation_date < 0 {
            return Err(CrlError::Empty); // stop early, as ingest does for dates it cannot store
        }
        Ok(())
    });
    if let Err(e) = walked {
        let _ = (e.kind(), e.to_string());
    }
});
