//! `iiadm` end to end: `dsimaged serve` in the lab VM (its ports forwarded to host
//! loopback), `iiadm` on the host against that URL, over CIM-XML like any WBEM client.
//! Every command that moves data is checked byte for byte in the VM against models;
//! refusals are checked to change nothing. `iiadm` runs with standard input from
//! /dev/null, so it is never on a terminal: copies to a master need `-n`/`--yes`.

use std::process::{Command, Stdio};

use dsimage_e2e::clients::{PASSWORD, USER};
use dsimage_e2e::{run_suite_with, target_bin, Guest, Scenario, PREFIX};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[
    ("m1", 32),
    ("m2", 32),
    ("s1", 32),
    ("s2", 32),
    ("b1", 8),
    ("b2", 8),
];

fn main() {
    let scenarios: &[Scenario] = &[
        (
            "dependent_set_update_and_copy_both_ways",
            dependent_set_update_and_copy_both_ways,
        ),
        (
            "independent_set_wait_throttle_abort",
            independent_set_wait_throttle_abort,
        ),
        ("group_of_two_sets_at_once", group_of_two_sets_at_once),
        ("refusals_and_connections", refusals_and_connections),
        ("volumes_control_and_release", volumes_control_and_release),
    ];
    run_suite_with("cli", DISKS, &[5988, 5989], scenarios);
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/{PREFIX}-{}", raw.trim_start_matches("/dev/"))
}

/// One `iiadm` run.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

/// `iiadm` on the host, pointed at the agent in the VM.
struct Iiadm {
    http: String,
    https: String,
}

impl Iiadm {
    fn command(&self) -> Command {
        let mut c = Command::new(target_bin("iiadm"));
        for v in ["DSIMAGE_URL", "DSIMAGE_USER", "DSIMAGE_PASSWORD"] {
            c.env_remove(v);
        }
        c.env("DSIMAGE_URL", &self.http)
            .env("DSIMAGE_USER", USER)
            .env("DSIMAGE_PASSWORD", PASSWORD)
            .stdin(Stdio::null());
        c
    }

    fn run_command(mut c: Command, args: &[&str]) -> Run {
        let out = c
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run iiadm {args:?}: {e}"));
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        Self::run_command(self.command(), args)
    }

    /// Runs a command that must succeed; returns its standard output.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.status, 0, "iiadm {args:?} failed: {r:?}");
        r.stdout
    }

    /// Runs a command that must fail with `code`; returns its standard error.
    #[track_caller]
    fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(r.status, code, "iiadm {args:?}: {r:?}");
        assert!(r.stderr.starts_with("iiadm: "), "{r:?}");
        r.stderr
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("iiadm {args:?}: not JSON ({e}): {out}"))
    }
}

/// Starts the agent in the guest with the suite's user; `iiadm` reaches it through the
/// forwarded ports.
fn start_agent(g: &Guest) -> Iiadm {
    let (http, https) = g.start_agent();
    Iiadm {
        http: format!("http://127.0.0.1:{http}"),
        https: format!("https://127.0.0.1:{https}"),
    }
}

#[track_caller]
fn has(text: &str, what: &str) {
    assert!(text.contains(what), "{what:?} missing from:\n{text}");
}

fn sets(v: &Value) -> &Vec<Value> {
    v["sets"]
        .as_array()
        .unwrap_or_else(|| panic!("no sets in {v}"))
}

