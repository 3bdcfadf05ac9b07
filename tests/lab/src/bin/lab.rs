//! `lab`: the lab VM for people and scripts (see `scripts/lab`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dsimage_lab::initramfs::{self, InitramfsSpec};
use dsimage_lab::kernel::Kernel;
use dsimage_lab::{default_lab_dir, DiskSpec, LabConfig, Result, Vm};

#[derive(Debug, Parser)]
#[command(
    name = "lab",
    about = "The dsimage lab VM (QEMU, real kernel, device-mapper)",
    after_help = "Lab directories are <repo>/.lab/<name>, or $DSIMAGE_LAB_DIR/<name>."
)]
struct Cli {
    /// Which lab VM.
    #[arg(long, global = true, default_value = "default")]
    name: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Boot the VM (in the background unless --foreground).
    Up {
        /// A data disk, SERIAL:MIB (repeatable).
        #[arg(long = "disk", value_parser = parse_disk)]
        disks: Vec<DiskSpec>,
        /// A guest TCP port to forward from a free host port, or GUEST:HOST to
        /// forward from a chosen host port (repeatable).
        #[arg(long = "forward", value_parser = parse_forward)]
        forward: Vec<(u16, Option<u16>)>,
        /// A host program to install in /usr/local/bin (repeatable).
        #[arg(long = "bin")]
        binaries: Vec<PathBuf>,
        /// Shell script run at every boot once labd is up.
        #[arg(long)]
        hook: Option<String>,
        #[arg(long, default_value_t = 1024)]
        mem: u64,
        #[arg(long, default_value_t = 2)]
        cpus: u32,
        #[arg(long, default_value_t = 256)]
        state_mib: u64,
        /// Stay attached; Ctrl-C stops the VM.
        #[arg(long)]
        foreground: bool,
    },
    /// Run a shell command in the guest; exits with its status.
    Exec {
        /// Pass this program's stdin to the command.
        #[arg(long)]
        stdin: bool,
        /// Seconds before the guest kills the command (status 124).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        cmd: Vec<String>,
    },
    /// Copy a host file into the guest.
    Cp { local: PathBuf, remote: String },
    /// sync + reboot -f in the guest, then boot again with the same disks.
    Reboot,
    /// Kill QEMU without warning, then boot again with the same disks.
    PowerCut,
    /// Power the VM off.
    Down {
        /// Also delete the lab directory and its disks.
        #[arg(long)]
        rm: bool,
    },
    /// Show whether the VM runs, its pid and ports.
    Status,
    /// Build an initramfs only (what `up` boots).
    Initramfs {
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "bin")]
        binaries: Vec<PathBuf>,
        #[arg(long)]
        hook: Option<String>,
        #[arg(long)]
        gzip: bool,
    },
}

