//! The chunk bitmap: one bit per chunk of a master volume, set when the chunk differs
//! between master and shadow (changed since the split, or not yet copied).
//!
//! It is a [`RoaringTreemap`] (compressed, u64 positions) plus the number of chunks it
//! covers, so no bit can be set past the end of the volume and two bitmaps of different
//! volumes cannot be combined by mistake.
//!
//! # Serialisation (version 1)
//!
//! All integers little-endian; offsets in bytes from the start of the serialisation.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"DSIBMAP\0"` |
//! | 8 | 4 | format version, `1` |
//! | 12 | 8 | `nr_chunks`: chunks covered; every set bit is `< nr_chunks` |
//! | 20 | 8 | `payload_len`: length of the payload in bytes |
//! | 28 | `payload_len` | the bits, in Roaring's portable 64-bit ("treemap") serialisation: le u64 count of 32-bit buckets, then per bucket a le u32 high half and a standard 32-bit Roaring bitmap |
//! | 28 + `payload_len` | 4 | CRC-32C (Castagnoli) of bytes `0 .. 28 + payload_len` |
//!
//! The encoding is self-delimiting (`28 + payload_len + 4` bytes) and self-checking, so it
//! can sit in a larger slot; [`ChunkBitmap::max_serialized_size`] bounds it for a given
//! chunk count, which is how bitmap-volume slots are sized.

use std::ops::Range;

use roaring::RoaringTreemap;

use crate::ondisk::FormatError;
use crate::units::{Bytes, Sectors};

/// First 8 bytes of a serialised bitmap.
pub const BITMAP_MAGIC: [u8; 8] = *b"DSIBMAP\0";
/// Serialisation version written by this build.
pub const BITMAP_VERSION: u32 = 1;
/// Bytes before the payload: magic, version, `nr_chunks`, `payload_len`.
pub const BITMAP_HEADER_LEN: usize = 28;
/// Bytes after the payload: the CRC-32C.
pub const BITMAP_TRAILER_LEN: usize = 4;

/// Chunks per standard Roaring container (the low 16 bits of a position).
const CONTAINER_SPAN: u64 = 1 << 16;
/// Positions per 32-bit bucket of the treemap.
const BUCKET_SPAN: u64 = 1 << 32;
/// Largest serialised container: a 1024-word bitset, or an array of at most 4096 u16.
const MAX_CONTAINER_BYTES: u64 = 8192;

/// One bit per chunk; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkBitmap {
    nr_chunks: u64,
    bits: RoaringTreemap,
}

impl ChunkBitmap {
    /// An empty bitmap over `nr_chunks` chunks.
    pub fn new(nr_chunks: u64) -> Self {
        ChunkBitmap {
            nr_chunks,
            bits: RoaringTreemap::new(),
        }
    }

    /// A bitmap over `nr_chunks` chunks with every bit set (e.g. "copy everything").
    pub fn full(nr_chunks: u64) -> Self {
        let mut bits = RoaringTreemap::new();
        bits.insert_range(0..nr_chunks);
        ChunkBitmap { nr_chunks, bits }
    }

    /// Number of chunks of `chunk` sectors needed to cover `size` bytes (the last one may be
    /// partial, as device-mapper's snapshot and era targets count them).
    pub fn chunks_for(size: Bytes, chunk: Sectors) -> Result<u64, FormatError> {
        if chunk.0 == 0 {
            return Err(FormatError::InvalidChunkSize {
                sectors: 0,
                reason: "a chunk cannot be empty",
            });
        }
        let chunk_bytes = chunk
            .0
            .checked_mul(512)
            .ok_or(FormatError::InvalidChunkSize {
                sectors: chunk.0,
                reason: "chunk size in bytes overflows 64 bits",
            })?;
        Ok(size.0.div_ceil(chunk_bytes))
    }

    /// Number of chunks covered.
    pub fn nr_chunks(&self) -> u64 {
        self.nr_chunks
    }

