//! Discovery of block devices from sysfs.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::MountTable;
use crate::units::{Bytes, Sectors};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Disk,
    Partition,
    Loop,
    DeviceMapper,
}

/// One block device and what stands in the way of using it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockDevice {
    /// `/dev/<name>`.
    pub path: PathBuf,
    /// Kernel name (`vdb`, `dm-3`).
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub size: Bytes,
    pub kind: DeviceKind,
    pub read_only: bool,
    /// Mount point (or `[swap]`) when mounted.
    pub mounted: Option<String>,
    /// Kernel names of devices stacked on this one (dm tables, md arrays).
    pub holders: Vec<String>,
    /// Partitions of a disk.
    pub partitions: Vec<String>,
    /// The device-mapper name of a dm device.
    pub dm_name: Option<String>,
    /// The serial (virtio, scsi) when the kernel exposes one.
    pub serial: Option<String>,
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn from_sysfs(sys: &Path, name: &str, mounts: &MountTable, partition: bool) -> Option<BlockDevice> {
    let (major, minor) = {
        let dev = read_trim(&sys.join("dev"))?;
        let (a, b) = dev.split_once(':')?;
        (a.parse().ok()?, b.parse().ok()?)
    };
    let size = Sectors(read_trim(&sys.join("size"))?.parse().ok()?).bytes();
    let kind = if partition {
        DeviceKind::Partition
    } else if name.starts_with("loop") {
        DeviceKind::Loop
    } else if name.starts_with("dm-") {
        DeviceKind::DeviceMapper
    } else {
        DeviceKind::Disk
    };
    let partitions = if partition {
        Vec::new()
    } else {
        list_dir(sys)
            .into_iter()
            .filter(|d| sys.join(d).join("partition").exists())
            .collect()
    };
    Some(BlockDevice {
        path: Path::new("/dev").join(name),
        name: name.to_string(),
        major,
        minor,
        size,
        kind,
        read_only: read_trim(&sys.join("ro")).as_deref() == Some("1"),
        mounted: mounts.mount_point(major, minor).map(str::to_string),
        holders: list_dir(&sys.join("holders")),
        partitions,
        dm_name: read_trim(&sys.join("dm/name")),
        serial: read_trim(&sys.join("serial")).filter(|s| !s.is_empty()),
    })
}

/// Every block device with a non-zero size: disks, their partitions, loop and dm devices.
pub fn discover() -> Vec<BlockDevice> {
    let mounts = MountTable::read();
    let root = Path::new("/sys/block");
    let mut out = Vec::new();
    for name in list_dir(root) {
        let sys = root.join(&name);
        if let Some(d) = from_sysfs(&sys, &name, &mounts, false) {
            for p in &d.partitions {
                if let Some(pd) = from_sysfs(&sys.join(p), p, &mounts, true) {
                    if pd.size.0 > 0 {
                        out.push(pd);
                    }
                }
            }
            if d.size.0 > 0 {
                out.push(d);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Looks up one device by any path to its node (`/dev/vdb`, `/dev/disk/by-id/...`).
pub fn probe(path: &Path) -> std::io::Result<BlockDevice> {
    let meta = std::fs::metadata(path)?;
    if !meta.file_type().is_block_device() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a block device", path.display()),
        ));
    }
    let (ma, mi) = (nix::libc::major(meta.rdev()), nix::libc::minor(meta.rdev()));
    discover()
        .into_iter()
        .find(|d| d.major == ma && d.minor == mi)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} ({ma}:{mi}) is not listed in /sys/block", path.display()),
            )
        })
}