fn parse_disk(s: &str) -> std::result::Result<DiskSpec, String> {
    let (serial, mib) = s.split_once(':').ok_or("expected SERIAL:MIB")?;
    let mib = mib.parse().map_err(|_| format!("bad size {mib:?}"))?;
    Ok(DiskSpec::new(serial, mib))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `GUEST` or `GUEST:HOST`.
fn parse_forward(s: &str) -> std::result::Result<(u16, Option<u16>), String> {
    let port = |p: &str| p.parse::<u16>().map_err(|e| format!("bad port {p:?}: {e}"));
    match s.split_once(':') {
        Some((g, h)) => Ok((port(g)?, Some(port(h)?))),
        None => Ok((port(s)?, None)),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let dir = default_lab_dir(&cli.name);
    match cli.cmd {
        Cmd::Up {
            disks,
            forward,
            binaries,
            hook,
            mem,
            cpus,
            state_mib,
            foreground,
        } => {
            let cfg = LabConfig {
                disks,
                forward: forward
                    .iter()
                    .filter(|(_, h)| h.is_none())
                    .map(|(g, _)| *g)
                    .collect(),
                forward_fixed: forward
                    .iter()
                    .filter_map(|(g, h)| h.map(|h| (*g, h)))
                    .collect(),
                binaries,
                boot_hook: hook,
                mem_mib: mem,
                cpus,
                state_disk_mib: state_mib,
                ..LabConfig::new(&cli.name)
            };
            let vm = if foreground {
                Vm::up(cfg)?
            } else {
                Vm::up_detached(cfg)?
            };
            print_status(&vm);
            if foreground {
                wait_foreground(vm);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec {
            stdin,
            timeout,
            cmd,
        } => {
            let vm = Vm::attach(&dir)?;
            let mut input = Vec::new();
            if stdin {
                std::io::stdin()
                    .read_to_end(&mut input)
                    .map_err(|e| dsimage_lab::Error::Other(format!("reading stdin: {e}")))?;
            }
            let out = vm.exec_full(&cmd.join(" "), &input, Duration::from_secs(timeout))?;
            let _ = std::io::stdout().write_all(&out.stdout);
            let _ = std::io::stderr().write_all(&out.stderr);
            Ok(ExitCode::from(out.status.clamp(0, 255) as u8))
        }
        Cmd::Cp { local, remote } => {
            Vm::attach(&dir)?.copy_in(&local, &remote)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reboot => {
            let mut vm = Vm::attach(&dir)?;
            vm.reboot()?;
            print_status(&vm);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::PowerCut => {
            let mut vm = Vm::attach(&dir)?;
            vm.power_cut()?;
            print_status(&vm);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { rm } => {
            match Vm::attach(&dir) {
                Ok(vm) if rm => vm.destroy()?,
                Ok(vm) => vm.down()?,
                Err(_) if rm && dir.exists() => std::fs::remove_dir_all(&dir)
                    .map_err(|e| dsimage_lab::Error::Other(format!("{}: {e}", dir.display())))?,
                Err(_) => eprintln!("lab: VM {} is not running", cli.name),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status => match Vm::attach(&dir) {
            Ok(vm) => {
                print_status(&vm);
                Ok(ExitCode::SUCCESS)
            }
            Err(_) => {
                println!("VM {} is down ({})", cli.name, dir.display());
                Ok(ExitCode::FAILURE)
            }
        },
        Cmd::Initramfs {
            out,
            binaries,
            hook,
            gzip,
        } => {
            let labd = std::env::var_os("DSIMAGE_LABD")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let exe = std::env::current_exe().unwrap_or_default();
                    exe.with_file_name("labd")
                });
            let report = initramfs::build(
                &InitramfsSpec {
                    kernel: Kernel::find()?,
                    labd,
                    binaries,
                    boot_hook: hook,
                    hostname: cli.name,
                    gzip,
                },
                &out,
            )?;
            println!("{} ({} KiB)", report.path.display(), report.bytes / 1024);
            println!("modules: {}", report.modules.join(" "));
            if !report.builtin.is_empty() {
                println!("built in: {}", report.builtin.join(" "));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_status(vm: &Vm) {
    println!(
        "VM {} up: qemu pid {}, booted in {:.1}s, dir {}",
        vm.name(),
        vm.pid().map_or("-".into(), |p| p.to_string()),
        vm.boot_time().as_secs_f64(),
        vm.lab_dir().display()
    );
    for (guest, host) in vm.ports() {
        println!("guest {guest} -> 127.0.0.1:{host}");
    }
}

/// Holds the VM until QEMU ends. If another `lab` restarted it meanwhile
/// (reboot, power-cut), it now runs detached: leave without stopping it.
fn wait_foreground(vm: Vm) {
    let mine = vm.pid();
    while vm.pid().is_some() {
        thread::sleep(Duration::from_secs(1));
    }
    if let Ok(other) = Vm::attach(vm.lab_dir()) {
        if other.pid() != mine {
            println!("VM {} continues in the background", vm.name());
            // Skip Vm's Drop: it would delete the new QEMU's vm.json.
            std::process::exit(0);
        }
    }
    println!("VM {} stopped", vm.name());
}