    fn check(&self, chunk: u64) -> Result<(), FormatError> {
        if chunk < self.nr_chunks {
            Ok(())
        } else {
            Err(FormatError::ChunkOutOfRange {
                chunk,
                nr_chunks: self.nr_chunks,
            })
        }
    }

    fn check_range(&self, range: &Range<u64>) -> Result<(), FormatError> {
        if range.start < range.end && range.end > self.nr_chunks {
            return Err(FormatError::ChunkOutOfRange {
                chunk: range.end - 1,
                nr_chunks: self.nr_chunks,
            });
        }
        Ok(())
    }

    /// Sets the bit of `chunk`; returns whether it was clear before.
    pub fn set(&mut self, chunk: u64) -> Result<bool, FormatError> {
        self.check(chunk)?;
        Ok(self.bits.insert(chunk))
    }

    /// Sets the bits of `range` (an empty or reversed range sets nothing); returns how many
    /// were clear before.
    pub fn set_range(&mut self, range: Range<u64>) -> Result<u64, FormatError> {
        self.check_range(&range)?;
        Ok(self.bits.insert_range(range))
    }

    /// Clears the bit of `chunk`; returns whether it was set before.
    pub fn clear(&mut self, chunk: u64) -> Result<bool, FormatError> {
        self.check(chunk)?;
        Ok(self.bits.remove(chunk))
    }

    /// Clears the bits of `range`; returns how many were set before.
    pub fn clear_range(&mut self, range: Range<u64>) -> Result<u64, FormatError> {
        self.check_range(&range)?;
        Ok(self.bits.remove_range(range))
    }

    /// Whether the bit of `chunk` is set (false past the end).
    pub fn contains(&self, chunk: u64) -> bool {
        self.bits.contains(chunk)
    }

    /// Number of set bits.
    pub fn count(&self) -> u64 {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Whether every chunk is set.
    pub fn is_full(&self) -> bool {
        self.bits.len() == self.nr_chunks
    }

    /// Sets every bit set in `other`, which must cover the same number of chunks.
    pub fn union_with(&mut self, other: &ChunkBitmap) -> Result<(), FormatError> {
        self.same_size(other)?;
        self.bits |= &other.bits;
        Ok(())
    }

    /// The bits set here and not in `other`, which must cover the same number of chunks.
    pub fn difference(&self, other: &ChunkBitmap) -> Result<ChunkBitmap, FormatError> {
        self.same_size(other)?;
        Ok(ChunkBitmap {
            nr_chunks: self.nr_chunks,
            bits: &self.bits - &other.bits,
        })
    }

    fn same_size(&self, other: &ChunkBitmap) -> Result<(), FormatError> {
        if self.nr_chunks == other.nr_chunks {
            Ok(())
        } else {
            Err(FormatError::ChunkCountMismatch {
                left: self.nr_chunks,
                right: other.nr_chunks,
            })
        }
    }

    /// The set chunks in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter()
    }

