//! Independent sets end to end on the real kernel: the point in time is the moment of
//! enable, the shadow is usable at once, the kernel copies in the background, copies
//! run in both directions, a power cut in the middle of a copy resumes it.

use dsimage_e2e::{run_suite, Guest, Scenario, STATE_DIR};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[
    ("m1", 64),
    ("s1", 64),
    ("b1", 16),
    ("s2", 64),
    ("b2", 16),
    ("x1", 48),
];

/// Chunk size of the sets here (the default), in KiB.
const CHUNK_KIB: u64 = 32;

fn main() {
    let scenarios: &[Scenario] = &[
        (
            "enable_copies_the_point_in_time",
            enable_copies_the_point_in_time,
        ),
        ("copy_back_to_the_master", copy_back_to_the_master),
        (
            "power_cut_during_a_copy_resumes",
            power_cut_during_a_copy_resumes,
        ),
        (
            "update_copies_only_what_changed",
            update_copies_only_what_changed,
        ),
        (
            "several_shadows_see_a_copy_to_the_master",
            several_shadows_see_a_copy_to_the_master,
        ),
        (
            "suspend_resume_abort_and_restart",
            suspend_resume_abort_and_restart,
        ),
        ("copy_parameters_throttle", copy_parameters_throttle),
        (
            "scratch_area_fills_the_copy_fails_cleanly",
            scratch_area_fills_the_copy_fails_cleanly,
        ),
        (
            "scratch_device_holds_the_copies",
            scratch_device_holds_the_copies,
        ),
    ];
    run_suite("independent", DISKS, scenarios);
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/dsitest-{}", raw.trim_start_matches("/dev/"))
}

fn state(v: &Value) -> String {
    v["state"].as_str().unwrap_or_default().to_string()
}

fn enable(g: &Guest, m: &str, s: &str, b: &str) -> Value {
    enable_named(g, "ind", m, s, b)
}

fn enable_named(g: &Guest, name: &str, m: &str, s: &str, b: &str) -> Value {
    let st = g.engine(&format!(
        "enable --name {name} --type independent --master {m} --shadow {s} --bitmap {b}"
    ));
    assert_eq!(st["kind"], "independent", "{st}");
    println!(
        "  figure: freeze window of enable (independent): {} us",
        st["last_freeze_us"]
    );
    st
}

fn enable_copies_the_point_in_time(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    g.fill(&s1, "old");
    let s = enable(g, &m1, &s1, &b1);
    assert_eq!(state(&s), "copying", "{s}");
    g.model_copy("m", "s");
    // Usable at once: the shadow reads the point-in-time image while the copy runs,
    // and writes on either side after the point in time stay on their side.
    g.write(&mt, &["m"], 1024, 256);
    g.write(&st, &["s"], 60000, 96);
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
    let (code, err) = g.engine_err("disable ind");
    assert_eq!(code, 6, "disable during a copy is refused: {err}");
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(state(&s), "idle", "{s}");
    assert_eq!(s["percent_completed"], 100.0);
    // The copy is complete on the shadow volume itself, not only through the mirror.
    g.assert_dev(&s1, "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
    g.write(&st, &["s"], 0, 64);
    g.assert_dev(&s1, "s");
    g.engine("disable ind");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "s");
}

fn copy_back_to_the_master(g: &mut Guest) {
    let (m1, s1, mt, st) = set_in_sync(g);
    g.write(&st, &["s"], 4096, 1024);
    g.write(&mt, &["m"], 8192, 64);
    let s = g.engine("copy ind to_master");
    assert_eq!(state(&s), "copying", "{s}");
    assert_eq!(s["direction"], "to_master", "{s}");
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.engine("wait ind --timeout-ms 600000");
    g.assert_dev(&m1, "m");
    g.assert_dev(&st, "s");
    // An update master -> shadow.
    g.write(&mt, &["m"], 100, 64);
    g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.engine("wait ind --timeout-ms 600000");
    g.assert_dev(&s1, "s");
}

fn power_cut_during_a_copy_resumes(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    g.sh("sync");
    enable(g, &m1, &s1, &b1);
    g.model_copy("m", "s");
    g.write(&mt, &["m"], 2048, 512);
    g.sh("sync");
    let before = g.engine("status ind");
    println!("  copy at the power cut: {}%", before["percent_completed"]);
    g.vm.power_cut().expect("power cut");
    let r = g.engine("restore");
    assert!(r["continuing"].to_string().contains("ind"), "{r}");
    g.assert_dev(&st, "s");
    copy_ends_right(g, &s1, &mt);
}

