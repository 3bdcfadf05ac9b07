//! The table each device of a set should have, built from the configuration. The
//! strings themselves are made by [`crate::table`]; this module only decides which.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::config::{SetOp, SetRecord};
use super::{names, Engine, EngineError, Result};
use crate::bitmap::ChunkBitmap;
use crate::table::{
    linear::LinearParams,
    snapshot::{OriginParams, Persistence, SnapshotParams},
    DevRef, Table, TableLine, Target,
};
use crate::units::{Bytes, Sectors};

/// `major:minor` of a raw block device, so tables match what the kernel prints.
pub fn raw_devref(path: &Path) -> Result<DevRef> {
    let m = std::fs::metadata(path)
        .map_err(|e| EngineError::io(format!("looking up {}", path.display()), e))?;
    Ok(DevRef::MajMin(
        nix::libc::major(m.rdev()),
        nix::libc::minor(m.rdev()),
    ))
}

pub(crate) fn one(len: Sectors, target: Target) -> Table {
    Table(vec![TableLine {
        start: Sectors(0),
        length: len,
        target,
    }])
}

pub fn linear(dev: DevRef, len: Sectors) -> Table {
    one(
        len,
        Target::Linear(LinearParams {
            dev,
            offset: Sectors(0),
        }),
    )
}

pub fn origin(dev: DevRef, len: Sectors) -> Table {
    one(len, Target::SnapshotOrigin(OriginParams { origin: dev }))
}

fn snap_params(origin: DevRef, cow: DevRef, chunk: Sectors) -> SnapshotParams {
    SnapshotParams {
        origin,
        cow,
        persistent: Persistence::Persistent,
        chunk,
        features: Vec::new(),
    }
}

pub fn snapshot(origin: DevRef, cow: DevRef, chunk: Sectors, len: Sectors) -> Table {
    one(len, Target::Snapshot(snap_params(origin, cow, chunk)))
}

pub fn merge(origin: DevRef, cow: DevRef, chunk: Sectors, len: Sectors) -> Table {
    one(len, Target::SnapshotMerge(snap_params(origin, cow, chunk)))
}

pub fn sectors(b: Bytes) -> Sectors {
    b.sectors()
}

impl Engine {
    pub(crate) fn top_name(&self, raw: &Path) -> String {
        match self.cfg.volume(raw) {
            Some(v) => v.top.clone(),
            None => names::top(&self.opts.prefix, raw),
        }
    }

    pub(crate) fn cow_name(&self, set: &SetRecord, gen: u32) -> String {
        names::cow(&self.top_name(&set.shadow), gen)
    }

    /// `major:minor` of one of our live devices.
    pub(crate) fn dm_devref(&self, name: &str) -> Result<DevRef> {
        self.dm
            .info(name)?
            .map(|i| i.devref())
            .ok_or_else(|| EngineError::Failed(format!("device {name} is missing")))
    }

    /// Master top of a raw volume: merge target if one of its sets is merging, origin if
    /// any dependent set uses it, linear otherwise.
    pub(crate) fn desired_master_table(&self, raw: &Path, size: Bytes) -> Result<Table> {
        let len = sectors(size);
        let dev = self.data_devref(raw)?;
        // An independent copy in progress: its target is the mirror, its source an origin.
        for s in &self.cfg.sets {
            if let SetOp::Copying { direction, .. } = s.op {
                let (src, dst) = match direction {
                    super::Direction::ToShadow => (&s.master, &s.shadow),
                    super::Direction::ToMaster => (&s.shadow, &s.master),
                };
                if dst == raw {
                    return self.target_table(s, direction);
                }
                if src == raw {
                    return Ok(origin(dev, len));
                }
            }
        }
        let sets: Vec<&SetRecord> = self
            .cfg
            .sets
            .iter()
            .filter(|s| s.master == raw && s.kind == super::SetKind::Dependent)
            .collect();
        if let Some(s) = sets.iter().find(|s| matches!(s.op, SetOp::Merging { .. })) {
            let cow = self.dm_devref(&self.cow_name(s, s.cow_gen))?;
            return Ok(merge(dev, cow, s.chunk, len));
        }
        if sets.is_empty() {
            Ok(linear(dev, len))
        } else {
            Ok(origin(dev, len))
        }
    }

    /// Shadow top of a dependent set: a snapshot of the master over its COW device, or,
    /// while merging, a read-only view of the master that is becoming the shadow image.
    pub(crate) fn desired_shadow_table(&self, set: &SetRecord) -> Result<(Table, bool)> {
        let len = sectors(set.master_size);
        match set.op {
            SetOp::Merging { .. } => {
                let master_top = self.dm_devref(&self.top_name(&set.master))?;
                Ok((linear(master_top, len), true))
            }
            _ => {
                let cow = self.dm_devref(&self.cow_name(set, set.cow_gen))?;
                Ok((
                    snapshot(self.data_devref(&set.master)?, cow, set.chunk, len),
                    false,
                ))
            }
        }
    }