/// A dependent set through iiadm's long and classic forms: enable, status and list,
/// update to the shadow, a copy to the master refused without confirmation (nothing
/// changes), then confirmed with -n; JSON status; disable.
fn dependent_set_update_and_copy_both_ways(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let ii = start_agent(g);

    let out = ii.ok(&["enable", "--type", "dep", &m1, &s1, &b1, "--name", "dep"]);
    has(
        &out,
        &format!("set dep enabled (Dependent): master {m1}, shadow {s1}, bitmap {b1}\n"),
    );
    has(&out, "dep: idle; 100% synchronized");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    let out = ii.ok(&["status", "dep"]);
    for s in [
        "Set dep\n".to_string(),
        "  Type:                 Dependent\n".into(),
        "  State:                Idle\n".into(),
        format!("  Master volume:        {m1} (32.0 MiB)\n"),
        format!("  Shadow volume:        {s1} (32.0 MiB)\n"),
        format!("  Bitmap volume:        {b1}"),
        "  Percent synchronized: 100%\n".into(),
        "  Chunks:               1024 chunks of 32.0 KiB\n".into(),
        "  Group:                -\n".into(),
        "  Last modified:        ".into(),
    ] {
        has(&out, &s);
    }
    assert_eq!(ii.ok(&["-i", "dep"]), out, "classic -i is status");
    let list = ii.ok(&["-l"]);
    let line = list
        .lines()
        .find(|l| l.starts_with("dep "))
        .unwrap_or_else(|| panic!("no line for dep:\n{list}"));
    for s in ["Dependent", "Idle", "100%", &m1, &s1, &b1] {
        has(line, s);
    }
    assert_eq!(ii.ok(&["list"]), list);

    // Update master -> shadow, classic form.
    g.write(&mt, &["m"], 0, 128);
    let out = ii.ok(&["-u", "s", "dep"]);
    has(&out, "dep: idle; 100% synchronized");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");

    // The shadow changes; a copy to the master without confirmation is refused (no
    // terminal), says what to add, and changes nothing.
    g.write(&st, &["s"], 4096, 256);
    let before = g.state();
    let err = ii.fails(&["copy", "to-master", "dep"], 2);
    has(
        &err,
        &format!("Overwrite the master volume {m1} of set dep with the shadow {s1}?"),
    );
    has(&err, "-n (or --yes)");
    assert_eq!(g.state(), before, "a refused copy changed something");
    g.assert_dev(&mt, "m");
    let j = ii.json(&["status", "dep"]);
    assert!(
        sets(&j)[0]["PercentSynchronized"].as_u64().unwrap() < 100,
        "{j}"
    );

    // Confirmed (classic -c m -n), then wait for the kernel's merge.
    ii.ok(&["-c", "m", "dep", "-n"]);
    let out = ii.ok(&["wait", "dep", "--timeout", "600"]);
    has(&out, "dep: idle; 100% synchronized");
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "m");

    let j = ii.json(&["status", "dep"]);
    let s = &sets(&j)[0];
    assert_eq!(
        (
            &s["Name"],
            &s["Type"],
            &s["State"],
            &s["PercentSynchronized"]
        ),
        (
            &Value::from("dep"),
            &Value::from(2),
            &Value::from(1),
            &Value::from(100)
        ),
        "{j}"
    );
    assert_eq!(s["MasterVolume"], m1.as_str(), "{j}");

    let out = ii.ok(&["-d", "dep"]);
    has(&out, "set dep disabled");
    assert_eq!(ii.ok(&["list"]), "no sets\n");
    assert_eq!(sets(&ii.json(&["list"])).len(), 0);
    g.assert_dev(&m1, "m");
}

