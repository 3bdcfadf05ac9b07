//! Helpers for end-to-end suites: one lab VM per suite, scenarios run in turn with a
//! clean slate, data verified against a model image kept in the guest.
//!
//! Every write goes to a device *and* to the model file of what that device must
//! read back; every check compares the device with the model byte for byte (direct I/O).

pub mod clients;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use dsimage_lab::{DiskSpec, LabConfig, Vm};
use serde_json::Value;

/// State directory and dm prefix the suites use inside the guest.
pub const STATE_DIR: &str = "/var/lib/dsimage/e2e";
pub const PREFIX: &str = "dsitest";
/// Model images live on the state disk so they survive reboots and power cuts.
pub const MODELS: &str = "/var/lib/dsimage/models";

/// Where cargo put the binaries the guest needs.
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target directory");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build --workspace)",
        p.display()
    );
    p
}

/// A scenario: a name and a function over the guest.
pub type Scenario = (&'static str, fn(&mut Guest));

/// The guest as scenarios see it.
#[derive(Debug)]
pub struct Guest {
    pub vm: Vm,
}

impl Guest {
    /// Runs a shell command; panics with its output if it fails.
    pub fn sh(&self, cmd: &str) -> String {
        self.vm
            .exec_ok(cmd)
            .unwrap_or_else(|e| panic!("guest command failed: {cmd}\n{e}"))
    }

    /// Runs a shell command, returns (status, stdout, stderr).
    pub fn try_sh(&self, cmd: &str) -> (i32, String, String) {
        let out = self
            .vm
            .exec(cmd)
            .unwrap_or_else(|e| panic!("guest command could not run: {cmd}\n{e}"));
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `dsimaged <args>` with the suite's state directory and prefix; parses JSON output.
    pub fn engine(&self, args: &str) -> Value {
        let out = self.sh(&format!(
            "dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} {args}"
        ));
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("dsimaged {args}: not JSON ({e}): {out}"))
    }

    /// Runs an engine command expected to fail; returns (exit status, stderr).
    pub fn engine_err(&self, args: &str) -> (i32, String) {
        let (st, out, err) = self.try_sh(&format!(
            "dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} {args}"
        ));
        assert_ne!(st, 0, "dsimaged {args} should have failed, printed {out}");
        (st, err)
    }

    /// The configuration (less its save counter) and every table of the suite's
    /// devices: equal before and after a request that must change nothing.
    pub fn state(&self) -> String {
        self.sh(&format!(
            "grep -v '\"generation\"' {STATE_DIR}/config.json 2>/dev/null; \
             dmsetup table | grep {PREFIX} | sort; true"
        ))
    }

    /// Adds the suite's user (`clients::USER`) and starts `dsimaged serve` in the guest;
    /// returns the host loopback ports of its HTTP and HTTPS listeners (the suite must
    /// forward guest ports 5988 and 5989).
    pub fn start_agent(&self) -> (u16, u16) {
        use clients::{PASSWORD, USER};
        self.sh(&format!(
            "printf '%s\\n' '{PASSWORD}' | dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} \
             adduser {USER} 2>/dev/null"
        ));
        self.sh(&format!(
            "(setsid dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} serve > /tmp/agent.log \
             2>&1 < /dev/null &); \
             for i in $(seq 100); do grep -q 'listening on http ' /tmp/agent.log && break; sleep 0.1; done; \
             grep -q 'listening on http ' /tmp/agent.log || {{ cat /tmp/agent.log; exit 1; }}"
        ));
        let port = |p| {
            self.vm
                .host_port(p)
                .unwrap_or_else(|| panic!("guest port {p} not forwarded"))
        };
        (port(5988), port(5989))
    }

    /// Runs an engine command with the fault `point` injected (`DSIMAGE_FAULT`); it must
    /// fail and say so.
    #[track_caller]
    pub fn engine_fault(&self, point: &str, args: &str) {
        let (st, out, err) = self.try_sh(&format!(
            "DSIMAGE_FAULT={point} dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} {args}"
        ));
        assert_ne!(st, 0, "{args} with fault {point} succeeded: {out}");
        assert!(
            err.contains("injected fault"),
            "{args} with fault {point}: {err}"
        );
    }

    /// Runs an engine command that must die at the injected crash `point`
    /// (`DSIMAGE_CRASH`: SIGKILL, no roll-back).
    #[track_caller]
    pub fn engine_crash(&self, point: &str, args: &str) {
        let (st, out, err) = self.try_sh(&format!(
            "DSIMAGE_CRASH={point} dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} {args}"
        ));
        assert_eq!(
            st, 137,
            "dsimaged {args} with DSIMAGE_CRASH={point} should have been killed (status {st})\n\
             stdout: {out}\nstderr: {err}"
        );
        assert!(
            err.contains(&format!("injected crash at {point}")),
            "crash at {point} not reached by {args}: {err}"
        );
    }

    /// Guest device path of a data disk by serial.
    pub fn disk(&self, serial: &str) -> String {
        self.vm
            .disk_device(serial)
            .unwrap_or_else(|e| panic!("disk {serial}: {e}"))
    }

    /// Writes `len_kib` KiB of fresh random data at `off_kib` to `dev` and to each model.
    pub fn write(&self, dev: &str, models: &[&str], off_kib: u64, len_kib: u64) {
        let mut cmd = format!(
            "set -e; head -c {} /dev/urandom > /tmp/pat; dd if=/tmp/pat of={dev} bs=1024 seek={off_kib} oflag=direct conv=notrunc status=none",
            len_kib * 1024
        );
        for m in models {
            cmd.push_str(&format!(
                "; dd if=/tmp/pat of={MODELS}/{m} bs=1024 seek={off_kib} conv=notrunc status=none"
            ));
        }
        self.sh(&cmd);
    }

    /// Writes fresh random data to `count` single 32 KiB chunks (the default chunk size),
    /// `stride` chunks apart from chunk `first`, of `dev` and of each model, in one guest
    /// command. Scattered writes keep an update's regions at one chunk.
    pub fn write_scattered(&self, dev: &str, models: &[&str], first: u64, count: u64, stride: u64) {
        const CHUNK_KIB: u64 = 32;
        let mut targets = vec![dev.to_string()];
        targets.extend(models.iter().map(|m| format!("{MODELS}/{m}")));
        let mut cmd = format!(
            "set -e; head -c {} /dev/urandom > /tmp/pat; i=0; while [ $i -lt {count} ]; do \
             off=$(( ({first} + i * {stride}) * {CHUNK_KIB} ));",
            count * CHUNK_KIB * 1024
        );
        for (k, t) in targets.iter().enumerate() {
            let direct = if k == 0 { " oflag=direct" } else { "" };
            cmd.push_str(&format!(
                " dd if=/tmp/pat of={t} bs=1024 skip=$((i * {CHUNK_KIB})) seek=$off \
                 count={CHUNK_KIB} conv=notrunc{direct} status=none;"
            ));
        }
        cmd.push_str(" i=$((i + 1)); done");
        self.sh(&cmd);
    }

    /// Starts a model as a copy of the device's current contents.
    pub fn model_from_dev(&self, model: &str, dev: &str) {
        self.sh(&format!(
            "mkdir -p {MODELS}; dd if={dev} of={MODELS}/{model} bs=1M iflag=direct status=none"
        ));
    }

    pub fn model_copy(&self, from: &str, to: &str) {
        self.sh(&format!("cp {MODELS}/{from} {MODELS}/{to}"));
    }

    /// Asserts that `dev` reads back exactly the model (compared in the guest by
    /// `labcmp`, byte for byte, with direct I/O).
    #[track_caller]
    pub fn assert_dev(&self, dev: &str, model: &str) {
        let (st, _, err) = self.try_sh(&format!("labcmp {dev} {MODELS}/{model}"));
        assert_eq!(st, 0, "{dev} does not match model {model}: {}", err.trim());
    }

    /// Fills a whole device with random data and makes that its model.
    pub fn fill(&self, dev: &str, model: &str) {
        self.sh(&format!(
            "mkdir -p {MODELS}; size=$(blockdev --getsize64 {dev}); head -c $size /dev/urandom > {MODELS}/{model}; dd if={MODELS}/{model} of={dev} bs=1M oflag=direct conv=notrunc status=none"
        ));
    }

    /// Removes every device and the state of the previous scenario.
    pub fn reset(&self) {
        // An agent left running by the previous scenario owns the state directory.
        self.sh("killall -q dsimaged; while pidof dsimaged >/dev/null; do sleep 0.1; done; true");
        self.vm
            .sweep_dm(PREFIX)
            .unwrap_or_else(|e| panic!("sweeping dm devices: {e}"));
        self.sh(&format!(
            "rm -rf {STATE_DIR} {MODELS}; mkdir -p {STATE_DIR} {MODELS}"
        ));
    }
}

/// Boots the VM, runs every scenario with a clean slate, prints a summary line that
/// test-result readers understand, takes the VM down, and exits non-zero on failure.
pub fn run_suite(name: &str, disks: &[(&str, u64)], scenarios: &[Scenario]) {
    run_suite_with(name, disks, &[], scenarios)
}

/// As [`run_suite`], with guest TCP ports forwarded to free host loopback ports
/// (see `Vm::host_port`).
pub fn run_suite_with(name: &str, disks: &[(&str, u64)], forward: &[u16], scenarios: &[Scenario]) {
    // Scenario filters: any scenario whose name contains one of them runs.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let lab_dir = dsimage_lab::default_lab_dir(&format!("e2e-{name}"));
    // Fresh disks every run: images of an earlier run may have other sizes or contents.
    let _ = std::fs::remove_dir_all(&lab_dir);
    let cfg = LabConfig {
        name: format!("e2e-{name}"),
        lab_dir,
        disks: disks
            .iter()
            .map(|(s, mib)| DiskSpec {
                serial: s.to_string(),
                size_mib: *mib,
            })
            .collect(),
        state_disk_mib: 512,
        mem_mib: 1024,
        cpus: 2,
        binaries: vec![target_bin("dsimaged"), target_bin("labcmp")],
        forward: forward.to_vec(),
        forward_fixed: Vec::new(),
        boot_hook: None,
    };
    let t = Instant::now();
    let vm = Vm::up(cfg).unwrap_or_else(|e| panic!("lab VM did not come up: {e}"));
    println!("suite {name}: VM up in {:.1} s", t.elapsed().as_secs_f64());
    let mut guest = Guest { vm };
    let (mut passed, mut failed) = (0, 0);
    for (sname, f) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|f| sname.contains(f.as_str())) {
            continue;
        }
        let t = Instant::now();
        guest.reset();
        let r = catch_unwind(AssertUnwindSafe(|| f(&mut guest)));
        match r {
            Ok(()) => {
                passed += 1;
                println!(
                    "test {name}::{sname} ... ok ({:.1} s)",
                    t.elapsed().as_secs_f64()
                );
            }
            Err(_) => {
                failed += 1;
                println!(
                    "test {name}::{sname} ... FAILED ({:.1} s)",
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
    let Guest { vm } = guest;
    let _ = vm.down();
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
