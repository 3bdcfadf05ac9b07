//! Change tracking of independent sets at rest: a dm-era device under each of their
//! volumes, between the top device and the raw device:
//!
//! ```text
//! <top>      linear | snapshot-origin | mirror ...   (what applications use)
//!  <top>.era era <metadata> <raw> <block>            (this module)
//!   <raw>
//! ```
//!
//! The era metadata is a sparse file in the state directory (`era/<top>.meta`) seen
//! through a loop device: one era device serves every set of the volume (several shadows
//! per master), each set remembering the era its last point in time began
//! ([`super::config::SetRecord::eras`]). Only the engine sends era messages. Reads that
//! decide a copy go through a metadata snapshot (`take_metadata_snap`, which also starts
//! a new era, then `drop_metadata_snap`), so "blocks written since era E" is read
//! consistently while the device is live; the status reads the live metadata instead
//! (no commit, no new era), checking that the superblock did not change meanwhile
//! ([`Engine::independent_changes_now`]). The reader is [`crate::ondisk::era`].
//!
//! A copy writes its target's raw device, not its era device (an era commit per region
//! would cost more than the region's data): what a copy writes, and what is written on
//! the target during it (the point-in-time snapshot's exceptions), reaches the other
//! sets of the target volume through their persisted bitmaps
//! ([`Engine::mark_for_other_sets`]).

use std::path::{Path, PathBuf};

use super::config::{Config, SetRecord, VolumeRecord};
use super::tables::{linear, one, raw_devref, sectors};
use super::{names, scratch, Engine, EngineError, Result};
use crate::bitmap::ChunkBitmap;
use crate::dm::{Lockfs, Txn};
use crate::ondisk::bitmap_volume::era_metadata_bytes;
use crate::ondisk::era;
use crate::table::{DevRef, EraParams, EraStatus, Table, Target};
use crate::units::{Bytes, Sectors};

/// Smallest era block dm-era accepts, in sectors.
const MIN_ERA_BLOCK: Sectors = Sectors(8);

/// Era block size for a volume first tracked for a set of chunk `chunk`.
pub(crate) fn era_block_for(chunk: Sectors) -> Sectors {
    Sectors(chunk.0.max(MIN_ERA_BLOCK.0))
}

/// `era <metadata> <origin> <block>` over a whole volume of `len` sectors.
pub(crate) fn era_table(metadata: DevRef, origin: DevRef, block: Sectors, len: Sectors) -> Table {
    one(
        len,
        Target::Era(EraParams {
            metadata,
            origin,
            block_size: block,
        }),
    )
}

impl Engine {
    /// The era metadata file of a volume's top device.
    pub(crate) fn era_file(&self, top: &str) -> PathBuf {
        self.opts.state_dir.join("era").join(format!("{top}.meta"))
    }

    /// Attaches a volume's era metadata file to a loop device (`fresh`: a new, empty
    /// file, so the kernel formats new metadata).
    pub(crate) fn attach_era_meta(
        &self,
        top: &str,
        size: Bytes,
        block: Sectors,
        fresh: bool,
    ) -> Result<PathBuf> {
        scratch::attach(
            &self.era_file(top),
            Bytes(era_metadata_bytes(size, block)),
            fresh,
        )
    }

    /// The table of a volume's era device (its metadata file must be attached).
    pub(crate) fn volume_era_table(&self, vol: &VolumeRecord, block: Sectors) -> Result<Table> {
        let file = self.era_file(&vol.top);
        let meta = scratch::attached(&file).ok_or_else(|| {
            EngineError::Failed(format!(
                "the era metadata of {} ({}) is not attached",
                vol.path.display(),
                file.display()
            ))
        })?;
        Ok(era_table(
            raw_devref(&meta)?,
            raw_devref(&vol.path)?,
            block,
            sectors(vol.size),
        ))
    }

    /// The device a volume's data is reached through below its top: its era device if
    /// it has one, else the raw device.
    pub(crate) fn data_devref(&self, raw: &Path) -> Result<DevRef> {
        match self.cfg.volume(raw) {
            Some(v) if v.era_block.is_some() => self.dm_devref(&names::era(&v.top)),
            _ => raw_devref(raw),
        }
    }

