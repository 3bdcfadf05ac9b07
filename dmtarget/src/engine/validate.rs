//! Constraints on a new set (`design`: distinct volumes, no conflicting roles, sizes,
//! names, mounts). Everything is checked before anything changes.

use super::config::SetOp;
use super::volumes::VolumeRole;
use super::{Direction, Engine, EngineError, Result, SetSpec, MAX_NAME_BYTES};
use crate::units::{Bytes, Sectors};
use crate::volume::BlockDevice;

/// The checked volumes of a set about to be enabled.
#[derive(Debug)]
pub(crate) struct CheckedSet {
    pub name: String,
    pub master: BlockDevice,
    pub shadow: BlockDevice,
    pub bitmap: BlockDevice,
    pub chunk: Sectors,
}

impl CheckedSet {
    /// The configuration record of the set about to be enabled, idle, point in time now.
    pub(crate) fn record(&self, kind: super::SetKind) -> super::config::SetRecord {
        let t = super::now();
        super::config::SetRecord {
            name: self.name.clone(),
            uuid: super::new_uuid(),
            kind,
            master: self.master.path.clone(),
            shadow: self.shadow.path.clone(),
            bitmap: self.bitmap.path.clone(),
            overflow: None,
            chunk: self.chunk,
            master_size: self.master.size,
            shadow_size: self.shadow.size,
            cow_gen: 0,
            op: super::config::SetOp::Idle,
            created: t,
            last_modified: t,
            last_freeze_us: None,
            eras: None,
            copy_params: None,
        }
    }
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(EngineError::InvalidArgument(format!(
            "{what} name is empty"
        )));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(EngineError::InvalidArgument(format!(
            "{what} name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        )));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(EngineError::InvalidArgument(format!(
            "{what} name contains control characters"
        )));
    }
    Ok(())
}

pub(crate) fn check_chunk(chunk: Sectors) -> Result<()> {
    // dm-snapshot needs a power of two; 4 KiB..512 KiB keeps metadata and copy-out sane.
    if !chunk.0.is_power_of_two() || !(8..=1024).contains(&chunk.0) {
        return Err(EngineError::InvalidArgument(format!(
            "chunk size {} sectors is not a power of two between 8 (4 KiB) and 1024 (512 KiB)",
            chunk.0
        )));
    }
    Ok(())
}

impl Engine {
    pub(crate) fn check_new_set(&self, spec: &SetSpec) -> Result<CheckedSet> {
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| spec.shadow.display().to_string());
        check_name("set", &name)?;
        if self.cfg.set(&name).is_some() {
            return Err(EngineError::AlreadyExists { what: "set", name });
        }
        let chunk = spec.chunk.unwrap_or(super::DEFAULT_CHUNK);
        check_chunk(chunk)?;
        if spec.overflow.is_some() {
            return Err(EngineError::NotSupported(
                "overflow volumes are not implemented yet".into(),
            ));
        }
        let master = self.probe_volume(&spec.master)?;
        let shadow = self.probe_volume(&spec.shadow)?;
        let bitmap = self.probe_volume(&spec.bitmap)?;
        let all = [
            ("master", &master),
            ("shadow", &shadow),
            ("bitmap", &bitmap),
        ];
        for (i, (ra, a)) in all.iter().enumerate() {
            for (rb, b) in &all[i + 1..] {
                if (a.major, a.minor) == (b.major, b.minor) {
                    return Err(EngineError::InvalidArgument(format!(
                        "the {ra} and {rb} volumes are the same device ({})",
                        a.path.display()
                    )));
                }
            }
        }
        // The master may already be the master of other sets (several shadows per
        // master); no other role may be shared.
        for (s, role) in self.roles_of(&master.path) {
            if role != VolumeRole::Master {
                return Err(EngineError::Conflict(format!(
                    "{} is the {role} volume of set {s}",
                    master.path.display()
                )));
            }
        }
        // A set of the same master that is copying onto it owns the master's top, which
        // an enable would reload.
        if let Some(s) = self
            .cfg
            .sets
            .iter()
            .find(|s| s.master == master.path && writes_master(&s.op))
        {
            return Err(EngineError::Busy(format!(
                "set {} is copying onto the master {} ({}); wait for it to finish",
                s.name,
                master.path.display(),
                super::dependent::op_name(&s.op)
            )));
        }
        for (what, dev) in [("shadow", &shadow), ("bitmap", &bitmap)] {
            if let Some((s, role)) = self.roles_of(&dev.path).first() {
                return Err(EngineError::Conflict(format!(
                    "{} cannot be the {what} volume: it is the {role} volume of set {s}",
                    dev.path.display()
                )));
            }
        }
        for (what, dev) in [
            ("master", &master),
            ("shadow", &shadow),
            ("bitmap", &bitmap),
        ] {
            if let Some(m) = &dev.mounted {
                return Err(EngineError::Conflict(format!(
                    "the {what} volume {} is mounted on {m}; unmount it (mount the master's top device instead)",
                    dev.path.display()
                )));
            }
            let foreign = self.foreign_holders(dev);
            if !foreign.is_empty() {
                return Err(EngineError::Conflict(format!(
                    "the {what} volume {} is in use by {}",
                    dev.path.display(),
                    foreign.join(", ")
                )));
            }
            if dev.read_only {
                return Err(EngineError::Conflict(format!(
                    "the {what} volume {} is read-only",
                    dev.path.display()
                )));
            }
        }
        if let Some(m) = crate::volume::MountTable::read().path_mounted(
            &crate::dm::DmControl::node_path(&self.top_name(&shadow.path)),
        ) {
            return Err(EngineError::Conflict(format!(
                "the shadow volume's top device is mounted on {m}; unmount it first"
            )));
        }
        // A store needs its header, one metadata area and room for some chunks.
        let min_shadow = Bytes(chunk.bytes().0 * 8);
        if shadow.size < min_shadow {
            return Err(EngineError::TooSmall {
                volume: shadow.path.display().to_string(),
                have: shadow.size.0,
                need: min_shadow.0,
                why: "a dependent shadow holds a store header, metadata and chunks",
            });
        }
        let need = crate::ondisk::bitmap_volume::required_size(master.size, chunk);
        if bitmap.size < need {
            return Err(EngineError::TooSmall {
                volume: bitmap.path.display().to_string(),
                have: bitmap.size.0,
                need: need.0,
                why: "the bitmap volume must hold the header and bitmaps for the master",
            });
        }
        Ok(CheckedSet {
            name,
            master,
            shadow,
            bitmap,
            chunk,
        })
    }
}

/// Whether an operation writes the set's master.
fn writes_master(op: &SetOp) -> bool {
    matches!(
        op,
        SetOp::Merging { .. }
            | SetOp::MergeFinalizing
            | SetOp::Copying {
                direction: Direction::ToMaster,
                ..
            }
    )
}
