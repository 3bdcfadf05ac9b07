//! Reader of the kernel's *dm-era* metadata: which origin blocks were written since a
//! given era, read straight from the metadata device (or a copy of it).
//!
//! dsimage tracks the changes of an independent set with an `era` target (`era <metadata
//! dev> <origin dev> <block size>`). To build its change bitmap the agent reads the era
//! metadata itself; this module owns that: the superblock, the persistent-data B-trees,
//! arrays and bitsets it points to, and the rule that turns them into "blocks written
//! since era E". It never writes.
//!
//! # Sources
//!
//! The format is defined by the kernel: `drivers/md/dm-era-target.c` (superblock, writesets,
//! digestion, metadata snapshots) on top of `drivers/md/persistent-data/`: `dm-btree.c`,
//! `dm-btree-internal.h`, `dm-btree-spine.c` (nodes and their validator), `dm-array.c`
//! (arrays as B-trees of array blocks), `dm-bitset.c` (bitsets as arrays of u64 words),
//! `dm-space-map-common.h` (the space-map root) and `dm-block-manager.c` (checksums).
//! The userland counterpart is `era_dump` / `era_invalidate` from thin-provisioning-tools.
//!
//! # Layout
//!
//! All integers little-endian. The device is a sequence of 4096-byte blocks; every block
//! pointer is a block number. Every block this module reads is checksummed: the first 4
//! bytes hold `crc32c(~0, bytes 4..4096) ^ seed` (the kernel's `dm_bm_checksum`, a CRC-32C
//! register without the final inversion), where the seed depends on the kind of block, and
//! each block records its own location, so a misdirected or stale block is caught too.
//!
//! Superblock (block 0; seed [`SUPERBLOCK_CSUM_XOR`]):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | checksum |
//! | 4 | 4 | flags (the kernel writes 0) |
//! | 8 | 8 | blocknr: the block this superblock lives in |
//! | 16 | 16 | uuid (the kernel writes zeros) |
//! | 32 | 8 | magic [`SUPERBLOCK_MAGIC`] |
//! | 40 | 4 | version, 1 |
//! | 44 | 128 | metadata space-map root: nr_blocks, nr_allocated, bitmap_root, ref_count_root (u64 each), rest zero |
//! | 172 | 4 | data (origin) block size in sectors |
//! | 176 | 4 | metadata block size in sectors, 8 |
//! | 180 | 4 | nr_blocks: origin blocks tracked |
//! | 184 | 4 | current era |
//! | 188 | 4 + 8 | current writeset: nr_bits, bitset root (0 = none) |
//! | 200 | 8 | writeset tree root: B-tree era (u64 key) → writeset (12 bytes: nr_bits, root) |
//! | 208 | 8 | era array root: array of u32, the era each origin block was last written in |
//! | 216 | 8 | metadata snapshot: block of the snapshot superblock, 0 = none |
//!
//! B-tree node (seed [`BTREE_CSUM_XOR`]): a 32-byte header (checksum, flags 1 = internal
//! / 2 = leaf, blocknr u64, nr_entries, max_entries, value_size, padding), then
//! `max_entries` u64 keys, then `max_entries` values of `value_size` bytes. Internal nodes
//! hold u64 child block numbers, keyed by the lowest key below them.
//!
//! Array (`dm-array`): a B-tree mapping array-block index 0, 1, ... to array blocks (seed
//! [`ARRAY_CSUM_XOR`]): a 24-byte header (checksum, max_entries, nr_entries, value_size,
//! blocknr u64) followed by the values. `max_entries = (4096 - 24) / value_size`; every
//! block but the last is full. A *bitset* is an array of u64 words, bit `i` being bit
//! `i % 64` of word `i / 64`.
//!
//! # Eras and what "written since" means
//!
//! The target starts in era 1 (era 0 means "never written"). Writes in the current era
//! set bits in the *current writeset*; the kernel commits a block's bit before it lets the
//! write through. `checkpoint` and `take_metadata_snap` *archive* the current writeset
//! into the writeset tree under the current era and start the next era with an empty
//! writeset; suspending archives it without starting an era, and resuming starts one
//! (archiving first a writeset a crash left behind). Archived writesets are *digested*
//! lazily by the target's worker, oldest first, 100 bits a step: each marked block's
//! era-array entry is set to the writeset's era, then the writeset is removed from the
//! tree. A digest step only reaches the disk with the next commit, so the
//! metadata on disk can hold a half-digested writeset still in the tree.
//!
//! The era of a block is therefore the largest of its era-array value and the eras of
//! the archived writesets marking it, or the current era if the current writeset marks
//! it. [`blocks_written_since`] returns the blocks whose era is `>= era`: the union of the
//! era-array entries `>= era`, the archived writesets with era `>= era` and, read from the
//! live superblock, the current writeset when the current era is `>= era`.
//!
//! `era_invalidate --written-since E` (thin-provisioning-tools) computes the same union
//! *without* the current writeset. The two agree whenever the current writeset is empty:
//! on a snapshot, or on a device that was suspended or removed cleanly (suspending
//! archives the writeset). On an active device, or after a crash, the current writeset
//! holds committed writes of the current era that the kernel archives on the next
//! activation; `era_invalidate` misses them, this reader does not. Bits of a writeset past
//! the origin's current `nr_blocks` (a writeset archived before the origin shrank) are
//! ignored, as the kernel's digestion ignores them.
//!
//! # Metadata snapshots
//!
//! The superblock and the trees change under a live device. `take_metadata_snap` rolls the
//! era over, commits, and copies the superblock to a new block that holds references to the
//! writeset tree and era array of that moment; the live superblock names it in
//! `metadata_snap` until `drop_metadata_snap`. Only the writeset tree root and era array
//! root of the snapshot superblock are guaranteed (the kernel says so): its current writeset
//! is not held and may be reused, so a snapshot read ignores it. It is empty anyway, the era
//! having just rolled over. Reading a live device without a snapshot can see blocks freed
//! and reused mid-read; the checks below then report an error rather than a wrong answer,
//! in the common cases.
//!
//! # Checks
//!
//! Everything the kernel's validators check (location, checksum, magic, version, node
//! sizes) plus: block pointers inside the metadata space map, B-tree keys strictly
//! increasing across the whole tree, all leaves at one depth, no node reached twice, depth
//! at most [`MAX_BTREE_DEPTH`], array indices contiguous and of the expected total length,
//! eras no later than the superblock's current era. Work is bounded by the number of
//! entries, so corrupt metadata gives a [`FormatError`], never a loop or a panic.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::path::Path;

