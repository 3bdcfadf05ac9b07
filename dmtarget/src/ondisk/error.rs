//! The one error type of the on-disk format code ([`crate::ondisk`] and [`crate::bitmap`]).
//!
//! Every variant says what was being read or checked and, where there is one, the byte
//! offset on the device (or in the buffer) where the problem was found, so a message alone
//! is enough to go and look at the bytes with `hexdump -s OFFSET`.

use std::io;

use thiserror::Error;

/// What went wrong while reading, checking or writing an on-disk structure.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The device or file failed an I/O request.
    #[error("I/O error {action} at byte offset {offset}: {source}")]
    Io {
        /// What was being done, e.g. "reading snapshot header".
        action: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },

    /// A structure does not start with the expected magic number.
    #[error("{what} at byte offset {offset}: bad magic {found}, expected {expected}")]
    BadMagic {
        what: &'static str,
        offset: u64,
        found: String,
        expected: String,
    },

    /// A structure carries a format version this code cannot read.
    #[error(
        "{what} at byte offset {offset}: unsupported format version {found} \
         (this build reads version {supported})"
    )]
    UnsupportedVersion {
        what: &'static str,
        offset: u64,
        found: u32,
        supported: u32,
    },

    /// A checksummed structure does not match its checksum.
    #[error(
        "{what} at byte offset {offset}: checksum mismatch \
         (stored {stored:#010x}, computed {computed:#010x})"
    )]
    BadChecksum {
        what: &'static str,
        offset: u64,
        stored: u32,
        computed: u32,
    },

    /// A structure ends before the bytes it needs (device end or short buffer).
    #[error(
        "{what} at byte offset {offset} is truncated: needs {needed} bytes, \
         only {available} available"
    )]
    Truncated {
        what: &'static str,
        offset: u64,
        needed: u64,
        available: u64,
    },

    /// A structure is readable but its contents are inconsistent.
    #[error("{what} at byte offset {offset} is corrupt: {detail}")]
    Corrupt {
        what: &'static str,
        offset: u64,
        detail: String,
    },

    /// A chunk size the kernel (or this format) would refuse.
    #[error("invalid chunk size of {sectors} sectors: {reason}")]
    InvalidChunkSize { sectors: u64, reason: &'static str },

    /// A value given by the caller (or read from disk) is out of its allowed range.
    #[error("invalid {field}: {detail}")]
    InvalidField { field: &'static str, detail: String },

    /// A chunk number outside a bitmap.
    #[error("chunk {chunk} is out of range: the bitmap covers chunks 0..{nr_chunks}")]
    ChunkOutOfRange { chunk: u64, nr_chunks: u64 },

    /// Two bitmaps over different chunk counts were combined.
    #[error("bitmaps cover different numbers of chunks: {left} and {right}")]
    ChunkCountMismatch { left: u64, right: u64 },

    /// The device cannot hold the structure.
    #[error("device too small for {what}: needs {needed} bytes, the device has {available} bytes")]
    DeviceTooSmall {
        what: &'static str,
        needed: u64,
        available: u64,
    },
}

impl FormatError {
    pub(crate) fn io(action: &'static str, offset: u64, source: io::Error) -> Self {
        FormatError::Io {
            action,
            offset,
            source,
        }
    }

    pub(crate) fn corrupt(what: &'static str, offset: u64, detail: impl Into<String>) -> Self {
        FormatError::Corrupt {
            what,
            offset,
            detail: detail.into(),
        }
    }

    pub(crate) fn field(field: &'static str, detail: impl Into<String>) -> Self {
        FormatError::InvalidField {
            field,
            detail: detail.into(),
        }
    }
}