    /// Puts an era device under each volume at `paths` that has none, in `txn`, and
    /// records it in `next`. The volumes' records must be in `next`; a top that does
    /// not exist yet is created over the era device. A volume already used by a
    /// dependent set is refused: its snapshots name the raw device.
    pub(crate) fn add_era_devices(
        &self,
        txn: &mut Txn<'_>,
        next: &mut Config,
        paths: &[&Path],
        block: Sectors,
    ) -> Result<()> {
        for path in paths {
            let Some(vol) = next.volume(path).cloned() else {
                return Err(EngineError::Failed(format!(
                    "{} is not under control",
                    path.display()
                )));
            };
            if vol.era_block.is_some() {
                continue;
            }
            if let Some(s) = self
                .cfg
                .sets
                .iter()
                .find(|s| &s.master.as_path() == path || &s.shadow.as_path() == path)
            {
                return Err(EngineError::Conflict(format!(
                    "{} is already in set {} ({}); an independent set needs change tracking \
                     under its volumes, which can only be added to a volume no set uses yet",
                    path.display(),
                    s.name,
                    s.kind
                )));
            }
            let meta = self.attach_era_meta(&vol.top, vol.size, block, true)?;
            let len = sectors(vol.size);
            let era_name = names::era(&vol.top);
            let info = txn.create(
                &era_name,
                None,
                &era_table(raw_devref(&meta)?, raw_devref(&vol.path)?, block, len),
                false,
            )?;
            let top_table = linear(info.devref(), len);
            if self.dm.exists(&vol.top)? {
                txn.suspend(&vol.top, Lockfs::Freeze)?;
                txn.load(&vol.top, &top_table, false)?;
                txn.resume(&vol.top)?;
            } else {
                txn.create(&vol.top, None, &top_table, false)?;
            }
            if let Some(v) = next.volumes.iter_mut().find(|v| &v.path.as_path() == path) {
                v.era_block = Some(block);
            }
        }
        Ok(())
    }

    /// Takes a volume's era device out from under its top (top back to the raw device)
    /// and deletes its metadata; for a volume no set tracks any more, or to undo
    /// [`Engine::add_era_devices`].
    pub(crate) fn remove_era_device(&self, vol: &VolumeRecord) -> Result<()> {
        let era_name = names::era(&vol.top);
        if self.dm.exists(&vol.top)? {
            let mut txn = Txn::new(&self.dm);
            txn.suspend(&vol.top, Lockfs::Freeze)?;
            txn.load(
                &vol.top,
                &linear(raw_devref(&vol.path)?, sectors(vol.size)),
                false,
            )?;
            txn.resume(&vol.top)?;
            txn.commit();
        }
        if self.dm.exists(&era_name)? {
            self.dm.remove(&era_name)?;
        }
        scratch::release(&self.era_file(&vol.top))
    }

    fn era_status(&self, era_name: &str) -> Result<EraStatus> {
        let line = self
            .dm
            .status(era_name)?
            .into_iter()
            .next()
            .filter(|l| l.target_type == "era")
            .ok_or_else(|| EngineError::Failed(format!("{era_name} has no era table")))?;
        line.rest
            .parse()
            .map_err(|e| EngineError::Failed(format!("{era_name} status: {e}")))
    }

    /// Starts a new era on a volume's era device (`checkpoint`) and returns it; `None`
    /// if the volume has no era device. Writes from now on are in it or later; writes
    /// before are in earlier eras.
    pub(crate) fn begin_era(&self, raw: &Path) -> Result<Option<u32>> {
        match self.cfg.volume(raw) {
            Some(v) if v.era_block.is_some() => {
                let era_name = names::era(&v.top);
                self.dm.message(&era_name, "checkpoint")?;
                Ok(Some(self.era_status(&era_name)?.current_era))
            }
            _ => Ok(None),
        }
    }