use super::blockio::{self, DirectFile};
use super::FormatError;
use crate::bitmap::ChunkBitmap;
use crate::units::Sectors;

/// Size of every metadata block (`DM_ERA_METADATA_BLOCK_SIZE`).
pub const METADATA_BLOCK_BYTES: u64 = 4096;
/// Block of the live superblock.
pub const SUPERBLOCK_LOCATION: u64 = 0;
/// Superblock magic (`SUPERBLOCK_MAGIC` in `dm-era-target.c`).
pub const SUPERBLOCK_MAGIC: u64 = 2_126_579_579;
/// Checksum seed of the superblock.
pub const SUPERBLOCK_CSUM_XOR: u32 = 146_538_381;
/// Checksum seed of B-tree nodes (`dm-btree-spine.c`).
pub const BTREE_CSUM_XOR: u32 = 121_107;
/// Checksum seed of array blocks (`dm-array.c`).
pub const ARRAY_CSUM_XOR: u32 = 595_846_735;
/// The only metadata version the kernel writes and reads.
pub const METADATA_VERSION: u32 = 1;
/// Smallest origin block size; block sizes are multiples of it (`MIN_BLOCK_SIZE`).
pub const MIN_BLOCK_SECTORS: u64 = 8;
/// Largest `nr_blocks` the kernel accepts (`valid_nr_blocks`: below 2^31).
pub const MAX_NR_BLOCKS: u32 = (1 << 31) - 1;
/// Era-array entries per array block: `(4096 - 24) / 4`.
pub const ERA_ARRAY_ENTRIES_PER_BLOCK: u32 =
    ((METADATA_BLOCK_BYTES as usize - ARRAY_HEADER) / 4) as u32;
/// Writeset bits per bitset array block: `(4096 - 24) / 8` words of 64 bits.
pub const BITSET_BITS_PER_BLOCK: u32 =
    ((METADATA_BLOCK_BYTES as usize - ARRAY_HEADER) / 8 * 64) as u32;
/// Deepest B-tree this reader follows. A full era array (2^31 entries, 2^21 array blocks)
/// needs 4 levels of nodes holding at least a third of their 254 entries; 16 is generous.
pub const MAX_BTREE_DEPTH: usize = 16;

const BLOCK: usize = METADATA_BLOCK_BYTES as usize;
const BTREE_HEADER: usize = 32;
const ARRAY_HEADER: usize = 24;
const INTERNAL_NODE: u32 = 1;
const LEAF_NODE: u32 = 2;
/// `struct writeset_disk`: le32 nr_bits, le64 root, packed.
const WRITESET_DISK_BYTES: usize = 12;

// Superblock field offsets.
const SB_FLAGS: usize = 4;
const SB_BLOCKNR: usize = 8;
const SB_UUID: usize = 16;
const SB_MAGIC: usize = 32;
const SB_VERSION: usize = 40;
const SB_SM_ROOT: usize = 44;
const SB_DATA_BLOCK_SIZE: usize = 172;
const SB_METADATA_BLOCK_SIZE: usize = 176;
const SB_NR_BLOCKS: usize = 180;
const SB_CURRENT_ERA: usize = 184;
const SB_CURRENT_WRITESET: usize = 188;
const SB_WRITESET_TREE_ROOT: usize = 200;
const SB_ERA_ARRAY_ROOT: usize = 208;
const SB_METADATA_SNAP: usize = 216;

const WHAT_SB: &str = "era superblock";
const WHAT_NODE: &str = "era metadata B-tree node";
const WHAT_ARRAY: &str = "era metadata array block";