    /// The COW device of a dependent set: the whole shadow volume.
    pub(crate) fn desired_cow_table(&self, set: &SetRecord) -> Result<Table> {
        Ok(linear(raw_devref(&set.shadow)?, sectors(set.shadow_size)))
    }
}

/// Region of a full independent copy: the unit the kernel copies and its disk log
/// tracks. Recovery copies one region at a time and flushes the log after each, so
/// large regions copy fast (`docs/kernel-findings.md`).
pub const FULL_COPY_REGION: Sectors = Sectors(16384);

/// What the kernel's copy of one region costs besides its data, as the sectors of data
/// it could have copied in that time: recovery copies one region at a time and writes
/// and flushes the disk log after each. Measured in the lab at 250-320 KiB
/// (`docs/testing.md`); on real disks a log flush costs as much as some hundred KiB of
/// streaming too.
pub const REGION_COST: Sectors = Sectors(640);

/// Region of an update of the chunks in `changed` (a bitmap of `chunk`-sector chunks
/// of a `len`-sector volume): the power-of-two multiple of the chunk, up to
/// [`FULL_COPY_REGION`], for which the kernel's work is least: regions to copy times
/// (region + [`REGION_COST`]). Scattered changes go chunk by chunk, clustered ones in
/// large regions; changes so scattered that one-chunk regions would cost as much as
/// copying everything go in full-copy regions (ties go to the larger region). At least
/// `min` (what the bitmap volume's disk log was sized for).
pub fn update_region(changed: &ChunkBitmap, chunk: Sectors, min: Sectors, len: Sectors) -> Sectors {
    let work = |r: Sectors| {
        changed
            .rescale(chunk, r, len)
            .count()
            .saturating_mul(r.0 + REGION_COST.0)
    };
    let mut best = chunk.max(min);
    if changed.is_empty() {
        return best;
    }
    let mut best_work = work(best);
    let mut r = best;
    while r.0 < FULL_COPY_REGION.0 {
        r = Sectors(r.0 * 2);
        let w = work(r);
        if w <= best_work {
            best = r;
            best_work = w;
        }
    }
    best
}

/// Region of copies recorded before the region was persisted with the copy.
pub const LEGACY_COPY_REGION: Sectors = Sectors(2048);

/// Regions of `region` sectors in a volume of `len` sectors.
pub fn nr_regions(len: Sectors, region: Sectors) -> u64 {
    len.0.div_ceil(region.0)
}

/// `mirror disk 2 <log> <region> 2 <pit> 0 <target> 0 1 handle_errors`: reads come from
/// the point-in-time leg; the kernel copies the regions the log marks dirty.
pub fn mirror(log: DevRef, region: Sectors, pit: DevRef, target: DevRef, len: Sectors) -> Table {
    use crate::table::mirror::{MirrorFeature, MirrorLeg, MirrorLog, MirrorParams, SyncMode};
    one(
        len,
        Target::Mirror(MirrorParams {
            log: MirrorLog::Disk {
                dev: log,
                region,
                sync: SyncMode::Default,
            },
            legs: vec![
                MirrorLeg {
                    dev: pit,
                    offset: Sectors(0),
                },
                MirrorLeg {
                    dev: target,
                    offset: Sectors(0),
                },
            ],
            features: vec![MirrorFeature::HandleErrors],
        }),
    )
}

/// A linear map of part of a device (the disk-log extent of a bitmap volume).
pub fn linear_at(dev: DevRef, offset: Sectors, len: Sectors) -> Table {
    one(len, Target::Linear(LinearParams { dev, offset }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_regions_grow_with_clustering() {
        let (chunk, len) = (Sectors(64), Sectors(64 * 4096));
        let mut scattered = ChunkBitmap::new(4096);
        for c in (0..4096).step_by(100) {
            scattered.set(c).unwrap();
        }
        assert_eq!(update_region(&scattered, chunk, chunk, len), chunk);
        let mut run = ChunkBitmap::new(4096);
        run.set_range(256..1280).unwrap();
        assert_eq!(update_region(&run, chunk, chunk, len), FULL_COPY_REGION);
        assert_eq!(
            update_region(&ChunkBitmap::new(4096), chunk, chunk, len),
            chunk
        );
        // `n` chunks changed at random places (a fixed linear congruential sequence).
        let random = |n: u64, mut x: u64| {
            let mut b = ChunkBitmap::new(4096);
            while b.count() < n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                b.set((x >> 33) % 4096).unwrap();
            }
            b
        };
        // A tenth of the chunks: one-chunk regions would cost as much as copying
        // everything in full-copy regions.
        assert_eq!(
            update_region(&random(410, 12345), chunk, chunk, len),
            FULL_COPY_REGION
        );
        // A hundredth of them: chunk by chunk.
        assert_eq!(update_region(&random(41, 678), chunk, chunk, len), chunk);
        // Never below what the disk log was sized for.
        assert_eq!(
            update_region(&scattered, chunk, Sectors(256), len),
            Sectors(256)
        );
    }
}
