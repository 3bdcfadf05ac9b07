//! Builds the guest's initramfs: busybox, the kernel modules the lab needs
//! (with a modules.dep for busybox modprobe), dmsetup, the era tools, labd,
//! extra host binaries and their shared libraries, and `/init`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cpio::CpioWriter;
use crate::error::{io_ctx, Context, Error, Result};
use crate::host::find_tool;
use crate::kernel::{module_name, normalize, Kernel};

/// Modules loaded at boot, in this order (dependencies come via modules.dep).
/// crc32c_generic first: see init.sh.
pub const MODULES: &[&str] = &[
    "crc32c_generic",
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "ext4",
    "loop",
    "dm_mod",
    "dm_bufio",
    "dm_persistent_data",
    "dm_snapshot",
    "dm_era",
    "dm_log",
    "dm_region_hash",
    "dm_mirror",
    "dm_delay",
    "dm_flakey",
    "dm_zero",
];

const INIT: &str = include_str!("init.sh");

/// What goes into one initramfs.
#[derive(Debug, Clone)]
pub struct InitramfsSpec {
    pub kernel: Kernel,
    /// The labd binary (built for the host, which matches the guest).
    pub labd: PathBuf,
    /// Extra host programs, installed as /usr/local/bin/<file name>.
    pub binaries: Vec<PathBuf>,
    /// Shell script run in the background once labd is up.
    pub boot_hook: Option<String>,
    pub hostname: String,
    /// gzip the archive. Off by default: unpacking gzip under TCG costs more
    /// boot time than reading the bigger image.
    pub gzip: bool,
}

/// What a build put in.
#[derive(Debug, Clone)]
pub struct InitramfsReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// Module files copied (normalized names).
    pub modules: Vec<String>,
    /// Wanted modules that the kernel has built in.
    pub builtin: Vec<String>,
}

/// Builds the archive at `out`, staging in `<out>.d` (kept for inspection).
pub fn build(spec: &InitramfsSpec, out: &Path) -> Result<InitramfsReport> {
    let stage = PathBuf::from(format!("{}.d", out.display()));
    if stage.exists() {
        fs::remove_dir_all(&stage).ctx(io_ctx("removing", &stage))?;
    }
    let mut s = Stage::new(&stage)?;
    for d in [
        "bin",
        "sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "run",
        "root",
        "mnt",
        "etc/lab",
        "usr/bin",
        "usr/sbin",
        "usr/local/bin",
        "var/lib/dsimage",
        "lib64",
    ] {
        s.dir(d)?;
    }

    s.program(&find_tool("busybox")?, "bin/busybox", false)?;
    s.program(&find_tool("dmsetup")?, "usr/sbin/dmsetup", false)?;
    s.program(&find_tool("pdata_tools")?, "usr/sbin/pdata_tools", false)?;
    // pdata_tools picks its tool by argv[0].
    for tool in ["era_check", "era_dump", "era_invalidate", "era_restore"] {
        s.link("pdata_tools", &format!("usr/sbin/{tool}"))?;
    }
    // Real e2fsprogs (busybox's mke2fs cannot do ext4) for tests that need a
    // file system on a device; optional.
    if let Ok(mke2fs) = find_tool("mke2fs") {
        s.program(&mke2fs, "usr/sbin/mke2fs", false)?;
        s.link("mke2fs", "usr/sbin/mkfs.ext4")?;
        if Path::new("/etc/mke2fs.conf").is_file() {
            s.copy(Path::new("/etc/mke2fs.conf"), "etc/mke2fs.conf")?;
        }
    }
    if let Ok(e2fsck) = find_tool("e2fsck") {
        s.program(&e2fsck, "usr/sbin/e2fsck", false)?;
        s.link("e2fsck", "usr/sbin/fsck.ext4")?;
    }

    s.program(&spec.labd, "usr/local/bin/labd", true)?;
    for bin in &spec.binaries {
        let name = bin
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Config(format!("binary {} has no name", bin.display())))?;
        s.program(bin, &format!("usr/local/bin/{name}"), true)?;
    }

    let (modules, builtin) = s.modules(&spec.kernel)?;

    s.write("init", INIT, 0o755)?;
    s.write("etc/lab/modules", &(modules.join("\n") + "\n"), 0o644)?;
    s.write("etc/lab/name", &(spec.hostname.clone() + "\n"), 0o644)?;
    if let Some(hook) = &spec.boot_hook {
        s.write("etc/lab/boot-hook", &(hook.clone() + "\n"), 0o755)?;
    }
    s.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644)?;
    s.write("etc/group", "root:x:0:\n", 0o644)?;
    s.link("/proc/mounts", "etc/mtab")?;

    write_archive(&stage, out, spec.gzip)?;
    let bytes = fs::metadata(out).ctx(io_ctx("reading", out))?.len();
    Ok(InitramfsReport {
        path: out.to_path_buf(),
        bytes,
        modules: s.copied_modules,
        builtin,
    })
}