/// The kernel's `dm_bm_checksum`: CRC-32C of `data` started from `~0` and *not* inverted
/// at the end, XORed with a per-structure seed. Checksums of era metadata blocks cover
/// bytes `4..4096`.
pub fn metadata_checksum(data: &[u8], xor_seed: u32) -> u32 {
    // crc32c::crc32c applies the standard final inversion; undo it.
    !crc32c::crc32c(data) ^ xor_seed
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn block_offset(block: u64) -> u64 {
    block.saturating_mul(METADATA_BLOCK_BYTES)
}

/// Root of the metadata space map, as stored in the superblock (`struct disk_sm_root`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceMapRoot {
    /// Blocks of the metadata device the space map covers; no block pointer may reach it.
    pub nr_blocks: u64,
    /// Blocks in use.
    pub nr_allocated: u64,
    pub bitmap_root: u64,
    pub ref_count_root: u64,
}

/// Where a writeset lives (`struct writeset_disk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritesetRoot {
    /// Bits in the bitset: the origin's `nr_blocks` when the writeset was created.
    pub nr_bits: u32,
    /// Root of the bitset's array B-tree.
    pub root: u64,
}

/// An archived writeset: the blocks written during era `era`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchivedWriteset {
    pub era: u32,
    pub writeset: WritesetRoot,
}

/// A decoded, checked era superblock (the live one or a metadata snapshot's copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraMetadata {
    /// Block this superblock was read from: [`SUPERBLOCK_LOCATION`], or the snapshot's block.
    pub location: u64,
    pub flags: u32,
    pub uuid: [u8; 16],
    pub version: u32,
    pub space_map: SpaceMapRoot,
    /// Origin block size (the target's `<block size>`).
    pub block_size: Sectors,
    /// Metadata block size, always 8 sectors.
    pub metadata_block_size: Sectors,
    /// Origin blocks tracked: `ceil(origin sectors / block_size)`.
    pub nr_blocks: u32,
    pub current_era: u32,
    /// The writeset of the current era; `None` after a clean suspend (it was archived).
    /// Not valid in a snapshot superblock.
    pub current_writeset: Option<WritesetRoot>,
    pub writeset_tree_root: u64,
    pub era_array_root: u64,
    /// Block of the metadata snapshot's superblock, if one is held (live superblock only;
    /// a snapshot's own copy says `None`).
    pub metadata_snap: Option<u64>,
}

impl EraMetadata {
    /// Whether this is a metadata snapshot's superblock rather than the live one.
    pub fn is_snapshot(&self) -> bool {
        self.location != SUPERBLOCK_LOCATION
    }

    /// Decodes and checks the 4096-byte superblock read from block `location`.
    pub fn unpack(block: &[u8], location: u64) -> Result<Self, FormatError> {
        let base = block_offset(location);
        if block.len() != BLOCK {
            return Err(FormatError::Truncated {
                what: WHAT_SB,
                offset: base,
                needed: METADATA_BLOCK_BYTES,
                available: block.len() as u64,
            });
        }
        let magic = le64(block, SB_MAGIC);
        if magic != SUPERBLOCK_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT_SB,
                offset: base + SB_MAGIC as u64,
                found: magic.to_string(),
                expected: SUPERBLOCK_MAGIC.to_string(),
            });
        }
        check_block(block, location, SB_BLOCKNR, SUPERBLOCK_CSUM_XOR, WHAT_SB)?;
        let version = le32(block, SB_VERSION);
        if version != METADATA_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT_SB,
                offset: base + SB_VERSION as u64,
                found: version,
                supported: METADATA_VERSION,
            });
        }
        let corrupt = |field: usize, detail: String| {
            FormatError::corrupt(WHAT_SB, base + field as u64, detail)
        };

        let space_map = SpaceMapRoot {
            nr_blocks: le64(block, SB_SM_ROOT),
            nr_allocated: le64(block, SB_SM_ROOT + 8),
            bitmap_root: le64(block, SB_SM_ROOT + 16),
            ref_count_root: le64(block, SB_SM_ROOT + 24),
        };
        if location >= space_map.nr_blocks || space_map.nr_allocated > space_map.nr_blocks {
            return Err(corrupt(
                SB_SM_ROOT,
                format!(
                    "metadata space map of {} blocks ({} allocated) cannot hold this \
                     superblock at block {location}",
                    space_map.nr_blocks, space_map.nr_allocated
                ),
            ));
        }
        let metadata_block_size = le32(block, SB_METADATA_BLOCK_SIZE);
        if u64::from(metadata_block_size) * 512 != METADATA_BLOCK_BYTES {
            return Err(corrupt(
                SB_METADATA_BLOCK_SIZE,
                format!("metadata block size {metadata_block_size} sectors, the kernel uses 8"),
            ));
        }
        let block_size = le32(block, SB_DATA_BLOCK_SIZE);
        if block_size == 0 || u64::from(block_size) % MIN_BLOCK_SECTORS != 0 {
            return Err(corrupt(
                SB_DATA_BLOCK_SIZE,
                format!(
                    "origin block size {block_size} sectors: the kernel requires a \
                     non-zero multiple of {MIN_BLOCK_SECTORS}"
                ),
            ));
        }
        let nr_blocks = le32(block, SB_NR_BLOCKS);
        if nr_blocks > MAX_NR_BLOCKS {
            return Err(corrupt(
                SB_NR_BLOCKS,
                format!("{nr_blocks} origin blocks, the kernel's limit is {MAX_NR_BLOCKS}"),
            ));
        }
        // A B-tree root is never block 0 (the superblock) and lies inside the space map.
        let check_root = |field: usize, name: &str, root: u64| {
            if root == SUPERBLOCK_LOCATION || root >= space_map.nr_blocks {
                Err(corrupt(
                    field,
                    format!(
                        "{name} root {root} is not a block of the metadata device (1..{})",
                        space_map.nr_blocks
                    ),
                ))
            } else {
                Ok(root)
            }
        };
        let ws_root = le64(block, SB_CURRENT_WRITESET + 4);
        let current_writeset = if ws_root == 0 {
            None
        } else {
            check_root(SB_CURRENT_WRITESET + 4, "current writeset", ws_root)?;
            Some(WritesetRoot {
                nr_bits: le32(block, SB_CURRENT_WRITESET),
                root: ws_root,
            })
        };
        let writeset_tree_root = check_root(
            SB_WRITESET_TREE_ROOT,
            "writeset tree",
            le64(block, SB_WRITESET_TREE_ROOT),
        )?;
        let era_array_root = check_root(
            SB_ERA_ARRAY_ROOT,
            "era array",
            le64(block, SB_ERA_ARRAY_ROOT),
        )?;
        let snap = le64(block, SB_METADATA_SNAP);
        let metadata_snap = if snap == 0 {
            None
        } else {
            Some(check_root(SB_METADATA_SNAP, "metadata snapshot", snap)?)
        };

        Ok(EraMetadata {
            location,
            flags: le32(block, SB_FLAGS),
            uuid: block[SB_UUID..SB_UUID + 16].try_into().expect("16 bytes"),
            version,
            space_map,
            block_size: Sectors(u64::from(block_size)),
            metadata_block_size: Sectors(u64::from(metadata_block_size)),
            nr_blocks,
            current_era: le32(block, SB_CURRENT_ERA),
            current_writeset,
            writeset_tree_root,
            era_array_root,
            metadata_snap,
        })
    }
}

