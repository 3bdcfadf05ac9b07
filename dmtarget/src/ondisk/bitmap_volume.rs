//! The dsimage *bitmap volume*: a small volume beside each volume set that names the set
//! and persists its shadow bitmap, and reserves room for the kernel's mirror disk log and
//! dm-era metadata used while copying.
//!
//! # Layout (format version 1)
//!
//! All integers little-endian, all offsets and lengths in bytes and multiples of 4096.
//!
//! | offset | length | content |
//! |---|---|---|
//! | 0 | 4096 | header copy 0 |
//! | 4096 | 4096 | header copy 1 |
//! | 8192 | `slot_len` | bitmap slot 0 |
//! | 8192 + `slot_len` | `slot_len` | bitmap slot 1 |
//! | 8192 + 2 × `slot_len` | `log_len` | mirror disk-log region |
//! | after the disk log | `era_len` | era metadata region |
//!
//! The header records every region's offset and length, so readers take them from there;
//! the formula above is only how [`BitmapVolumeLayout::new`] places them.
//!
//! ## Header block (4096 bytes; both copies use the same format)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"DSIMGBV\0"` |
//! | 8 | 4 | format version, `1` |
//! | 12 | 4 | header size: bytes of the block holding defined fields, `336` in version 1 (readers accept 336..=4096) |
//! | 16 | 4 | CRC-32C of the whole 4096-byte block computed with this field set to zero |
//! | 20 | 4 | flags: bit 0 compact, bit 1 exported, bit 2 imported, bit 3 copy active; other bits must be 0 |
//! | 24 | 8 | generation: 1 when formatted, +1 on every header write |
//! | 32 | 16 | set UUID (binary) |
//! | 48 | 1 | set type: 1 independent, 2 dependent |
//! | 49 | 1 | active bitmap slot: 0 or 1 |
//! | 50 | 2 | reserved, 0 |
//! | 52 | 4 | chunk size in sectors (power of two, at most 2^21) |
//! | 56 | 4 | region size in sectors the disk-log region was sized for (power of two, at least 2) |
//! | 60 | 4 | era block size in sectors the era region was sized for (at least 8) |
//! | 64 | 64 | set name, UTF-8, NUL-padded (at most 64 bytes, no NUL inside) |
//! | 128 | 64 | master volume id, UTF-8, NUL-padded |
//! | 192 | 8 | master volume size in bytes |
//! | 200 | 64 | shadow volume id, UTF-8, NUL-padded |
//! | 264 | 8 | shadow volume size in bytes |
//! | 272 | 8 + 8 | bitmap slot 0 offset, length |
//! | 288 | 8 + 8 | bitmap slot 1 offset, length |
//! | 304 | 8 + 8 | mirror disk-log region offset, length |
//! | 320 | 8 + 8 | era metadata region offset, length |
//! | 336 | 3760 | reserved, 0 (covered by the CRC) |
//!
//! Flags: *compact*: the set was created in compact mode; *exported*: the set was detached
//! for use elsewhere; *imported*: the set was attached from elsewhere; *copy active*: a
//! copy between master and shadow is in progress, so the bitmap is being drained.
//!
//! ## Bitmap slots
//!
//! Each slot holds one [`ChunkBitmap`] serialisation (self-delimiting and CRC-checked, see
//! [`crate::bitmap`]) of `nr_chunks = ceil(master size / chunk bytes)` bits, followed by
//! unused bytes. `slot_len = round_up_4k(ChunkBitmap::max_serialized_size(nr_chunks))`,
//! about `nr_chunks / 8` bytes, enough for the bitmap's worst case.
//!
//! ## Updates and crash safety
//!
//! Writing the bitmap: write it to the slot that is *not* active, `fdatasync`, then write a
//! header naming that slot with generation + 1, `fdatasync`. Every header write goes to copy
//! `generation % 2`, the copy holding the older header, so a torn header write destroys at
//! most the older copy. [`BitmapVolume::open`] takes the valid copy with the higher
//! generation (copy 0 on a tie). Until the new header is durable the old header and its
//! slot are untouched. An active slot that fails its checksum is reported, not replaced by
//! the other slot: that one holds an older bitmap, and trusting it would lose changes.
//!
//! Formatting first zeroes both header copies (so a crash mid-format cannot leave an old
//! header pointing at new slots), writes an empty bitmap to both slots, zeroes the first
//! 4096 bytes of the disk-log and era regions (both kernel targets then start fresh) and
//! writes both header copies with generation 1.
//!
//! ## Mirror disk-log region
//!
//! Sized for the kernel's `disk` dirty log (`dm-log.c`) of `nr_regions = ceil(master sectors
//! / region size)`: a header at sector 0 (le u32 magic `0x4D695272` "MiRr", le u32 version
//! 2, le u64 nr_regions), the clean bits from sector 2 (byte 1024) as an array of
//! `unsigned long` (`ceil(nr_regions / 64) × 8` bytes), the whole rounded up to the logical
//! block size; see [`disk_log_bytes`]. The kernel caps `nr_regions` at 2^32 - 1.
//!
//! ## Era metadata region
//!
//! Reserved for a dm-era metadata device; see [`era_metadata_bytes`] for the estimate.
//!
//! ## Device access
//!
//! [`BitmapVolume`] works on any [`BlockDev`] (tests use `Cursor<Vec<u8>>`).
//! [`BitmapVolume::open_path`] and [`BitmapVolume::format_path`] use [`DirectFile`]: `O_DIRECT`
//! through an aligned bounce buffer plus `fdatasync`. Direct I/O because the disk-log and
//! era regions are written by kernel targets below the page cache of the device node, and
//! because the update protocol needs to know when each write reached the device rather
//! than the page cache.

use std::path::Path;

use super::blockio::{self, BlockDev, DirectFile};
use super::exstore::check_chunk_size;
use super::FormatError;
use crate::bitmap::{ChunkBitmap, BITMAP_HEADER_LEN};
use crate::units::{Bytes, Sectors};

