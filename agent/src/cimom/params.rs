//! Typed access to the `IPARAMVALUE`s of an intrinsic operation: each
//! operation names the parameters it accepts (DSP0200 6.3), anything else is
//! CIM_ERR_INVALID_PARAMETER, and every wrongly formed value is reported with
//! the parameter's name.

use crate::cim::message::ParamError;
use crate::cim::types::name_eq;
use crate::cim::{CimError, CimStatus, Instance, ObjectPath, ParamData, RawValue};

pub(crate) fn invalid(description: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, description)
}

fn from_param_error(e: ParamError) -> CimError {
    invalid(e.to_string())
}

/// The target of an association operation (`ObjectName`).
#[derive(Debug, Clone)]
pub(crate) enum ObjectName {
    Class(String),
    Instance(ObjectPath),
}

/// The parameters of one intrinsic call, checked against the names the
/// operation accepts.
#[derive(Debug)]
pub(crate) struct Params<'a> {
    list: &'a [(String, ParamData)],
}

impl<'a> Params<'a> {
    pub fn new(
        operation: &str,
        list: &'a [(String, ParamData)],
        accepted: &[&str],
    ) -> Result<Self, CimError> {
        if let Some((n, _)) = list
            .iter()
            .find(|(n, _)| !accepted.iter().any(|a| name_eq(a, n)))
        {
            return Err(invalid(format!(
                "{operation} has no parameter {n} (accepted: {})",
                accepted.join(", ")
            )));
        }
        Ok(Params { list })
    }

    /// The parameter's data; `None` when absent. An empty `IPARAMVALUE`
    /// (NULL) is returned as `Some(ParamData::Null)`.
    pub fn get(&self, name: &str) -> Option<&'a ParamData> {
        crate::cim::message::find_param(self.list, name)
    }

    /// A boolean; absent or NULL gives the operation's default.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, CimError> {
        match self.get(name) {
            None => Ok(default),
            Some(d) => Ok(d
                .as_bool(name)
                .map_err(from_param_error)?
                .unwrap_or(default)),
        }
    }

    pub fn u32(&self, name: &str) -> Result<Option<u32>, CimError> {
        match self.get(name) {
            None => Ok(None),
            Some(d) => d.as_u32(name).map_err(from_param_error),
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, CimError> {
        match self.get(name) {
            None => Ok(None),
            Some(d) => d.as_string(name).map_err(from_param_error),
        }
    }

    /// A class name: DSP0201 sends `CLASSNAME`; a plain `VALUE` is accepted
    /// too (some clients send Role-like strings for class filters).
    pub fn class_name(&self, name: &str) -> Result<Option<String>, CimError> {
        match self.get(name) {
            None | Some(ParamData::Null) => Ok(None),
            Some(ParamData::ClassName(c)) => Ok(Some(c.clone())),
            Some(ParamData::Value(RawValue::Text(t))) => Ok(Some(t.trim().to_string())),
            Some(_) => Err(invalid(format!("parameter {name}: expected a CLASSNAME"))),
        }
    }

    pub fn required_class_name(&self, name: &str) -> Result<String, CimError> {
        self.class_name(name)?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid(format!("parameter {name} is required")))
    }

    pub fn required_instance_name(&self, name: &str) -> Result<ObjectPath, CimError> {
        match self.get(name) {
            None | Some(ParamData::Null) => Err(invalid(format!("parameter {name} is required"))),
            Some(d) => d
                .as_instance_name(name)
                .map_err(from_param_error)?
                .cloned()
                .ok_or_else(|| invalid(format!("parameter {name} is required"))),
        }
    }

    /// `ObjectName` of the association operations: a class or an instance.
    pub fn object_name(&self, name: &str) -> Result<ObjectName, CimError> {
        match self.get(name) {
            None | Some(ParamData::Null) => Err(invalid(format!("parameter {name} is required"))),
            Some(ParamData::ClassName(c)) => Ok(ObjectName::Class(c.clone())),
            Some(d) => Ok(ObjectName::Instance(
                d.as_instance_name(name)
                    .map_err(from_param_error)?
                    .cloned()
                    .ok_or_else(|| invalid(format!("parameter {name} is required")))?,
            )),
        }
    }

    pub fn required_instance(&self, name: &str) -> Result<&'a Instance, CimError> {
        match self.get(name) {
            Some(ParamData::Instance(i)) => Ok(i),
            None | Some(ParamData::Null) => Err(invalid(format!("parameter {name} is required"))),
            Some(_) => Err(invalid(format!("parameter {name}: expected an INSTANCE"))),
        }
    }

    pub fn required_named_instance(
        &self,
        name: &str,
    ) -> Result<(&'a ObjectPath, &'a Instance), CimError> {
        match self.get(name) {
            Some(ParamData::NamedInstance(p, i)) => Ok((p, i)),
            None | Some(ParamData::Null) => Err(invalid(format!("parameter {name} is required"))),
            Some(_) => Err(invalid(format!(
                "parameter {name}: expected a VALUE.NAMEDINSTANCE"
            ))),
        }
    }

    /// `PropertyList`: NULL or absent means all properties.
    pub fn property_list(&self) -> Result<Option<Vec<String>>, CimError> {
        const NAME: &str = "PropertyList";
        match self.get(NAME) {
            None => Ok(None),
            Some(d) => d.as_string_array(NAME).map_err(from_param_error),
        }
    }
}
