//! The QEMU command line and the QEMU process.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{io_ctx, Context, Error, Result};
use crate::host::{find_tool, pid_alive, signal};

/// Everything QEMU needs besides the config.
#[derive(Debug, Clone)]
pub(crate) struct MachineSpec<'a> {
    pub name: &'a str,
    pub kernel_image: &'a Path,
    pub initrd: &'a Path,
    pub console_log: &'a Path,
    pub mem_mib: u64,
    pub cpus: u32,
    /// (serial, image file), in PCI order: the first is /dev/vda.
    pub disks: Vec<(String, PathBuf)>,
    /// guest port -> host port on 127.0.0.1.
    pub forwards: &'a BTreeMap<u16, u16>,
}

/// `-drive`/`-chardev` option values escape commas by doubling them.
fn opt_path(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

/// The full command line, program first.
pub(crate) fn command_line(m: &MachineSpec) -> Result<Vec<String>> {
    let qemu = match std::env::var_os("DSIMAGE_LAB_QEMU") {
        Some(q) => PathBuf::from(q),
        None => find_tool("qemu-system-x86_64")?,
    };
    let mut a: Vec<String> = vec![qemu.display().to_string()];
    let mut push = |args: &[&str]| a.extend(args.iter().map(|s| s.to_string()));
    push(&["-name", &format!("dsimage-lab-{}", m.name)]);
    push(&["-nodefaults", "-no-user-config", "-display", "none"]);
    // A guest reboot ends QEMU; the host restarts it (Vm::reboot).
    push(&["-no-reboot"]);
    // Nested KVM hangs on the machines this was built on: TCG unless asked.
    if std::env::var("DSIMAGE_LAB_ACCEL").as_deref() == Ok("kvm") {
        push(&["-accel", "kvm", "-cpu", "host"]);
    } else {
        push(&["-accel", "tcg", "-cpu", "max"]);
    }
    push(&["-m", &m.mem_mib.to_string(), "-smp", &m.cpus.to_string()]);
    push(&["-kernel", &m.kernel_image.display().to_string()]);
    push(&["-initrd", &m.initrd.display().to_string()]);
    // panic=-1: a guest panic reboots, which ends QEMU at once instead of hanging.
    push(&[
        "-append",
        "console=ttyS0 panic=-1 loglevel=4 rdinit=/init quiet",
    ]);
    push(&[
        "-chardev",
        &format!("file,id=ser0,path={}", opt_path(m.console_log)),
        "-serial",
        "chardev:ser0",
    ]);
    for (i, (serial, file)) in m.disks.iter().enumerate() {
        // No locking and share-rw: the same image may back disks of two VMs.
        push(&[
            "-drive",
            &format!(
                "file={},format=raw,if=none,id=d{i},file.locking=off,discard=unmap",
                opt_path(file)
            ),
            "-device",
            &format!("virtio-blk-pci,drive=d{i},serial={serial},share-rw=on"),
        ]);
    }
    let mut net = "user,id=n0,restrict=on".to_string();
    for (guest, host) in m.forwards {
        net.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"));
    }
    push(&["-netdev", &net, "-device", "virtio-net-pci,netdev=n0"]);
    Ok(a)
}

/// How the QEMU process is held.
#[derive(Debug)]
pub(crate) enum Process {
    /// QEMU under a watchdog shell that kills it when our end of its stdin
    /// closes, i.e. when this process exits by any means (even a `static`
    /// Vm that is never dropped, or a crash).
    Watched {
        pid: u32,
        watchdog: Child,
        lifeline: Option<ChildStdin>,
    },
    /// `qemu -daemonize`: outlives the process that started it (`lab up`).
    Detached { pid: u32 },
}

/// How to start QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Watched,
    Detached,
}

impl Process {
    pub fn spawn(argv: &[String], mode: Mode, lab_dir: &Path) -> Result<Process> {
        let log = lab_dir.join("qemu.log");
        match mode {
            Mode::Watched => spawn_watched(argv, &log),
            Mode::Detached => spawn_detached(argv, &log, &lab_dir.join("qemu.pid")),
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Process::Watched { pid, .. } | Process::Detached { pid } => *pid,
        }
    }

    pub fn mode(&self) -> Mode {
        match self {
            Process::Watched { .. } => Mode::Watched,
            Process::Detached { .. } => Mode::Detached,
        }
    }

    pub fn alive(&self) -> bool {
        pid_alive(self.pid())
    }

    /// SIGKILL: the power cut.
    pub fn kill(&self) {
        signal(self.pid(), "KILL");
    }

    /// SIGTERM: QEMU shuts down cleanly, flushing its disks.
    pub fn terminate(&self) {
        signal(self.pid(), "TERM");
    }

    /// Waits until QEMU is gone; false on timeout.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while self.alive() {
            if Instant::now() >= end {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Ends QEMU (politely if `grace` is not zero) and releases the watchdog.
    pub fn stop(mut self, grace: Duration) {
        if self.alive() && !grace.is_zero() {
            self.terminate();
            self.wait_exit(grace);
        }
        if self.alive() {
            self.kill();
            self.wait_exit(Duration::from_secs(10));
        }
        self.release();
    }

    fn release(&mut self) {
        if let Process::Watched {
            watchdog, lifeline, ..
        } = self
        {
            // EOF on its stdin makes the watchdog kill (a dead) QEMU, reap it
            // and exit.
            lifeline.take();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Once released, the pid is reaped and may belong to someone else.
        if let Process::Watched {
            lifeline: Some(_), ..
        } = self
        {
            self.kill();
            self.release();
        }
    }
}

fn spawn_watched(argv: &[String], log: &Path) -> Result<Process> {
    let script = r#"log="$1"; shift
"$@" </dev/null >>"$log" 2>&1 &
echo "$!"
read -r _
kill -9 "$!" 2>/dev/null
wait"#;
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("dsimage-lab-watchdog")
        .arg(log)
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ctx(|| "starting QEMU".into())?;
    let mut line = String::new();
    BufReader::new(watchdog.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .ctx(|| "reading the QEMU pid".into())?;
    let pid = line
        .trim()
        .parse()
        .map_err(|_| Error::Other(format!("watchdog printed {line:?}, not a pid")))?;
    let lifeline = watchdog.stdin.take();
    Ok(Process::Watched {
        pid,
        watchdog,
        lifeline,
    })
}

fn spawn_detached(argv: &[String], log: &Path, pidfile: &Path) -> Result<Process> {
    let _ = fs::remove_file(pidfile);
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .ctx(io_ctx("opening", log))?;
    let log_err = log_file.try_clone().ctx(io_ctx("opening", log))?;
    // QEMU forks, the parent exits once the machine is set up (or failed).
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("-daemonize")
        .arg("-pidfile")
        .arg(pidfile)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .ctx(|| "starting QEMU".into())?;
    if !status.success() {
        let tail = fs::read_to_string(log).unwrap_or_default();
        return Err(Error::Other(format!(
            "QEMU failed to start ({status}):\n{tail}"
        )));
    }
    let text = fs::read_to_string(pidfile).ctx(io_ctx("reading", pidfile))?;
    let pid = text
        .trim()
        .parse()
        .map_err(|_| Error::Other(format!("bad pid file {}", pidfile.display())))?;
    Ok(Process::Detached { pid })
}
