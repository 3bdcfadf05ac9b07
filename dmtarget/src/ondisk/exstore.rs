//! The device-mapper snapshot *persistent exception store* (the COW device of a `snapshot`
//! target with store type `P`/`PO`): reading it, and writing it for tests and fixtures.
//!
//! dsimage reads the store to learn which origin chunks were copied out, i.e. changed on
//! the master since the point in time, and zeroes its header to make the kernel start a
//! fresh store on the next table load.
//!
//! # Layout (as implemented by the kernel's `dm-snap-persistent.c`)
//!
//! All integers little-endian. The device is divided into chunks of `chunk_size` sectors.
//!
//! * Chunk 0 is the header; only its first 16 bytes are used, the rest is written as zero:
//!
//!   | offset | size | field |
//!   |---|---|---|
//!   | 0 | 4 | magic `0x70416e53` (the bytes `"SnAp"`) |
//!   | 4 | 4 | valid: non-zero while the snapshot is usable, 0 once it was invalidated (overflow, I/O error) |
//!   | 8 | 4 | version, `1`; the kernel refuses anything else |
//!   | 12 | 4 | chunk size in sectors; overrides the chunk size of the table line |
//!
//!   A magic of 0 means "new store": the kernel writes a fresh header and zeroes metadata
//!   area 0 when the table is loaded, ignoring anything else on the device. Any other
//!   non-"SnAp" magic makes the table load fail.
//!
//! * Metadata area `i` is chunk `1 + i × (epa + 1)`, where `epa = chunk_size × 512 / 16` is
//!   the number of 16-byte exceptions per area; each area is followed by the `epa` data
//!   chunks its exceptions point to. Exception = `{ u64 old_chunk (origin), u64 new_chunk
//!   (COW device) }`.
//!
//! * The kernel reads area 0, 1, ... and in each area the entries in order; the first entry
//!   whose `new_chunk` is 0 (it would point at the header) ends that area *and the store*.
//!   An area whose `epa` entries are all in use is "full" and reading goes on with the next
//!   area; the kernel zeroes area `i + 1` before it commits the last entry of area `i`, so
//!   a full area is always followed by one that starts with a terminator. Entries after the
//!   terminator are ignored. An invalidated store (valid = 0) is not read at all.
//!
//! The kernel does not check the entries it reads. This reader does: a `new_chunk` past the
//! end of the device or on a metadata area means the store is corrupt, and the error says
//! where. Reading is bounded by the device size, so garbage cannot make it loop.

use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::blockio::{self, BlockDev, DirectFile};
use super::FormatError;
use crate::bitmap::ChunkBitmap;
use crate::units::Sectors;

/// Header magic, the bytes `"SnAp"` read as a little-endian u32.
pub const SNAP_MAGIC: u32 = 0x7041_6e53;
/// The only on-disk version the kernel accepts.
pub const SNAPSHOT_DISK_VERSION: u32 = 1;
/// Bytes of one on-disk exception.
pub const EXCEPTION_BYTES: u64 = 16;
/// Bytes of the header fields at the start of chunk 0.
pub const HEADER_BYTES: usize = 16;
/// Largest chunk size the kernel accepts: a power of two and at most `INT_MAX >> 9`
/// sectors (`dm_exception_store_set_chunk_size`), i.e. 2^21 sectors = 1 GiB. (LVM itself
/// stops at 512 KiB.)
pub const MAX_CHUNK_SECTORS: u64 = 1 << 21;

/// Largest piece of an area read or built in memory at once.
const PIECE_BYTES: u64 = 1 << 20;

/// The fields of the header chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExStoreHeader {
    pub valid: bool,
    pub version: u32,
    pub chunk_size: Sectors,
}

/// What the header chunk says about the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExStoreState {
    /// Magic 0: the kernel will format a new, empty store on the next table load.
    New,
    /// A usable store.
    Valid(ExStoreHeader),
    /// A store the kernel invalidated; its exceptions are not read.
    Invalidated(ExStoreHeader),
}

/// One exception: origin chunk `old_chunk` was copied to COW chunk `new_chunk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exception {
    pub old_chunk: u64,
    pub new_chunk: u64,
}