fn num(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// Writes `chunks` whole chunks starting at chunk `first` of `dev` (and the models).
fn write_chunks(g: &Guest, dev: &str, models: &[&str], first: u64, chunks: u64) {
    g.write(dev, models, first * CHUNK_KIB, chunks * CHUNK_KIB);
}

/// What the engine counts a region's copy to cost besides its data (`REGION_COST`).
const REGION_COST_BYTES: u64 = 320 * 1024;

/// An update starting with `chunks` changed chunks copies them in no more regions than
/// chunks, and in regions that cost the kernel no more work than copying the chunks one
/// by one (a region may take in unchanged neighbours when that saves regions).
#[track_caller]
fn assert_copies_only_changes(s: &Value, chunks: u64) {
    let (regions, bytes) = (num(s, "copy_regions"), num(s, "copy_region_bytes"));
    assert!(regions >= 1 && regions <= chunks, "{s}");
    assert!(
        regions * (bytes + REGION_COST_BYTES) <= chunks * (CHUNK_KIB * 1024 + REGION_COST_BYTES),
        "more work than copying the {chunks} changed chunks one by one: {s}"
    );
}

/// A set `ind` of m1 (random data, model "m") and s1 whose first copy is done (model
/// "s"): (master raw, shadow raw, master top, shadow top).
fn set_in_sync(g: &Guest) -> (String, String, String, String) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    g.fill(&m1, "m");
    enable(g, &m1, &s1, &b1);
    g.engine("wait ind --timeout-ms 600000");
    g.model_copy("m", "s");
    let (mt, st) = (top(&m1), top(&s1));
    (m1, s1, mt, st)
}

fn update_copies_only_what_changed(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    enable(g, &m1, &s1, &b1);
    g.model_copy("m", "s");
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(num(&s, "chunks_changed"), 0, "in sync after the copy: {s}");
    assert_eq!(s["percent_synchronized"], 100.0, "{s}");
    // 3 chunks on the master, 2 on the shadow (one of them also written on the master).
    write_chunks(g, &mt, &["m"], 0, 1);
    write_chunks(g, &mt, &["m"], 100, 2);
    write_chunks(g, &st, &["s"], 101, 1);
    write_chunks(g, &st, &["s"], 2000, 1);
    let era = |g: &Guest| {
        let name = format!("{}.era", mt.trim_start_matches("/dev/mapper/"));
        let line = g.sh(&format!("dmsetup status {name}"));
        line.split_whitespace()
            .nth(5)
            .unwrap_or_default()
            .to_string()
    };
    let before = era(g);
    let s = g.engine("status ind");
    assert_eq!(num(&s, "chunks_changed"), 4, "changes on both sides: {s}");
    g.engine("status ind");
    // The status reads the live era metadata: no snapshot, so no new era.
    assert_eq!(era(g), before, "status began no era on the master");
    // Update master -> shadow: exactly those chunks are copied, the shadow's own
    // changes are undone.
    let s = g.engine("update ind to_shadow");
    assert_eq!(state(&s), "copying", "{s}");
    assert_copies_only_changes(&s, 4);
    println!(
        "  figure: freeze window of an update (source): {} us",
        s["last_freeze_us"]
    );
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(state(&s), "idle", "{s}");
    assert_eq!(num(&s, "chunks_changed"), 0, "{s}");
    g.assert_dev(&s1, "s");
    g.assert_dev(&mt, "m");
    // Writes during an update count for the next one.
    write_chunks(g, &mt, &["m"], 500, 4);
    g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    write_chunks(g, &mt, &["m"], 600, 1);
    write_chunks(g, &st, &["s"], 700, 1);
    g.engine("wait ind --timeout-ms 600000");
    g.assert_dev(&s1, "s");
    let s = g.engine("status ind");
    assert_eq!(
        num(&s, "chunks_changed"),
        2,
        "written during the update: {s}"
    );
    // Update shadow -> master: the master gets the shadow's image of those chunks.
    write_chunks(g, &st, &["s"], 40, 3);
    let s = g.engine("update ind to_master");
    assert_copies_only_changes(&s, 5);
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.engine("wait ind --timeout-ms 600000");
    g.assert_dev(&m1, "m");
    g.assert_dev(&st, "s");
    let s = g.engine("status ind");
    assert_eq!(num(&s, "chunks_changed"), 0, "{s}");
    // Tracking survives a reboot.
    write_chunks(g, &mt, &["m"], 1234, 2);
    g.sh("sync");
    g.vm.reboot().expect("reboot");
    g.engine("restore");
    let s = g.engine("status ind");
    assert_eq!(num(&s, "chunks_changed"), 2, "after a reboot: {s}");
    let s = g.engine("update ind to_shadow");
    assert_copies_only_changes(&s, 2);
    g.model_copy("m", "s");
    g.engine("wait ind --timeout-ms 600000");
    g.assert_dev(&s1, "s");
    g.assert_dev(&mt, "m");
}

