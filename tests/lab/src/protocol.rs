//! Wire format between the host and `labd`, the exec daemon in the guest.
//!
//! One request and one response per TCP connection, both length-prefixed
//! (big-endian) so either side can tell a complete message from a cut one:
//!
//! ```text
//! request:  "LAB1" | timeout_ms u64 (0 = none) | cmd_len u32 | cmd | stdin_len u64 | stdin
//! response: "LAB1" | status i32 | stdout_len u64 | stdout | stderr_len u64 | stderr
//! ```
//!
//! `status` is the exit code, 128+N when killed by signal N (like a shell),
//! [`STATUS_TIMEOUT`] when labd killed the command at its timeout and
//! [`STATUS_SPAWN_FAILED`] when the shell could not be started.

use std::io::{self, Read, Write};
use std::time::Duration;

/// The guest TCP port `labd` listens on.
pub const LABD_PORT: u16 = 7000;
/// Status of a command killed at its timeout (as coreutils `timeout`).
pub const STATUS_TIMEOUT: i32 = 124;
/// Status when `/bin/sh` could not be spawned.
pub const STATUS_SPAWN_FAILED: i32 = 127;

const MAGIC: &[u8; 4] = b"LAB1";
/// A command string is a shell line; anything bigger is a framing error.
const MAX_CMD: u32 = 16 << 20;

/// A command for `/bin/sh -c` with its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cmd: String,
    pub stdin: Vec<u8>,
    pub timeout: Option<Duration>,
}

/// How a command ended, with everything it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Request {
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let timeout_ms = self.timeout.map_or(0, |t| t.as_millis().max(1) as u64);
        let cmd_len = u32::try_from(self.cmd.len())
            .ok()
            .filter(|&n| n <= MAX_CMD)
            .ok_or_else(|| invalid("command too long"))?;
        let mut head = Vec::with_capacity(16 + self.cmd.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&timeout_ms.to_be_bytes());
        head.extend_from_slice(&cmd_len.to_be_bytes());
        head.extend_from_slice(self.cmd.as_bytes());
        head.extend_from_slice(&(self.stdin.len() as u64).to_be_bytes());
        w.write_all(&head)?;
        w.write_all(&self.stdin)?;
        w.flush()
    }

    pub fn read_from(r: &mut impl Read) -> io::Result<Request> {
        read_magic(r)?;
        let timeout_ms = read_u64(r)?;
        let cmd_len = read_u32(r)?;
        if cmd_len > MAX_CMD {
            return Err(invalid("command too long"));
        }
        let cmd = String::from_utf8(read_bytes(r, u64::from(cmd_len))?)
            .map_err(|_| invalid("command is not UTF-8"))?;
        let stdin_len = read_u64(r)?;
        let stdin = read_bytes(r, stdin_len)?;
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        Ok(Request {
            cmd,
            stdin,
            timeout,
        })
    }
}

impl Response {
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut head = Vec::with_capacity(16);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&self.status.to_be_bytes());
        head.extend_from_slice(&(self.stdout.len() as u64).to_be_bytes());
        w.write_all(&head)?;
        w.write_all(&self.stdout)?;
        w.write_all(&(self.stderr.len() as u64).to_be_bytes())?;
        w.write_all(&self.stderr)?;
        w.flush()
    }

    pub fn read_from(r: &mut impl Read) -> io::Result<Response> {
        read_magic(r)?;
        let mut status = [0u8; 4];
        r.read_exact(&mut status)?;
        let stdout_len = read_u64(r)?;
        let stdout = read_bytes(r, stdout_len)?;
        let stderr_len = read_u64(r)?;
        let stderr = read_bytes(r, stderr_len)?;
        Ok(Response {
            status: i32::from_be_bytes(status),
            stdout,
            stderr,
        })
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn read_magic(r: &mut impl Read) -> io::Result<()> {
    let mut m = [0u8; 4];
    r.read_exact(&mut m)?;
    if &m != MAGIC {
        return Err(invalid("bad magic (not a labd peer?)"));
    }
    Ok(())
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

/// Reads exactly `len` bytes without trusting `len` for the allocation, so a
/// corrupt length fails at EOF instead of exhausting memory.
fn read_bytes(r: &mut impl Read, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len.min(1 << 20) as usize);
    let got = r.take(len).read_to_end(&mut buf)?;
    if got as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "message cut short",
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = Request {
            cmd: "echo hi; cat".into(),
            stdin: b"abc\0def".to_vec(),
            timeout: Some(Duration::from_millis(1500)),
        };
        let mut buf = Vec::new();
        req.write_to(&mut buf).unwrap();
        assert_eq!(Request::read_from(&mut buf.as_slice()).unwrap(), req);

        let none = Request {
            timeout: None,
            ..req
        };
        let mut buf = Vec::new();
        none.write_to(&mut buf).unwrap();
        assert_eq!(Request::read_from(&mut buf.as_slice()).unwrap(), none);
    }

    #[test]
    fn response_round_trip_and_truncation() {
        let resp = Response {
            status: -3,
            stdout: vec![1; 70_000],
            stderr: b"oops".to_vec(),
        };
        let mut buf = Vec::new();
        resp.write_to(&mut buf).unwrap();
        assert_eq!(Response::read_from(&mut buf.as_slice()).unwrap(), resp);
        for cut in [0, 3, 10, 100, buf.len() - 1] {
            assert!(Response::read_from(&mut &buf[..cut]).is_err(), "cut {cut}");
        }
        assert!(Response::read_from(&mut &b"HTTP/1.1 200"[..]).is_err());
    }
}
