//! Independent sets: a full copy in the kernel from an instant point in time.
//!
//! Copy in direction source -> target (master -> shadow at enable):
//! - source top: `snapshot-origin <source data>` (the data device is the volume's era
//!   device, [`super::tracking`]);
//! - `<shadow top>.pit<g>`: `snapshot <source data> <scratch> P <chunk>` freezes the
//!   source image (scratch: see [`super::scratch`]);
//! - `<shadow top>.log`: linear over the disk-log extent of the bitmap volume;
//! - target top: `mirror disk 2 <log> <region> 2 <pit> 0 <target raw> 0 1
//!   handle_errors`: the target is readable and writable at once (reads come from the
//!   point-in-time leg), the kernel copies every region the log marks dirty. The target
//!   leg is the raw volume, not its era device: an era commit for every region copied
//!   cost more than the region's data. The set itself tracks the target through the
//!   pit's exceptions; other sets of the target volume get what the copy writes marked in
//!   their persisted bitmaps ([`Engine::mark_for_other_sets`]).
//!
//! The point in time is the moment the pit device is created, with the source top
//! suspended: that is the only freeze of the source. A full copy marks every region
//! dirty; an update first loads a clean log, then reads what changed on either side
//! since the set's last point in time (era devices + the persisted bitmap) and reloads
//! the target's mirror with those regions dirty.
//!
//! When the mirror reports every region in sync, the chunks written on either side
//! during the copy (the pit's exceptions) become the persisted bitmap and both tops
//! return to their resting tables; pit, log and scratch go away. The disk log is kept
//! by the kernel, so after a crash or a reboot restore loads the same tables and the
//! copy resumes where the log says.
//!
//! Crash safety: the copy is persisted as decided before anything changes, as
//! `PitTaken` once the point-in-time device exists (before the target's mirror runs),
//! and as running once the kernel's log holds every region to copy. Restore drops a
//! copy whose point in time was not taken (a replaced stopped copy comes back, aborted)
//! and completes the start of one whose point in time was ([`Engine::complete_start`]).
//!
//! Suspend, abort, resume and throttling are in [`super::copyctl`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::config::{CopyControl, CopyPhase, SetEras, SetOp, SetRecord};
use super::dependent::save_config;
use super::tables::{
    linear_at, mirror, nr_regions, origin, raw_devref, sectors, snapshot, update_region,
    FULL_COPY_REGION, LEGACY_COPY_REGION,
};
use super::tracking::era_block_for;
use super::validate::CheckedSet;
use super::{
    fault, names, now, scratch, Direction, Engine, EngineError, Result, SetKind, SetStatus,
};
use crate::bitmap::ChunkBitmap;
use crate::dm::{Lockfs, Txn};
use crate::ondisk::bitmap_volume::{BitmapVolume, Extent};
use crate::ondisk::disklog::DiskLog;
use crate::ondisk::{exstore, DirectFile};
use crate::table::{MirrorStatus, Table};
use crate::units::Sectors;

/// Whether a copy moves everything or only what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CopyKind {
    Full,
    Update,
}

/// The region of a copy in progress, as persisted.
pub(crate) fn copy_region(op: &SetOp) -> Sectors {
    match op {
        SetOp::Copying { region, .. } => region.unwrap_or(LEGACY_COPY_REGION),
        _ => LEGACY_COPY_REGION,
    }
}

/// A copy that runs no more (suspended, aborted, failed) and that a new copy or update
/// in its direction replaces: its direction and point-in-time generation.
pub(crate) fn stopped_copy(op: &SetOp) -> Option<(Direction, u32)> {
    match op {
        SetOp::Copying {
            direction,
            control: CopyControl::Suspended | CopyControl::Aborted | CopyControl::Failed,
            phase: CopyPhase::Running,
            pit_gen,
            ..
        } => Some((*direction, *pit_gen)),
        _ => None,
    }
}

/// The point-in-time generation of a copy in progress (0 when idle).
pub(crate) fn pit_gen(op: &SetOp) -> u32 {
    match op {
        SetOp::Copying { pit_gen, .. } => *pit_gen,
        _ => 0,
    }
}

pub(crate) fn fmt_err(what: &str) -> impl Fn(crate::ondisk::FormatError) -> EngineError + '_ {
    move |e| EngineError::Failed(format!("{what}: {e}"))
}

/// A copy decided by [`Engine::start_copies`], before its point in time.
struct Start {
    /// The set's record with the decided copy.
    cur: SetRecord,
    /// Whether it replaces a stopped copy (whose log and source origin exist).
    replaces: bool,
    gen: u32,
    src: PathBuf,
    dst: PathBuf,
}

impl Engine {
    /// (source raw, target raw) of a copy.
    pub(crate) fn copy_ends(rec: &SetRecord, dir: Direction) -> (PathBuf, PathBuf) {
        match dir {
            Direction::ToShadow => (rec.master.clone(), rec.shadow.clone()),
            Direction::ToMaster => (rec.shadow.clone(), rec.master.clone()),
        }
    }

