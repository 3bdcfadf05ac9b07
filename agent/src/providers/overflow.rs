//! DS_IIOverflowVolume: overflow volumes are not implemented by the engine yet, so
//! truthfully none exist; creating one and GetStatus answer CIM_ERR_NOT_SUPPORTED.

use super::errors::not_implemented;
use super::NAMESPACE;
use crate::cim::{CimError, CimStatus, Instance, MethodTarget, ObjectPath, ParamValue};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = "DS_IIOverflowVolume";

/// See the module documentation.
#[derive(Debug)]
pub struct OverflowProvider;

impl Provider for OverflowProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        Ok(Vec::new())
    }

    fn get_instance(&self, _ctx: &Ctx, _path: &ObjectPath) -> Result<Instance, CimError> {
        Err(CimError::new(
            CimStatus::NotFound,
            "no overflow volumes exist: overflow volumes are not implemented yet",
        ))
    }

    fn create_instance(&self, _ctx: &Ctx, _instance: &Instance) -> Result<ObjectPath, CimError> {
        Err(not_implemented("creating a DS_IIOverflowVolume"))
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