fn write_archive(stage: &Path, out: &Path, gzip: bool) -> Result<()> {
    let file = fs::File::create(out).ctx(io_ctx("creating", out))?;
    let ctx = io_ctx("writing", out);
    if !gzip {
        fill(CpioWriter::new(BufWriter::new(file)), stage).ctx(ctx)?;
        return Ok(());
    }
    let mut child = Command::new(find_tool("gzip")?)
        .args(["-1", "-n"])
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .ctx(|| "running gzip".into())?;
    let stdin = child.stdin.take().expect("piped stdin");
    // Dropping the finished writer closes gzip's stdin.
    drop(fill(CpioWriter::new(BufWriter::new(stdin)), stage).ctx(ctx)?);
    let st = child.wait().ctx(|| "waiting for gzip".into())?;
    if !st.success() {
        return Err(Error::Other(format!("gzip failed: {st}")));
    }
    Ok(())
}

fn fill<W: Write>(mut w: CpioWriter<W>, stage: &Path) -> std::io::Result<W> {
    w.add_tree(stage)?;
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    w.add_char_dev("dev/console", 0o600, 5, 1)?;
    w.add_char_dev("dev/null", 0o666, 1, 3)?;
    w.finish()
}

/// The staging tree.
struct Stage {
    root: PathBuf,
    strip: Option<PathBuf>,
    libs: BTreeSet<PathBuf>,
    copied_modules: Vec<String>,
}

impl Stage {
    fn new(root: &Path) -> Result<Stage> {
        fs::create_dir_all(root).ctx(io_ctx("creating", root))?;
        Ok(Stage {
            root: root.to_path_buf(),
            strip: find_tool("strip").ok(),
            libs: BTreeSet::new(),
            copied_modules: Vec::new(),
        })
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    fn dir(&self, rel: &str) -> Result<()> {
        let p = self.at(rel);
        fs::create_dir_all(&p).ctx(io_ctx("creating", &p))
    }

    fn parent(&self, rel: &str) -> Result<PathBuf> {
        let p = self.at(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).ctx(io_ctx("creating", parent))?;
        }
        Ok(p)
    }

    fn write(&self, rel: &str, text: &str, mode: u32) -> Result<()> {
        let p = self.parent(rel)?;
        fs::write(&p, text).ctx(io_ctx("writing", &p))?;
        set_mode(&p, mode)
    }

    fn link(&self, target: &str, rel: &str) -> Result<()> {
        let p = self.parent(rel)?;
        let _ = fs::remove_file(&p);
        symlink(target, &p).ctx(io_ctx("linking", &p))
    }

    /// Copies file contents (following symlinks).
    fn copy(&self, src: &Path, rel: &str) -> Result<PathBuf> {
        let p = self.parent(rel)?;
        fs::copy(src, &p).ctx(|| format!("copying {} to {}", src.display(), p.display()))?;
        Ok(p)
    }