/// Checks a block's checksum (bytes 0..4 over 4..4096) and its self-recorded location.
fn check_block(
    block: &[u8],
    location: u64,
    blocknr_at: usize,
    seed: u32,
    what: &'static str,
) -> Result<(), FormatError> {
    let base = block_offset(location);
    let stored = le32(block, 0);
    let computed = metadata_checksum(&block[4..], seed);
    if stored != computed {
        return Err(FormatError::BadChecksum {
            what,
            offset: base,
            stored,
            computed,
        });
    }
    let recorded = le64(block, blocknr_at);
    if recorded != location {
        return Err(FormatError::corrupt(
            what,
            base + blocknr_at as u64,
            format!("block {location} says it is block {recorded} (a misdirected or stale copy)"),
        ));
    }
    Ok(())
}

/// A checked B-tree node.
struct Node {
    location: u64,
    leaf: bool,
    keys: Vec<u64>,
    /// `keys.len()` values of `value_size` bytes.
    values: Vec<u8>,
    value_size: usize,
    /// Byte offset of value 0 within the block.
    values_at: usize,
}

impl Node {
    fn value(&self, i: usize) -> &[u8] {
        &self.values[i * self.value_size..(i + 1) * self.value_size]
    }

    /// Device byte offset of value `i`, for error messages.
    fn value_offset(&self, i: usize) -> u64 {
        block_offset(self.location) + (self.values_at + i * self.value_size) as u64
    }
}

/// Per-walk state that keeps a corrupt B-tree from looping or reading a node twice.
struct Walk {
    seen: HashSet<u64>,
    last_key: Option<u64>,
    leaf_depth: Option<usize>,
}

/// Called with each leaf entry of a B-tree: the walker, key, value, value's byte offset.
type LeafVisitor<'v, M> = dyn FnMut(&mut M, u64, &[u8], u64) -> Result<(), FormatError> + 'v;
/// Called with each array block: index of its first value, the values, their byte offset.
type ArrayVisitor<'v> = dyn FnMut(u64, &[u8], u64) -> Result<(), FormatError> + 'v;
/// Called with each era-array block: first origin block, the eras.
type EraVisitor<'v> = dyn FnMut(u64, &[u32]) -> Result<(), FormatError> + 'v;

/// The device plus what bounds every pointer on it.
struct Meta<'d, D: ?Sized> {
    dev: &'d mut D,
    /// Blocks the metadata space map covers.
    nr_metadata_blocks: u64,
}

impl<'d, D: Read + Seek + ?Sized> Meta<'d, D> {
    fn new(dev: &'d mut D, md: &EraMetadata) -> Self {
        Meta {
            dev,
            nr_metadata_blocks: md.space_map.nr_blocks,
        }
    }

