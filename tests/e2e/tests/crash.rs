//! Crash recovery of independent sets on the real kernel. The engine process is killed
//! (`DSIMAGE_CRASH`: SIGKILL, no roll-back) at every step of the start and of the finish
//! of a copy and of an update, in both directions; then `restore` (its report checked),
//! `wait`, and both images compared exactly with their models, on the top devices and
//! on the raw volumes.
//!
//! A crash before the point in time is taken drops the copy: the set is idle, the
//! target keeps its image and the changes still count for the next update. From the
//! point in time on the copy goes on and the target ends equal to the source's image
//! at that point; a crash in the finish ends with the copy complete. Each scenario
//! enables one set and runs its crash cycles in turn, with writes on both sides before
//! every copy (so that updates have work) and during it.
//!
//! Also: restore itself crashing while it completes a start; a power cut right after an
//! update started; the agent (`dsimaged serve`) killed in the middle of a copy, which
//! its successor's poller finishes alone; and a mounted file system on the source top,
//! frozen by the copy's suspend when the engine dies, thawed by restore.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dsimage_e2e::{run_suite, Guest, Scenario, MODELS, PREFIX, STATE_DIR};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[("m1", 32), ("s1", 32), ("b1", 16)];

/// Chunk size of the sets here (the default), in KiB.
const CHUNK_KIB: u64 = 32;
/// Size of the master and the shadow, in bytes.
const VOLUME_BYTES: u64 = 32 << 20;
const SET: &str = "ind";
const WAIT: &str = "wait ind --timeout-ms 300000";

fn main() {
    let scenarios: &[Scenario] = &[
        ("copy_to_shadow", copy_to_shadow),
        ("copy_to_master", copy_to_master),
        ("update_to_shadow", update_to_shadow),
        ("update_to_master", update_to_master),
        (
            "power_cut_after_an_update_started",
            power_cut_after_an_update_started,
        ),
        ("agent_killed_during_a_copy", agent_killed_during_a_copy),
        (
            "frozen_file_system_thawed_by_restore",
            frozen_file_system_thawed_by_restore,
        ),
    ];
    run_suite("crash", DISKS, scenarios);
}

fn copy_to_shadow(g: &mut Guest) {
    crash_every_point(g, Kind::Copy, Dir::ToShadow);
}

fn copy_to_master(g: &mut Guest) {
    crash_every_point(g, Kind::Copy, Dir::ToMaster);
}

fn update_to_shadow(g: &mut Guest) {
    crash_every_point(g, Kind::Update, Dir::ToShadow);
}

fn update_to_master(g: &mut Guest) {
    crash_every_point(g, Kind::Update, Dir::ToMaster);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Copy,
    Update,
}

impl Kind {
    fn verb(self) -> &'static str {
        match self {
            Kind::Copy => "copy",
            Kind::Update => "update",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    ToShadow,
    ToMaster,
}

impl Dir {
    fn arg(self) -> &'static str {
        match self {
            Dir::ToShadow => "to_shadow",
            Dir::ToMaster => "to_master",
        }
    }
}

/// Which command the crash is injected into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// `copy` / `update`: the start of the copy.
    Start,
    /// `wait`: the finish, once the kernel copied everything.
    Finish,
}

/// What the crash must lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Before the point in time: the set is idle again, the target kept its image.
    Dropped,
    /// The copy goes on after restore and ends in `wait`.
    Continued,
    /// The copy was complete before the crash; restore puts the resting tables back.
    Finished,
}

