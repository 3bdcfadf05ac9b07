//! Dependent sets on dm-snapshot.
//!
//! - master top: `snapshot-origin <master>` (shared by all dependent shadows of a master);
//! - COW device `<shadow top>.cow<gen % 2>`: linear over the whole shadow volume;
//! - shadow top: `snapshot <master> <cow> P <chunk>`.
//!
//! Update (and copy) master->shadow replaces the store with a fresh one. The kernel hands
//! the exceptions of a live snapshot over to a new table that names the *same* COW
//! device, so the fresh store is loaded through the other COW device name, whose header
//! was zeroed while both tops were suspended (the kernel then formats it).
//!
//! Shadow->master is a `snapshot-merge` of the store into the master. While it runs the
//! shadow top is a read-only view of the master top (which already shows the shadow
//! image); when the kernel reports the merge complete the master top returns to
//! `snapshot-origin` and the shadow gets a fresh store: master and shadow are equal again.

use std::path::Path;
use std::time::Instant;

use super::config::{Config, ConfigStore, SetOp, SetRecord};
use super::independent::{stopped_copy, CopyKind};
use super::tables::{linear, merge, origin, raw_devref, sectors, snapshot};
use super::validate::CheckedSet;
use super::{
    fault, names, now, Direction, Engine, EngineError, Result, SetKind, SetSpec, SetStatus,
};
use crate::dm::{DmControl, Lockfs, Txn};
use crate::ondisk::blockio::{BlockDev, DirectFile};
use crate::table::{SnapshotStatus, Target};

/// Saves `next` and makes it current; borrows only the fields it needs so it can run
/// while a transaction holds the device-mapper handle.
pub(crate) fn save_config(store: &ConfigStore, cfg: &mut Config, mut next: Config) -> Result<()> {
    store
        .save(&mut next)
        .map_err(|e| EngineError::io("saving the configuration", e))?;
    *cfg = next;
    Ok(())
}

/// Puts a store header back if the operation that zeroed it fails.
struct HeaderGuard<'p> {
    path: &'p Path,
    saved: Option<Vec<u8>>,
}

impl HeaderGuard<'_> {
    fn disarm(mut self) {
        self.saved = None;
    }
}

impl Drop for HeaderGuard<'_> {
    fn drop(&mut self) {
        if let Some(bytes) = self.saved.take() {
            let _ = write_first(self.path, &bytes);
        }
    }
}

/// Reads the first `len` bytes of a device, bypassing the page cache (the kernel writes
/// the store below it).
fn read_first(path: &Path, len: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut dev = DirectFile::open(path, false)?;
    let mut buf = vec![0u8; len];
    dev.read_exact(&mut buf)?;
    Ok(buf)
}

/// Writes `bytes` at the start of a device and waits until they are durable.
fn write_first(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut dev = DirectFile::open(path, true)?;
    dev.write_all(bytes)?;
    dev.sync_data()
}

/// Zeroes the first chunk of a COW store so the next table load formats a new store;
/// returns a guard that puts the old header *and* the first metadata area back unless
/// disarmed (formatting zeroes that area, so both are needed to reload the old store).
fn zero_store_header<'p>(shadow: &'p Path, rec: &SetRecord) -> Result<HeaderGuard<'p>> {
    let chunk = rec.chunk.bytes().0 as usize;
    let saved = read_first(shadow, 2 * chunk).map_err(|e| {
        EngineError::io(
            format!("reading the store header on {}", shadow.display()),
            e,
        )
    })?;
    write_first(shadow, &vec![0u8; chunk]).map_err(|e| {
        EngineError::io(
            format!("zeroing the store header on {}", shadow.display()),
            e,
        )
    })?;
    Ok(HeaderGuard {
        path: shadow,
        saved: Some(saved),
    })
}

