//! Device access for the on-disk formats: the [`BlockDev`] trait and [`DirectFile`].
//!
//! The format code is generic over `Read + Write + Seek` so tests run on an in-memory
//! `Cursor<Vec<u8>>`; [`BlockDev`] adds the one thing those traits lack, a durability barrier
//! (`Write::flush` on a `File` does not reach the disk).
//!
//! [`DirectFile`] opens a block device with `O_DIRECT`. The kernel's device-mapper targets
//! (snapshot exception store, mirror disk log, era metadata) do their I/O through dm-io and
//! dm-bufio, below the page cache of the whole-disk device node, so a buffered `read` of a
//! device they are using can return stale cached blocks. `O_DIRECT` needs the buffer, the
//! file offset and the length aligned to the logical block size; `DirectFile` hides that by
//! staging every request through a 4096-byte aligned bounce buffer (4096 is a multiple of
//! every logical block size Linux supports up to 4 KiB sectors), reading and patching the
//! edge blocks of unaligned writes. The buffer is aligned safely: a `Vec<u8>` over-allocated
//! by 4096 bytes and used from its first 4096-aligned byte (its heap block never moves
//! because it is never grown).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::FormatError;

/// Alignment of `O_DIRECT` buffers, offsets and lengths used by [`DirectFile`].
pub const DIRECT_ALIGN: usize = 4096;

/// Largest single request `DirectFile` issues; bounds the bounce buffer.
const MAX_IO: usize = 1 << 20;

/// A seekable device that can make its writes durable.
pub trait BlockDev: Read + Write + Seek {
    /// Returns once everything written so far is on stable storage (`fdatasync` for files and
    /// block devices, which also flushes the disk's volatile write cache).
    fn sync_data(&mut self) -> io::Result<()>;
}

impl BlockDev for File {
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

impl BlockDev for Cursor<Vec<u8>> {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlockDev for Cursor<&mut Vec<u8>> {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: BlockDev + ?Sized> BlockDev for &mut T {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }
}

/// A byte buffer whose start is aligned to [`DIRECT_ALIGN`], without `unsafe`.
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes starting at a [`DIRECT_ALIGN`]-aligned address.
    pub fn new(len: usize) -> Self {
        let storage = vec![0u8; len + DIRECT_ALIGN];
        let addr = storage.as_ptr().addr();
        let start = (DIRECT_ALIGN - addr % DIRECT_ALIGN) % DIRECT_ALIGN;
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .finish()
    }
}

/// A block device (or file) opened with `O_DIRECT`, usable as an ordinary
/// `Read + Write + Seek` stream at any offset and length; see the module documentation.
///
/// Regular files on filesystems that refuse `O_DIRECT` (tmpfs on older kernels) are opened
/// buffered instead and [`BlockDev::sync_data`] still makes them durable; block devices
/// always get `O_DIRECT` or an error.
pub struct DirectFile {
    file: File,
    pos: u64,
    size: u64,
    direct: bool,
    buf: AlignedBuf,
}

impl fmt::Debug for DirectFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectFile")
            .field("file", &self.file)
            .field("pos", &self.pos)
            .field("size", &self.size)
            .field("direct", &self.direct)
            .finish()
    }
}

impl DirectFile {
    /// Opens `path` read-only (`writable == false`) or read-write, with `O_DIRECT`.
    pub fn open(path: &Path, writable: bool) -> io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(writable);
        let mut direct_opts = opts.clone();
        direct_opts.custom_flags(OFlag::O_DIRECT.bits());
        let (mut file, direct) = match direct_opts.open(path) {
            Ok(f) => (f, true),
            Err(e) if e.raw_os_error() == Some(Errno::EINVAL as i32) => {
                let f = opts.open(path)?;
                if f.metadata()?.file_type().is_block_device() {
                    return Err(e);
                }
                (f, false)
            }
            Err(e) => return Err(e),
        };
        // Seeking to the end gives the size of block devices too (metadata().len() is 0).
        let size = file.seek(SeekFrom::End(0))?;
        Ok(DirectFile {
            file,
            pos: 0,
            size,
            direct,
            buf: AlignedBuf::new(if direct { MAX_IO } else { 0 }),
        })
    }

    /// Device (or file) size in bytes, as of opening plus any growth by our own writes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether requests bypass the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// The aligned window `[start, end)` covering as much of `pos..pos+len` as one request
    /// may, and how many of the caller's bytes it covers.
    fn window(&self, len: usize) -> (u64, u64, usize) {
        let align = DIRECT_ALIGN as u64;
        let start = self.pos - self.pos % align;
        let lead = (self.pos - start) as usize;
        let want = len.min(MAX_IO - lead);
        let want_end = self.pos + want as u64;
        let mut end = want_end.div_ceil(align) * align;
        if end > self.size {
            // A 512-byte-sector device need not be a multiple of 4096 long: stop at its end
            // (a multiple of its logical block size) rather than asking for blocks past it.
            end = self.size.max(want_end.div_ceil(512) * 512);
        }
        (start, end, want)
    }
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Read for DirectFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        if !self.direct {
            let n = self.file.read_at(out, self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        let (start, end, want) = self.window(out.len());
        let lead = (self.pos - start) as usize;
        let win = &mut self.buf.as_mut_slice()[..(end - start) as usize];
        let got = read_full_at(&self.file, win, start)?;
        if got <= lead {
            return Ok(0);
        }
        let n = (got - lead).min(want);
        out[..n].copy_from_slice(&win[lead..lead + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if !self.direct {
            let n = self.file.write_at(data, self.pos)?;
            self.pos += n as u64;
            self.size = self.size.max(self.pos);
            return Ok(n);
        }
        let (start, end, want) = self.window(data.len());
        let lead = (self.pos - start) as usize;
        let win_len = (end - start) as usize;
        let win = &mut self.buf.as_mut_slice()[..win_len];
        if lead != 0 || lead + want != win_len {
            // Partial blocks at either edge: read them so the write keeps their other bytes.
            let got = read_full_at(&self.file, win, start)?;
            win[got..].fill(0);
        }
        win[lead..lead + want].copy_from_slice(&data[..want]);
        self.file.write_all_at(win, start)?;
        self.pos += want as u64;
        self.size = self.size.max(self.pos);
        Ok(want)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing is buffered in user space; durability is `sync_data`.
        Ok(())
    }
}

impl Seek for DirectFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing offset",
            )),
        }
    }
}

