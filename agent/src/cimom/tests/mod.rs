//! Object-manager tests: a fake provider over a small test schema, and
//! request → `Cimom::dispatch` → response round trips for every operation,
//! its parameters and its errors. `interop` tests use the built-in schema.

mod assoc;
mod classes;
mod instances;
mod interop;
mod methods;
mod pull;
mod wire;

use std::sync::{Arc, Mutex};

use crate::cim::types::name_eq;
use crate::cim::{
    CimError, CimStatus, CimType, IMethodResult, IReturnValue, Instance, KeyValue, MethodTarget,
    ObjectPath, ParamData, ParamValue, RawValue, Request, Response, Scalar, Value,
};
use crate::http::Dispatcher;
use crate::mof::compile_str;

use super::{Cimom, Ctx, MethodOutput, Provider};

pub(super) const NS: &str = "root/test";
pub(super) const USER: &str = "alice";

const TEST_MOF: &str = r#"
[Description("Root of the test classes.")]
class Test_Element {
    string Caption;
};

[Description("A widget.")]
class Test_Widget : Test_Element {
    [Key, Description("Widget name.")] string Name;
    [Write, Units("Bytes")] uint32 Size;
    boolean Flag;
    string Tags[];
    [Write] string Label = "none";
    uint32 Resize([IN, Required] uint32 NewSize, [IN] boolean Force,
        [IN(false), OUT] uint32 OldSize, [IN] string Names[],
        [IN] Test_Widget REF Peer);
    [Static] uint32 Count([IN(false), OUT] uint32 N);
    uint32 Explode();
    uint32 Lie();
    uint32 BadReturn();
};

class Test_SmallWidget : Test_Widget {
    uint8 Shade;
};

class Test_Gear : Test_Element {
    [Key] uint16 Id;
    [Key] boolean Left;
    string Note;
};

[Association]
class Test_WidgetGear {
    [Key] Test_Widget REF Widget;
    [Key] Test_Gear REF Gear;
};

class Test_Orphan : Test_Element {
    [Key] string Name;
};

class Test_Bomb : Test_Element {
    [Key] string Name;
};

[Abstract]
class Test_Abstract : Test_Element {
    [Key] string Name;
};
"#;

pub(super) fn test_repo() -> crate::mof::Repository {
    let quals = include_str!("../../../../schema/qualifiers.mof");
    compile_str(&format!("{quals}\n{TEST_MOF}"), "test.mof", NS).unwrap()
}

pub(super) fn widget_path(name: &str) -> ObjectPath {
    ObjectPath::new("Test_Widget").with_key("Name", KeyValue::string(name))
}

pub(super) fn small_path(name: &str) -> ObjectPath {
    ObjectPath::new("Test_SmallWidget").with_key("Name", KeyValue::string(name))
}

pub(super) fn gear_path(id: u64, left: bool) -> ObjectPath {
    ObjectPath::new("Test_Gear")
        .with_key(
            "Id",
            KeyValue::Numeric {
                value: crate::cim::Numeric::Unsigned(id),
                cimtype: None,
            },
        )
        .with_key("Left", KeyValue::Boolean(left))
}

fn widget(class: &str, name: &str, size: u32) -> Instance {
    Instance::new(class)
        .with("Name", name)
        .with("Size", size)
        .with("Flag", true)
        .with("Tags", Value::string_array(["a", "b"]))
}

/// What the fake provider was asked to do.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// Classes enumerated, in order.
    pub enumerated: Vec<String>,
    pub modified: Vec<(ObjectPath, Instance, Option<Vec<String>>)>,
    pub created: Vec<Instance>,
    pub deleted: Vec<ObjectPath>,
    pub invoked: Vec<(MethodTarget, String, Vec<ParamValue>)>,
}

/// The fake provider: widgets (with GetInstance), gears (without: the
/// object manager enumerates instead), their association, and a class
/// whose enumeration panics.
#[derive(Debug)]
pub(super) struct Fake {
    widgets: Mutex<Vec<Instance>>,
    pub journal: Mutex<Journal>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            widgets: Mutex::new(vec![
                widget("Test_Widget", "w1", 10),
                widget("Test_Widget", "w2", 20),
                widget("Test_SmallWidget", "s1", 1).with("Shade", 3u8),
            ]),
            journal: Mutex::new(Journal::default()),
        }
    }

    fn widgets_of(&self, class: &str) -> Vec<Instance> {
        self.widgets
            .lock()
            .unwrap()
            .iter()
            .filter(|w| name_eq(&w.classname, class))
            .cloned()
            .collect()
    }

    fn link(widget: ObjectPath, gear: ObjectPath) -> Instance {
        Instance::new("Test_WidgetGear")
            .with("Widget", Value::reference(widget))
            .with("Gear", Value::reference(gear))
    }
}

