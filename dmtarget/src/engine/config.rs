//! The persisted configuration: every volume under control and every set with the
//! operation it is in. Written atomically (temporary file, fsync, rename, fsync of the
//! directory) and versioned, so a crash leaves either the old or the new file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::units::{Bytes, Sectors};

/// Format version of `config.json`; bumped on incompatible changes.
pub const CONFIG_VERSION: u32 = 1;
const FILE: &str = "config.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetKind {
    Independent,
    Dependent,
}

impl std::fmt::Display for SetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetKind::Independent => "independent",
            SetKind::Dependent => "dependent",
        })
    }
}

impl std::str::FromStr for SetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "independent" | "ind" | "i" => Ok(SetKind::Independent),
            "dependent" | "dep" | "d" => Ok(SetKind::Dependent),
            _ => Err(format!(
                "unknown set type {s:?} (expected independent or dependent)"
            )),
        }
    }
}

/// Direction of a copy or update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Master -> shadow: the shadow becomes a new point-in-time image of the master.
    ToShadow,
    /// Shadow -> master: the master is overwritten with the shadow's image.
    ToMaster,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::ToShadow => "to_shadow",
            Direction::ToMaster => "to_master",
        })
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "to_shadow" | "shadow" | "m2s" | "master-to-shadow" => Ok(Direction::ToShadow),
            "to_master" | "master" | "s2m" | "shadow-to-master" => Ok(Direction::ToMaster),
            _ => Err(format!(
                "unknown direction {s:?} (expected to_shadow or to_master)"
            )),
        }
    }
}

/// A raw block device put under control: applications use its top device instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// Path of the raw device as the user named it.
    pub path: PathBuf,
    /// Device-mapper name of the top device (`/dev/mapper/<top>`).
    pub top: String,
    pub size: Bytes,
    /// Serial number when the kernel exposes one, to notice a different disk at a path.
    pub serial: Option<String>,
    /// Block size of the volume's dm-era device (`<top>.era`, between the top and the raw
    /// device) once an independent set tracks changes on it; `None`: no era device.
    #[serde(default)]
    pub era_block: Option<Sectors>,
}

/// The long-running operation a set is in; persisted so that a restart continues it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SetOp {
    Idle,
    /// Dependent set: the shadow's exceptions are being merged into the master.
    Merging {
        started: u64,
        /// Sectors allocated in the store when the merge started (progress base).
        initial_allocated: Option<u64>,
    },
    /// Dependent set: merge done, master back to origin; the shadow gets a fresh store.
    MergeFinalizing,
    /// Independent set: the kernel copies the point-in-time image of the source to the
    /// target (mirror over a snapshot); its disk log on the bitmap volume says which
    /// regions are still to copy, so a restart resumes from there.
    Copying {
        direction: Direction,
        started: u64,
        /// Region of the mirror and its disk log (`None`: written by a version that
        /// always used 1 MiB).
        #[serde(default)]
        region: Option<Sectors>,
        /// How far the start got; see [`CopyPhase`].
        #[serde(default)]
        phase: CopyPhase,
        /// When the copy replaces a stopped one: that copy's region (its point-in-time
        /// generation is this one's minus one), to go back to if this one never starts.
        #[serde(default)]
        replaces_region: Option<Sectors>,
        /// Regions the disk log marked dirty when the copy started (progress base).
        #[serde(default)]
        regions_to_copy: Option<u64>,
        /// A full copy (every region) rather than an update.
        #[serde(default)]
        full: bool,
        /// Update: the eras it counts changes from (the set's eras before it).
        #[serde(default)]
        since: Option<SetEras>,
        /// The eras that began just before the point in time: the set's eras once the
        /// copy runs.
        #[serde(default)]
        began: Option<SetEras>,
        /// Whether the kernel may copy (see [`CopyControl`]).
        #[serde(default)]
        control: CopyControl,
        /// Generation of the point-in-time device and its scratch area; a copy that
        /// restarts a suspended one takes the other name.
        #[serde(default)]
        pit_gen: u32,
        /// The scratch device whose half `pit_gen % 2` is the copy's scratch area
        /// (`None`: a sparse file in the state directory); see [`super::scratch`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scratch_device: Option<PathBuf>,
    },
}