    /// The set chunks as maximal contiguous runs `(start, len)`, ascending.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut iter = self.bits.iter().peekable();
        std::iter::from_fn(move || {
            let start = iter.next()?;
            let mut len = 1u64;
            while iter.peek() == Some(&(start + len)) {
                iter.next();
                len += 1;
            }
            Some((start, len))
        })
    }

    /// The same marks at another granularity: this bitmap has one bit per `from` sectors
    /// of a device of `len` sectors; the result has one bit per `to` sectors, set where
    /// any marked sector falls (so nothing marked is lost when `to` is coarser).
    pub fn rescale(&self, from: Sectors, to: Sectors, len: Sectors) -> ChunkBitmap {
        let (from, to) = (from.0.max(1), to.0.max(1));
        let mut out = ChunkBitmap::new(len.0.div_ceil(to));
        for (start, n) in self.ranges() {
            let first = start.saturating_mul(from).min(len.0);
            let end = (start + n).saturating_mul(from).min(len.0);
            if first < end {
                out.bits.insert_range(first / to..end.div_ceil(to));
            }
        }
        out
    }

    /// Set bits as a percentage of all chunks (0 for a bitmap over no chunks).
    pub fn percent_set(&self) -> f64 {
        if self.nr_chunks == 0 {
            0.0
        } else {
            self.count() as f64 * 100.0 / self.nr_chunks as f64
        }
    }

    /// The underlying Roaring bitmap.
    pub fn bits(&self) -> &RoaringTreemap {
        &self.bits
    }

    /// Length of [`ChunkBitmap::to_bytes`].
    pub fn serialized_size(&self) -> usize {
        BITMAP_HEADER_LEN + self.bits.serialized_size() + BITMAP_TRAILER_LEN
    }

    /// Upper bound of the serialised size of any bitmap over `nr_chunks` chunks.
    ///
    /// Roaring stores each 65536-chunk container as at most 8192 bytes (a bitset, or an
    /// array of at most 4096 u16) plus an 8-byte descriptor (key, cardinality, offset), each
    /// 32-bit bucket adds an 8-byte container-count header and a 4-byte key, and the treemap
    /// starts with an 8-byte bucket count:
    /// `32 + 8 + 12 × ceil(n / 2^32) + 8200 × ceil(n / 2^16)` bytes, about `n / 8`.
    pub fn max_serialized_size(nr_chunks: u64) -> u64 {
        let buckets = nr_chunks.div_ceil(BUCKET_SPAN);
        let containers = nr_chunks.div_ceil(CONTAINER_SPAN);
        ((BITMAP_HEADER_LEN + BITMAP_TRAILER_LEN) as u64 + 8)
            .saturating_add(buckets.saturating_mul(12))
            .saturating_add(containers.saturating_mul(8 + MAX_CONTAINER_BYTES))
    }

    /// The version-1 serialisation (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload_len = self.bits.serialized_size();
        let mut out = Vec::with_capacity(self.serialized_size());
        out.extend_from_slice(&BITMAP_MAGIC);
        out.extend_from_slice(&BITMAP_VERSION.to_le_bytes());
        out.extend_from_slice(&self.nr_chunks.to_le_bytes());
        out.extend_from_slice(&(payload_len as u64).to_le_bytes());
        self.bits
            .serialize_into(&mut out)
            .expect("writing into a Vec cannot fail");
        debug_assert_eq!(out.len(), BITMAP_HEADER_LEN + payload_len);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Total serialised length announced by the first [`BITMAP_HEADER_LEN`] bytes (checks
    /// magic and version, not the checksum). `offset` is where those bytes were read, for
    /// error messages.
    pub fn serialized_len_from_header(header: &[u8], offset: u64) -> Result<u64, FormatError> {
        const WHAT: &str = "chunk bitmap header";
        if header.len() < BITMAP_HEADER_LEN {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset,
                needed: BITMAP_HEADER_LEN as u64,
                available: header.len() as u64,
            });
        }
        if header[..8] != BITMAP_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT,
                offset,
                found: format!("{:02x?}", &header[..8]),
                expected: format!("{:02x?}", BITMAP_MAGIC),
            });
        }
        let version = le_u32(&header[8..12]);
        if version != BITMAP_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                offset: offset + 8,
                found: version,
                supported: BITMAP_VERSION,
            });
        }
        let nr_chunks = le_u64(&header[12..20]);
        let payload_len = le_u64(&header[20..28]);
        let max_payload =
            Self::max_serialized_size(nr_chunks) - (BITMAP_HEADER_LEN + BITMAP_TRAILER_LEN) as u64;
        if payload_len > max_payload {
            return Err(FormatError::corrupt(
                WHAT,
                offset + 20,
                format!(
                    "payload length {payload_len} exceeds the largest possible \
                     {max_payload} for {nr_chunks} chunks"
                ),
            ));
        }
        Ok((BITMAP_HEADER_LEN + BITMAP_TRAILER_LEN) as u64 + payload_len)
    }

    /// Parses a serialisation that fills `bytes` exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        Self::from_bytes_at(bytes, 0)
    }

    /// As [`ChunkBitmap::from_bytes`], reporting error offsets relative to `offset` (where
    /// `bytes` was read from on a device).
    pub fn from_bytes_at(bytes: &[u8], offset: u64) -> Result<Self, FormatError> {
        const WHAT: &str = "chunk bitmap";
        let total = Self::serialized_len_from_header(bytes, offset)?;
        if bytes.len() as u64 != total {
            let detail = format!(
                "the header announces {total} bytes but {} bytes were given",
                bytes.len()
            );
            return Err(if (bytes.len() as u64) < total {
                FormatError::Truncated {
                    what: WHAT,
                    offset,
                    needed: total,
                    available: bytes.len() as u64,
                }
            } else {
                FormatError::corrupt(WHAT, offset, detail)
            });
        }
        let crc_at = bytes.len() - BITMAP_TRAILER_LEN;
        let stored = le_u32(&bytes[crc_at..]);
        let computed = crc32c::crc32c(&bytes[..crc_at]);
        if stored != computed {
            return Err(FormatError::BadChecksum {
                what: WHAT,
                offset: offset + crc_at as u64,
                stored,
                computed,
            });
        }
        let nr_chunks = le_u64(&bytes[12..20]);
        let payload = &bytes[BITMAP_HEADER_LEN..crc_at];
        let mut reader = payload;
        let bits = RoaringTreemap::deserialize_from(&mut reader).map_err(|e| {
            FormatError::corrupt(
                WHAT,
                offset + BITMAP_HEADER_LEN as u64,
                format!("invalid Roaring payload: {e}"),
            )
        })?;
        if !reader.is_empty() {
            return Err(FormatError::corrupt(
                WHAT,
                offset + (crc_at - reader.len()) as u64,
                format!("{} unused bytes after the Roaring payload", reader.len()),
            ));
        }
        if let Some(max) = bits.max() {
            if max >= nr_chunks {
                return Err(FormatError::corrupt(
                    WHAT,
                    offset + BITMAP_HEADER_LEN as u64,
                    format!("bit {max} is set but the bitmap covers only {nr_chunks} chunks"),
                ));
            }
        }
        Ok(ChunkBitmap { nr_chunks, bits })
    }

    /// Approximate heap bytes held: 2 bytes per value of array containers, 8 KiB per bitset
    /// container, 32 bytes per container descriptor and 64 per 32-bit bucket (B-tree entry
    /// and bitmap header). Growth slack of the array vectors is not counted.
    pub fn heap_estimate(&self) -> usize {
        self.bits
            .bitmaps()
            .map(|(_, bm)| {
                let s = bm.statistics();
                64 + 32 * s.n_containers as usize
                    + 2 * s.n_values_array_containers as usize
                    + 8192 * s.n_bitset_containers as usize
            })
            .sum()
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod rescale_tests {
    use super::*;

    #[test]
    fn rescale_keeps_every_marked_sector() {
        // 8-sector blocks 1 and 5..7 of a 60-sector device, to 16-sector regions.
        let mut b = ChunkBitmap::new(8);
        b.set(1).unwrap();
        b.set_range(5..8).unwrap();
        let r = b.rescale(Sectors(8), Sectors(16), Sectors(60));
        assert_eq!(r.nr_chunks(), 4);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![0, 2, 3]);
        // Finer: region 1 of 16 sectors -> 4-sector chunks 4..8, clipped to the device.
        let mut c = ChunkBitmap::new(4);
        c.set(3).unwrap();
        let f = c.rescale(Sectors(16), Sectors(4), Sectors(60));
        assert_eq!(f.nr_chunks(), 15);
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![12, 13, 14]);
        // Same unit: identity.
        assert_eq!(b.rescale(Sectors(8), Sectors(8), Sectors(64)), b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic positions without a dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    fn sample() -> ChunkBitmap {
        let mut b = ChunkBitmap::new(200_000);
        b.set(0).unwrap();
        b.set(7).unwrap();
        b.set_range(100..110).unwrap();
        b.set_range(65_530..65_545).unwrap();
        b.set(199_999).unwrap();
        b
    }

    #[test]
    fn set_clear_contains_count() {
        let mut b = ChunkBitmap::new(100);
        assert!(b.is_empty());
        assert!(b.set(5).unwrap());
        assert!(!b.set(5).unwrap());
        assert_eq!(b.set_range(10..20).unwrap(), 10);
        assert_eq!(b.count(), 11);
        assert!(b.contains(15) && !b.contains(20) && !b.contains(1000));
        assert!(b.clear(15).unwrap());
        assert!(!b.clear(15).unwrap());
        assert_eq!(b.clear_range(0..100).unwrap(), 10);
        assert!(b.is_empty());
        assert!(matches!(
            b.set(100),
            Err(FormatError::ChunkOutOfRange {
                chunk: 100,
                nr_chunks: 100
            })
        ));
        assert!(b.set_range(90..101).is_err());
        assert_eq!(b.set_range(50..50).unwrap(), 0);
        assert!(b.clear(100).is_err());
    }

    #[test]
    fn full_and_percent() {
        let f = ChunkBitmap::full(1000);
        assert!(f.is_full());
        assert_eq!(f.count(), 1000);
        assert_eq!(f.percent_set(), 100.0);
        assert_eq!(ChunkBitmap::new(0).percent_set(), 0.0);
        let mut h = ChunkBitmap::new(8);
        h.set_range(0..2).unwrap();
        assert_eq!(h.percent_set(), 25.0);
    }

    #[test]
    fn chunks_for_rounds_up() {
        assert_eq!(
            ChunkBitmap::chunks_for(Bytes(1 << 30), Sectors(64)).unwrap(),
            32768
        );
        assert_eq!(
            ChunkBitmap::chunks_for(Bytes((1 << 30) + 512), Sectors(64)).unwrap(),
            32769
        );
        assert_eq!(ChunkBitmap::chunks_for(Bytes(0), Sectors(64)).unwrap(), 0);
        assert!(ChunkBitmap::chunks_for(Bytes(1), Sectors(0)).is_err());
    }

    #[test]
    fn ranges_and_iter() {
        let b = sample();
        let r: Vec<_> = b.ranges().collect();
        assert_eq!(
            r,
            vec![(0, 1), (7, 1), (100, 10), (65_530, 15), (199_999, 1)]
        );
        assert_eq!(b.iter().take(3).collect::<Vec<_>>(), vec![0, 7, 100]);
        assert_eq!(ChunkBitmap::new(10).ranges().count(), 0);
    }

    #[test]
    fn union_and_difference() {
        let mut a = ChunkBitmap::new(50);
        a.set_range(0..10).unwrap();
        let mut b = ChunkBitmap::new(50);
        b.set_range(5..15).unwrap();
        let d = a.difference(&b).unwrap();
        assert_eq!(d.ranges().collect::<Vec<_>>(), vec![(0, 5)]);
        a.union_with(&b).unwrap();
        assert_eq!(a.ranges().collect::<Vec<_>>(), vec![(0, 15)]);
        let other = ChunkBitmap::new(51);
        assert!(matches!(
            a.union_with(&other),
            Err(FormatError::ChunkCountMismatch {
                left: 50,
                right: 51
            })
        ));
        assert!(a.difference(&other).is_err());
    }

    #[test]
    fn round_trip() {
        for b in [
            ChunkBitmap::new(0),
            ChunkBitmap::new(12345),
            sample(),
            ChunkBitmap::full(300_000),
        ] {
            let bytes = b.to_bytes();
            assert_eq!(bytes.len(), b.serialized_size());
            assert_eq!(&bytes[..8], b"DSIBMAP\0");
            assert!(bytes.len() as u64 <= ChunkBitmap::max_serialized_size(b.nr_chunks()));
            assert_eq!(ChunkBitmap::from_bytes(&bytes).unwrap(), b);
        }
    }

    #[test]
    fn max_serialized_size_is_an_upper_bound() {
        // Dense random bits (bitset containers), sparse bits (arrays), a partial last
        // container and a full map: all must fit.
        let n = 3 * 65_536 + 1000;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut dense = ChunkBitmap::new(n);
        let mut sparse = ChunkBitmap::new(n);
        for _ in 0..n / 2 {
            dense.set(rng.next() % n).unwrap();
        }
        for _ in 0..4096 {
            sparse.set(rng.next() % n).unwrap();
        }
        // An array container holding exactly 4096 values is the largest array.
        let mut edge = ChunkBitmap::new(n);
        for i in 0..4096 {
            edge.set(i * 16).unwrap();
        }
        for b in [dense, sparse, edge, ChunkBitmap::full(n)] {
            assert!(b.serialized_size() as u64 <= ChunkBitmap::max_serialized_size(n));
        }
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let bytes = sample().to_bytes();
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                assert!(
                    ChunkBitmap::from_bytes(&bad).is_err(),
                    "flipping byte {i} with {mask:#x} was accepted"
                );
            }
        }
    }

    #[test]
    fn specific_rejections() {
        let bytes = sample().to_bytes();

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            ChunkBitmap::from_bytes(&bad),
            Err(FormatError::BadMagic { .. })
        ));

        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            ChunkBitmap::from_bytes(&bad),
            Err(FormatError::UnsupportedVersion { found: 2, .. })
        ));

        assert!(matches!(
            ChunkBitmap::from_bytes(&bytes[..bytes.len() - 1]),
            Err(FormatError::Truncated { .. })
        ));
        assert!(matches!(
            ChunkBitmap::from_bytes(&bytes[..10]),
            Err(FormatError::Truncated { .. })
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            ChunkBitmap::from_bytes(&long),
            Err(FormatError::Corrupt { .. })
        ));

        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let err = ChunkBitmap::from_bytes_at(&bad, 4096).unwrap_err();
        assert!(
            matches!(err, FormatError::BadChecksum { offset, .. } if offset == 4096 + last as u64 - 3)
        );
        assert!(err.to_string().contains("checksum"));

        // A bit past nr_chunks with a correct checksum is still refused.
        let mut b = ChunkBitmap::new(100);
        b.set(99).unwrap();
        let mut bytes = b.to_bytes();
        bytes[12..20].copy_from_slice(&99u64.to_le_bytes());
        let crc_at = bytes.len() - 4;
        let crc = crc32c::crc32c(&bytes[..crc_at]);
        bytes[crc_at..].copy_from_slice(&crc.to_le_bytes());
        let err = ChunkBitmap::from_bytes(&bytes).unwrap_err();
        assert!(err.to_string().contains("bit 99"), "{err}");
    }

    #[test]
    fn heap_estimate_grows_with_content() {
        let empty = ChunkBitmap::new(1 << 25);
        let full = ChunkBitmap::full(1 << 25);
        assert!(empty.heap_estimate() < 100);
        assert!(full.heap_estimate() >= 512 * 8192);
    }

    /// Memory of the bitmap for 1 TiB of master at 32 KiB chunks with random changes.
    /// Run with `cargo test -p dmtarget --release bench_bitmap_memory -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_bitmap_memory() {
        let chunk = Sectors(64);
        let nr = ChunkBitmap::chunks_for(Bytes(1 << 40), chunk).unwrap();
        println!("1 TiB master, 32 KiB chunks: {nr} chunks");
        println!(
            "{:>8} {:>12} {:>14} {:>16} {:>16}",
            "changed", "set bits", "heap bytes", "serialized", "max serialized"
        );
        for permille in [1u64, 10, 100] {
            let mut rng = XorShift(0x2545_F491_4F6C_DD1D ^ permille);
            let mut b = ChunkBitmap::new(nr);
            let target = nr * permille / 1000;
            while b.count() < target {
                b.set(rng.next() % nr).unwrap();
            }
            println!(
                "{:>7.1}% {:>12} {:>14} {:>16} {:>16}",
                permille as f64 / 10.0,
                b.count(),
                b.heap_estimate(),
                b.serialized_size(),
                ChunkBitmap::max_serialized_size(nr)
            );
        }
    }
}
