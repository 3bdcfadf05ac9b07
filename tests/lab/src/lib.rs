//! The dsimage lab: a QEMU VM running a real Debian kernel with the
//! device-mapper targets dsimage uses, for tests and for people.
//!
//! ```no_run
//! use dsimage_lab::{LabConfig, Vm};
//! let vm = Vm::up(LabConfig::new("demo").disk("src", 64))?;
//! let dev = vm.disk_device("src")?;
//! vm.exec_ok(&format!("dmsetup create demo-lin --table '0 8 linear {dev} 0'"))?;
//! vm.sweep_dm("demo-")?;
//! # Ok::<(), dsimage_lab::Error>(())
//! ```
//!
//! The guest is an initramfs (busybox, modules, dmsetup, era tools, labd and
//! the binaries asked for). `labd` answers commands on guest port 7000,
//! reached through a QEMU port forward on a free host port. Disks are sparse
//! files in the lab directory; the first, serial `state`, is ext4 mounted at
//! /var/lib/dsimage. The host needs `scripts/deps` (packages and kernel).
//!
//! Environment: `DSIMAGE_LAB_ACCEL=kvm` (default TCG),
//! `DSIMAGE_LAB_BOOT_TIMEOUT` (seconds, default 120), `DSIMAGE_LAB_DIR`
//! (base of lab directories), `DSIMAGE_LAB_KERNEL_DIR`, `DSIMAGE_LAB_QEMU`,
//! `DSIMAGE_LABD` (the labd binary).

mod config;
mod cpio;
mod error;
mod guest;
mod host;
pub mod initramfs;
pub mod kernel;
pub mod protocol;
mod qemu;
mod vm;

pub use config::{DiskSpec, LabConfig, STATE_SERIAL};
pub use error::{Error, Result};
pub use host::{default_lab_dir, sh_quote, workspace_root};
pub use vm::{Output, Vm};