impl BlockDev for DirectFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Size of a seekable device in bytes (leaves the position at the end).
pub(crate) fn device_size<D: Seek + ?Sized>(dev: &mut D) -> Result<u64, FormatError> {
    dev.seek(SeekFrom::End(0))
        .map_err(|e| FormatError::io("finding the device size", 0, e))
}

/// Reads exactly `buf.len()` bytes at `offset`; a short device gives [`FormatError::Truncated`].
pub(crate) fn read_exact_at<D: Read + Seek + ?Sized>(
    dev: &mut D,
    offset: u64,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), FormatError> {
    dev.seek(SeekFrom::Start(offset))
        .map_err(|e| FormatError::io(what, offset, e))?;
    let mut done = 0;
    while done < buf.len() {
        match dev.read(&mut buf[done..]) {
            Ok(0) => {
                return Err(FormatError::Truncated {
                    what,
                    offset,
                    needed: buf.len() as u64,
                    available: done as u64,
                })
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FormatError::io(what, offset + done as u64, e)),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`.
pub(crate) fn write_all_at<D: Write + Seek + ?Sized>(
    dev: &mut D,
    offset: u64,
    buf: &[u8],
    what: &'static str,
) -> Result<(), FormatError> {
    dev.seek(SeekFrom::Start(offset))
        .map_err(|e| FormatError::io(what, offset, e))?;
    dev.write_all(buf)
        .map_err(|e| FormatError::io(what, offset, e))
}

/// Writes `len` zero bytes at `offset`, in bounded pieces.
pub(crate) fn write_zeroes_at<D: Write + Seek + ?Sized>(
    dev: &mut D,
    offset: u64,
    len: u64,
    what: &'static str,
) -> Result<(), FormatError> {
    let zeros = vec![0u8; (len.min(MAX_IO as u64)) as usize];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        write_all_at(dev, offset + done, &zeros[..n], what)?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("dsimage-blockio-{}-{}", std::process::id(), tag))
    }

    #[test]
    fn aligned_buf_is_aligned() {
        for len in [0, 1, 512, 4096, 10_000] {
            let mut b = AlignedBuf::new(len);
            assert_eq!(b.as_slice().as_ptr().addr() % DIRECT_ALIGN, 0);
            assert_eq!(b.as_mut_slice().len(), len);
        }
    }

    #[test]
    fn direct_file_unaligned_round_trip() {
        let path = temp_path("rt");
        std::fs::write(&path, vec![0xAAu8; 3 * 4096 + 512]).unwrap();
        {
            let mut f = DirectFile::open(&path, true).unwrap();
            assert_eq!(f.size(), 3 * 4096 + 512);
            f.seek(SeekFrom::Start(4000)).unwrap();
            f.write_all(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
            f.seek(SeekFrom::Start(3 * 4096 + 500)).unwrap();
            f.write_all(&[7; 12]).unwrap();
            f.sync_data().unwrap();
            let mut back = [0u8; 14];
            f.seek(SeekFrom::Start(3998)).unwrap();
            f.read_exact(&mut back).unwrap();
            assert_eq!(
                back,
                [0xAA, 0xAA, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xAA, 0xAA]
            );
            let mut tail = Vec::new();
            f.seek(SeekFrom::Start(3 * 4096 + 496)).unwrap();
            f.read_to_end(&mut tail).unwrap();
            assert_eq!(
                tail,
                [0xAA, 0xAA, 0xAA, 0xAA, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]
            );
        }
        let all = std::fs::read(&path).unwrap();
        assert_eq!(all.len(), 3 * 4096 + 512);
        assert_eq!(&all[4000..4010], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(all[3999], 0xAA);
        assert_eq!(all[4010], 0xAA);
        std::fs::remove_file(&path).unwrap();
    }
}
