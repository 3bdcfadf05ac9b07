//! What a user sees of a set: type, state, sizes, chunks, percentages.

use std::path::PathBuf;

use serde::Serialize;

use super::config::{SetOp, SetRecord};
use super::independent::copy_region;
use super::{Direction, Engine, EngineError, Result, SetKind};
use crate::bitmap::ChunkBitmap;
use crate::dm::DmControl;
use crate::ondisk::exstore;
use crate::table::SnapshotStatus;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SetState {
    /// No operation running; the shadow is usable.
    Idle,
    /// A copy or update is running.
    Copying { direction: Direction },
    /// A compact shadow ran out of space: the shadow is offline, the master is fine.
    OutOfSpace,
    /// The kernel reports something we cannot continue from.
    Failed { reason: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct SetStatus {
    pub name: String,
    pub uuid: String,
    pub kind: SetKind,
    pub compact: bool,
    pub master: PathBuf,
    pub shadow: PathBuf,
    pub bitmap: PathBuf,
    pub overflow: Option<PathBuf>,
    /// Devices applications use.
    pub master_device: PathBuf,
    pub shadow_device: PathBuf,
    pub master_size: u64,
    pub shadow_size: u64,
    pub chunk_size: u64,
    #[serde(flatten)]
    pub state: SetState,
    /// Progress of the running copy, 0..=100; 100 when idle.
    pub percent_completed: f64,
    /// Share of chunks not marked in the shadow bitmap, 0..=100.
    pub percent_synchronized: f64,
    /// Chunks of the master.
    pub chunks_total: u64,
    /// Chunks that differ between master and shadow (the shadow bitmap).
    pub chunks_changed: u64,
    /// Chunks the shadow volume can hold as a store, and how many it uses.
    pub shadow_chunks_total: u64,
    pub shadow_chunks_used: u64,
    pub created: u64,
    pub last_modified: u64,
    /// The I/O freeze window of the last point in time, in microseconds.
    pub last_freeze_us: Option<u64>,
    /// Independent copy in progress: running, suspended or aborted.
    pub copy_control: Option<super::CopyControl>,
    /// Independent copy in progress: its region (the unit it copies) in bytes, how many
    /// regions it had to copy when it started, and how many are left.
    pub copy_region_bytes: Option<u64>,
    pub copy_regions: Option<u64>,
    pub copy_regions_left: Option<u64>,
    /// Independent sets: the throttle of their copies, if any.
    pub copy_params: Option<super::CopyParams>,
    /// The group the set belongs to, if any.
    pub group: Option<String>,
    /// Independent copy in progress: bytes of its scratch area in use, and its size.
    pub scratch_used_bytes: Option<u64>,
    pub scratch_size_bytes: Option<u64>,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        (part as f64 * 10000.0 / whole as f64).round() / 100.0
    }
}

impl Engine {
    pub fn status(&self, name: &str) -> Result<SetStatus> {
        let rec = self.set_record(name)?.clone();
        self.status_of(&rec)
    }

    pub fn sets(&self) -> Result<Vec<SetStatus>> {
        self.cfg.sets.iter().map(|r| self.status_of(r)).collect()
    }

    fn status_of(&self, rec: &SetRecord) -> Result<SetStatus> {
        let chunk = rec.chunk.0;
        let chunks_total = rec.master_size.sectors().0.div_ceil(chunk);
        let shadow_chunks_total = rec.shadow_size.sectors().0 / chunk;
        let master_top = self.top_name(&rec.master);
        let shadow_top = self.top_name(&rec.shadow);
        let mut state = SetState::Idle;
        let mut copy_control = None;
        let mut scratch_usage = None;
        let (mut copy_region_bytes, mut copy_regions, mut copy_regions_left) = (None, None, None);
        let mut percent_completed = 100.0;
        let (mut chunks_changed, mut used) = (0, 0);
        match &rec.op {
            // Written on either side since the last point in time, from the era devices.
            SetOp::Idle if rec.kind == SetKind::Independent => {
                chunks_changed = self.independent_changes_now(rec)?.count()
            }
            SetOp::Copying {
                direction,
                regions_to_copy,
                control,
                ..
            } => {
                state = SetState::Copying {
                    direction: *direction,
                };
                copy_control = Some(*control);
                let (lost, usage) = self.scratch_usage(rec)?;
                scratch_usage = usage;
                if lost || *control == super::CopyControl::Failed {
                    state = SetState::Failed {
                        reason: "the scratch area of the copy filled: the point-in-time \
                                 image is lost, the source is untouched; copy or update \
                                 again"
                            .into(),
                    };
                }
                copy_region_bytes = Some(copy_region(&rec.op).0 * 512);
                copy_regions = *regions_to_copy;
                match self.copy_progress(rec, *direction)? {
                    Some((done, all)) => {
                        let left = self.regions_left(rec, all - done.min(all))?;
                        copy_regions_left = Some(left);
                        let base = regions_to_copy.unwrap_or(all).max(left);
                        percent_completed = pct(base - left, base);
                        let per_region = (copy_region(&rec.op).0 / chunk).max(1);
                        chunks_changed = (left * per_region).min(chunks_total);
                    }
                    None => {
                        percent_completed = 0.0;
                        chunks_changed = chunks_total;
                    }
                }
            }
            SetOp::Idle => match self.snapshot_status(&shadow_top)? {
                Some(SnapshotStatus::Active { allocated, .. }) => {
                    used = allocated.0 / chunk;
                    chunks_changed = self.changed_chunks(rec)?;
                }
                Some(SnapshotStatus::Invalid) | Some(SnapshotStatus::Overflow) => {
                    state = SetState::OutOfSpace;
                    chunks_changed = chunks_total;
                    used = shadow_chunks_total;
                }
                Some(other) => {
                    state = SetState::Failed {
                        reason: format!("shadow store reports {other}"),
                    }
                }
                None => {
                    state = SetState::Failed {
                        reason: format!("{shadow_top} has no snapshot table"),
                    }
                }
            },
            SetOp::Merging {
                initial_allocated, ..
            } => {
                state = SetState::Copying {
                    direction: Direction::ToMaster,
                };
                if let Some(SnapshotStatus::Active {
                    allocated,
                    metadata,
                    ..
                }) = self.snapshot_status(&master_top)?
                {
                    let remaining = allocated.0.saturating_sub(metadata.0);
                    chunks_changed = remaining / chunk;
                    used = allocated.0 / chunk;
                    let base = initial_allocated
                        .unwrap_or(allocated.0)
                        .saturating_sub(metadata.0);
                    percent_completed = pct(base.saturating_sub(remaining), base);
                } else {
                    percent_completed = 0.0;
                }
            }
            SetOp::MergeFinalizing => {
                state = SetState::Copying {
                    direction: Direction::ToMaster,
                };
                percent_completed = 100.0;
            }
        }
        Ok(SetStatus {
            name: rec.name.clone(),
            uuid: rec.uuid.clone(),
            kind: rec.kind,
            compact: rec.compact(),
            master: rec.master.clone(),
            shadow: rec.shadow.clone(),
            bitmap: rec.bitmap.clone(),
            overflow: rec.overflow.clone(),
            master_device: DmControl::node_path(&master_top),
            shadow_device: DmControl::node_path(&shadow_top),
            master_size: rec.master_size.0,
            shadow_size: rec.shadow_size.0,
            chunk_size: rec.chunk.bytes().0,
            state,
            percent_completed,
            percent_synchronized: pct(chunks_total.saturating_sub(chunks_changed), chunks_total),
            chunks_total,
            chunks_changed,
            shadow_chunks_total,
            shadow_chunks_used: used,
            created: rec.created,
            last_modified: rec.last_modified,
            last_freeze_us: rec.last_freeze_us,
            copy_control,
            copy_region_bytes,
            copy_regions,
            copy_regions_left,
            copy_params: rec.copy_params,
            group: self.cfg.group_of(&rec.name).map(|g| g.name.clone()),
            scratch_used_bytes: scratch_usage.map(|u| u.0),
            scratch_size_bytes: scratch_usage.map(|u| u.1),
        })
    }

    /// Chunks with an exception in the set's persistent store, read from disk: the
    /// shadow bitmap of a dependent set.
    pub fn shadow_bitmap(&self, name: &str) -> Result<ChunkBitmap> {
        let rec = self.set_record(name)?;
        let fail = |e: crate::ondisk::FormatError| {
            EngineError::Failed(format!(
                "reading the store on {}: {e}",
                rec.shadow.display()
            ))
        };
        let (_, exceptions) = exstore::read_store_path(&rec.shadow).map_err(fail)?;
        exstore::changed_chunks(
            &exceptions,
            rec.master_size.sectors().0.div_ceil(rec.chunk.0),
        )
        .map_err(fail)
    }

    fn changed_chunks(&self, rec: &SetRecord) -> Result<u64> {
        Ok(self.shadow_bitmap(&rec.name)?.count())
    }
}