/// An independent set enabled with the classic form (named after its shadow), waited
/// for; a throttled update that a short wait times out on, aborted (the shadow reads
/// the point in time; disable refused as busy), replaced at full speed, waited for;
/// then an update to the master.
fn independent_set_wait_throttle_abort(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let ii = start_agent(g);
    let name = s1.as_str();

    let out = ii.ok(&["-e", "ind", &m1, &s1, &b1]);
    has(&out, &format!("set {name} enabled (Independent)"));
    has(&out, &format!("`iiadm wait {name}`"));
    let out = ii.ok(&["-w", name]);
    has(&out, &format!("{name}: idle; 100% synchronized"));
    g.model_copy("m", "s");
    g.assert_dev(&s1, "s");
    g.assert_dev(&st, "s");

    // Throttle: 32 chunks per batch, then 60 s of pause.
    let out = ii.ok(&["-P", "60000", "32", name]);
    has(
        &out,
        &format!("set {name}: copies at 32 chunks per batch, 60000 ms after each batch"),
    );
    has(
        &ii.ok(&["status", name]),
        "  Copy parameters:      32 chunks per batch, 60000 ms after each batch\n",
    );
    g.write_scattered(&mt, &["m"], 0, 256, 4);
    ii.ok(&["update", "to-shadow", name]);
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    let status = ii.ok(&["status", name]);
    has(
        &status,
        "  State:                Copy In Progress, master to shadow\n",
    );
    let j = ii.json(&["status", name]);
    assert_eq!(sets(&j)[0]["State"], 2, "{j}");
    assert_eq!(sets(&j)[0]["CopyUnits"], 32, "{j}");
    let err = ii.fails(&["wait", name, "--timeout", "2"], 9);
    has(&err, "Wait returned 3 Timeout");

    // Abort (classic -a): the shadow still reads the new point in time.
    let out = ii.ok(&["-a", name]);
    has(&out, "aborted");
    let j = ii.json(&["status", name]);
    assert_eq!(sets(&j)[0]["State"], 5, "{j}");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
    let before = g.state();
    let err = ii.fails(&["disable", name], 6);
    has(
        &err,
        "DeleteIISet returned 13 Busy (copy master to shadow aborted at",
    );
    let err = ii.fails(&["resume", name], 6);
    has(&err, "Resume returned 7 Invalid State");
    assert_eq!(g.state(), before, "refusals changed something");

    // Full speed again; a new update replaces the aborted copy.
    has(
        &ii.ok(&["copy-params", name, "--clear"]),
        "copies at full speed",
    );
    ii.ok(&["update", "to-shadow", name]);
    let out = ii.ok(&["wait", name, "--timeout", "600"]);
    has(&out, &format!("{name}: idle; 100% synchronized"));
    let j = ii.json(&["status", name]);
    assert_eq!(sets(&j)[0]["CopyUnits"], Value::Null, "{j}");
    g.assert_dev(&s1, "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    // The other way: shadow -> master, confirmed.
    g.write(&st, &["s"], 8192, 512);
    ii.ok(&["update", "to-master", name, "--yes"]);
    ii.ok(&["-w", name]);
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "m");

    ii.ok(&["-d", name]);
    assert_eq!(ii.ok(&["-l"]), "no sets\n");
}