fn micros(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

impl Engine {
    /// Enables a volume set: the point in time is now, the shadow is usable at once.
    pub fn enable(&mut self, spec: SetSpec) -> Result<SetStatus> {
        let checked = self.check_new_set(&spec)?;
        match spec.kind {
            SetKind::Dependent => self.enable_dependent(checked),
            SetKind::Independent => self.enable_independent(checked),
        }
    }

    fn enable_dependent(&mut self, c: CheckedSet) -> Result<SetStatus> {
        let mut next = self.cfg.clone();
        for dev in [&c.master, &c.shadow] {
            if next.volume(&dev.path).is_none() {
                next.volumes.push(self.volume_record(dev));
            }
        }
        let mut rec = c.record(SetKind::Dependent);
        let master_top = self.top_name(&rec.master);
        let shadow_top = self.top_name(&rec.shadow);
        let cow = names::cow(&shadow_top, rec.cow_gen);
        for n in [&cow] {
            if self.dm.exists(n)? {
                return Err(EngineError::AlreadyExists {
                    what: "device",
                    name: n.clone(),
                });
            }
        }
        self.write_bitmap_header(&rec)?;

        let master_dev = self.data_devref(&rec.master)?;
        let shadow_path = rec.shadow.clone();
        let mut txn = Txn::new(&self.dm);
        for (dev, top) in [(&c.master, &master_top), (&c.shadow, &shadow_top)] {
            if !self.dm.exists(top)? {
                txn.create(
                    top,
                    None,
                    &linear(raw_devref(&dev.path)?, sectors(dev.size)),
                    false,
                )?;
            }
        }
        let cow_info = txn.create(
            &cow,
            None,
            &linear(raw_devref(&rec.shadow)?, sectors(rec.shadow_size)),
            false,
        )?;
        let guard = zero_store_header(&shadow_path, &rec)?;
        let master_is_origin = matches!(
            self.dm.table(&master_top)?.0.first().map(|l| &l.target),
            Some(Target::SnapshotOrigin(_))
        );
        let t0 = Instant::now();
        txn.suspend(&master_top, Lockfs::Freeze)?;
        txn.suspend(&shadow_top, Lockfs::Skip)?;
        if !master_is_origin {
            txn.load(
                &master_top,
                &origin(master_dev.clone(), sectors(rec.master_size)),
                false,
            )?;
        }
        txn.load(
            &shadow_top,
            &snapshot(
                master_dev,
                cow_info.devref(),
                rec.chunk,
                sectors(rec.master_size),
            ),
            false,
        )?;
        fault::point("enable.loaded")?;
        txn.resume(&shadow_top)?;
        txn.resume(&master_top)?;
        rec.last_freeze_us = Some(micros(t0));
        fault::point("enable.resumed")?;
        next.sets.push(rec);
        save_config(&self.store, &mut self.cfg, next)?;
        guard.disarm();
        txn.commit();
        self.status(&c.name)
    }

    /// Full copy in `dir`. For a dependent set this is the same as an update: the shadow
    /// holds only what differs, so there is nothing more to copy.
    pub fn copy(&mut self, name: &str, dir: Direction) -> Result<SetStatus> {
        self.copy_or_update(name, dir, CopyKind::Full)
    }

    /// Update in `dir`: master->shadow takes a new point in time now; shadow->master starts
    /// copying the changed chunks back (see [`Engine::wait`]).
    pub fn update(&mut self, name: &str, dir: Direction) -> Result<SetStatus> {
        self.copy_or_update(name, dir, CopyKind::Update)
    }

    fn copy_or_update(&mut self, name: &str, dir: Direction, kind: CopyKind) -> Result<SetStatus> {
        let rec = self.set_record(name)?.clone();
        self.check_not_grouped(name)?;
        // A stopped copy of an independent set (suspended, aborted, failed) is replaced by
        // a new copy or update in its direction; `start_copy` decides.
        let stopped = rec.kind == SetKind::Independent && stopped_copy(&rec.op).is_some();
        if rec.op != SetOp::Idle && !stopped {
            return Err(EngineError::Busy(format!(
                "set {name} is busy ({}); wait for it to finish",
                op_name(&rec.op)
            )));
        }
        match (rec.kind, dir) {
            (SetKind::Dependent, Direction::ToShadow) => {
                self.dependent_reset(&rec, SetOp::Idle)?;
            }
            (SetKind::Dependent, Direction::ToMaster) => self.dependent_start_merge(&rec)?,
            (SetKind::Independent, dir) => {
                if dir == Direction::ToMaster {
                    self.check_independent_to_master(&rec)?;
                }
                self.start_copy(&rec, dir, kind)?;
            }
        }
        self.status(name)
    }

    /// A copy of an independent set onto its master writes the master's raw volume:
    /// refused while the master is mounted, busy, or the master of a dependent set.
    pub(crate) fn check_independent_to_master(&self, rec: &SetRecord) -> Result<()> {
        self.check_master_writable(rec)?;
        if let Some(d) = self
            .cfg
            .sets
            .iter()
            .find(|s| s.kind == SetKind::Dependent && s.master == rec.master)
        {
            return Err(EngineError::Conflict(format!(
                "the master {} is also the master of dependent set {}, whose shadow would not \
                 see a copy to the master; disable it first",
                rec.master.display(),
                d.name
            )));
        }
        Ok(())
    }

    /// New point in time for a dependent shadow: a fresh store through the other COW name.
    fn dependent_reset(&mut self, rec: &SetRecord, then: SetOp) -> Result<()> {
        self.dependent_resets(std::slice::from_ref(rec), then)
    }

    /// New point in time for several dependent shadows at once (a group): every master
    /// top is frozen while every shadow gets a fresh store, so the images share one
    /// point in time; on any failure every device and store is as before.
    pub(crate) fn dependent_resets(&mut self, recs: &[SetRecord], then: SetOp) -> Result<()> {
        let mut txn = Txn::new(&self.dm);
        let mut fresh = Vec::new();
        for rec in recs {
            let new_gen = rec.cow_gen.wrapping_add(1);
            let new_cow = self.cow_name(rec, new_gen);
            self.remove_stray(&new_cow)?;
            let info = txn.create(
                &new_cow,
                None,
                &linear(raw_devref(&rec.shadow)?, sectors(rec.shadow_size)),
                false,
            )?;
            fresh.push(info.devref());
        }
        let mut master_tops: Vec<String> = recs.iter().map(|r| self.top_name(&r.master)).collect();
        master_tops.sort();
        master_tops.dedup();
        let t0 = Instant::now();
        for top in &master_tops {
            txn.suspend(top, Lockfs::Freeze)?;
        }
        for rec in recs {
            txn.suspend(&self.top_name(&rec.shadow), Lockfs::Skip)?;
        }
        // Declared after the transaction so that, on failure, the headers are back before
        // the roll-back reloads the old stores.
        let mut guards = Vec::new();
        for (rec, cow) in recs.iter().zip(fresh) {
            guards.push(zero_store_header(&rec.shadow, rec)?);
            txn.load(
                &self.top_name(&rec.shadow),
                &snapshot(
                    self.data_devref(&rec.master)?,
                    cow,
                    rec.chunk,
                    sectors(rec.master_size),
                ),
                false,
            )?;
        }
        fault::point("update.loaded")?;
        for rec in recs {
            txn.resume(&self.top_name(&rec.shadow))?;
        }
        fault::point("update.shadow_resumed")?;
        for top in &master_tops {
            txn.resume(top)?;
        }
        let freeze = micros(t0);
        let mut next = self.cfg.clone();
        for rec in recs {
            if let Some(s) = next.set_mut(&rec.name) {
                s.cow_gen = rec.cow_gen.wrapping_add(1);
                s.op = then.clone();
                s.last_modified = now();
                s.last_freeze_us = Some(freeze);
            }
        }
        save_config(&self.store, &mut self.cfg, next)?;
        for g in guards {
            g.disarm();
        }
        txn.commit();
        // The old stores' devices are unused now; a failure here leaves a stray device
        // that the next restore sweeps.
        for rec in recs {
            let old_cow = self.cow_name(rec, rec.cow_gen);
            if let Err(e) = self.dm.remove(&old_cow) {
                eprintln!("dsimage: could not remove {old_cow}: {e}");
            }
        }
        Ok(())
    }

    /// Removes a leftover device of ours that nothing uses (after a crash).
    pub(crate) fn remove_stray(&self, name: &str) -> Result<()> {
        if let Some(info) = self.dm.info(name)? {
            if info.open_count > 0 {
                return Err(EngineError::Busy(format!(
                    "device {name} is still in use ({} users)",
                    info.open_count
                )));
            }
            self.dm.remove(name)?;
        }
        Ok(())
    }

    fn check_master_writable(&self, rec: &SetRecord) -> Result<()> {
        let mounts = crate::volume::MountTable::read();
        let master_top = DmControl::node_path(&self.top_name(&rec.master));
        for p in [rec.master.as_path(), master_top.as_path()] {
            if let Some(m) = mounts.path_mounted(p) {
                return Err(EngineError::Conflict(format!(
                    "the master volume {} is mounted on {m}; unmount it before copying to the master",
                    p.display()
                )));
            }
        }
        if let Some(other) = self
            .cfg
            .sets
            .iter()
            .find(|s| s.master == rec.master && s.name != rec.name && s.op != SetOp::Idle)
        {
            return Err(EngineError::Busy(format!(
                "set {} of the same master is busy ({})",
                other.name,
                op_name(&other.op)
            )));
        }
        Ok(())
    }

    fn dependent_start_merge(&mut self, rec: &SetRecord) -> Result<()> {
        self.dependent_start_merges(std::slice::from_ref(rec))
    }

    /// Starts merging the shadows of several dependent sets (a group) into their
    /// masters, which must differ: every shadow top turns into a read-only view of its
    /// master while every master is frozen, so the copies are of one point in time.
    pub(crate) fn dependent_start_merges(&mut self, recs: &[SetRecord]) -> Result<()> {
        for rec in recs {
            self.check_master_writable(rec)?;
            let shadow_top = self.top_name(&rec.shadow);
            match self.snapshot_status(&shadow_top)? {
                Some(SnapshotStatus::Active { .. }) => {}
                other => {
                    return Err(EngineError::InvalidState(format!(
                        "the shadow of set {} is not usable ({}); it cannot be copied to the \
                         master",
                        rec.name,
                        other
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "no snapshot".into())
                    )))
                }
            }
        }
        // Persist first: if we crash from here on, restore continues the merges.
        let before = self.cfg.clone();
        let mut next = before.clone();
        for rec in recs {
            if let Some(s) = next.set_mut(&rec.name) {
                s.op = SetOp::Merging {
                    started: now(),
                    initial_allocated: None,
                };
                s.last_modified = now();
            }
        }
        save_config(&self.store, &mut self.cfg, next)?;
        let result = (|| -> Result<()> {
            let mut txn = Txn::new(&self.dm);
            for rec in recs {
                txn.suspend(&self.top_name(&rec.master), Lockfs::Freeze)?;
            }
            for rec in recs {
                let shadow_top = self.top_name(&rec.shadow);
                let master_ref = self.dm_devref(&self.top_name(&rec.master))?;
                txn.suspend(&shadow_top, Lockfs::Skip)?;
                txn.load(
                    &shadow_top,
                    &linear(master_ref, sectors(rec.master_size)),
                    true,
                )?;
                txn.resume(&shadow_top)?;
            }
            for rec in recs {
                let cow_ref = self.dm_devref(&self.cow_name(rec, rec.cow_gen))?;
                txn.load(
                    &self.top_name(&rec.master),
                    &merge(
                        self.data_devref(&rec.master)?,
                        cow_ref,
                        rec.chunk,
                        sectors(rec.master_size),
                    ),
                    false,
                )?;
            }
            fault::point("merge.loaded")?;
            for rec in recs {
                txn.resume(&self.top_name(&rec.master))?;
            }
            txn.commit();
            Ok(())
        })();
        if let Err(e) = result {
            save_config(&self.store, &mut self.cfg, before)?;
            return Err(e);
        }
        Ok(())
    }

    /// Parsed status of a snapshot or snapshot-merge device, if it has that table.
    pub(crate) fn snapshot_status(&self, name: &str) -> Result<Option<SnapshotStatus>> {
        let Some(line) = self.dm.status(name)?.into_iter().next() else {
            return Ok(None);
        };
        if line.target_type != "snapshot" && line.target_type != "snapshot-merge" {
            return Ok(None);
        }
        line.rest
            .parse::<SnapshotStatus>()
            .map(Some)
            .map_err(|e| EngineError::Failed(format!("status of {name}: {e}")))
    }

    /// One step of a dependent set's operation; true when it just finished.
    pub(crate) fn dependent_advance(&mut self, rec: &SetRecord) -> Result<bool> {
        match &rec.op {
            SetOp::Idle => Ok(false),
            SetOp::Merging {
                initial_allocated, ..
            } => {
                let master_top = self.top_name(&rec.master);
                match self.snapshot_status(&master_top)? {
                    Some(SnapshotStatus::Active {
                        allocated,
                        metadata,
                        ..
                    }) => {
                        if initial_allocated.is_none() {
                            let mut next = self.cfg.clone();
                            if let Some(SetOp::Merging {
                                initial_allocated, ..
                            }) = next.set_mut(&rec.name).map(|s| &mut s.op)
                            {
                                *initial_allocated = Some(allocated.0);
                            }
                            save_config(&self.store, &mut self.cfg, next)?;
                        }
                        if allocated == metadata {
                            self.finish_merge(rec)?;
                            return Ok(true);
                        }
                        Ok(false)
                    }
                    Some(other) => Err(EngineError::Failed(format!(
                        "the merge of set {} failed: {other}",
                        rec.name
                    ))),
                    None => Err(EngineError::Failed(format!(
                        "set {} is merging but {master_top} has no merge table",
                        rec.name
                    ))),
                }
            }
            SetOp::MergeFinalizing => {
                self.dependent_reset(rec, SetOp::Idle)?;
                Ok(true)
            }
            SetOp::Copying { .. } => Err(EngineError::Failed(format!(
                "dependent set {} cannot be in an independent copy",
                rec.name
            ))),
        }
    }

    /// The kernel merged everything: master top back to origin, then a fresh store.
    fn finish_merge(&mut self, rec: &SetRecord) -> Result<()> {
        let master_top = self.top_name(&rec.master);
        let shadow_top = self.top_name(&rec.shadow);
        let mut txn = Txn::new(&self.dm);
        txn.suspend(&shadow_top, Lockfs::Skip)?;
        txn.suspend(&master_top, Lockfs::Skip)?;
        txn.load(
            &master_top,
            &origin(self.data_devref(&rec.master)?, sectors(rec.master_size)),
            false,
        )?;
        txn.resume(&master_top)?;
        txn.resume(&shadow_top)?;
        let mut next = self.cfg.clone();
        if let Some(s) = next.set_mut(&rec.name) {
            s.op = SetOp::MergeFinalizing;
        }
        save_config(&self.store, &mut self.cfg, next)?;
        txn.commit();
        let rec = self.set_record(&rec.name)?.clone();
        self.dependent_reset(&rec, SetOp::Idle)
    }

    /// Disables a set: the shadow top becomes a plain map of the shadow volume (whose
    /// contents, a COW store, are no image), the master top plain again if no other
    /// dependent set uses it. Refused while an operation runs.
    pub fn disable(&mut self, name: &str) -> Result<()> {
        let rec = self.set_record(name)?.clone();
        if rec.op != SetOp::Idle {
            return Err(EngineError::Busy(format!(
                "set {name} is busy ({}); wait for it to finish",
                op_name(&rec.op)
            )));
        }
        if rec.kind == SetKind::Independent {
            // At rest both tops are plain maps already; change tracking stays under a
            // volume while another set uses it.
            let mut next = self.cfg.clone();
            next.remove_set(name);
            let unused: Vec<_> = next
                .volumes
                .iter()
                .filter(|v| v.path == rec.master || v.path == rec.shadow)
                .filter(|v| v.era_block.is_some())
                .filter(|v| {
                    !next
                        .sets
                        .iter()
                        .any(|s| s.master == v.path || s.shadow == v.path)
                })
                .cloned()
                .collect();
            for v in next.volumes.iter_mut() {
                if unused.iter().any(|u| u.path == v.path) {
                    v.era_block = None;
                }
            }
            save_config(&self.store, &mut self.cfg, next)?;
            for v in &unused {
                if let Err(e) = self.remove_era_device(v) {
                    eprintln!(
                        "dsimage: could not remove the change tracking of {}: {e}",
                        v.path.display()
                    );
                }
            }
            return Ok(());
        }
        let master_top = self.top_name(&rec.master);
        let shadow_top = self.top_name(&rec.shadow);
        let cow = self.cow_name(&rec, rec.cow_gen);
        let others = self
            .cfg
            .sets
            .iter()
            .any(|s| s.master == rec.master && s.name != rec.name);
        let mut next = self.cfg.clone();
        next.remove_set(name);
        let mut txn = Txn::new(&self.dm);
        txn.suspend(&master_top, Lockfs::Freeze)?;
        txn.suspend(&shadow_top, Lockfs::Skip)?;
        txn.load(
            &shadow_top,
            &linear(raw_devref(&rec.shadow)?, sectors(rec.shadow_size)),
            false,
        )?;
        if !others {
            txn.load(
                &master_top,
                &linear(self.data_devref(&rec.master)?, sectors(rec.master_size)),
                false,
            )?;
        }
        txn.resume(&shadow_top)?;
        txn.resume(&master_top)?;
        save_config(&self.store, &mut self.cfg, next)?;
        txn.commit();
        if let Err(e) = self.dm.remove(&cow) {
            eprintln!("dsimage: could not remove {cow}: {e}");
        }
        Ok(())
    }
}

pub(crate) fn op_name(op: &SetOp) -> &'static str {
    match op {
        SetOp::Idle => "idle",
        SetOp::Merging { .. } => "copying shadow to master",
        SetOp::MergeFinalizing => "finishing a copy to the master",
        SetOp::Copying {
            direction: Direction::ToShadow,
            ..
        } => "copying master to shadow",
        SetOp::Copying {
            direction: Direction::ToMaster,
            ..
        } => "copying shadow to master",
    }
}
