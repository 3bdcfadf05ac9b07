//! Small facts about the host: where tools are, free ports, processes, the
//! workspace the lab belongs to.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Context, Error, Result};

/// A host program by name: `$PATH`, then the sbin directories a non-root
/// `$PATH` often lacks (mkfs.ext4, depmod, dmsetup live there).
pub fn find_tool(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Setup(format!("host tool {name} not found")))
}

/// `n` distinct TCP ports on 127.0.0.1 that are free right now. QEMU binds
/// them a moment later; the race is accepted (ports are never fixed, so labs
/// run side by side).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    // All held at once so the kernel cannot hand out one twice.
    let held = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").ctx(|| "binding a free port".into()))
        .collect::<Result<Vec<_>>>()?;
    held.iter()
        .map(|l| Ok(l.local_addr().ctx(|| "reading a bound port".into())?.port()))
        .collect()
}

/// Whether `pid` runs and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may hold spaces.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
            None => false,
        },
        Err(_) => false,
    }
}

/// Whether `pid` is alive and its command line mentions `needle` (guards
/// against a recycled pid in a stale vm.json).
pub fn pid_runs(pid: u32, needle: &str) -> bool {
    pid_alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
}

/// Sends SIGKILL (or another signal) to a pid. std has no kill(2) for pids
/// that are not our children, and unsafe is denied; the shell builtin does it.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{sig} {pid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The workspace root: the nearest ancestor of the working directory whose
/// Cargo.toml declares a workspace, else the one this crate was built in.
pub fn workspace_root() -> PathBuf {
    let from_cwd = std::env::current_dir().ok().and_then(|cwd| {
        cwd.ancestors()
            .find(|d| {
                std::fs::read_to_string(d.join("Cargo.toml"))
                    .map(|t| t.contains("[workspace]"))
                    .unwrap_or(false)
            })
            .map(Path::to_path_buf)
    });
    from_cwd.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
}

/// `$DSIMAGE_LAB_DIR/<name>`, else `<workspace>/.lab/<name>`.
pub fn default_lab_dir(name: &str) -> PathBuf {
    match std::env::var_os("DSIMAGE_LAB_DIR").filter(|v| !v.is_empty()) {
        Some(base) => PathBuf::from(base).join(name),
        None => workspace_root().join(".lab").join(name),
    }
}

/// Quotes a string for a POSIX shell command line.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/dev/vda"), "/dev/vda");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn own_pid_is_alive() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX));
    }
}
