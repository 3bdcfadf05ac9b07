//! Control of a running independent copy: suspend, resume, abort, and throttling by
//! copy parameters.
//!
//! The kernel copies what its disk log marks dirty. To hold regions back, the engine
//! reloads the target's mirror with a log that marks them clean and keeps them on the
//! bitmap volume's (double-buffered) bitmap slot, in chunks; to give them back it marks
//! them dirty again. Reads of the target come from the point-in-time leg whatever the
//! log says, so the target always shows the right image; it depends on the source until
//! every region is copied.
//!
//! Order of writes, for crashes: the control state is persisted before regions move
//! from the kernel to the slot, and regions are given to the kernel before they leave
//! the slot. A crash in between leaves a region in both places (copied twice), never in
//! neither; and a copy only finishes when the kernel is in sync *and* the slot is empty.

use std::time::{Duration, Instant};

use super::config::{CopyControl, CopyParams, CopyPhase, SetOp, SetRecord};
use super::dependent::save_config;
use super::independent::{copy_region, fmt_err};
use super::tables::sectors;
use super::{Direction, Engine, EngineError, Outcome, Result, SetKind, SetStatus};
use crate::bitmap::ChunkBitmap;

/// Largest delay between batches accepted, in milliseconds.
pub const MAX_COPY_DELAY_MS: u64 = 60_000;

impl Engine {
    fn running_copy(&self, name: &str) -> Result<(SetRecord, Direction, CopyControl)> {
        let rec = self.set_record(name)?.clone();
        if rec.kind != SetKind::Independent {
            return Err(EngineError::NotSupported(format!(
                "set {name} is dependent: its copies are merges the kernel runs at once \
                 and cannot be suspended, resumed or aborted"
            )));
        }
        match rec.op {
            SetOp::Copying {
                direction,
                control,
                phase: CopyPhase::Running,
                ..
            } => Ok((rec, direction, control)),
            SetOp::Copying { .. } => Err(EngineError::Busy(format!(
                "the copy of set {name} is starting; try again"
            ))),
            _ => Err(EngineError::InvalidState(format!(
                "set {name} is not copying"
            ))),
        }
    }

    fn set_control(&mut self, name: &str, to: CopyControl) -> Result<()> {
        let mut next = self.cfg.clone();
        if let Some(SetOp::Copying { control, .. }) = next.set_mut(name).map(|s| &mut s.op) {
            *control = to;
        }
        save_config(&self.store, &mut self.cfg, next)
    }

    /// Regions as chunks of the set, and back.
    fn regions_to_chunks(rec: &SetRecord, regions: &ChunkBitmap) -> ChunkBitmap {
        regions.rescale(copy_region(&rec.op), rec.chunk, sectors(rec.master_size))
    }

    fn chunks_to_regions(rec: &SetRecord, chunks: &ChunkBitmap) -> ChunkBitmap {
        chunks.rescale(rec.chunk, copy_region(&rec.op), sectors(rec.master_size))
    }

    /// Moves every region the kernel still has to copy to the slot.
    pub(crate) fn hold_back_all(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let mut held = self.persisted_bitmap(rec)?;
        self.reload_log(rec, dir, |kernel| {
            let n = kernel.nr_chunks();
            held.union_with(&Self::regions_to_chunks(rec, &kernel))
                .map_err(fmt_err("bitmap"))?;
            self.persist_bitmap(rec, &held)?;
            Ok(ChunkBitmap::new(n))
        })?;
        Ok(())
    }

    /// Stops the kernel copying; [`Engine::resume_copy`] continues.
    pub fn suspend_copy(&mut self, name: &str) -> Result<Outcome<SetStatus>> {
        let (rec, dir, control) = self.running_copy(name)?;
        match control {
            CopyControl::Suspended => return Ok(Outcome::Identity(self.status(name)?)),
            CopyControl::Aborted | CopyControl::Failed => {
                return Err(EngineError::InvalidState(format!(
                    "the copy of set {name} was {}; start a new copy or update",
                    stopped_why(control)
                )))
            }
            CopyControl::Run => {}
        }
        self.set_control(name, CopyControl::Suspended)?;
        let rec = SetRecord {
            op: self.set_record(name)?.op.clone(),
            ..rec
        };
        if let Err(e) = self.hold_back_all(&rec, dir) {
            // Nothing moved: the kernel still has every region; it keeps copying.
            let _ = self.set_control(name, CopyControl::Run);
            return Err(e);
        }
        self.batch_done.remove(name);
        Ok(Outcome::Changed(self.status(name)?))
    }

