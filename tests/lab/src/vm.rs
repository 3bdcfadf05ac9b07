//! [`Vm`]: a running lab VM and what tests do with it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{LabConfig, STATE_SERIAL};
use crate::error::{io_ctx, Context, Error, Result};
use crate::guest;
use crate::host::{free_ports, pid_runs, sh_quote};
use crate::initramfs::{self, InitramfsSpec};
use crate::kernel::Kernel;
use crate::protocol::{Request, LABD_PORT};
use crate::qemu::{self, MachineSpec, Mode, Process};

/// Extra time the host waits beyond a command's own timeout before it
/// declares the guest hung.
const HOST_SLACK: Duration = Duration::from_secs(30);
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// A read-only state disk needs no journal replay at the next boot
/// (remounting fails harmlessly while a file there is open for writing).
const CLEAN_STOP_REBOOT: &str = "mount -o remount,ro /var/lib/dsimage 2>/dev/null; sync; reboot -f";
const CLEAN_STOP_POWEROFF: &str =
    "mount -o remount,ro /var/lib/dsimage 2>/dev/null; sync; poweroff -f";
/// What /init prints once labd runs (see init.sh).
const READY_LINE: &[u8] = b"lab: ready";

/// What a guest command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// What `<lab_dir>/vm.json` holds: enough for another process to use and
/// restart the VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    config: LabConfig,
    pid: u32,
    mode: Mode,
    /// guest port -> host port on 127.0.0.1 (labd's included).
    ports: BTreeMap<u16, u16>,
    argv: Vec<String>,
    boot_ms: u64,
}

impl Record {
    fn path(lab_dir: &Path) -> PathBuf {
        lab_dir.join("vm.json")
    }

    fn load(lab_dir: &Path) -> Result<Record> {
        let p = Record::path(lab_dir);
        let text = fs::read_to_string(&p).ctx(io_ctx("reading", &p))?;
        serde_json::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", p.display())))
    }

    fn save(&self) -> Result<()> {
        let p = Record::path(&self.config.lab_dir);
        let tmp = p.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("record serializes");
        fs::write(&tmp, text + "\n").ctx(io_ctx("writing", &tmp))?;
        fs::rename(&tmp, &p).ctx(io_ctx("writing", &p))
    }
}

/// A lab VM. From [`Vm::up`] it owns QEMU: dropping it (or this process
/// ending in any way) stops the VM. From [`Vm::up_detached`] or
/// [`Vm::attach`] QEMU lives on until [`Vm::down`].
#[derive(Debug)]
pub struct Vm {
    rec: Record,
    process: Option<Process>,
    owned: bool,
    boot_time: Duration,
    exec_timeout: Duration,
}

impl Vm {
    /// Builds the initramfs, creates missing disks, boots and waits for labd.
    pub fn up(cfg: LabConfig) -> Result<Vm> {
        Vm::start(cfg, Mode::Watched)
    }

    /// Like [`Vm::up`], but QEMU runs daemonized and outlives this process.
    pub fn up_detached(cfg: LabConfig) -> Result<Vm> {
        Vm::start(cfg, Mode::Detached)
    }

    /// A VM another process started, from its `vm.json`.
    pub fn attach(lab_dir: &Path) -> Result<Vm> {
        let rec = Record::load(lab_dir).map_err(|_| not_running(lab_dir))?;
        if !pid_runs(rec.pid, "qemu") {
            return Err(not_running(lab_dir));
        }
        Ok(Vm {
            boot_time: Duration::from_millis(rec.boot_ms),
            process: Some(Process::Detached { pid: rec.pid }),
            rec,
            owned: false,
            exec_timeout: DEFAULT_EXEC_TIMEOUT,
        })
    }

