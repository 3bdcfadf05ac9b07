//! The lab itself: boots one VM and checks what the dsimage tests rely on.
//! Needs `scripts/deps` (QEMU, busybox, dmsetup, the kernel); takes about a
//! minute under TCG. Run with `cargo test -p dsimage-lab --test boot -- --nocapture`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use dsimage_lab::{default_lab_dir, Error, LabConfig, Vm};

const PATTERN_MIB: usize = 4;

fn pattern(seed: u8) -> Vec<u8> {
    (0..PATTERN_MIB << 20)
        .map(|i: usize| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

/// Checksum of the first PATTERN_MIB MiB of a guest device.
fn guest_sum(vm: &Vm, dev: &str) -> String {
    vm.exec_ok(&format!("head -c {} {dev} | sha256sum", PATTERN_MIB << 20))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The host image file must hold what the guest wrote (it reached QEMU).
fn host_holds(vm: &Vm, serial: &str, expected: &[u8]) -> bool {
    let mut got = vec![0u8; expected.len()];
    fs::File::open(vm.lab_dir().join(format!("{serial}.img")))
        .and_then(|mut f| f.read_exact(&mut got))
        .unwrap();
    got == expected
}

#[test]
fn lab_vm_boots_persists_and_runs_commands() {
    let dir = default_lab_dir("test-boot");
    if let Ok(old) = Vm::attach(&dir) {
        old.down().unwrap();
    }
    let _ = fs::remove_dir_all(&dir);
    let mut cfg = LabConfig::new("test-boot")
        .disk("alpha", 64)
        .disk("beta", 32);
    cfg.lab_dir = dir;
    cfg.forward = vec![5988];
    let mut vm = Vm::up(cfg).unwrap();
    println!("boot time: {:.1}s", vm.boot_time().as_secs_f64());

    // The device-mapper targets dsimage builds on.
    let targets = vm.exec_ok("dmsetup targets").unwrap();
    for t in [
        "snapshot",
        "snapshot-origin",
        "snapshot-merge",
        "mirror",
        "era",
        "linear",
    ] {
        assert!(
            targets
                .lines()
                .any(|l| l.split_whitespace().next() == Some(t)),
            "target {t} missing:\n{targets}"
        );
    }
    vm.exec_ok("era_dump --version && era_invalidate --version")
        .unwrap();

    // Disks by serial; only labd's port and the asked forward are open.
    let alpha = vm.disk_device("alpha").unwrap();
    let beta = vm.disk_device("beta").unwrap();
    assert_ne!(alpha, beta);
    assert_eq!(vm.disk_device("state").unwrap(), "/dev/vda");
    assert!(vm.disk_device("nope").is_err());
    assert_eq!(vm.ports().len(), 2);
    assert!(vm.host_port(5988).is_some());
    assert!(vm.host_port(22).is_none());
    vm.exec_ok("grep -q ' /var/lib/dsimage ext4 ' /proc/mounts")
        .unwrap();

    // Status, stdout, stderr and stdin pass through.
    let out = vm.exec("echo to-out; echo to-err >&2; exit 7").unwrap();
    assert_eq!(out.status, 7);
    assert_eq!(out.stdout_str(), "to-out\n");
    assert_eq!(out.stderr_str(), "to-err\n");
    match vm.exec_ok("echo nope >&2; false") {
        Err(Error::Command {
            status,
            stderr,
            cmd,
            ..
        }) => {
            assert_eq!((status, stderr.as_str()), (1, "nope\n"));
            assert!(cmd.contains("false"));
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let echoed = vm.exec_with_stdin("cat", &binary).unwrap();
    assert!(echoed.success());
    assert_eq!(echoed.stdout, binary);
    let t = Instant::now();
    let slow = vm
        .exec_full("sleep 30 | cat", &[], Duration::from_secs(1))
        .unwrap();
    assert_eq!(slow.status, 124);
    assert!(t.elapsed() < Duration::from_secs(10));

    // copy_in keeps content and mode.
    let local = std::env::temp_dir().join(format!("dsimage-lab-{}.sh", std::process::id()));
    fs::write(&local, "#!/bin/sh\necho copied \"$1\"\n").unwrap();
    fs::set_permissions(&local, fs::Permissions::from_mode(0o755)).unwrap();
    vm.copy_in(&local, "/tmp/sub dir/hello.sh").unwrap();
    fs::remove_file(&local).unwrap();
    assert_eq!(
        vm.exec_ok("'/tmp/sub dir/hello.sh' ok").unwrap(),
        "copied ok\n"
    );

    // sweep_dm removes stacked devices top-down and leaves others alone.
    vm.exec_ok(&format!(
        "dmsetup create tb-low --table '0 2048 linear {alpha} 0' && \
         dmsetup create tb-high --table '0 2048 linear /dev/mapper/tb-low 0' && \
         dmsetup create keep-me --table '0 2048 linear {beta} 0'"
    ))
    .unwrap();
    assert_eq!(vm.sweep_dm("tb-").unwrap(), 2);
    let left = vm.exec_ok("dmsetup ls").unwrap();
    assert_eq!(left.lines().count(), 1, "{left}");
    assert!(left.starts_with("keep-me"), "{left}");
    assert_eq!(vm.sweep_dm("keep-").unwrap(), 1);

    // A synced write survives a clean reboot...
    let first = pattern(1);
    vm.exec_with_stdin(&format!("dd of={alpha} bs=1M 2>/dev/null && sync"), &first)
        .unwrap();
    let sum = guest_sum(&vm, &alpha);
    vm.exec_ok("echo kept > /var/lib/dsimage/marker && sync")
        .unwrap();
    vm.reboot().unwrap();
    println!(
        "boot time after reboot: {:.1}s",
        vm.boot_time().as_secs_f64()
    );
    let alpha = vm.disk_device("alpha").unwrap();
    assert_eq!(guest_sum(&vm, &alpha), sum);
    assert!(host_holds(&vm, "alpha", &first));
    assert_eq!(vm.exec_ok("cat /var/lib/dsimage/marker").unwrap(), "kept\n");

    // ...and a power cut.
    let second = pattern(2);
    vm.exec_with_stdin(&format!("dd of={alpha} bs=1M 2>/dev/null"), &second)
        .unwrap();
    let sum = guest_sum(&vm, &alpha);
    vm.exec_ok("sync").unwrap();
    vm.power_cut().unwrap();
    println!(
        "boot time after power cut: {:.1}s",
        vm.boot_time().as_secs_f64()
    );
    let alpha = vm.disk_device("alpha").unwrap();
    assert_eq!(guest_sum(&vm, &alpha), sum);
    assert!(host_holds(&vm, "alpha", &second));

    // Another process can use the VM through vm.json.
    let other = Vm::attach(vm.lab_dir()).unwrap();
    assert_eq!(other.exec_ok("echo attached").unwrap(), "attached\n");
    drop(other);
    assert!(
        vm.pid().is_some(),
        "dropping an attached Vm must not stop QEMU"
    );

    vm.down().unwrap();
}
