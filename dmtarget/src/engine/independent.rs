//! Independent sets: a full copy in the kernel from an instant point in time.
//!
//! Copy in direction source -> target (master -> shadow at enable):
//! - source top: `snapshot-origin <source>`;
//! - `<shadow top>.pit`: `snapshot <source> <scratch> P <chunk>` freezes the source image
//!   (scratch: see [`super::scratch`]);
//! - `<shadow top>.log`: linear over the disk-log extent of the bitmap volume;
//! - target top: `mirror disk 2 <log> <region> 2 <pit> 0 <target> 0 1 handle_errors`:
//!   the target is readable and writable at once (reads come from the point-in-time
//!   leg), the kernel copies every region the log marks dirty.
//!
//! When the mirror reports every region in sync both tops return to `linear`, and the
//! pit, log and scratch go away. The disk log is kept by the kernel, so after a crash or
//! a reboot restore loads the same tables and the copy resumes where the log says.
//!
//! Change tracking at rest (dm-era) is not there yet: until it is, every chunk of an
//! idle independent set counts as changed, and an update copies everything.

use std::path::PathBuf;
use std::time::Instant;

use super::config::{Config, SetOp, SetRecord};
use super::dependent::save_config;
use super::tables::{linear, linear_at, mirror, nr_regions, origin, raw_devref, sectors, snapshot};
use super::validate::CheckedSet;
use super::{names, now, scratch, Direction, Engine, EngineError, Result, SetKind, SetStatus};
use crate::bitmap::ChunkBitmap;
use crate::dm::{Lockfs, Txn};
use crate::ondisk::bitmap_volume::{BitmapVolume, Extent};
use crate::ondisk::disklog::DiskLog;
use crate::ondisk::{BlockDev, DirectFile};
use crate::table::{MirrorStatus, Table};
use crate::units::Sectors;

fn fmt_err(what: &str) -> impl Fn(crate::ondisk::FormatError) -> EngineError + '_ {
    move |e| EngineError::Failed(format!("{what}: {e}"))
}

impl Engine {
    /// (source raw, target raw) of a copy.
    fn copy_ends(rec: &SetRecord, dir: Direction) -> (PathBuf, PathBuf) {
        match dir {
            Direction::ToShadow => (rec.master.clone(), rec.shadow.clone()),
            Direction::ToMaster => (rec.shadow.clone(), rec.master.clone()),
        }
    }

    fn scratch_file(&self, rec: &SetRecord) -> PathBuf {
        scratch::file(&self.opts.state_dir, &rec.uuid)
    }

    /// The disk-log extent of the set's bitmap volume.
    fn log_extent(&self, rec: &SetRecord) -> Result<Extent> {
        let bv =
            BitmapVolume::open_path(&rec.bitmap).map_err(fmt_err("opening the bitmap volume"))?;
        let ext = bv.layout().disk_log;
        let need = DiskLog::device_bytes(nr_regions(sectors(rec.master_size)));
        if ext.len < need {
            return Err(EngineError::Failed(format!(
                "the disk-log region of {} holds {} bytes, {need} needed",
                rec.bitmap.display(),
                ext.len
            )));
        }
        Ok(ext)
    }

    pub(crate) fn log_table(&self, rec: &SetRecord) -> Result<Table> {
        let ext = self.log_extent(rec)?;
        Ok(linear_at(
            raw_devref(&rec.bitmap)?,
            Sectors(ext.offset / 512),
            Sectors(ext.len / 512),
        ))
    }

    /// The point-in-time snapshot of a copy's source (the scratch loop device must be
    /// attached).
    pub(crate) fn pit_table(&self, rec: &SetRecord, dir: Direction) -> Result<Table> {
        let (src, _) = Self::copy_ends(rec, dir);
        let loopdev = scratch::attached(&self.scratch_file(rec)).ok_or_else(|| {
            EngineError::Failed(format!(
                "the scratch area of set {} is not attached",
                rec.name
            ))
        })?;
        Ok(snapshot(
            raw_devref(&src)?,
            raw_devref(&loopdev)?,
            rec.chunk,
            sectors(rec.master_size),
        ))
    }

    /// The mirror of a copy's target top (the log and pit devices must exist).
    pub(crate) fn target_table(&self, rec: &SetRecord, dir: Direction) -> Result<Table> {
        let (_, dst) = Self::copy_ends(rec, dir);
        let shadow_top = self.top_name(&rec.shadow);
        Ok(mirror(
            self.dm_devref(&names::log(&shadow_top))?,
            self.dm_devref(&names::pit(&shadow_top))?,
            raw_devref(&dst)?,
            sectors(rec.master_size),
        ))
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
        for dev in [&c.master, &c.shadow] {
            if next.volume(&dev.path).is_none() {
                next.volumes.push(self.volume_record(dev));
            }
        }
        let rec = c.record(SetKind::Independent);
        self.write_bitmap_header(&rec)?;
        let before = self.cfg.clone();
        let mut created = Vec::new();
        {
            let mut txn = Txn::new(&self.dm);
            for (dev, top) in [
                (&c.master, self.top_name(&rec.master)),
                (&c.shadow, self.top_name(&rec.shadow)),
            ] {
                if !self.dm.exists(&top)? {
                    txn.create(
                        &top,
                        None,
                        &linear(raw_devref(&dev.path)?, sectors(dev.size)),
                        false,
                    )?;
                    created.push(top);
                }
            }
            next.sets.push(rec.clone());
            save_config(&self.store, &mut self.cfg, next)?;
            txn.commit();
        }
        if let Err(e) = self.start_copy(&rec, Direction::ToShadow) {
            // Back to before the enable: the configuration and the tops made for it.
            for top in &created {
                let _ = self.dm.remove(top);
            }
            let _ = save_config(&self.store, &mut self.cfg, before);
            return Err(e);
        }
        self.status(&c.name)
    }