/// Header magic.
pub const BV_MAGIC: [u8; 8] = *b"DSIMGBV\0";
/// Format version written by this build.
pub const BV_VERSION: u32 = 1;
/// Bytes of defined header fields in version 1.
pub const BV_HEADER_SIZE_V1: u32 = 336;
/// Size of one header copy.
pub const HEADER_BLOCK: u64 = 4096;
/// Number of header copies at the start of the volume.
pub const HEADER_COPIES: u64 = 2;
/// Alignment of every region.
pub const REGION_ALIGN: u64 = 4096;
/// Longest set name and volume id, in bytes.
pub const NAME_BYTES: usize = 64;

/// Smallest dm-era block size (`MIN_BLOCK_SIZE` in `dm-era-target.c`), in sectors.
pub const ERA_MIN_BLOCK: Sectors = Sectors(8);
/// Largest useful dm-era metadata device: the metadata space map indexes at most
/// 255 × 16320 blocks of 4096 bytes (`DM_SM_METADATA_MAX_BLOCKS`).
pub const ERA_METADATA_MAX_BYTES: u64 = 255 * 16320 * 4096;

const CRC_AT: usize = 16;

/// Kind of volume set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetType {
    Independent = 1,
    Dependent = 2,
}

/// Header flag bits; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VolumeFlags(pub u32);

impl VolumeFlags {
    pub const COMPACT: VolumeFlags = VolumeFlags(1 << 0);
    pub const EXPORTED: VolumeFlags = VolumeFlags(1 << 1);
    pub const IMPORTED: VolumeFlags = VolumeFlags(1 << 2);
    pub const COPY_ACTIVE: VolumeFlags = VolumeFlags(1 << 3);
    /// Every bit version 1 defines.
    pub const ALL: VolumeFlags = VolumeFlags(0b1111);

    pub fn contains(self, other: VolumeFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: VolumeFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: VolumeFlags) {
        self.0 &= !other.0;
    }
}

/// A master or shadow volume as the set knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VolumeIdentity {
    /// Stable identifier (e.g. a device WWN or LV UUID), at most 64 bytes of UTF-8.
    pub id: String,
    pub size: Bytes,
}

/// A byte range of the bitmap volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// Where the regions of a bitmap volume are, and what they were sized for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitmapVolumeLayout {
    /// Region size the disk-log region was sized for.
    pub region_size: Sectors,
    /// Era block size the era region was sized for.
    pub era_block: Sectors,
    pub slots: [Extent; 2],
    pub disk_log: Extent,
    pub era: Extent,
}

fn round_up(n: u64, align: u64) -> u64 {
    n.div_ceil(align).saturating_mul(align)
}

/// Bytes the kernel's `disk` dirty log needs for `nr_regions` regions: 1024 bytes of header
/// sectors, then `ceil(nr_regions / 64)` 64-bit words of clean bits, rounded up to 4096 (the
/// kernel rounds to the logical block size, which is at most 4096 here).
pub fn disk_log_bytes(nr_regions: u64) -> u64 {
    round_up(
        super::disklog::DiskLog::device_bytes(nr_regions),
        REGION_ALIGN,
    )
}

/// dm-era persistent-data constants for the estimate (4096-byte metadata blocks).
const ERA_BLOCK_BYTES: u64 = 4096;
/// u32 era-array entries per array block (24-byte array block header).
const ERA_ARRAY_ENTRIES: u64 = (4096 - 24) / 4;
/// Writeset bits per bitset block (an array of u64 words, same header).
const ERA_BITSET_BITS: u64 = (4096 - 24) / 8 * 64;
/// B-tree nodes hold (4096 - 32) / 16 = 254 entries; assume half-full nodes.
const BTREE_FANOUT: u64 = 127;
/// Blocks one space-map bitmap block accounts for (2 bits per block, 16-byte header).
const SM_BLOCKS_PER_BITMAP: u64 = (4096 - 16) * 4;
/// Writesets assumed alive at once: the current one, the one being archived, and archived
/// ones not yet digested into the era array.
const ERA_WRITESETS: u64 = 4;

fn btree_blocks(entries: u64) -> u64 {
    let mut total = 0;
    let mut n = entries;
    loop {
        let nodes = n.div_ceil(BTREE_FANOUT).max(1);
        total += nodes;
        if nodes == 1 {
            return total;
        }
        n = nodes;
    }
}

/// Generous size of a dm-era metadata device for a master of `master_size` and era blocks
/// of `era_block` sectors (clamped to the kernel minimum of 8).
///
/// dm-era keeps, in 4096-byte blocks: a superblock; the era array, one u32 per block
/// (1018 per array block) under a B-tree; writesets, one bit per block (32576 per bitset
/// block) under B-trees, counted four times (current, archiving, undigested); the writeset
/// tree; and the metadata space map (one bitmap block per 16320 blocks). The total is
/// doubled because a transaction shadows (copies) every block it changes, then 1 MiB is
/// added and the result rounded up to 1 MiB, and capped at [`ERA_METADATA_MAX_BYTES`],
/// beyond which the metadata space map cannot address blocks anyway. That is about 9.2
/// bytes per era block: 1 TiB at 32 KiB blocks gets 294 MiB, 1 GiB gets 2 MiB.
pub fn era_metadata_bytes(master_size: Bytes, era_block: Sectors) -> u64 {
    let block_bytes = era_block.0.max(ERA_MIN_BLOCK.0).saturating_mul(512);
    let nr_blocks = master_size.0.div_ceil(block_bytes);
    let array_blocks = nr_blocks.div_ceil(ERA_ARRAY_ENTRIES);
    let array = array_blocks + btree_blocks(array_blocks);
    let bitset_blocks = nr_blocks.div_ceil(ERA_BITSET_BITS);
    let writeset = bitset_blocks + btree_blocks(bitset_blocks);
    let live = 1 + array + ERA_WRITESETS * writeset + btree_blocks(ERA_WRITESETS);
    let space_map = 1 + live.div_ceil(SM_BLOCKS_PER_BITMAP);
    let blocks = 2 * (live + space_map) + 256;
    round_up(blocks * ERA_BLOCK_BYTES, 1 << 20).min(ERA_METADATA_MAX_BYTES)
}

fn nr_regions(master_size: Bytes, region: Sectors) -> u64 {
    master_size.0.div_ceil(region.0.max(1) * 512)
}

