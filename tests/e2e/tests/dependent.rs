//! Dependent sets end to end on the real kernel: volumes, enable, copy and update in both
//! directions, compact shadows, several shadows per master, refused requests, restart,
//! reboot and power cut. Data is checked against models after every step.

use dsimage_e2e::{run_suite, Guest, Scenario};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[
    ("m1", 32),
    ("s1", 32),
    ("s2", 32),
    ("s3", 4),
    ("b1", 8),
    ("b2", 8),
    ("b3", 1),
    ("big", 2048),
];

fn main() {
    let scenarios: &[Scenario] = &[
        (
            "volumes_discovery_and_control",
            volumes_discovery_and_control,
        ),
        (
            "enable_update_copy_both_directions",
            enable_update_copy_both_directions,
        ),
        ("compact_shadow_out_of_space", compact_shadow_out_of_space),
        (
            "several_shadows_of_one_master",
            several_shadows_of_one_master,
        ),
        (
            "refused_requests_change_nothing",
            refused_requests_change_nothing,
        ),
        (
            "failures_roll_back_every_device",
            failures_roll_back_every_device,
        ),
        ("restart_reboot_and_power_cut", restart_reboot_and_power_cut),
    ];
    run_suite("dependent", DISKS, scenarios);
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/dsitest-{}", raw.trim_start_matches("/dev/"))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn state(v: &Value) -> String {
    v["state"].as_str().unwrap_or_default().to_string()
}

fn enable(g: &Guest, name: &str, m: &str, s: &str, b: &str) -> Value {
    let st = g.engine(&format!(
        "enable --name {name} --type dependent --master {m} --shadow {s} --bitmap {b}"
    ));
    assert_eq!(state(&st), "idle", "{st}");
    println!(
        "  figure: freeze window of enable ({name}): {} us",
        u(&st, "last_freeze_us")
    );
    st
}

fn volumes_discovery_and_control(g: &mut Guest) {
    let m1 = g.disk("m1");
    let vols = g.engine("volumes");
    let vols = vols.as_array().expect("volume list");
    let find = |path: &str| {
        vols.iter()
            .find(|v| v["path"] == path)
            .unwrap_or_else(|| panic!("{path} not discovered in {vols:?}"))
            .clone()
    };
    let m = find(&m1);
    assert_eq!(u(&m, "size"), 32 << 20);
    assert_eq!(m["serial"], "m1");
    assert_eq!(m["suitable"], true, "{m}");
    let state_disk = find("/dev/vda");
    assert_eq!(state_disk["suitable"], false);
    assert!(
        state_disk["reason"].as_str().unwrap().contains("mounted"),
        "{state_disk}"
    );

    g.fill(&m1, "m");
    let path = g.engine(&format!("control {m1}"));
    assert_eq!(path, Value::String(top(&m1)));
    g.assert_dev(&top(&m1), "m");
    g.write(&top(&m1), &["m"], 100, 64);
    g.assert_dev(&m1, "m");
    // Repeating the request changes nothing.
    assert_eq!(g.engine(&format!("control {m1}")), Value::String(top(&m1)));
    let listed = g.engine("volumes");
    let again = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == m1.as_str())
        .unwrap()
        .clone();
    assert_eq!(again["top"], top(&m1).as_str());

    let (code, err) = g.engine_err("control /dev/vda");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("mounted"), "{err}");
    let (code, err) = g.engine_err("control /dev/nonexistent");
    assert_eq!(code, 3, "{err}");

    g.engine(&format!("release {m1}"));
    let (st, _, _) = g.try_sh(&format!("test -e {}", top(&m1)));
    assert_ne!(st, 0, "top device still present after release");
    g.assert_dev(&m1, "m");
}

