//! `labcmp A B`: whether two files or block devices hold the same bytes, read with
//! direct I/O where possible (a device's page cache could hide what is on the disk).
//! Exit 0 if equal, 1 with the first differing byte offset (or the length difference)
//! on standard error, 2 on an I/O error. A guest helper of the e2e suites: comparing
//! in native code is far faster under emulation than hashing with busybox.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

const BLOCK: usize = 1 << 20;
const O_DIRECT: i32 = 0o40000;

/// A 4096-aligned buffer of `BLOCK` bytes (direct I/O needs aligned memory).
struct Aligned {
    raw: Vec<u8>,
    off: usize,
}

impl Aligned {
    fn new() -> Aligned {
        let raw = vec![0u8; BLOCK + 4096];
        let off = raw.as_ptr().align_offset(4096);
        Aligned { raw, off }
    }
    fn buf(&mut self) -> &mut [u8] {
        &mut self.raw[self.off..self.off + BLOCK]
    }
}

fn open(path: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(O_DIRECT)
        .open(path)
        .or_else(|_| File::open(path))
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn fill(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b] = args.as_slice() else {
        eprintln!("usage: labcmp A B");
        return ExitCode::from(2);
    };
    let run = || -> std::io::Result<Option<String>> {
        let (mut fa, mut fb) = (open(a)?, open(b)?);
        let (mut ba, mut bb) = (Aligned::new(), Aligned::new());
        let mut pos: u64 = 0;
        loop {
            let na = fill(&mut fa, ba.buf())?;
            let nb = fill(&mut fb, bb.buf())?;
            let n = na.min(nb);
            if ba.buf()[..n] != bb.buf()[..n] {
                let at = (0..n).find(|&i| ba.buf()[i] != bb.buf()[i]).unwrap_or(0);
                return Ok(Some(format!(
                    "{a} and {b} differ at byte {}",
                    pos + at as u64
                )));
            }
            if na != nb {
                return Ok(Some(format!(
                    "{a} and {b} differ in length after byte {}",
                    pos + n as u64
                )));
            }
            if na == 0 {
                return Ok(None);
            }
            pos += na as u64;
        }
    };
    match run() {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("labcmp: {e}");
            ExitCode::from(2)
        }
    }
}