    /// Drops a metadata snapshot a crash left held (the kernel holds one at a time).
    pub(crate) fn drop_stale_era_snapshot(&self, era_name: &str) -> Result<()> {
        if self.era_status(era_name)?.held_root.is_some() {
            self.dm.message(era_name, "drop_metadata_snap")?;
        }
        Ok(())
    }

    /// A tracked volume's era block, era device name and attached metadata device.
    fn era_of(&self, raw: &Path) -> Result<(Sectors, String, PathBuf)> {
        let vol = self.cfg.volume(raw).ok_or_else(|| {
            EngineError::Failed(format!("{} is not under control", raw.display()))
        })?;
        let block = vol.era_block.ok_or_else(|| {
            EngineError::Failed(format!("{} has no change tracking", raw.display()))
        })?;
        let meta = scratch::attached(&self.era_file(&vol.top)).ok_or_else(|| {
            EngineError::Failed(format!("the era metadata of {} is detached", raw.display()))
        })?;
        Ok((block, names::era(&vol.top), meta))
    }

    /// Whether both volumes of a set have an era device.
    fn both_tracked(&self, rec: &SetRecord) -> bool {
        [&rec.master, &rec.shadow]
            .iter()
            .all(|p| self.cfg.volume(p).is_some_and(|v| v.era_block.is_some()))
    }

    /// Starts a new era on a volume's era device and reads, through the metadata
    /// snapshot that does it, the blocks written in era `since` or later (none read when
    /// `since` is `None`). Returns them as a bitmap of `chunk`-sector chunks of the
    /// volume's first `len` sectors, and the era that began: every write from now on
    /// is in it or later.
    pub(crate) fn era_changes(
        &self,
        raw: &Path,
        since: Option<u32>,
        chunk: Sectors,
        len: Sectors,
    ) -> Result<(Option<ChunkBitmap>, u32)> {
        let (block, era_name, meta) = self.era_of(raw)?;
        self.drop_stale_era_snapshot(&era_name)?;
        self.dm.message(&era_name, "take_metadata_snap")?;
        super::fault::crash("era.snapped");
        let read = (|| -> Result<(Option<ChunkBitmap>, u32)> {
            let current = self.era_status(&era_name)?.current_era;
            let Some(since) = since else {
                return Ok((None, current));
            };
            let blocks = era::blocks_written_since_path(&meta, since, true).map_err(|e| {
                EngineError::Failed(format!(
                    "reading the era metadata of {}: {e}",
                    raw.display()
                ))
            })?;
            Ok((Some(blocks.rescale(block, chunk, len)), current))
        })();
        let dropped = self.dm.message(&era_name, "drop_metadata_snap");
        let out = read?;
        dropped?;
        Ok(out)
    }

    /// The chunks of an idle independent set that differ between master and shadow:
    /// the persisted bitmap plus what was written on either side since the set's eras.
    /// Also returns the eras that began (see [`Engine::era_changes`]).
    ///
    /// With `read` false nothing is read (every chunk counts as changed): a full copy
    /// only needs the eras to begin.
    pub(crate) fn independent_changes(
        &self,
        rec: &SetRecord,
        read: bool,
    ) -> Result<(ChunkBitmap, Option<super::config::SetEras>)> {
        let len = sectors(rec.master_size);
        let nr = len.0.div_ceil(rec.chunk.0);
        if !self.both_tracked(rec) {
            return Ok((ChunkBitmap::full(nr), None));
        }
        let eras = rec.eras.filter(|_| read);
        let (m, m_era) = self.era_changes(&rec.master, eras.map(|e| e.master), rec.chunk, len)?;
        let (s, s_era) = self.era_changes(&rec.shadow, eras.map(|e| e.shadow), rec.chunk, len)?;
        let began = Some(super::config::SetEras {
            master: m_era,
            shadow: s_era,
        });
        let (Some(m), Some(s)) = (m, s) else {
            return Ok((ChunkBitmap::full(nr), began));
        };
        let mut all = self.persisted_bitmap(rec)?;
        let fail = |e: crate::ondisk::FormatError| EngineError::Failed(format!("bitmap: {e}"));
        all.union_with(&m).map_err(fail)?;
        all.union_with(&s).map_err(fail)?;
        Ok((all, began))
    }

