//! Independent sets end to end on the real kernel: the point in time is the moment of
//! enable, the shadow is usable at once, the kernel copies in the background, copies
//! run in both directions, a power cut in the middle of a copy resumes it.

use dsimage_e2e::{run_suite, Guest, Scenario};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[("m1", 96), ("s1", 96), ("b1", 16)];

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
    let st = g.engine(&format!(
        "enable --name ind --type independent --master {m} --shadow {s} --bitmap {b}"
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
    g.write(&st, &["s"], 90000, 96);
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
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    enable(g, &m1, &s1, &b1);
    g.engine("wait ind --timeout-ms 600000");
    g.model_copy("m", "s");
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
    // An update (no change tracking yet: a full copy) master -> shadow.
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
    let s = g.engine("wait ind --timeout-ms 600000");
    assert_eq!(state(&s), "idle", "{s}");
    g.assert_dev(&s1, "s");
    g.assert_dev(&mt, "m");
}
