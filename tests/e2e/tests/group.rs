//! Groups end to end on the real kernel: the copies and updates of a group's sets take
//! one common point in time. A writer in the guest stamps a counter on both masters in
//! turn (master 1, then master 2) while the group's update starts: with one point in
//! time the shadows read the same stamp, or master 1's one ahead; sets taken one after
//! the other would let the writer run on in between. Every image is also checked byte
//! for byte against its model, for dependent and independent groups, in both
//! directions, and through the refusals, a roll-back and crashes of a group start.

use dsimage_e2e::{run_suite, Guest, Scenario, MODELS};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[
    ("m1", 32),
    ("m2", 32),
    ("s1", 32),
    ("s2", 32),
    ("s3", 32),
    ("b1", 8),
    ("b2", 8),
    ("m3", 32),
    ("s4", 32),
    ("b4", 8),
];

fn main() {
    let scenarios: &[Scenario] = &[
        (
            "dependent_group_one_point_in_time",
            dependent_group_one_point_in_time,
        ),
        (
            "independent_group_one_point_in_time",
            independent_group_one_point_in_time,
        ),
        ("membership_and_refusals", membership_and_refusals),
        (
            "failed_and_crashed_group_starts",
            failed_and_crashed_group_starts,
        ),
    ];
    run_suite("group", DISKS, scenarios);
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/dsitest-{}", raw.trim_start_matches("/dev/"))
}

fn state(v: &Value) -> String {
    v["state"].as_str().unwrap_or_default().to_string()
}

fn members(v: &Value) -> Vec<String> {
    v["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {v}"))
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Two sets of one kind on two masters, in group `g`; their models `m1`, `m2` (masters)
/// and `a`, `b` (shadows) are equal to the devices.
struct Pair {
    m: [String; 2],
    s: [String; 2],
    mt: [String; 2],
    st: [String; 2],
}