/// Who holds the regions still to copy: the kernel (`Run`, or between the batches of
/// a throttled copy), or the engine, on the bitmap volume's bitmap slot, while the copy
/// is suspended or aborted. Reads of the target come from the point-in-time image either
/// way, so the target is always right; it depends on the source until the copy ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyControl {
    #[default]
    Run,
    /// Stopped by the user; `resume` continues it.
    Suspended,
    /// Stopped by the user for good: the target stays dependent on the source until a
    /// new copy or update.
    Aborted,
    /// The scratch area filled and the point-in-time image was lost: the target has no
    /// valid image until a new copy or update in the same direction (the source is
    /// untouched).
    Failed,
}

/// How fast an independent copy may go: the kernel gets `units` chunks to copy, then
/// waits `delay_ms` after they are copied before it gets the next batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyParams {
    pub units: u64,
    pub delay_ms: u64,
}

/// How far the start of a copy got, for restore after a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyPhase {
    /// Decided and persisted; nothing durable happened yet. Restore drops the copy.
    Decided,
    /// The point-in-time device exists (its scratch file keeps it across reboots).
    /// Restore rebuilds the copy's devices and completes the start.
    PitTaken,
    /// The kernel's log holds every region to copy.
    #[default]
    Running,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRecord {
    pub name: String,
    pub uuid: String,
    pub kind: SetKind,
    pub master: PathBuf,
    pub shadow: PathBuf,
    pub bitmap: PathBuf,
    pub overflow: Option<PathBuf>,
    pub chunk: Sectors,
    pub master_size: Bytes,
    pub shadow_size: Bytes,
    /// Generation of the COW device name; alternates so that a new store never shares a
    /// device with the store it replaces (the kernel would hand exceptions over).
    pub cow_gen: u32,
    pub op: SetOp,
    /// Unix seconds.
    pub created: u64,
    pub last_modified: u64,
    /// Freeze window of the last point in time taken, in microseconds.
    pub last_freeze_us: Option<u64>,
    /// Independent sets: the eras of the master's and the shadow's era devices that began
    /// at the set's last point in time; blocks written in them or later are changes.
    /// `None`: unknown, every chunk counts as changed.
    #[serde(default)]
    pub eras: Option<SetEras>,
    /// Independent sets: throttling of copies (`None`: as fast as the kernel goes).
    #[serde(default)]
    pub copy_params: Option<CopyParams>,
}

/// See [`SetRecord::eras`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEras {
    pub master: u32,
    pub shadow: u32,
}

impl SetRecord {
    pub fn compact(&self) -> bool {
        self.shadow_size < self.master_size
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    /// Incremented on every save.
    pub generation: u64,
    pub volumes: Vec<VolumeRecord>,
    pub sets: Vec<SetRecord>,
    /// Groups of sets copied and updated at one common point in time.
    #[serde(default)]
    pub groups: Vec<GroupRecord>,
}

/// A named group of sets of one kind; copies and updates of its sets go through it and
/// take one common point in time. A set belongs to at most one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    /// Names of the member sets, in the order they were added.
    pub members: Vec<String>,
    /// Unix seconds.
    pub created: u64,
}

impl Config {
    pub fn new() -> Config {
        Config {
            version: CONFIG_VERSION,
            ..Config::default()
        }
    }

    pub fn volume(&self, path: &Path) -> Option<&VolumeRecord> {
        self.volumes.iter().find(|v| v.path == path)
    }

    pub fn set(&self, name: &str) -> Option<&SetRecord> {
        self.sets.iter().find(|s| s.name == name)
    }

    pub fn set_mut(&mut self, name: &str) -> Option<&mut SetRecord> {
        self.sets.iter_mut().find(|s| s.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&GroupRecord> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn group_mut(&mut self, name: &str) -> Option<&mut GroupRecord> {
        self.groups.iter_mut().find(|g| g.name == name)
    }

    /// The group a set belongs to, if any.
    pub fn group_of(&self, set: &str) -> Option<&GroupRecord> {
        self.groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == set))
    }

    /// Drops a set, and its membership in a group.
    pub fn remove_set(&mut self, name: &str) {
        self.sets.retain(|s| s.name != name);
        for g in &mut self.groups {
            g.members.retain(|m| m != name);
        }
    }
}

