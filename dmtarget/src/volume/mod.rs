//! Block devices as dsimage sees them: discovery from sysfs, mount and holder checks,
//! and the suitability of a device for a role in a volume set.

mod discover;
mod mounts;

pub use discover::{discover, probe, BlockDevice, DeviceKind};
pub use mounts::MountTable;
