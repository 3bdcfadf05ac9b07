//! CIM-XML messages as typed values: requests (intrinsic, extrinsic and
//! export calls) and their responses. `xml_write` serialises these and
//! `xml_read` produces them.

use super::error::CimError;
use super::types::{name_eq, Class, EmbeddedObject, Instance, ObjectPath, QualifierDecl};
use super::value::{CimType, RawValue, Value, ValueError};

/// The content of an `IPARAMVALUE`, `PARAMVALUE` or `EXPPARAMVALUE`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamData {
    /// Empty element: the NULL value.
    Null,
    /// `VALUE`, `VALUE.ARRAY`, `VALUE.REFERENCE` or `VALUE.REFARRAY`.
    Value(RawValue),
    ClassName(String),
    InstanceName(ObjectPath),
    QualifierDecl(QualifierDecl),
    Class(Class),
    Instance(Instance),
    NamedInstance(ObjectPath, Instance),
}

/// Raised when a parameter exists but has the wrong form; maps to
/// `CIM_ERR_INVALID_PARAMETER`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parameter {name}: {reason}")]
pub struct ParamError {
    pub name: String,
    pub reason: String,
}

impl ParamData {
    fn err(name: &str, reason: impl Into<String>) -> ParamError {
        ParamError {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// A boolean (`VALUE` TRUE/FALSE); NULL gives `None`.
    pub fn as_bool(&self, name: &str) -> Result<Option<bool>, ParamError> {
        self.typed_scalar(name, CimType::Boolean)
            .map(|v| v.and_then(|v| v.as_bool()))
    }

    /// An unsigned integer such as `MaxObjectCount`; NULL gives `None`.
    pub fn as_u32(&self, name: &str) -> Result<Option<u32>, ParamError> {
        self.typed_scalar(name, CimType::Uint32)
            .map(|v| v.and_then(|v| v.as_u64()).map(|v| v as u32))
    }

    /// A string; NULL gives `None`.
    pub fn as_string(&self, name: &str) -> Result<Option<String>, ParamError> {
        self.typed_scalar(name, CimType::String)
            .map(|v| v.and_then(|v| v.as_str().map(str::to_string)))
    }

    /// A string array such as `PropertyList`; NULL gives `None`.
    pub fn as_string_array(&self, name: &str) -> Result<Option<Vec<String>>, ParamError> {
        match self {
            ParamData::Null => Ok(None),
            ParamData::Value(RawValue::Array(items)) => {
                Ok(Some(items.iter().flatten().cloned().collect()))
            }
            _ => Err(Self::err(name, "expected a string array")),
        }
    }

    /// Types a `VALUE`/`VALUE.ARRAY`/reference against a declaration.
    pub fn typed(
        &self,
        name: &str,
        t: CimType,
        is_array: bool,
    ) -> Result<Option<Value>, ParamError> {
        match self {
            ParamData::Null => Ok(None),
            ParamData::Value(raw) => raw
                .typed(t, is_array)
                .map(Some)
                .map_err(|e: ValueError| Self::err(name, e.to_string())),
            // Some clients send references to instances as bare INSTANCENAME.
            ParamData::InstanceName(p) if t == CimType::Reference && !is_array => {
                Ok(Some(Value::reference(p.clone())))
            }
            _ => Err(Self::err(name, format!("expected a {t} value"))),
        }
    }

    fn typed_scalar(&self, name: &str, t: CimType) -> Result<Option<Value>, ParamError> {
        self.typed(name, t, false)
    }

    pub fn as_class_name(&self, name: &str) -> Result<Option<&str>, ParamError> {
        match self {
            ParamData::Null => Ok(None),
            ParamData::ClassName(c) => Ok(Some(c)),
            _ => Err(Self::err(name, "expected a CLASSNAME")),
        }
    }

    pub fn as_instance_name(&self, name: &str) -> Result<Option<&ObjectPath>, ParamError> {
        match self {
            ParamData::Null => Ok(None),
            ParamData::InstanceName(p) | ParamData::Value(RawValue::Reference(p)) => Ok(Some(p)),
            _ => Err(Self::err(name, "expected an INSTANCENAME")),
        }
    }

    pub fn as_instance(&self, name: &str) -> Result<Option<&Instance>, ParamError> {
        match self {
            ParamData::Null => Ok(None),
            ParamData::Instance(i) | ParamData::NamedInstance(_, i) => Ok(Some(i)),
            _ => Err(Self::err(name, "expected an INSTANCE")),
        }
    }
}

/// A `PARAMVALUE`: extrinsic method in/out parameter or pull-operation
/// output parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValue {
    pub name: String,
    /// `PARAMTYPE`; element type for arrays. Optional on the wire.
    pub paramtype: Option<CimType>,
    pub embedded_object: Option<EmbeddedObject>,
    pub data: ParamData,
}

impl ParamValue {
    /// A parameter carrying a typed value (NULL when `value` is `None`).
    pub fn new(name: impl Into<String>, cimtype: CimType, value: Option<&Value>) -> Self {
        ParamValue {
            name: name.into(),
            paramtype: Some(cimtype),
            embedded_object: None,
            data: value
                .map(|v| ParamData::Value(RawValue::from_value(v)))
                .unwrap_or(ParamData::Null),
        }
    }
}

/// Looks a parameter up by case-insensitive name.
pub fn find_param<'a>(params: &'a [(String, ParamData)], name: &str) -> Option<&'a ParamData> {
    params
        .iter()
        .find(|(n, _)| name_eq(n, name))
        .map(|(_, d)| d)
}