impl Provider for Fake {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        [
            "Test_Widget",
            "Test_SmallWidget",
            "Test_Gear",
            "Test_WidgetGear",
            "Test_Bomb",
        ]
        .into_iter()
        .map(|c| (NS, c))
        .collect()
    }

    fn enumerate_instances(&self, ctx: &Ctx, class: &str) -> Result<Vec<Instance>, CimError> {
        assert_eq!(ctx.namespace, NS);
        assert_eq!(ctx.user, USER);
        self.journal
            .lock()
            .unwrap()
            .enumerated
            .push(class.to_string());
        Ok(match class {
            "Test_Widget" => {
                let mut v = self.widgets_of(class);
                // Provider bugs the object manager must absorb: a property
                // the class lacks, and an integer of another width.
                if let Some(w) = v.first_mut() {
                    w.set("Bogus", Value::from(1u8));
                    let size = w.get("Size").and_then(Value::as_u64).unwrap_or(0);
                    w.set("Size", Value::from(size));
                }
                v
            }
            "Test_SmallWidget" => self.widgets_of(class),
            "Test_Gear" => vec![
                Instance::new("Test_Gear")
                    .with("Id", 1u16)
                    .with("Left", true)
                    .with("Note", "first"),
                // Key given as text: conformed to uint16.
                Instance::new("Test_Gear")
                    .with("Id", "2")
                    .with("Left", false),
                // No keys at all: dropped, not sent.
                Instance::new("Test_Gear").with("Note", "keyless"),
            ],
            "Test_WidgetGear" => vec![
                Fake::link(widget_path("w1"), gear_path(1, true)),
                Fake::link(widget_path("w1"), gear_path(2, false)),
                Fake::link(small_path("s1"), gear_path(1, true)),
                // Points at a widget that does not exist.
                Fake::link(widget_path("ghost"), gear_path(2, false)),
            ],
            "Test_Bomb" => panic!("the bomb provider exploded"),
            other => panic!("asked for {other}"),
        })
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        if !path.classname.starts_with("Test_") || path.classname == "Test_Gear" {
            return Err(CimError::new(CimStatus::NotSupported, "enumerate me"));
        }
        let name = path.key("Name").and_then(KeyValue::as_str).unwrap_or("");
        self.widgets_of(&path.classname)
            .into_iter()
            .find(|w| w.get("Name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("no widget {name}")))
    }

    fn create_instance(&self, _ctx: &Ctx, instance: &Instance) -> Result<ObjectPath, CimError> {
        self.journal.lock().unwrap().created.push(instance.clone());
        let name = instance
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "Name is required"))?
            .to_string();
        let mut ws = self.widgets.lock().unwrap();
        if ws
            .iter()
            .any(|w| w.get("Name").and_then(Value::as_str) == Some(&name))
        {
            return Err(CimError::new(CimStatus::AlreadyExists, "exists"));
        }
        ws.push(instance.clone());
        Ok(ObjectPath::new(instance.classname.clone()).with_key("name", KeyValue::string(name)))
    }

    fn modify_instance(
        &self,
        _ctx: &Ctx,
        instance: &Instance,
        path: &ObjectPath,
        properties: Option<&[String]>,
    ) -> Result<(), CimError> {
        self.journal.lock().unwrap().modified.push((
            path.clone(),
            instance.clone(),
            properties.map(<[String]>::to_vec),
        ));
        let name = path.key("Name").and_then(KeyValue::as_str).unwrap_or("");
        let mut ws = self.widgets.lock().unwrap();
        if let Some(w) = ws
            .iter_mut()
            .find(|w| w.get("Name").and_then(Value::as_str) == Some(name))
        {
            *w = instance.clone();
        }
        Ok(())
    }

    fn delete_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<(), CimError> {
        let name = path.key("Name").and_then(KeyValue::as_str).unwrap_or("");
        let mut ws = self.widgets.lock().unwrap();
        let before = ws.len();
        ws.retain(|w| w.get("Name").and_then(Value::as_str) != Some(name));
        if ws.len() == before {
            return Err(CimError::new(CimStatus::NotFound, "no such widget"));
        }
        self.journal.lock().unwrap().deleted.push(path.clone());
        Ok(())
    }

    fn invoke_method(
        &self,
        _ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        self.journal.lock().unwrap().invoked.push((
            target.clone(),
            method.to_string(),
            params.to_vec(),
        ));
        let out = |name: &str, v: Value| ParamValue::new(name, v.cim_type(), Some(&v));
        Ok(match method {
            "Resize" => MethodOutput {
                return_value: Value::from(0u32),
                out_params: vec![out("OldSize", Value::from(10u32))],
            },
            "Count" => MethodOutput {
                return_value: Value::from(0u32),
                out_params: vec![out("N", Value::from(3u32))],
            },
            "Explode" => panic!("method exploded"),
            "Lie" => MethodOutput {
                // Narrower integer: sent as the declared uint32.
                return_value: Value::from(5u8),
                out_params: vec![out("Bogus", Value::from(1u32))],
            },
            "BadReturn" => MethodOutput {
                return_value: Value::string("not a number"),
                out_params: vec![],
            },
            other => panic!("unexpected method {other}"),
        })
    }
}

