//! The DER reader (rust/core/src/der): every element of any input, walked recursively, with
//! each typed decoder tried on it. Never panics; what it accepts is strict DER.
#![no_main]

use jpki_fast_core::der::{self, tag, Reader};
use jpki_fast_core::names;
use jpki_fast_core::serial::SerialKey;
use libfuzzer_sys::fuzz_target;

fn walk(r: &mut Reader<'_>, depth: usize) {
    while !r.is_empty() {
        let Ok(t) = r.read() else { return };
        assert_eq!(t.raw.len() - t.value.len(), t.value_offset() - t.offset, "header length");
        // Shortest-form lengths only: the header is exactly as long as the length needs.
        let header = t.raw.len() - t.value.len();
        let want = match t.value.len() {
            0..=0x7F => 2,
            0x80..=0xFF => 3,
            0x100..=0xFFFF => 4,
            0x1_0000..=0xFF_FFFF => 5,
            _ => 6,
        };
        assert_eq!(header, want, "non-canonical length accepted");
        match t.tag {
            tag::INTEGER | tag::ENUMERATED => {
                if let Ok(content) = der::integer(&t, "x") {
                    // Minimal two's complement: identity round-trips exactly.
                    if let Ok(k) = SerialKey::from_integer(content) {
                        assert_eq!(k.to_integer(), content, "serial identity is not exact");
                        assert_eq!(SerialKey::from_hex(k.to_hex().as_bytes()), Ok(k), "hex round trip");
                    }
                }
                let _ = der::unsigned_integer(&t, "x");
                let _ = der::small_integer(&t, "x");
            }
            tag::BOOLEAN => {
                let _ = der::boolean(&t, "x");
            }
            tag::UTC_TIME | tag::GENERALIZED_TIME => {
                if let Ok(s) = der::time(&t, "x") {
                    let _ = jpki_fast_core::time::iso(s);
                }
            }
            tag::OID => {
                let _ = der::oid_to_string(t.value);
            }
            tag::BIT_STRING => {
                let _ = t.octet_bits("x");
            }
            tag::SEQUENCE => {
                let _ = names::name_to_string(&t);
                let _ = der::read_extension(&mut Reader::new(t.raw));
            }
            _ => {}
        }
        if t.tag & 0x20 != 0 && depth < 64 {
            walk(&mut t.reader(), depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(&mut Reader::new(data), 0);
});
