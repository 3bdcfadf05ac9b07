//! Volumes: discovery with the roles dsimage gives them, and putting a raw volume under
//! control (its top device) or releasing it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::config::VolumeRecord;
use super::tables::{linear, raw_devref, sectors};
use super::{Engine, EngineError, Outcome, Result};
use crate::dm::DmControl;
use crate::volume::{discover, probe, BlockDevice, DeviceKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeRole {
    Master,
    Shadow,
    Bitmap,
    Overflow,
}

impl std::fmt::Display for VolumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VolumeRole::Master => "master",
            VolumeRole::Shadow => "shadow",
            VolumeRole::Bitmap => "bitmap",
            VolumeRole::Overflow => "overflow",
        })
    }
}

/// A block device and what dsimage makes of it.
#[derive(Clone, Debug, Serialize)]
pub struct VolumeInfo {
    #[serde(flatten)]
    pub device: BlockDevice,
    /// The top device applications use, when under control.
    pub top: Option<PathBuf>,
    /// (set name, role) for every set that uses the volume.
    pub roles: Vec<(String, VolumeRole)>,
    /// Free for a new role: not mounted, not held by others, not in a set as shadow,
    /// bitmap or overflow.
    pub suitable: bool,
    /// Why not, when not suitable.
    pub reason: Option<String>,
}

impl Engine {
    /// Devices stacked on `dev` that are not ours, by dm name or kernel name.
    pub(crate) fn foreign_holders(&self, dev: &BlockDevice) -> Vec<String> {
        let ours = format!("{}-", self.opts.prefix);
        dev.holders
            .iter()
            .filter_map(|h| {
                let name = std::fs::read_to_string(format!("/sys/block/{h}/dm/name"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| h.clone());
                (!name.starts_with(&ours)).then_some(name)
            })
            .collect()
    }

    pub(crate) fn roles_of(&self, path: &Path) -> Vec<(String, VolumeRole)> {
        let mut roles = Vec::new();
        for s in &self.cfg.sets {
            if s.master == path {
                roles.push((s.name.clone(), VolumeRole::Master));
            }
            if s.shadow == path {
                roles.push((s.name.clone(), VolumeRole::Shadow));
            }
            if s.bitmap == path {
                roles.push((s.name.clone(), VolumeRole::Bitmap));
            }
            if s.overflow.as_deref() == Some(path) {
                roles.push((s.name.clone(), VolumeRole::Overflow));
            }
        }
        roles
    }

    /// Why a device cannot take a new role, if it cannot.
    pub(crate) fn unsuitable_reason(&self, dev: &BlockDevice) -> Option<String> {
        if dev.kind == DeviceKind::DeviceMapper
            && dev
                .dm_name
                .as_deref()
                .is_some_and(|n| n.starts_with(&format!("{}-", self.opts.prefix)))
        {
            return Some("is a dsimage device; name the raw volume instead".into());
        }
        if let Some(m) = &dev.mounted {
            return Some(format!("is mounted on {m}"));
        }
        if dev.read_only {
            return Some("is read-only".into());
        }
        if !dev.partitions.is_empty() {
            return Some(format!("has partitions ({})", dev.partitions.join(", ")));
        }
        let foreign = self.foreign_holders(dev);
        if !foreign.is_empty() {
            return Some(format!("is in use by {}", foreign.join(", ")));
        }
        if let Some(top) = self.cfg.volume(&dev.path) {
            if let Some(m) =
                crate::volume::MountTable::read().path_mounted(&DmControl::node_path(&top.top))
            {
                return Some(format!("its top device is mounted on {m}"));
            }
        }
        None
    }

    /// Every block device with its roles and suitability.
    pub fn volumes(&self) -> Result<Vec<VolumeInfo>> {
        Ok(discover()
            .into_iter()
            .map(|device| {
                let roles = self.roles_of(&device.path);
                let mut reason = self.unsuitable_reason(&device);
                if reason.is_none() {
                    if let Some((set, role)) = roles.iter().find(|(_, r)| *r != VolumeRole::Master)
                    {
                        reason = Some(format!("is the {role} volume of set {set}"));
                    }
                }
                VolumeInfo {
                    top: self.top_path(&device.path),
                    roles,
                    suitable: reason.is_none(),
                    reason,
                    device,
                }
            })
            .collect())
    }

    /// Probes a path named by a client; errors say what is wrong with it.
    pub(crate) fn probe_volume(&self, path: &Path) -> Result<BlockDevice> {
        if !path.is_absolute() {
            return Err(EngineError::InvalidArgument(format!(
                "volume path {} is not absolute",
                path.display()
            )));
        }
        probe(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EngineError::NotFound {
                what: "volume",
                name: path.display().to_string(),
            },
            _ => EngineError::InvalidArgument(format!("{}: {e}", path.display())),
        })
    }

    /// Record of a volume to put under control (not yet persisted).
    pub(crate) fn volume_record(&self, dev: &BlockDevice) -> VolumeRecord {
        VolumeRecord {
            path: dev.path.clone(),
            top: super::names::top(&self.opts.prefix, &dev.path),
            size: dev.size,
            serial: dev.serial.clone(),
            era_block: None,
        }
    }

    /// Puts a raw volume under control: creates its top device as a linear map of the
    /// whole volume. Applications then use `/dev/mapper/<top>`.
    pub fn control(&mut self, path: &Path) -> Result<Outcome<PathBuf>> {
        if let Some(v) = self.cfg.volume(path) {
            return Ok(Outcome::Identity(DmControl::node_path(&v.top)));
        }
        let dev = self.probe_volume(path)?;
        if let Some(why) = self.unsuitable_reason(&dev) {
            return Err(EngineError::Conflict(format!("{} {why}", path.display())));
        }
        let rec = self.volume_record(&dev);
        if self.dm.exists(&rec.top)? {
            return Err(EngineError::AlreadyExists {
                what: "device",
                name: rec.top,
            });
        }
        let mut txn = crate::dm::Txn::new(&self.dm);
        txn.create(
            &rec.top,
            None,
            &linear(raw_devref(path)?, sectors(rec.size)),
            false,
        )?;
        let mut next = self.cfg.clone();
        next.volumes.push(rec.clone());
        super::dependent::save_config(&self.store, &mut self.cfg, next)?;
        txn.commit();
        Ok(Outcome::Changed(DmControl::node_path(&rec.top)))
    }

    /// Releases a volume from control: removes its top device. Refused while a set uses
    /// it or the top is open.
    pub fn release(&mut self, path: &Path) -> Result<Outcome<()>> {
        let Some(rec) = self.cfg.volume(path).cloned() else {
            return Ok(Outcome::Identity(()));
        };
        if let Some((set, role)) = self.roles_of(path).first() {
            return Err(EngineError::Conflict(format!(
                "{} is the {role} volume of set {set}; disable the set first",
                path.display()
            )));
        }
        if let Some(info) = self.dm.info(&rec.top)? {
            if info.open_count > 0 {
                return Err(EngineError::Busy(format!(
                    "{} is open ({} users)",
                    DmControl::node_path(&rec.top).display(),
                    info.open_count
                )));
            }
            self.dm.remove(&rec.top)?;
        }
        let mut next = self.cfg.clone();
        next.volumes.retain(|v| v.path != path);
        self.persist(next)?;
        Ok(Outcome::Changed(()))
    }
}
