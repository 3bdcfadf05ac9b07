//! The CIM operations `iiadm` uses (GetInstance, EnumerateInstances, InvokeMethod), as
//! typed requests and responses of the agent's codec (`cim::message`); an
//! [`Exchange`] carries them (over HTTP in [`super::http`], in process in the tests).

use std::cell::Cell;

use crate::cim::{
    CimType, IMethodResult, IReturnValue, Instance, MethodResult, MethodTarget, ObjectPath,
    ParamData, ParamValue, Request, Response, Value,
};
use crate::providers::NAMESPACE;

use super::error::ClientError;

/// Sends one request and returns the agent's response to it. Transport failures
/// and answers that are not a response to this request are errors; a CIM error is a
/// response.
pub trait Exchange {
    fn exchange(&self, request: &Request) -> Result<Response, ClientError>;

    /// Where the requests go (for messages).
    fn url(&self) -> String;
}

/// What a method returned: its return value and OUT parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodReturn {
    /// The return value as an integer (every DS_ method returns a uint32 code);
    /// `None` if the agent sent none.
    pub code: Option<u64>,
    pub out: Vec<ParamValue>,
}

/// The CIM operations over one [`Exchange`], in the dsimage namespace.
#[derive(Debug)]
pub struct Ops<E> {
    exchange: E,
    next_id: Cell<u64>,
}

impl<E: Exchange> Ops<E> {
    pub fn new(exchange: E) -> Ops<E> {
        Ops {
            exchange,
            next_id: Cell::new(1001),
        }
    }

    pub fn exchange(&self) -> &E {
        &self.exchange
    }

    fn id(&self) -> String {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id.to_string()
    }

    fn protocol(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Protocol {
            url: self.exchange.url(),
            reason: reason.into(),
        }
    }

    /// Builds the request of an intrinsic operation.
    pub fn intrinsic(&self, method: &str, params: Vec<(String, ParamData)>) -> Request {
        Request::IMethodCall {
            id: self.id(),
            namespace: NAMESPACE.into(),
            method: method.into(),
            params,
        }
    }

    /// Builds the request of an extrinsic method.
    pub fn extrinsic(
        &self,
        target: &MethodTarget,
        method: &str,
        params: Vec<ParamValue>,
    ) -> Request {
        Request::MethodCall {
            id: self.id(),
            target: target.clone(),
            method: method.into(),
            params,
        }
    }

    fn imethod(&self, request: Request) -> Result<IMethodResult, ClientError> {
        match self.exchange.exchange(&request)? {
            Response::IMethod { result, .. } => result.map_err(|error| ClientError::Cim {
                context: None,
                error,
            }),
            other => Err(self.protocol(format!(
                "a {} answered {}",
                request.method(),
                response_kind(&other)
            ))),
        }
    }

    pub fn get_instance(&self, path: &ObjectPath) -> Result<Instance, ClientError> {
        // An INSTANCENAME names no namespace: the request's is the path's.
        let name = ObjectPath {
            host: None,
            namespace: None,
            ..path.clone()
        };
        let request = self.intrinsic(
            "GetInstance",
            vec![("InstanceName".into(), ParamData::InstanceName(name))],
        );
        match self.imethod(request)?.value {
            IReturnValue::Instances(mut v) if v.len() == 1 => Ok(v.remove(0)),
            IReturnValue::NamedInstances(mut v) if v.len() == 1 => Ok(v.remove(0).1),
            other => Err(self.protocol(format!(
                "GetInstance answered {} instead of one instance",
                ireturn_kind(&other)
            ))),
        }
    }

    /// Every instance of `class` (and its subclasses) with its path.
    pub fn enumerate_instances(
        &self,
        class: &str,
    ) -> Result<Vec<(ObjectPath, Instance)>, ClientError> {
        let request = self.intrinsic(
            "EnumerateInstances",
            vec![("ClassName".into(), ParamData::ClassName(class.into()))],
        );
        match self.imethod(request)?.value {
            IReturnValue::NamedInstances(v) => Ok(v),
            IReturnValue::Empty | IReturnValue::None => Ok(Vec::new()),
            other => Err(self.protocol(format!(
                "EnumerateInstances answered {} instead of named instances",
                ireturn_kind(&other)
            ))),
        }
    }

    /// Invokes `method` on `target`; a CIM error is an error, a return code is not.
    pub fn invoke_method(
        &self,
        target: &MethodTarget,
        method: &str,
        params: Vec<ParamValue>,
    ) -> Result<MethodReturn, ClientError> {
        let request = self.extrinsic(target, method, params);
        let result = match self.exchange.exchange(&request)? {
            Response::Method { result, .. } => result.map_err(|error| ClientError::Cim {
                context: None,
                error,
            })?,
            other => {
                return Err(self.protocol(format!(
                    "method {method} answered {}",
                    response_kind(&other)
                )))
            }
        };
        let MethodResult {
            return_type,
            return_value,
            out_params,
        } = result;
        let code = match return_value {
            None => None,
            Some(raw) => Some(
                raw.typed(return_type.unwrap_or(CimType::Uint32), false)
                    .ok()
                    .and_then(|v| v.as_u64())
                    .ok_or_else(|| {
                        self.protocol(format!("method {method} returned {raw:?}, not a code"))
                    })?,
            ),
        };
        Ok(MethodReturn {
            code,
            out: out_params,
        })
    }
}

fn response_kind(r: &Response) -> &'static str {
    match r {
        Response::IMethod { .. } => "an intrinsic method response",
        Response::Method { .. } => "an extrinsic method response",
        Response::Export { .. } => "an export response",
    }
}

fn ireturn_kind(v: &IReturnValue) -> String {
    let n = |k: &str, len: usize| format!("{len} {k}");
    match v {
        IReturnValue::None => "no return value".into(),
        IReturnValue::Empty => "an empty return value".into(),
        IReturnValue::ClassNames(v) => n("class names", v.len()),
        IReturnValue::InstanceNames(v) => n("instance names", v.len()),
        IReturnValue::Classes(v) => n("classes", v.len()),
        IReturnValue::Instances(v) => n("instances", v.len()),
        IReturnValue::NamedInstances(v) => n("named instances", v.len()),
        IReturnValue::InstancesWithPath(v) => n("instances with path", v.len()),
        IReturnValue::ObjectsWithPath(v) => n("objects with path", v.len()),
        IReturnValue::ObjectPaths(v) => n("object paths", v.len()),
        IReturnValue::InstancePaths(v) => n("instance paths", v.len()),
        IReturnValue::QualifierDecls(v) => n("qualifier declarations", v.len()),
        IReturnValue::Value(_) => "a value".into(),
    }
}

/// An IN parameter of a typed value.
pub fn param(name: &str, value: impl Into<Value>) -> ParamValue {
    let v = value.into();
    ParamValue::new(name, v.cim_type(), Some(&v))
}