fn check_region_size(region: Sectors) -> Result<(), FormatError> {
    if region.0 < 2 || !region.0.is_power_of_two() || region.0 > u64::from(u32::MAX) {
        return Err(FormatError::field(
            "region size",
            format!(
                "{} sectors: the kernel's dirty log needs a power of two of at least 2 sectors",
                region.0
            ),
        ));
    }
    Ok(())
}

fn check_era_block(era_block: Sectors) -> Result<(), FormatError> {
    if era_block.0 < ERA_MIN_BLOCK.0 || era_block.0 > u64::from(u32::MAX) {
        return Err(FormatError::field(
            "era block size",
            format!("{} sectors: dm-era needs at least 8 sectors", era_block.0),
        ));
    }
    Ok(())
}

impl BitmapVolumeLayout {
    /// The standard layout for a master of `master_size` with `chunk`-sector chunks and a
    /// disk log of `region`-sector regions; the era region is sized by
    /// [`era_metadata_bytes`] for era blocks of one chunk (at least 8 sectors).
    pub fn new(master_size: Bytes, chunk: Sectors, region: Sectors) -> Result<Self, FormatError> {
        let era_block = Sectors(chunk.0.max(ERA_MIN_BLOCK.0));
        let era_bytes = era_metadata_bytes(master_size, era_block);
        Self::with_era(master_size, chunk, region, era_block, era_bytes)
    }

    /// As [`BitmapVolumeLayout::new`] with an explicit era block size and era region length
    /// (rounded up to 4096).
    pub fn with_era(
        master_size: Bytes,
        chunk: Sectors,
        region: Sectors,
        era_block: Sectors,
        era_bytes: u64,
    ) -> Result<Self, FormatError> {
        check_chunk_size(chunk)?;
        check_region_size(region)?;
        check_era_block(era_block)?;
        if era_bytes == 0 {
            return Err(FormatError::field("era region length", "must not be 0"));
        }
        let regions = nr_regions(master_size, region);
        if regions > u64::from(u32::MAX) {
            return Err(FormatError::field(
                "region size",
                format!(
                    "{} sectors gives {regions} regions; the kernel allows at most {}",
                    region.0,
                    u32::MAX
                ),
            ));
        }
        let nr_chunks = ChunkBitmap::chunks_for(master_size, chunk)?;
        let slot_len = round_up(ChunkBitmap::max_serialized_size(nr_chunks), REGION_ALIGN);
        let slot0 = Extent {
            offset: HEADER_COPIES * HEADER_BLOCK,
            len: slot_len,
        };
        let slot1 = Extent {
            offset: slot0.end(),
            len: slot_len,
        };
        let disk_log = Extent {
            offset: slot1.end(),
            len: disk_log_bytes(regions),
        };
        let era = Extent {
            offset: disk_log.end(),
            len: round_up(era_bytes, REGION_ALIGN),
        };
        Ok(BitmapVolumeLayout {
            region_size: region,
            era_block,
            slots: [slot0, slot1],
            disk_log,
            era,
        })
    }

    /// Bytes the volume needs: the end of its last region.
    pub fn total_size(&self) -> Bytes {
        Bytes(
            [self.slots[0], self.slots[1], self.disk_log, self.era]
                .iter()
                .map(Extent::end)
                .max()
                .unwrap_or(0)
                .max(HEADER_COPIES * HEADER_BLOCK),
        )
    }

    /// Checks alignment, overlap and that each region is big enough for a master of
    /// `master_size` with `chunk`-sector chunks.
    fn check(&self, master_size: Bytes, chunk: Sectors) -> Result<(), FormatError> {
        check_region_size(self.region_size)?;
        check_era_block(self.era_block)?;
        let named = [
            ("bitmap slot 0", self.slots[0]),
            ("bitmap slot 1", self.slots[1]),
            ("disk-log region", self.disk_log),
            ("era region", self.era),
        ];
        for (name, e) in named {
            if e.offset % REGION_ALIGN != 0 || e.len % REGION_ALIGN != 0 || e.len == 0 {
                return Err(FormatError::field(
                    "layout",
                    format!(
                        "{name} ({} bytes at {}) is empty or not 4096-aligned",
                        e.len, e.offset
                    ),
                ));
            }
            if e.offset < HEADER_COPIES * HEADER_BLOCK || e.offset.checked_add(e.len).is_none() {
                return Err(FormatError::field(
                    "layout",
                    format!("{name} at {} overlaps the headers or overflows", e.offset),
                ));
            }
        }
        for (i, (a_name, a)) in named.iter().enumerate() {
            for (b_name, b) in &named[i + 1..] {
                if a.offset < b.end() && b.offset < a.end() {
                    return Err(FormatError::field(
                        "layout",
                        format!("{a_name} and {b_name} overlap"),
                    ));
                }
            }
        }
        let nr_chunks = ChunkBitmap::chunks_for(master_size, chunk)?;
        let need_slot = ChunkBitmap::max_serialized_size(nr_chunks);
        for (i, s) in self.slots.iter().enumerate() {
            if s.len < need_slot {
                return Err(FormatError::field(
                    "layout",
                    format!(
                        "bitmap slot {i} has {} bytes, {nr_chunks} chunks can need {need_slot}",
                        s.len
                    ),
                ));
            }
        }
        let regions = nr_regions(master_size, self.region_size);
        let need_log = disk_log_bytes(regions);
        if regions > u64::from(u32::MAX) || self.disk_log.len < need_log {
            return Err(FormatError::field(
                "layout",
                format!(
                    "disk-log region has {} bytes, {regions} regions need {need_log}",
                    self.disk_log.len
                ),
            ));
        }
        Ok(())
    }
}

/// Size of the bitmap volume for a master of `master_size` and `chunk`-sector chunks: the
/// published size formula.
///
/// `8192 + 2 × round_up_4k(ChunkBitmap::max_serialized_size(nr_chunks))
///  + disk_log_bytes(nr_regions) + era_metadata_bytes(master_size, era_block)`
///
/// with the disk log sized for regions of one chunk (at least 2 sectors, doubled until the
/// kernel's limit of 2^32 - 1 regions holds) and the era region for era blocks of one chunk
/// (at least 8 sectors): the smallest dsimage uses, so any larger region or era block fits.
/// A chunk size the kernel refuses has no layout and gives `Bytes(u64::MAX)`, so a size
/// check against it fails; [`try_required_size`] says why.
pub fn required_size(master_size: Bytes, chunk: Sectors) -> Bytes {
    try_required_size(master_size, chunk).unwrap_or(Bytes(u64::MAX))
}

