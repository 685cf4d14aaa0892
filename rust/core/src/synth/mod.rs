//! Synthetic data for `jpki-fast synth`, tests and benchmarks (the `synth` feature): X.509 v2
//! CRLs encoded and signed in bulk ([`crl`]), and RSA key generation and signing ([`keys`]).
//!
//! Nothing here is on a production path: the engine only ever *reads* CRLs and *verifies*
//! signatures. CRLs are encoded with the core's DER writer ([`crate::der::Writer`]).

pub mod crl;
pub mod keys;

pub use crl::{encode_crl, write_crls, CrlHeader, CrlJob, Entries, RawExtension, Serials, Signer, NO_REASON};
pub use keys::{generate_rsa_keys, sign_rows, KeyPairDer};

use crate::der::writer::WriteError;
use crate::der::DerError;

/// Why synthetic data could not be made, a variant per failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynthError {
    /// The entry columns do not fit together (lengths, widths, ranges).
    #[error("entry columns: {0}")]
    Columns(ColumnsError),
    /// One entry cannot be encoded.
    #[error("entry #{index}: {problem}")]
    Entry { index: usize, problem: EntryError },
    /// A header field (issuer, times, cRLNumber, extension) cannot be encoded.
    #[error("CRL header: {0}")]
    Header(HeaderError),
    /// The signing key is unusable.
    #[error("signing key: not an unencrypted PKCS#8 RSA private key of 2048..8192 bits ({0})")]
    Key(aws_lc_rs::error::KeyRejected),
    #[error("RSA signing failed")]
    Sign,
    /// A job names a signer that was not given.
    #[error("signer #{signer} does not exist (there are {signers} signers)")]
    NoSuchSigner { signer: usize, signers: usize },
    /// Writing the output file failed (`error`: the system's words).
    #[error("{path}: {error}")]
    Io { path: String, error: String },
    /// A batch job failed; `job` is its index in the caller's list.
    #[error("CRL job #{job} ({path}): {error}")]
    Job { job: usize, path: String, error: Box<SynthError> },
    #[error("RSA key size {0}: expected 2048, 3072, 4096 or 8192")]
    KeySize(usize),
    #[error("RSA key generation failed")]
    KeyGeneration,
    #[error("signing with {} is not supported", .0.name())]
    SigningScheme(crate::signature::Scheme),
    #[error("private key #{index}: {error}")]
    PrivateKey { index: usize, error: aws_lc_rs::error::KeyRejected },
    #[error("no private key #{0}")]
    NoPrivateKey(u32),
    #[error("{keys} key indexes for {messages} messages")]
    KeyIndexes { keys: usize, messages: usize },
}

/// Entry columns that do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnsError {
    #[error("serial width {0} is not 1..=20 octets")]
    SerialWidth(usize),
    #[error("serial buffer of {bytes} bytes is not a whole number of {width}-byte serials")]
    SerialBytes { bytes: usize, width: usize },
    #[error("{column} has {rows} rows but there are {serials} serials")]
    Length { column: &'static str, rows: usize, serials: usize },
    #[error("row range {start}..{end} is outside the {entries} entries")]
    RowRange { start: usize, end: usize, entries: usize },
}

/// One entry that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("serial of {0} significant octets exceeds RFC 5280's 20-octet limit")]
    SerialTooLong(usize),
    #[error("revocationDate: {0}")]
    RevocationDate(WriteError),
    #[error("invalidityDate: {0}")]
    InvalidityDate(WriteError),
}

/// A header field that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("{field}: {error}")]
    Time { field: &'static str, error: WriteError },
    #[error("cRLNumber of {0} octets exceeds 20 octets")]
    CrlNumberTooLong(usize),
    #[error("{what} is not one DER Name: {error}")]
    NotAName { what: &'static str, error: DerError },
    #[error("{0}")]
    Der(WriteError),
}

impl SynthError {
    /// A stable machine-readable name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            SynthError::Columns(_) => "columns",
            SynthError::Entry { .. } => "entry",
            SynthError::Header(_) => "header",
            SynthError::Key(_) | SynthError::PrivateKey { .. } | SynthError::NoPrivateKey(_) | SynthError::KeySize(_) => "key",
            SynthError::Sign | SynthError::KeyGeneration | SynthError::SigningScheme(_) | SynthError::KeyIndexes { .. } => "sign",
            SynthError::NoSuchSigner { .. } => "no_such_signer",
            SynthError::Io { .. } => "io",
            SynthError::Job { error, .. } => error.kind(),
        }
    }
}

pub type Result<T> = std::result::Result<T, SynthError>;