    /// Starts a full copy in `dir` at a new point in time (every region dirty).
    pub(crate) fn start_copy(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let (src, dst) = Self::copy_ends(rec, dir);
        let (src_top, dst_top) = (self.top_name(&src), self.top_name(&dst));
        let shadow_top = self.top_name(&rec.shadow);
        let len = sectors(rec.master_size);
        let ext = self.log_extent(rec)?;
        let mut dev = DirectFile::open(&rec.bitmap, true)
            .map_err(|e| EngineError::io(format!("opening {}", rec.bitmap.display()), e))?;
        DiskLog::copying(&ChunkBitmap::full(nr_regions(len)))
            .write_to(&mut dev, ext.offset)
            .map_err(fmt_err("writing the disk log"))?;
        dev.sync_data()
            .map_err(|e| EngineError::io("syncing the bitmap volume", e))?;
        drop(dev);
        let file = self.scratch_file(rec);
        scratch::attach(&file, scratch::size_for(rec.master_size), true)?;

        // Persist first: from here on a crash resumes the copy.
        let before = self.cfg.clone();
        let mut next = before.clone();
        if let Some(s) = next.set_mut(&rec.name) {
            s.op = SetOp::Copying {
                direction: dir,
                started: now(),
            };
            s.last_modified = now();
        }
        save_config(&self.store, &mut self.cfg, next)?;
        let result = (|| -> Result<u64> {
            let mut txn = Txn::new(&self.dm);
            txn.create(&names::log(&shadow_top), None, &self.log_table(rec)?, false)?;
            let t0 = Instant::now();
            txn.suspend(&src_top, Lockfs::Freeze)?;
            txn.suspend(&dst_top, Lockfs::Skip)?;
            txn.load(&src_top, &origin(raw_devref(&src)?, len), false)?;
            txn.create(
                &names::pit(&shadow_top),
                None,
                &self.pit_table(rec, dir)?,
                false,
            )?;
            txn.load(&dst_top, &self.target_table(rec, dir)?, false)?;
            txn.resume(&dst_top)?;
            txn.resume(&src_top)?;
            let freeze = t0.elapsed().as_micros() as u64;
            txn.commit();
            Ok(freeze)
        })();
        match result {
            Ok(freeze) => {
                let mut next = self.cfg.clone();
                if let Some(s) = next.set_mut(&rec.name) {
                    s.last_freeze_us = Some(freeze);
                }
                save_config(&self.store, &mut self.cfg, next)
            }
            Err(e) => {
                let _ = scratch::release(&file);
                save_config(&self.store, &mut self.cfg, before)?;
                Err(e)
            }
        }
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
        let SetOp::Copying { direction, .. } = rec.op else {
            return Ok(false);
        };
        match self.copy_progress(rec, direction)? {
            Some((done, all)) if done == all => {
                self.finish_copy(rec, direction)?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(EngineError::Failed(format!(
                "set {} is copying but its target has no mirror table",
                rec.name
            ))),
        }
    }

    /// The kernel copied everything: both tops back to their resting tables.
    fn finish_copy(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let (src, dst) = Self::copy_ends(rec, dir);
        let (src_top, dst_top) = (self.top_name(&src), self.top_name(&dst));
        let shadow_top = self.top_name(&rec.shadow);
        let len = sectors(rec.master_size);
        let mut next: Config = self.cfg.clone();
        if let Some(s) = next.set_mut(&rec.name) {
            s.op = SetOp::Idle;
            s.last_modified = now();
        }
        let mut txn = Txn::new(&self.dm);
        txn.suspend(&dst_top, Lockfs::Skip)?;
        txn.suspend(&src_top, Lockfs::Skip)?;
        txn.load(&dst_top, &linear(raw_devref(&dst)?, len), false)?;
        let src_rest = if self
            .cfg
            .sets
            .iter()
            .any(|s| s.kind == SetKind::Dependent && s.master == src)
        {
            origin(raw_devref(&src)?, len)
        } else {
            linear(raw_devref(&src)?, len)
        };
        txn.load(&src_top, &src_rest, false)?;
        txn.resume(&dst_top)?;
        txn.resume(&src_top)?;
        save_config(&self.store, &mut self.cfg, next)?;
        txn.commit();
        for n in [names::pit(&shadow_top), names::log(&shadow_top)] {
            if let Err(e) = self.dm.remove(&n) {
                eprintln!("dsimage: could not remove {n}: {e}");
            }
        }
        scratch::release(&self.scratch_file(rec))
    }
}