    /// Reads block `block`, named by a pointer stored at byte `pointer_at`.
    fn read_block(
        &mut self,
        block: u64,
        what: &'static str,
        pointer_at: u64,
    ) -> Result<Vec<u8>, FormatError> {
        if block == SUPERBLOCK_LOCATION || block >= self.nr_metadata_blocks {
            return Err(FormatError::corrupt(
                what,
                pointer_at,
                format!(
                    "pointer to block {block}, outside the metadata blocks 1..{}",
                    self.nr_metadata_blocks
                ),
            ));
        }
        let mut buf = vec![0u8; BLOCK];
        blockio::read_exact_at(self.dev, block_offset(block), &mut buf, what)?;
        Ok(buf)
    }

    /// Reads and checks the B-tree node at `block`; leaves must hold values of
    /// `leaf_value_size` bytes, internal nodes u64 child pointers.
    fn read_node(
        &mut self,
        block: u64,
        leaf_value_size: usize,
        pointer_at: u64,
    ) -> Result<Node, FormatError> {
        let buf = self.read_block(block, WHAT_NODE, pointer_at)?;
        check_block(&buf, block, 8, BTREE_CSUM_XOR, WHAT_NODE)?;
        let base = block_offset(block);
        let corrupt =
            |at: usize, detail: String| FormatError::corrupt(WHAT_NODE, base + at as u64, detail);
        let flags = le32(&buf, 4);
        let leaf = match flags {
            INTERNAL_NODE => false,
            LEAF_NODE => true,
            _ => {
                return Err(corrupt(
                    4,
                    format!("flags {flags:#x}: a node is either internal (1) or a leaf (2)"),
                ))
            }
        };
        let nr_entries = le32(&buf, 16) as usize;
        let max_entries = le32(&buf, 20) as usize;
        let value_size = le32(&buf, 24) as usize;
        let want_size = if leaf { leaf_value_size } else { 8 };
        if value_size != want_size {
            return Err(corrupt(
                24,
                format!(
                    "{} value size {value_size}, this tree stores {want_size}-byte values",
                    if leaf { "leaf" } else { "internal node" }
                ),
            ));
        }
        // The kernel's own check: header + keys + values must fit the block.
        if BTREE_HEADER + (8 + value_size) * max_entries > BLOCK {
            return Err(corrupt(
                20,
                format!("max_entries {max_entries} of {value_size}-byte values overflow the block"),
            ));
        }
        if nr_entries > max_entries {
            return Err(corrupt(
                16,
                format!("{nr_entries} entries, more than max_entries {max_entries}"),
            ));
        }
        let keys: Vec<u64> = (0..nr_entries)
            .map(|i| le64(&buf, BTREE_HEADER + 8 * i))
            .collect();
        if let Some(i) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(corrupt(
                BTREE_HEADER + 8 * (i + 1),
                format!(
                    "key {} follows key {}: keys must increase",
                    keys[i + 1],
                    keys[i]
                ),
            ));
        }
        let values_at = BTREE_HEADER + 8 * max_entries;
        let values = buf[values_at..values_at + nr_entries * value_size].to_vec();
        Ok(Node {
            location: block,
            leaf,
            keys,
            values,
            value_size,
            values_at,
        })
    }

    /// Calls `visit(self, key, value, value byte offset)` for every leaf entry of the
    /// single-level B-tree at `root`, in key order.
    fn walk_btree(
        &mut self,
        root: u64,
        leaf_value_size: usize,
        pointer_at: u64,
        visit: &mut LeafVisitor<'_, Self>,
    ) -> Result<(), FormatError> {
        let mut walk = Walk {
            seen: HashSet::new(),
            last_key: None,
            leaf_depth: None,
        };
        self.walk_node(root, leaf_value_size, pointer_at, 0, &mut walk, visit)
    }

    fn walk_node(
        &mut self,
        block: u64,
        leaf_value_size: usize,
        pointer_at: u64,
        depth: usize,
        walk: &mut Walk,
        visit: &mut LeafVisitor<'_, Self>,
    ) -> Result<(), FormatError> {
        if depth >= MAX_BTREE_DEPTH {
            return Err(FormatError::corrupt(
                WHAT_NODE,
                pointer_at,
                format!("B-tree deeper than {MAX_BTREE_DEPTH} levels at block {block}"),
            ));
        }
        if !walk.seen.insert(block) {
            return Err(FormatError::corrupt(
                WHAT_NODE,
                pointer_at,
                format!("block {block} is reached twice in one B-tree (a cycle or shared node)"),
            ));
        }
        let node = self.read_node(block, leaf_value_size, pointer_at)?;
        let base = block_offset(block);
        if !node.leaf {
            for i in 0..node.keys.len() {
                let child = le64(node.value(i), 0);
                self.walk_node(
                    child,
                    leaf_value_size,
                    node.value_offset(i),
                    depth + 1,
                    walk,
                    visit,
                )?;
            }
            return Ok(());
        }
        if *walk.leaf_depth.get_or_insert(depth) != depth {
            return Err(FormatError::corrupt(
                WHAT_NODE,
                base,
                format!(
                    "leaf at depth {depth}, other leaves are at depth {}",
                    walk.leaf_depth.unwrap_or_default()
                ),
            ));
        }
        // Keys increase within a node (checked when it was read) and from leaf to leaf;
        // that is the invariant of a valid tree whatever the internal keys say.
        if let (Some(&first), Some(last)) = (node.keys.first(), walk.last_key) {
            if first <= last {
                return Err(FormatError::corrupt(
                    WHAT_NODE,
                    base + BTREE_HEADER as u64,
                    format!("first key {first} is not above key {last} of the leaf before"),
                ));
            }
        }
        for (i, &key) in node.keys.iter().enumerate() {
            visit(self, key, node.value(i), node.value_offset(i))?;
        }
        walk.last_key = node.keys.last().copied().or(walk.last_key);
        Ok(())
    }

    /// Calls `visit(index of the first value, values, their byte offset)` for every block
    /// of the `dm-array` at `root`, which must hold exactly `expected_len` values of
    /// `value_size` bytes.
    fn walk_array(
        &mut self,
        root: u64,
        value_size: usize,
        expected_len: u64,
        pointer_at: u64,
        visit: &mut ArrayVisitor<'_>,
    ) -> Result<(), FormatError> {
        let max_entries = ((BLOCK - ARRAY_HEADER) / value_size) as u64;
        let mut next_index = 0u64;
        let mut len = 0u64;
        let mut short_block: Option<u64> = None;
        self.walk_btree(root, 8, pointer_at, &mut |meta, key, value, value_at| {
            if key != next_index {
                return Err(FormatError::corrupt(
                    WHAT_NODE,
                    value_at,
                    format!("array block index {key} where index {next_index} was due"),
                ));
            }
            if let Some(b) = short_block {
                return Err(FormatError::corrupt(
                    WHAT_ARRAY,
                    block_offset(b),
                    "an array block that is not full is followed by another",
                ));
            }
            let block = le64(value, 0);
            let buf = meta.read_block(block, WHAT_ARRAY, value_at)?;
            check_block(&buf, block, 16, ARRAY_CSUM_XOR, WHAT_ARRAY)?;
            let base = block_offset(block);
            let (max, nr, vsize) = (
                u64::from(le32(&buf, 4)),
                u64::from(le32(&buf, 8)),
                le32(&buf, 12) as usize,
            );
            if vsize != value_size || max != max_entries {
                return Err(FormatError::corrupt(
                    WHAT_ARRAY,
                    base + 4,
                    format!(
                        "max_entries {max}, value size {vsize}; this array has \
                         {max_entries} entries of {value_size} bytes per block"
                    ),
                ));
            }
            if nr == 0 || nr > max {
                return Err(FormatError::corrupt(
                    WHAT_ARRAY,
                    base + 8,
                    format!("{nr} entries in a block of at most {max}"),
                ));
            }
            if len + nr > expected_len {
                return Err(FormatError::corrupt(
                    WHAT_ARRAY,
                    base + 8,
                    format!(
                        "the array holds more than the {expected_len} entries its owner \
                         records"
                    ),
                ));
            }
            if nr < max {
                short_block = Some(block);
            }
            let values = &buf[ARRAY_HEADER..ARRAY_HEADER + nr as usize * value_size];
            visit(len, values, base + ARRAY_HEADER as u64)?;
            len += nr;
            next_index += 1;
            Ok(())
        })?;
        if len != expected_len {
            return Err(FormatError::corrupt(
                WHAT_ARRAY,
                pointer_at,
                format!("the array at block {root} holds {len} entries, its owner records {expected_len}"),
            ));
        }
        Ok(())
    }

    /// The archived writesets, by era.
    fn archived_writesets(
        &mut self,
        md: &EraMetadata,
    ) -> Result<Vec<ArchivedWriteset>, FormatError> {
        let mut out = Vec::new();
        let current_era = md.current_era;
        let pointer_at = block_offset(md.location) + SB_WRITESET_TREE_ROOT as u64;
        let nr_metadata_blocks = self.nr_metadata_blocks;
        self.walk_btree(
            md.writeset_tree_root,
            WRITESET_DISK_BYTES,
            pointer_at,
            &mut |_, key, value, value_at| {
                // Archiving happens under the current era, digestion never adds eras.
                if key > u64::from(current_era) {
                    return Err(FormatError::corrupt(
                        WHAT_NODE,
                        value_at,
                        format!("writeset of era {key}, after the current era {current_era}"),
                    ));
                }
                let nr_bits = le32(value, 0);
                let root = le64(value, 4);
                if root == SUPERBLOCK_LOCATION
                    || root >= nr_metadata_blocks
                    || nr_bits > MAX_NR_BLOCKS
                {
                    return Err(FormatError::corrupt(
                        WHAT_NODE,
                        value_at,
                        format!("writeset of era {key}: {nr_bits} bits at block {root}"),
                    ));
                }
                out.push(ArchivedWriteset {
                    era: key as u32,
                    writeset: WritesetRoot { nr_bits, root },
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Adds the bits of writeset `ws` below `nr_blocks` to `runs`.
    fn read_writeset(
        &mut self,
        ws: &WritesetRoot,
        nr_blocks: u32,
        pointer_at: u64,
        runs: &mut Runs<'_>,
    ) -> Result<(), FormatError> {
        let limit = u64::from(ws.nr_bits.min(nr_blocks));
        let words = u64::from(ws.nr_bits).div_ceil(64);
        self.walk_array(ws.root, 8, words, pointer_at, &mut |first, values, _| {
            for (k, word) in values.chunks_exact(8).enumerate() {
                let mut w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                let base = (first + k as u64) * 64;
                while w != 0 {
                    let bit = u64::from(w.trailing_zeros());
                    let index = base + bit;
                    if index >= limit {
                        break;
                    }
                    runs.add(index)?;
                    w &= w - 1;
                }
            }
            Ok(())
        })
    }

    /// Calls `visit(first block, eras)` for the era array, checking every era against
    /// the superblock's current era.
    fn walk_era_array(
        &mut self,
        md: &EraMetadata,
        visit: &mut EraVisitor<'_>,
    ) -> Result<(), FormatError> {
        let pointer_at = block_offset(md.location) + SB_ERA_ARRAY_ROOT as u64;
        let mut eras = Vec::with_capacity(ERA_ARRAY_ENTRIES_PER_BLOCK as usize);
        self.walk_array(
            md.era_array_root,
            4,
            u64::from(md.nr_blocks),
            pointer_at,
            &mut |first, values, values_at| {
                eras.clear();
                eras.extend(values.chunks_exact(4).map(|v| le32(v, 0)));
                if let Some(k) = eras.iter().position(|&e| e > md.current_era) {
                    return Err(FormatError::corrupt(
                        WHAT_ARRAY,
                        values_at + 4 * k as u64,
                        format!(
                            "origin block {} has era {}, after the current era {}",
                            first + k as u64,
                            eras[k],
                            md.current_era
                        ),
                    ));
                }
                visit(first, &eras)
            },
        )
    }
}

/// Collects ascending-or-not block numbers into a bitmap a run at a time.
struct Runs<'b> {
    bitmap: &'b mut ChunkBitmap,
    run: Option<(u64, u64)>,
}

impl<'b> Runs<'b> {
    fn new(bitmap: &'b mut ChunkBitmap) -> Self {
        Runs { bitmap, run: None }
    }

    fn add(&mut self, index: u64) -> Result<(), FormatError> {
        match &mut self.run {
            Some((_, end)) if *end == index => *end += 1,
            _ => {
                self.flush()?;
                self.run = Some((index, index + 1));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), FormatError> {
        if let Some((start, end)) = self.run.take() {
            self.bitmap.set_range(start..end)?;
        }
        Ok(())
    }
}

/// Reads and checks the superblock at block `location` (the live one is at
/// [`SUPERBLOCK_LOCATION`]).
pub fn read_superblock_at<D: Read + Seek + ?Sized>(
    dev: &mut D,
    location: u64,
) -> Result<EraMetadata, FormatError> {
    let mut buf = vec![0u8; BLOCK];
    blockio::read_exact_at(dev, block_offset(location), &mut buf, WHAT_SB)?;
    EraMetadata::unpack(&buf, location)
}

/// Reads and checks the live superblock.
pub fn read_superblock<D: Read + Seek + ?Sized>(dev: &mut D) -> Result<EraMetadata, FormatError> {
    read_superblock_at(dev, SUPERBLOCK_LOCATION)
}

/// Reads the superblock of the metadata snapshot the live superblock names; an error if
/// none is held.
pub fn read_snapshot_superblock<D: Read + Seek + ?Sized>(
    dev: &mut D,
) -> Result<EraMetadata, FormatError> {
    let live = read_superblock(dev)?;
    let Some(snap) = live.metadata_snap else {
        return Err(FormatError::field(
            "metadata_snap",
            "the era superblock holds no metadata snapshot \
             (send the target a take_metadata_snap message first)",
        ));
    };
    let md = read_superblock_at(dev, snap)?;
    if md.block_size != live.block_size {
        return Err(FormatError::corrupt(
            WHAT_SB,
            block_offset(snap) + SB_DATA_BLOCK_SIZE as u64,
            format!(
                "snapshot block size {} sectors, the live superblock says {}",
                md.block_size, live.block_size
            ),
        ));
    }
    Ok(md)
}

/// The live or snapshot superblock.
fn superblock_for<D: Read + Seek + ?Sized>(
    dev: &mut D,
    read_from_snapshot: bool,
) -> Result<EraMetadata, FormatError> {
    if read_from_snapshot {
        read_snapshot_superblock(dev)
    } else {
        read_superblock(dev)
    }
}

/// The archived writesets of `md`'s writeset tree, in era order.
pub fn archived_writesets<D: Read + Seek + ?Sized>(
    dev: &mut D,
    md: &EraMetadata,
) -> Result<Vec<ArchivedWriteset>, FormatError> {
    Meta::new(dev, md).archived_writesets(md)
}

/// The blocks marked in writeset `ws` (archived or current), over `md.nr_blocks` blocks.
pub fn writeset_bits<D: Read + Seek + ?Sized>(
    dev: &mut D,
    md: &EraMetadata,
    ws: &WritesetRoot,
) -> Result<ChunkBitmap, FormatError> {
    let mut bitmap = ChunkBitmap::new(u64::from(md.nr_blocks));
    let mut runs = Runs::new(&mut bitmap);
    Meta::new(dev, md).read_writeset(ws, md.nr_blocks, block_offset(md.location), &mut runs)?;
    runs.flush()?;
    Ok(bitmap)
}

/// The era array of `md`: for each origin block the era it was last written in *as far
/// as digestion got* (0 = never); see the module documentation. 4 bytes per origin block.
pub fn era_array<D: Read + Seek + ?Sized>(
    dev: &mut D,
    md: &EraMetadata,
) -> Result<Vec<u32>, FormatError> {
    let mut out = Vec::with_capacity(md.nr_blocks as usize);
    Meta::new(dev, md).walk_era_array(md, &mut |_, eras| {
        out.extend_from_slice(eras);
        Ok(())
    })?;
    Ok(out)
}

/// The origin blocks written in era `era` or later, per the superblock `md` (live or
/// snapshot), as a bitmap over `md.nr_blocks` blocks of `md.block_size` sectors; see the
/// module documentation for the rule. Era 0 gives every block.
///
/// `era_invalidate`'s answer, which leaves out the current writeset, is this function on
/// `EraMetadata { current_writeset: None, ..md }`.
pub fn blocks_written_since_in<D: Read + Seek + ?Sized>(
    dev: &mut D,
    md: &EraMetadata,
    era: u32,
) -> Result<ChunkBitmap, FormatError> {
    let mut bitmap = ChunkBitmap::new(u64::from(md.nr_blocks));
    let mut runs = Runs::new(&mut bitmap);
    let mut meta = Meta::new(dev, md);

    meta.walk_era_array(md, &mut |first, eras| {
        for (k, &e) in eras.iter().enumerate() {
            if e >= era {
                runs.add(first + k as u64)?;
            }
        }
        Ok(())
    })?;

    // Writesets are read whole even when their era is too old: reading checks them, and
    // dsimage wants corrupt metadata reported rather than half-used.
    let tree_at = block_offset(md.location) + SB_WRITESET_TREE_ROOT as u64;
    for ws in meta.archived_writesets(md)? {
        if ws.era >= era {
            meta.read_writeset(&ws.writeset, md.nr_blocks, tree_at, &mut runs)?;
        }
    }

    // The snapshot's current writeset is not held by the snapshot (and empty).
    if !md.is_snapshot() && md.current_era >= era {
        if let Some(ws) = &md.current_writeset {
            let at = block_offset(md.location) + SB_CURRENT_WRITESET as u64;
            meta.read_writeset(ws, md.nr_blocks, at, &mut runs)?;
        }
    }
    runs.flush()?;
    Ok(bitmap)
}

/// The origin blocks written in era `era` or later, read through the live superblock or,
/// with `read_from_snapshot`, through the metadata snapshot (the way to read a device
/// that is in use: send `take_metadata_snap` first, `drop_metadata_snap` after).
pub fn blocks_written_since<D: Read + Seek + ?Sized>(
    dev: &mut D,
    era: u32,
    read_from_snapshot: bool,
) -> Result<ChunkBitmap, FormatError> {
    let md = superblock_for(dev, read_from_snapshot)?;
    blocks_written_since_in(dev, &md, era)
}

fn open_path(path: &Path) -> Result<DirectFile, FormatError> {
    DirectFile::open(path, false)
        .map_err(|e| FormatError::io("opening the era metadata device", 0, e))
}

/// [`read_superblock`] (or [`read_snapshot_superblock`]) on a device or image opened with
/// `O_DIRECT`: the kernel writes era metadata through dm-bufio, below the page cache of
/// the device node, so buffered reads could return stale blocks.
pub fn read_superblock_path(
    path: &Path,
    read_from_snapshot: bool,
) -> Result<EraMetadata, FormatError> {
    superblock_for(&mut open_path(path)?, read_from_snapshot)
}

/// [`blocks_written_since`] through the live superblock of metadata the kernel is using,
/// without a metadata snapshot (which costs a commit and starts a new era): dm-era
/// commits a block's writeset bit before it lets the block's first write of an era
/// through, and blocks the committed transaction uses are not reused before the next
/// commit, so a read that finds the same superblock before and after saw one committed
/// transaction. `None` when `tries` reads all raced a commit (read a snapshot then).
pub fn blocks_written_since_live_path(
    path: &Path,
    era: u32,
    tries: u32,
) -> Result<Option<ChunkBitmap>, FormatError> {
    let mut dev = open_path(path)?;
    for _ in 0..tries {
        let before = read_superblock(&mut dev)?;
        let Ok(bits) = blocks_written_since_in(&mut dev, &before, era) else {
            continue;
        };
        if read_superblock(&mut dev)? == before {
            return Ok(Some(bits));
        }
    }
    Ok(None)
}

/// [`blocks_written_since`] on a device or image opened with `O_DIRECT`.
pub fn blocks_written_since_path(
    path: &Path,
    era: u32,
    read_from_snapshot: bool,
) -> Result<ChunkBitmap, FormatError> {
    blocks_written_since(&mut open_path(path)?, era, read_from_snapshot)
}