/// [`required_size`], with the reason when there is no layout.
pub fn try_required_size(master_size: Bytes, chunk: Sectors) -> Result<Bytes, FormatError> {
    Ok(
        BitmapVolumeLayout::new(master_size, chunk, default_region(master_size, chunk))?
            .total_size(),
    )
}

/// The region size [`required_size`] sizes the disk log for.
pub fn default_region(master_size: Bytes, chunk: Sectors) -> Sectors {
    let mut region = chunk.0.max(2);
    while nr_regions(master_size, Sectors(region)) > u64::from(u32::MAX) {
        region = region.saturating_mul(2);
    }
    Sectors(region)
}

/// The decoded header; see the module documentation for the byte layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitmapVolumeHeader {
    pub set_uuid: [u8; 16],
    pub set_type: SetType,
    pub flags: VolumeFlags,
    pub set_name: String,
    pub master: VolumeIdentity,
    pub shadow: VolumeIdentity,
    pub chunk_size: Sectors,
    /// Incremented on every header write; managed by [`BitmapVolume`].
    pub generation: u64,
    /// Slot holding the current bitmap; managed by [`BitmapVolume`].
    pub active_slot: u8,
    pub layout: BitmapVolumeLayout,
}

fn put_str(out: &mut [u8], s: &str) {
    out[..s.len()].copy_from_slice(s.as_bytes());
}

fn get_str(bytes: &[u8], field: &'static str) -> Result<String, FormatError> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    if bytes[end..].iter().any(|&b| b != 0) {
        return Err(FormatError::field(field, "has bytes after its NUL padding"));
    }
    String::from_utf8(bytes[..end].to_vec())
        .map_err(|e| FormatError::field(field, format!("is not UTF-8: {e}")))
}

fn check_str(s: &str, field: &'static str) -> Result<(), FormatError> {
    if s.len() > NAME_BYTES {
        return Err(FormatError::field(
            field,
            format!(
                "{:?} is {} bytes long, the limit is {NAME_BYTES}",
                s,
                s.len()
            ),
        ));
    }
    if s.contains('\0') {
        return Err(FormatError::field(field, format!("{s:?} contains a NUL")));
    }
    Ok(())
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl BitmapVolumeHeader {
    /// A header for a new set with the standard layout (see [`BitmapVolumeLayout::new`]);
    /// generation and active slot are set by [`BitmapVolume::format`].
    pub fn new(
        set_uuid: [u8; 16],
        set_type: SetType,
        set_name: &str,
        master: VolumeIdentity,
        shadow: VolumeIdentity,
        chunk_size: Sectors,
        region_size: Sectors,
    ) -> Result<Self, FormatError> {
        let layout = BitmapVolumeLayout::new(master.size, chunk_size, region_size)?;
        let header = BitmapVolumeHeader {
            set_uuid,
            set_type,
            flags: VolumeFlags::default(),
            set_name: set_name.to_string(),
            master,
            shadow,
            chunk_size,
            generation: 0,
            active_slot: 0,
            layout,
        };
        header.validate()?;
        Ok(header)
    }

    /// Chunks of the master, i.e. bits of the bitmap.
    pub fn nr_chunks(&self) -> u64 {
        ChunkBitmap::chunks_for(self.master.size, self.chunk_size).unwrap_or(0)
    }

    /// Checks every field against the format's limits.
    pub fn validate(&self) -> Result<(), FormatError> {
        check_str(&self.set_name, "set name")?;
        check_str(&self.master.id, "master id")?;
        check_str(&self.shadow.id, "shadow id")?;
        check_chunk_size(self.chunk_size)?;
        if self.master.size.0 == 0 {
            return Err(FormatError::field("master size", "must not be 0"));
        }
        if self.active_slot > 1 {
            return Err(FormatError::field(
                "active slot",
                format!("{} is neither 0 nor 1", self.active_slot),
            ));
        }
        if self.flags.0 & !VolumeFlags::ALL.0 != 0 {
            return Err(FormatError::field(
                "flags",
                format!("unknown bits {:#x}", self.flags.0 & !VolumeFlags::ALL.0),
            ));
        }
        self.layout.check(self.master.size, self.chunk_size)
    }

    /// The 4096-byte header block, checksum included.
    pub fn pack(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let mut b = vec![0u8; HEADER_BLOCK as usize];
        b[0..8].copy_from_slice(&BV_MAGIC);
        b[8..12].copy_from_slice(&BV_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&BV_HEADER_SIZE_V1.to_le_bytes());
        b[20..24].copy_from_slice(&self.flags.0.to_le_bytes());
        b[24..32].copy_from_slice(&self.generation.to_le_bytes());
        b[32..48].copy_from_slice(&self.set_uuid);
        b[48] = self.set_type as u8;
        b[49] = self.active_slot;
        // Sizes were checked to fit 32 bits by validate().
        b[52..56].copy_from_slice(&(self.chunk_size.0 as u32).to_le_bytes());
        b[56..60].copy_from_slice(&(self.layout.region_size.0 as u32).to_le_bytes());
        b[60..64].copy_from_slice(&(self.layout.era_block.0 as u32).to_le_bytes());
        put_str(&mut b[64..128], &self.set_name);
        put_str(&mut b[128..192], &self.master.id);
        b[192..200].copy_from_slice(&self.master.size.0.to_le_bytes());
        put_str(&mut b[200..264], &self.shadow.id);
        b[264..272].copy_from_slice(&self.shadow.size.0.to_le_bytes());
        let extents = [
            self.layout.slots[0],
            self.layout.slots[1],
            self.layout.disk_log,
            self.layout.era,
        ];
        for (i, e) in extents.iter().enumerate() {
            let at = 272 + 16 * i;
            b[at..at + 8].copy_from_slice(&e.offset.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&e.len.to_le_bytes());
        }
        let crc = crc32c::crc32c(&b);
        b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        Ok(b)
    }

    /// Decodes and checks a header block read at byte `offset` of the device.
    pub fn unpack(block: &[u8], offset: u64) -> Result<Self, FormatError> {
        const WHAT: &str = "bitmap volume header";
        if block.len() < HEADER_BLOCK as usize {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset,
                needed: HEADER_BLOCK,
                available: block.len() as u64,
            });
        }
        let b = &block[..HEADER_BLOCK as usize];
        if b[0..8] != BV_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT,
                offset,
                found: format!("{:02x?}", &b[0..8]),
                expected: format!("{:02x?} (\"DSIMGBV\\0\")", BV_MAGIC),
            });
        }
        let version = le_u32(b, 8);
        if version != BV_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                offset: offset + 8,
                found: version,
                supported: BV_VERSION,
            });
        }
        let stored = le_u32(b, CRC_AT);
        let mut zeroed = b.to_vec();
        zeroed[CRC_AT..CRC_AT + 4].fill(0);
        let computed = crc32c::crc32c(&zeroed);
        if stored != computed {
            return Err(FormatError::BadChecksum {
                what: WHAT,
                offset: offset + CRC_AT as u64,
                stored,
                computed,
            });
        }
        let corrupt =
            |at: usize, detail: String| FormatError::corrupt(WHAT, offset + at as u64, detail);
        let header_size = le_u32(b, 12);
        if !(BV_HEADER_SIZE_V1..=HEADER_BLOCK as u32).contains(&header_size) {
            return Err(corrupt(
                12,
                format!("header size {header_size} is not in 336..=4096"),
            ));
        }
        let set_type = match b[48] {
            1 => SetType::Independent,
            2 => SetType::Dependent,
            t => return Err(corrupt(48, format!("set type {t} is neither 1 nor 2"))),
        };
        let string = |at: usize, field| {
            get_str(&b[at..at + NAME_BYTES], field).map_err(|e| corrupt(at, e.to_string()))
        };
        let extent = |i: usize| Extent {
            offset: le_u64(b, 272 + 16 * i),
            len: le_u64(b, 280 + 16 * i),
        };
        let header = BitmapVolumeHeader {
            set_uuid: b[32..48].try_into().expect("16 bytes"),
            set_type,
            flags: VolumeFlags(le_u32(b, 20)),
            set_name: string(64, "set name")?,
            master: VolumeIdentity {
                id: string(128, "master id")?,
                size: Bytes(le_u64(b, 192)),
            },
            shadow: VolumeIdentity {
                id: string(200, "shadow id")?,
                size: Bytes(le_u64(b, 264)),
            },
            chunk_size: Sectors(u64::from(le_u32(b, 52))),
            generation: le_u64(b, 24),
            active_slot: b[49],
            layout: BitmapVolumeLayout {
                region_size: Sectors(u64::from(le_u32(b, 56))),
                era_block: Sectors(u64::from(le_u32(b, 60))),
                slots: [extent(0), extent(1)],
                disk_log: extent(2),
                era: extent(3),
            },
        };
        header.validate().map_err(|e| corrupt(0, e.to_string()))?;
        Ok(header)
    }
}

