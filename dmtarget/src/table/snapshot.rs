//! The snapshot family (drivers/md/dm-snap.c and its exception stores,
//! dm-exception-store.c, dm-snap-persistent.c, dm-snap-transient.c):
//!
//! - `snapshot-origin <origin>`: [`OriginParams`];
//! - `snapshot` and `snapshot-merge`
//!   `<origin> <cow> <P|PO|N> <chunk> [<#features> <feature>...]`:
//!   [`SnapshotParams`] (both targets share the constructor);
//! - their shared STATUSTYPE_INFO line: [`SnapshotStatus`].
//!
//! snapshot-origin prints an empty status line, so it has no status type.

use std::fmt;
use std::str::FromStr;

use super::{write_arg_group, DevRef, Fields, TableError};
use crate::units::Sectors;

/// Parameters of a `snapshot-origin` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginParams {
    pub origin: DevRef,
}

/// As `origin_status` prints it: "%s".
impl fmt::Display for OriginParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)
    }
}

impl FromStr for OriginParams {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let origin = fields.dev("origin device")?;
        fields.finish()?;
        Ok(OriginParams { origin })
    }
}

/// The exception store type of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// `P`: exceptions persisted in the COW device; the snapshot is
    /// invalidated when the COW device fills.
    Persistent,
    /// `N`: exceptions kept in memory only.
    Transient,
    /// `PO`: persistent, and userspace handles overflow: a full COW device
    /// makes the snapshot report `Overflow` rather than become invalid.
    PersistentOverflow,
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Persistence::Persistent => "P",
            Persistence::Transient => "N",
            Persistence::PersistentOverflow => "PO",
        })
    }
}

/// Case-insensitive, as the kernel reads it (`toupper`); printed upper case.
impl FromStr for Persistence {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "P" => Ok(Persistence::Persistent),
            "N" => Ok(Persistence::Transient),
            "PO" => Ok(Persistence::PersistentOverflow),
            _ => Err(TableError::Invalid {
                what: "snapshot persistence (P, PO or N)",
                value: s.to_owned(),
                text: s.to_owned(),
            }),
        }
    }
}

/// Parameters of a `snapshot` or `snapshot-merge` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotParams {
    pub origin: DevRef,
    pub cow: DevRef,
    pub persistent: Persistence,
    /// Chunk size, a power of two; 0 asks a persistent store to use the chunk
    /// size recorded in the COW header.
    pub chunk: Sectors,
    /// Optional feature arguments of newer kernels (`discard_zeroes_cow`,
    /// `discard_passdown_origin`), kept verbatim and in order.
    pub features: Vec<String>,
}

/// As `snapshot_status` STATUSTYPE_TABLE prints it: "%s %s", the store's
/// " %s %llu" and, only when features are set, " %u" and the feature names.
impl fmt::Display for SnapshotParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.origin, self.cow, self.persistent, self.chunk
        )?;
        write_arg_group(f, &self.features)
    }
}

impl FromStr for SnapshotParams {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let origin = fields.dev("snapshot origin device")?;
        let cow = fields.dev("snapshot COW device")?;
        let persistence = fields.next("snapshot persistence")?;
        let persistent = persistence
            .parse()
            .map_err(|_| fields.invalid("snapshot persistence (P, PO or N)", persistence))?;
        // The kernel reads the chunk size with kstrtouint.
        let chunk = fields.sectors_u32("snapshot chunk size")?;
        let mut features = Vec::new();
        if !fields.is_empty() {
            let count: usize = fields.number("snapshot feature count")?;
            for _ in 0..count {
                features.push(fields.next("snapshot feature")?.to_owned());
            }
        }
        fields.finish()?;
        Ok(SnapshotParams {
            origin,
            cow,
            persistent,
            chunk,
            features,
        })
    }
}