    /// What an update of an idle independent set would copy now, for its status: as
    /// [`Engine::independent_changes`], but reading the era devices' live metadata
    /// (no commit, no new era; a metadata snapshot only if the live reads keep racing
    /// the kernel's commits).
    pub(crate) fn independent_changes_now(&self, rec: &SetRecord) -> Result<ChunkBitmap> {
        let len = sectors(rec.master_size);
        let nr = len.0.div_ceil(rec.chunk.0);
        let Some(eras) = rec.eras.filter(|_| self.both_tracked(rec)) else {
            return Ok(ChunkBitmap::full(nr));
        };
        let fail = |e: crate::ondisk::FormatError| EngineError::Failed(format!("bitmap: {e}"));
        let mut all = self.persisted_bitmap(rec)?;
        for (raw, since) in [(&rec.master, eras.master), (&rec.shadow, eras.shadow)] {
            let (block, _, meta) = self.era_of(raw)?;
            let live = era::blocks_written_since_live_path(&meta, since, 3).map_err(|e| {
                EngineError::Failed(format!(
                    "reading the era metadata of {}: {e}",
                    raw.display()
                ))
            })?;
            let written = match live {
                Some(blocks) => blocks.rescale(block, rec.chunk, len),
                // Given an era, the snapshot read always reads.
                None => self
                    .era_changes(raw, Some(since), rec.chunk, len)?
                    .0
                    .unwrap_or_else(|| ChunkBitmap::full(nr)),
            };
            all.union_with(&written).map_err(fail)?;
        }
        Ok(all)
    }

    /// The shadow bitmap persisted on the set's bitmap volume.
    pub(crate) fn persisted_bitmap(&self, rec: &SetRecord) -> Result<ChunkBitmap> {
        let fail = |e: crate::ondisk::FormatError| {
            EngineError::Failed(format!(
                "reading the bitmap of {}: {e}",
                rec.bitmap.display()
            ))
        };
        let mut bv =
            crate::ondisk::bitmap_volume::BitmapVolume::open_path(&rec.bitmap).map_err(fail)?;
        bv.read_bitmap().map_err(fail)
    }

    /// Replaces the shadow bitmap persisted on the set's bitmap volume (atomically: the
    /// format is double-buffered).
    pub(crate) fn persist_bitmap(&self, rec: &SetRecord, bitmap: &ChunkBitmap) -> Result<()> {
        let fail = |e: crate::ondisk::FormatError| {
            EngineError::Failed(format!(
                "writing the bitmap of {}: {e}",
                rec.bitmap.display()
            ))
        };
        let mut bv =
            crate::ondisk::bitmap_volume::BitmapVolume::open_path(&rec.bitmap).map_err(fail)?;
        bv.write_bitmap(bitmap).map_err(fail)
    }

    /// Adds `chunks` (one bit per `rec.chunk` sectors of the set's volumes) to the
    /// persisted bitmap of every other independent set of `volume`: a copy of `rec`
    /// writes them on `volume`'s raw device, which the volume's era device does not see.
    /// Marking more than was written only means copying more later.
    pub(crate) fn mark_for_other_sets(
        &self,
        rec: &SetRecord,
        volume: &Path,
        chunks: &ChunkBitmap,
    ) -> Result<()> {
        let fail = |e: crate::ondisk::FormatError| EngineError::Failed(format!("bitmap: {e}"));
        for other in self.cfg.sets.iter().filter(|s| {
            s.name != rec.name
                && s.kind == super::SetKind::Independent
                && (s.master == volume || s.shadow == volume)
        }) {
            let mut bits = self.persisted_bitmap(other)?;
            let add = chunks.rescale(rec.chunk, other.chunk, sectors(other.master_size));
            bits.union_with(&add).map_err(fail)?;
            self.persist_bitmap(other, &bits)?;
        }
        Ok(())
    }
}
