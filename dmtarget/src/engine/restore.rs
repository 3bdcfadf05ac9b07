//! Restore at start: bring the kernel to what the configuration and the on-disk stores
//! say. After an agent crash the devices still exist (possibly suspended, possibly with
//! a table from a half-done operation); after a reboot none do. Both end in the same
//! place: every device exists, is resumed and has its desired table.

use serde::Serialize;

use super::config::{CopyControl, CopyPhase, SetKind, SetOp};
use super::dependent::save_config;
use super::independent::pit_gen;
use super::{fault, names, Engine, Result};
use crate::dm::Lockfs;
use crate::table::{Table, Target};

/// What restore did, for logs and tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestoreReport {
    /// Devices created (after a reboot: all of them).
    pub created: Vec<String>,
    /// Devices whose table was reloaded or that were resumed.
    pub repaired: Vec<String>,
    /// Devices left alone because they already had the desired table.
    pub kept: Vec<String>,
    /// Leftover devices of ours that no set uses, removed.
    pub removed: Vec<String>,
    /// Sets with an operation that continues.
    pub continuing: Vec<String>,
    pub warnings: Vec<String>,
}

impl Engine {
    pub(crate) fn restore(&mut self) -> Result<RestoreReport> {
        let mut report = RestoreReport::default();
        self.adopt_live_cow_generations()?;
        self.settle_unstarted_copies(&mut report)?;
        for vol in self.cfg.volumes.clone() {
            let Some(block) = vol.era_block else { continue };
            self.attach_era_meta(&vol.top, vol.size, block, false)?;
            let era = names::era(&vol.top);
            let t = self.volume_era_table(&vol, block)?;
            self.ensure(&mut report, &era, &t, false)?;
            self.drop_stale_era_snapshot(&era)?;
        }
        for rec in self.cfg.sets.clone() {
            if rec.kind == SetKind::Dependent {
                let cow = self.cow_name(&rec, rec.cow_gen);
                let t = self.desired_cow_table(&rec)?;
                self.ensure(&mut report, &cow, &t, false)?;
            }
            if let SetOp::Copying { direction, .. } = rec.op {
                let shadow_top = self.top_name(&rec.shadow);
                let gen = pit_gen(&rec.op);
                // On a scratch device, its linear device is made here, before the pit
                // that sits on it.
                let linear = names::scratch(&shadow_top, gen);
                if Self::scratch_device_of(&rec).is_some() && !self.dm.exists(&linear)? {
                    report.created.push(linear);
                }
                self.attach_scratch(&rec, gen, false)?;
                let log = self.log_table(&rec)?;
                self.ensure(&mut report, &names::log(&shadow_top), &log, false)?;
                let pit = self.pit_table(&rec, direction, gen)?;
                self.ensure(&mut report, &names::pit(&shadow_top, gen), &pit, false)?;
            }
            if rec.op != SetOp::Idle {
                report.continuing.push(rec.name.clone());
            }
        }
        // The snapshots of the dependent shadows come before the master tops: once a
        // master top is up, writes to it (or the kernel's merge of another set into it,
        // which starts at its resume) copy-on-write only into snapshots that are active.
        self.ensure_dependent_shadow_tops(&mut report, false)?;
        let shadows: Vec<_> = self
            .cfg
            .sets
            .iter()
            .filter(|s| s.kind == SetKind::Dependent)
            .map(|s| s.shadow.clone())
            .collect();
        for vol in self.cfg.volumes.clone() {
            if shadows.contains(&vol.path) {
                continue;
            }
            match crate::volume::probe(&vol.path) {
                Ok(dev) if dev.size != vol.size => report.warnings.push(format!(
                    "{} is {} bytes now, {} when put under control",
                    vol.path.display(),
                    dev.size.0,
                    vol.size.0
                )),
                Ok(dev) if vol.serial.is_some() && dev.serial != vol.serial => {
                    report.warnings.push(format!(
                        "{} has serial {:?} now, {:?} when put under control",
                        vol.path.display(),
                        dev.serial,
                        vol.serial
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    report
                        .warnings
                        .push(format!("{} is missing: {e}", vol.path.display()));
                    continue;
                }
            }
            let t = self.desired_master_table(&vol.path, vol.size)?;
            self.ensure(&mut report, &vol.top.clone(), &t, false)?;
        }
        fault::crash("restore.master_tops");
        // A merging set's shadow top is a view of its master top.
        self.ensure_dependent_shadow_tops(&mut report, true)?;
        self.sweep_strays(&mut report)?;
        // Scratch areas no copy uses (a crash after a copy ended or was replaced). The
        // one a start not yet completed replaced still holds what was written on the
        // target while the stopped copy stood: completing the start reads it first.
        for rec in &self.cfg.sets {
            let (live, replaced) = match rec.op {
                SetOp::Copying { pit_gen, phase, .. } => (
                    Some(pit_gen % 2),
                    (phase == CopyPhase::PitTaken).then_some(pit_gen.wrapping_sub(1) % 2),
                ),
                _ => (None, None),
            };
            for gen in 0..2 {
                let file = self.scratch_file(rec, gen);
                if live != Some(gen) && replaced != Some(gen) && file.exists() {
                    super::scratch::release(&file)?;
                }
            }
        }
        // Copies whose point-in-time image was lost (scratch area full) fail cleanly.
        for rec in self.cfg.sets.clone() {
            if let SetOp::Copying {
                phase: CopyPhase::Running,
                control,
                direction,
                ..
            } = rec.op
            {
                if control != CopyControl::Failed && self.scratch_usage(&rec)?.0 {
                    self.fail_copy(&rec, direction)?;
                    report.warnings.push(format!(
                        "set {}: the scratch area of its copy filled; the copy failed (the \
                         source is untouched): copy or update again",
                        rec.name
                    ));
                }
            }
        }
        // Starts whose point in time was taken: give the kernel the rest of the log.
        for rec in self.cfg.sets.clone() {
            if let SetOp::Copying {
                phase: CopyPhase::PitTaken,
                ..
            } = rec.op
            {
                if let Err(e) = self.complete_start(&rec) {
                    report.warnings.push(format!(
                        "set {}: completing the start of its copy failed ({e}); retried \
                         while the agent runs",
                        rec.name
                    ));
                }
            }
        }
        Ok(report)
    }

    /// A copy persisted as decided whose point in time was not taken: nothing durable
    /// happened, so it is dropped; the set goes back to idle, or, when the copy was to
    /// replace a stopped one, to that copy, aborted (its devices still exist).
    fn settle_unstarted_copies(&mut self, report: &mut RestoreReport) -> Result<()> {
        let mut next = self.cfg.clone();
        let mut changed = false;
        for rec in next.sets.iter_mut() {
            let SetOp::Copying {
                direction,
                phase: CopyPhase::Decided,
                replaces_region,
                pit_gen,
                ref scratch_device,
                ..
            } = rec.op
            else {
                continue;
            };
            // A replacement keeps the stopped copy's scratch place.
            let scratch_device = scratch_device.clone();
            rec.op = match replaces_region {
                Some(region) => {
                    report.warnings.push(format!(
                        "set {}: a copy {direction} was about to replace its stopped copy when \
                         the agent stopped; the stopped copy stays, aborted",
                        rec.name
                    ));
                    SetOp::Copying {
                        direction,
                        started: super::now(),
                        region: Some(region),
                        phase: CopyPhase::Running,
                        replaces_region: None,
                        regions_to_copy: None,
                        full: true,
                        since: None,
                        began: None,
                        control: CopyControl::Aborted,
                        pit_gen: pit_gen.wrapping_sub(1),
                        scratch_device,
                    }
                }
                None => {
                    report.warnings.push(format!(
                        "set {}: a copy {direction} was about to start when the agent \
                         stopped; it was not started (run it again)",
                        rec.name
                    ));
                    SetOp::Idle
                }
            };
            changed = true;
        }
        if changed {
            save_config(&self.store, &mut self.cfg, next)?;
        }
        Ok(())
    }

    /// After a crash between a table swap and the save of the configuration, the live
    /// shadow may already use the other COW name: the kernel is right, adopt it.
    fn adopt_live_cow_generations(&mut self) -> Result<()> {
        let mut next = self.cfg.clone();
        let mut changed = false;
        for rec in next.sets.iter_mut() {
            if rec.kind != SetKind::Dependent {
                continue;
            }
            let top = self.top_name(&rec.shadow);
            if !self.dm.exists(&top)? {
                continue;
            }
            let Ok(table) = self.dm.table(&top) else {
                continue;
            };
            let Some(Target::Snapshot(p)) = table.0.first().map(|l| &l.target) else {
                continue;
            };
            for parity in 0..2 {
                let name = names::cow(&top, parity);
                if let Some(info) = self.dm.info(&name)? {
                    if info.devref() == p.cow && rec.cow_gen % 2 != parity {
                        rec.cow_gen = rec.cow_gen.wrapping_add(1);
                        changed = true;
                    }
                }
            }
        }
        if changed {
            save_config(&self.store, &mut self.cfg, next)?;
        }
        Ok(())
    }

    /// Makes the shadow tops of the dependent sets that are merging (`merging`) or not
    /// exist with their tables.
    fn ensure_dependent_shadow_tops(
        &self,
        report: &mut RestoreReport,
        merging: bool,
    ) -> Result<()> {
        for rec in &self.cfg.sets {
            if rec.kind == SetKind::Dependent && matches!(rec.op, SetOp::Merging { .. }) == merging
            {
                let top = self.top_name(&rec.shadow);
                let (t, ro) = self.desired_shadow_table(rec)?;
                self.ensure(report, &top, &t, ro)?;
            }
        }
        Ok(())
    }

    /// Makes `name` exist, resumed, with `table`.
    fn ensure(
        &self,
        report: &mut RestoreReport,
        name: &str,
        table: &Table,
        read_only: bool,
    ) -> Result<()> {
        match self.dm.info(name)? {
            None => {
                self.dm.create(name, None, table, read_only)?;
                report.created.push(name.to_string());
            }
            Some(info) => {
                if info.has_inactive_table {
                    self.dm.clear_inactive(name)?;
                }
                let same = info.has_active_table
                    && info.read_only == read_only
                    && self.dm.table(name).ok().as_ref() == Some(table);
                if same && !info.suspended {
                    report.kept.push(name.to_string());
                    return Ok(());
                }
                if !same {
                    if !info.suspended {
                        self.dm.suspend(name, Lockfs::Skip)?;
                    }
                    self.dm.load(name, table, read_only)?;
                }
                self.dm.resume(name)?;
                report.repaired.push(name.to_string());
            }
        }
        Ok(())
    }

    /// Removes devices with our prefix that no volume or set accounts for (a COW of a
    /// finished update, a device of a half-done enable).
    fn sweep_strays(&self, report: &mut RestoreReport) -> Result<()> {
        let mut wanted: Vec<String> = self.cfg.volumes.iter().map(|v| v.top.clone()).collect();
        for v in &self.cfg.volumes {
            if v.era_block.is_some() {
                wanted.push(names::era(&v.top));
            }
        }
        for s in &self.cfg.sets {
            if s.kind == SetKind::Dependent {
                wanted.push(self.cow_name(s, s.cow_gen));
            }
            if let SetOp::Copying { pit_gen, phase, .. } = s.op {
                let top = self.top_name(&s.shadow);
                wanted.push(names::pit(&top, pit_gen));
                wanted.push(names::log(&top));
                wanted.push(names::scratch(&top, pit_gen));
                if phase == CopyPhase::PitTaken {
                    // The scratch area of a stopped copy this one replaces: read when
                    // the start completes.
                    wanted.push(names::scratch(&top, pit_gen.wrapping_sub(1)));
                }
            }
        }
        let prefix = format!("{}-", self.opts.prefix);
        for name in self.dm.list(&prefix)? {
            if wanted.contains(&name) {
                continue;
            }
            match self.dm.info(&name)? {
                Some(i) if i.open_count == 0 => {
                    if i.suspended {
                        let _ = self.dm.resume(&name);
                    }
                    self.dm.remove(&name)?;
                    report.removed.push(name);
                }
                Some(i) => report.warnings.push(format!(
                    "{name} is not part of the configuration but is open ({} users); left alone",
                    i.open_count
                )),
                None => {}
            }
        }
        Ok(())
    }
}