fn enable_update_copy_both_directions(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let s = enable(g, "set1", &m1, &s1, &b1);
    assert_eq!(s["kind"], "dependent");
    assert_eq!(s["compact"], false);
    assert_eq!(u(&s, "chunks_changed"), 0);
    assert_eq!(s["percent_synchronized"], 100.0);
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    // After the point in time, master and shadow are independent images.
    g.write(&mt, &["m"], 0, 64); // chunks 0, 1
    g.write(&st, &["s"], 1024, 32); // chunk 32
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "s");
    let s = g.engine("status set1");
    assert_eq!(u(&s, "chunks_changed"), 3, "{s}");
    assert_eq!(u(&s, "chunks_total"), 1024);
    assert!(s["percent_synchronized"].as_f64().unwrap() < 100.0);

    // A restart of the engine keeps everything as it is.
    let r = g.engine("restore");
    assert_eq!(r["created"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["repaired"].as_array().unwrap().len(), 0, "{r}");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "s");

    // Update master -> shadow: new point in time.
    let s = g.engine("update set1 to_shadow");
    println!(
        "  figure: freeze window of update (dependent): {} us",
        u(&s, "last_freeze_us")
    );
    assert_eq!(u(&s, "chunks_changed"), 0);
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    // Update shadow -> master: the master gets the shadow's image back.
    g.write(&mt, &["m"], 4096, 96);
    g.write(&st, &["s"], 8192, 64);
    g.write(&st, &["s"], 0, 32);
    g.engine("update set1 to_master");
    let s = g.engine("wait set1 --timeout-ms 120000");
    assert_eq!(state(&s), "idle", "{s}");
    assert_eq!(u(&s, "chunks_changed"), 0);
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "s");

    // And the set goes on: writes on both sides, copy in both directions.
    g.write(&mt, &["m"], 2048, 64);
    g.write(&st, &["s"], 12000, 32);
    g.engine("copy set1 to_shadow");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.write(&st, &["s"], 300, 700);
    g.engine("copy set1 to_master");
    g.engine("wait set1");
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "s");

    g.engine("disable set1");
    g.assert_dev(&mt, "m");
    let table = g.sh(&format!(
        "dmsetup table {}",
        mt.trim_start_matches("/dev/mapper/")
    ));
    assert!(table.contains(" linear "), "{table}");
    assert_eq!(g.engine("status"), Value::Array(vec![]));
}