/// Checks a chunk size the way the kernel does (power of two, at most 2^21 sectors).
/// The kernel also wants a multiple of both devices' logical block sizes; every power of
/// two of at least 8 sectors satisfies that.
pub fn check_chunk_size(chunk_size: Sectors) -> Result<(), FormatError> {
    let sectors = chunk_size.0;
    if !sectors.is_power_of_two() {
        return Err(FormatError::InvalidChunkSize {
            sectors,
            reason: "the kernel requires a power of two",
        });
    }
    if sectors > MAX_CHUNK_SECTORS {
        return Err(FormatError::InvalidChunkSize {
            sectors,
            reason: "the kernel's limit is 2^21 sectors (1 GiB)",
        });
    }
    Ok(())
}

/// Exceptions per metadata area for `chunk_size` (`chunk_size × 512 / 16`).
pub fn exceptions_per_area(chunk_size: Sectors) -> u64 {
    chunk_size.0 * 512 / EXCEPTION_BYTES
}

/// Chunk index of metadata area `area`: `1 + area × (epa + 1)`.
pub fn area_location(chunk_size: Sectors, area: u64) -> Option<u64> {
    (exceptions_per_area(chunk_size) + 1)
        .checked_mul(area)?
        .checked_add(1)
}

/// COW chunk the kernel hands out for the `n`-th exception (0-based) when they are
/// committed in order: data chunks start at 2 and skip the metadata areas.
pub fn data_chunk(chunk_size: Sectors, n: u64) -> u64 {
    let epa = exceptions_per_area(chunk_size);
    2 + (n / epa) * (epa + 1) + n % epa
}

fn is_metadata_chunk(chunk: u64, epa: u64) -> bool {
    chunk >= 1 && (chunk - 1).is_multiple_of(epa + 1)
}

impl ExStoreHeader {
    /// A valid, version-1 header.
    pub fn new(chunk_size: Sectors) -> Self {
        ExStoreHeader {
            valid: true,
            version: SNAPSHOT_DISK_VERSION,
            chunk_size,
        }
    }

    /// The first sector of the header chunk as the kernel writes it (rest zero).
    pub fn pack(&self) -> Result<[u8; 512], FormatError> {
        check_chunk_size(self.chunk_size)?;
        let mut out = [0u8; 512];
        out[0..4].copy_from_slice(&SNAP_MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&u32::from(self.valid).to_le_bytes());
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..16].copy_from_slice(&(self.chunk_size.0 as u32).to_le_bytes());
        Ok(out)
    }

    /// Decodes the start of the header chunk (at least 16 bytes) with the kernel's checks.
    pub fn unpack(bytes: &[u8]) -> Result<ExStoreState, FormatError> {
        const WHAT: &str = "snapshot exception store header";
        if bytes.len() < HEADER_BYTES {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset: 0,
                needed: HEADER_BYTES as u64,
                available: bytes.len() as u64,
            });
        }
        let field = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let (magic, valid, version, chunk_size) = (field(0), field(4), field(8), field(12));
        if magic == 0 {
            return Ok(ExStoreState::New);
        }
        if magic != SNAP_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT,
                offset: 0,
                found: format!("{magic:#010x}"),
                expected: format!("{SNAP_MAGIC:#010x} (\"SnAp\")"),
            });
        }
        if version != SNAPSHOT_DISK_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                offset: 8,
                found: version,
                supported: SNAPSHOT_DISK_VERSION,
            });
        }
        let chunk_size = Sectors(u64::from(chunk_size));
        check_chunk_size(chunk_size)?;
        let header = ExStoreHeader {
            valid: valid != 0,
            version,
            chunk_size,
        };
        Ok(if header.valid {
            ExStoreState::Valid(header)
        } else {
            ExStoreState::Invalidated(header)
        })
    }
}

