//! The kernel's mirror *disk* dirty-region log (`drivers/md/dm-log.c`), built and read
//! here so that the agent decides which regions a kernel copy moves.
//!
//! Layout on the log device (all little-endian):
//!
//! | offset | content |
//! |---|---|
//! | 0 | u32 magic `0x4D695272` ("MiRr"), u32 version 2, u64 nr_regions |
//! | 1024 (sector 2) | clean bits: bit *i* (byte i / 8, bit i % 8) set = region *i* in sync |
//!
//! The bits are kept in 32-bit words by the kernel, so their length is rounded up to
//! 4 bytes; the whole log is written in 4096-byte blocks.
//!
//! With the default sync mode (neither `sync` nor `nosync` in the table), a log whose
//! header matches the table's region count is taken as it is: regions marked clean are
//! not copied, so writing the log before loading the mirror table is how an update
//! copies only the changed regions (verified on the kernel, `docs/kernel-findings.md`).
//! A missing or different header makes the kernel treat every region as out of sync.

use std::io::{Read, Seek, SeekFrom};

use super::{BlockDev, FormatError};
use crate::bitmap::ChunkBitmap;

pub const MIRROR_MAGIC: u32 = 0x4D69_5272;
pub const MIRROR_DISK_VERSION: u32 = 2;
/// Byte offset of the clean bits (the kernel's `LOG_OFFSET`, 2 sectors).
pub const CLEAN_BITS_OFFSET: usize = 1024;
const BLOCK: usize = 4096;
const WHAT: &str = "mirror disk log";

/// A disk log: which regions are in sync.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskLog {
    /// Set bit = region in sync (the kernel's "clean" bit).
    clean: ChunkBitmap,
}

impl DiskLog {
    /// A log that makes the kernel copy exactly the regions in `to_copy`.
    pub fn copying(to_copy: &ChunkBitmap) -> DiskLog {
        let mut clean = ChunkBitmap::full(to_copy.nr_chunks());
        for r in to_copy.iter() {
            // In range by construction: both bitmaps have the same size.
            let _ = clean.clear(r);
        }
        DiskLog { clean }
    }

    pub fn nr_regions(&self) -> u64 {
        self.clean.nr_chunks()
    }

    /// Regions not yet in sync.
    pub fn dirty(&self) -> ChunkBitmap {
        let mut dirty = ChunkBitmap::full(self.nr_regions());
        for r in self.clean.iter() {
            let _ = dirty.clear(r);
        }
        dirty
    }

    /// Bytes the log occupies on its device for `nr_regions` (whole 4096-byte blocks).
    pub fn device_bytes(nr_regions: u64) -> u64 {
        let bits = nr_regions.div_ceil(32) * 4;
        (CLEAN_BITS_OFFSET as u64 + bits).div_ceil(BLOCK as u64) * BLOCK as u64
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.nr_regions();
        let mut buf = vec![0u8; Self::device_bytes(n) as usize];
        buf[0..4].copy_from_slice(&MIRROR_MAGIC.to_le_bytes());
        buf[4..8].copy_from_slice(&MIRROR_DISK_VERSION.to_le_bytes());
        buf[8..16].copy_from_slice(&n.to_le_bytes());
        for r in self.clean.iter() {
            buf[CLEAN_BITS_OFFSET + (r / 8) as usize] |= 1 << (r % 8);
        }
        buf
    }