fn pair(g: &Guest, kind: &str) -> Pair {
    let (m1, m2, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("m2"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    g.fill(&m1, "m1");
    g.fill(&m2, "m2");
    for (name, m, s, b) in [("a", &m1, &s1, &b1), ("b", &m2, &s2, &b2)] {
        g.engine(&format!(
            "enable --name {name} --type {kind} --master {m} --shadow {s} --bitmap {b}"
        ));
    }
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    if kind == "independent" {
        for name in ["a", "b"] {
            let s = g.engine(&format!("wait {name} --timeout-ms 600000"));
            assert_eq!(state(&s), "idle", "{s}");
        }
    }
    let st = g.engine("group create g");
    assert_eq!(members(&st), Vec::<String>::new(), "{st}");
    g.engine("group add g a");
    let st = g.engine("group add g b");
    assert_eq!(members(&st), ["a", "b"], "{st}");
    assert_eq!(st["kind"], kind, "{st}");
    assert_eq!(g.engine("status a")["group"], "g");
    Pair {
        mt: [top(&m1), top(&m2)],
        st: [top(&s1), top(&s2)],
        m: [m1, m2],
        s: [s1, s2],
    }
}

impl Pair {
    fn check(&self, g: &Guest) {
        g.assert_dev(&self.mt[0], "m1");
        g.assert_dev(&self.mt[1], "m2");
        g.assert_dev(&self.st[0], "a");
        g.assert_dev(&self.st[1], "b");
    }
}

/// Starts a writer that stamps 0, 1, 2, ... on the first sector of `first`, then of
/// `second`, in turn, until [`stop_stamps`].
fn start_stamps(g: &Guest, first: &str, second: &str) {
    g.sh(&format!(
        "rm -f /tmp/stamps.stop; (i=0; while [ ! -e /tmp/stamps.stop ]; do \
         for d in {first} {second}; do printf '%016d' $i | dd of=$d bs=512 count=1 \
         conv=sync,notrunc oflag=direct status=none; done; i=$((i + 1)); done; \
         touch /tmp/stamps.done) >/dev/null 2>&1 &"
    ));
    // Let it run a little before the group starts.
    g.sh("sleep 0.5");
}

/// Stops the writer; the models of the masters get their last stamps.
fn stop_stamps(g: &Guest, masters: &[(&str, &str)]) {
    g.sh("rm -f /tmp/stamps.done; touch /tmp/stamps.stop; \
         while [ ! -e /tmp/stamps.done ]; do sleep 0.1; done");
    for (dev, model) in masters {
        take_first_sector(g, dev, model);
    }
}

/// Copies the first sector of `dev` into model `model`.
fn take_first_sector(g: &Guest, dev: &str, model: &str) {
    g.sh(&format!(
        "dd if={dev} bs=512 count=1 iflag=direct status=none | \
         dd of={MODELS}/{model} bs=512 count=1 conv=notrunc status=none"
    ));
}

fn stamp(g: &Guest, dev: &str) -> u64 {
    let s = g.sh(&format!(
        "dd if={dev} bs=512 count=1 iflag=direct status=none | head -c 16"
    ));
    s.trim_matches(char::from(0))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("no stamp on {dev} ({e}): {s:?}"))
}

/// The shadows show one point in time of the stamping: the same stamp, or the first
/// master's one ahead.
fn assert_one_point_in_time(g: &Guest, p: &Pair) {
    let (a, b) = (stamp(g, &p.st[0]), stamp(g, &p.st[1]));
    let last = stamp(g, &p.mt[1]);
    println!("  figure: shadow stamps {a} and {b}; the writer went on to {last}");
    assert!(
        a == b || a == b + 1,
        "the shadows are of different points in time: stamps {a} and {b}"
    );
    assert!(
        last > a + 2,
        "the writer did not run on after the point in time (stamps {a}, last {last}): \
         the test shows nothing"
    );
    // Everything but the stamp sector is the masters' image at that point.
    take_first_sector(g, &p.st[0], "a");
    take_first_sector(g, &p.st[1], "b");
}

fn dependent_group_one_point_in_time(g: &mut Guest) {
    let p = pair(g, "dependent");
    g.write(&p.mt[0], &["m1"], 1024, 256);
    g.write(&p.st[1], &["b"], 2048, 64);
    p.check(g);

    start_stamps(g, &p.mt[0], &p.mt[1]);
    let st = g.engine("group update g to_shadow");
    stop_stamps(g, &[(&p.mt[0], "m1"), (&p.mt[1], "m2")]);
    assert_eq!(st["busy"], serde_json::json!([]), "{st}");
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    assert_one_point_in_time(g, &p);
    p.check(g);
    let a = g.engine("status a");
    let b = g.engine("status b");
    assert_eq!(
        a["last_freeze_us"], b["last_freeze_us"],
        "one freeze: {a} {b}"
    );
    println!(
        "  figure: freeze window of the group update: {} us",
        a["last_freeze_us"]
    );

    // Writes after it stay on their side; a copy back sends both shadows at once.
    g.write(&p.mt[0], &["m1"], 4096, 128);
    g.write(&p.st[0], &["a"], 8192, 512);
    g.write(&p.st[1], &["b"], 100, 64);
    p.check(g);
    let st = g.engine("group copy g to_master");
    g.model_copy("a", "m1");
    g.model_copy("b", "m2");
    let st2 = g.engine("group wait g --timeout-ms 120000");
    assert_eq!(st2["busy"], serde_json::json!([]), "{st} {st2}");
    p.check(g);
    g.write(&p.mt[1], &["m2"], 300, 64);
    p.check(g);
}

fn independent_group_one_point_in_time(g: &mut Guest) {
    let p = pair(g, "independent");
    g.write(&p.mt[0], &["m1"], 1024, 256);
    g.write(&p.st[1], &["b"], 2048, 64);
    p.check(g);

    start_stamps(g, &p.mt[0], &p.mt[1]);
    g.engine("group update g to_shadow");
    stop_stamps(g, &[(&p.mt[0], "m1"), (&p.mt[1], "m2")]);
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    assert_one_point_in_time(g, &p);
    p.check(g);
    let st = g.engine("group wait g --timeout-ms 600000");
    assert_eq!(st["busy"], serde_json::json!([]), "{st}");
    assert_eq!(st["percent_completed"], 100.0, "{st}");
    // The copies are complete on the shadow volumes themselves.
    g.assert_dev(&p.s[0], "a");
    g.assert_dev(&p.s[1], "b");

    // A throttled full copy, suspended, resumed and finished through the group.
    g.engine("group copy-params g --units 4 --delay-ms 2000");
    g.write(&p.mt[0], &["m1"], 0, 64);
    g.engine("group copy g to_shadow");
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    let st = g.engine("group suspend g");
    assert_eq!(st["busy"], serde_json::json!(["a", "b"]), "{st}");
    for name in ["a", "b"] {
        let s = g.engine(&format!("status {name}"));
        assert_eq!(s["copy_control"], "suspended", "{s}");
    }
    p.check(g);
    g.engine("group resume g");
    g.engine("group copy-params g --clear");
    let st = g.engine("group wait g --timeout-ms 600000");
    assert_eq!(st["busy"], serde_json::json!([]), "{st}");
    g.assert_dev(&p.s[0], "a");
    g.assert_dev(&p.s[1], "b");
    p.check(g);

    // Back to the masters, then an abort: the shadows keep their images.
    g.write(&p.st[0], &["a"], 512, 64);
    g.write(&p.st[1], &["b"], 700, 64);
    g.engine("group update g to_master");
    g.model_copy("a", "m1");
    g.model_copy("b", "m2");
    g.engine("group wait g --timeout-ms 600000");
    g.assert_dev(&p.m[0], "m1");
    g.assert_dev(&p.m[1], "m2");
    p.check(g);
    g.engine("group copy-params g --units 1 --delay-ms 2000");
    g.write(&p.mt[0], &["m1"], 0, 1024);
    g.write(&p.mt[1], &["m2"], 4096, 1024);
    g.engine("group update g to_shadow");
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    g.engine("group abort g");
    for name in ["a", "b"] {
        let s = g.engine(&format!("status {name}"));
        assert_eq!(s["copy_control"], "aborted", "{s}");
    }
    p.check(g);
    // A new update replaces the aborted copies and completes them.
    g.engine("group copy-params g --clear");
    g.engine("group update g to_shadow");
    g.engine("group wait g --timeout-ms 600000");
    g.assert_dev(&p.s[0], "a");
    g.assert_dev(&p.s[1], "b");
    p.check(g);
}

fn membership_and_refusals(g: &mut Guest) {
    let p = pair(g, "dependent");
    let (m3, s4, b4) = (g.disk("m3"), g.disk("s4"), g.disk("b4"));
    // An independent set elsewhere, and an empty group.
    g.engine(&format!(
        "enable --name c --type independent --master {m3} --shadow {s4} --bitmap {b4}"
    ));
    g.engine("wait c --timeout-ms 600000");
    g.engine("group create h");
    let before = g.state();
    let cases: Vec<(String, i32, &str)> = vec![
        ("update a to_shadow".into(), 5, "is in group g"),
        ("copy b to_master".into(), 5, "is in group g"),
        ("group create g".into(), 4, "already exists"),
        (format!("group create {}", "n".repeat(65)), 2, "at most 64"),
        ("group add g c".into(), 2, "of one kind"),
        ("group add h a".into(), 5, "in group g"),
        ("group add nosuch a".into(), 3, "does not exist"),
        ("group add g nosuch".into(), 3, "does not exist"),
        ("group remove h a".into(), 3, "of group h"),
        ("group update h to_shadow".into(), 5, "no sets"),
        ("group update nosuch to_shadow".into(), 3, "does not exist"),
        ("group update g sideways".into(), 2, "direction"),
        ("group abort g".into(), 8, "dependent"),
        ("group copy-params g --units 4".into(), 8, "dependent"),
        ("group suspend h".into(), 5, "no set of group h"),
    ];
    for (args, code, msg) in &cases {
        let (c, err) = g.engine_err(args);
        assert_eq!(c, *code, "dsimaged {args}: {err}");
        assert!(
            err.contains(msg),
            "dsimaged {args}: expected {msg:?} in {err:?}"
        );
        assert_eq!(g.state(), before, "dsimaged {args} changed something");
    }
    // Adding a member twice changes nothing; an idle member moves between groups.
    g.engine("group add g a");
    assert_eq!(g.state(), before);
    g.engine("group add h c");
    g.engine("group remove g a");
    assert_eq!(members(&g.engine("group status g")), ["b"]);
    g.engine("update a to_shadow");
    g.model_copy("m1", "a");
    // Disabling a member takes it out of its group.
    g.engine("disable b");
    assert_eq!(members(&g.engine("group status g")), Vec::<String>::new());
    g.engine("group delete g");
    let (c, err) = g.engine_err("group status g");
    assert_eq!(c, 3, "{err}");

    // Two shadows of one master in a group: one point in time for both; they cannot
    // both be copied back onto it.
    g.engine(&format!(
        "enable --name d --master {} --shadow {} --bitmap {}",
        p.m[0],
        p.s[1],
        g.disk("b2")
    ));
    g.engine("group create k");
    g.engine("group add k a");
    g.engine("group add k d");
    g.write(&p.mt[0], &["m1"], 512, 64);
    g.engine("group update k to_shadow");
    g.model_copy("m1", "a");
    g.model_copy("m1", "d");
    let before = g.state();
    let (c, err) = g.engine_err("group update k to_master");
    assert_eq!(c, 5, "{err}");
    assert!(err.contains("share the master"), "{err}");
    assert_eq!(g.state(), before);
    g.write(&p.mt[0], &["m1"], 0, 64);
    g.assert_dev(&p.mt[0], "m1");
    g.assert_dev(&p.st[0], "a");
    g.assert_dev(&p.st[1], "d");
}

fn failed_and_crashed_group_starts(g: &mut Guest) {
    let p = pair(g, "independent");
    g.write(&p.mt[0], &["m1"], 1024, 256);
    g.write(&p.mt[1], &["m2"], 2048, 256);
    let before = g.state();
    // A failure in the middle of the start rolls both sets back.
    for point in ["copy.suspended", "copy.loaded"] {
        g.engine_fault(point, "group update g to_shadow");
        assert_eq!(g.state(), before, "fault at {point} left changes");
        p.check(g);
    }
    // A crash before the point in time drops both copies; after it, both go on.
    g.engine_crash("copy.suspended", "group update g to_shadow");
    let r = g.engine("restore");
    assert_eq!(r["continuing"], serde_json::json!([]), "{r}");
    for name in ["a", "b"] {
        assert_eq!(state(&g.engine(&format!("status {name}"))), "idle");
    }
    p.check(g);
    g.engine_crash("copy.pit_taken", "group update g to_shadow");
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    let r = g.engine("restore");
    assert_eq!(r["continuing"], serde_json::json!(["a", "b"]), "{r}");
    p.check(g);
    g.engine("group wait g --timeout-ms 600000");
    g.assert_dev(&p.s[0], "a");
    g.assert_dev(&p.s[1], "b");
    p.check(g);
    // A power cut in the middle of a group copy: both finish after the boot.
    g.engine("group copy-params g --units 2 --delay-ms 1000");
    g.write(&p.mt[0], &["m1"], 0, 2048);
    g.write(&p.mt[1], &["m2"], 0, 2048);
    g.sh("sync");
    g.engine("group update g to_shadow");
    // The models live on the guest's state disk: they must outlast the power cut.
    g.model_copy("m1", "a");
    g.model_copy("m2", "b");
    g.sh("sync");
    g.vm.power_cut().expect("power cut");
    let r = g.engine("restore");
    assert_eq!(r["continuing"], serde_json::json!(["a", "b"]), "{r}");
    g.engine("group copy-params g --clear");
    g.engine("group wait g --timeout-ms 600000");
    g.assert_dev(&p.s[0], "a");
    g.assert_dev(&p.s[1], "b");
    p.check(g);
    // Deleting the group leaves its sets, ungrouped.
    g.engine("group delete g");
    assert_eq!(g.engine("status a")["group"], Value::Null);
    g.engine("update a to_shadow");
    g.model_copy("m1", "a");
    g.engine("wait a --timeout-ms 600000");
    p.check(g);
}