/// Reads the header and, for a valid store, every committed exception in on-disk order.
/// New and invalidated stores give no exceptions (the kernel reads none either).
pub fn read_store<D: Read + Seek + ?Sized>(
    dev: &mut D,
) -> Result<(ExStoreState, Vec<Exception>), FormatError> {
    let dev_size = blockio::device_size(dev)?;
    let mut head = [0u8; HEADER_BYTES];
    blockio::read_exact_at(dev, 0, &mut head, "snapshot exception store header")?;
    let state = ExStoreHeader::unpack(&head)?;
    let header = match state {
        ExStoreState::Valid(h) => h,
        ExStoreState::New | ExStoreState::Invalidated(_) => return Ok((state, Vec::new())),
    };

    let chunk_bytes = header.chunk_size.0 * 512;
    let epa = exceptions_per_area(header.chunk_size);
    let dev_chunks = dev_size / chunk_bytes;
    let mut exceptions = Vec::new();
    let mut piece = vec![0u8; chunk_bytes.min(PIECE_BYTES) as usize];

    // Every area lies further into the device than the last, so this ends at the device end.
    let mut area = 0u64;
    loop {
        let location = area_location(header.chunk_size, area).filter(|&c| c < dev_chunks);
        let Some(location) = location else {
            return Err(FormatError::corrupt(
                "snapshot exception store",
                area.saturating_mul(epa + 1)
                    .saturating_add(1)
                    .saturating_mul(chunk_bytes),
                format!(
                    "metadata area {area} would lie past the end of the COW device \
                     ({dev_chunks} whole chunks of {chunk_bytes} bytes){}; the kernel \
                     would fail to load this snapshot",
                    if area == 0 { "" } else { " after a full area" }
                ),
            ));
        };
        let area_offset = location * chunk_bytes;
        let mut index = 0u64;
        while index < epa {
            let n = (epa - index).min(piece.len() as u64 / EXCEPTION_BYTES);
            let offset = area_offset + index * EXCEPTION_BYTES;
            let buf = &mut piece[..(n * EXCEPTION_BYTES) as usize];
            blockio::read_exact_at(dev, offset, buf, "snapshot metadata area")?;
            for (k, entry) in buf.chunks_exact(EXCEPTION_BYTES as usize).enumerate() {
                let old_chunk = u64::from_le_bytes(entry[0..8].try_into().expect("8 bytes"));
                let new_chunk = u64::from_le_bytes(entry[8..16].try_into().expect("8 bytes"));
                if new_chunk == 0 {
                    return Ok((state, exceptions));
                }
                let at = offset + k as u64 * EXCEPTION_BYTES;
                let problem = if new_chunk >= dev_chunks {
                    Some(format!(
                        "past the end of the COW device ({dev_chunks} chunks)"
                    ))
                } else if is_metadata_chunk(new_chunk, epa) {
                    Some("on a metadata area".to_string())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(FormatError::corrupt(
                        "snapshot exception",
                        at,
                        format!(
                            "entry {} of metadata area {area} maps origin chunk {old_chunk} \
                             to COW chunk {new_chunk}, {problem}",
                            index + k as u64
                        ),
                    ));
                }
                exceptions.push(Exception {
                    old_chunk,
                    new_chunk,
                });
            }
            index += n;
        }
        area += 1;
    }
}

/// [`read_store`] on a block device (or image file) opened with `O_DIRECT`: the kernel
/// writes the store through dm-io, below the page cache, so buffered reads could be stale.
pub fn read_store_path(path: &Path) -> Result<(ExStoreState, Vec<Exception>), FormatError> {
    let mut dev = DirectFile::open(path, false)
        .map_err(|e| FormatError::io("opening the COW device", 0, e))?;
    read_store(&mut dev)
}

/// The origin chunks named by `exceptions`, as a bitmap over the origin's `nr_chunks`.
pub fn changed_chunks(
    exceptions: &[Exception],
    nr_chunks: u64,
) -> Result<ChunkBitmap, FormatError> {
    let mut bitmap = ChunkBitmap::new(nr_chunks);
    for e in exceptions {
        bitmap.set(e.old_chunk)?;
    }
    Ok(bitmap)
}

