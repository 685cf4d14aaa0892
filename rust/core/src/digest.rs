//! File checksums for the store's manifests: BLAKE3, memory-mapped and hashed on all cores
//! (a 150 MB index file takes tens of milliseconds instead of SHA-256's ~100 ms on one core).

use std::path::Path;

use rayon::prelude::*;

/// A file that could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct DigestError {
    pub path: String,
    pub source: std::io::Error,
}

/// The BLAKE3 digest (lowercase hex) of each file, or the I/O error naming it.
pub fn file_digests(paths: &[String]) -> Vec<Result<String, DigestError>> {
    paths
        .par_iter()
        .map(|p| {
            let mut hasher = blake3::Hasher::new();
            hasher.update_mmap_rayon(Path::new(p)).map_err(|source| DigestError { path: p.clone(), source })?;
            Ok(hasher.finalize().to_hex().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_files_and_names_missing_ones() {
        let dir = std::env::temp_dir().join(format!("jpki-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a");
        std::fs::write(&f, b"abc").unwrap();
        let out = super::file_digests(&[f.display().to_string(), dir.join("missing").display().to_string()]);
        assert_eq!(out[0].as_deref().unwrap(), blake3::hash(b"abc").to_hex().as_str());
        assert!(out[1].as_ref().unwrap_err().to_string().contains("missing"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
