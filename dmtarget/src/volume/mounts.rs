//! Which block devices are mounted or used as swap, from `/proc/self/mountinfo` and
//! `/proc/swaps`. Keyed by device number so that any path to a device counts.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Mounted devices: (major, minor) -> mount point.
#[derive(Debug, Default, Clone)]
pub struct MountTable {
    by_dev: HashMap<(u32, u32), String>,
}

impl MountTable {
    pub fn read() -> MountTable {
        let mut t = MountTable::default();
        if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
            t.add_mountinfo(&text);
        }
        if let Ok(text) = std::fs::read_to_string("/proc/swaps") {
            for line in text.lines().skip(1) {
                if let Some(dev) = line.split_whitespace().next() {
                    if let Ok(m) = std::fs::metadata(dev) {
                        let rdev = m.rdev();
                        t.by_dev.insert(
                            (nix::libc::major(rdev), nix::libc::minor(rdev)),
                            "[swap]".into(),
                        );
                    }
                }
            }
        }
        t
    }

    /// Parses mountinfo text: field 3 is `major:minor`, field 5 the mount point.
    pub fn add_mountinfo(&mut self, text: &str) {
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 {
                continue;
            }
            if let Some((ma, mi)) = f[2].split_once(':') {
                if let (Ok(ma), Ok(mi)) = (ma.parse(), mi.parse()) {
                    // Device 0:N are anonymous (tmpfs, proc): never block devices.
                    if ma != 0 {
                        self.by_dev.insert((ma, mi), f[4].to_string());
                    }
                }
            }
        }
    }

    pub fn mount_point(&self, major: u32, minor: u32) -> Option<&str> {
        self.by_dev.get(&(major, minor)).map(String::as_str)
    }

    pub fn path_mounted(&self, path: &Path) -> Option<&str> {
        let m = std::fs::metadata(path).ok()?;
        let rdev = m.rdev();
        self.mount_point(nix::libc::major(rdev), nix::libc::minor(rdev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo() {
        let mut t = MountTable::default();
        t.add_mountinfo(
            "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
             23 22 0:21 / /proc rw - proc proc rw\n\
             40 22 254:16 / /var/lib/dsimage rw - ext4 /dev/vdb rw\n",
        );
        assert_eq!(t.mount_point(253, 0), Some("/"));
        assert_eq!(t.mount_point(254, 16), Some("/var/lib/dsimage"));
        assert_eq!(t.mount_point(0, 21), None);
        assert_eq!(t.mount_point(8, 0), None);
    }
}
