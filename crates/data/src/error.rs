//! The one error type of `ae-data`: every defect names the file it was found in.

use std::path::PathBuf;

/// Everything that can go wrong while finding, fetching, reading or parsing a data set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file could not be written (or renamed into place).
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The path exists but is not a regular file.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{path}: corrupt gzip data: {detail}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        detail: String,
    },
    /// The content is not a valid IDX file.
    #[error("{path}: not a valid IDX file: {defect}")]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        defect: IdxDefect,
    },
    /// Two files that belong together disagree (image and label counts, say).
    #[error("{images} and {labels}: {detail}")]
    Mismatch {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
        /// What disagrees.
        detail: String,
    },
    /// No copy of the data set was found anywhere and none could be downloaded.
    #[error("{0}")]
    NotFound(String),
    /// A download failed; nothing was left under the final name.
    #[error("download of {url} failed: {detail}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A downloaded file's content is not the expected one; it was deleted.
    #[error(
        "download of {url}: checksum mismatch (expected sha256 {expected}, got {actual}); the file was discarded"
    )]
    Checksum {
        /// The address.
        url: String,
        /// The expected SHA-256 of the decompressed content.
        expected: String,
        /// The SHA-256 of what arrived.
        actual: String,
    },
    /// A name given by the user does not name a data set.
    #[error("unknown dataset '{0}' (expected one of: mnist, fashion-mnist)")]
    UnknownDataset(String),
    /// A folder of images cannot be used as a data set (missing, empty, mixed sizes, ...).
    #[error("{path}: {detail}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// An image file cannot be decoded (corrupt, truncated, too large, unsupported).
    #[error("{path}: cannot decode image: {detail}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder (or the size check) said.
        detail: String,
    },
    /// A test set cannot be held out of a training set.
    #[error("cannot hold out a test set: {0}")]
    HoldOut(String),
}

/// What is wrong inside an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxDefect {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// Fewer than the 4 bytes of the magic number, or fewer than the dimension sizes it announces.
    #[error("truncated header: {needed} bytes needed, {found} present")]
    TruncatedHeader {
        /// Header bytes needed.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The first two bytes of the magic number must be zero.
    #[error("bad magic number {0:#010x} (an IDX file starts with 0x0000, a type code and a rank)")]
    BadMagic(u32),
    /// The type code is not 0x08 (unsigned byte), the only one MNIST-like sets use.
    #[error("unsupported element type code {0:#04x} (only 0x08, unsigned byte, is supported)")]
    UnsupportedType(u8),
    /// The rank is not the one this file must have.
    #[error("rank {found}, expected {expected}")]
    WrongRank {
        /// The rank the caller needs.
        expected: u8,
        /// The rank in the file.
        found: u8,
    },
    /// A dimension is zero where it must not be, or the product of dimensions overflows.
    #[error("bad dimensions {0:?}")]
    BadDims(Vec<u32>),
    /// The body is shorter than the dimensions announce.
    #[error("truncated data: {expected} bytes announced by the header, {found} present")]
    TruncatedData {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The body is longer than the dimensions announce.
    #[error("{0} unexpected bytes after the data")]
    TrailingBytes(usize),
}