    pub(crate) fn scratch_file(&self, rec: &SetRecord, gen: u32) -> PathBuf {
        scratch::file(&self.opts.state_dir, &rec.uuid, gen)
    }

    /// The scratch device of the copy in `rec.op`, if it uses one (else a sparse file).
    pub(crate) fn scratch_device_of(rec: &SetRecord) -> Option<&Path> {
        match &rec.op {
            SetOp::Copying { scratch_device, .. } => scratch_device.as_deref(),
            _ => None,
        }
    }

    /// Makes the scratch area of generation `gen` of the copy in `rec.op` ready: its
    /// sparse file attached to a loop device, or the linear device over its half of the
    /// scratch device. `fresh` clears it for a new store.
    pub(crate) fn attach_scratch(&self, rec: &SetRecord, gen: u32, fresh: bool) -> Result<()> {
        let Some(dev) = Self::scratch_device_of(rec) else {
            return scratch::attach(&self.scratch_file(rec, gen), self.scratch_size(rec), fresh)
                .map(drop);
        };
        let name = names::scratch(&self.top_name(&rec.shadow), gen);
        if !self.dm.exists(&name)? {
            let (offset, len) = scratch::device_half(dev, gen)?;
            let mut txn = Txn::new(&self.dm);
            txn.create(
                &name,
                None,
                &linear_at(raw_devref(dev)?, offset, len),
                false,
            )?;
            txn.commit();
        }
        if fresh {
            scratch::zero_header(&crate::dm::node_path(&name))?;
        }
        Ok(())
    }

    /// Where the scratch area of generation `gen` can be read, if it exists (its file,
    /// or its linear device on the scratch device).
    fn scratch_readable(&self, rec: &SetRecord, gen: u32) -> Result<Option<PathBuf>> {
        let file = self.scratch_file(rec, gen);
        if file.exists() {
            return Ok(Some(file));
        }
        let name = names::scratch(&self.top_name(&rec.shadow), gen);
        Ok(self.dm.exists(&name)?.then(|| crate::dm::node_path(&name)))
    }

    /// Lets the scratch area of generation `gen` go: the file and its loop device, or
    /// the linear device on the scratch device.
    pub(crate) fn release_scratch(&self, rec: &SetRecord, gen: u32) -> Result<()> {
        scratch::release(&self.scratch_file(rec, gen))?;
        let name = names::scratch(&self.top_name(&rec.shadow), gen);
        if self.dm.exists(&name)? {
            self.dm.remove(&name)?;
        }
        Ok(())
    }

    /// A scratch device may take a copy: a block device no set uses, not mounted, with
    /// halves large enough for a store, and not used by another set's copy (one copy at
    /// a time).
    fn check_scratch_device(&self, rec: &SetRecord, dev: &Path) -> Result<()> {
        let probed = crate::volume::probe(dev).map_err(|e| {
            EngineError::InvalidArgument(format!("scratch device {}: {e}", dev.display()))
        })?;
        let in_set = self.cfg.sets.iter().any(|s| {
            [&s.master, &s.shadow, &s.bitmap]
                .iter()
                .any(|p| p.as_path() == dev)
        });
        if in_set || self.cfg.volume(dev).is_some() || probed.mounted.is_some() {
            return Err(EngineError::Conflict(format!(
                "scratch device {} is a volume of a set, under control or mounted",
                dev.display()
            )));
        }
        if let Some(other) =
            self.cfg.sets.iter().find(|s| {
                s.name != rec.name && Self::scratch_device_of(s).is_some_and(|d| d == dev)
            })
        {
            return Err(EngineError::Busy(format!(
                "the scratch device {} holds the copy of set {} (one copy at a time, \
                 until it ends or is replaced); wait for it",
                dev.display(),
                other.name
            )));
        }
        let (_, half) = scratch::device_half(dev, 0)?;
        let need = rec.chunk.0 * 4;
        if half.0 < need {
            return Err(EngineError::TooSmall {
                volume: dev.display().to_string(),
                have: probed.size.0,
                need: need * 2 * 512,
                why: "each half of a scratch device holds a point-in-time store",
            });
        }
        Ok(())
    }

    /// Size of a copy's scratch area: room for every chunk of the source, or the
    /// configured maximum.
    pub(crate) fn scratch_size(&self, rec: &SetRecord) -> crate::units::Bytes {
        let full = scratch::size_for(rec.master_size);
        match self.opts.scratch_max {
            Some(max) if max.0 < full.0 => max,
            _ => full,
        }
    }

    /// Whether the point-in-time device of a copy lost its image (scratch area full or
    /// an I/O error on it), and how much of the scratch area is used: (used, size) bytes.
    pub(crate) fn scratch_usage(&self, rec: &SetRecord) -> Result<(bool, Option<(u64, u64)>)> {
        let pit = names::pit(&self.top_name(&rec.shadow), pit_gen(&rec.op));
        Ok(match self.snapshot_status(&pit)? {
            Some(crate::table::SnapshotStatus::Active {
                allocated, total, ..
            }) => (false, Some((allocated.0 * 512, total.0 * 512))),
            Some(
                crate::table::SnapshotStatus::Invalid | crate::table::SnapshotStatus::Overflow,
            ) => (true, None),
            _ => (false, None),
        })
    }

