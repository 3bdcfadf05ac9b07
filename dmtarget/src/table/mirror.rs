//! The `mirror` target (drivers/md/dm-raid1.c) with its `core` and `disk`
//! dirty-region logs (drivers/md/dm-log.c): table parameters
//!
//! `<log type> <#log args> <log args> <#legs> (<dev> <offset>){#legs} [<#features> <feature>...]`
//!
//! and the STATUSTYPE_INFO line
//!
//! `<#legs> <dev>... <in sync>/<regions> 1 <health chars> <log status>`.
//!
//! The cluster logs (`clustered-*`, `userspace`) are not modelled.

use std::fmt;
use std::str::FromStr;

use super::{write_arg_group, DevRef, Fields, TableError};
use crate::units::Sectors;

/// Most legs a mirror accepts: `MAX_NR_MIRRORS`, `DM_KCOPYD_MAX_REGIONS + 1`.
pub const MAX_MIRROR_LEGS: usize = 9;

/// Whether the log starts by resynchronising every region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SyncMode {
    /// No argument: resync regions the log does not know to be in sync.
    #[default]
    Default,
    /// `sync`: resync every region.
    Sync,
    /// `nosync`: trust that the legs already match.
    NoSync,
}

impl SyncMode {
    /// The optional log argument for this mode.
    pub fn arg(self) -> Option<&'static str> {
        match self {
            SyncMode::Default => None,
            SyncMode::Sync => Some("sync"),
            SyncMode::NoSync => Some("nosync"),
        }
    }

    /// Reads the optional log argument; the kernel compares case-sensitively.
    fn from_arg(arg: &str) -> Option<SyncMode> {
        match arg {
            "sync" => Some(SyncMode::Sync),
            "nosync" => Some(SyncMode::NoSync),
            _ => None,
        }
    }
}

/// The dirty-region log of a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorLog {
    /// In-memory log: `core <#args> <region size> [sync|nosync]`.
    Core { region: Sectors, sync: SyncMode },
    /// On-disk log: `disk <#args> <log dev> <region size> [sync|nosync]`.
    Disk {
        dev: DevRef,
        region: Sectors,
        sync: SyncMode,
    },
}

impl MirrorLog {
    /// Reads a log from the front of `fields`, leaving the rest.
    fn parse_fields(fields: &mut Fields<'_>) -> Result<MirrorLog, TableError> {
        let log_type = fields.next("mirror log type")?;
        let count_text = fields.next("mirror log argument count")?;
        let count: usize = super::parse_decimal(count_text)
            .ok_or_else(|| fields.invalid("mirror log argument count", count_text))?;
        // Core logs take 1-2 arguments, disk logs one more for the device.
        let (dev, sync_args) = match log_type {
            "core" if (1..=2).contains(&count) => (None, count - 1),
            "disk" if (2..=3).contains(&count) => {
                (Some(fields.dev("mirror log device")?), count - 2)
            }
            "core" | "disk" => {
                return Err(fields.invalid("mirror log argument count", count_text));
            }
            other => return Err(fields.invalid("mirror log type (core or disk)", other)),
        };
        // create_log_context reads the region size with "%u".
        let region = fields.sectors_u32("mirror region size")?;
        let sync = if sync_args == 1 {
            let arg = fields.next("mirror log sync mode")?;
            SyncMode::from_arg(arg)
                .ok_or_else(|| fields.invalid("mirror log sync mode (sync or nosync)", arg))?
        } else {
            SyncMode::Default
        };
        Ok(match dev {
            None => MirrorLog::Core { region, sync },
            Some(dev) => MirrorLog::Disk { dev, region, sync },
        })
    }
}

