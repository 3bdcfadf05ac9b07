//! Typed, validated inputs of the providers: method parameters, the properties of an
//! instance to create, and the keys of a target path. Everything a client can get wrong
//! is checked here, before the engine is asked anything, and answered with
//! CIM_ERR_INVALID_PARAMETER naming the parameter and what is wrong.

use std::path::PathBuf;
use std::time::Duration;

use dmtarget::engine::{CopyParams, Direction, SetKind, MAX_NAME_BYTES};

use super::errors::invalid_parameter;
use crate::cim::types::name_eq;
use crate::cim::{
    CimError, CimType, Instance, MethodTarget, ObjectPath, ParamValue, Scalar, Value,
};

/// Longest device path accepted (PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

/// Where the inputs come from: method parameters or the properties of an instance.
#[derive(Clone, Copy, Debug)]
pub enum Args<'a> {
    Params(&'a [ParamValue]),
    Instance(&'a Instance),
}

impl<'a> Args<'a> {
    fn what(&self) -> &'static str {
        match self {
            Args::Params(_) => "parameter",
            Args::Instance(_) => "property",
        }
    }

    /// The value of `name` typed as `t` (scalar); `None` when absent or NULL.
    pub fn get(&self, name: &str, t: CimType) -> Result<Option<Value>, CimError> {
        let bad = |why: String| invalid_parameter(format!("{} {name}: {why}", self.what()));
        match self {
            Args::Params(list) => match list.iter().find(|p| name_eq(&p.name, name)) {
                None => Ok(None),
                Some(p) => p.data.typed(name, t, false).map_err(|e| bad(e.reason)),
            },
            Args::Instance(inst) => match inst.get(name) {
                None => Ok(None),
                Some(v) => coerce(v, t).map(Some).map_err(bad),
            },
        }
    }

    fn required<T>(&self, name: &str, v: Option<T>) -> Result<T, CimError> {
        v.ok_or_else(|| invalid_parameter(format!("{} {name} is required", self.what())))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, CimError> {
        Ok(self
            .get(name, CimType::String)?
            .and_then(|v| v.as_str().map(str::to_string)))
    }

    pub fn required_string(&self, name: &str) -> Result<String, CimError> {
        let v = self.string(name)?;
        self.required(name, v)
    }

    /// A string array; `None` when absent or NULL. NULL elements are refused: every
    /// element must name something.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, CimError> {
        let bad = |why: &str| invalid_parameter(format!("{} {name}: {why}", self.what()));
        let v = match self {
            Args::Params(list) => match list.iter().find(|p| name_eq(&p.name, name)) {
                None => None,
                Some(p) => p
                    .data
                    .typed(name, CimType::String, true)
                    .map_err(|e| bad(&e.reason))?,
            },
            Args::Instance(inst) => inst.get(name).cloned(),
        };
        match v {
            None => Ok(None),
            Some(Value::Array(CimType::String, items)) => items
                .into_iter()
                .map(|i| match i {
                    Some(Scalar::String(s)) => Ok(s),
                    _ => Err(bad("NULL elements are not allowed")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad("expected a string array")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, CimError> {
        Ok(self.get(name, CimType::Boolean)?.and_then(|v| v.as_bool()))
    }

    pub fn u16(&self, name: &str) -> Result<Option<u16>, CimError> {
        Ok(self
            .get(name, CimType::Uint16)?
            .and_then(|v| v.as_u64())
            .and_then(|v| u16::try_from(v).ok()))
    }

    pub fn required_u16(&self, name: &str) -> Result<u16, CimError> {
        let v = self.u16(name)?;
        self.required(name, v)
    }

    pub fn u32(&self, name: &str) -> Result<Option<u32>, CimError> {
        Ok(self
            .get(name, CimType::Uint32)?
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok()))
    }

    pub fn required_u32(&self, name: &str) -> Result<u32, CimError> {
        let v = self.u32(name)?;
        self.required(name, v)
    }

    /// A set name (see [`set_name`]).
    pub fn set_name(&self, name: &str) -> Result<String, CimError> {
        let v = self.required_string(name)?;
        set_name(name, &v)?;
        Ok(v)
    }

    /// A group name (see [`group_name`]).
    pub fn group_name(&self, name: &str) -> Result<String, CimError> {
        let v = self.required_string(name)?;
        group_name(name, &v)?;
        Ok(v)
    }

    /// The Timeout of a Wait method, in seconds: 0 or NULL waits without limit
    /// (`None`).
    pub fn wait_timeout(&self, name: &str) -> Result<Option<Duration>, CimError> {
        Ok(self
            .u32(name)?
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(s.into())))
    }

    /// The Units (chunks per batch) and Delay (milliseconds after each batch) of a
    /// SetCopyParameters method, both required. Values the engine refuses (Units 0,
    /// Delay over [`MAX_COPY_DELAY_MS`](dmtarget::engine::MAX_COPY_DELAY_MS)) are its
    /// InvalidArgument: return code 5, as the MOF lists for the methods.
    pub fn copy_params(&self) -> Result<CopyParams, CimError> {
        Ok(CopyParams {
            units: self.required_u32("Units")?.into(),
            delay_ms: self.required_u32("Delay")?.into(),
        })
    }

    /// A required device path (see [`device_path`]).
    pub fn device_path(&self, name: &str) -> Result<PathBuf, CimError> {
        let v = self.required_string(name)?;
        device_path(name, &v)
    }

    /// An optional device path; an empty string is the same as NULL (clients that cannot
    /// send NULL send nothing or an empty value).
    pub fn optional_device_path(&self, name: &str) -> Result<Option<PathBuf>, CimError> {
        match self.string(name)? {
            Some(v) if !v.is_empty() => device_path(name, &v).map(Some),
            _ => Ok(None),
        }
    }

    /// A Direction of Copy/Update (ValueMap 1 Master To Shadow, 2 Shadow To Master).
    pub fn direction(&self, name: &str) -> Result<Direction, CimError> {
        match self.required_u16(name)? {
            1 => Ok(Direction::ToShadow),
            2 => Ok(Direction::ToMaster),
            other => Err(invalid_parameter(format!(
                "{} {name}: {other} is not a direction (1 Master To Shadow, 2 Shadow To Master)",
                self.what()
            ))),
        }
    }

    /// A set Type (ValueMap 1 Independent, 2 Dependent).
    pub fn set_kind(&self, name: &str) -> Result<SetKind, CimError> {
        match self.required_u16(name)? {
            1 => Ok(SetKind::Independent),
            2 => Ok(SetKind::Dependent),
            other => Err(invalid_parameter(format!(
                "{} {name}: {other} is not a set type (1 Independent, 2 Dependent)",
                self.what()
            ))),
        }
    }
}

/// A value of another type than declared, as an instance from a client may carry it
/// (untyped properties arrive as strings; integers of another width).
fn coerce(v: &Value, t: CimType) -> Result<Value, String> {
    if v.cim_type() == t && !v.is_array() {
        return Ok(v.clone());
    }
    let mismatch = || format!("expected a {t} value, got a {}", v.cim_type());
    match v.as_scalar() {
        Some(Scalar::String(s)) => Scalar::parse(t, s)
            .map(Value::Scalar)
            .map_err(|e| e.to_string()),
        Some(s) if t.is_integer() => {
            let n = s.as_i128().ok_or_else(mismatch)?;
            let text = n.to_string();
            Scalar::parse(t, &text)
                .map(Value::Scalar)
                .map_err(|_| format!("{n} does not fit in a {t}"))
        }
        _ => Err(mismatch()),
    }
}

/// A set name the engine can take: not empty, at most
/// [`MAX_NAME_BYTES`](dmtarget::engine::MAX_NAME_BYTES) bytes (stricter than the MOF's
/// MaxLen(256): it becomes part of device-mapper names), no control characters.
pub fn set_name(what: &str, name: &str) -> Result<(), CimError> {
    engine_name("set", what, name)
}

/// A group name the engine can take: the same rules as a set name (the MOF's MaxLen
/// of DS_IIGroup.Name is the engine's limit).
pub fn group_name(what: &str, name: &str) -> Result<(), CimError> {
    engine_name("group", what, name)
}

/// The engine's rules for the name of a `kind` (set, group): not empty, at most
/// [`MAX_NAME_BYTES`] bytes, no control characters.
fn engine_name(kind: &str, what: &str, name: &str) -> Result<(), CimError> {
    if name.is_empty() {
        return Err(invalid_parameter(format!(
            "{what}: the {kind} name is empty"
        )));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(invalid_parameter(format!(
            "{what}: the {kind} name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid_parameter(format!(
            "{what}: the {kind} name contains control characters"
        )));
    }
    Ok(())
}

/// A device path: absolute, no NUL, at most PATH_MAX bytes. Whether it names a usable
/// block device is the engine's to say.
pub fn device_path(what: &str, path: &str) -> Result<PathBuf, CimError> {
    if !path.starts_with('/') {
        return Err(invalid_parameter(format!(
            "{what}: {path:?} is not an absolute device path"
        )));
    }
    if path.contains('\0') || path.len() > MAX_PATH_BYTES {
        return Err(invalid_parameter(format!(
            "{what}: {path:?} is not a valid device path"
        )));
    }
    Ok(PathBuf::from(path))
}

/// The instance path a method is invoked on; CIM_ERR_INVALID_PARAMETER for a class.
pub fn target_instance<'t>(
    target: &'t MethodTarget,
    method: &str,
) -> Result<&'t ObjectPath, CimError> {
    match target {
        MethodTarget::Instance(p) => Ok(p),
        MethodTarget::Class { classname, .. } => Err(invalid_parameter(format!(
            "{classname}.{method} must be invoked on an instance, not on the class"
        ))),
    }
}

/// A string key of a path.
pub fn string_key(path: &ObjectPath, key: &str) -> Result<String, CimError> {
    path.key(key)
        .and_then(|k| k.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            invalid_parameter(format!(
                "the path of {} has no string key {key}",
                path.classname
            ))
        })
}