    /// The disk-log extent of the set's bitmap volume, and the smallest region its
    /// size allows.
    fn log_extent(&self, rec: &SetRecord) -> Result<(Extent, Sectors)> {
        let bv =
            BitmapVolume::open_path(&rec.bitmap).map_err(fmt_err("opening the bitmap volume"))?;
        let ext = bv.layout().disk_log;
        let min_region = bv.layout().region_size;
        let need = DiskLog::device_bytes(nr_regions(sectors(rec.master_size), min_region));
        if ext.len < need {
            return Err(EngineError::Failed(format!(
                "the disk-log region of {} holds {} bytes, {need} needed",
                rec.bitmap.display(),
                ext.len
            )));
        }
        Ok((ext, min_region))
    }

    pub(crate) fn log_table(&self, rec: &SetRecord) -> Result<Table> {
        let (ext, _) = self.log_extent(rec)?;
        Ok(linear_at(
            raw_devref(&rec.bitmap)?,
            Sectors(ext.offset / 512),
            Sectors(ext.len / 512),
        ))
    }

    /// The regions the kernel still has to copy, from the disk log on the bitmap volume
    /// (current once the mirror is suspended: suspending flushes the log).
    pub(crate) fn read_disk_log(&self, rec: &SetRecord) -> Result<ChunkBitmap> {
        let (ext, _) = self.log_extent(rec)?;
        let nr = nr_regions(sectors(rec.master_size), copy_region(&rec.op));
        let mut dev = DirectFile::open(&rec.bitmap, false)
            .map_err(|e| EngineError::io(format!("opening {}", rec.bitmap.display()), e))?;
        let log = DiskLog::read_from(&mut dev, ext.offset, nr)
            .map_err(fmt_err("reading the disk log"))?;
        Ok(match log {
            Some(l) => l.dirty(),
            None => ChunkBitmap::full(nr),
        })
    }

    /// Writes the disk log so that the kernel copies exactly `dirty` (regions).
    pub(crate) fn write_disk_log(&self, rec: &SetRecord, dirty: &ChunkBitmap) -> Result<()> {
        let (ext, _) = self.log_extent(rec)?;
        let mut dev = DirectFile::open(&rec.bitmap, true)
            .map_err(|e| EngineError::io(format!("opening {}", rec.bitmap.display()), e))?;
        DiskLog::copying(dirty)
            .write_to(&mut dev, ext.offset)
            .map_err(fmt_err("writing the disk log"))
    }

    /// The point-in-time snapshot of a copy's source (the scratch loop device must be
    /// attached).
    pub(crate) fn pit_table(&self, rec: &SetRecord, dir: Direction, gen: u32) -> Result<Table> {
        let (src, _) = Self::copy_ends(rec, dir);
        let cow = match Self::scratch_device_of(rec) {
            Some(_) => self.dm_devref(&names::scratch(&self.top_name(&rec.shadow), gen))?,
            None => raw_devref(&scratch::attached(&self.scratch_file(rec, gen)).ok_or_else(
                || {
                    EngineError::Failed(format!(
                        "the scratch area of set {} is not attached",
                        rec.name
                    ))
                },
            )?)?,
        };
        Ok(snapshot(
            self.data_devref(&src)?,
            cow,
            rec.chunk,
            sectors(rec.master_size),
        ))
    }

    /// The mirror of a copy's target top, for the copy in `rec.op` (the log and pit
    /// devices must exist). The target leg is the raw target volume (see the module
    /// documentation).
    pub(crate) fn target_table(&self, rec: &SetRecord, dir: Direction) -> Result<Table> {
        let (_, dst) = Self::copy_ends(rec, dir);
        let shadow_top = self.top_name(&rec.shadow);
        Ok(mirror(
            self.dm_devref(&names::log(&shadow_top))?,
            copy_region(&rec.op),
            self.dm_devref(&names::pit(&shadow_top, pit_gen(&rec.op)))?,
            raw_devref(&dst)?,
            sectors(rec.master_size),
        ))
    }

    /// The chunks written on either side while the pit of generation `gen` stood (its
    /// exceptions), read from its scratch file.
    fn pit_exceptions(&self, rec: &SetRecord, gen: u32) -> Result<ChunkBitmap> {
        let fail = |e: crate::ondisk::FormatError| {
            EngineError::Failed(format!("reading the exceptions of set {}: {e}", rec.name))
        };
        let path = self.scratch_readable(rec, gen)?.ok_or_else(|| {
            EngineError::Failed(format!("the scratch area of set {} is gone", rec.name))
        })?;
        let (_, exceptions) = exstore::read_store_path(&path).map_err(fail)?;
        let nr = sectors(rec.master_size).0.div_ceil(rec.chunk.0);
        exstore::changed_chunks(&exceptions, nr).map_err(fail)
    }