fn several_shadows_see_a_copy_to_the_master(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (s2, b2) = (g.disk("s2"), g.disk("b2"));
    let (mt, st1, st2) = (top(&m1), top(&s1), top(&s2));
    g.fill(&m1, "m");
    enable_named(g, "a", &m1, &s1, &b1);
    enable_named(g, "b", &m1, &s2, &b2);
    g.model_copy("m", "s1");
    g.model_copy("m", "s2");
    g.engine("wait a --timeout-ms 600000");
    g.engine("wait b --timeout-ms 600000");
    g.assert_dev(&s1, "s1");
    g.assert_dev(&s2, "s2");
    // Set a's shadow changes and is copied back to the master: set b must see the
    // master's change.
    write_chunks(g, &st1, &["s1"], 10, 3);
    g.engine("update a to_master");
    g.model_copy("s1", "m");
    // Written on the master during the copy: set b must see it too.
    write_chunks(g, &mt, &["m"], 200, 1);
    // Set b cannot start a copy from the master while a writes it.
    let (code, err) = g.engine_err("update b to_shadow");
    assert_eq!(code, 6, "{err}");
    g.engine("wait a --timeout-ms 600000");
    g.assert_dev(&mt, "m");
    let s = g.engine("status b");
    assert!(num(&s, "chunks_changed") >= 4, "{s}");
    g.engine("update b to_shadow");
    g.model_copy("m", "s2");
    g.engine("wait b --timeout-ms 600000");
    g.assert_dev(&s2, "s2");
    g.assert_dev(&st2, "s2");
    g.assert_dev(&st1, "s1");
    // Disabling one set leaves the other tracking.
    g.engine("disable a");
    write_chunks(g, &mt, &["m"], 77, 1);
    let s = g.engine("status b");
    assert_eq!(num(&s, "chunks_changed"), 1, "{s}");
    g.engine("disable b");
    g.assert_dev(&mt, "m");
    let t = g.sh("dmsetup ls");
    assert!(
        !t.contains(".era"),
        "change tracking removed with the last set: {t}"
    );
}