/// A group of two dependent sets on two masters, updated at one point in time, a
/// member refused alone, the copy to both masters refused without confirmation and
/// done with it, the group's status in both forms and in JSON, then taken apart.
fn group_of_two_sets_at_once(g: &mut Guest) {
    let (m1, m2, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("m2"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    let (mt1, mt2, st1, st2) = (top(&m1), top(&m2), top(&s1), top(&s2));
    g.fill(&m1, "am");
    g.fill(&m2, "bm");
    let ii = start_agent(g);
    ii.ok(&["enable", "-t", "dep", &m1, &s1, &b1, "--name", "ga"]);
    ii.ok(&["enable", "-t", "dep", &m2, &s2, &b2, "--name", "gb"]);
    g.model_copy("am", "as");
    g.model_copy("bm", "bs");
    has(&ii.ok(&["group", "create", "grp"]), "group grp created");
    has(
        &ii.ok(&["group", "add", "grp", "ga"]),
        "set ga added to group grp",
    );
    ii.ok(&["group", "add", "grp", "gb"]);
    let list = ii.ok(&["-L"]);
    let line = list.lines().nth(1).unwrap_or_default();
    assert!(line.starts_with("grp "), "{list}");
    for s in ["Dependent", "2", "ga,gb"] {
        has(line, s);
    }

    // Both shadows at one point in time (classic -g -u s).
    g.write(&mt1, &["am"], 0, 128);
    g.write(&mt2, &["bm"], 512, 128);
    let out = ii.ok(&["-g", "grp", "-u", "s"]);
    has(&out, "ga: idle");
    has(&out, "gb: idle");
    g.model_copy("am", "as");
    g.model_copy("bm", "bs");
    g.assert_dev(&st1, "as");
    g.assert_dev(&st2, "bs");

    // A member alone is copied only through its group.
    let before = g.state();
    let err = ii.fails(&["update", "to-shadow", "ga"], 5);
    has(&err, "set ga: Update returned 6 In Use");
    // Both masters: refused without confirmation, naming each.
    g.write(&st1, &["as"], 1024, 64);
    g.write(&st2, &["bs"], 2048, 64);
    let before_copy = g.state();
    assert_eq!(
        before_copy, before,
        "a shadow write changes no configuration"
    );
    let err = ii.fails(&["group", "copy", "to-master", "grp"], 2);
    has(
        &err,
        &format!(
            "Overwrite the master volumes of group grp with their shadows ({m1} of set ga \
             with {s1}, {m2} of set gb with {s2})?"
        ),
    );
    assert_eq!(g.state(), before, "a refused group copy changed something");
    g.assert_dev(&mt1, "am");
    g.assert_dev(&mt2, "bm");

    ii.ok(&["-g", "grp", "-c", "m", "-n"]);
    ii.ok(&["group", "wait", "grp", "--timeout", "600"]);
    g.model_copy("as", "am");
    g.model_copy("bs", "bm");
    g.assert_dev(&mt1, "am");
    g.assert_dev(&mt2, "bm");
    g.assert_dev(&st1, "am");
    g.assert_dev(&st2, "bm");

    let out = ii.ok(&["-g", "grp", "-i"]);
    for s in [
        "Group grp\n",
        "  Type:              Dependent\n",
        "  Sets:              ga, gb\n",
        "  Busy sets:         -\n",
        "  ga: idle; 100% synchronized",
        "  gb: idle; 100% synchronized",
    ] {
        has(&out, s);
    }
    assert_eq!(ii.ok(&["group", "status", "grp"]), out);
    let j = ii.json(&["group", "status", "grp"]);
    assert_eq!(
        j["groups"][0]["Members"],
        serde_json::json!(["ga", "gb"]),
        "{j}"
    );
    assert_eq!(sets(&j).len(), 2, "{j}");
    assert_eq!(sets(&j)[0]["GroupName"], "grp", "{j}");

    ii.ok(&["group", "remove", "grp", "gb"]);
    has(
        &ii.ok(&["group", "delete", "grp"]),
        "group grp deleted; its sets stay, ungrouped",
    );
    assert_eq!(ii.ok(&["group", "list"]), "no groups\n");
    // The sets go on alone.
    g.write(&mt1, &["am"], 0, 64);
    ii.ok(&["update", "to-shadow", "ga"]);
    g.model_copy("am", "as");
    g.assert_dev(&st1, "as");
    g.assert_dev(&st2, "bm");
}

/// Refusals with their exit codes and messages, and how iiadm reaches the agent: an
/// unknown set, a volume in use, wrong or missing credentials, nobody listening,
/// HTTPS with and without --insecure.
fn refusals_and_connections(g: &mut Guest) {
    let (m1, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    g.fill(&m1, "m");
    let ii = start_agent(g);
    ii.ok(&["enable", "--type", "dep", &m1, &s1, &b1, "--name", "web"]);
    let before = g.state();

    let err = ii.fails(&["update", "to-shadow", "nosuch"], 3);
    has(&err, "set nosuch: CIM_ERR_NOT_FOUND");
    let err = ii.fails(&["-i", "nosuch"], 3);
    has(&err, "set nosuch: CIM_ERR_NOT_FOUND");
    let err = ii.fails(&["-d", "nosuch"], 3);
    has(&err, "set nosuch: DeleteIISet returned 8 Not Found");
    // The shadow of one set as the shadow of another.
    let err = ii.fails(
        &["enable", "-t", "dep", &m1, &s1, &b2, "--name", "twice"],
        5,
    );
    has(&err, "set twice: CreateIISet returned 6 In Use");
    // Independent sets have copy parameters, dependent ones do not.
    let err = ii.fails(&["copy-params", "web", "--units", "8"], 8);
    has(&err, "SetCopyParameters returned 1 Not Supported");
    // A chunk size the engine does not take.
    let err = ii.fails(
        &["enable", "-t", "dep", &m1, &s2, &b2, "--chunk-kib", "3"],
        2,
    );
    has(&err, "CreateIISet returned 5 Invalid Parameter");
    assert_eq!(g.state(), before, "refusals changed something");
    // One it takes: a second shadow of the master with 64 KiB chunks.
    ii.ok(&[
        "enable",
        "-t",
        "dep",
        &m1,
        &s2,
        &b2,
        "--chunk-kib",
        "64",
        "--name",
        "big",
    ]);
    has(&ii.ok(&["-i", "big"]), "chunks of 64.0 KiB");
    g.model_copy("m", "big");
    g.assert_dev(&top(&s2), "big");

    // Credentials: wrong, missing.
    let mut c = ii.command();
    c.env("DSIMAGE_PASSWORD", "wrong-password");
    let r = Iiadm::run_command(c, &["list"]);
    assert_eq!(r.status, 11, "{r:?}");
    has(
        &r.stderr,
        &format!("the agent at {} refused user \"{USER}\"", ii.http),
    );
    let mut c = ii.command();
    c.env_remove("DSIMAGE_USER").env_remove("DSIMAGE_PASSWORD");
    let r = Iiadm::run_command(c, &["list"]);
    assert_eq!(r.status, 2, "{r:?}");
    has(&r.stderr, "DSIMAGE_USER");
    // The options win over the environment.
    let r = Iiadm::run_command(ii.command(), &["--password", "wrong-password", "list"]);
    assert_eq!(r.status, 11, "{r:?}");

    // Nobody there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let err = ii.fails(&["--url", &url, "list"], 10);
    has(&err, &format!("cannot reach the agent at {url}: "));

    // HTTPS: the agent's certificate is self-signed.
    let out = ii.ok(&["--url", &ii.https, "--insecure", "list"]);
    has(&out, "web ");
    let err = ii.fails(&["--url", &ii.https, "list"], 10);
    has(&err, "--insecure");
    let j = ii.json(&["--url", &ii.https, "--insecure", "status", "web"]);
    assert_eq!(sets(&j)[0]["Name"], "web");
}

/// The agent's volumes, and putting one under control and releasing it.
fn volumes_control_and_release(g: &mut Guest) {
    let m2 = g.disk("m2");
    let ii = start_agent(g);
    let out = ii.ok(&["volumes"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{m2} ")))
        .unwrap_or_else(|| panic!("no line for {m2}:\n{out}"));
    for s in ["32.0 MiB", "yes", "None", "no"] {
        has(line, s);
    }
    let vda = out
        .lines()
        .find(|l| l.starts_with("/dev/vda "))
        .unwrap_or_default();
    has(vda, "mounted on");

    let name = m2.trim_start_matches("/dev/");
    has(
        &ii.ok(&["control", name]),
        &format!("volume {m2} put under control"),
    );
    g.sh(&format!("test -b {}", top(&m2)));
    let j = ii.json(&["volumes"]);
    let v = j["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Path"] == m2.as_str())
        .unwrap_or_else(|| panic!("{m2} missing: {j}"))
        .clone();
    assert_eq!(v["UnderControl"], true, "{v}");
    let j = ii.json(&["release", &m2]);
    assert_eq!(j["method"], "Release", "{j}");
    assert_eq!(j["return_value"], 0, "{j}");
    assert_eq!(j["volumes"][0]["UnderControl"], false, "{j}");
    let (st, _, _) = g.try_sh(&format!("test -e {}", top(&m2)));
    assert_ne!(st, 0, "released volume still has its top device");
    let err = ii.fails(&["control", "/dev/nosuch"], 3);
    has(&err, "not among the agent's volumes");
}