/// Where the configuration lives and how it is written.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    pub fn new(dir: &Path) -> ConfigStore {
        ConfigStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Loads the configuration; a missing file is an empty configuration.
    pub fn load(&self) -> io::Result<Config> {
        let text = match fs::read_to_string(self.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::new()),
            Err(e) => return Err(e),
        };
        let cfg: Config = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", self.path().display()),
            )
        })?;
        if cfg.version != CONFIG_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: configuration version {} is not supported (this build reads {})",
                    self.path().display(),
                    cfg.version,
                    CONFIG_VERSION
                ),
            ));
        }
        Ok(cfg)
    }

    /// Writes `cfg` atomically: temporary file, fsync, rename over the old file, fsync of
    /// the directory so the rename itself is durable.
    pub fn save(&self, cfg: &mut Config) -> io::Result<()> {
        cfg.generation += 1;
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let text = serde_json::to_string_pretty(cfg).map_err(io::Error::other)?;
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.path())?;
        File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("dsimage-cfg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let store = ConfigStore::new(&dir);
        assert_eq!(store.load().unwrap(), Config::new());
        let mut cfg = Config::new();
        cfg.volumes.push(VolumeRecord {
            path: "/dev/vdb".into(),
            top: "dsimage-vdb".into(),
            size: Bytes(1 << 20),
            serial: Some("d0".into()),
            era_block: Some(Sectors(64)),
        });
        cfg.sets.push(SetRecord {
            name: "s1".into(),
            uuid: "u".into(),
            kind: SetKind::Dependent,
            master: "/dev/vdb".into(),
            shadow: "/dev/vdc".into(),
            bitmap: "/dev/vdd".into(),
            overflow: None,
            chunk: Sectors(64),
            master_size: Bytes(1 << 20),
            shadow_size: Bytes(1 << 19),
            cow_gen: 3,
            op: SetOp::Merging {
                started: 5,
                initial_allocated: Some(100),
            },
            created: 1,
            last_modified: 2,
            last_freeze_us: Some(1500),
            eras: Some(SetEras {
                master: 3,
                shadow: 7,
            }),
            copy_params: Some(CopyParams {
                units: 100,
                delay_ms: 20,
            }),
        });
        cfg.groups.push(GroupRecord {
            name: "g".into(),
            members: vec!["s1".into()],
            created: 4,
        });
        store.save(&mut cfg).unwrap();
        assert_eq!(cfg.generation, 1);
        let back = store.load().unwrap();
        assert_eq!(back, cfg);
        assert!(back.sets[0].compact());
        assert_eq!(back.group_of("s1").map(|g| g.name.as_str()), Some("g"));
        // A set that goes leaves its group.
        let mut gone = back.clone();
        gone.remove_set("s1");
        assert!(gone.sets.is_empty());
        assert_eq!(gone.group("g").map(|g| g.members.len()), Some(0));
        assert_eq!(gone.group_of("s1"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn configurations_without_groups_still_load() {
        let cfg: Config =
            serde_json::from_str(r#"{"version":1,"generation":7,"volumes":[],"sets":[]}"#).unwrap();
        assert!(cfg.groups.is_empty());
        assert_eq!(cfg.generation, 7);
    }

    #[test]
    fn copy_records_of_the_first_format_still_load() {
        let op: SetOp =
            serde_json::from_str(r#"{"op":"copying","direction":"to_shadow","started":5}"#)
                .unwrap();
        assert_eq!(
            op,
            SetOp::Copying {
                direction: Direction::ToShadow,
                started: 5,
                region: None,
                phase: CopyPhase::Running,
                replaces_region: None,
                regions_to_copy: None,
                full: false,
                since: None,
                began: None,
                control: CopyControl::Run,
                pit_gen: 0,
                scratch_device: None,
            }
        );
        let back: SetOp = serde_json::from_str(&serde_json::to_string(&op).unwrap()).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn rejects_other_versions() {
        let dir = std::env::temp_dir().join(format!("dsimage-cfgv-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(FILE),
            r#"{"version":99,"generation":1,"volumes":[],"sets":[]}"#,
        )
        .unwrap();
        let err = ConfigStore::new(&dir).load().unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_kinds_and_directions() {
        assert_eq!("Dependent".parse::<SetKind>().unwrap(), SetKind::Dependent);
        assert!("x".parse::<SetKind>().is_err());
        assert_eq!("s2m".parse::<Direction>().unwrap(), Direction::ToMaster);
        assert_eq!(
            Direction::ToShadow
                .to_string()
                .parse::<Direction>()
                .unwrap(),
            Direction::ToShadow
        );
    }
}