/// As `core_status`/`disk_status` STATUSTYPE_TABLE print it, without the
/// trailing space the kernel emits before the mirror's own fields.
impl fmt::Display for MirrorLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sync = match self {
            MirrorLog::Core { region, sync } => {
                let count = if sync.arg().is_some() { 2 } else { 1 };
                write!(f, "core {count} {region}")?;
                sync
            }
            MirrorLog::Disk { dev, region, sync } => {
                let count = if sync.arg().is_some() { 3 } else { 2 };
                write!(f, "disk {count} {dev} {region}")?;
                sync
            }
        };
        match sync.arg() {
            Some(arg) => write!(f, " {arg}"),
            None => Ok(()),
        }
    }
}

impl FromStr for MirrorLog {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let log = MirrorLog::parse_fields(&mut fields)?;
        fields.finish()?;
        Ok(log)
    }
}

/// One mirror leg: a device and the sector where the mirrored data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorLeg {
    pub dev: DevRef,
    pub offset: Sectors,
}

impl fmt::Display for MirrorLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.dev, self.offset)
    }
}

/// Optional mirror features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorFeature {
    /// `handle_errors`: fail a leg on error instead of failing the I/O.
    HandleErrors,
    /// `keep_log`: keep a failed log device; requires `handle_errors`.
    KeepLog,
}

impl fmt::Display for MirrorFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MirrorFeature::HandleErrors => "handle_errors",
            MirrorFeature::KeepLog => "keep_log",
        })
    }
}

/// Case-sensitive, as the kernel's `parse_features` compares with `strcmp`.
impl FromStr for MirrorFeature {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "handle_errors" => Ok(MirrorFeature::HandleErrors),
            "keep_log" => Ok(MirrorFeature::KeepLog),
            _ => Err(TableError::Invalid {
                what: "mirror feature (handle_errors or keep_log)",
                value: s.to_owned(),
                text: s.to_owned(),
            }),
        }
    }
}

/// Parameters of a `mirror` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorParams {
    pub log: MirrorLog,
    /// Between 2 and [`MAX_MIRROR_LEGS`] legs.
    pub legs: Vec<MirrorLeg>,
    /// Printed in this order; the kernel prints `handle_errors` first.
    pub features: Vec<MirrorFeature>,
}

/// As `mirror_status` STATUSTYPE_TABLE prints it.
impl fmt::Display for MirrorParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.log, self.legs.len())?;
        for leg in &self.legs {
            write!(f, " {leg}")?;
        }
        write_arg_group(f, &self.features)
    }
}

impl FromStr for MirrorParams {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let log = MirrorLog::parse_fields(&mut fields)?;
        let count_text = fields.next("mirror leg count")?;
        let count: usize = super::parse_decimal(count_text)
            .filter(|n| (2..=MAX_MIRROR_LEGS).contains(n))
            .ok_or_else(|| fields.invalid("mirror leg count (2 to 9)", count_text))?;
        let mut legs = Vec::with_capacity(count);
        for _ in 0..count {
            let dev = fields.dev("mirror leg device")?;
            let offset = fields.sectors("mirror leg offset")?;
            legs.push(MirrorLeg { dev, offset });
        }
        let mut features = Vec::new();
        if !fields.is_empty() {
            let count: usize = fields.number("mirror feature count")?;
            for _ in 0..count {
                let name = fields.next("mirror feature")?;
                let feature = name.parse().map_err(|_| {
                    fields.invalid("mirror feature (handle_errors or keep_log)", name)
                })?;
                features.push(feature);
            }
        }
        fields.finish()?;
        Ok(MirrorParams {
            log,
            legs,
            features,
        })
    }
}

/// Health of a mirror leg (or of a disk log device), one character each,
/// the most severe error seen (`device_status_char`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegHealth {
    /// `A`: no failures.
    Alive,
    /// `D`: a write failed; the leg is out of sync.
    Dead,
    /// `S`: resynchronisation failed; the leg is out of sync.
    SyncError,
    /// `R`: a read failed; data unaffected.
    ReadError,
    /// `U`: errors of no recorded kind.
    Unclassified,
    /// `F`: a flush failed.
    FlushError,
}