    /// Stops the copy for good: the target keeps reading the point-in-time image of the
    /// source (it stays dependent) until a new copy or update in the same direction.
    pub fn abort_copy(&mut self, name: &str) -> Result<Outcome<SetStatus>> {
        let (rec, dir, control) = self.running_copy(name)?;
        if matches!(control, CopyControl::Aborted | CopyControl::Failed) {
            return Ok(Outcome::Identity(self.status(name)?));
        }
        self.set_control(name, CopyControl::Aborted)?;
        if control == CopyControl::Run {
            let rec = SetRecord {
                op: self.set_record(name)?.op.clone(),
                ..rec
            };
            if let Err(e) = self.hold_back_all(&rec, dir) {
                let _ = self.set_control(name, control);
                return Err(e);
            }
        }
        self.batch_done.remove(name);
        Ok(Outcome::Changed(self.status(name)?))
    }

    /// Continues a suspended copy (throttled again if the set has copy parameters).
    pub fn resume_copy(&mut self, name: &str) -> Result<Outcome<SetStatus>> {
        let (rec, dir, control) = self.running_copy(name)?;
        match control {
            CopyControl::Run => return Ok(Outcome::Identity(self.status(name)?)),
            CopyControl::Aborted | CopyControl::Failed => {
                return Err(EngineError::InvalidState(format!(
                    "the copy of set {name} was {} and cannot resume; start a new copy \
                     or update {dir}",
                    stopped_why(control)
                )))
            }
            CopyControl::Suspended => {}
        }
        self.give_batch(&rec, dir)?;
        self.set_control(name, CopyControl::Run)?;
        Ok(Outcome::Changed(self.status(name)?))
    }

    /// Sets (or, with `None`, clears) the copy parameters of an independent set; they
    /// apply to the running copy at once and to later ones.
    pub fn set_copy_params(&mut self, name: &str, params: Option<CopyParams>) -> Result<SetStatus> {
        let rec = self.set_record(name)?.clone();
        if rec.kind != SetKind::Independent {
            return Err(EngineError::NotSupported(format!(
                "set {name} is dependent: it has no background copy to throttle"
            )));
        }
        if let Some(p) = params {
            if p.units == 0 {
                return Err(EngineError::InvalidArgument(
                    "copy units must be at least 1 chunk".into(),
                ));
            }
            if p.delay_ms > MAX_COPY_DELAY_MS {
                return Err(EngineError::InvalidArgument(format!(
                    "copy delay {} ms is longer than the {MAX_COPY_DELAY_MS} ms allowed",
                    p.delay_ms
                )));
            }
        }
        let mut next = self.cfg.clone();
        if let Some(s) = next.set_mut(name) {
            s.copy_params = params;
        }
        save_config(&self.store, &mut self.cfg, next)?;
        self.status(name)
    }

    /// Regions per batch under the set's copy parameters (`None`: unthrottled).
    fn batch_regions(rec: &SetRecord) -> Option<u64> {
        let p = rec.copy_params?;
        let region = copy_region(&rec.op).0;
        let bytes = p.units.saturating_mul(rec.chunk.0);
        Some(bytes.div_ceil(region).max(1))
    }

    /// Splits regions into the batch the kernel may copy now (all of them when the set
    /// is unthrottled) and the rest.
    pub(crate) fn split_batch(
        rec: &SetRecord,
        regions: &ChunkBitmap,
    ) -> Result<(ChunkBitmap, ChunkBitmap)> {
        let Some(n) = Self::batch_regions(rec) else {
            return Ok((regions.clone(), ChunkBitmap::new(regions.nr_chunks())));
        };
        let mut batch = ChunkBitmap::new(regions.nr_chunks());
        for r in regions.iter().take(n as usize) {
            batch.set(r).map_err(fmt_err("bitmap"))?;
        }
        let rest = regions.difference(&batch).map_err(fmt_err("bitmap"))?;
        Ok((batch, rest))
    }

    /// Gives the kernel the next batch of held regions (all of them when unthrottled),
    /// then takes them off the slot.
    fn give_batch(&mut self, rec: &SetRecord, dir: Direction) -> Result<()> {
        let held = self.persisted_bitmap(rec)?;
        let regions = Self::chunks_to_regions(rec, &held);
        let (batch, _) = Self::split_batch(rec, &regions)?;
        self.reload_log(rec, dir, |kernel| {
            let mut all = kernel;
            all.union_with(&batch).map_err(fmt_err("disk log"))?;
            Ok(all)
        })?;
        let rest = held
            .difference(&Self::regions_to_chunks(rec, &batch))
            .map_err(fmt_err("bitmap"))?;
        self.persist_bitmap(rec, &rest)
    }

