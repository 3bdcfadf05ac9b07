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
    },
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
        });
        store.save(&mut cfg).unwrap();
        assert_eq!(cfg.generation, 1);
        let back = store.load().unwrap();
        assert_eq!(back, cfg);
        assert!(back.sets[0].compact());
        fs::remove_dir_all(&dir).unwrap();
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