    fn start(cfg: LabConfig, mode: Mode) -> Result<Vm> {
        cfg.validate()?;
        let dir = cfg.lab_dir.clone();
        fs::create_dir_all(&dir).ctx(io_ctx("creating", &dir))?;
        if let Ok(old) = Record::load(&dir) {
            if pid_runs(old.pid, "qemu") {
                return Err(Error::Other(format!(
                    "a VM already runs in {} (qemu pid {}); stop it first (lab down)",
                    dir.display(),
                    old.pid
                )));
            }
        }
        let kernel = Kernel::find()?;
        let initrd = dir.join("initramfs.cpio");
        initramfs::build(
            &InitramfsSpec {
                kernel: kernel.clone(),
                labd: locate_labd()?,
                binaries: cfg.binaries.clone(),
                boot_hook: cfg.boot_hook.clone(),
                hostname: cfg.name.clone(),
                gzip: false,
            },
            &initrd,
        )?;
        let disks = prepare_disks(&cfg)?;

        let mut guest_ports = vec![LABD_PORT];
        for p in &cfg.forward {
            if !guest_ports.contains(p) {
                guest_ports.push(*p);
            }
        }
        guest_ports.retain(|g| !cfg.forward_fixed.iter().any(|(fg, _)| fg == g));
        let mut ports: BTreeMap<u16, u16> = guest_ports
            .iter()
            .copied()
            .zip(free_ports(guest_ports.len())?)
            .collect();
        ports.extend(cfg.forward_fixed.iter().copied());
        let argv = qemu::command_line(&MachineSpec {
            name: &cfg.name,
            kernel_image: &kernel.boot_image(),
            initrd: &initrd,
            console_log: &dir.join("console.log"),
            mem_mib: cfg.mem_mib,
            cpus: cfg.cpus,
            disks,
            forwards: &ports,
        })?;
        let mut vm = Vm {
            rec: Record {
                config: cfg,
                pid: 0,
                mode,
                ports,
                argv,
                boot_ms: 0,
            },
            process: None,
            owned: mode == Mode::Watched,
            boot_time: Duration::ZERO,
            exec_timeout: DEFAULT_EXEC_TIMEOUT,
        };
        vm.boot(mode)?;
        Ok(vm)
    }

    /// Starts QEMU with the recorded command line and waits for labd.
    fn boot(&mut self, mode: Mode) -> Result<()> {
        let dir = self.lab_dir().to_path_buf();
        let console = dir.join("console.log");
        // Keep the previous boot's console: it shows how the guest went down.
        if console.exists() {
            let _ = fs::rename(&console, dir.join("console.prev.log"));
        }
        let start = Instant::now();
        let process = Process::spawn(&self.rec.argv, mode, &dir)?;
        self.rec.pid = process.pid();
        self.rec.mode = mode;
        self.process = Some(process);
        if let Err(e) = self.wait_ready(start + boot_timeout()) {
            if let Some(p) = self.process.take() {
                p.stop(Duration::ZERO);
            }
            return Err(e);
        }
        self.boot_time = start.elapsed();
        self.rec.boot_ms = self.boot_time.as_millis() as u64;
        self.rec.save()
    }