pub(super) fn fixture() -> (Cimom, Arc<Fake>) {
    let fake = Arc::new(Fake::new());
    let c = Cimom::new(test_repo(), vec![fake.clone()]).unwrap();
    (c, fake)
}

// ---- request builders -------------------------------------------------------

pub(super) fn cn(name: &str) -> ParamData {
    ParamData::ClassName(name.into())
}

pub(super) fn text(s: &str) -> ParamData {
    ParamData::Value(RawValue::Text(s.into()))
}

pub(super) fn boolean(b: bool) -> ParamData {
    text(if b { "TRUE" } else { "FALSE" })
}

pub(super) fn num(n: u32) -> ParamData {
    text(&n.to_string())
}

pub(super) fn names(list: &[&str]) -> ParamData {
    ParamData::Value(RawValue::Array(
        list.iter().map(|s| Some(s.to_string())).collect(),
    ))
}

pub(super) fn iname(p: ObjectPath) -> ParamData {
    ParamData::InstanceName(p)
}

/// Dispatches an intrinsic call in `ns` and returns the typed result,
/// checking the response names the method called.
pub(super) fn call_ns(
    c: &Cimom,
    ns: &str,
    method: &str,
    params: Vec<(&str, ParamData)>,
) -> Result<IMethodResult, CimError> {
    let req = Request::IMethodCall {
        id: "1001".into(),
        namespace: ns.into(),
        method: method.into(),
        params: params
            .into_iter()
            .map(|(n, d)| (n.to_string(), d))
            .collect(),
    };
    match c.dispatch(req, USER) {
        Response::IMethod {
            id,
            method: m,
            result,
        } => {
            assert_eq!(id, "1001");
            assert_eq!(m, method);
            result
        }
        other => panic!("{other:?}"),
    }
}

pub(super) fn call(
    c: &Cimom,
    method: &str,
    params: Vec<(&str, ParamData)>,
) -> Result<IMethodResult, CimError> {
    call_ns(c, NS, method, params)
}

pub(super) fn status(r: Result<IMethodResult, CimError>) -> CimStatus {
    r.expect_err("the operation must fail").status
}

/// Extrinsic call; returns (return value, out params).
pub(super) fn invoke(
    c: &Cimom,
    target: MethodTarget,
    method: &str,
    params: Vec<ParamValue>,
) -> Result<(Option<RawValue>, Vec<ParamValue>), CimError> {
    let req = Request::MethodCall {
        id: "7".into(),
        target,
        method: method.into(),
        params,
    };
    match c.dispatch(req, USER) {
        Response::Method {
            method: m, result, ..
        } => {
            assert_eq!(m, method);
            result.map(|r| {
                if r.return_value.is_some() {
                    assert!(r.return_type.is_some());
                }
                (r.return_value, r.out_params)
            })
        }
        other => panic!("{other:?}"),
    }
}

// ---- result readers ---------------------------------------------------------

pub(super) fn named_instances(r: IMethodResult) -> Vec<(ObjectPath, Instance)> {
    match r.value {
        IReturnValue::NamedInstances(v) => v,
        other => panic!("{other:?}"),
    }
}

pub(super) fn instance_names(r: IMethodResult) -> Vec<ObjectPath> {
    match r.value {
        IReturnValue::InstanceNames(v) => v,
        other => panic!("{other:?}"),
    }
}

pub(super) fn prop_names(i: &Instance) -> Vec<&str> {
    i.properties.iter().map(|p| p.name.as_str()).collect()
}

pub(super) fn key_str<'a>(p: &'a ObjectPath, key: &str) -> &'a str {
    p.key(key).and_then(KeyValue::as_str).unwrap()
}

pub(super) fn u32_of(i: &Instance, name: &str) -> Option<u32> {
    match i.get(name) {
        Some(Value::Scalar(Scalar::Uint32(v))) => Some(*v),
        None => None,
        other => panic!("{name} is {other:?}"),
    }
}

pub(super) fn typed_param(p: &ParamValue, t: CimType) -> Option<Value> {
    p.data.typed(&p.name, t, false).unwrap()
}