impl LegHealth {
    pub fn as_char(self) -> char {
        match self {
            LegHealth::Alive => 'A',
            LegHealth::Dead => 'D',
            LegHealth::SyncError => 'S',
            LegHealth::ReadError => 'R',
            LegHealth::Unclassified => 'U',
            LegHealth::FlushError => 'F',
        }
    }

    pub fn from_char(c: char) -> Option<LegHealth> {
        Some(match c {
            'A' => LegHealth::Alive,
            'D' => LegHealth::Dead,
            'S' => LegHealth::SyncError,
            'R' => LegHealth::ReadError,
            'U' => LegHealth::Unclassified,
            'F' => LegHealth::FlushError,
            _ => return None,
        })
    }
}

impl fmt::Display for LegHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// The log's part of a mirror status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorLogStatus {
    /// `1 core`.
    Core,
    /// `3 disk <dev> <A|D|F>`: the log device and its health.
    Disk { dev: DevRef, health: LegHealth },
}

impl MirrorLogStatus {
    fn parse_fields(fields: &mut Fields<'_>) -> Result<MirrorLogStatus, TableError> {
        let count_text = fields.next("mirror log status count")?;
        let log_type = fields.next("mirror log type")?;
        let status = match (count_text, log_type) {
            ("1", "core") => MirrorLogStatus::Core,
            ("3", "disk") => {
                let dev = fields.dev("mirror log device")?;
                let health_text = fields.next("mirror log health")?;
                let health = single_char(health_text)
                    .and_then(LegHealth::from_char)
                    .ok_or_else(|| fields.invalid("mirror log health", health_text))?;
                MirrorLogStatus::Disk { dev, health }
            }
            ("1" | "3", other) if other != "core" && other != "disk" => {
                return Err(fields.invalid("mirror log type (core or disk)", other));
            }
            _ => return Err(fields.invalid("mirror log status count", count_text)),
        };
        Ok(status)
    }
}

/// As `core_status`/`disk_status` STATUSTYPE_INFO print it.
impl fmt::Display for MirrorLogStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MirrorLogStatus::Core => f.write_str("1 core"),
            MirrorLogStatus::Disk { dev, health } => write!(f, "3 disk {dev} {health}"),
        }
    }
}

impl FromStr for MirrorLogStatus {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let status = MirrorLogStatus::parse_fields(&mut fields)?;
        fields.finish()?;
        Ok(status)
    }
}

/// STATUSTYPE_INFO of a `mirror` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorStatus {
    pub legs: Vec<DevRef>,
    /// Regions the log records as in sync on every leg.
    pub in_sync: u64,
    pub regions: u64,
    /// One entry per leg, in leg order.
    pub health: Vec<LegHealth>,
    pub log: MirrorLogStatus,
}

impl MirrorStatus {
    /// Share of regions in sync, 0.0 to 100.0 (100.0 for a mirror of no
    /// regions, which has nothing left to copy).
    pub fn percent(&self) -> f64 {
        if self.regions == 0 {
            return 100.0;
        }
        self.in_sync as f64 * 100.0 / self.regions as f64
    }

    /// True once every region is in sync.
    pub fn is_in_sync(&self) -> bool {
        self.in_sync >= self.regions
    }
}

/// As `mirror_status` STATUSTYPE_INFO prints it: "%d ", "%s " per leg,
/// "%llu/%llu 1 %s " (the 1 counts the health argument), then the log.
impl fmt::Display for MirrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.legs.len())?;
        for leg in &self.legs {
            write!(f, " {leg}")?;
        }
        write!(f, " {}/{} 1 ", self.in_sync, self.regions)?;
        for health in &self.health {
            write!(f, "{health}")?;
        }
        write!(f, " {}", self.log)
    }
}