    /// Installs a program and the shared libraries it needs. `strip` drops
    /// debug info (debug Rust builds are mostly that) when `strip` exists.
    fn program(&mut self, src: &Path, rel: &str, strip: bool) -> Result<()> {
        let dest = self.parent(rel)?;
        let stripped = match (&self.strip, strip && is_elf(src)) {
            (Some(tool), true) => Command::new(tool)
                .arg("--strip-debug")
                .arg("-o")
                .arg(&dest)
                .arg(src)
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false),
            _ => false,
        };
        if !stripped {
            self.copy(src, rel)?;
        }
        set_mode(&dest, 0o755)?;
        for lib in shared_libs(src)? {
            if self.libs.insert(lib.clone()) {
                let rel = lib.to_str().ok_or_else(|| {
                    Error::Other(format!("non-UTF-8 library path {}", lib.display()))
                })?;
                self.copy(&lib, rel)?;
            }
        }
        Ok(())
    }

    /// Copies [`MODULES`] and their dependencies, runs depmod. Returns the
    /// load order (modules not built in) and the built-in ones.
    fn modules(&mut self, kernel: &Kernel) -> Result<(Vec<String>, Vec<String>)> {
        let src_dir = kernel.modules_dir();
        let index = module_index(&src_dir.join("kernel"))?;
        let builtin: BTreeSet<String> = kernel.builtin_modules()?.into_iter().collect();
        let modinfo = find_tool("modinfo")?;

        let mut load = Vec::new();
        let mut builtin_wanted = Vec::new();
        let mut todo: Vec<String> = MODULES.iter().map(|m| normalize(m)).collect();
        let mut seen = BTreeSet::new();
        while let Some(m) = todo.pop() {
            if !seen.insert(m.clone()) {
                continue;
            }
            let wanted = MODULES.iter().any(|w| normalize(w) == m);
            if builtin.contains(&m) {
                if wanted {
                    builtin_wanted.push(m);
                }
                continue;
            }
            let rel = index.get(&m).ok_or_else(|| {
                Error::Setup(format!("module {m} not in kernel {}", kernel.version))
            })?;
            let src = src_dir.join(rel);
            let dest = format!("lib/modules/{}/{}", kernel.version, rel);
            let data = fs::read(&src).ctx(io_ctx("reading", &src))?;
            let p = self.parent(&dest)?;
            fs::write(&p, strip_module_signature(&data)).ctx(io_ctx("writing", &p))?;
            self.copied_modules.push(m.clone());
            for dep in module_depends(&modinfo, &src)? {
                todo.push(normalize(&dep));
            }
        }
        for m in MODULES {
            let m = normalize(m);
            if !builtin.contains(&m) {
                load.push(m);
            }
        }
        for f in [
            "modules.builtin",
            "modules.builtin.modinfo",
            "modules.order",
        ] {
            let src = src_dir.join(f);
            if src.is_file() {
                self.copy(&src, &format!("lib/modules/{}/{f}", kernel.version))?;
            }
        }
        let out = Command::new(find_tool("depmod")?)
            .arg("-b")
            .arg(&self.root)
            .arg(&kernel.version)
            .output()
            .ctx(|| "running depmod".into())?;
        if !out.status.success() {
            return Err(Error::Other(format!(
                "depmod failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        self.copied_modules.sort();
        Ok((load, builtin_wanted))
    }
}

fn set_mode(p: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).ctx(io_ctx("chmod", p))
}

fn is_elf(p: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(p)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

/// The module without its appended signature. Checking signatures is RSA
/// in software under TCG, for every module at every boot; unsigned modules
/// load the same, with a "module verification failed" taint notice.
fn strip_module_signature(ko: &[u8]) -> &[u8] {
    const MAGIC: &[u8] = b"~Module signature appended~\n";
    // struct module_signature: 8 bytes of ids and lengths, then sig_len (be32).
    const INFO: usize = 12;
    let Some(body) = ko.strip_suffix(MAGIC) else {
        return ko;
    };
    if body.len() < INFO {
        return ko;
    }
    let info = &body[body.len() - INFO..];
    let sig_len = u32::from_be_bytes([info[8], info[9], info[10], info[11]]) as usize;
    match body.len().checked_sub(INFO + sig_len) {
        Some(end) => &ko[..end],
        None => ko,
    }
}

/// Normalized module name -> path relative to the modules dir.
fn module_index(kernel_dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut index = BTreeMap::new();
    let mut stack = vec![kernel_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).ctx(io_ctx("reading", &dir))? {
            let e = e.ctx(io_ctx("reading", &dir))?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(rel) = p
                .strip_prefix(kernel_dir.parent().unwrap_or(kernel_dir))
                .ok()
                .and_then(|r| r.to_str())
            {
                if let Some(name) = module_name(rel) {
                    index.insert(name, rel.to_string());
                }
            }
        }
    }
    Ok(index)
}

fn module_depends(modinfo: &Path, ko: &Path) -> Result<Vec<String>> {
    let out = Command::new(modinfo)
        .args(["-F", "depends"])
        .arg(ko)
        .output()
        .ctx(|| format!("running modinfo on {}", ko.display()))?;
    if !out.status.success() {
        return Err(Error::Other(format!("modinfo {} failed", ko.display())));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// The shared libraries (and the dynamic loader) `ldd` reports for a program;
/// empty for static programs and scripts.
fn shared_libs(program: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new(find_tool("ldd")?)
        .arg(program)
        .output()
        .ctx(|| format!("running ldd on {}", program.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to copy.
        return Ok(Vec::new());
    }
    parse_ldd(&text).map_err(|lib| {
        Error::Setup(format!(
            "{} needs {lib}, which is not on this host",
            program.display()
        ))
    })
}

fn parse_ldd(text: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some((name, rest)) = line.split_once("=>") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                return Err(name.trim().to_string());
            }
            if let Some(path) = rest
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                libs.push(PathBuf::from(path));
            }
        } else if line.starts_with('/') {
            if let Some(path) = line.split_whitespace().next() {
                libs.push(PathBuf::from(path));
            }
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_signature() {
        let mut ko = b"\x7fELF module".to_vec();
        let plain = ko.clone();
        ko.extend_from_slice(b"SIG");
        ko.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
        ko.extend_from_slice(b"~Module signature appended~\n");
        assert_eq!(strip_module_signature(&ko), plain.as_slice());
        assert_eq!(strip_module_signature(&plain), plain.as_slice());
    }

    #[test]
    fn ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert_eq!(
            parse_ldd("\tlibfoo.so => not found\n").unwrap_err(),
            "libfoo.so"
        );
    }
}
