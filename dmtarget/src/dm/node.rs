//! `/dev/mapper/<name>` nodes. udev makes them where it runs; where it does not (minimal
//! systems, the lab VM) we make and remove them ourselves, as libdevmapper does.

use std::io;
use std::path::{Path, PathBuf};

use nix::sys::stat::{mknod, Mode, SFlag};

pub fn path(name: &str) -> PathBuf {
    Path::new("/dev/mapper").join(name)
}

fn udev_manages_nodes() -> bool {
    Path::new("/run/udev/control").exists()
}

/// Makes the node for a live device when udev will not, replacing a stale one.
pub fn ensure(name: &str, major: u32, minor: u32) -> io::Result<()> {
    if udev_manages_nodes() {
        return Ok(());
    }
    let p = path(name);
    let want = nix::libc::makedev(major, minor);
    if let Ok(meta) = std::fs::metadata(&p) {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if meta.file_type().is_block_device() && meta.rdev() == want {
            return Ok(());
        }
        std::fs::remove_file(&p)?;
    }
    mknod(&p, SFlag::S_IFBLK, Mode::from_bits_truncate(0o660), want).map_err(io::Error::from)
}

pub fn remove(name: &str) -> io::Result<()> {
    if udev_manages_nodes() {
        return Ok(());
    }
    match std::fs::remove_file(path(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
