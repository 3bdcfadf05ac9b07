//! `iiadm` against the agent's real object manager, built over the MOF compiled into
//! the agent with a fake provider of sets, groups and volumes: every request is written
//! by the codec, parsed back by the server's parser, typed against the method's MOF
//! declaration, answered, written and parsed again (in process), and over real HTTP
//! and HTTPS sockets through the agent's listener.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::Parser;
use serde_json::Value as Json;

use super::cli::Cli;
use super::commands::Session;
use super::confirm::tests::FakeTerminal;
use super::error::{exit, ClientError};
use super::http::{Credentials, Endpoint, HttpClient};
use super::ops::{Exchange, Ops};
use super::tls::Trust;
use super::{credentials, trust};
use crate::cim::xml_read::{parse_request, parse_response};
use crate::cim::{
    xml_write, CimDateTime, CimError, CimStatus, CimType, Instance, Limits, MethodTarget,
    ObjectPath, ParamData, ParamValue, RawValue, Request, Response, Value,
};
use crate::cimom::{schema, Cimom, Ctx, MethodOutput, Provider};
use crate::http::{self, Dispatcher, ListenerConfig, ListenerHandle};
use crate::providers::{self, EngineHost, NAMESPACE};

const USER: &str = "admin";
const PASSWORD: &str = "pw-for-tests";
const MIB32: u64 = 32 << 20;

fn set_instance(name: &str, kind: u16, master: &str, shadow: &str, bitmap: &str) -> Instance {
    Instance::new("DS_IISet")
        .with("Name", name)
        .with("Type", kind)
        .with("Compact", false)
        .with("GroupName", "")
        .with("MasterVolume", master)
        .with("ShadowVolume", shadow)
        .with("BitmapVolume", bitmap)
        .with("State", 1u16)
        .with("Direction", 0u16)
        .with("PercentCompleted", 100u8)
        .with("PercentSynchronized", 100u8)
        .with("ChunkSize", 32768u32)
        .with("MasterSize", MIB32)
        .with("ShadowSize", MIB32)
        .with("LastModified", CimDateTime::from_unix(1_764_075_710, 0))
        .with(
            "StatusDescriptions",
            Value::string_array(["idle; 100% synchronized (0 of 1024 chunks differ)"]),
        )
}

fn volume_instance(id: &str, suitable: bool) -> Instance {
    Instance::new("DS_StorageVolume")
        .with("SystemCreationClassName", "CIM_ComputerSystem")
        .with("SystemName", "host1")
        .with("CreationClassName", "DS_StorageVolume")
        .with("DeviceID", id)
        .with("Path", format!("/dev/{id}").as_str())
        .with("Size", MIB32)
        .with("Suitable", suitable)
        .with("UnderControl", false)
        .with("Role", 0u16)
}

/// Parameters by name, as text.
type Params = Vec<(String, String)>;

/// A method the fake agent was asked to run: (target path, method, parameters).
type Call = (String, String, Params);

/// What the fake agent holds and what it was asked.
#[derive(Debug, Default)]
struct State {
    sets: Vec<Instance>,
    groups: Vec<Instance>,
    volumes: Vec<Instance>,
    /// Every method invoked.
    calls: Vec<Call>,
    /// Return codes to answer, by method.
    codes: HashMap<String, u32>,
}

/// A provider of DS_IISet, DS_IIGroup, DS_StorageVolume and DS_IIService that keeps
/// instances in memory and applies the methods' main effects.
#[derive(Debug, Default)]
struct FakeAgent(Mutex<State>);

const CLASSES: [&str; 4] = ["DS_IISet", "DS_IIGroup", "DS_StorageVolume", "DS_IIService"];

