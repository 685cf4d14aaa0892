//! The CRL parser (rust/core/src/crl.rs): file decoding (DER or PEM), the header, every entry,
//! and the error texts. Never panics; every accepted serial is exact (its key gives back the
//! INTEGER's content octets) and within RFC 5280's 20 octets; every accepted entry reads the
//! same through the general DER reader (a differential check of the parser's fast path for
//! common entries); the same CRL given as PEM decodes to the same DER.
#![no_main]

use base64::Engine;
use jpki_fast_core::crl::{self, Crl, CrlError, Entry, NO_REASON};
use jpki_fast_core::der::{self, tag, Reader, Tlv};
use jpki_fast_core::serial::{SerialKey, MAX_SERIAL_OCTETS};
use libfuzzer_sys::fuzz_target;

/// The revokedCertificates list of a CRL that `Crl::parse` accepted, found independently.
fn revoked_list(der: &[u8]) -> Option<Tlv<'_>> {
    let list = Reader::new(der).read().ok()?;
    let tbs = list.reader().read().ok()?;
    let mut t = tbs.reader();
    t.read_optional(tag::INTEGER).ok()?;
    t.read().ok()?; // signature
    t.read().ok()?; // issuer
    t.read().ok()?; // thisUpdate
    if matches!(t.peek_tag(), Some(tag::UTC_TIME) | Some(tag::GENERALIZED_TIME)) {
        t.read().ok()?;
    }
    t.read_optional(tag::SEQUENCE).ok()?
}

/// One entry read with the general reader only: serial, revocationDate, reasonCode and
/// invalidityDate as RFC 5280 §5.3 defines them.
fn reference_entry<'a>(entry: &Tlv<'a>) -> Entry<'a> {
    let mut e = entry.reader();
    let serial = der::integer(&e.read().expect("serial TLV"), "serial").expect("serial INTEGER");
    let revocation_date = der::time(&e.read().expect("date TLV"), "revocationDate").expect("revocationDate");
    let mut out = Entry { serial, revocation_date, reason: NO_REASON, invalidity_date: None };
    if let Some(exts) = e.read_optional(tag::SEQUENCE).expect("entry extensions") {
        let mut r = exts.reader();
        while !r.is_empty() {
            let ext = der::read_extension(&mut r).expect("entry extension");
            let mut v = ext.value.reader();
            match ext.oid {
                [0x55, 0x1D, 0x15] => {
                    let code = der::small_integer(&v.read().expect("reasonCode"), "reasonCode").expect("reasonCode value");
                    out.reason = code as u8;
                }
                [0x55, 0x1D, 0x18] => out.invalidity_date = Some(der::time(&v.read().expect("date"), "invalidityDate").expect("invalidityDate")),
                _ => {}
            }
        }
    }
    assert!(e.is_empty(), "an accepted entry has trailing data");
    out
}

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
    if !jpki_fast_core::pem::looks_like_pem(&der) {
        let body = base64::engine::general_purpose::STANDARD.encode(&der[..]);
        let pem = format!("-----BEGIN X509 CRL-----\n{body}\n-----END X509 CRL-----\n");
        assert_eq!(crl::decode_file(pem.as_bytes()).expect("the CRL as PEM").as_ref(), &der[..], "PEM round trip");
    }
    let hint = parsed.entry_capacity_hint();
    let mut reference = revoked_list(&der).map(|l| l.reader());
    let walked = parsed.for_each_entry(|i, e| {
        assert!(!e.serial.is_empty() && e.serial.len() <= MAX_SERIAL_OCTETS);
        let key = SerialKey::from_integer(e.serial).expect("a parsed serial is a valid key");
        assert_eq!(key.to_integer(), e.serial, "serial identity is not exact");
        let tlv = reference.as_mut().expect("entries without a revokedCertificates list").read().expect("entry TLV");
        let want = reference_entry(&tlv);
        assert_eq!(
            (e.serial, e.revocation_date, e.reason, e.invalidity_date),
            (want.serial, want.revocation_date, want.reason, want.invalidity_date),
            "entry {i} reads differently through the general reader"
        );
        if e.revocation_date < 0 {
            return Err(CrlError::Empty); // stop early, as ingest does for dates it cannot store
        }
        Ok(())
    });
    match walked {
        Ok(n) => {
            assert!(n <= hint, "{n} entries past the capacity hint {hint}");
            assert!(reference.is_none_or(|r| r.is_empty()), "entries left unwalked");
        }
        Err(e) => {
            let _ = (e.kind(), e.to_string());
        }
    }
});
