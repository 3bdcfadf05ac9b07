//! One raw `dmsetup status` line, `<start> <length> <target type> <status>`,
//! split so the caller can hand the status part to the typed parser of its
//! target ([`SnapshotStatus`](super::SnapshotStatus),
//! [`MirrorStatus`](super::MirrorStatus), [`EraStatus`](super::EraStatus)).

use std::fmt;
use std::str::FromStr;

use super::{Fields, TableError};
use crate::units::Sectors;

/// A `dmsetup status` line with the target's status left unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub start: Sectors,
    pub length: Sectors,
    pub target_type: String,
    /// The target's STATUSTYPE_INFO string; empty for linear, zero, error
    /// and snapshot-origin.
    pub rest: String,
}

impl StatusLine {
    /// Parses [`rest`](Self::rest) with the typed parser `T`.
    pub fn parse_rest<T>(&self) -> Result<T, TableError>
    where
        T: FromStr<Err = TableError>,
    {
        self.rest.parse()
    }
}

/// Written as dmsetup prints it (`printf("%llu %llu %s %s")`), so an empty
/// status keeps the trailing space.
impl fmt::Display for StatusLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.start, self.length, self.target_type, self.rest
        )
    }
}

impl FromStr for StatusLine {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let start = fields.sectors("start sector")?;
        let length = fields.sectors("length")?;
        let target_type = fields.next("target type")?.to_owned();
        let rest = fields.remainder().to_owned();
        Ok(StatusLine {
            start,
            length,
            target_type,
            rest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{DevRef, EraStatus, MirrorStatus, SnapshotStatus};

    #[test]
    fn kernel_lines_round_trip_and_dispatch() {
        let snap: StatusLine = "0 409600 snapshot 16/204800 16".parse().unwrap();
        assert_eq!(snap.to_string(), "0 409600 snapshot 16/204800 16");
        assert_eq!(snap.target_type, "snapshot");
        assert_eq!(
            snap.parse_rest::<SnapshotStatus>().unwrap(),
            SnapshotStatus::Active {
                allocated: Sectors(16),
                total: Sectors(204800),
                metadata: Sectors(16),
            }
        );

        let merge: StatusLine = "0 409600 snapshot-merge Merge failed".parse().unwrap();
        assert_eq!(merge.rest, "Merge failed");
        assert_eq!(
            merge.parse_rest::<SnapshotStatus>().unwrap(),
            SnapshotStatus::MergeFailed
        );

        let mirror: StatusLine = "0 409600 mirror 2 253:1 253:2 10/100 1 AA 3 disk 253:3 A"
            .parse()
            .unwrap();
        let m: MirrorStatus = mirror.parse_rest().unwrap();
        assert_eq!(m.legs, vec![DevRef::MajMin(253, 1), DevRef::MajMin(253, 2)]);
        assert_eq!(
            mirror.to_string(),
            "0 409600 mirror 2 253:1 253:2 10/100 1 AA 3 disk 253:3 A"
        );

        let era: StatusLine = "0 409600 era 8 71/4096 1 -".parse().unwrap();
        assert_eq!(era.parse_rest::<EraStatus>().unwrap().current_era, 1);
    }

    #[test]
    fn empty_status_keeps_dmsetup_trailing_space() {
        let linear: StatusLine = "0 2048 linear ".parse().unwrap();
        assert_eq!(linear.rest, "");
        assert_eq!(linear.to_string(), "0 2048 linear ");
        assert_eq!("0 2048 linear".parse::<StatusLine>().unwrap(), linear);
    }

    #[test]
    fn value_round_trips() {
        let line = StatusLine {
            start: Sectors(8),
            length: Sectors(16),
            target_type: "snapshot".into(),
            rest: "Invalid".into(),
        };
        assert_eq!(line.to_string().parse::<StatusLine>().unwrap(), line);
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "0", "0 2048", "x 2048 linear", "0 -1 linear"] {
            assert!(bad.parse::<StatusLine>().is_err(), "{bad:?}");
        }
    }
}