impl Fate {
    fn word(self) -> &'static str {
        match self {
            Fate::Dropped => "dropped",
            Fate::Continued => "continued",
            Fate::Finished => "finished",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Point {
    name: &'static str,
    stage: Stage,
    fate: Fate,
    /// Crashes injected, in turn, into the restores that follow (each redoes the
    /// start that the one before left half done); a last restore then succeeds.
    in_restore: &'static [&'static str],
}

const fn point(name: &'static str, stage: Stage, fate: Fate) -> Point {
    Point {
        name,
        stage,
        fate,
        in_restore: &[],
    }
}

impl Point {
    fn label(&self) -> String {
        let mut s = self.name.to_string();
        for p in self.in_restore {
            s.push_str(&format!(", then in restore at {p}"));
        }
        s
    }
}

/// Every crash point a copy (or an update) goes through, in the order it reaches them.
/// The drops come first: the cycles after them check that the dropped changes still
/// reach the target.
fn points(kind: Kind) -> Vec<Point> {
    use Fate::*;
    use Stage::*;
    let mut v = vec![
        point("copy.decided", Start, Dropped),
        point("copy.suspended", Start, Dropped),
        point("copy.pit_taken", Start, Continued),
        point("copy.loaded", Start, Continued),
        point("copy.resumed", Start, Continued),
    ];
    if kind == Kind::Update {
        v.push(point("update.before_log", Start, Continued));
        // Reading what changed, with an era metadata snapshot held.
        v.push(point("era.snapped", Start, Continued));
    }
    v.extend([
        point("update.logged", Start, Continued),
        point("finish.suspended", Finish, Continued),
        point("finish.bitmap", Finish, Continued),
        // Starting the target's new era, with its metadata snapshot held.
        point("era.snapped", Finish, Continued),
        point("finish.saved", Finish, Finished),
    ]);
    // Restore itself crashing while it completes a start: it is redone each time.
    v.push(Point {
        in_restore: match kind {
            Kind::Copy => &["update.logged"],
            Kind::Update => &["era.snapped", "update.logged"],
        },
        ..point("copy.resumed", Start, Continued)
    });
    v
}

/// The set's volumes: raw devices and top devices, with their models `m` and `s`.
#[derive(Debug)]
struct Vols {
    m1: String,
    s1: String,
    mt: String,
    st: String,
}

impl Vols {
    fn get(g: &Guest) -> Vols {
        let (m1, s1) = (g.disk("m1"), g.disk("s1"));
        let (mt, st) = (top(&m1), top(&s1));
        Vols { m1, s1, mt, st }
    }

    /// ((source top, its model), (target top, its model)) of a copy in `dir`.
    fn ends(&self, dir: Dir) -> ((&str, &'static str), (&str, &'static str)) {
        let (m, s) = ((self.mt.as_str(), "m"), (self.st.as_str(), "s"));
        match dir {
            Dir::ToShadow => (m, s),
            Dir::ToMaster => (s, m),
        }
    }