    /// Parses a log; `Ok(None)` for a device the kernel has not formatted (magic 0).
    pub fn from_bytes(buf: &[u8]) -> Result<Option<DiskLog>, FormatError> {
        let truncated = |needed: usize| FormatError::Truncated {
            what: WHAT,
            offset: 0,
            needed: needed as u64,
            available: buf.len() as u64,
        };
        if buf.len() < 16 {
            return Err(truncated(16));
        }
        let magic = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
        if magic == 0 {
            return Ok(None);
        }
        if magic != MIRROR_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT,
                offset: 0,
                found: format!("{magic:#010x}"),
                expected: format!("{MIRROR_MAGIC:#010x}"),
            });
        }
        let version = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
        if version != MIRROR_DISK_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                offset: 4,
                found: version,
                supported: MIRROR_DISK_VERSION,
            });
        }
        let n = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
        if n > u64::from(u32::MAX) {
            return Err(FormatError::Corrupt {
                what: WHAT,
                offset: 8,
                detail: format!("{n} regions (the kernel allows at most 2^32 - 1)"),
            });
        }
        let need = CLEAN_BITS_OFFSET + n.div_ceil(8) as usize;
        if buf.len() < need {
            return Err(truncated(need));
        }
        let mut clean = ChunkBitmap::new(n);
        for r in 0..n {
            if buf[CLEAN_BITS_OFFSET + (r / 8) as usize] & (1 << (r % 8)) != 0 {
                let _ = clean.set(r);
            }
        }
        Ok(Some(DiskLog { clean }))
    }

    /// Writes the log at `offset` of `dev` and waits until it is durable.
    pub fn write_to<D: BlockDev + ?Sized>(
        &self,
        dev: &mut D,
        offset: u64,
    ) -> Result<(), FormatError> {
        let io = |e| FormatError::io("writing the mirror disk log", offset, e);
        dev.seek(SeekFrom::Start(offset)).map_err(io)?;
        dev.write_all(&self.to_bytes()).map_err(io)?;
        dev.sync_data().map_err(io)
    }

    /// Reads a log of (up to) `nr_regions` at `offset` of `dev`.
    pub fn read_from<D: Read + Seek + ?Sized>(
        dev: &mut D,
        offset: u64,
        nr_regions: u64,
    ) -> Result<Option<DiskLog>, FormatError> {
        let io = |e| FormatError::io("reading the mirror disk log", offset, e);
        let mut buf = vec![0u8; Self::device_bytes(nr_regions) as usize];
        dev.seek(SeekFrom::Start(offset)).map_err(io)?;
        dev.read_exact(&mut buf).map_err(io)?;
        Self::from_bytes(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn regions(n: u64, set: &[u64]) -> ChunkBitmap {
        let mut b = ChunkBitmap::new(n);
        for r in set {
            b.set(*r).unwrap();
        }
        b
    }

    #[test]
    fn layout_matches_the_kernel() {
        // 2048 regions, all clean but 10 and 11: the bytes written by hand in the
        // kernel experiment of docs/kernel-findings.md.
        let log = DiskLog::copying(&regions(2048, &[10, 11]));
        let b = log.to_bytes();
        assert_eq!(b.len(), 4096);
        assert_eq!(
            &b[0..16],
            b"\x72\x52\x69\x4d\x02\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(b[1024], 0xff);
        assert_eq!(b[1025], 0xf3);
        assert!(b[1026..1024 + 256].iter().all(|x| *x == 0xff));
        assert!(b[1024 + 256..].iter().all(|x| *x == 0));
    }

    #[test]
    fn round_trips_and_reports_dirty_regions() {
        for n in [1, 31, 32, 33, 64, 1000, 40000] {
            let want: Vec<u64> = (0..n).filter(|r| r % 7 == 3).collect();
            let log = DiskLog::copying(&regions(n, &want));
            let back = DiskLog::from_bytes(&log.to_bytes()).unwrap().unwrap();
            assert_eq!(back, log);
            assert_eq!(back.dirty().iter().collect::<Vec<_>>(), want);
            let mut dev = Cursor::new(vec![0u8; 8192 + DiskLog::device_bytes(n) as usize]);
            log.write_to(&mut dev, 8192).unwrap();
            assert_eq!(DiskLog::read_from(&mut dev, 8192, n).unwrap().unwrap(), log);
        }
    }

    #[test]
    fn device_size_rounds_to_words_and_blocks() {
        assert_eq!(DiskLog::device_bytes(1), 4096);
        assert_eq!(DiskLog::device_bytes(3072 * 8), 4096);
        assert_eq!(DiskLog::device_bytes(3072 * 8 + 1), 8192);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(DiskLog::from_bytes(&[0u8; 4096]).unwrap(), None);
        let mut b = DiskLog::copying(&regions(64, &[1])).to_bytes();
        b[0] ^= 1;
        assert!(matches!(
            DiskLog::from_bytes(&b),
            Err(FormatError::BadMagic { .. })
        ));
        let mut b = DiskLog::copying(&regions(64, &[1])).to_bytes();
        b[4] = 3;
        assert!(matches!(
            DiskLog::from_bytes(&b),
            Err(FormatError::UnsupportedVersion { .. })
        ));
        let b = DiskLog::copying(&regions(100_000, &[1])).to_bytes();
        assert!(matches!(
            DiskLog::from_bytes(&b[..2048]),
            Err(FormatError::Truncated { .. })
        ));
    }
}
