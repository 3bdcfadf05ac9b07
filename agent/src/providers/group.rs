//! DS_IIGroup: groups of sets are not implemented by the engine yet, so truthfully none
//! exist; creating one and every group method answer CIM_ERR_NOT_SUPPORTED.

use super::errors::not_implemented;
use super::NAMESPACE;
use crate::cim::{CimError, CimStatus, Instance, MethodTarget, ObjectPath, ParamValue};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = "DS_IIGroup";

/// See the module documentation.
#[derive(Debug)]
pub struct GroupProvider;

impl Provider for GroupProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        Ok(Vec::new())
    }

    fn get_instance(&self, _ctx: &Ctx, _path: &ObjectPath) -> Result<Instance, CimError> {
        Err(CimError::new(
            CimStatus::NotFound,
            "no groups exist: groups are not implemented yet",
        ))
    }

    fn create_instance(&self, _ctx: &Ctx, _instance: &Instance) -> Result<ObjectPath, CimError> {
        Err(not_implemented("creating a DS_IIGroup"))
    }

    fn invoke_method(
        &self,
        _ctx: &Ctx,
        _target: &MethodTarget,
        method: &str,
        _params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        Err(not_implemented(&format!("{CLASS}.{method}")))
    }
}