fn compact_shadow_out_of_space(g: &mut Guest) {
    let (m1, s3, b1) = (g.disk("m1"), g.disk("s3"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s3));
    g.fill(&m1, "m");
    let s = enable(g, "small", &m1, &s3, &b1);
    assert_eq!(s["compact"], true);
    g.model_copy("m", "s");
    g.write(&mt, &["m"], 0, 1024);
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
    let s = g.engine("status small");
    assert_eq!(u(&s, "chunks_changed"), 32, "{s}");
    // 8 MiB of changes cannot fit in a 4 MiB shadow.
    g.write(&mt, &["m"], 2048, 8192);
    g.assert_dev(&mt, "m");
    let s = g.engine("status small");
    assert_eq!(state(&s), "out_of_space", "{s}");
    let (code, _, _) = g.try_sh(&format!(
        "dd if={st} of=/dev/null bs=1M count=1 iflag=direct"
    ));
    assert_ne!(code, 0, "an out-of-space shadow must not read");
    // The master is never harmed; an update brings the shadow back.
    g.write(&mt, &["m"], 20000, 64);
    g.assert_dev(&mt, "m");
    let s = g.engine("update small to_shadow");
    assert_eq!(state(&s), "idle", "{s}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
}

fn several_shadows_of_one_master(g: &mut Guest) {
    let (m1, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    let (mt, at, bt) = (top(&m1), top(&s1), top(&s2));
    g.fill(&m1, "m");
    enable(g, "a", &m1, &s1, &b1);
    g.model_copy("m", "a");
    g.write(&mt, &["m"], 512, 256);
    enable(g, "b", &m1, &s2, &b2);
    g.model_copy("m", "b");
    g.write(&mt, &["m"], 640, 512);
    g.write(&at, &["a"], 7000, 64);
    g.assert_dev(&mt, "m");
    g.assert_dev(&at, "a");
    g.assert_dev(&bt, "b");
    // Restoring one shadow into the master keeps the other shadow's image.
    g.write(&bt, &["b"], 9000, 128);
    g.engine("update b to_master");
    g.engine("wait b");
    g.model_copy("b", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&bt, "m");
    g.assert_dev(&at, "a");
    g.engine("disable a");
    g.assert_dev(&mt, "m");
    g.assert_dev(&bt, "m");
    g.model_copy("m", "b");
    g.write(&mt, &["m"], 100, 32);
    g.assert_dev(&bt, "b");
    g.assert_dev(&mt, "m");
}

/// Everything a refusal must leave as it was (the configuration's save counter aside).
fn failures_roll_back_every_device(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let enable_args = format!("enable --name r --master {m1} --shadow {s1} --bitmap {b1}");
    let before = g.state();
    for point in ["enable.loaded", "enable.resumed"] {
        g.engine_fault(point, &enable_args);
        assert_eq!(g.state(), before, "fault at {point} left changes");
        g.assert_dev(&m1, "m");
    }
    enable(g, "r", &m1, &s1, &b1);
    g.model_copy("m", "s");
    g.write(&mt, &["m"], 0, 128);
    g.write(&st, &["s"], 512, 64);
    let before = g.state();
    for (point, args) in [
        ("update.loaded", "update r to_shadow"),
        ("update.shadow_resumed", "update r to_shadow"),
        ("merge.loaded", "update r to_master"),
    ] {
        g.engine_fault(point, args);
        assert_eq!(g.state(), before, "fault at {point} left changes");
        // The old point in time is intact on both sides.
        g.assert_dev(&mt, "m");
        g.assert_dev(&st, "s");
        let s = g.engine("status r");
        assert_eq!(state(&s), "idle", "{s}");
        assert_eq!(u(&s, "chunks_changed"), 6, "{s}");
    }
    g.engine("update r to_shadow");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
}

fn refused_requests_change_nothing(g: &mut Guest) {
    let (m1, s1, s2, s3, b1, b2, b3, big) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("s3"),
        g.disk("b1"),
        g.disk("b2"),
        g.disk("b3"),
        g.disk("big"),
    );
    enable(g, "one", &m1, &s1, &b1);
    let before = g.state();
    let cases: Vec<(String, i32, &str)> = vec![
        (
            format!("enable --name x --master {m1} --shadow {m1} --bitmap {b2}"),
            2,
            "same device",
        ),
        (
            format!(
                "enable --name {} --master {m1} --shadow {s2} --bitmap {b2}",
                "n".repeat(65)
            ),
            2,
            "at most 64",
        ),
        (
            format!("enable --name one --master {m1} --shadow {s2} --bitmap {b2}"),
            4,
            "already exists",
        ),
        (
            format!("enable --name x --master {m1} --shadow {s1} --bitmap {b2}"),
            5,
            "shadow volume of set one",
        ),
        (
            format!("enable --name x --master {s1} --shadow {s2} --bitmap {b2}"),
            5,
            "shadow volume of set one",
        ),
        (
            format!("enable --name x --master {m1} --shadow {s2} --bitmap {b1}"),
            5,
            "bitmap volume of set one",
        ),
        (
            format!("enable --name x --type independent --master {m1} --shadow {s3} --bitmap {b2}"),
            7,
            "full copy of the master",
        ),
        (
            format!("enable --name x --master {m1} --shadow {s3} --bitmap {b2} --overflow {s2}"),
            8,
            "overflow",
        ),
        (
            format!("enable --name x --master {m1} --shadow {s2} --bitmap {b2} --chunk-kib 3"),
            2,
            "power of two",
        ),
        (
            format!("enable --name x --master {big} --shadow {s2} --bitmap {b3} --chunk-kib 4"),
            7,
            "bytes needed",
        ),
        (
            format!("enable --name x --master {m1} --shadow /dev/nonexistent --bitmap {b2}"),
            3,
            "does not exist",
        ),
        ("update nosuch to_shadow".to_string(), 3, "does not exist"),
        ("disable nosuch".to_string(), 3, "does not exist"),
        (format!("release {m1}"), 5, "master volume of set one"),
    ];
    for (args, code, msg) in cases {
        let (c, err) = g.engine_err(&args);
        assert_eq!(c, code, "dsimaged {args}: {err}");
        assert!(
            err.contains(msg),
            "dsimaged {args}: expected {msg:?} in {err:?}"
        );
        assert_eq!(g.state(), before, "dsimaged {args} changed something");
    }
    // A mounted shadow is refused too.
    g.sh(&format!(
        "mke2fs -q {s2} && mkdir -p /mnt/s2 && mount {s2} /mnt/s2"
    ));
    let (c, err) = g.engine_err(&format!(
        "enable --name x --master {m1} --shadow {s2} --bitmap {b2}"
    ));
    g.sh("umount /mnt/s2");
    assert_eq!(c, 5, "{err}");
    assert!(err.contains("mounted"), "{err}");
    assert_eq!(g.state(), before);

    // A set of a master that another set is copying onto is refused (the copy owns the
    // master's top). The copy stays in progress here: its start died after the decision
    // and restore ran the kernel's merge, but only `wait` (or the agent's poller) ends
    // it.
    g.engine_crash("merge.loaded", "update one to_master");
    g.engine("restore");
    let during = g.state();
    assert!(during.contains("snapshot-merge"), "{during}");
    let (c, err) = g.engine_err(&format!(
        "enable --name x --master {m1} --shadow {s2} --bitmap {b2}"
    ));
    assert_eq!(c, 6, "{err}");
    assert!(err.contains("copying onto the master"), "{err}");
    assert_eq!(g.state(), during);
    let s = g.engine("wait one --timeout-ms 60000");
    assert_eq!(state(&s), "idle", "{s}");
}

fn restart_reboot_and_power_cut(g: &mut Guest) {
    let (m1, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    let (mt, at, bt) = (top(&m1), top(&s1), top(&s2));
    g.fill(&m1, "m");
    enable(g, "a", &m1, &s1, &b1);
    g.model_copy("m", "a");
    g.write(&mt, &["m"], 0, 256);
    enable(g, "b", &m1, &s2, &b2);
    g.model_copy("m", "b");
    g.write(&at, &["a"], 4000, 64);
    g.write(&bt, &["b"], 5000, 64);
    g.write(&mt, &["m"], 6000, 64);
    let before_a = g.engine("status a");
    let check_all = |g: &Guest| {
        g.assert_dev(&mt, "m");
        g.assert_dev(&at, "a");
        g.assert_dev(&bt, "b");
    };
    check_all(g);

    // An engine restart finds everything in place.
    let r = g.engine("restore");
    assert_eq!(r["created"].as_array().unwrap().len(), 0, "{r}");
    // A crash in the middle of an operation can leave devices suspended: restore resumes.
    let mname = mt.trim_start_matches("/dev/mapper/");
    g.sh(&format!("dmsetup suspend --nolockfs {mname}"));
    let r = g.engine("restore");
    assert!(r["repaired"].to_string().contains(mname), "{r}");
    check_all(g);

    // Reboot: nothing exists in the kernel; everything comes back from config and disk.
    g.sh("sync");
    g.vm.reboot().expect("reboot");
    let r = g.engine("restore");
    assert_eq!(r["created"].as_array().unwrap().len(), 5, "{r}");
    let after_a = g.engine("status a");
    assert_eq!(
        u(&after_a, "chunks_changed"),
        u(&before_a, "chunks_changed")
    );
    check_all(g);

    // Power cut right after a copy to the master started: it finishes after the boot.
    g.write(&bt, &["b"], 7000, 512);
    g.sh("sync");
    g.engine("update b to_master");
    g.vm.power_cut().expect("power cut");
    let r = g.engine("restore");
    println!("  restore after power cut: {r}");
    let s = g.engine("wait b --timeout-ms 120000");
    assert_eq!(state(&s), "idle", "{s}");
    g.model_copy("b", "m");
    check_all(g);
    g.write(&mt, &["m"], 3000, 64);
    g.write(&at, &["a"], 3000, 64);
    check_all(g);

    // A merge runs from the resume of its master top, also when restore makes it: the
    // other sets' snapshots of that master must be active by then. The update dies
    // before the merge starts, the power is cut, restore dies right after the master
    // tops are up, and the kernel merges alone before the next restore.
    g.write(&bt, &["b"], 9000, 1024);
    g.sh("sync");
    g.engine_crash("merge.loaded", "update b to_master");
    g.vm.power_cut().expect("power cut");
    g.engine_crash("restore.master_tops", "restore");
    g.sh(&format!(
        "for i in $(seq 600); do set -- $(dmsetup status {mname}); \
         [ \"$3\" = snapshot-merge ] && [ \"${{4%%/*}}\" = \"$5\" ] && exit 0; sleep 0.1; done; \
         echo merge of {mname} did not end: $(dmsetup status {mname}) >&2; exit 1"
    ));
    g.engine("restore");
    let s = g.engine("wait b --timeout-ms 120000");
    assert_eq!(state(&s), "idle", "{s}");
    g.model_copy("b", "m");
    check_all(g);
}