    /// After a copy replaced a stopped one in the same direction: what was written on
    /// the target while the stopped copy stood went to its raw device and its pit, so
    /// the replaced pit's exceptions join this set's bitmap (an update copies them) and
    /// those of the target's other sets; then that pit and its scratch area go. Done
    /// before the new copy's changes are read, by the start or by restore.
    fn absorb_replaced_pit(&self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let old = pit_gen(&rec.op).wrapping_sub(1);
        if self.scratch_readable(rec, old)?.is_none() {
            return Ok(());
        }
        let name = names::pit(&self.top_name(&rec.shadow), old);
        if self.dm.exists(&name)? {
            self.dm.remove(&name)?;
        }
        // An unreadable store (a scratch area that filled, say) loses the account of
        // what was written: then everything counts as written.
        let during = self.pit_exceptions(rec, old).unwrap_or_else(|e| {
            eprintln!(
                "dsimage: set {}: {e}; every chunk of the target will be copied again",
                rec.name
            );
            ChunkBitmap::full(sectors(rec.master_size).0.div_ceil(rec.chunk.0))
        });
        let mut own = self.persisted_bitmap(rec)?;
        own.union_with(&during)
            .map_err(|e| EngineError::Failed(format!("bitmap: {e}")))?;
        self.persist_bitmap(rec, &own)?;
        let (_, dst) = Self::copy_ends(rec, dir);
        self.mark_for_other_sets(rec, &dst, &during)?;
        self.release_scratch(rec, old)
    }

    pub(crate) fn enable_independent(&mut self, c: CheckedSet) -> Result<SetStatus> {
        if c.shadow.size < c.master.size {
            return Err(EngineError::TooSmall {
                volume: c.shadow.path.display().to_string(),
                have: c.shadow.size.0,
                need: c.master.size.0,
                why: "an independent shadow holds a full copy of the master",
            });
        }
        let mut next = self.cfg.clone();
        let mut new_volumes = Vec::new();
        for dev in [&c.master, &c.shadow] {
            if next.volume(&dev.path).is_none() {
                next.volumes.push(self.volume_record(dev));
                new_volumes.push(dev.path.clone());
            }
        }
        let rec = c.record(SetKind::Independent);
        let before = self.cfg.clone();
        let tracked_before: Vec<_> = [&c.master.path, &c.shadow.path]
            .into_iter()
            .filter(|p| self.cfg.volume(p).is_some_and(|v| v.era_block.is_some()))
            .cloned()
            .collect();
        {
            let mut txn = Txn::new(&self.dm);
            let added = self.add_era_devices(
                &mut txn,
                &mut next,
                &[&c.master.path, &c.shadow.path],
                era_block_for(rec.chunk),
            );
            let header = added.and_then(|()| self.write_bitmap_header(&rec));
            next.sets.push(rec.clone());
            let saved = header.and_then(|()| save_config(&self.store, &mut self.cfg, next));
            if let Err(e) = saved {
                drop(txn);
                self.release_era_files(&before, &[&c.master.path, &c.shadow.path]);
                return Err(e);
            }
            txn.commit();
        }
        if let Err(e) = self.start_copy(&rec, Direction::ToShadow, CopyKind::Full) {
            // Back to before the enable: tops and era devices made for it, configuration.
            let cfg = self.cfg.clone();
            for path in [&c.master.path, &c.shadow.path] {
                let Some(vol) = cfg.volume(path) else {
                    continue;
                };
                if new_volumes.contains(path) {
                    let _ = self.dm.remove(&vol.top);
                    let _ = self.dm.remove(&names::era(&vol.top));
                    let _ = scratch::release(&self.era_file(&vol.top));
                } else if !tracked_before.contains(path) {
                    let _ = self.remove_era_device(vol);
                }
            }
            let _ = save_config(&self.store, &mut self.cfg, before);
            return Err(e);
        }
        self.status(&c.name)
    }

    /// Deletes era metadata files made for volumes that `cfg` does not track.
    fn release_era_files(&self, cfg: &super::config::Config, paths: &[&std::path::Path]) {
        for p in paths {
            let top = self.top_name(p);
            if cfg.volume(p).is_none_or(|v| v.era_block.is_none()) {
                let _ = scratch::release(&self.era_file(&top));
            }
        }
    }

    /// Starts a copy in `dir` at a new point in time: every region (`Full`) or the
    /// chunks that changed since the last one (`Update`). A suspended or aborted copy
    /// in the same direction is replaced by the new one.
    pub(crate) fn start_copy(
        &mut self,
        rec: &SetRecord,
        dir: Direction,
        kind: CopyKind,
    ) -> Result<()> {
        self.start_copies(std::slice::from_ref(rec), dir, kind)
    }