fn text_param(params: &[ParamValue], name: &str) -> String {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .and_then(|p| match &p.data {
            ParamData::Value(RawValue::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn key_name(path: &ObjectPath) -> String {
    path.key("Name")
        .or_else(|| path.key("DeviceID"))
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_string()
}

impl State {
    fn list(&mut self, class: &str) -> &mut Vec<Instance> {
        match class.to_ascii_lowercase().as_str() {
            "ds_iiset" => &mut self.sets,
            "ds_iigroup" => &mut self.groups,
            "ds_storagevolume" => &mut self.volumes,
            other => panic!("no instances of {other}"),
        }
    }

    fn find(&mut self, class: &str, name: &str) -> Option<&mut Instance> {
        self.list(class).iter_mut().find(|i| {
            [i.get("Name"), i.get("DeviceID")]
                .into_iter()
                .flatten()
                .any(|v| v.as_str() == Some(name))
        })
    }

    fn apply(&mut self, target: &MethodTarget, method: &str, params: &[ParamValue]) {
        let p = |n: &str| text_param(params, n);
        let on = match target {
            MethodTarget::Instance(path) => key_name(path),
            MethodTarget::Class { .. } => String::new(),
        };
        match method {
            "CreateIISet" => {
                let kind: u16 = p("Type").parse().unwrap();
                let mut s = set_instance(
                    &p("Name"),
                    kind,
                    &p("MasterVolume"),
                    &p("ShadowVolume"),
                    &p("BitmapVolume"),
                );
                if kind == 1 {
                    s.set("State", Value::from(2u16));
                    s.set("Direction", Value::from(1u16));
                    s.set("PercentCompleted", Value::from(0u8));
                }
                self.sets.push(s);
            }
            "DeleteIISet" => self
                .sets
                .retain(|s| s.get("Name") != Some(&Value::string(p("Name")))),
            "CreateIIGroup" => self.groups.push(
                Instance::new("DS_IIGroup")
                    .with("Name", p("Name").as_str())
                    .with("Type", 0u16)
                    .with("Members", Value::Array(CimType::String, Vec::new()))
                    .with("BusyMembers", Value::Array(CimType::String, Vec::new()))
                    .with("PercentCompleted", 100u8),
            ),
            "DeleteIIGroup" => self
                .groups
                .retain(|g| g.get("Name") != Some(&Value::string(p("Name")))),
            "AddSet" | "RemoveSet" => {
                let set = p("SetName");
                let g = self.find("DS_IIGroup", &on).unwrap();
                let mut members = super::render::string_array(g, "Members");
                if method == "AddSet" {
                    members.push(set.clone());
                    g.set("Type", Value::from(2u16));
                } else {
                    members.retain(|m| *m != set);
                }
                g.set("Members", Value::string_array(members));
                let in_group = if method == "AddSet" { on.as_str() } else { "" };
                if let Some(s) = self.find("DS_IISet", &set) {
                    s.set("GroupName", Value::string(in_group));
                }
            }
            "PutUnderControl" | "Release" => {
                let v = self.find("DS_StorageVolume", &on).unwrap();
                v.set("UnderControl", Value::from(method == "PutUnderControl"));
            }
            "SetCopyParameters" => {
                let s = self.find("DS_IISet", &on).unwrap();
                s.set("CopyUnits", Value::from(p("Units").parse::<u32>().unwrap()));
                s.set("CopyDelay", Value::from(p("Delay").parse::<u32>().unwrap()));
            }
            _ => {}
        }
    }
}

impl Provider for FakeAgent {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        CLASSES.iter().map(|c| (NAMESPACE, *c)).collect()
    }

    fn enumerate_instances(&self, _: &Ctx, class: &str) -> Result<Vec<Instance>, CimError> {
        if class.eq_ignore_ascii_case("DS_IIService") {
            return Ok(Vec::new());
        }
        Ok(self.0.lock().unwrap().list(class).clone())
    }

    fn get_instance(&self, _: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        let name = key_name(path);
        self.0
            .lock()
            .unwrap()
            .find(&path.classname, &name)
            .cloned()
            .ok_or_else(|| {
                CimError::new(
                    CimStatus::NotFound,
                    format!("{} {name} not found", path.classname),
                )
            })
    }

    fn invoke_method(
        &self,
        _: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        let mut st = self.0.lock().unwrap();
        let target_text = super::paths::target_text(target);
        st.calls.push((
            target_text,
            method.to_string(),
            params
                .iter()
                .map(|p| (p.name.clone(), text_param(params, &p.name)))
                .collect(),
        ));
        let code = st.codes.get(method).copied().unwrap_or(0);
        if code == 0 {
            st.apply(target, method, params);
        }
        Ok(MethodOutput {
            return_value: Value::from(code),
            out_params: Vec::new(),
        })
    }
}

fn fake_agent() -> Arc<FakeAgent> {
    let agent = FakeAgent::default();
    {
        let mut st = agent.0.lock().unwrap();
        st.sets
            .push(set_instance("web", 2, "/dev/vdb", "/dev/vdc", "/dev/vdd"));
        let mut ind = set_instance("ind", 1, "/dev/vde", "/dev/vdf", "/dev/vdg");
        ind.set("State", Value::from(2u16));
        ind.set("Direction", Value::from(1u16));
        ind.set("PercentCompleted", Value::from(37u8));
        ind.set(
            "StatusDescriptions",
            Value::string_array(["copying master to shadow: 37% done"]),
        );
        st.sets.push(ind);
        st.volumes.push(volume_instance("vdh", true));
        st.volumes
            .push(volume_instance("vdb", false).with("Role", 1u16));
    }
    Arc::new(agent)
}

fn cimom(providers: Vec<Arc<dyn Provider>>) -> Arc<Cimom> {
    Arc::new(Cimom::new(schema::builtin().unwrap(), providers).unwrap())
}

/// The exchange in process: the request through the codec and the server's parser
/// (unchanged by the trip), the object manager, the response through the codec.
struct Loopback {
    cimom: Arc<Cimom>,
    seen: RefCell<Vec<Request>>,
}

impl Exchange for Loopback {
    fn exchange(&self, request: &Request) -> Result<Response, ClientError> {
        let xml = xml_write::request(request);
        let parsed = parse_request(xml.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("the agent cannot parse {xml}: {e}"));
        assert_eq!(&parsed, request, "request changed on the wire: {xml}");
        self.seen.borrow_mut().push(parsed.clone());
        let response = self.cimom.dispatch(parsed, USER);
        let xml = xml_write::response(&response);
        // What the client reads is what the wire carries (an INSTANCENAME names no
        // namespace, for one): parsed back, not the object manager's value.
        parse_response(xml.as_bytes(), &Limits::default())
            .map_err(|e| panic!("iiadm cannot parse {xml}: {e}"))
    }

    fn url(&self) -> String {
        "loopback".into()
    }
}

struct Harness {
    agent: Arc<FakeAgent>,
    ops: Ops<Loopback>,
}

fn harness() -> Harness {
    let agent = fake_agent();
    let ops = Ops::new(Loopback {
        cimom: cimom(vec![agent.clone()]),
        seen: RefCell::new(Vec::new()),
    });
    Harness { agent, ops }
}

/// Runs `iiadm ARGS` against `ops`; returns the outcome and standard output.
fn run_with<E: Exchange>(
    ops: &Ops<E>,
    args: &[&str],
    terminal: &mut FakeTerminal,
) -> (Result<(), ClientError>, String) {
    let cli = Cli::try_parse_from(std::iter::once("iiadm").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut out = Vec::new();
    let r = cli.resolve().and_then(|command| {
        Session {
            ops,
            out: &mut out,
            terminal,
            json: cli.json,
            yes: cli.yes,
        }
        .run(&command)
    });
    (r, String::from_utf8(out).unwrap())
}

impl Harness {
    fn run(&self, args: &[&str]) -> (Result<(), ClientError>, String) {
        run_with(&self.ops, args, &mut FakeTerminal::default())
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let (r, out) = self.run(args);
        if let Err(e) = r {
            panic!("iiadm {args:?}: {e}");
        }
        out
    }

    #[track_caller]
    fn err(&self, args: &[&str]) -> ClientError {
        match self.run(args) {
            (Err(e), _) => e,
            (Ok(()), out) => panic!("iiadm {args:?} should fail, printed {out}"),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.agent.0.lock().unwrap().calls.clone()
    }

    fn answer(&self, method: &str, code: u32) {
        self.agent
            .0
            .lock()
            .unwrap()
            .codes
            .insert(method.into(), code);
    }

    /// The requests sent so far, without their message IDs.
    fn requests(&self) -> Vec<Request> {
        self.ops
            .exchange()
            .seen
            .take()
            .into_iter()
            .map(|r| match r {
                Request::IMethodCall {
                    namespace,
                    method,
                    params,
                    ..
                } => Request::IMethodCall {
                    id: String::new(),
                    namespace,
                    method,
                    params,
                },
                Request::MethodCall {
                    target,
                    method,
                    params,
                    ..
                } => Request::MethodCall {
                    id: String::new(),
                    target,
                    method,
                    params,
                },
                other => other,
            })
            .collect()
    }
}

#[test]
fn classic_and_long_forms_send_the_same_requests() {
    let pairs: &[(&[&str], &[&str])] = &[
        (
            &["-e", "dep", "/dev/vdh", "/dev/vdi", "/dev/vdj"],
            &[
                "enable", "--type", "dep", "/dev/vdh", "/dev/vdi", "/dev/vdj",
            ],
        ),
        (&["-u", "s", "web"], &["update", "to-shadow", "web"]),
        (
            &["-c", "m", "web", "-n"],
            &["copy", "to-master", "web", "--yes"],
        ),
        (&["-w", "ind"], &["wait", "ind"]),
        (&["-a", "ind"], &["abort", "ind"]),
        (
            &["-P", "100", "8", "ind"],
            &["copy-params", "ind", "--units", "8", "--delay-ms", "100"],
        ),
        (&["-i", "web"], &["status", "web"]),
        (&["-l"], &["list"]),
        (&["-L"], &["group", "list"]),
        (&["-d", "/dev/vdi"], &["disable", "/dev/vdi"]),
    ];
    for (classic, long) in pairs {
        let h = harness();
        h.ok(classic);
        let a = h.requests();
        let h = harness();
        h.ok(long);
        let b = h.requests();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{classic:?} vs {long:?}");
    }
    // Groups, once a group exists.
    let setup = |h: &Harness| {
        h.ok(&["group", "create", "g"]);
        h.ok(&["group", "add", "g", "web"]);
        h.requests();
    };
    for (classic, long) in [
        (
            &["-g", "g", "-u", "s"][..],
            &["group", "update", "to-shadow", "g"][..],
        ),
        (
            &["-g", "g", "-c", "m", "-n"],
            &["group", "copy", "to-master", "g", "-n"],
        ),
        (&["-g", "g", "-w"], &["group", "wait", "g"]),
        (&["-g", "g", "-i"], &["group", "status", "g"]),
    ] {
        let h = harness();
        setup(&h);
        h.ok(classic);
        let a = h.requests();
        let h = harness();
        setup(&h);
        h.ok(long);
        assert_eq!(a, h.requests(), "{classic:?} vs {long:?}");
    }
}

#[test]
fn methods_get_the_parameters_the_mof_declares() {
    let h = harness();
    h.ok(&[
        "enable", "--type", "ind", "/dev/vdh", "/dev/vdi", "/dev/vdj", "--name", "new",
    ]);
    h.ok(&["update", "to-shadow", "web"]);
    h.ok(&["copy", "to-master", "web", "--yes"]);
    h.ok(&["wait", "new", "--timeout", "30"]);
    h.ok(&["suspend", "new"]);
    h.ok(&["resume", "new"]);
    h.ok(&["abort", "new"]);
    h.ok(&["copy-params", "new", "--units", "8", "--delay-ms", "100"]);
    h.ok(&["copy-params", "new", "--clear"]);
    h.ok(&["group", "create", "g"]);
    h.ok(&["group", "add", "g", "web"]);
    h.ok(&["group", "remove", "g", "web"]);
    h.ok(&["group", "delete", "g"]);
    h.ok(&["control", "vdh"]);
    h.ok(&["release", "/dev/vdh"]);
    h.ok(&["disable", "new"]);
    let calls = h.calls();
    let s = |v: &[(&str, &str)]| -> Params {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let want: Vec<(&str, &str, Params)> = vec![
        (
            "root/dsimage:DS_IIService",
            "CreateIISet",
            s(&[
                ("Name", "new"),
                ("Type", "1"),
                ("MasterVolume", "/dev/vdh"),
                ("ShadowVolume", "/dev/vdi"),
                ("BitmapVolume", "/dev/vdj"),
                ("Compact", "FALSE"),
            ]),
        ),
        (
            r#"root/dsimage:DS_IISet.Name="web""#,
            "Update",
            s(&[("Direction", "1")]),
        ),
        (
            r#"root/dsimage:DS_IISet.Name="web""#,
            "Copy",
            s(&[("Direction", "2")]),
        ),
        (
            r#"root/dsimage:DS_IISet.Name="new""#,
            "Wait",
            s(&[("Timeout", "30")]),
        ),
        (r#"root/dsimage:DS_IISet.Name="new""#, "Suspend", vec![]),
        (r#"root/dsimage:DS_IISet.Name="new""#, "Resume", vec![]),
        (r#"root/dsimage:DS_IISet.Name="new""#, "Abort", vec![]),
        (
            r#"root/dsimage:DS_IISet.Name="new""#,
            "SetCopyParameters",
            s(&[("Units", "8"), ("Delay", "100")]),
        ),
        (
            r#"root/dsimage:DS_IISet.Name="new""#,
            "ClearCopyParameters",
            vec![],
        ),
        (
            "root/dsimage:DS_IIService",
            "CreateIIGroup",
            s(&[("Name", "g")]),
        ),
        (
            r#"root/dsimage:DS_IIGroup.Name="g""#,
            "AddSet",
            s(&[("SetName", "web")]),
        ),
        (
            r#"root/dsimage:DS_IIGroup.Name="g""#,
            "RemoveSet",
            s(&[("SetName", "web")]),
        ),
        (
            "root/dsimage:DS_IIService",
            "DeleteIIGroup",
            s(&[("Name", "g")]),
        ),
        (
            r#"root/dsimage:DS_StorageVolume.SystemCreationClassName="CIM_ComputerSystem",SystemName="host1",CreationClassName="DS_StorageVolume",DeviceID="vdh""#,
            "PutUnderControl",
            vec![],
        ),
        (
            r#"root/dsimage:DS_StorageVolume.SystemCreationClassName="CIM_ComputerSystem",SystemName="host1",CreationClassName="DS_StorageVolume",DeviceID="vdh""#,
            "Release",
            vec![],
        ),
        (
            "root/dsimage:DS_IIService",
            "DeleteIISet",
            s(&[("Name", "new")]),
        ),
    ];
    let got: Vec<(&str, &str, Params)> = calls
        .iter()
        .map(|(t, m, p)| (t.as_str(), m.as_str(), p.clone()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn status_and_list_show_what_an_administrator_expects() {
    let h = harness();
    let out = h.ok(&["status", "ind"]);
    for s in [
        "Set ind\n",
        "Type:                 Independent\n",
        "State:                Copy In Progress, master to shadow\n",
        "Status:               copying master to shadow: 37% done\n",
        "Master volume:        /dev/vde (32.0 MiB)\n",
        "Percent completed:    37%\n",
        "Copy parameters:      none (full speed)\n",
        "Last modified:        2025-11-25 13:01:50 UTC\n",
    ] {
        assert!(out.contains(s), "{s:?} missing:\n{out}");
    }
    let all = h.ok(&["-i"]);
    assert!(
        all.contains("Set ind\n") && all.contains("Set web\n"),
        "{all}"
    );
    let list = h.ok(&["list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[1].starts_with("ind ") && lines[1].contains("Copy In Progress 37%"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("web ") && lines[2].contains("Dependent"),
        "{list}"
    );
    let vols = h.ok(&["volumes"]);
    assert!(vols.contains("/dev/vdh  32.0 MiB  yes"), "{vols}");
    assert!(vols.contains("Master"), "{vols}");
    // After an action, the set's status in the agent's words.
    assert_eq!(
        h.ok(&["update", "to-shadow", "web"]),
        "web: idle; 100% synchronized (0 of 1024 chunks differ)\n"
    );
    let out = h.ok(&["enable", "-t", "ind", "/dev/vdh", "/dev/vdi", "/dev/vdj"]);
    assert!(
        out.starts_with("set /dev/vdi enabled (Independent): master /dev/vdh, shadow /dev/vdi, bitmap /dev/vdj\n"),
        "{out}"
    );
    assert!(out.contains("`iiadm wait /dev/vdi`"), "{out}");
    // Groups.
    h.ok(&["group", "create", "g"]);
    h.ok(&["group", "add", "g", "web"]);
    let g = h.ok(&["group", "status", "g"]);
    assert!(g.starts_with("Group g\n"), "{g}");
    assert!(g.contains("Sets:              web\n"), "{g}");
    assert!(g.contains("  web: idle;"), "{g}");
    let gl = h.ok(&["group", "list"]);
    assert!(
        gl.lines().nth(1).unwrap().starts_with("g     Dependent  1"),
        "{gl}"
    );
}

#[test]
fn json_output_is_the_cim_properties() {
    let h = harness();
    let j: Json = serde_json::from_str(&h.ok(&["status", "--json"])).unwrap();
    let sets = j["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["Name"], "ind");
    assert_eq!(sets[0]["State"], 2);
    assert_eq!(sets[0]["PercentCompleted"], 37);
    assert_eq!(sets[1]["MasterVolume"], "/dev/vdb");
    assert_eq!(sets[1]["CopyUnits"], Json::Null);
    let j: Json = serde_json::from_str(&h.ok(&["--json", "-u", "s", "web"])).unwrap();
    assert_eq!(j["method"], "Update");
    assert_eq!(j["target"], r#"root/dsimage:DS_IISet.Name="web""#);
    assert_eq!(j["return_value"], 0);
    assert_eq!(j["return_name"], "Success");
    assert_eq!(j["sets"][0]["Name"], "web");
    let j: Json = serde_json::from_str(&h.ok(&["volumes", "--json"])).unwrap();
    assert_eq!(j["volumes"][0]["Path"], "/dev/vdb");
    let j: Json = serde_json::from_str(&h.ok(&["group", "list", "--json"])).unwrap();
    assert_eq!(j["groups"], Json::Array(Vec::new()));
}

#[test]
fn refusals_name_the_return_code_from_the_mof() {
    let h = harness();
    h.answer("Update", 6);
    let e = h.err(&["update", "to-shadow", "web"]);
    assert_eq!(
        e.to_string(),
        "set web: Update returned 6 In Use (idle; 100% synchronized (0 of 1024 chunks differ))"
    );
    assert_eq!(e.exit_code(), exit::IN_USE);
    h.answer("Abort", 7);
    assert_eq!(h.err(&["-a", "web"]).exit_code(), exit::BUSY);
    h.answer("Wait", 3);
    let e = h.err(&["wait", "ind", "--timeout", "1"]);
    assert!(e.to_string().contains("Wait returned 3 Timeout"), "{e}");
    assert_eq!(e.exit_code(), exit::TIMEOUT);
    h.answer("CreateIISet", 9);
    let e = h.err(&["-e", "dep", "/dev/vdb", "/dev/vdc", "/dev/vdd"]);
    assert!(
        e.to_string()
            .contains("CreateIISet returned 9 Already Exists"),
        "{e}"
    );
    assert_eq!(e.exit_code(), exit::ALREADY_EXISTS);
    h.answer("DeleteIISet", 13);
    let e = h.err(&["disable", "ind"]);
    assert_eq!(
        e.to_string(),
        "set ind: DeleteIISet returned 13 Busy (copying master to shadow: 37% done)"
    );
    assert_eq!(e.exit_code(), exit::BUSY);
}

#[test]
fn cim_errors_print_their_name_and_change_nothing() {
    let h = harness();
    let e = h.err(&["update", "to-shadow", "nosuch"]);
    assert!(
        e.to_string().starts_with("set nosuch: CIM_ERR_NOT_FOUND: "),
        "{e}"
    );
    assert_eq!(e.exit_code(), exit::NOT_FOUND);
    assert_eq!(h.err(&["status", "nosuch"]).exit_code(), exit::NOT_FOUND);
    assert_eq!(
        h.err(&["group", "status", "nope"]).exit_code(),
        exit::NOT_FOUND
    );
    // A volume the agent does not have.
    let e = h.err(&["control", "/dev/nosuch"]);
    assert!(e.to_string().contains("iiadm volumes"), "{e}");
    assert_eq!(e.exit_code(), exit::NOT_FOUND);
    // A chunk size that does not fit the parameter never reaches the agent.
    let e = h.err(&[
        "enable",
        "-t",
        "dep",
        "a",
        "b",
        "c",
        "--chunk-kib",
        "8388608",
    ]);
    assert!(e.to_string().contains("too large"), "{e}");
    assert_eq!(e.exit_code(), exit::USAGE);
    h.ok(&[
        "enable",
        "-t",
        "dep",
        "/dev/vdh",
        "/dev/vdi",
        "/dev/vdj",
        "--chunk-kib",
        "32",
    ]);
    let calls = h.calls();
    assert_eq!(
        calls.len(),
        1,
        "only the good enable reached the agent: {calls:?}"
    );
    assert!(
        format!("{calls:?}").contains("ChunkSize"),
        "the chunk size is sent in bytes: {calls:?}"
    );
}

#[test]
fn copies_to_the_master_are_confirmed_first() {
    // Not a terminal: refused, nothing invoked, and the message says what to add.
    let h = harness();
    let mut t = FakeTerminal::default();
    let (r, out) = run_with(&h.ops, &["copy", "to-master", "web"], &mut t);
    let e = r.unwrap_err();
    assert!(out.is_empty());
    assert!(
        e.to_string().starts_with(
            "Overwrite the master volume /dev/vdb of set web with the shadow /dev/vdc? "
        ),
        "{e}"
    );
    assert!(e.to_string().contains("-n (or --yes)"), "{e}");
    assert_eq!(e.exit_code(), exit::USAGE);
    assert!(h.calls().is_empty(), "nothing invoked");
    // To the shadow needs no confirmation.
    let (r, _) = run_with(&h.ops, &["-u", "s", "web"], &mut t);
    r.unwrap();
    // On a terminal: asked; "no" changes nothing, "yes" goes ahead.
    let mut t = FakeTerminal {
        interactive: true,
        answers: vec!["no\n".into(), "yes\n".into()],
        ..Default::default()
    };
    let (r, _) = run_with(&h.ops, &["-u", "m", "web"], &mut t);
    assert!(r.unwrap_err().to_string().contains("not confirmed"));
    assert_eq!(h.calls().len(), 1, "only the update to the shadow");
    let (r, _) = run_with(&h.ops, &["-u", "m", "web"], &mut t);
    r.unwrap();
    assert_eq!(
        t.asked,
        vec![
            "Overwrite the master volume /dev/vdb of set web with the shadow /dev/vdc? (yes/no)";
            2
        ]
    );
    assert_eq!(
        h.calls().last().unwrap().2,
        vec![("Direction".into(), "2".into())]
    );
    // A group: every master is named.
    h.ok(&["group", "create", "g"]);
    h.ok(&["group", "add", "g", "web"]);
    h.ok(&["group", "add", "g", "ind"]);
    let e = h.err(&["-g", "g", "-c", "m"]);
    assert!(
        e.to_string().starts_with(
            "Overwrite the master volumes of group g with their shadows (/dev/vdb of set web \
             with /dev/vdc, /dev/vde of set ind with /dev/vdf)? "
        ),
        "{e}"
    );
    let before = h.calls().len();
    h.ok(&["-g", "g", "-c", "m", "-n"]);
    assert_eq!(h.calls().len(), before + 1);
}

// ---- over HTTP(S) ---------------------------------------------------------

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "iiadm-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The agent's listener on loopback ports, over an object manager with `providers`.
struct Listening {
    handle: ListenerHandle,
    dir: TempDir,
}

fn listen(providers: Vec<Arc<dyn Provider>>) -> Listening {
    let dir = TempDir::new("agent");
    let mut cfg = ListenerConfig::new(dir.path());
    cfg.http = Some("127.0.0.1:0".parse().unwrap());
    cfg.https = Some("127.0.0.1:0".parse().unwrap());
    http::auth::add_user_with_iterations(&cfg.users_file, USER, PASSWORD, 1000).unwrap();
    let dispatcher: Arc<dyn Dispatcher> = cimom(providers);
    let handle = http::spawn(cfg, dispatcher).unwrap();
    Listening { handle, dir }
}

fn client(url: &str, password: &str, trust: &Trust) -> Result<Ops<HttpClient>, ClientError> {
    let credentials = Credentials {
        user: USER.into(),
        password: password.into(),
    };
    Ok(Ops::new(HttpClient::new(
        Endpoint::parse(url).unwrap(),
        credentials,
        trust,
    )?))
}

fn http_url(a: SocketAddr) -> String {
    format!("http://{a}")
}

fn https_url(a: SocketAddr) -> String {
    format!("https://{a}")
}

#[test]
fn over_http_and_https() {
    let agent = fake_agent();
    let l = listen(vec![agent.clone()]);
    let http = l.handle.http_addr().unwrap();
    let https = l.handle.https_addr().unwrap();
    let mut t = FakeTerminal::default();

    let ops = client(&http_url(http), PASSWORD, &Trust::System).unwrap();
    let (r, out) = run_with(&ops, &["list"], &mut t);
    r.unwrap();
    assert!(out.contains("web") && out.contains("ind"), "{out}");
    let (r, _) = run_with(&ops, &["-u", "s", "web"], &mut t);
    r.unwrap();
    let (r, _) = run_with(&ops, &["-u", "s", "no such set"], &mut t);
    assert_eq!(r.unwrap_err().exit_code(), exit::NOT_FOUND);
    assert_eq!(agent.0.lock().unwrap().calls.len(), 1);

    // HTTPS with the agent's self-signed certificate: --insecure, or --ca-file with it.
    let ops = client(&https_url(https), PASSWORD, &Trust::Insecure).unwrap();
    let (r, out) = run_with(&ops, &["status", "web"], &mut t);
    r.unwrap();
    assert!(out.starts_with("Set web\n"), "{out}");
    let cert = l.dir.path().join("tls/cert.pem");
    let ops = client(&https_url(https), PASSWORD, &Trust::CaFile(cert)).unwrap();
    let (r, _) = run_with(&ops, &["list"], &mut t);
    r.unwrap();
    // The system's CA bundle does not know it: refused, with what to do.
    let e = client(&https_url(https), PASSWORD, &Trust::System)
        .and_then(|ops| run_with(&ops, &["list"], &mut t).0)
        .unwrap_err();
    assert!(e.to_string().contains("--insecure"), "{e}");
    assert!(e.to_string().contains(&https_url(https)), "{e}");

    // A wrong password is the agent's 401, said plainly.
    let ops = client(&http_url(http), "wrong", &Trust::System).unwrap();
    let e = run_with(&ops, &["list"], &mut t).0.unwrap_err();
    assert_eq!(e.exit_code(), exit::AUTH);
    assert!(e.to_string().contains("refused user \"admin\""), "{e}");
    // HTTP spoken to the HTTPS port.
    let ops = client(&http_url(https), PASSWORD, &Trust::System).unwrap();
    let e = run_with(&ops, &["list"], &mut t).0.unwrap_err();
    assert!(e.to_string().contains(&http_url(https)), "{e}");
}

#[test]
fn an_agent_that_is_not_there_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let ops = client(&url, PASSWORD, &Trust::System).unwrap();
    let e = run_with(&ops, &["list"], &mut FakeTerminal::default())
        .0
        .unwrap_err();
    assert_eq!(e.exit_code(), exit::UNREACHABLE);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot reach the agent at {url}: ")),
        "{text}"
    );
    assert!(text.contains("dsimaged serve"), "{text}");
}

#[test]
fn an_agent_without_device_mapper_answers_a_clear_cim_error() {
    let why = "device-mapper is unavailable on this host: no /dev/mapper/control";
    let l = listen(providers::all(Arc::new(EngineHost::unavailable(why))));
    let ops = client(
        &http_url(l.handle.http_addr().unwrap()),
        PASSWORD,
        &Trust::System,
    )
    .unwrap();
    let e = run_with(&ops, &["list"], &mut FakeTerminal::default())
        .0
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("enumerating DS_IISet: CIM_ERR_FAILED: {why}")
    );
    assert_eq!(e.exit_code(), exit::FAILURE);
}

#[test]
fn credentials_come_from_options_or_environment_or_an_error_says_how() {
    let parse = |args: &[&str]| {
        Cli::try_parse_from(std::iter::once("iiadm").chain(args.iter().copied())).unwrap()
    };
    // Options win; the environment is read by clap (DSIMAGE_USER...), not tested here
    // to keep the test independent of the caller's environment.
    let cli = parse(&["--user", "u", "--password", "p", "list"]);
    assert_eq!(
        credentials(&cli.connection).unwrap(),
        Credentials {
            user: "u".into(),
            password: "p".into()
        }
    );
    let mut c = cli.connection.clone();
    c.password = None;
    let e = credentials(&c).unwrap_err();
    assert!(e.to_string().contains("no password for user \"u\""), "{e}");
    assert!(e.to_string().contains("DSIMAGE_PASSWORD"), "{e}");
    c.user = None;
    let e = credentials(&c).unwrap_err();
    assert!(
        e.to_string().contains("no user name for the agent at"),
        "{e}"
    );
    assert_eq!(e.exit_code(), exit::USAGE);
    assert_eq!(trust(&cli.connection), Trust::System);
    let cli = parse(&["--insecure", "list"]);
    assert_eq!(trust(&cli.connection), Trust::Insecure);
    let cli = parse(&["--ca-file", "/x.pem", "list"]);
    assert_eq!(trust(&cli.connection), Trust::CaFile("/x.pem".into()));
}
