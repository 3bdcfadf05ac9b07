//! Readers and writers of on-disk formats.
//!
//! - [`exstore`]: the kernel's dm-snapshot persistent exception store (read it to learn the
//!   changed chunks; zero its header to start afresh; write it for tests and fixtures).
//! - [`bitmap_volume`]: dsimage's own bitmap volume (set identity, double-buffered shadow
//!   bitmap, space reserved for the mirror disk log and dm-era metadata).
//! - [`blockio`]: device access shared by both: the [`BlockDev`] trait (I/O plus a durability
//!   barrier) and [`DirectFile`] (`O_DIRECT` with aligned buffers, no `unsafe`).
//! - [`error`]: [`FormatError`], the error of all of the above and of [`crate::bitmap`].
//!
//! Everything is generic over `Read`/`Write`/`Seek`, so tests run on in-memory cursors.

pub mod bitmap_volume;
pub mod blockio;
pub mod disklog;
pub mod era;
pub mod error;
pub mod exstore;

pub use blockio::{BlockDev, DirectFile};
pub use error::FormatError;