/// An open bitmap volume; see the module documentation.
#[derive(Debug)]
pub struct BitmapVolume<D> {
    dev: D,
    header: BitmapVolumeHeader,
}

fn check_device_size<D: BlockDev + ?Sized>(
    dev: &mut D,
    header: &BitmapVolumeHeader,
) -> Result<(), FormatError> {
    let available = blockio::device_size(dev)?;
    let needed = header.layout.total_size().0;
    if available < needed {
        return Err(FormatError::DeviceTooSmall {
            what: "the bitmap volume",
            needed,
            available,
        });
    }
    Ok(())
}

fn sync<D: BlockDev + ?Sized>(dev: &mut D, what: &'static str) -> Result<(), FormatError> {
    dev.sync_data().map_err(|e| FormatError::io(what, 0, e))
}

impl<D: BlockDev> BitmapVolume<D> {
    /// Formats `dev` for the set described by `header` (its generation and active slot are
    /// replaced by 1 and 0): empty bitmap in both slots, both header copies written.
    pub fn format(mut dev: D, mut header: BitmapVolumeHeader) -> Result<Self, FormatError> {
        header.generation = 1;
        header.active_slot = 0;
        let block = header.pack()?;
        check_device_size(&mut dev, &header)?;

        blockio::write_zeroes_at(
            &mut dev,
            0,
            HEADER_COPIES * HEADER_BLOCK,
            "clearing old headers",
        )?;
        sync(&mut dev, "clearing old headers")?;
        let empty = padded(ChunkBitmap::new(header.nr_chunks()).to_bytes());
        for slot in header.layout.slots {
            blockio::write_all_at(&mut dev, slot.offset, &empty, "writing a bitmap slot")?;
        }
        let l = header.layout;
        blockio::write_zeroes_at(
            &mut dev,
            l.disk_log.offset,
            REGION_ALIGN,
            "clearing the disk-log region",
        )?;
        blockio::write_zeroes_at(
            &mut dev,
            l.era.offset,
            REGION_ALIGN,
            "clearing the era region",
        )?;
        sync(&mut dev, "syncing the formatted regions")?;
        for copy in 0..HEADER_COPIES {
            blockio::write_all_at(
                &mut dev,
                copy * HEADER_BLOCK,
                &block,
                "writing a header copy",
            )?;
        }
        sync(&mut dev, "syncing the headers")?;
        Ok(BitmapVolume { dev, header })
    }

