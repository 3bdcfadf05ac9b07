//! The provider interface: what the CIM object manager asks of the code that owns the
//! instances of some classes. Associations are ordinary providers of association
//! classes; the object manager derives Associators/References from their instances.

use crate::cim::{CimError, CimStatus, Instance, MethodTarget, ObjectPath, ParamValue, Value};

/// Who asks, and in which namespace.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Authenticated user name.
    pub user: String,
    /// Target namespace of the operation (e.g. `root/dsimage`, `interop`).
    pub namespace: String,
}

/// Result of an extrinsic method: return value and OUT parameters.
#[derive(Clone, Debug)]
pub struct MethodOutput {
    pub return_value: Value,
    pub out_params: Vec<ParamValue>,
}

fn not_supported(what: &str) -> CimError {
    CimError::new(CimStatus::NotSupported, format!("{what} is not supported"))
}

/// Owner of the instances of some classes in some namespaces.
///
/// Instances returned carry every property of their class that the provider knows
/// (the object manager applies PropertyList, LocalOnly and qualifiers) and are
/// identified by their key properties; the object manager builds their paths from the
/// class's keys.
pub trait Provider: Send + Sync {
    /// (namespace, class name) pairs served; instances of exactly these classes.
    fn classes(&self) -> Vec<(&'static str, &'static str)>;

    fn enumerate_instances(&self, ctx: &Ctx, class: &str) -> Result<Vec<Instance>, CimError>;

    /// Default: enumerate and pick by keys (CIM_ERR_NOT_FOUND when absent).
    fn get_instance(&self, ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        let _ = (ctx, path);
        Err(not_supported("GetInstance on this class"))
    }

    fn create_instance(&self, ctx: &Ctx, instance: &Instance) -> Result<ObjectPath, CimError> {
        let _ = (ctx, instance);
        Err(not_supported("CreateInstance on this class"))
    }

    /// `properties`: the names to modify (PropertyList), or all when `None`.
    fn modify_instance(
        &self,
        ctx: &Ctx,
        instance: &Instance,
        path: &ObjectPath,
        properties: Option<&[String]>,
    ) -> Result<(), CimError> {
        let _ = (ctx, instance, path, properties);
        Err(not_supported("ModifyInstance on this class"))
    }

    fn delete_instance(&self, ctx: &Ctx, path: &ObjectPath) -> Result<(), CimError> {
        let _ = (ctx, path);
        Err(not_supported("DeleteInstance on this class"))
    }

    /// Extrinsic methods; parameters are already typed against the method's declaration
    /// by the object manager (CIM_ERR_INVALID_PARAMETER before this is called).
    fn invoke_method(
        &self,
        ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        let _ = (ctx, target, params);
        Err(CimError::new(
            CimStatus::MethodNotAvailable,
            format!("method {method} is not available"),
        ))
    }
}