    fn wait_ready(&self, deadline: Instant) -> Result<()> {
        let ping = Request {
            cmd: "true".into(),
            stdin: Vec::new(),
            timeout: Some(Duration::from_secs(5)),
        };
        // Connecting early is worse than waiting: QEMU's user network accepts
        // at once and then retries the guest with growing backoff, so a ping
        // sent before labd listens answers seconds late. /init prints this
        // line right after starting labd; pinging blind only if it never comes.
        let console = self.console_log();
        let blind_after = Instant::now() + Duration::from_secs(30);
        let init_ready = || {
            fs::read(&console)
                .map(|b| b.windows(READY_LINE.len()).any(|w| w == READY_LINE))
                .unwrap_or(false)
        };
        loop {
            if !self.alive() {
                let log = fs::read_to_string(self.lab_dir().join("qemu.log")).unwrap_or_default();
                return Err(self.boot_error(format!(
                    "QEMU exited while booting\n--- qemu.log ---\n{}",
                    tail(&log, 20)
                )));
            }
            if Instant::now() >= blind_after || init_ready() {
                let answer = guest::call(self.labd_port(), &ping, Some(Duration::from_secs(2)));
                if matches!(answer, Ok(r) if r.status == 0) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.boot_error(format!(
                    "labd did not answer within {}s",
                    boot_timeout().as_secs()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn boot_error(&self, reason: String) -> Error {
        let console = self.console_log();
        let text = fs::read_to_string(&console).unwrap_or_default();
        Error::Boot {
            name: self.name().to_string(),
            reason,
            console: console.display().to_string(),
            tail: tail(&text, 40),
        }
    }

    fn alive(&self) -> bool {
        self.process.as_ref().is_some_and(Process::alive)
    }

    fn labd_port(&self) -> u16 {
        self.rec.ports[&LABD_PORT]
    }

    pub fn name(&self) -> &str {
        &self.rec.config.name
    }

    pub fn lab_dir(&self) -> &Path {
        &self.rec.config.lab_dir
    }

    pub fn config(&self) -> &LabConfig {
        &self.rec.config
    }

    /// The serial console of the current boot.
    pub fn console_log(&self) -> PathBuf {
        self.lab_dir().join("console.log")
    }

    /// QEMU's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.alive().then_some(self.rec.pid)
    }

    /// The host port on 127.0.0.1 that reaches a forwarded guest port.
    pub fn host_port(&self, guest_port: u16) -> Option<u16> {
        self.rec.ports.get(&guest_port).copied()
    }

    /// All forwards, guest port -> host port (labd's included).
    pub fn ports(&self) -> &BTreeMap<u16, u16> {
        &self.rec.ports
    }

    /// From starting QEMU to labd's first answer, for the latest boot.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// Timeout for [`Vm::exec`] and friends (default 10 minutes). The guest
    /// kills the command's process group when it expires (status 124).
    pub fn set_exec_timeout(&mut self, timeout: Duration) {
        self.exec_timeout = timeout;
    }

    pub fn exec(&self, cmd: &str) -> Result<Output> {
        self.exec_full(cmd, &[], self.exec_timeout)
    }

    pub fn exec_with_stdin(&self, cmd: &str, stdin: &[u8]) -> Result<Output> {
        self.exec_full(cmd, stdin, self.exec_timeout)
    }

    /// Stdout of a command that must succeed; otherwise an
    /// [`Error::Command`] with its status and stderr.
    pub fn exec_ok(&self, cmd: &str) -> Result<String> {
        let out = self.exec(cmd)?;
        if !out.success() {
            return Err(Error::Command {
                cmd: cmd.to_string(),
                status: out.status,
                stdout: out.stdout_str(),
                stderr: out.stderr_str(),
            });
        }
        Ok(out.stdout_str())
    }

    /// Runs `cmd` with `/bin/sh -c` in the guest, feeding `stdin`.
    pub fn exec_full(&self, cmd: &str, stdin: &[u8], timeout: Duration) -> Result<Output> {
        let req = Request {
            cmd: cmd.to_string(),
            stdin: stdin.to_vec(),
            timeout: Some(timeout),
        };
        match guest::call(self.labd_port(), &req, Some(timeout + HOST_SLACK)) {
            Ok(r) => Ok(Output {
                status: r.status,
                stdout: r.stdout,
                stderr: r.stderr,
            }),
            Err(_) if !self.alive() => {
                Err(self.boot_error(format!("QEMU is gone (guest crashed?) during: {cmd}")))
            }
            Err(e) => Err(Error::Io {
                context: format!("running `{cmd}` in VM {}", self.name()),
                source: e,
            }),
        }
    }

    /// Copies a host file into the guest (parents created, mode kept).
    pub fn copy_in(&self, local: &Path, remote: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = fs::read(local).ctx(io_ctx("reading", local))?;
        let mode = fs::metadata(local)
            .ctx(io_ctx("reading", local))?
            .permissions()
            .mode()
            & 0o7777;
        let q = sh_quote(remote);
        let cmd = format!("mkdir -p \"$(dirname {q})\" && cat > {q} && chmod {mode:o} {q}");
        let out = self.exec_with_stdin(&cmd, &data)?;
        if !out.success() {
            return Err(Error::Command {
                cmd,
                status: out.status,
                stdout: out.stdout_str(),
                stderr: out.stderr_str(),
            });
        }
        Ok(())
    }

    /// `sync; reboot -f` in the guest: QEMU exits (-no-reboot) and is started
    /// again with the same disks and ports.
    pub fn reboot(&mut self) -> Result<()> {
        self.exec_full("sync", &[], Duration::from_secs(120))?;
        let _ = guest::fire(self.labd_port(), CLEAN_STOP_REBOOT);
        self.restart(Duration::from_secs(60))
    }

    /// SIGKILL to QEMU: whatever the guest did not write out is lost. Then
    /// starts it again with the same disks and ports.
    pub fn power_cut(&mut self) -> Result<()> {
        if let Some(p) = &self.process {
            p.kill();
        }
        self.restart(Duration::from_secs(10))
    }

    fn restart(&mut self, wait: Duration) -> Result<()> {
        let mode = self.process.as_ref().map_or(Mode::Detached, Process::mode);
        if let Some(p) = self.process.take() {
            if !p.wait_exit(wait) {
                eprintln!(
                    "lab: VM {} did not stop within {}s, killing it",
                    self.name(),
                    wait.as_secs()
                );
            }
            p.stop(Duration::ZERO);
        }
        self.boot(mode)
    }

    /// Powers the VM off (sync first). Disks stay for the next `up`.
    pub fn down(mut self) -> Result<()> {
        self.shutdown();
        Ok(())
    }

    /// [`Vm::down`], then removes the lab directory with its disks.
    pub fn destroy(mut self) -> Result<()> {
        self.shutdown();
        let dir = self.lab_dir().to_path_buf();
        fs::remove_dir_all(&dir).ctx(io_ctx("removing", &dir))
    }

    fn shutdown(&mut self) {
        if let Some(p) = self.process.take() {
            if p.alive() {
                let _ = self.exec_full("sync", &[], Duration::from_secs(30));
                let _ = guest::fire(self.labd_port(), CLEAN_STOP_POWEROFF);
                p.wait_exit(Duration::from_secs(15));
            }
            p.stop(Duration::from_secs(5));
        }
        let _ = fs::remove_file(Record::path(self.lab_dir()));
    }

    /// The /dev node of the disk with this serial ("/dev/vdc").
    pub fn disk_device(&self, serial: &str) -> Result<String> {
        let out = self.exec_ok(&format!(
            "grep -lx {} /sys/block/*/serial",
            sh_quote(serial)
        ));
        let first = out.ok().and_then(|o| o.lines().next().map(str::to_string));
        first
            .and_then(|l| {
                l.strip_prefix("/sys/block/")
                    .and_then(|r| r.strip_suffix("/serial"))
                    .map(|d| format!("/dev/{d}"))
            })
            .ok_or_else(|| Error::Other(format!("no disk with serial {serial:?} in the guest")))
    }

    /// The state disk (/var/lib/dsimage in the guest).
    pub fn state_device(&self) -> Result<String> {
        self.disk_device(STATE_SERIAL)
    }

    /// Removes every dm device whose name starts with `prefix`, upper layers
    /// first (by retrying whatever is still busy). Returns how many went.
    pub fn sweep_dm(&self, prefix: &str) -> Result<usize> {
        let mut removed = 0;
        let mut forced = false;
        loop {
            let names = self.dm_names(prefix)?;
            if names.is_empty() {
                return Ok(removed);
            }
            let mut progress = false;
            for n in &names {
                let q = sh_quote(n);
                // A suspended device would block I/O from the layer above.
                let cmd = if forced {
                    format!("dmsetup resume {q}; dmsetup remove --force {q}")
                } else {
                    format!("dmsetup remove {q}")
                };
                if self.exec(&cmd)?.success() {
                    removed += 1;
                    progress = true;
                }
            }
            if !progress {
                if forced {
                    return Err(Error::Other(format!(
                        "dm devices still busy: {}",
                        names.join(", ")
                    )));
                }
                forced = true;
            }
        }
    }

    fn dm_names(&self, prefix: &str) -> Result<Vec<String>> {
        let out = self.exec_ok("dmsetup ls")?;
        // "name\t(253:0)" per device, or "No devices found".
        Ok(out
            .lines()
            .filter(|l| l.contains('('))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect())
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.owned {
            if let Some(p) = self.process.take() {
                p.stop(Duration::ZERO);
            }
            let _ = fs::remove_file(Record::path(self.lab_dir()));
        }
    }
}

fn not_running(lab_dir: &Path) -> Error {
    Error::Other(format!("no VM running in {}", lab_dir.display()))
}

fn boot_timeout() -> Duration {
    std::env::var("DSIMAGE_LAB_BOOT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_BOOT_TIMEOUT, Duration::from_secs)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// State disk first (formatted ext4 when new), then the data disks. Missing
/// images are created sparse; smaller ones grow (never shrink).
fn prepare_disks(cfg: &LabConfig) -> Result<Vec<(String, PathBuf)>> {
    let mut disks = Vec::new();
    let state = cfg.lab_dir.join("state.img");
    if sparse_file(&state, cfg.state_disk_mib)? {
        let out = std::process::Command::new(crate::host::find_tool("mkfs.ext4")?)
            .args(["-F", "-q", "-L", "dsimage-state"])
            .arg(&state)
            .output()
            .ctx(|| "running mkfs.ext4".into())?;
        if !out.status.success() {
            let _ = fs::remove_file(&state);
            return Err(Error::Other(format!(
                "mkfs.ext4 {} failed: {}",
                state.display(),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
    }
    disks.push((STATE_SERIAL.to_string(), state));
    for d in &cfg.disks {
        let path = cfg.lab_dir.join(format!("{}.img", d.serial));
        sparse_file(&path, d.size_mib)?;
        disks.push((d.serial.clone(), path));
    }
    Ok(disks)
}

/// Ensures a file of at least `mib` MiB; true when it was created.
fn sparse_file(path: &Path, mib: u64) -> Result<bool> {
    let created = !path.exists();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ctx(io_ctx("creating", path))?;
    let want = mib << 20;
    if f.metadata().ctx(io_ctx("reading", path))?.len() < want {
        f.set_len(want).ctx(io_ctx("sizing", path))?;
    }
    Ok(created)
}

/// labd is built with this crate: `$DSIMAGE_LABD`, else next to the running
/// program (target/debug/lab) or one level up (target/debug/deps/<test>).
fn locate_labd() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("DSIMAGE_LABD") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ctx(|| "locating the running program".into())?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join("labd"))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::Other(format!(
                "labd not found at {}; build it (cargo build -p dsimage-lab) or set DSIMAGE_LABD",
                candidates[0].display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_is_shareable_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<Vm>();
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "");
    }
}
