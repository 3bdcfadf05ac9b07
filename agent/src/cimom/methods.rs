//! Extrinsic methods (InvokeMethod): the method must be declared by the
//! target's class, IN parameters are typed against the declaration before
//! the provider sees them, an instance target must exist, and what the
//! provider returns is typed against the declaration before it is sent.
//! Methods may be invoked on the class path (static methods, and singleton
//! services that clients such as wbemcli address by class); whether that
//! is meaningful is the provider's call.

use crate::cim::types::name_eq;
use crate::cim::value::ValueError;
use crate::cim::{
    CimError, CimStatus, CimType, Class, EmbeddedObject, Method, MethodResult, MethodTarget,
    ParamData, ParamValue, Parameter, RawValue, Value,
};

use super::filter::coerce;
use super::params::invalid;
use super::{log, paths, Cimom};

fn is_in(p: &Parameter) -> bool {
    // `In` defaults to true (DSP0004); `IN(false)` marks output-only.
    p.qualifier("In")
        .and_then(|q| q.value.as_ref())
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn is_out(p: &Parameter) -> bool {
    p.has_flag("Out")
}

fn embeds(p: &Parameter) -> bool {
    p.cimtype == CimType::String
        && (p.has_flag("EmbeddedObject")
            || p.qualifier("EmbeddedInstance")
                .is_some_and(|q| q.value.is_some()))
}

fn mismatch(class: &Class, m: &Method, p: &Parameter, why: impl std::fmt::Display) -> CimError {
    CimError::new(
        CimStatus::TypeMismatch,
        format!(
            "parameter {} of {}.{}: expected {}{}: {why}",
            p.name,
            class.name,
            m.name,
            p.cimtype,
            if p.is_array { "[]" } else { "" }
        ),
    )
}

/// The client's IN parameters typed against the method's declaration:
/// canonical names, PARAMTYPE set, values re-encoded from their typed form.
fn typed_in_params(
    class: &Class,
    m: &Method,
    given: &[ParamValue],
) -> Result<Vec<ParamValue>, CimError> {
    let mut out = Vec::new();
    for g in given {
        let decl = m.parameter(&g.name).ok_or_else(|| {
            invalid(format!(
                "method {}.{} has no parameter {}",
                class.name, m.name, g.name
            ))
        })?;
        if !is_in(decl) {
            return Err(invalid(format!(
                "parameter {} of {}.{} is output only",
                decl.name, class.name, m.name
            )));
        }
        let mut embedded_object = None;
        let data = match &g.data {
            ParamData::Null => ParamData::Null,
            ParamData::Value(raw) => {
                let v = raw.typed(decl.cimtype, decl.is_array).map_err(|e| {
                    // A value of another declared type (PARAMTYPE) or shape
                    // is a type mismatch; text that does not parse as the
                    // declared type is an invalid value.
                    let other_type = g.paramtype.is_some_and(|t| t != decl.cimtype);
                    match e {
                        ValueError::TypeMismatch { .. } => mismatch(class, m, decl, e),
                        _ if other_type => mismatch(class, m, decl, e),
                        _ => invalid(format!(
                            "parameter {} of {}.{}: {e}",
                            decl.name, class.name, m.name
                        )),
                    }
                })?;
                ParamData::Value(RawValue::from_value(&v))
            }
            ParamData::InstanceName(p) if decl.cimtype == CimType::Reference && !decl.is_array => {
                ParamData::Value(RawValue::Reference(p.clone()))
            }
            ParamData::Instance(i) if embeds(decl) && !decl.is_array => {
                embedded_object = Some(EmbeddedObject::Instance);
                ParamData::Instance(i.clone())
            }
            _ => return Err(mismatch(class, m, decl, "wrong kind of value")),
        };
        out.push(ParamValue {
            name: decl.name.clone(),
            paramtype: Some(decl.cimtype),
            embedded_object,
            data,
        });
    }
    for decl in m
        .parameters
        .iter()
        .filter(|p| is_in(p) && p.has_flag("Required"))
    {
        let present = out
            .iter()
            .any(|p| name_eq(&p.name, &decl.name) && p.data != ParamData::Null);
        if !present {
            return Err(invalid(format!(
                "required parameter {} of {}.{} is missing",
                decl.name, class.name, m.name
            )));
        }
    }
    Ok(out)
}

/// The provider's OUT parameters typed against the declaration; anything
/// else is a provider bug, dropped and logged.
fn typed_out_params(class: &Class, m: &Method, given: Vec<ParamValue>) -> Vec<ParamValue> {
    let mut out: Vec<ParamValue> = Vec::new();
    for g in given {
        let bug = |why: &str| {
            log(&format!(
                "provider bug: {}.{} output parameter {}: {why}; dropped",
                class.name, m.name, g.name
            ))
        };
        let Some(decl) = m.parameter(&g.name).filter(|d| is_out(d)) else {
            bug("not an output parameter of the method");
            continue;
        };
        if out.iter().any(|p| name_eq(&p.name, &decl.name)) {
            bug("given twice");
            continue;
        }
        let mut embedded_object = None;
        let data = match g.data {
            ParamData::Null => ParamData::Null,
            ParamData::Value(ref raw) => match raw.typed(decl.cimtype, decl.is_array) {
                Ok(v) => ParamData::Value(RawValue::from_value(&v)),
                Err(e) => {
                    bug(&e.to_string());
                    continue;
                }
            },
            ParamData::InstanceName(ref p)
                if decl.cimtype == CimType::Reference && !decl.is_array =>
            {
                ParamData::Value(RawValue::Reference(p.clone()))
            }
            ParamData::Instance(ref i) if embeds(decl) && !decl.is_array => {
                embedded_object = Some(EmbeddedObject::Instance);
                ParamData::Instance(i.clone())
            }
            _ => {
                bug("wrong kind of value");
                continue;
            }
        };
        out.push(ParamValue {
            name: decl.name.clone(),
            paramtype: Some(decl.cimtype),
            embedded_object,
            data,
        });
    }
    out
}

impl Cimom {
    pub(super) fn invoke_method(
        &self,
        user: &str,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodResult, CimError> {
        let ns = self.namespace(target.namespace())?;
        let class = self.class(&ns, target.classname())?;
        let m = class.method(method).ok_or_else(|| {
            CimError::new(
                CimStatus::MethodNotFound,
                format!("class {} has no method {method}", class.name),
            )
        })?;
        let provider = self.provider(&ns, &class.name).ok_or_else(|| {
            CimError::new(
                CimStatus::MethodNotAvailable,
                format!("no provider implements {}.{}", class.name, m.name),
            )
        })?;
        let target = match target {
            MethodTarget::Class { .. } => MethodTarget::Class {
                namespace: ns.clone(),
                classname: class.name.clone(),
            },
            MethodTarget::Instance(p) => {
                let path = paths::normalize(class, &ns, p)?;
                self.fetch(user, &path)?;
                MethodTarget::Instance(path)
            }
        };
        let params = typed_in_params(class, m, params)?;
        let out = provider.invoke_method(&self.ctx(user, &ns), &target, &m.name, &params)?;
        let ret = coerce(out.return_value, m.return_type, false).map_err(|e| {
            log(&format!(
                "provider bug: {}.{} return value: {e}",
                class.name, m.name
            ));
            CimError::new(
                CimStatus::Failed,
                "the provider returned a value of the wrong type",
            )
        })?;
        Ok(MethodResult {
            return_type: Some(m.return_type),
            return_value: Some(RawValue::from_value(&ret)),
            out_params: typed_out_params(class, m, out.out_params),
        })
    }
}
