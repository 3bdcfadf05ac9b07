//! The `era` target (drivers/md/dm-era-target.c): its table parameters
//! `<metadata dev> <origin dev> <block size>` and its status line.

use std::fmt;
use std::str::FromStr;

use super::{DevRef, Fields, TableError};
use crate::units::Sectors;

/// Parameters of an `era` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraParams {
    pub metadata: DevRef,
    pub origin: DevRef,
    /// Tracking granularity; the kernel reads it as a 32-bit count ("%u").
    pub block_size: Sectors,
}

/// As `era_status` STATUSTYPE_TABLE prints it: "%s %s %u".
impl fmt::Display for EraParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metadata, self.origin, self.block_size)
    }
}

impl FromStr for EraParams {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let metadata = fields.dev("era metadata device")?;
        let origin = fields.dev("era origin device")?;
        let block_size = fields.sectors_u32("era block size")?;
        fields.finish()?;
        Ok(EraParams {
            metadata,
            origin,
            block_size,
        })
    }
}

/// An era target's STATUSTYPE_INFO line:
/// `<metadata block size> <used>/<total metadata blocks> <current era> <held root|->`.
///
/// When the kernel cannot read its metadata it prints `Error` instead, which
/// parses as [`TableError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraStatus {
    /// Always 8 sectors (4 KiB) in current kernels, but printed, so kept.
    pub metadata_block_size: Sectors,
    pub used_metadata_blocks: u64,
    pub total_metadata_blocks: u64,
    pub current_era: u32,
    /// Metadata block of the held (snapshotted) root, if one is held.
    pub held_root: Option<u64>,
}

/// As `era_status` STATUSTYPE_INFO prints it: "%u %llu/%llu %u" then " %llu"
/// or " -".
impl fmt::Display for EraStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} {} ",
            self.metadata_block_size,
            self.used_metadata_blocks,
            self.total_metadata_blocks,
            self.current_era
        )?;
        match self.held_root {
            Some(root) => write!(f, "{root}"),
            None => f.write_str("-"),
        }
    }
}

impl FromStr for EraStatus {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let metadata_block_size = fields.sectors_u32("era metadata block size")?;
        let usage = fields.next("era metadata usage")?;
        let (used, total) = usage
            .split_once('/')
            .and_then(|(used, total)| {
                Some((super::parse_decimal(used)?, super::parse_decimal(total)?))
            })
            .ok_or_else(|| fields.invalid("era metadata usage", usage))?;
        let current_era = fields.number("current era")?;
        let held = fields.next("held metadata root")?;
        let held_root = match held {
            "-" => None,
            root => Some(
                super::parse_decimal(root)
                    .ok_or_else(|| fields.invalid("held metadata root", root))?,
            ),
        };
        fields.finish()?;
        Ok(EraStatus {
            metadata_block_size,
            used_metadata_blocks: used,
            total_metadata_blocks: total,
            current_era,
            held_root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_kernel_string_round_trips() {
        let p: EraParams = "253:4 253:5 128".parse().unwrap();
        assert_eq!(
            p,
            EraParams {
                metadata: DevRef::MajMin(253, 4),
                origin: DevRef::MajMin(253, 5),
                block_size: Sectors(128),
            }
        );
        assert_eq!(p.to_string(), "253:4 253:5 128");
    }

    #[test]
    fn params_value_round_trips() {
        let p = EraParams {
            metadata: DevRef::Path("/dev/vg/era-meta".into()),
            origin: DevRef::MajMin(8, 32),
            block_size: Sectors(8),
        };
        assert_eq!(p.to_string().parse::<EraParams>().unwrap(), p);
    }

    #[test]
    fn params_block_size_is_32_bit() {
        assert!("253:4 253:5 4294967296".parse::<EraParams>().is_err());
        assert!("253:4 253:5".parse::<EraParams>().is_err());
    }

    #[test]
    fn status_kernel_strings_round_trip() {
        let s: EraStatus = "8 71/4096 1 -".parse().unwrap();
        assert_eq!(
            s,
            EraStatus {
                metadata_block_size: Sectors(8),
                used_metadata_blocks: 71,
                total_metadata_blocks: 4096,
                current_era: 1,
                held_root: None,
            }
        );
        assert_eq!(s.to_string(), "8 71/4096 1 -");

        let held: EraStatus = "8 105/4096 17 42".parse().unwrap();
        assert_eq!(held.held_root, Some(42));
        assert_eq!(held.to_string(), "8 105/4096 17 42");
    }

    #[test]
    fn status_value_round_trips() {
        let s = EraStatus {
            metadata_block_size: Sectors(8),
            used_metadata_blocks: 1,
            total_metadata_blocks: 2,
            current_era: u32::MAX,
            held_root: Some(7),
        };
        assert_eq!(s.to_string().parse::<EraStatus>().unwrap(), s);
    }

    #[test]
    fn status_error_and_malformed_are_refused() {
        assert!(matches!(
            "Error".parse::<EraStatus>(),
            Err(TableError::Invalid { .. })
        ));
        for bad in ["8 71 1 -", "8 71/ 1 -", "8 71/4096 1", "8 71/4096 1 - x"] {
            assert!(bad.parse::<EraStatus>().is_err(), "{bad:?}");
        }
    }
}