/// The Name key of a DS_IISet path, checked as a set name.
pub fn set_key(path: &ObjectPath) -> Result<String, CimError> {
    let name = string_key(path, "Name")?;
    set_name("key Name", &name)?;
    Ok(name)
}

/// The Name key of a DS_IIGroup path, checked as a group name.
pub fn group_key(path: &ObjectPath) -> Result<String, CimError> {
    let name = string_key(path, "Name")?;
    group_name("key Name", &name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::{CimStatus, KeyValue};

    fn p(name: &str, t: CimType, v: Value) -> ParamValue {
        ParamValue::new(name, t, Some(&v))
    }

    #[test]
    fn typed_parameters() {
        let list = [
            p("Direction", CimType::Uint16, Value::from(2u16)),
            p("Timeout", CimType::Uint32, Value::from(30u32)),
            p("Name", CimType::String, Value::from("s1")),
            p("Compact", CimType::Boolean, Value::from(true)),
        ];
        let a = Args::Params(&list);
        assert_eq!(a.direction("direction").unwrap(), Direction::ToMaster);
        assert_eq!(a.u32("Timeout").unwrap(), Some(30));
        assert_eq!(a.set_name("NAME").unwrap(), "s1");
        assert_eq!(a.bool("Compact").unwrap(), Some(true));
        assert_eq!(a.u32("Missing").unwrap(), None);
    }

    #[test]
    fn invalid_parameters_say_which() {
        let list = [
            p("Direction", CimType::Uint16, Value::from(3u16)),
            p("Type", CimType::Uint16, Value::from(0u16)),
            p("Timeout", CimType::String, Value::from("soon")),
            p(
                "Name",
                CimType::String,
                Value::from("x".repeat(MAX_NAME_BYTES + 1)),
            ),
            p("Empty", CimType::String, Value::from("")),
            p("Master", CimType::String, Value::from("vdb")),
            p("Ctl", CimType::String, Value::from("a\u{7}b")),
        ];
        let a = Args::Params(&list);
        let check = |r: Result<(), CimError>, needle: &str| {
            let e = r.unwrap_err();
            assert_eq!(e.status, CimStatus::InvalidParameter);
            assert!(e.description.contains(needle), "{}", e.description);
        };
        check(a.direction("Direction").map(|_| ()), "3 is not a direction");
        check(a.set_kind("Type").map(|_| ()), "0 is not a set type");
        check(a.u32("Timeout").map(|_| ()), "Timeout");
        check(a.set_name("Name").map(|_| ()), "at most 64");
        check(a.set_name("Empty").map(|_| ()), "empty");
        check(a.set_name("Ctl").map(|_| ()), "control characters");
        check(
            a.device_path("Master").map(|_| ()),
            "not an absolute device path",
        );
        check(
            a.device_path("Absent").map(|_| ()),
            "parameter Absent is required",
        );
        check(a.direction("Absent").map(|_| ()), "is required");
        // A name of exactly the limit is fine.
        assert!(set_name("n", &"x".repeat(MAX_NAME_BYTES)).is_ok());
    }

    #[test]
    fn optional_paths_treat_empty_as_null() {
        let list = [p("Overflow", CimType::String, Value::from(""))];
        let a = Args::Params(&list);
        assert_eq!(a.optional_device_path("Overflow").unwrap(), None);
        assert_eq!(a.optional_device_path("Absent").unwrap(), None);
        let list = [ParamValue::new("Overflow", CimType::String, None)];
        assert_eq!(
            Args::Params(&list)
                .optional_device_path("Overflow")
                .unwrap(),
            None
        );
    }

    #[test]
    fn instance_properties_are_coerced() {
        let inst = Instance::new("DS_IISet")
            .with("Type", "2")
            .with("Compact", false)
            .with("Wide", 7u64);
        let a = Args::Instance(&inst);
        assert_eq!(a.set_kind("Type").unwrap(), SetKind::Dependent);
        assert_eq!(a.bool("Compact").unwrap(), Some(false));
        assert_eq!(a.u16("Wide").unwrap(), Some(7));
        let e = a.bool("Type").unwrap_err();
        assert!(
            e.description.starts_with("property Type"),
            "{}",
            e.description
        );
    }

    #[test]
    fn target_keys() {
        let path = ObjectPath::new("DS_IISet").with_key("Name", KeyValue::string("s1"));
        assert_eq!(set_key(&path).unwrap(), "s1");
        let bad = ObjectPath::new("DS_IISet").with_key("Other", KeyValue::string("s1"));
        assert_eq!(
            set_key(&bad).unwrap_err().status,
            CimStatus::InvalidParameter
        );
        let long = ObjectPath::new("DS_IISet").with_key("Name", KeyValue::string("y".repeat(65)));
        assert_eq!(
            set_key(&long).unwrap_err().status,
            CimStatus::InvalidParameter
        );
        let class = MethodTarget::Class {
            namespace: "root/dsimage".into(),
            classname: "DS_IISet".into(),
        };
        assert_eq!(
            target_instance(&class, "Copy").unwrap_err().status,
            CimStatus::InvalidParameter
        );
    }
}
