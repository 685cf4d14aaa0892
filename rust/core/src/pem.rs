//! PEM text (RFC 7468): the blocks of a file, decoded.

/// PEM input is refused beyond this many blocks, so a hostile file cannot make the reader
/// allocate without bound.
pub const MAX_PEM_BLOCKS: usize = 10_000;

/// Why PEM text could not be read; `block` counts from 0 in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("more than {MAX_PEM_BLOCKS} PEM blocks")]
    TooManyBlocks,
    #[error("PEM block #{block}: unterminated BEGIN line")]
    UnterminatedBegin { block: usize },
    #[error("PEM block #{block}: invalid label")]
    InvalidLabel { block: usize },
    #[error("PEM block #{block} ({label}): no matching END line (truncated file?)")]
    NoEnd { block: usize, label: String },
    #[error("PEM block #{block} ({label}): invalid base64 ({source})")]
    Base64 { block: usize, label: String, source: base64::DecodeError },
}

/// Every `-----BEGIN <label>-----` ... `-----END <label>-----` block of a PEM text, in order, as
/// `(label, decoded bytes)`. Text outside blocks (comments, `openssl x509 -text` output) is
/// ignored, as RFC 7468 §2 allows.
///
/// ```
/// let blocks = jpki_fast_core::pem::blocks(b"-----BEGIN X509 CRL-----\nAQID\n-----END X509 CRL-----\n").unwrap();
/// assert_eq!(blocks, vec![("X509 CRL".to_string(), vec![1, 2, 3])]);
/// ```
pub fn blocks(contents: &[u8]) -> Result<Vec<(String, Vec<u8>)>, PemError> {
    use base64::Engine;
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut out = Vec::new();
    let mut rest = contents;
    while let Some(start) = find(rest, BEGIN) {
        let block = out.len();
        if block == MAX_PEM_BLOCKS {
            return Err(PemError::TooManyBlocks);
        }
        let after = &rest[start + BEGIN.len()..];
        let label_end = find(after, DASHES).ok_or(PemError::UnterminatedBegin { block })?;
        let label = &after[..label_end];
        if label.len() > 64 || !label.iter().all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ') {
            return Err(PemError::InvalidLabel { block });
        }
        let body_start = &after[label_end + DASHES.len()..];
        let mut end_line = b"-----END ".to_vec();
        end_line.extend_from_slice(label);
        end_line.extend_from_slice(DASHES);
        let label = String::from_utf8_lossy(label).into_owned();
        let Some(body_len) = find(body_start, &end_line) else { return Err(PemError::NoEnd { block, label }) };
        let body: Vec<u8> = body_start[..body_len].iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(&body) {
            Ok(decoded) => out.push((label, decoded)),
            Err(source) => return Err(PemError::Base64 { block, label, source }),
        }
        rest = &body_start[body_len + end_line.len()..];
    }
    Ok(out)
}

/// True when `contents` looks like PEM text rather than DER (DER starts with a tag byte, never
/// with `-`; leading whitespace is allowed before PEM).
pub fn looks_like_pem(contents: &[u8]) -> bool {
    contents.trim_ascii_start().starts_with(b"-----BEGIN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_in_order_with_labels() {
        let text = b"junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\nmore\n-----BEGIN PUBLIC KEY-----\nBAU=\n-----END PUBLIC KEY-----\n";
        assert_eq!(blocks(text).unwrap(), vec![("CERTIFICATE".to_string(), vec![1, 2, 3]), ("PUBLIC KEY".to_string(), vec![4, 5])]);
        let truncated = blocks(b"-----BEGIN CERTIFICATE-----\nAQID\n").unwrap_err();
        assert_eq!(truncated, PemError::NoEnd { block: 0, label: "CERTIFICATE".into() });
        assert!(truncated.to_string().contains("no matching END"));
        let bad = blocks(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----").unwrap_err();
        assert!(matches!(bad, PemError::Base64 { block: 0, .. }) && bad.to_string().contains("base64"));
        assert_eq!(blocks(b"-----BEGIN cert-----\n-----END cert-----"), Err(PemError::InvalidLabel { block: 0 }));
        assert!(blocks(b"no pem here").unwrap().is_empty());
        assert!(looks_like_pem(b"  \n-----BEGIN X"));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }
}