    /// Checks and decides the copy of one set, started with `together - 1` others at
    /// one point in time: the record as the start persists it.
    fn decide_copy(
        &self,
        rec: &SetRecord,
        dir: Direction,
        kind: CopyKind,
        together: usize,
    ) -> Result<Start> {
        let old_gen = match rec.op {
            SetOp::Idle => None,
            _ => match stopped_copy(&rec.op) {
                Some((direction, _)) if direction != dir => {
                    return Err(EngineError::InvalidState(format!(
                        "set {} has a stopped copy {direction}: its target still depends on \
                         its source, so only a copy or update {direction} can replace it",
                        rec.name
                    )));
                }
                Some((_, pit_gen)) => Some(pit_gen),
                None => {
                    return Err(EngineError::Busy(format!(
                        "set {} is busy ({}); wait for it to finish",
                        rec.name,
                        super::dependent::op_name(&rec.op)
                    )))
                }
            },
        };
        let gen = old_gen.map_or(0, |g| g.wrapping_add(1));
        let (src, dst) = Self::copy_ends(rec, dir);
        // Another set's copy that writes one of our volumes, or reads from our target,
        // owns the top device this copy would reload.
        for other in self.cfg.sets.iter().filter(|s| s.name != rec.name) {
            if let SetOp::Copying { direction, .. } = other.op {
                let (o_src, o_dst) = Self::copy_ends(other, direction);
                if o_dst == src || o_dst == dst || o_src == dst {
                    return Err(EngineError::Busy(format!(
                        "set {} is copying {direction} over a volume of this copy; wait for it",
                        other.name
                    )));
                }
            }
        }
        let (_, min_region) = self.log_extent(rec)?;
        let region = match kind {
            CopyKind::Full => FULL_COPY_REGION,
            CopyKind::Update => rec.chunk,
        }
        .max(min_region);
        // A copy that replaces a stopped one keeps its scratch place (the other half of
        // a scratch device, or the other file).
        let scratch_device = match old_gen {
            Some(_) => Self::scratch_device_of(rec).map(Path::to_path_buf),
            None => self.opts.scratch_device.clone(),
        };
        if let Some(dev) = &scratch_device {
            self.check_scratch_device(rec, dev)?;
            if together > 1 {
                return Err(EngineError::NotSupported(format!(
                    "the scratch device {} holds one copy at a time, and this starts {} \
                     at one point in time; run the agent without a scratch device (copies \
                     then use sparse files in its state directory)",
                    dev.display(),
                    together
                )));
            }
        }
        let mut cur = rec.clone();
        cur.op = SetOp::Copying {
            direction: dir,
            started: now(),
            region: Some(region),
            phase: CopyPhase::Decided,
            replaces_region: old_gen.map(|_| copy_region(&rec.op)),
            regions_to_copy: None,
            full: kind == CopyKind::Full,
            since: rec.eras,
            began: None,
            control: CopyControl::Run,
            pit_gen: gen,
            scratch_device,
        };
        Ok(Start {
            cur,
            replaces: old_gen.is_some(),
            gen,
            src,
            dst,
        })
    }