/// The object an extrinsic method is invoked on.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodTarget {
    /// `LOCALCLASSPATH`: a static method.
    Class {
        namespace: String,
        classname: String,
    },
    /// `LOCALINSTANCEPATH`; the path's namespace is set.
    Instance(ObjectPath),
}

impl MethodTarget {
    pub fn namespace(&self) -> &str {
        match self {
            MethodTarget::Class { namespace, .. } => namespace,
            MethodTarget::Instance(p) => p.namespace.as_deref().unwrap_or(""),
        }
    }

    pub fn classname(&self) -> &str {
        match self {
            MethodTarget::Class { classname, .. } => classname,
            MethodTarget::Instance(p) => &p.classname,
        }
    }
}

/// A parsed CIM-XML request message.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `IMETHODCALL`: an intrinsic operation (GetClass, EnumerateInstances, ...).
    IMethodCall {
        id: String,
        namespace: String,
        method: String,
        params: Vec<(String, ParamData)>,
    },
    /// `METHODCALL`: an extrinsic method invocation.
    MethodCall {
        id: String,
        target: MethodTarget,
        method: String,
        params: Vec<ParamValue>,
    },
    /// `EXPMETHODCALL`: an export request (ExportIndication).
    ExportMethodCall {
        id: String,
        method: String,
        params: Vec<(String, ParamData)>,
    },
}

impl Request {
    pub fn id(&self) -> &str {
        match self {
            Request::IMethodCall { id, .. }
            | Request::MethodCall { id, .. }
            | Request::ExportMethodCall { id, .. } => id,
        }
    }

    pub fn method(&self) -> &str {
        match self {
            Request::IMethodCall { method, .. }
            | Request::MethodCall { method, .. }
            | Request::ExportMethodCall { method, .. } => method,
        }
    }
}

/// Content of an `IRETURNVALUE`.
#[derive(Debug, Clone, PartialEq)]
pub enum IReturnValue {
    /// No `IRETURNVALUE` element (e.g. DeleteInstance, ModifyInstance).
    None,
    /// An empty `IRETURNVALUE` (empty enumeration, NULL property value).
    Empty,
    ClassNames(Vec<String>),
    /// `INSTANCENAME`s (EnumerateInstanceNames, CreateInstance).
    InstanceNames(Vec<ObjectPath>),
    Classes(Vec<Class>),
    Instances(Vec<Instance>),
    /// `VALUE.NAMEDINSTANCE` (EnumerateInstances).
    NamedInstances(Vec<(ObjectPath, Instance)>),
    /// `VALUE.INSTANCEWITHPATH` (pull operations); paths carry host+namespace.
    InstancesWithPath(Vec<(ObjectPath, Instance)>),
    /// `VALUE.OBJECTWITHPATH` with instances (Associators, References).
    ObjectsWithPath(Vec<(ObjectPath, Instance)>),
    /// `OBJECTPATH` with `INSTANCEPATH` (AssociatorNames, ReferenceNames).
    ObjectPaths(Vec<ObjectPath>),
    /// `INSTANCEPATH` (OpenEnumerateInstancePaths and friends).
    InstancePaths(Vec<ObjectPath>),
    QualifierDecls(Vec<QualifierDecl>),
    /// `VALUE`, `VALUE.ARRAY` or `VALUE.REFERENCE` (GetProperty).
    Value(RawValue),
}

/// Successful result of an intrinsic method.
#[derive(Debug, Clone, PartialEq)]
pub struct IMethodResult {
    pub value: IReturnValue,
    /// Output `PARAMVALUE`s (pull operations: EnumerationContext, EndOfSequence).
    pub out_params: Vec<ParamValue>,
}

/// Successful result of an extrinsic method.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    /// `PARAMTYPE` of `RETURNVALUE`.
    pub return_type: Option<CimType>,
    /// `None` when there is no `RETURNVALUE` or it is empty.
    pub return_value: Option<RawValue>,
    pub out_params: Vec<ParamValue>,
}

/// A parsed CIM-XML response message.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    IMethod {
        id: String,
        method: String,
        result: Result<IMethodResult, CimError>,
    },
    Method {
        id: String,
        method: String,
        result: Result<MethodResult, CimError>,
    },
    Export {
        id: String,
        method: String,
        result: Result<(), CimError>,
    },
}