/// STATUSTYPE_INFO of `snapshot` and `snapshot-merge`.
///
/// For snapshot-merge, `allocated` falls toward `metadata` as chunks are
/// merged back into the origin; the merge is done when they are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// `<allocated>/<total> <metadata>`, all in sectors: COW space in use
    /// (data and metadata chunks), COW device size, and the metadata part.
    Active {
        allocated: Sectors,
        total: Sectors,
        metadata: Sectors,
    },
    /// `Invalid`: the snapshot was dropped (COW full, or an I/O error).
    Invalid,
    /// `Overflow`: a `PO` snapshot's COW device is full; reads still work.
    Overflow,
    /// `Merge failed`: snapshot-merge stopped after an I/O error.
    MergeFailed,
    /// `Unknown`: the exception store cannot report usage.
    Unknown,
}

impl SnapshotStatus {
    /// Data chunks holding exceptions, given the snapshot's chunk size;
    /// `None` unless active, or if `chunk` is zero.
    pub fn used_chunks(&self, chunk: Sectors) -> Option<u64> {
        match self {
            SnapshotStatus::Active {
                allocated,
                metadata,
                ..
            } if chunk.0 > 0 => Some(allocated.0.saturating_sub(metadata.0) / chunk.0),
            _ => None,
        }
    }

    /// True when a snapshot-merge has copied every exception back: only the
    /// metadata chunks are still allocated.
    pub fn is_merge_complete(&self) -> bool {
        matches!(
            self,
            SnapshotStatus::Active { allocated, metadata, .. } if allocated == metadata
        )
    }
}

/// As `snapshot_status` STATUSTYPE_INFO prints it.
impl fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotStatus::Active {
                allocated,
                total,
                metadata,
            } => write!(f, "{allocated}/{total} {metadata}"),
            SnapshotStatus::Invalid => f.write_str("Invalid"),
            SnapshotStatus::Overflow => f.write_str("Overflow"),
            // Two words, as the kernel prints it.
            SnapshotStatus::MergeFailed => f.write_str("Merge failed"),
            SnapshotStatus::Unknown => f.write_str("Unknown"),
        }
    }
}

