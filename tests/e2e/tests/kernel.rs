//! Kernel behaviour that the independent-set copy path relies on, checked with the
//! project's own on-disk formats: a mirror whose disk log was written by
//! `dmtarget::ondisk::disklog` copies exactly the regions the log marks dirty, from a
//! point-in-time snapshot of the master, and the kernel leaves the log all clean.

use dmtarget::bitmap::ChunkBitmap;
use dmtarget::ondisk::disklog::DiskLog;
use dsimage_e2e::{run_suite, Guest, Scenario, MODELS};

const DISKS: &[(&str, u64)] = &[("m", 32), ("s", 32), ("log", 4), ("cow", 32)];

fn main() {
    let scenarios: &[Scenario] = &[(
        "mirror_copies_exactly_the_dirty_regions_of_our_log",
        mirror_copies_exactly_the_dirty_regions,
    )];
    run_suite("kernel", DISKS, scenarios);
}

const REGION_KIB: u64 = 32;

fn mirror_copies_exactly_the_dirty_regions(g: &mut Guest) {
    let (m, s, log, cow) = (g.disk("m"), g.disk("s"), g.disk("log"), g.disk("cow"));
    g.fill(&m, "m");
    g.fill(&s, "s");
    let sectors = 32 * 2048;
    let nr_regions = 32 * 1024 / REGION_KIB;
    let to_copy = [3u64, 10, 11, 500, nr_regions - 1];
    let mut bits = ChunkBitmap::new(nr_regions);
    for r in to_copy {
        bits.set(r).unwrap();
    }
    let bytes = DiskLog::copying(&bits).to_bytes();
    let out =
        g.vm.exec_with_stdin(
            &format!("dd of={log} bs=4096 oflag=direct conv=notrunc status=none"),
            &bytes,
        )
        .expect("writing the log");
    assert!(out.success(), "{}", out.stderr_str());
    // The expected shadow: its old contents, with the chosen regions from the master.
    for r in to_copy {
        g.sh(&format!(
            "dd if={MODELS}/m of={MODELS}/s bs={REGION_KIB}k skip={r} seek={r} count=1 conv=notrunc status=none"
        ));
    }
    g.sh(&format!(
        "dd if=/dev/zero of={cow} bs=4k count=16 oflag=direct status=none; \
         dmsetup create dsitest-origin --table '0 {sectors} snapshot-origin {m}'; \
         dmsetup create dsitest-pit --table '0 {sectors} snapshot {m} {cow} P 64'; \
         dmsetup create dsitest-mirror --table '0 {sectors} mirror disk 2 {log} {} 2 /dev/mapper/dsitest-pit 0 {s} 0 1 handle_errors'",
        REGION_KIB * 2
    ));
    // A write to the master after the point in time must not reach the shadow.
    g.sh("dd if=/dev/urandom of=/dev/mapper/dsitest-origin bs=32k count=1 seek=3 oflag=direct status=none");
    g.sh(&format!(
        "for i in $(seq 600); do dmsetup status dsitest-mirror | grep -q ' {nr_regions}/{nr_regions} ' && exit 0; sleep 0.1; done; dmsetup status dsitest-mirror; exit 1"
    ));
    g.sh(
        "dmsetup remove dsitest-mirror; dmsetup remove dsitest-pit; dmsetup remove dsitest-origin",
    );
    g.assert_dev(&s, "s");
    let out =
        g.vm.exec(&format!(
            "dd if={log} bs=4096 count=1 iflag=direct status=none"
        ))
        .expect("reading the log");
    let after = DiskLog::from_bytes(&out.stdout)
        .expect("the kernel's log parses")
        .expect("the log is formatted");
    assert_eq!(after.nr_regions(), nr_regions);
    assert!(
        after.dirty().is_empty(),
        "regions left dirty: {:?}",
        after.dirty().iter().collect::<Vec<_>>()
    );
}
