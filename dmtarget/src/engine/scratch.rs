//! The scratch area of independent copies: the COW store of the point-in-time snapshot
//! that freezes the copy source. It only holds what is written to the source during the
//! copy; by default a sparse file in the state directory, seen through a loop device.
//! The file is as large as the source plus room for the store's metadata, so it can
//! never fill; it takes disk space only for what is written (the state directory's
//! file system must have that room). It survives reboots, and with it the point in
//! time of an interrupted copy.
//!
//! With a scratch device configured (`--scratch-device`), copies use it instead: one
//! copy at a time, each point-in-time generation one half of the device (a copy that
//! replaces a stopped one needs both until the new one runs), seen through a linear
//! device `<shadow top>.scratch<g>`. A half is as large as it is: a copy that writes more
//! than it holds fails cleanly, as with a capped file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{EngineError, Result};
use crate::units::Bytes;

/// The scratch file of a set's point-in-time device of generation `gen`.
pub fn file(state_dir: &Path, set_uuid: &str, gen: u32) -> PathBuf {
    state_dir
        .join("scratch")
        .join(format!("{set_uuid}.{}.cow", gen % 2))
}

/// Bytes a scratch file needs for a copy source of `source` bytes: every chunk may be
/// written once, plus the store's metadata (one area chunk per 256 data chunks at the
/// smallest chunk size), rounded generously.
pub fn size_for(source: Bytes) -> Bytes {
    Bytes(source.0 + source.0 / 64 + (4 << 20))
}

/// The loop device a file is attached to, if any (from sysfs).
pub fn attached(file: &Path) -> Option<PathBuf> {
    let want = file.canonicalize().ok()?;
    for e in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok();
        if backing.map(|b| PathBuf::from(b.trim())) == Some(want.clone()) {
            return Some(Path::new("/dev").join(name));
        }
    }
    None
}

fn losetup(args: &[&str]) -> Result<String> {
    let out = Command::new("losetup")
        .args(args)
        .output()
        .map_err(|e| EngineError::io("running losetup", e))?;
    if !out.status.success() {
        return Err(EngineError::Failed(format!(
            "losetup {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates (if needed) the sparse scratch file and attaches it to a loop device.
/// `fresh` zeroes the store header so the kernel formats a new store.
pub fn attach(file: &Path, size: Bytes, fresh: bool) -> Result<PathBuf> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
    }
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file)
        .map_err(|e| EngineError::io(format!("creating {}", file.display()), e))?;
    if fresh {
        f.set_len(0)
            .and_then(|_| f.set_len(size.0))
            .and_then(|_| f.sync_all())
            .map_err(|e| EngineError::io(format!("sizing {}", file.display()), e))?;
    }
    drop(f);
    if let Some(dev) = attached(file) {
        return Ok(dev);
    }
    let dev = losetup(&["-f"])?;
    let path = file.to_string_lossy().into_owned();
    losetup(&[&dev, &path])?;
    Ok(PathBuf::from(dev))
}

/// The half of a scratch device that generation `gen` uses: (offset, length) in
/// sectors, 4 KiB aligned.
pub fn device_half(dev: &Path, gen: u32) -> Result<(crate::units::Sectors, crate::units::Sectors)> {
    use crate::units::Sectors;
    let size = crate::ondisk::DirectFile::open(dev, false)
        .map_err(|e| EngineError::io(format!("opening the scratch device {}", dev.display()), e))?
        .size();
    let half = size / 512 / 2 / 8 * 8;
    Ok((Sectors(half * u64::from(gen % 2)), Sectors(half)))
}

/// Zeroes the first 4 KiB of a scratch area, where a snapshot store keeps its header:
/// the kernel then formats a new store when the point-in-time device is created.
pub fn zero_header(path: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let fail = |e| EngineError::io(format!("clearing the scratch area {}", path.display()), e);
    let mut f = crate::ondisk::DirectFile::open(path, true).map_err(fail)?;
    f.seek(SeekFrom::Start(0)).map_err(fail)?;
    f.write_all(&[0u8; 4096]).map_err(fail)
}

/// Detaches the loop device and deletes the file.
pub fn release(file: &Path) -> Result<()> {
    if let Some(dev) = attached(file) {
        losetup(&["-d", &dev.to_string_lossy()])?;
    }
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io(format!("removing {}", file.display()), e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_large_enough_for_every_chunk() {
        // Every data chunk plus one metadata chunk per chunk*512/16 exceptions, at the
        // smallest chunk allowed (4 KiB: one area per 256 chunks), plus the header.
        let source = 1u64 << 30;
        let s = size_for(Bytes(source));
        assert!(s.0 >= source + source / 256 + 2 * 4096);
        assert!(file(Path::new("/s"), "ab", 3).ends_with("scratch/ab.1.cow"));
    }
}