impl FromStr for SnapshotStatus {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "Invalid" => return Ok(SnapshotStatus::Invalid),
            "Overflow" => return Ok(SnapshotStatus::Overflow),
            "Merge failed" => return Ok(SnapshotStatus::MergeFailed),
            "Unknown" => return Ok(SnapshotStatus::Unknown),
            _ => {}
        }
        let mut fields = Fields::new(s);
        let usage = fields.next("snapshot usage")?;
        let (allocated, total) = usage
            .split_once('/')
            .and_then(|(allocated, total)| {
                Some((
                    super::parse_decimal(allocated)?,
                    super::parse_decimal(total)?,
                ))
            })
            .ok_or_else(|| fields.invalid("snapshot usage (allocated/total)", usage))?;
        let metadata = fields.sectors("snapshot metadata sectors")?;
        fields.finish()?;
        Ok(SnapshotStatus::Active {
            allocated: Sectors(allocated),
            total: Sectors(total),
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_round_trips() {
        let p: OriginParams = "253:2".parse().unwrap();
        assert_eq!(p.origin, DevRef::MajMin(253, 2));
        assert_eq!(p.to_string(), "253:2");
        let v = OriginParams {
            origin: DevRef::Path("/dev/sdb".into()),
        };
        assert_eq!(v.to_string().parse::<OriginParams>().unwrap(), v);
        assert!("253:2 253:3".parse::<OriginParams>().is_err());
    }

    #[test]
    fn persistence_round_trips() {
        for (s, p) in [
            ("P", Persistence::Persistent),
            ("N", Persistence::Transient),
            ("PO", Persistence::PersistentOverflow),
        ] {
            assert_eq!(s.parse::<Persistence>().unwrap(), p);
            assert_eq!(p.to_string(), s);
        }
        // The kernel upper-cases what it reads, so these are accepted.
        assert_eq!(
            "po".parse::<Persistence>().unwrap(),
            Persistence::PersistentOverflow
        );
        assert!("X".parse::<Persistence>().is_err());
        assert!("PX".parse::<Persistence>().is_err());
    }

    #[test]
    fn snapshot_kernel_strings_round_trip() {
        let p: SnapshotParams = "253:2 253:3 P 64".parse().unwrap();
        assert_eq!(
            p,
            SnapshotParams {
                origin: DevRef::MajMin(253, 2),
                cow: DevRef::MajMin(253, 3),
                persistent: Persistence::Persistent,
                chunk: Sectors(64),
                features: vec![],
            }
        );
        assert_eq!(p.to_string(), "253:2 253:3 P 64");

        for s in [
            "253:2 253:3 N 8",
            "253:2 253:3 PO 16",
            "253:2 253:3 P 8 1 discard_zeroes_cow",
            "253:2 253:3 P 8 2 discard_zeroes_cow discard_passdown_origin",
        ] {
            let p: SnapshotParams = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn snapshot_value_round_trips() {
        let p = SnapshotParams {
            origin: DevRef::Path("/dev/vg/origin".into()),
            cow: DevRef::MajMin(253, 7),
            persistent: Persistence::PersistentOverflow,
            chunk: Sectors(32),
            features: vec!["discard_zeroes_cow".into()],
        };
        assert_eq!(
            p.to_string(),
            "/dev/vg/origin 253:7 PO 32 1 discard_zeroes_cow"
        );
        assert_eq!(p.to_string().parse::<SnapshotParams>().unwrap(), p);
    }

    #[test]
    fn snapshot_rejects_wrong_shapes() {
        for bad in [
            "253:2 253:3 P",
            "253:2 253:3 Q 8",
            "253:2 253:3 P 4294967296",
            "253:2 253:3 P 8 2 discard_zeroes_cow",
            "253:2 253:3 P 8 1 discard_zeroes_cow extra",
            "253:2 253:3 P 8 x",
        ] {
            assert!(bad.parse::<SnapshotParams>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_kernel_strings_round_trip() {
        let s: SnapshotStatus = "16/204800 16".parse().unwrap();
        assert_eq!(
            s,
            SnapshotStatus::Active {
                allocated: Sectors(16),
                total: Sectors(204800),
                metadata: Sectors(16),
            }
        );
        assert_eq!(s.to_string(), "16/204800 16");
        for text in [
            "Invalid",
            "Overflow",
            "Merge failed",
            "Unknown",
            "1048/204800 24",
        ] {
            let parsed: SnapshotStatus = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            "Merge failed".parse::<SnapshotStatus>().unwrap(),
            SnapshotStatus::MergeFailed
        );
    }

    #[test]
    fn status_value_round_trips() {
        for s in [
            SnapshotStatus::Active {
                allocated: Sectors(1 << 40),
                total: Sectors(1 << 41),
                metadata: Sectors(8),
            },
            SnapshotStatus::Invalid,
            SnapshotStatus::Overflow,
            SnapshotStatus::MergeFailed,
            SnapshotStatus::Unknown,
        ] {
            assert_eq!(s.to_string().parse::<SnapshotStatus>().unwrap(), s);
        }
    }

    #[test]
    fn status_helpers() {
        // Chunk 8: 2 metadata chunks (header + one area) and 129 data chunks.
        let merging: SnapshotStatus = "1048/204800 16".parse().unwrap();
        assert_eq!(merging.used_chunks(Sectors(8)), Some(129));
        assert!(!merging.is_merge_complete());
        assert_eq!(merging.used_chunks(Sectors(0)), None);

        let done: SnapshotStatus = "16/204800 16".parse().unwrap();
        assert_eq!(done.used_chunks(Sectors(8)), Some(0));
        assert!(done.is_merge_complete());

        assert_eq!(SnapshotStatus::Invalid.used_chunks(Sectors(8)), None);
        assert!(!SnapshotStatus::MergeFailed.is_merge_complete());
    }

    #[test]
    fn status_rejects_malformed() {
        for bad in [
            "",
            "16/204800",
            "16 204800 16",
            "16/x 16",
            "Merge",
            "16/204800 16 1",
        ] {
            assert!(bad.parse::<SnapshotStatus>().is_err(), "{bad:?}");
        }
    }
}