    /// Tops and raw volumes against their models.
    fn all(&self) -> [(&str, &'static str); 4] {
        [
            (&self.mt, "m"),
            (&self.st, "s"),
            (&self.m1, "m"),
            (&self.s1, "s"),
        ]
    }

    fn tops(&self) -> [(&str, &'static str); 2] {
        [(&self.mt, "m"), (&self.st, "s")]
    }
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/{PREFIX}-{}", raw.trim_start_matches("/dev/"))
}

/// dm name of a device under /dev/mapper.
fn dm_name(path: &str) -> String {
    path.trim_start_matches("/dev/mapper/").to_string()
}

fn state(v: &Value) -> String {
    v["state"].as_str().unwrap_or_default().to_string()
}

fn num(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// A string array of a restore report, sorted.
fn names(r: &Value, field: &str) -> Vec<String> {
    let mut v: Vec<String> = r[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} missing in {r}"))
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Writes `chunks` whole chunks of fresh random data starting at chunk `first` of
/// `dev`, and the same to `model`.
#[derive(Clone, Copy, Debug)]
struct Write<'a> {
    dev: &'a str,
    model: &'a str,
    first: u64,
    chunks: u64,
}

fn w<'a>(dev: &'a str, model: &'a str, first: u64, chunks: u64) -> Write<'a> {
    Write {
        dev,
        model,
        first,
        chunks,
    }
}

/// Does the writes (as `Guest::write` does, one guest command for all of them).
fn write_all(g: &Guest, writes: &[Write]) {
    g.sh(&writes_cmd(writes));
}

/// Makes model `to` a copy of model `from`, then does the writes (one guest command).
fn copy_then_write(g: &Guest, from: &str, to: &str, writes: &[Write]) {
    g.sh(&format!(
        "cp {MODELS}/{from} {MODELS}/{to} && {}",
        writes_cmd(writes)
    ));
}

fn writes_cmd(writes: &[Write]) -> String {
    let mut cmd = String::from("set -e");
    for x in writes {
        let (off, len) = (x.first * CHUNK_KIB, x.chunks * CHUNK_KIB);
        cmd.push_str(&format!(
            "; head -c {} /dev/urandom > /tmp/pat\
             ; dd if=/tmp/pat of={} bs=1024 seek={off} oflag=direct conv=notrunc status=none\
             ; dd if=/tmp/pat of={MODELS}/{} bs=1024 seek={off} conv=notrunc status=none",
            len * 1024,
            x.dev,
            x.model
        ));
    }
    cmd
}

/// What the kernel and the engine hold, for failure messages.
fn dump(g: &Guest) -> String {
    let (_, out, _) = g.try_sh(&format!(
        "echo '--- dmsetup table'; dmsetup table | grep {PREFIX}; \
         echo '--- dmsetup status'; dmsetup status | grep {PREFIX}; \
         echo '--- dmsetup info'; dmsetup info -c | grep {PREFIX}; \
         echo '--- losetup'; losetup -a; \
         echo '--- config.json'; cat {STATE_DIR}/config.json"
    ));
    out
}

/// Asserts that every device reads back exactly its model (as `Guest::assert_dev`:
/// `labcmp`, byte for byte with direct I/O; one guest command for all of them). On a
/// mismatch, prints which chunks differ and the kernel's and the engine's state, and
/// panics.
#[track_caller]
fn verify(g: &Guest, what: &str, pairs: &[(&str, &str)]) {
    verify_with(g, what, pairs, "");
}

/// The set is idle: tops and raw volumes match their models, and no device of a copy
/// is left.
#[track_caller]
fn verify_idle(g: &Guest, what: &str, v: &Vols) {
    verify_with(
        g,
        what,
        &v.all(),
        "dmsetup ls | grep -E '[.](pit|log)' | sed 's/^/copy device left: /'; ",
    );
}

#[track_caller]
fn verify_with(g: &Guest, what: &str, pairs: &[(&str, &str)], extra: &str) {
    let mut cmd = extra.to_string();
    for (dev, m) in pairs {
        cmd.push_str(&format!(
            "out=$(labcmp {dev} {MODELS}/{m} 2>&1) || echo \"{dev} {m} $out\"; "
        ));
    }
    let bad = g.sh(&cmd);
    if bad.trim().is_empty() {
        return;
    }
    let mut msg = format!("{what}:\n");
    for line in bad.lines() {
        if line.starts_with("copy device left") {
            msg.push_str(&format!("  {line}\n"));
            continue;
        }
        let mut it = line.split_whitespace();
        let (dev, m) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
        // Every differing 32 KiB chunk (slow, but only on a failure; cmp counts from 1).
        let (_, chunks, _) = g.try_sh(&format!(
            "dd if={dev} of=/tmp/dev.img bs=1M iflag=direct status=none; \
             cmp -l /tmp/dev.img {MODELS}/{m} | awk '{{print int(($1-1)/32768)}}' | uniq | head -40 | tr '\\n' ' '"
        ));
        msg.push_str(&format!(
            "  {line}\n    differing chunks (first 40): {chunks}\n"
        ));
    }
    msg.push_str(&dump(g));
    panic!("{msg}");
}

/// Random contents for the master, made once per run (on the state disk, which
/// outlives the scenarios' clean-ups): cheaper than reading 32 MiB of /dev/urandom
/// under emulation in every scenario.
const SEED: &str = "/var/lib/dsimage/crash-seed";

/// Fills the master with the seed and makes that model `m` (as `Guest::fill`). The
/// shadow's old contents do not matter: the enable copies the master over them.
fn fill_master(g: &Guest, v: &Vols) {
    g.sh(&format!(
        "set -e; [ -s {SEED} ] || {{ head -c {VOLUME_BYTES} /dev/urandom > {SEED}.tmp; \
         sync; mv {SEED}.tmp {SEED}; }}; mkdir -p {MODELS}; cp {SEED} {MODELS}/m; \
         dd if={SEED} of={} bs=1M oflag=direct conv=notrunc status=none",
        v.m1
    ));
}

fn enable(g: &Guest, v: &Vols) {
    let b1 = g.disk("b1");
    fill_master(g, v);
    let s = g.engine(&format!(
        "enable --name {SET} --type independent --master {} --shadow {} --bitmap {b1}",
        v.m1, v.s1
    ));
    assert_eq!(state(&s), "copying", "{s}");
    g.model_copy("m", "s");
    let s = g.engine(WAIT);
    assert_eq!(state(&s), "idle", "{s}");
    assert_eq!(num(&s, "chunks_changed"), 0, "{s}");
}

/// The copy a status reports: in `dir`; a full copy has every region to copy, an
/// update exactly the regions (of the size it chose) that hold the `changed` chunks.
#[track_caller]
fn check_copying(s: &Value, kind: Kind, dir: Dir, changed: &BTreeSet<u64>) {
    assert_eq!(state(s), "copying", "{s}");
    assert_eq!(s["direction"], dir.arg(), "{s}");
    let (region, regions) = (num(s, "copy_region_bytes"), num(s, "copy_regions"));
    match kind {
        Kind::Copy => assert_eq!(regions, VOLUME_BYTES.div_ceil(region), "{s}"),
        Kind::Update => {
            let want: BTreeSet<u64> = changed
                .iter()
                .map(|c| c * CHUNK_KIB * 1024 / region)
                .collect();
            assert_eq!(
                regions,
                want.len() as u64,
                "an update copies exactly the regions that changed (chunks {changed:?}): {s}"
            );
        }
    }
}

/// Chunks `first..first + n`.
fn chunks(first: u64, n: u64) -> BTreeSet<u64> {
    (first..first + n).collect()
}

/// Checks restore's report after a crash at `p` during a copy in `dir`.
fn check_restore(r: &Value, p: &Point, dir: Dir, v: &Vols) {
    let (mt, st) = (dm_name(&v.mt), dm_name(&v.st));
    let (src, dst) = match dir {
        Dir::ToShadow => (mt.clone(), st.clone()),
        Dir::ToMaster => (st.clone(), mt.clone()),
    };
    let (log, pit) = (format!("{st}.log"), format!("{st}.pit0"));
    let ctx = format!("restore after a crash at {}: {r}", p.label());
    assert_eq!(names(r, "created"), Vec::<String>::new(), "{ctx}");
    // Tops the crash left suspended (a crashed restore resumed them already).
    let repaired = match (p.name, p.stage) {
        _ if !p.in_restore.is_empty() => vec![],
        ("copy.suspended", _) => vec![src, dst],
        ("copy.pit_taken" | "copy.loaded", _) => vec![dst],
        (_, Stage::Finish) => vec![src, dst],
        _ => vec![],
    };
    assert_eq!(names(r, "repaired"), sorted(repaired), "{ctx}");
    match p.fate {
        Fate::Dropped => {
            assert_eq!(names(r, "continuing"), Vec::<String>::new(), "{ctx}");
            assert_eq!(names(r, "removed"), vec![log], "{ctx}");
            assert!(
                r["warnings"].to_string().contains("was not started"),
                "{ctx}"
            );
        }
        Fate::Continued => {
            assert_eq!(names(r, "continuing"), vec![SET.to_string()], "{ctx}");
            assert_eq!(names(r, "removed"), Vec::<String>::new(), "{ctx}");
            assert_eq!(names(r, "warnings"), Vec::<String>::new(), "{ctx}");
        }
        Fate::Finished => {
            assert_eq!(names(r, "continuing"), Vec::<String>::new(), "{ctx}");
            assert_eq!(names(r, "removed"), sorted(vec![log, pit]), "{ctx}");
            assert_eq!(names(r, "warnings"), Vec::<String>::new(), "{ctx}");
        }
    }
}

/// One enable, then a crash cycle at every point.
fn crash_every_point(g: &mut Guest, kind: Kind, dir: Dir) {
    let v = Vols::get(g);
    enable(g, &v);
    // Chunks that differ between master and shadow (what an update has to copy).
    let mut pending = BTreeSet::new();
    for (i, p) in points(kind).iter().enumerate() {
        pending = crash_cycle(g, &v, kind, dir, p, i as u64, pending);
    }
}

/// Writes on both sides, starts a copy with a crash at `p` (in the start or in the
/// finish), restores, waits and checks. Returns the chunks that differ afterwards.
fn crash_cycle(
    g: &Guest,
    v: &Vols,
    kind: Kind,
    dir: Dir,
    p: &Point,
    i: u64,
    pending: BTreeSet<u64>,
) -> BTreeSet<u64> {
    let ((src, sm), (dst, dm)) = v.ends(dir);
    // Before the copy: chunks base, base+1 of the source, base+1, base+2 of the target.
    let base = 16 + 40 * i;
    write_all(g, &[w(src, sm, base, 2), w(dst, dm, base + 1, 2)]);
    let mut changed = pending;
    changed.extend(chunks(base, 3));
    // Once the point in time is taken the target shows the source's image of then;
    // during the copy one chunk is written on each side, in neither of those.
    let pit_then_during = |g: &Guest| {
        copy_then_write(
            g,
            sm,
            dm,
            &[w(src, sm, base + 20, 1), w(dst, dm, base + 21, 1)],
        )
    };
    let start = format!("{} {SET} {}", kind.verb(), dir.arg());
    let label = format!("{} {}", kind.verb(), dir.arg());
    match p.stage {
        Stage::Start => g.engine_crash(p.name, &start),
        Stage::Finish => {
            let s = g.engine(&start);
            check_copying(&s, kind, dir, &changed);
            pit_then_during(g);
            g.engine_crash(p.name, WAIT);
        }
    }
    for q in p.in_restore {
        g.engine_crash(q, "restore");
    }
    let r = g.engine("restore");
    check_restore(&r, p, dir, v);
    if p.fate == Fate::Dropped {
        let s = g.engine(&format!("status {SET}"));
        assert_eq!(state(&s), "idle", "after a drop at {}: {s}", p.label());
        assert_eq!(
            num(&s, "chunks_changed"),
            changed.len() as u64,
            "a dropped copy leaves the changes counted: {s}"
        );
        verify_idle(g, &format!("after a drop at {} ({label})", p.label()), v);
        println!(
            "  crash at {} ({label}): dropped, target kept its image, data ok",
            p.label()
        );
        return changed;
    }
    if p.stage == Stage::Start {
        if kind == Kind::Update {
            // However often its start was redone, the update copies what changed.
            let s = g.engine(&format!("status {SET}"));
            check_copying(&s, kind, dir, &changed);
        }
        pit_then_during(g);
    }
    verify(
        g,
        &format!("tops after a crash at {} ({label})", p.label()),
        &v.tops(),
    );
    let s = g.engine(WAIT);
    assert_eq!(state(&s), "idle", "{s}");
    assert_eq!(s["percent_completed"], 100.0, "{s}");
    // What was written during the copy, on either side, differs now.
    assert_eq!(
        num(&s, "chunks_changed"),
        2,
        "after a crash at {}: {s}",
        p.label()
    );
    verify_idle(g, &format!("after a crash at {} ({label})", p.label()), v);
    println!(
        "  crash at {} ({label}): {}, data ok",
        p.label(),
        p.fate.word()
    );
    // What was written during the copy differs now.
    [base + 20, base + 21].into()
}

fn power_cut_after_an_update_started(g: &mut Guest) {
    let v = Vols::get(g);
    enable(g, &v);
    for (dir, first) in [(Dir::ToMaster, 100), (Dir::ToShadow, 400)] {
        let ((src, sm), (dst, dm)) = v.ends(dir);
        // 2 MiB on the source, a few chunks on the target.
        write_all(g, &[w(src, sm, first, 64), w(dst, dm, first + 200, 3)]);
        g.sh("sync");
        let s = g.engine(&format!("update {SET} {}", dir.arg()));
        let changed = &chunks(first, 64) | &chunks(first + 200, 3);
        check_copying(&s, Kind::Update, dir, &changed);
        g.model_copy(sm, dm);
        g.sh("sync");
        g.vm.power_cut().expect("power cut");
        let r = g.engine("restore");
        assert_eq!(names(&r, "continuing"), vec![SET.to_string()], "{r}");
        let created = names(&r, "created");
        let st = dm_name(&v.st);
        for d in [format!("{st}.pit0"), format!("{st}.log")] {
            assert!(created.contains(&d), "{d} not created: {r}");
        }
        verify(g, "tops after the power cut", &v.tops());
        let s = g.engine(WAIT);
        assert_eq!(state(&s), "idle", "{s}");
        verify_idle(g, "after the power cut", &v);
        println!(
            "  power cut right after update {} started: restore created {} devices, continued, data ok",
            dir.arg(),
            created.len()
        );
    }
}

const AGENT_LOG: &str = "/tmp/agent.log";
const AGENT_PID: &str = "/tmp/agent.pid";

/// Starts `dsimaged serve` in the guest (HTTP on the loopback only: no client talks
/// to it here) and waits until it listens.
fn start_agent(g: &Guest) {
    g.sh(&format!(
        "rm -f {AGENT_LOG} {AGENT_PID}; \
         (setsid sh -c 'echo $$ > {AGENT_PID}; exec dsimaged --state-dir {STATE_DIR} --prefix {PREFIX} \
         serve --http 127.0.0.1:5988 --https off' > {AGENT_LOG} 2>&1 < /dev/null &); \
         for i in $(seq 300); do grep -q 'listening on http ' {AGENT_LOG} && break; sleep 0.1; done; \
         grep -q 'listening on http ' {AGENT_LOG} || {{ cat {AGENT_LOG}; exit 1; }}"
    ));
}

/// Sends `sig` to the agent and waits until it is gone (a zombie counts as gone).
fn stop_agent(g: &Guest, sig: &str) {
    g.sh(&format!(
        "pid=$(cat {AGENT_PID}); kill -{sig} $pid; \
         for i in $(seq 300); do \
           [ -d /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null || exit 0; \
           sleep 0.1; \
         done; echo agent $pid still running; exit 1"
    ));
}

/// The set's operation as persisted (the agent holds the engine's lock, so a local
/// `status` cannot run beside it).
fn persisted_op(g: &Guest) -> Value {
    let cfg: Value = serde_json::from_str(&g.sh(&format!("cat {STATE_DIR}/config.json")))
        .expect("config.json is JSON");
    cfg["sets"][0]["op"].clone()
}

fn agent_killed_during_a_copy(g: &mut Guest) {
    let v = Vols::get(g);
    enable(g, &v);
    let (mt, st) = (v.mt.as_str(), v.st.as_str());
    write_all(g, &[w(mt, "m", 10, 4), w(st, "s", 500, 2)]);
    // A throttle (one region of a full copy per batch, 2.5 s apart) makes the copy last
    // long enough to kill the agent in the middle of it; the agent's poller hands the
    // batches over.
    g.engine(&format!("copy-params {SET} --units 64 --delay-ms 2500"));
    let s = g.engine(&format!("copy {SET} to_shadow"));
    check_copying(&s, Kind::Copy, Dir::ToShadow, &BTreeSet::new());
    g.model_copy("m", "s");
    let left = num(&s, "copy_regions_left");
    assert!(left > 2, "the throttle holds the copy back: {s}");
    start_agent(g);
    write_all(g, &[w(mt, "m", 300, 1)]);
    g.sh("sleep 3");
    write_all(g, &[w(st, "s", 700, 1)]);
    let op = persisted_op(g);
    assert_eq!(
        op["op"], "copying",
        "the copy ended too soon to kill the agent in it: {op}"
    );
    stop_agent(g, "9");
    let killed_at = Instant::now();
    // Killed in a hand-over, the agent leaves the target top suspended (its I/O waits
    // for the next agent's restore): nothing reads it until then.
    let suspended = g.sh(&format!(
        "dmsetup info -c --noheadings -o name,suspended | grep '^{PREFIX}-' | grep -i ':suspended' | cut -d: -f1"
    ));
    let suspended: Vec<&str> = suspended.split_whitespace().collect();
    start_agent(g);
    // Its restore resumed whatever the killed agent left suspended, and goes on.
    let log = g.sh(&format!("cat {AGENT_LOG}"));
    let restored = log
        .lines()
        .find_map(|l| l.split("dsimaged: restored: ").nth(1))
        .unwrap_or_else(|| panic!("no restore line in the agent's log: {log}"));
    let repaired: usize = restored
        .split(", ")
        .find_map(|f| f.strip_suffix(" repaired"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no repaired count in {restored}"));
    assert!(repaired >= suspended.len(), "{restored} {suspended:?}");
    assert!(
        restored.contains(&format!("continuing [\"{SET}\"]")),
        "{restored}"
    );
    write_all(g, &[w(mt, "m", 900, 1)]);
    verify(g, "tops under the new agent", &v.tops());
    // The new agent's poller finishes the copy alone (the configuration says idle a
    // moment before the finish is over: the agent's log says when it is).
    let t = Instant::now();
    let finished = format!("set {SET}: operation finished");
    loop {
        let log = g.sh(&format!("cat {AGENT_LOG}"));
        if log.contains(&finished) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "the copy did not finish under the new agent: {}\n{log}\n{}",
            persisted_op(g),
            dump(g)
        );
        std::thread::sleep(Duration::from_millis(1000));
    }
    let op = persisted_op(g);
    assert_eq!(op["op"], "idle", "{op}");
    println!(
        "  throttled copy of {} regions ({left} left when the agent started); agent killed 3 s \
         later (tops suspended then: [{}]); its successor finished the copy {:.1} s after the kill",
        num(&s, "copy_regions"),
        suspended.join(" "),
        killed_at.elapsed().as_secs_f64()
    );
    stop_agent(g, "TERM");
    let s = g.engine(&format!("status {SET}"));
    assert_eq!(state(&s), "idle", "{s}");
    // Written during the copy: chunk 300 and 900 of the master, 700 of the shadow.
    assert_eq!(num(&s, "chunks_changed"), 3, "{s}");
    verify_idle(g, "after the agent finished the copy", &v);
    println!("  agent killed during a copy: finished by the restarted agent, data ok");
}

/// The copy suspends its source top with the file system on it frozen: a crash right
/// then leaves the file system frozen (writers block) until restore resumes the top.
fn frozen_file_system_thawed_by_restore(g: &mut Guest) {
    let v = Vols::get(g);
    let b1 = g.disk("b1");
    g.engine(&format!(
        "enable --name {SET} --type independent --master {} --shadow {} --bitmap {b1}",
        v.m1, v.s1
    ));
    g.engine(WAIT);
    let (mt, st) = (v.mt.as_str(), v.st.as_str());
    g.sh(&format!(
        "mkfs.ext4 -q -F {mt} && mkdir -p /mnt/m /mnt/s && mount {mt} /mnt/m && \
         echo before > /mnt/m/f && sync"
    ));
    g.engine_crash("copy.suspended", &format!("update {SET} to_shadow"));
    let info = g.sh(&format!("dmsetup info {}", dm_name(mt)));
    assert!(info.contains("SUSPENDED"), "{info}");
    // A writer blocks on the frozen file system.
    g.sh(
        "rm -f /tmp/thawed; (echo after > /mnt/m/f2 && touch /tmp/thawed) >/dev/null 2>&1 & \
         sleep 2",
    );
    let (st_, _, _) = g.try_sh("test -e /tmp/thawed");
    assert_ne!(st_, 0, "the file system on the source top was not frozen");
    let r = g.engine("restore");
    assert!(names(&r, "repaired").contains(&dm_name(mt)), "{r}");
    let (code, out, _) = g.try_sh(
        "for i in $(seq 300); do [ -e /tmp/thawed ] && exit 0; sleep 0.1; done; \
         echo the writer is still blocked; exit 1",
    );
    assert_eq!(code, 0, "{out}{}", dump(g));
    // Usable again; an update (a new freeze) gives the shadow a clean image of it.
    g.sh("echo more > /mnt/m/f3");
    let s = g.engine(&format!("update {SET} to_shadow"));
    assert_eq!(state(&s), "copying", "{s}");
    g.engine(WAIT);
    g.sh("umount /mnt/m");
    let (code, out, err) = g.try_sh(&format!("e2fsck -fn {st}"));
    assert_eq!(code, 0, "the shadow's file system: {out}{err}");
    let files = g.sh(&format!(
        "mount -o ro {st} /mnt/s && cat /mnt/s/f /mnt/s/f2 /mnt/s/f3; umount /mnt/s"
    ));
    assert_eq!(files, "before\nafter\nmore\n");
    println!("  crash at copy.suspended with a file system on the source: thawed by restore");
}
