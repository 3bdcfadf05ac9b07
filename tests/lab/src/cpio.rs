//! A writer for the "newc" cpio format the kernel unpacks as initramfs.
//!
//! Written by hand rather than with the cpio tool so device nodes
//! (/dev/console) can go in without root and entries are reproducible
//! (owner root, mtime 0).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const S_IFCHR: u32 = 0o020000;

/// Streams a newc archive.
#[derive(Debug)]
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    /// Adds a directory tree, parents before children, names relative to `root`.
    pub fn add_tree(&mut self, root: &Path) -> io::Result<()> {
        self.add_dir_contents(root, "")
    }

    fn add_dir_contents(&mut self, dir: &Path, prefix: &str) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8 name"))?;
            let rel = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let meta = fs::symlink_metadata(e.path())?;
            let ft = meta.file_type();
            if ft.is_dir() {
                self.entry(&rel, meta.mode(), 0, &[])?;
                self.add_dir_contents(&e.path(), &rel)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(e.path())?;
                let target = target
                    .to_str()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8 link"))?;
                self.entry(&rel, meta.mode(), 0, target.as_bytes())?;
            } else if ft.is_file() {
                let data = fs::read(e.path())?;
                self.entry(&rel, meta.permissions().mode(), 0, &data)?;
            }
        }
        Ok(())
    }

    /// Adds a character device node.
    pub fn add_char_dev(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        self.entry(path, S_IFCHR | perm, (major << 8) | minor, &[])
    }

    /// Writes the trailer and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, 0, &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: u32, data: &[u8]) -> io::Result<()> {
        let ino = if name == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len(),
            0, // dev major
            0, // dev minor
            rdev >> 8,
            rdev & 0xff,
            name.len() + 1,
            0, // check
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// newc aligns headers and file data to 4 bytes.
    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_terminated() {
        let mut w = CpioWriter::new(Vec::new());
        w.entry("a", 0o100644, 0, b"hello").unwrap();
        w.add_char_dev("dev/console", 0o600, 5, 1).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("hello"));
        assert!(text.contains("TRAILER!!!"));
        // rdev major 5 minor 1 in the console header.
        assert!(text.contains("0000000500000001"));
    }
}