/// Writes the header chunk: `header` in its first 16 bytes, zeros to the chunk's end
/// (what the kernel writes when it formats or invalidates a store).
pub fn write_header<D: Write + Seek + ?Sized>(
    dev: &mut D,
    header: &ExStoreHeader,
) -> Result<(), FormatError> {
    let sector = header.pack()?;
    const WHAT: &str = "writing the snapshot header";
    blockio::write_all_at(dev, 0, &sector, WHAT)?;
    blockio::write_zeroes_at(dev, 512, header.chunk_size.0 * 512 - 512, WHAT)
}

/// Writes a valid store holding `exceptions` exactly as the kernel lays it out: the header
/// chunk, then the metadata areas, each zero-filled after its last entry, plus a zeroed
/// area after a full one. Data chunks are not written; the device must already be large
/// enough for the `new_chunk`s named (use [`data_chunk`] to pick them in kernel order).
pub fn write_store<D: Write + Seek + ?Sized>(
    dev: &mut D,
    chunk_size: Sectors,
    exceptions: &[Exception],
) -> Result<(), FormatError> {
    check_chunk_size(chunk_size)?;
    let epa = exceptions_per_area(chunk_size);
    for (i, e) in exceptions.iter().enumerate() {
        if e.new_chunk == 0 || is_metadata_chunk(e.new_chunk, epa) {
            return Err(FormatError::field(
                "exception",
                format!(
                    "exception {i} maps origin chunk {} to COW chunk {}, which is the \
                     header or a metadata area",
                    e.old_chunk, e.new_chunk
                ),
            ));
        }
    }
    write_header(dev, &ExStoreHeader::new(chunk_size))?;

    let chunk_bytes = chunk_size.0 * 512;
    const WHAT: &str = "writing a snapshot metadata area";
    let areas = exceptions.len() as u64 / epa + 1;
    for area in 0..areas {
        let location = area_location(chunk_size, area)
            .ok_or_else(|| FormatError::field("exception count", "too many exceptions"))?;
        let offset = location * chunk_bytes;
        let first = (area * epa) as usize;
        let last = (first + epa as usize).min(exceptions.len());
        let mut bytes = Vec::with_capacity((last - first) * EXCEPTION_BYTES as usize);
        for e in &exceptions[first..last] {
            bytes.extend_from_slice(&e.old_chunk.to_le_bytes());
            bytes.extend_from_slice(&e.new_chunk.to_le_bytes());
        }
        blockio::write_all_at(dev, offset, &bytes, WHAT)?;
        let used = bytes.len() as u64;
        blockio::write_zeroes_at(dev, offset + used, chunk_bytes - used, WHAT)?;
    }
    Ok(())
}