impl FromStr for MirrorStatus {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let count: usize = fields.number("mirror leg count")?;
        let mut legs = Vec::with_capacity(count.min(MAX_MIRROR_LEGS));
        for _ in 0..count {
            legs.push(fields.dev("mirror leg device")?);
        }
        let sync_text = fields.next("mirror sync count")?;
        let (in_sync, regions) = sync_text
            .split_once('/')
            .and_then(|(a, b)| Some((super::parse_decimal(a)?, super::parse_decimal(b)?)))
            .ok_or_else(|| fields.invalid("mirror sync count (in sync/regions)", sync_text))?;
        let health_args = fields.next("mirror health argument count")?;
        if health_args != "1" {
            return Err(fields.invalid("mirror health argument count", health_args));
        }
        let health_text = fields.next("mirror leg health")?;
        let health = health_text
            .chars()
            .map(LegHealth::from_char)
            .collect::<Option<Vec<_>>>()
            .filter(|health| health.len() == count)
            .ok_or_else(|| fields.invalid("mirror leg health", health_text))?;
        let log = MirrorLogStatus::parse_fields(&mut fields)?;
        fields.finish()?;
        Ok(MirrorStatus {
            legs,
            in_sync,
            regions,
            health,
            log,
        })
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legs(devs: &[(u32, u32)]) -> Vec<MirrorLeg> {
        devs.iter()
            .map(|&(major, minor)| MirrorLeg {
                dev: DevRef::MajMin(major, minor),
                offset: Sectors(0),
            })
            .collect()
    }