    /// The kernel is in sync: if regions are held back, gives the next batch once the
    /// delay has passed. True while the copy is not over.
    pub(crate) fn throttle_next_batch(&mut self, rec: &SetRecord, dir: Direction) -> Result<bool> {
        let held = self.persisted_bitmap(rec)?;
        if held.is_empty() {
            self.batch_done.remove(&rec.name);
            return Ok(false);
        }
        let delay = Duration::from_millis(rec.copy_params.map_or(0, |p| p.delay_ms));
        let done_at = *self
            .batch_done
            .entry(rec.name.clone())
            .or_insert_with(Instant::now);
        if done_at.elapsed() >= delay {
            self.give_batch(rec, dir)?;
            self.batch_done.remove(&rec.name);
        }
        Ok(true)
    }

    /// A copy runs with more regions in the kernel than a batch allows (copy parameters
    /// set during the copy): keep one batch in the kernel, hold the rest back.
    pub(crate) fn throttle_shrink(
        &mut self,
        rec: &SetRecord,
        dir: Direction,
        in_kernel: u64,
    ) -> Result<()> {
        let Some(n) = Self::batch_regions(rec) else {
            return Ok(());
        };
        if in_kernel <= n {
            return Ok(());
        }
        let mut held = self.persisted_bitmap(rec)?;
        self.reload_log(rec, dir, |kernel| {
            let mut keep = ChunkBitmap::new(kernel.nr_chunks());
            for r in kernel.iter().take(n as usize) {
                keep.set(r).map_err(fmt_err("bitmap"))?;
            }
            let back = kernel.difference(&keep).map_err(fmt_err("bitmap"))?;
            held.union_with(&Self::regions_to_chunks(rec, &back))
                .map_err(fmt_err("bitmap"))?;
            self.persist_bitmap(rec, &held)?;
            Ok(keep)
        })?;
        Ok(())
    }

    /// Regions still to copy: in the kernel plus held back (for progress).
    pub(crate) fn regions_left(&self, rec: &SetRecord, in_kernel: u64) -> Result<u64> {
        let held = self.persisted_bitmap(rec)?;
        Ok(in_kernel + Self::chunks_to_regions(rec, &held).count())
    }
}

fn stopped_why(c: CopyControl) -> &'static str {
    match c {
        CopyControl::Failed => "lost with its scratch area",
        _ => "aborted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{Direction, SetKind};
    use crate::units::{Bytes, Sectors};

    fn rec(region: Sectors, params: Option<CopyParams>) -> SetRecord {
        SetRecord {
            name: "s".into(),
            uuid: "u".into(),
            kind: SetKind::Independent,
            master: "/dev/m".into(),
            shadow: "/dev/s".into(),
            bitmap: "/dev/b".into(),
            overflow: None,
            chunk: Sectors(64),
            master_size: Bytes(64 << 20),
            shadow_size: Bytes(64 << 20),
            cow_gen: 0,
            op: SetOp::Copying {
                direction: Direction::ToShadow,
                started: 0,
                region: Some(region),
                phase: CopyPhase::Running,
                replaces_region: None,
                regions_to_copy: None,
                full: false,
                since: None,
                began: None,
                control: CopyControl::Run,
                pit_gen: 0,
                scratch_device: None,
            },
            created: 0,
            last_modified: 0,
            last_freeze_us: None,
            eras: None,
            copy_params: params,
        }
    }

    #[test]
    fn batches_are_whole_regions_of_at_least_the_units() {
        let p = |units| Some(CopyParams { units, delay_ms: 0 });
        // One-chunk regions: a batch is `units` regions.
        assert_eq!(Engine::batch_regions(&rec(Sectors(64), p(10))), Some(10));
        // 4 MiB regions (128 chunks): 10 chunks still make one region, 200 make two.
        assert_eq!(Engine::batch_regions(&rec(Sectors(8192), p(10))), Some(1));
        assert_eq!(Engine::batch_regions(&rec(Sectors(8192), p(200))), Some(2));
        assert_eq!(Engine::batch_regions(&rec(Sectors(64), None)), None);
    }

    #[test]
    fn held_chunks_and_regions_convert_without_loss() {
        let r = rec(Sectors(8192), None);
        let mut chunks = ChunkBitmap::new(1024);
        chunks.set(0).unwrap();
        chunks.set(129).unwrap();
        let regions = Engine::chunks_to_regions(&r, &chunks);
        assert_eq!(regions.iter().collect::<Vec<_>>(), vec![0, 1]);
        let back = Engine::regions_to_chunks(&r, &regions);
        assert_eq!(back.count(), 256);
        assert!(back.contains(0) && back.contains(129));
    }
}