fn suspend_resume_abort_and_restart(g: &mut Guest) {
    let (_, s1, mt, st) = set_in_sync(g);
    // A throttle with a long pause keeps the copy going long enough to act on it.
    g.engine("copy-params ind --units 32 --delay-ms 60000");
    // Suspend: nothing more is copied, the shadow still reads the point in time and
    // takes writes.
    g.write(&mt, &["m"], 0, 16 * 1024);
    let s = g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    let s2 = g.engine("suspend ind");
    assert_eq!(s2["copy_control"], "suspended", "{s2}");
    let (code, err) = g.engine_err("disable ind");
    assert_eq!(
        code, 6,
        "disable while the shadow depends on the master: {err}"
    );
    let left = num(&s2, "copy_regions_left");
    assert!(left > 0, "{s2}");
    g.engine("copy-params ind --clear");
    g.sh("sleep 3");
    let s3 = g.engine("wait ind --timeout-ms 1000");
    assert_eq!(s3["copy_control"], "suspended", "{s3}");
    assert_eq!(
        num(&s3, "copy_regions_left"),
        left,
        "suspended means no progress"
    );
    println!(
        "  suspended with {left} of {} regions left",
        num(&s, "copy_regions").max(left)
    );
    g.assert_dev(&st, "s");
    g.write(&st, &["s"], 4096, 64);
    g.write(&mt, &["m"], 8192, 64);
    g.assert_dev(&st, "s");
    let s = g.engine("resume ind");
    assert_eq!(s["copy_control"], "run", "{s}");
    copy_ends_right(g, &s1, &mt);
    // Abort: the shadow stays dependent (still reads right), resume is refused, only a
    // new copy or update in the same direction replaces it.
    g.engine("copy-params ind --units 32 --delay-ms 60000");
    g.write(&mt, &["m"], 0, 16 * 1024);
    g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    let s = g.engine("abort ind");
    assert_eq!(s["copy_control"], "aborted", "{s}");
    g.assert_dev(&st, "s");
    let (code, err) = g.engine_err("resume ind");
    assert_eq!(code, 5, "resume after abort: {err}");
    let (code, err) = g.engine_err("update ind to_master");
    assert_eq!(code, 5, "other direction while dependent: {err}");
    let (code, _) = g.engine_err("disable ind");
    assert_eq!(code, 6);
    g.assert_dev(&st, "s");
    // Written on the shadow while the aborted copy stands (on its raw volume and its
    // point-in-time leg): the update that replaces the copy must copy it over again.
    g.write(&st, &["s"], 40 * 1024, 64);
    g.assert_dev(&st, "s");
    g.engine("copy-params ind --clear");
    g.write(&mt, &["m"], 1024, 64);
    let s = g.engine("update ind to_shadow");
    assert_eq!(state(&s), "copying", "{s}");
    assert_eq!(s["copy_control"], "run", "{s}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    copy_ends_right(g, &s1, &mt);
    let t = g.sh("dmsetup ls");
    assert!(!t.contains(".pit"), "no point-in-time device left: {t}");
    let (code, err) = g.engine_err("suspend ind");
    assert_eq!(code, 5, "nothing to suspend: {err}");
}

fn copy_parameters_throttle(g: &mut Guest) {
    let (_, s1, mt, st) = set_in_sync(g);
    let (code, err) = g.engine_err("copy-params ind --units 0");
    assert_eq!(code, 2, "{err}");
    let (code, err) = g.engine_err("copy-params ind --units 8 --delay-ms 600001");
    assert_eq!(code, 2, "{err}");
    // 128 chunks changed, one in 16 over the volume: each its own region; batches of
    // 32 chunks with 1 s between them: at least three pauses, so the update cannot
    // take less than 3 s, however fast the disks.
    let s = g.engine("copy-params ind --units 32 --delay-ms 1000");
    assert_eq!(s["copy_params"]["units"], 32, "{s}");
    g.write_scattered(&mt, &["m"], 0, 128, 16);
    let t = std::time::Instant::now();
    let s = g.engine("update ind to_shadow");
    assert_eq!(
        num(&s, "copy_regions"),
        128,
        "scattered: one region per chunk: {s}"
    );
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    let s = g.engine("wait ind --timeout-ms 600000");
    let took = t.elapsed().as_secs_f64();
    assert_eq!(state(&s), "idle", "{s}");
    println!("  throttled update of 128 chunks in batches of 32, 1 s apart: {took:.1} s");
    assert!(
        took >= 3.0,
        "the throttle did not hold the copy back: {took:.1} s"
    );
    g.assert_dev(&s1, "s");
    // Without the throttle the same work goes at once.
    g.engine("copy-params ind --clear");
    g.write_scattered(&mt, &["m"], 0, 128, 16);
    let t = std::time::Instant::now();
    g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    g.engine("wait ind --timeout-ms 600000");
    println!(
        "  same update unthrottled: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    g.assert_dev(&s1, "s");
}

fn scratch_area_fills_the_copy_fails_cleanly(g: &mut Guest) {
    let (m1, s1, mt, st) = set_in_sync(g);
    // A long throttled update with a scratch area capped at 8 MiB.
    g.engine("copy-params ind --units 32 --delay-ms 60000");
    g.write_scattered(&mt, &["m"], 0, 128, 8);
    let s = g.engine("--scratch-max-mib 8 update ind to_shadow");
    assert_eq!(num(&s, "scratch_size_bytes"), 8 << 20, "{s}");
    g.model_copy("m", "s");
    // 16 MiB written on the master during the copy: the old data has nowhere to go.
    g.write(&mt, &["m"], 8192, 16384);
    let s = g.engine("status ind");
    assert_eq!(state(&s), "failed", "{s}");
    assert!(
        s["reason"].as_str().unwrap_or("").contains("scratch area"),
        "{s}"
    );
    // The master is untouched by the failure.
    g.assert_dev(&mt, "m");
    g.assert_dev(&m1, "m");
    let (code, err) = g.engine_err("resume ind");
    assert_eq!(code, 5, "{err}");
    let (code, _) = g.engine_err("disable ind");
    assert_eq!(code, 6);
    // A new update (full-size scratch) gives the shadow the master's image again.
    g.engine("copy-params ind --clear");
    let s = g.engine("update ind to_shadow");
    assert_eq!(state(&s), "copying", "{s}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    copy_ends_right(g, &s1, &mt);
}

fn scratch_device_holds_the_copies(g: &mut Guest) {
    let (m1, s1, mt, st) = set_in_sync(g);
    let (s2, b2, x1) = (g.disk("s2"), g.disk("b2"), g.disk("x1"));
    let dev = format!("--scratch-device {x1}");
    // Devices that cannot be scratch devices: refused, nothing changes.
    let (code, err) = g.engine_err(&format!("--scratch-device {m1} update ind to_shadow"));
    assert_eq!(code, 5, "a volume of a set: {err}");
    let (code, err) = g.engine_err("--scratch-device /dev/nonexistent update ind to_shadow");
    assert_eq!(code, 2, "{err}");
    assert_eq!(state(&g.engine("status ind")), "idle");
    // A throttled update with its scratch area on the device: half of it (24 MiB), no
    // file in the state directory.
    g.engine("copy-params ind --units 32 --delay-ms 60000");
    g.write(&mt, &["m"], 0, 4096);
    let s = g.engine(&format!("{dev} update ind to_shadow"));
    g.model_copy("m", "s");
    assert_eq!(state(&s), "copying", "{s}");
    assert_eq!(num(&s, "scratch_size_bytes"), 24 << 20, "{s}");
    let t = g.sh("dmsetup ls");
    assert!(t.contains(".scratch"), "a scratch device: {t}");
    let files = g.sh(&format!("ls {STATE_DIR}/scratch 2>/dev/null | wc -l"));
    assert_eq!(files.trim(), "0", "no scratch file: {files}");
    g.assert_dev(&st, "s");
    // One copy at a time on the device: another set's copy is refused (busy).
    enable_named(g, "two", &m1, &s2, &b2);
    g.engine("wait two --timeout-ms 600000");
    let (code, err) = g.engine_err(&format!("{dev} update two to_shadow"));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("scratch device"), "{err}");
    assert_eq!(state(&g.engine("status two")), "idle");
    g.engine("disable two");
    // A power cut in the middle: restore brings the copy back on its half of the device.
    g.write(&mt, &["m"], 16384, 1024);
    g.sh("sync");
    g.vm.power_cut().expect("power cut");
    let r = g.engine("restore");
    assert!(r["continuing"].to_string().contains("ind"), "{r}");
    g.assert_dev(&st, "s");
    // Abort, write on the shadow, replace with a new update (no option: it keeps the
    // device, on the other half): the shadow's write is copied over.
    g.engine("abort ind");
    g.write(&st, &["s"], 40 * 1024, 64);
    g.engine("copy-params ind --clear");
    write_chunks(g, &mt, &["m"], 300, 2);
    let s = g.engine("update ind to_shadow");
    assert_eq!(num(&s, "scratch_size_bytes"), 24 << 20, "{s}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    copy_ends_right(g, &s1, &mt);
    let t = g.sh("dmsetup ls");
    assert!(!t.contains(".scratch"), "scratch devices gone: {t}");
    // More written during a copy than a half holds: the copy fails cleanly, the master
    // is untouched; the next update gives the shadow the master's image.
    g.engine("copy-params ind --units 32 --delay-ms 60000");
    write_chunks(g, &mt, &["m"], 0, 64);
    g.engine(&format!("{dev} update ind to_shadow"));
    g.model_copy("m", "s");
    g.write(&mt, &["m"], 8192, 30 * 1024);
    let s = g.engine("status ind");
    assert_eq!(state(&s), "failed", "{s}");
    g.assert_dev(&mt, "m");
    g.assert_dev(&m1, "m");
    g.engine("copy-params ind --clear");
    g.engine("update ind to_shadow");
    g.model_copy("m", "s");
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(state(&s), "idle", "{s}");
    g.assert_dev(&s1, "s");
    g.assert_dev(&st, "s");
}

/// Waits for set `ind` to be idle, then checks the shadow's raw volume `s1` against model
/// "s" and the master's top `mt` against model "m".
fn copy_ends_right(g: &Guest, s1: &str, mt: &str) {
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(state(&s), "idle", "{s}");
    g.assert_dev(s1, "s");
    g.assert_dev(mt, "m");
}