    /// Opens a formatted volume: reads both header copies and keeps the valid one with the
    /// higher generation.
    pub fn open(mut dev: D) -> Result<Self, FormatError> {
        let mut copies = Vec::with_capacity(HEADER_COPIES as usize);
        for copy in 0..HEADER_COPIES {
            let offset = copy * HEADER_BLOCK;
            let mut block = vec![0u8; HEADER_BLOCK as usize];
            let parsed =
                blockio::read_exact_at(&mut dev, offset, &mut block, "bitmap volume header")
                    .and_then(|()| BitmapVolumeHeader::unpack(&block, offset));
            copies.push(parsed);
        }
        let mut best: Option<BitmapVolumeHeader> = None;
        for h in copies.iter().flatten() {
            if best.as_ref().is_none_or(|b| h.generation > b.generation) {
                best = Some(h.clone());
            }
        }
        let Some(header) = best else {
            let reasons: Vec<String> = copies
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.as_ref().err().map(|e| format!("copy {i}: {e}")))
                .collect();
            return Err(FormatError::corrupt(
                "bitmap volume",
                0,
                format!("no valid header copy ({})", reasons.join("; ")),
            ));
        };
        check_device_size(&mut dev, &header)?;
        Ok(BitmapVolume { dev, header })
    }

    pub fn header(&self) -> &BitmapVolumeHeader {
        &self.header
    }

    pub fn layout(&self) -> &BitmapVolumeLayout {
        &self.header.layout
    }

    /// Gives the device back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    /// The current bitmap (from the active slot).
    pub fn read_bitmap(&mut self) -> Result<ChunkBitmap, FormatError> {
        self.read_slot(self.header.active_slot)
    }

    /// The bitmap in `slot` (0 or 1), active or not.
    pub fn read_slot(&mut self, slot: u8) -> Result<ChunkBitmap, FormatError> {
        const WHAT: &str = "bitmap slot";
        let extent = *self
            .header
            .layout
            .slots
            .get(usize::from(slot))
            .ok_or_else(|| FormatError::field("slot", format!("{slot} is neither 0 nor 1")))?;
        let mut head = [0u8; BITMAP_HEADER_LEN];
        blockio::read_exact_at(&mut self.dev, extent.offset, &mut head, WHAT)?;
        let total = ChunkBitmap::serialized_len_from_header(&head, extent.offset)?;
        if total > extent.len {
            return Err(FormatError::corrupt(
                WHAT,
                extent.offset,
                format!(
                    "bitmap of {total} bytes does not fit the {}-byte slot {slot}",
                    extent.len
                ),
            ));
        }
        let mut bytes = vec![0u8; total as usize];
        blockio::read_exact_at(&mut self.dev, extent.offset, &mut bytes, WHAT)?;
        let bitmap = ChunkBitmap::from_bytes_at(&bytes, extent.offset)?;
        if bitmap.nr_chunks() != self.header.nr_chunks() {
            return Err(FormatError::corrupt(
                WHAT,
                extent.offset + 12,
                format!(
                    "bitmap covers {} chunks, the master has {}",
                    bitmap.nr_chunks(),
                    self.header.nr_chunks()
                ),
            ));
        }
        Ok(bitmap)
    }

    /// Replaces the persisted bitmap atomically: inactive slot, sync, header, sync.
    pub fn write_bitmap(&mut self, bitmap: &ChunkBitmap) -> Result<(), FormatError> {
        if bitmap.nr_chunks() != self.header.nr_chunks() {
            return Err(FormatError::ChunkCountMismatch {
                left: self.header.nr_chunks(),
                right: bitmap.nr_chunks(),
            });
        }
        let target = 1 - self.header.active_slot;
        let extent = self.header.layout.slots[usize::from(target)];
        let bytes = padded(bitmap.to_bytes());
        if bytes.len() as u64 > extent.len {
            return Err(FormatError::DeviceTooSmall {
                what: "a bitmap slot",
                needed: bytes.len() as u64,
                available: extent.len,
            });
        }
        blockio::write_all_at(
            &mut self.dev,
            extent.offset,
            &bytes,
            "writing a bitmap slot",
        )?;
        sync(&mut self.dev, "syncing a bitmap slot")?;
        let mut next = self.header.clone();
        next.active_slot = target;
        self.commit(next)
    }

    /// Changes descriptive header fields (name, flags, set type, ids, shadow size, uuid).
    /// Changing the layout, chunk size or master size is refused: they fix the meaning of
    /// the stored bitmap. Generation and active slot are managed here.
    pub fn update_header(
        &mut self,
        change: impl FnOnce(&mut BitmapVolumeHeader),
    ) -> Result<(), FormatError> {
        let mut next = self.header.clone();
        change(&mut next);
        if next.layout != self.header.layout
            || next.chunk_size != self.header.chunk_size
            || next.master.size != self.header.master.size
        {
            return Err(FormatError::field(
                "header update",
                "the layout, chunk size and master size cannot change; format a new volume",
            ));
        }
        next.active_slot = self.header.active_slot;
        self.commit(next)
    }

    /// Writes `next` with generation + 1 over the older header copy and syncs.
    fn commit(&mut self, mut next: BitmapVolumeHeader) -> Result<(), FormatError> {
        next.generation = self.header.generation + 1;
        let block = next.pack()?;
        let offset = (next.generation % HEADER_COPIES) * HEADER_BLOCK;
        blockio::write_all_at(&mut self.dev, offset, &block, "writing a header copy")?;
        sync(&mut self.dev, "syncing a header copy")?;
        self.header = next;
        Ok(())
    }
}

impl BitmapVolume<DirectFile> {
    /// Opens the bitmap volume at `path` (read-write, `O_DIRECT`).
    pub fn open_path(path: &Path) -> Result<Self, FormatError> {
        let dev = DirectFile::open(path, true)
            .map_err(|e| FormatError::io("opening the bitmap volume", 0, e))?;
        Self::open(dev)
    }

    /// Formats the bitmap volume at `path` (read-write, `O_DIRECT`).
    pub fn format_path(path: &Path, header: BitmapVolumeHeader) -> Result<Self, FormatError> {
        let dev = DirectFile::open(path, true)
            .map_err(|e| FormatError::io("opening the bitmap volume", 0, e))?;
        Self::format(dev, header)
    }
}

/// Pads to whole 4096-byte blocks so direct I/O needs no read-modify-write.
fn padded(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = round_up(bytes.len() as u64, REGION_ALIGN) as usize;
    bytes.resize(len, 0);
    bytes
}

#[cfg(test)]
mod tests {
    use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

    use super::*;

    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;