    /// Starts the copies of several independent sets (a group, or one set) at one point
    /// in time: every target top is paused and every source top frozen while the
    /// point-in-time devices are made. On failure before the point in time nothing is
    /// left; after it every copy goes on (restore and [`Engine::advance`] finish a start
    /// a crash or an error interrupted).
    pub(crate) fn start_copies(
        &mut self,
        recs: &[SetRecord],
        dir: Direction,
        kind: CopyKind,
    ) -> Result<()> {
        let mut starts = Vec::new();
        for rec in recs {
            starts.push(self.decide_copy(rec, dir, kind, recs.len())?);
        }
        for st in &mut starts {
            let began = self.begin_eras(&st.cur)?;
            if let SetOp::Copying { began: b, .. } = &mut st.cur.op {
                *b = began;
            }
        }
        fault::trace("copy.eras_begun");

        // Persist the decision first: a crash before the point in time drops it.
        let before = self.cfg.clone();
        let mut next = before.clone();
        let release_all = |engine: &Engine, starts: &[Start]| {
            for st in starts {
                let _ = engine.release_scratch(&st.cur, st.gen);
            }
        };
        for (k, st) in starts.iter().enumerate() {
            if let Err(e) = self.attach_scratch(&st.cur, st.gen, true) {
                release_all(self, &starts[..k]);
                return Err(e);
            }
            if let Some(s) = next.set_mut(&st.cur.name) {
                s.op = st.cur.op.clone();
            }
        }
        fault::trace("copy.scratch_attached");
        if let Err(e) = save_config(&self.store, &mut self.cfg, next) {
            release_all(self, &starts);
            return Err(e);
        }
        let result = (|| -> Result<u64> {
            let mut txn = Txn::new(&self.dm);
            for st in &starts {
                if !st.replaces {
                    let shadow_top = self.top_name(&st.cur.shadow);
                    txn.create(
                        &names::log(&shadow_top),
                        None,
                        &self.log_table(&st.cur)?,
                        false,
                    )?;
                }
            }
            fault::point("copy.decided")?;
            for st in &starts {
                txn.suspend(&self.top_name(&st.dst), Lockfs::Skip)?;
                let len = sectors(st.cur.master_size);
                let nr = nr_regions(len, copy_region(&st.cur.op));
                let dirty = match kind {
                    CopyKind::Full => {
                        let all = ChunkBitmap::full(len.0.div_ceil(st.cur.chunk.0));
                        self.mark_for_other_sets(&st.cur, &st.dst, &all)?;
                        ChunkBitmap::full(nr)
                    }
                    CopyKind::Update => ChunkBitmap::new(nr),
                };
                self.write_disk_log(&st.cur, &dirty)?;
            }
            // Sources shared by several copies (several shadows of one master) are
            // frozen once.
            let mut sources: Vec<(&Path, bool, Sectors)> = Vec::new();
            for st in &starts {
                match sources.iter_mut().find(|(p, ..)| *p == st.src.as_path()) {
                    Some((_, fresh, _)) => *fresh |= !st.replaces,
                    None => {
                        sources.push((st.src.as_path(), !st.replaces, sectors(st.cur.master_size)))
                    }
                }
            }
            let t0 = Instant::now();
            for (src, ..) in &sources {
                txn.suspend(&self.top_name(src), Lockfs::Freeze)?;
            }
            fault::point("copy.suspended")?;
            for (src, fresh, len) in &sources {
                if *fresh {
                    txn.load(
                        &self.top_name(src),
                        &origin(self.data_devref(src)?, *len),
                        false,
                    )?;
                }
            }
            for st in &starts {
                txn.create(
                    &names::pit(&self.top_name(&st.cur.shadow), st.gen),
                    None,
                    &self.pit_table(&st.cur, dir, st.gen)?,
                    false,
                )?;
            }
            for (src, ..) in &sources {
                txn.resume(&self.top_name(src))?;
            }
            let freeze = t0.elapsed().as_micros() as u64;
            // Before the targets' mirrors run: from here a crash keeps the point in time.
            let mut next = self.cfg.clone();
            for st in &starts {
                if let Some(SetOp::Copying { phase, .. }) =
                    next.set_mut(&st.cur.name).map(|s| &mut s.op)
                {
                    *phase = CopyPhase::PitTaken;
                }
            }
            save_config(&self.store, &mut self.cfg, next)?;
            fault::point("copy.pit_taken")?;
            for st in &starts {
                txn.load(
                    &self.top_name(&st.dst),
                    &self.target_table(&st.cur, dir)?,
                    false,
                )?;
            }
            fault::point("copy.loaded")?;
            for st in &starts {
                txn.resume(&self.top_name(&st.dst))?;
            }
            fault::point("copy.resumed")?;
            txn.commit();
            Ok(freeze)
        })();
        let freeze = match result {
            Ok(f) => f,
            Err(e) => {
                // The pits are gone with the transaction's roll-back.
                release_all(self, &starts);
                save_config(&self.store, &mut self.cfg, before)?;
                return Err(e);
            }
        };
        let mut next = self.cfg.clone();
        for st in &starts {
            if let Some(s) = next.set_mut(&st.cur.name) {
                s.last_freeze_us = Some(freeze);
                s.last_modified = now();
            }
        }
        save_config(&self.store, &mut self.cfg, next)?;
        // The point in time is taken: from here on the copies go on, even after a crash.
        let mut first_err = None;
        for st in &starts {
            let cur = self.set_record(&st.cur.name)?.clone();
            if let Err(e) = self.complete_start(&cur) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Begins new eras on the set's volumes just before a point in time: changes from
    /// then on count for the next update. (Writes between this and the point in time
    /// are counted too, and copied again next time: harmless.)
    fn begin_eras(&self, rec: &SetRecord) -> Result<Option<SetEras>> {
        let (Some(m), Some(s)) = (self.begin_era(&rec.master)?, self.begin_era(&rec.shadow)?)
        else {
            return Ok(None);
        };
        Ok(Some(SetEras {
            master: m,
            shadow: s,
        }))
    }

    /// Second half of a start, after the point in time: an update reads what changed and
    /// gives it to the kernel; then the copy is marked running with the eras that began
    /// at its point in time. Redone by restore and by [`Engine::advance`] when a crash
    /// or an error interrupted it.
    pub(crate) fn complete_start(&mut self, rec: &SetRecord) -> Result<()> {
        let SetOp::Copying {
            direction,
            full,
            began,
            phase: CopyPhase::PitTaken,
            ..
        } = rec.op
        else {
            return Ok(());
        };
        self.absorb_replaced_pit(rec, direction)?;
        let len = sectors(rec.master_size);
        let nr_chunks = len.0.div_ceil(rec.chunk.0);
        let (cur, dirty) = if full {
            let cur = rec.clone();
            let all = ChunkBitmap::full(nr_regions(len, copy_region(&cur.op)));
            (cur, all)
        } else {
            fault::point("update.before_log")?;
            // Everything since the set's eras plus the bitmap slot: a superset of what a
            // crashed attempt gave the kernel, so the kernel's log need not be read.
            let (changed, _) = self.independent_changes(rec, true)?;
            fault::trace("update.changes_read");
            let (_, min_region) = self.log_extent(rec)?;
            let region = update_region(&changed, rec.chunk, min_region, len);
            let mut next = self.cfg.clone();
            if let Some(SetOp::Copying { region: r, .. }) =
                next.set_mut(&rec.name).map(|s| &mut s.op)
            {
                *r = Some(region);
            }
            save_config(&self.store, &mut self.cfg, next)?;
            let cur = self.set_record(&rec.name)?.clone();
            let dirty = changed.rescale(rec.chunk, region, len);
            (cur, dirty)
        };
        // The kernel gets the first batch (everything when unthrottled); the rest is held
        // back in the bitmap slot. The slot first holds all of it, so that whatever a
        // crash interrupts, every region is in the kernel's log or in the slot.
        let (give, held) = Self::split_batch(&cur, &dirty)?;
        let as_chunks =
            |regions: &ChunkBitmap| regions.rescale(copy_region(&cur.op), cur.chunk, len);
        self.persist_bitmap(&cur, &as_chunks(&dirty))?;
        if !full {
            // The kernel writes these on the target's raw device (a full copy marked
            // everything before it started).
            let (_, dst) = Self::copy_ends(&cur, direction);
            self.mark_for_other_sets(&cur, &dst, &as_chunks(&dirty))?;
        }
        if !full || !held.is_empty() {
            self.replace_log(&cur, direction, &give)?;
        }
        fault::point("update.logged")?;
        let mut next = self.cfg.clone();
        if let Some(s) = next.set_mut(&rec.name) {
            if let SetOp::Copying {
                phase,
                regions_to_copy,
                ..
            } = &mut s.op
            {
                *phase = CopyPhase::Running;
                *regions_to_copy = Some(dirty.count());
            }
            if began.is_some() {
                s.eras = began;
            }
        }
        save_config(&self.store, &mut self.cfg, next)?;
        // From now on the bitmap slot holds what the engine keeps back from the kernel.
        let held_chunks = if held.is_empty() {
            ChunkBitmap::new(nr_chunks)
        } else {
            as_chunks(&held)
        };
        self.persist_bitmap(&cur, &held_chunks)
    }

    /// Reloads the target's mirror with a new disk log: `f` gets the regions the kernel
    /// had still to copy (read after the suspend flushed them) and returns the regions
    /// it is to copy from now on. Only the target's I/O pauses; its reads come from the
    /// point-in-time image throughout, so what it shows never changes. Returns how many
    /// regions the kernel now has to copy.
    pub(crate) fn reload_log(
        &self,
        rec: &SetRecord,
        dir: Direction,
        f: impl FnOnce(ChunkBitmap) -> Result<ChunkBitmap>,
    ) -> Result<u64> {
        self.swap_log(rec, dir, |engine| f(engine.read_disk_log(rec)?))
    }

    /// As [`Engine::reload_log`] without reading the kernel's log: the kernel is to
    /// copy exactly `dirty`, in regions of the copy recorded in `rec` (which may differ
    /// from the region the log on disk was written for).
    pub(crate) fn replace_log(
        &self,
        rec: &SetRecord,
        dir: Direction,
        dirty: &ChunkBitmap,
    ) -> Result<u64> {
        self.swap_log(rec, dir, |_| Ok(dirty.clone()))
    }

    fn swap_log(
        &self,
        rec: &SetRecord,
        dir: Direction,
        f: impl FnOnce(&Engine) -> Result<ChunkBitmap>,
    ) -> Result<u64> {
        let (_, dst) = Self::copy_ends(rec, dir);
        let dst_top = self.top_name(&dst);
        let mut txn = Txn::new(&self.dm);
        txn.suspend(&dst_top, Lockfs::Skip)?;
        let dirty = f(self)?;
        self.write_disk_log(rec, &dirty)?;
        txn.load(&dst_top, &self.target_table(rec, dir)?, false)?;
        txn.resume(&dst_top)?;
        txn.commit();
        Ok(dirty.count())
    }

    /// Progress of a running copy: (regions in sync, regions).
    pub(crate) fn copy_progress(
        &self,
        rec: &SetRecord,
        dir: Direction,
    ) -> Result<Option<(u64, u64)>> {
        let (_, dst) = Self::copy_ends(rec, dir);
        let Some(line) = self.dm.status(&self.top_name(&dst))?.into_iter().next() else {
            return Ok(None);
        };
        if line.target_type != "mirror" {
            return Ok(None);
        }
        let st: MirrorStatus = line
            .rest
            .parse()
            .map_err(|e| EngineError::Failed(format!("mirror status: {e}")))?;
        Ok(Some((st.in_sync, st.regions)))
    }

    pub(crate) fn independent_advance(&mut self, rec: &SetRecord) -> Result<bool> {
        let SetOp::Copying {
            direction,
            phase,
            control,
            ..
        } = rec.op
        else {
            return Ok(false);
        };
        match phase {
            CopyPhase::Running => {}
            CopyPhase::PitTaken => {
                self.complete_start(rec)?;
                return Ok(false);
            }
            CopyPhase::Decided => {
                return Err(EngineError::Failed(format!(
                    "the copy of set {} was decided but not started; restart the agent",
                    rec.name
                )))
            }
        }
        if control == CopyControl::Failed {
            return Ok(false);
        }
        if self.scratch_usage(rec)?.0 {
            // The source is untouched (origin writes go on when a snapshot is dropped);
            // the target has lost the image it was reading.
            self.fail_copy(rec, direction)?;
            return Ok(false);
        }
        if control != CopyControl::Run {
            return Ok(false);
        }
        match self.copy_progress(rec, direction)? {
            Some((done, all)) if done == all => {
                if self.throttle_next_batch(rec, direction)? {
                    return Ok(false);
                }
                self.finish_copy(rec, direction)?;
                Ok(true)
            }
            Some((done, all)) => {
                self.throttle_shrink(rec, direction, all - done)?;
                Ok(false)
            }
            None => Err(EngineError::Failed(format!(
                "set {} is copying but its target has no mirror table",
                rec.name
            ))),
        }
    }

    /// Marks a copy failed after its point-in-time image was lost and stops the kernel
    /// copying from it. The kernel's account of what it copied cannot be trusted past
    /// the loss (a region whose copy failed may read as in sync), so every chunk is held
    /// back: the next copy or update in the same direction copies everything.
    pub(crate) fn fail_copy(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let mut next = self.cfg.clone();
        if let Some(SetOp::Copying { control, .. }) = next.set_mut(&rec.name).map(|s| &mut s.op) {
            *control = CopyControl::Failed;
        }
        save_config(&self.store, &mut self.cfg, next)?;
        let rec = self.set_record(&rec.name)?.clone();
        let nr = sectors(rec.master_size).0.div_ceil(rec.chunk.0);
        self.persist_bitmap(&rec, &ChunkBitmap::full(nr))?;
        let (_, dst) = Self::copy_ends(&rec, dir);
        self.mark_for_other_sets(&rec, &dst, &ChunkBitmap::full(nr))?;
        self.reload_log(&rec, dir, |kernel| Ok(ChunkBitmap::new(kernel.nr_chunks())))?;
        eprintln!(
            "dsimage: set {}: the scratch area of its copy filled; the copy failed, the \
             source is untouched, the target needs a new copy or update",
            rec.name
        );
        Ok(())
    }

    /// The kernel copied everything: the chunks written on either side during the copy
    /// (the point-in-time snapshot's exceptions) become the persisted bitmap, the target
    /// starts a new era, both tops go back to their resting tables.
    fn finish_copy(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let (src, dst) = Self::copy_ends(rec, dir);
        let (src_top, dst_top) = (self.top_name(&src), self.top_name(&dst));
        let shadow_top = self.top_name(&rec.shadow);
        let gen = pit_gen(&rec.op);
        let len = sectors(rec.master_size);
        let mut txn = Txn::new(&self.dm);
        txn.suspend(&dst_top, Lockfs::Skip)?;
        txn.suspend(&src_top, Lockfs::Skip)?;
        fault::point("finish.suspended")?;
        let during = self.pit_exceptions(rec, gen)?;
        self.persist_bitmap(rec, &during)?;
        self.mark_for_other_sets(rec, &dst, &during)?;
        fault::point("finish.bitmap")?;
        // What the copy wrote on the target is no change: the target's era starts anew.
        let mut eras = rec.eras;
        if let Some(e) = eras.as_mut() {
            let (_, began) = self.era_changes(&dst, None, rec.chunk, len)?;
            match dir {
                Direction::ToShadow => e.shadow = began,
                Direction::ToMaster => e.master = began,
            }
        }
        let mut next = self.cfg.clone();
        if let Some(s) = next.set_mut(&rec.name) {
            s.op = SetOp::Idle;
            s.eras = eras;
            s.last_modified = now();
        }
        save_config(&self.store, &mut self.cfg, next)?;
        fault::point("finish.saved")?;
        // From here the configuration says idle: a crash ends in restore's resting tables.
        let size = |p: &Path| {
            self.cfg
                .volume(p)
                .map(|v| v.size)
                .unwrap_or(rec.master_size)
        };
        let dst_rest = self.desired_master_table(&dst, size(&dst))?;
        let src_rest = self.desired_master_table(&src, size(&src))?;
        txn.load(&dst_top, &dst_rest, false)?;
        txn.load(&src_top, &src_rest, false)?;
        txn.resume(&dst_top)?;
        txn.resume(&src_top)?;
        txn.commit();
        for n in [names::pit(&shadow_top, gen), names::log(&shadow_top)] {
            if let Err(e) = self.dm.remove(&n) {
                eprintln!("dsimage: could not remove {n}: {e}");
            }
        }
        let released = self.release_scratch(rec, gen);
        fault::trace("finish.done");
        released
    }
}
