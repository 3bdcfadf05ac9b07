//! How a table line names a block device.
//!
//! The kernel accepts either `major:minor` or a path (`dm_get_device`), and
//! always prints `major:minor` back (`format_dev_t`, "%u:%u"). Tables read
//! back from the kernel therefore only ever hold [`DevRef::MajMin`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{parse_decimal, TableError};

/// Largest major and minor the kernel's `dev_t` can hold (12 and 20 bits);
/// it refuses bigger values with EOVERFLOW rather than truncating them.
const MAX_MAJOR: u32 = (1 << 12) - 1;
const MAX_MINOR: u32 = (1 << 20) - 1;

/// A block device as written in a table: `253:1` or `/dev/...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DevRef {
    MajMin(u32, u32),
    /// An absolute path; it must not contain whitespace, which would split
    /// the table field.
    Path(PathBuf),
}

impl DevRef {
    /// The device number, if this reference is one.
    pub fn maj_min(&self) -> Option<(u32, u32)> {
        match self {
            DevRef::MajMin(major, minor) => Some((*major, *minor)),
            DevRef::Path(_) => None,
        }
    }
}

impl From<devicemapper::Device> for DevRef {
    fn from(dev: devicemapper::Device) -> Self {
        DevRef::MajMin(dev.major, dev.minor)
    }
}

impl fmt::Display for DevRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevRef::MajMin(major, minor) => write!(f, "{major}:{minor}"),
            DevRef::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

impl FromStr for DevRef {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || TableError::Invalid {
            what: "device (major:minor or absolute path)",
            value: s.to_owned(),
            text: s.to_owned(),
        };
        if s.starts_with('/') {
            if s.contains(char::is_whitespace) {
                return Err(invalid());
            }
            return Ok(DevRef::Path(PathBuf::from(s)));
        }
        let (major, minor) = s.split_once(':').ok_or_else(invalid)?;
        let major: u32 = parse_decimal(major).ok_or_else(invalid)?;
        let minor: u32 = parse_decimal(minor).ok_or_else(invalid)?;
        if major > MAX_MAJOR || minor > MAX_MINOR {
            return Err(invalid());
        }
        Ok(DevRef::MajMin(major, minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maj_min_round_trip() {
        let dev: DevRef = "253:1".parse().unwrap();
        assert_eq!(dev, DevRef::MajMin(253, 1));
        assert_eq!(dev.to_string(), "253:1");
        assert_eq!(dev.maj_min(), Some((253, 1)));
        assert_eq!(
            "4095:1048575".parse::<DevRef>().unwrap(),
            DevRef::MajMin(4095, 1_048_575)
        );
    }

    #[test]
    fn path_round_trip() {
        let dev = DevRef::Path("/dev/mapper/vg-origin".into());
        assert_eq!(dev.to_string(), "/dev/mapper/vg-origin");
        assert_eq!(dev.to_string().parse::<DevRef>().unwrap(), dev);
        assert_eq!(dev.maj_min(), None);
    }

    #[test]
    fn from_devicemapper_device() {
        let dev = devicemapper::Device {
            major: 8,
            minor: 16,
        };
        assert_eq!(DevRef::from(dev), DevRef::MajMin(8, 16));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "253",
            "253:",
            ":1",
            "253:1:2",
            "+253:1",
            "253:-1",
            "sda",
            "4096:0",
            "0:1048576",
            "/dev/a b",
        ] {
            assert!(s.parse::<DevRef>().is_err(), "{s:?} should not parse");
        }
    }
}