/// Zeroes the header chunk of the COW device at `path` with `O_DIRECT` and waits for it to
/// be durable: the next table load then formats a fresh, empty store.
pub fn zero_header_path(path: &Path, chunk_size: Sectors) -> io::Result<()> {
    check_chunk_size(chunk_size)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut dev = DirectFile::open(path, true)?;
    let len = chunk_size.0 * 512;
    if dev.size() < len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} has {} bytes, less than one chunk of {len} bytes",
                path.display(),
                dev.size()
            ),
        ));
    }
    blockio::write_zeroes_at(&mut dev, 0, len, "zeroing the snapshot header")
        .map_err(|e| io::Error::other(e.to_string()))?;
    dev.sync_data()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// A device of `chunks` chunks of `chunk` sectors, all zero.
    fn device(chunk: Sectors, chunks: u64) -> Cursor<Vec<u8>> {
        Cursor::new(vec![0u8; (chunk.0 * 512 * chunks) as usize])
    }

    fn exceptions(chunk: Sectors, n: u64) -> Vec<Exception> {
        (0..n)
            .map(|i| Exception {
                old_chunk: i * 3 + 1,
                new_chunk: data_chunk(chunk, i),
            })
            .collect()
    }

    #[test]
    fn header_bytes_are_the_kernels() {
        let h = ExStoreHeader::new(Sectors(16));
        let b = h.pack().unwrap();
        assert_eq!(&b[0..4], b"SnAp");
        assert_eq!(&b[4..16], &[1, 0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0]);
        assert!(b[16..].iter().all(|&x| x == 0));
        assert_eq!(ExStoreHeader::unpack(&b).unwrap(), ExStoreState::Valid(h));
        let inv = ExStoreHeader { valid: false, ..h };
        assert_eq!(
            ExStoreHeader::unpack(&inv.pack().unwrap()).unwrap(),
            ExStoreState::Invalidated(inv)
        );
        assert_eq!(
            ExStoreHeader::unpack(&[0u8; 16]).unwrap(),
            ExStoreState::New
        );
    }

    #[test]
    fn layout_helpers() {
        // 1-sector chunks: 32 exceptions per area, stride 33.
        let c = Sectors(1);
        assert_eq!(exceptions_per_area(c), 32);
        assert_eq!(area_location(c, 0), Some(1));
        assert_eq!(area_location(c, 1), Some(34));
        assert_eq!(data_chunk(c, 0), 2);
        assert_eq!(data_chunk(c, 31), 33);
        assert_eq!(data_chunk(c, 32), 35);
        assert_eq!(exceptions_per_area(Sectors(64)), 2048);
    }

    #[test]
    fn round_trip_across_areas() {
        let c = Sectors(1);
        // Empty, partial, exactly one full area, full plus one, exactly two full areas.
        for n in [0u64, 5, 32, 33, 64] {
            let mut dev = device(c, 200);
            let ex = exceptions(c, n);
            write_store(&mut dev, c, &ex).unwrap();
            let (state, back) = read_store(&mut dev).unwrap();
            assert_eq!(state, ExStoreState::Valid(ExStoreHeader::new(c)));
            assert_eq!(back, ex, "n = {n}");
        }
    }

    #[test]
    fn on_disk_positions() {
        let c = Sectors(1);
        let mut dev = device(c, 100);
        let ex = exceptions(c, 33);
        write_store(&mut dev, c, &ex).unwrap();
        let bytes = dev.get_ref();
        // Area 0 at chunk 1, entry 0.
        assert_eq!(&bytes[512..520], &1u64.to_le_bytes());
        assert_eq!(&bytes[520..528], &2u64.to_le_bytes());
        // Entry 32 is the first of area 1 at chunk 34.
        let a1 = 34 * 512;
        assert_eq!(&bytes[a1..a1 + 8], &ex[32].old_chunk.to_le_bytes());
        assert_eq!(&bytes[a1 + 8..a1 + 16], &35u64.to_le_bytes());
        assert!(bytes[a1 + 16..a1 + 512].iter().all(|&b| b == 0));
    }

    #[test]
    fn terminator_ends_the_store_even_with_entries_after_it() {
        let c = Sectors(1);
        let mut dev = device(c, 100);
        write_store(&mut dev, c, &exceptions(c, 3)).unwrap();
        // Stale entries after the terminator are ignored, as by the kernel.
        let at = 512 + 4 * 16;
        dev.get_mut()[at..at + 8].copy_from_slice(&9u64.to_le_bytes());
        dev.get_mut()[at + 8..at + 16].copy_from_slice(&5u64.to_le_bytes());
        assert_eq!(read_store(&mut dev).unwrap().1.len(), 3);
    }

    #[test]
    fn new_and_invalidated_stores_have_no_exceptions() {
        let c = Sectors(8);
        let mut dev = device(c, 10);
        assert_eq!(read_store(&mut dev).unwrap(), (ExStoreState::New, vec![]));
        write_store(&mut dev, c, &exceptions(c, 4)).unwrap();
        let h = ExStoreHeader {
            valid: false,
            ..ExStoreHeader::new(c)
        };
        write_header(&mut dev, &h).unwrap();
        assert_eq!(
            read_store(&mut dev).unwrap(),
            (ExStoreState::Invalidated(h), vec![])
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let c = Sectors(8);
        let mut base = device(c, 10);
        write_store(&mut base, c, &[]).unwrap();
        let poke = |at: usize, v: u32| {
            let mut d = base.clone();
            d.get_mut()[at..at + 4].copy_from_slice(&v.to_le_bytes());
            read_store(&mut d)
        };
        assert!(matches!(poke(0, 0x1234), Err(FormatError::BadMagic { .. })));
        assert!(matches!(
            poke(8, 2),
            Err(FormatError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(
            poke(12, 3),
            Err(FormatError::InvalidChunkSize { sectors: 3, .. })
        ));
        assert!(matches!(
            poke(12, 0),
            Err(FormatError::InvalidChunkSize { .. })
        ));
        assert!(matches!(
            poke(12, 1 << 22),
            Err(FormatError::InvalidChunkSize { .. })
        ));
        // A chunk size bigger than the device: area 0 cannot be read.
        assert!(matches!(
            poke(12, 1 << 10),
            Err(FormatError::Corrupt { .. })
        ));
        let mut tiny = Cursor::new(vec![0x53u8; 10]);
        assert!(matches!(
            read_store(&mut tiny),
            Err(FormatError::Truncated { .. })
        ));
    }

    #[test]
    fn full_last_area_at_device_end_is_an_error() {
        let c = Sectors(1);
        // Header + area 0 + its 32 data chunks = 34 chunks: no room for area 1.
        let mut dev = device(c, 34);
        write_store(&mut dev, c, &exceptions(c, 31)).unwrap();
        let ex = exceptions(c, 32);
        // Fill entry 31 by hand (write_store would also zero area 1, past the end).
        let at = 512 + 31 * 16;
        dev.get_mut()[at..at + 8].copy_from_slice(&ex[31].old_chunk.to_le_bytes());
        dev.get_mut()[at + 8..at + 16].copy_from_slice(&ex[31].new_chunk.to_le_bytes());
        let err = read_store(&mut dev).unwrap_err();
        assert!(err.to_string().contains("metadata area 1"), "{err}");
    }

    #[test]
    fn garbage_is_refused_not_looped_on() {
        let c = Sectors(1);
        let mut dev = Cursor::new(vec![0xFFu8; 512 * 1000]);
        dev.get_mut()[..512].copy_from_slice(&ExStoreHeader::new(c).pack().unwrap());
        let err = read_store(&mut dev).unwrap_err();
        assert!(
            matches!(err, FormatError::Corrupt { offset: 512, .. }),
            "{err}"
        );

        // Plausible-looking entries pointing at a metadata area.
        let mut dev = device(c, 100);
        write_store(&mut dev, c, &exceptions(c, 2)).unwrap();
        dev.get_mut()[512 + 8..512 + 16].copy_from_slice(&34u64.to_le_bytes());
        let err = read_store(&mut dev).unwrap_err();
        assert!(err.to_string().contains("metadata area"), "{err}");
    }

    #[test]
    fn writer_refuses_impossible_exceptions() {
        let c = Sectors(1);
        let mut dev = device(c, 100);
        for new_chunk in [0, 1, 34] {
            let ex = [Exception {
                old_chunk: 0,
                new_chunk,
            }];
            assert!(write_store(&mut dev, c, &ex).is_err());
        }
        assert!(write_store(&mut dev, Sectors(3), &[]).is_err());
    }

    #[test]
    fn changed_chunks_bitmap() {
        let c = Sectors(8);
        let ex = exceptions(c, 4);
        let b = changed_chunks(&ex, 100).unwrap();
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![1, 4, 7, 10]);
        assert!(matches!(
            changed_chunks(&ex, 10),
            Err(FormatError::ChunkOutOfRange { chunk: 10, .. })
        ));
    }

    #[test]
    fn path_based_read_and_zero() {
        let c = Sectors(8);
        let path = std::env::temp_dir().join(format!("dsimage-exstore-{}", std::process::id()));
        let mut dev = device(c, 64);
        let ex = exceptions(c, 10);
        write_store(&mut dev, c, &ex).unwrap();
        std::fs::write(&path, dev.get_ref()).unwrap();
        let (state, back) = read_store_path(&path).unwrap();
        assert!(matches!(state, ExStoreState::Valid(_)));
        assert_eq!(back, ex);
        zero_header_path(&path, c).unwrap();
        assert_eq!(read_store_path(&path).unwrap(), (ExStoreState::New, vec![]));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[..4096].iter().all(|&b| b == 0));
        assert_eq!(&bytes[4096..4104], &1u64.to_le_bytes());
        assert!(zero_header_path(&path, Sectors(1 << 10)).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