    fn header(master: u64) -> BitmapVolumeHeader {
        BitmapVolumeHeader::new(
            *b"0123456789abcdef",
            SetType::Independent,
            "payroll-db",
            VolumeIdentity {
                id: "wwn-0x5000c500a1b2c3d4".into(),
                size: Bytes(master),
            },
            VolumeIdentity {
                id: "lvm-vg0-payroll_shadow".into(),
                size: Bytes(master),
            },
            Sectors(64),
            Sectors(1024),
        )
        .unwrap()
    }

    fn device_for(h: &BitmapVolumeHeader) -> Cursor<Vec<u8>> {
        Cursor::new(vec![0u8; h.layout.total_size().0 as usize])
    }

    /// A device that fails (after writing part of the request) once `budget` bytes have
    /// been written: a crash in the middle of a write.
    struct Failing {
        inner: Cursor<Vec<u8>>,
        budget: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.inner.read(buf)
        }
    }

    impl Seek for Failing {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            self.inner.seek(to)
        }
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::other("simulated crash"));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.inner.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl BlockDev for Failing {
        fn sync_data(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn some_bits(n: u64) -> ChunkBitmap {
        let mut b = ChunkBitmap::new(n);
        b.set_range(10..20).unwrap();
        b.set(n - 1).unwrap();
        b
    }

    #[test]
    fn header_round_trip_and_layout() {
        let mut h = header(GIB);
        h.generation = 7;
        h.active_slot = 1;
        h.flags.insert(VolumeFlags::COPY_ACTIVE);
        let block = h.pack().unwrap();
        assert_eq!(block.len(), 4096);
        assert_eq!(&block[0..8], b"DSIMGBV\0");
        assert_eq!(le_u32(&block, 12), 336);
        assert!(block[336..].iter().all(|&b| b == 0));
        assert_eq!(BitmapVolumeHeader::unpack(&block, 0).unwrap(), h);
        let l = h.layout;
        assert_eq!(l.slots[0].offset, 8192);
        assert_eq!(l.slots[1].offset, l.slots[0].end());
        assert_eq!(l.disk_log.offset, l.slots[1].end());
        assert_eq!(l.era.offset, l.disk_log.end());
    }

    #[test]
    fn every_flipped_header_byte_is_rejected() {
        let block = header(GIB).pack().unwrap();
        for i in (0..block.len()).step_by(7).chain(0..400) {
            let mut bad = block.clone();
            bad[i] ^= 0x10;
            assert!(
                BitmapVolumeHeader::unpack(&bad, 4096).is_err(),
                "flipping byte {i} was accepted"
            );
        }
    }

    #[test]
    fn header_field_limits() {
        let mut h = header(GIB);
        h.set_name = "x".repeat(65);
        assert!(h.pack().unwrap_err().to_string().contains("set name"));
        let mut h = header(GIB);
        h.set_name = "é".repeat(32); // 64 bytes: allowed
        assert_eq!(
            BitmapVolumeHeader::unpack(&h.pack().unwrap(), 0).unwrap(),
            h
        );
        let mut h = header(GIB);
        h.flags = VolumeFlags(1 << 9);
        assert!(h.pack().is_err());
        let mut h = header(GIB);
        h.layout.slots[1].offset = h.layout.slots[0].offset + 4096;
        assert!(h.pack().unwrap_err().to_string().contains("overlap"));
        let mut h = header(GIB);
        h.layout.slots[0].len -= 4096;
        assert!(h.pack().is_err());
        assert!(BitmapVolumeLayout::new(Bytes(GIB), Sectors(64), Sectors(3)).is_err());
        assert!(BitmapVolumeLayout::new(Bytes(GIB), Sectors(48), Sectors(64)).is_err());
    }

    #[test]
    fn format_open_write_read() {
        let h = header(GIB);
        let n = h.nr_chunks();
        assert_eq!(n, 32768);
        let mut vol = BitmapVolume::format(device_for(&h), h.clone()).unwrap();
        assert_eq!(vol.header().generation, 1);
        assert!(vol.read_bitmap().unwrap().is_empty());
        assert!(vol.read_slot(1).unwrap().is_empty());

        let bits = some_bits(n);
        vol.write_bitmap(&bits).unwrap();
        assert_eq!(vol.header().generation, 2);
        assert_eq!(vol.header().active_slot, 1);
        let mut more = bits.clone();
        more.set(5).unwrap();
        vol.write_bitmap(&more).unwrap();
        assert_eq!(vol.header().active_slot, 0);
        vol.update_header(|h| {
            h.set_name = "renamed".into();
            h.flags.insert(VolumeFlags::EXPORTED);
        })
        .unwrap();

        let mut vol = BitmapVolume::open(vol.into_inner()).unwrap();
        assert_eq!(vol.header().generation, 4);
        assert_eq!(vol.header().active_slot, 0);
        assert_eq!(vol.header().set_name, "renamed");
        assert!(vol.header().flags.contains(VolumeFlags::EXPORTED));
        assert_eq!(vol.header().master, h.master);
        assert_eq!(vol.read_bitmap().unwrap(), more);
        assert_eq!(vol.read_slot(1).unwrap(), bits);

        assert!(matches!(
            vol.write_bitmap(&ChunkBitmap::new(n + 1)),
            Err(FormatError::ChunkCountMismatch { .. })
        ));
        assert!(vol
            .update_header(|h| h.layout.era.len += 4096)
            .unwrap_err()
            .to_string()
            .contains("cannot change"));
        // A full bitmap (worst case for most layouts) fits its slot.
        vol.write_bitmap(&ChunkBitmap::full(n)).unwrap();
        assert!(vol.read_bitmap().unwrap().is_full());
    }

    #[test]
    fn torn_header_write_keeps_the_old_state() {
        let h = header(GIB);
        let n = h.nr_chunks();
        let mut vol = BitmapVolume::format(device_for(&h), h).unwrap();
        let old = some_bits(n);
        vol.write_bitmap(&old).unwrap();
        let image = vol.into_inner().into_inner();

        // Crash after the slot and 100 bytes of the next header write, at every budget
        // around that point.
        let slot_bytes = padded(ChunkBitmap::full(n).to_bytes()).len();
        for extra in [0usize, 1, 19, 20, 31, 100, 4095] {
            let dev = Failing {
                inner: Cursor::new(image.clone()),
                budget: 0,
            };
            let mut vol = BitmapVolume::open(dev).unwrap();
            vol.dev.budget = slot_bytes + extra;
            assert!(vol.write_bitmap(&ChunkBitmap::full(n)).is_err());
            let mut back = BitmapVolume::open(vol.into_inner().inner).unwrap();
            // Until the checksum and the generation's low byte (bytes 16..25) have landed the
            // torn copy is invalid and the old state wins; past the last byte that differs
            // from the copy it overwrites, the update has in fact completed.
            let generation = back.header().generation;
            if extra <= 24 {
                assert_eq!(generation, 2, "extra = {extra}");
            }
            let expect = if generation == 2 {
                old.clone()
            } else {
                ChunkBitmap::full(n)
            };
            assert_eq!(back.read_bitmap().unwrap(), expect, "extra = {extra}");
        }

        // A corrupt newest copy: the older, valid one is used.
        let mut bytes = image.clone();
        let newest = (2 % HEADER_COPIES * HEADER_BLOCK) as usize;
        bytes[newest + 70] ^= 1;
        let mut vol = BitmapVolume::open(Cursor::new(bytes)).unwrap();
        assert_eq!(vol.header().generation, 1);
        assert!(vol.read_bitmap().unwrap().is_empty());

        // Both copies corrupt: a clear error naming both.
        let mut bytes = image;
        bytes[70] ^= 1;
        bytes[4096 + 70] ^= 1;
        let err = BitmapVolume::open(Cursor::new(bytes))
            .unwrap_err()
            .to_string();
        assert!(err.contains("copy 0") && err.contains("copy 1"), "{err}");
    }

    #[test]
    fn corrupted_slot_is_detected() {
        let h = header(GIB);
        let n = h.nr_chunks();
        let mut vol = BitmapVolume::format(device_for(&h), h).unwrap();
        vol.write_bitmap(&some_bits(n)).unwrap();
        let slot = vol.layout().slots[1];
        let mut bytes = vol.into_inner().into_inner();
        bytes[slot.offset as usize + 40] ^= 0x04;
        let mut vol = BitmapVolume::open(Cursor::new(bytes)).unwrap();
        let err = vol.read_bitmap().unwrap_err();
        assert!(
            matches!(err, FormatError::BadChecksum { offset, .. } if offset > slot.offset && offset < slot.end())
        );
        // The other slot is still readable on request, but never used silently.
        assert!(vol.read_slot(0).unwrap().is_empty());
    }

    #[test]
    fn too_small_device_is_rejected_with_the_size_needed() {
        let h = header(GIB);
        let need = required_size(Bytes(GIB), Sectors(64)).0;
        assert!(need >= h.layout.total_size().0);
        let short = Cursor::new(vec![0u8; h.layout.total_size().0 as usize - 4096]);
        match BitmapVolume::format(short, h.clone()) {
            Err(FormatError::DeviceTooSmall {
                needed, available, ..
            }) => {
                assert_eq!(needed, h.layout.total_size().0);
                assert_eq!(available, needed - 4096);
            }
            other => panic!("expected DeviceTooSmall, got {other:?}"),
        }
        // A volume that shrank after formatting.
        let vol = BitmapVolume::format(device_for(&h), h.clone()).unwrap();
        let mut bytes = vol.into_inner().into_inner();
        bytes.truncate(bytes.len() - 4096);
        assert!(matches!(
            BitmapVolume::open(Cursor::new(bytes)),
            Err(FormatError::DeviceTooSmall { .. })
        ));
        assert!(BitmapVolume::open(Cursor::new(vec![0u8; 100])).is_err());
    }

    #[test]
    fn size_formulas() {
        assert_eq!(disk_log_bytes(0), 4096);
        assert_eq!(disk_log_bytes(1), 4096);
        assert_eq!(disk_log_bytes(3 * 8 * 1024), 4096);
        assert_eq!(disk_log_bytes(3 * 8 * 1024 + 1), 8192);
        // 1 TiB at 32 KiB: 2^25 chunks in 512 containers.
        let slot = ChunkBitmap::max_serialized_size(1 << 25);
        assert_eq!(slot, 32 + 8 + 12 + 512 * 8200);
        let gib = required_size(Bytes(GIB), Sectors(64)).0;
        let tib = required_size(Bytes(TIB), Sectors(64)).0;
        assert_eq!(required_size(Bytes(TIB), Sectors(48)), Bytes(u64::MAX));
        assert!(try_required_size(Bytes(TIB), Sectors(48)).is_err());
        // 1-sector chunks on 8 TiB: regions are doubled to stay under 2^32.
        assert_eq!(default_region(Bytes(8 * TIB), Sectors(1)), Sectors(8));
        assert!(try_required_size(Bytes(8 * TIB), Sectors(1)).is_ok());
        let l = BitmapVolumeLayout::new(Bytes(TIB), Sectors(64), Sectors(64)).unwrap();
        assert_eq!(
            tib,
            8192 + 2 * round_up(slot, 4096) + disk_log_bytes(1 << 25) + l.era.len
        );
        assert!(era_metadata_bytes(Bytes(TIB), Sectors(64)) < 400 << 20);
        assert!(era_metadata_bytes(Bytes(1 << 60), Sectors(8)) == ERA_METADATA_MAX_BYTES);
        println!("bitmap volume for 1 GiB / 32 KiB: {gib} bytes");
        println!("bitmap volume for 1 TiB / 32 KiB: {tib} bytes");
        println!(
            "  slot {} x2, disk log {}, era {}",
            l.slots[0].len, l.disk_log.len, l.era.len
        );
    }

    #[test]
    fn path_based_open() {
        let h = header(GIB);
        let path = std::env::temp_dir().join(format!("dsimage-bv-{}", std::process::id()));
        std::fs::write(&path, vec![0u8; h.layout.total_size().0 as usize]).unwrap();
        let n = h.nr_chunks();
        {
            let mut vol = BitmapVolume::format_path(&path, h).unwrap();
            vol.write_bitmap(&some_bits(n)).unwrap();
        }
        let mut vol = BitmapVolume::open_path(&path).unwrap();
        assert_eq!(vol.read_bitmap().unwrap(), some_bits(n));
        std::fs::remove_file(&path).unwrap();
    }
}
