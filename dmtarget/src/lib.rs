//! dmtarget: everything dsimage knows about the kernel and the disks.
//!
//! - [`units`]: sector/byte newtypes.
//! - [`table`]: typed device-mapper table lines and status lines (one module per target).
//! - [`ondisk`]: readers and writers of on-disk formats (snapshot exception store, ...).
//! - [`bitmap`]: the chunk bitmap and its persisted serialisation.
//! - [`dm`]: device lifecycle on top of the `devicemapper` crate.
//! - [`volume`]: discovery and suitability of block devices.
//! - [`engine`]: the volume-set engine, the only API the agent and command line call.

pub mod bitmap;
pub mod dm;
pub mod engine;
pub mod ondisk;
pub mod table;
pub mod units;
pub mod volume;
