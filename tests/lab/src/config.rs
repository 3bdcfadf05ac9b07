//! What a lab VM looks like: [`LabConfig`] and its disks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::default_lab_dir;

/// Serial of the state disk, always the first disk (/dev/vda), mounted at
/// /var/lib/dsimage in the guest.
pub const STATE_SERIAL: &str = "state";

/// One lab VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabConfig {
    pub name: String,
    /// Holds the disk images, console.log, qemu.log, vm.json, the initramfs.
    pub lab_dir: PathBuf,
    /// Data disks, after the state disk in PCI order. Image files are
    /// `<lab_dir>/<serial>.img`; an existing file (or symlink, e.g. to another
    /// lab's disk) is used as it is.
    pub disks: Vec<DiskSpec>,
    pub state_disk_mib: u64,
    pub mem_mib: u64,
    pub cpus: u32,
    /// Host programs copied to /usr/local/bin in the guest, with their libraries.
    pub binaries: Vec<PathBuf>,
    /// Guest TCP ports forwarded from free ports on host 127.0.0.1.
    pub forward: Vec<u16>,
    /// Guest TCP ports forwarded from a chosen host port on 127.0.0.1
    /// (guest, host), for people who want a well-known port.
    #[serde(default)]
    pub forward_fixed: Vec<(u16, u16)>,
    /// Shell script run in the background at every boot, after labd starts.
    pub boot_hook: Option<String>,
}

/// A data disk: a sparse image the guest sees as /dev/vdX with this serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSpec {
    /// 1-20 characters of [A-Za-z0-9_-] (virtio-blk serials hold 20 bytes).
    pub serial: String,
    pub size_mib: u64,
}

impl DiskSpec {
    pub fn new(serial: impl Into<String>, size_mib: u64) -> DiskSpec {
        DiskSpec {
            serial: serial.into(),
            size_mib,
        }
    }
}

impl LabConfig {
    /// Defaults: lab dir from [`default_lab_dir`], no data disks, 256 MiB
    /// state disk, 1 GiB RAM, 2 CPUs.
    pub fn new(name: impl Into<String>) -> LabConfig {
        let name = name.into();
        LabConfig {
            lab_dir: default_lab_dir(&name),
            name,
            disks: Vec::new(),
            forward_fixed: Vec::new(),
            state_disk_mib: 256,
            mem_mib: 1024,
            cpus: 2,
            binaries: Vec::new(),
            forward: Vec::new(),
            boot_hook: None,
        }
    }

    pub fn disk(mut self, serial: impl Into<String>, size_mib: u64) -> LabConfig {
        self.disks.push(DiskSpec::new(serial, size_mib));
        self
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let word = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !word(&self.name, 40) {
            return bad(format!("name {:?}: use 1-40 of [A-Za-z0-9_-]", self.name));
        }
        let mut seen = vec![STATE_SERIAL];
        for d in &self.disks {
            if !word(&d.serial, 20) {
                return bad(format!(
                    "disk serial {:?}: use 1-20 of [A-Za-z0-9_-]",
                    d.serial
                ));
            }
            if seen.contains(&d.serial.as_str()) {
                return bad(format!(
                    "disk serial {:?} used twice (or reserved)",
                    d.serial
                ));
            }
            seen.push(&d.serial);
            if d.size_mib == 0 {
                return bad(format!("disk {} has size 0", d.serial));
            }
        }
        if self.state_disk_mib < 32 {
            return bad("state disk needs at least 32 MiB".into());
        }
        if self.mem_mib < 256 || self.cpus == 0 {
            return bad("need at least 256 MiB of memory and one CPU".into());
        }
        for b in &self.binaries {
            if !b.is_file() {
                return bad(format!("binary {} does not exist", b.display()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = LabConfig::new("t").disk("src", 64).disk("dst", 64);
        ok.validate().unwrap();
        assert!(LabConfig::new("t").disk("state", 1).validate().is_err());
        assert!(LabConfig::new("t")
            .disk("a", 1)
            .disk("a", 1)
            .validate()
            .is_err());
        assert!(LabConfig::new("t")
            .disk("012345678901234567890", 1)
            .validate()
            .is_err());
        assert!(LabConfig::new("a b").validate().is_err());
    }
}