    #[test]
    fn params_kernel_strings_round_trip() {
        let p: MirrorParams = "core 2 1024 nosync 2 253:1 0 253:2 0 1 handle_errors"
            .parse()
            .unwrap();
        assert_eq!(
            p,
            MirrorParams {
                log: MirrorLog::Core {
                    region: Sectors(1024),
                    sync: SyncMode::NoSync,
                },
                legs: legs(&[(253, 1), (253, 2)]),
                features: vec![MirrorFeature::HandleErrors],
            }
        );
        assert_eq!(
            p.to_string(),
            "core 2 1024 nosync 2 253:1 0 253:2 0 1 handle_errors"
        );

        let d: MirrorParams = "disk 3 253:3 1024 sync 2 253:1 0 253:2 0 1 handle_errors"
            .parse()
            .unwrap();
        assert_eq!(
            d.log,
            MirrorLog::Disk {
                dev: DevRef::MajMin(253, 3),
                region: Sectors(1024),
                sync: SyncMode::Sync,
            }
        );

        for s in [
            "core 2 1024 nosync 2 253:1 0 253:2 0 1 handle_errors",
            "disk 3 253:3 1024 sync 2 253:1 0 253:2 0 1 handle_errors",
            "core 1 1024 2 253:1 0 253:2 0",
            "disk 2 253:3 1024 3 8:16 2048 8:32 2048 8:48 0 2 handle_errors keep_log",
        ] {
            let p: MirrorParams = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn params_value_round_trips() {
        let p = MirrorParams {
            log: MirrorLog::Disk {
                dev: DevRef::Path("/dev/vg/mlog".into()),
                region: Sectors(512),
                sync: SyncMode::Default,
            },
            legs: vec![
                MirrorLeg {
                    dev: DevRef::Path("/dev/sdb".into()),
                    offset: Sectors(2048),
                },
                MirrorLeg {
                    dev: DevRef::MajMin(8, 32),
                    offset: Sectors(0),
                },
            ],
            features: vec![MirrorFeature::HandleErrors, MirrorFeature::KeepLog],
        };
        assert_eq!(
            p.to_string(),
            "disk 2 /dev/vg/mlog 512 2 /dev/sdb 2048 8:32 0 2 handle_errors keep_log"
        );
        assert_eq!(p.to_string().parse::<MirrorParams>().unwrap(), p);
    }

    #[test]
    fn log_round_trips_alone() {
        for s in [
            "core 1 1024",
            "core 2 1024 sync",
            "disk 2 253:3 1024",
            "disk 3 253:3 1024 nosync",
        ] {
            assert_eq!(s.parse::<MirrorLog>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn params_reject_wrong_shapes() {
        for bad in [
            "core 3 1024 sync x 2 253:1 0 253:2 0",
            "core 2 1024 NOSYNC 2 253:1 0 253:2 0",
            "disk 1 253:3 2 253:1 0 253:2 0",
            "clustered-core 2 1024 uuid 2 253:1 0 253:2 0",
            "core 1 1024 1 253:1 0",
            "core 1 1024 10 1:0 0 1:1 0 1:2 0 1:3 0 1:4 0 1:5 0 1:6 0 1:7 0 1:8 0 1:9 0",
            "core 1 1024 2 253:1 0 253:2",
            "core 1 1024 2 253:1 0 253:2 0 1 Handle_Errors",
            "core 1 1024 2 253:1 0 253:2 0 2 handle_errors",
            "core 1 1024 2 253:1 0 253:2 0 1 handle_errors keep_log",
            "core 1 4294967296 2 253:1 0 253:2 0",
        ] {
            assert!(bad.parse::<MirrorParams>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_kernel_strings_round_trip() {
        let s: MirrorStatus = "2 253:1 253:2 10/100 1 AA 3 disk 253:3 A".parse().unwrap();
        assert_eq!(
            s,
            MirrorStatus {
                legs: vec![DevRef::MajMin(253, 1), DevRef::MajMin(253, 2)],
                in_sync: 10,
                regions: 100,
                health: vec![LegHealth::Alive, LegHealth::Alive],
                log: MirrorLogStatus::Disk {
                    dev: DevRef::MajMin(253, 3),
                    health: LegHealth::Alive,
                },
            }
        );
        assert_eq!(s.to_string(), "2 253:1 253:2 10/100 1 AA 3 disk 253:3 A");
        assert!((s.percent() - 10.0).abs() < f64::EPSILON);
        assert!(!s.is_in_sync());

        let core: MirrorStatus = "2 253:1 253:2 100/100 1 AA 1 core".parse().unwrap();
        assert_eq!(core.log, MirrorLogStatus::Core);
        assert!(core.is_in_sync());
        assert!((core.percent() - 100.0).abs() < f64::EPSILON);

        for text in [
            "2 253:1 253:2 100/100 1 AA 1 core",
            "3 8:16 8:32 8:48 7/400 1 ADS 3 disk 253:3 F",
            "2 253:1 253:2 0/100 1 RU 3 disk 253:3 D",
            "2 253:1 253:2 0/100 1 FA 1 core",
        ] {
            assert_eq!(text.parse::<MirrorStatus>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn status_value_round_trips() {
        let s = MirrorStatus {
            legs: vec![DevRef::MajMin(8, 0), DevRef::MajMin(8, 16)],
            in_sync: 3,
            regions: 4,
            health: vec![LegHealth::Alive, LegHealth::SyncError],
            log: MirrorLogStatus::Core,
        };
        assert_eq!(s.to_string().parse::<MirrorStatus>().unwrap(), s);
        assert!((s.percent() - 75.0).abs() < f64::EPSILON);
    }

    #[test]
    fn status_rejects_malformed() {
        for bad in [
            "2 253:1 253:2 10/100 1 A 1 core",
            "2 253:1 253:2 10/100 1 AX 1 core",
            "2 253:1 253:2 10/100 2 AA 1 core",
            "2 253:1 253:2 10-100 1 AA 1 core",
            "2 253:1 253:2 10/100 1 AA 3 core",
            "2 253:1 253:2 10/100 1 AA 3 disk 253:3 AA",
            "2 253:1 253:2 10/100 1 AA 1 userspace",
            "2 253:1 253:2 10/100 1 AA 1 core extra",
            "2 253:1 10/100 1 AA 1 core",
        ] {
            assert!(bad.parse::<MirrorStatus>().is_err(), "{bad:?}");
        }
    }
}
