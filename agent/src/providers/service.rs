//! DS_IIService, the singleton instant-image service. Its keys and the identity of the
//! hosting system (SystemCreationClassName, SystemName) are the ones [`interop`] uses.
//!
//! Methods that the engine supports: CreateIISet, DeleteIISet, GetAllIISets,
//! CreateIIGroup, DeleteIIGroup, GetAllAvailableVolumes, and SetPollingInterval (the
//! background poller's interval). Overflow volumes and import come later
//! (CIM_ERR_NOT_SUPPORTED).

use std::sync::Arc;
use std::time::Duration;

use super::args::Args;
use super::create::NewSet;
use super::engine_host::EngineHost;
use super::errors::{failure, invalid_parameter, not_implemented, outcome, success};
use super::paths::is_named_by;
use super::{group, interop, set, NAMESPACE};
use crate::cim::{
    CimError, CimStatus, CimType, Instance, MethodTarget, ObjectPath, ParamValue, Scalar, Value,
};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = interop::SERVICE_CLASS;
/// Class of the hosting system named in SystemCreationClassName keys (interop's, so that
/// every path to this system agrees).
pub const SYSTEM_CREATION_CLASS_NAME: &str = interop::SYSTEM_CLASS;
const KEYS: [&str; 4] = [
    "SystemCreationClassName",
    "SystemName",
    "CreationClassName",
    "Name",
];

/// Longest polling interval accepted by SetPollingInterval: the poller also advances
/// copies to the master, which only finish when polled.
pub const MAX_POLLING_INTERVAL_SECS: u32 = 3600;

/// Methods of the schema not offered yet.
const NOT_IMPLEMENTED: [&str; 5] = [
    "Import",
    "CreateOverflowVolume",
    "DeleteOverflowVolume",
    "StartService",
    "StopService",
];

/// SystemName of this host (the one interop names).
pub fn system_name() -> String {
    interop::system_hostname()
}

/// Whole seconds, rounded up so that a sub-second interval does not read as 0.
fn whole_secs(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// The singleton's instance; it exists with or without an engine and says which.
pub fn instance(host: &EngineHost, system: &str) -> Instance {
    // CIM_EnabledLogicalElement.EnabledState: 2 Enabled, 6 Enabled but Offline.
    let (enabled, op, text) = match host.unavailable_reason() {
        None => (2u16, 2u16, "ready".to_string()),
        Some(why) => (6, 6, why.to_string()),
    };
    Instance::new(CLASS)
        .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", system)
        .with("CreationClassName", CLASS)
        .with("Name", interop::SERVICE_NAME)
        .with("ElementName", "dsimage instant image service")
        .with("Started", true)
        .with("EnabledState", enabled)
        .with(
            "OperationalStatus",
            Value::Array(CimType::Uint16, vec![Some(Scalar::Uint16(op))]),
        )
        .with("StatusDescriptions", Value::string_array([text]))
        .with("PollingInterval", whole_secs(host.poll_interval()))
}

/// CreateIISet's OUT `Set`.
pub fn set_param(namespace: &str, name: &str) -> ParamValue {
    ParamValue::new(
        "Set",
        CimType::Reference,
        Some(&Value::reference(set::path(namespace, name))),
    )
}

/// CreateIIGroup's OUT `Group`.
pub fn group_param(namespace: &str, name: &str) -> ParamValue {
    ParamValue::new(
        "Group",
        CimType::Reference,
        Some(&Value::reference(group::path(namespace, name))),
    )
}

/// GetAllIISets' OUT `Sets`.
pub fn sets_param(namespace: &str, names: &[String]) -> ParamValue {
    let refs = names
        .iter()
        .map(|n| Some(Scalar::Reference(Box::new(set::path(namespace, n)))))
        .collect();
    ParamValue::new(
        "Sets",
        CimType::Reference,
        Some(&Value::Array(CimType::Reference, refs)),
    )
}

/// GetAllAvailableVolumes' OUT `Volumes`.
pub fn volumes_param(paths: impl IntoIterator<Item = String>) -> ParamValue {
    ParamValue::new(
        "Volumes",
        CimType::String,
        Some(&Value::string_array(paths)),
    )
}

/// See the module documentation.
#[derive(Debug)]
pub struct ServiceProvider {
    host: Arc<EngineHost>,
    system: String,
}

impl ServiceProvider {
    pub fn new(host: Arc<EngineHost>, system: String) -> ServiceProvider {
        ServiceProvider { host, system }
    }

    fn check_target(&self, target: &MethodTarget) -> Result<(), CimError> {
        match target {
            // The service is a singleton: its methods may be invoked on the class too.
            MethodTarget::Class { .. } => Ok(()),
            MethodTarget::Instance(p)
                if is_named_by(&instance(&self.host, &self.system), p, &KEYS) =>
            {
                Ok(())
            }
            MethodTarget::Instance(_) => Err(CimError::new(
                CimStatus::NotFound,
                format!("the only {CLASS} instance is {}", self.describe()),
            )),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{CLASS}.SystemCreationClassName=\"{SYSTEM_CREATION_CLASS_NAME}\",SystemName=\"{}\",CreationClassName=\"{CLASS}\",Name=\"{}\"",
            self.system,
            interop::SERVICE_NAME
        )
    }

    fn create_set(&self, ctx: &Ctx, a: &Args<'_>) -> Result<MethodOutput, CimError> {
        let req = NewSet::from_args(a)?;
        Ok(match self.host.with_engine(|e| req.enable(e))? {
            Ok(_) => success(vec![set_param(&ctx.namespace, &req.name)]),
            Err(e) => failure(CLASS, "CreateIISet", &req.name, &e),
        })
    }

    fn create_group(&self, ctx: &Ctx, a: &Args<'_>) -> Result<MethodOutput, CimError> {
        let name = a.group_name("Name")?;
        Ok(match self.host.with_engine(|e| e.group_create(&name))? {
            Ok(_) => success(vec![group_param(&ctx.namespace, &name)]),
            Err(e) => failure(CLASS, "CreateIIGroup", &name, &e),
        })
    }

    fn delete_group(&self, a: &Args<'_>) -> Result<MethodOutput, CimError> {
        let name = a.group_name("Name")?;
        let r = self.host.with_engine(|e| e.group_delete(&name))?;
        Ok(outcome(CLASS, "DeleteIIGroup", &name, r))
    }

    fn all_sets(&self, ctx: &Ctx) -> Result<MethodOutput, CimError> {
        // From the configuration: listing names cannot fail the way a status can.
        let names: Vec<String> = self
            .host
            .with_engine(|e| e.config().sets.iter().map(|s| s.name.clone()).collect())?;
        Ok(success(vec![sets_param(&ctx.namespace, &names)]))
    }

    fn available_volumes(&self) -> Result<MethodOutput, CimError> {
        Ok(match self.host.with_engine(|e| e.volumes())? {
            Ok(vols) => {
                let paths = vols
                    .iter()
                    .filter(|v| v.suitable)
                    .map(|v| v.device.path.display().to_string());
                success(vec![volumes_param(paths)])
            }
            Err(e) => failure(CLASS, "GetAllAvailableVolumes", interop::SERVICE_NAME, &e),
        })
    }

    fn set_polling_interval(&self, a: &Args<'_>) -> Result<MethodOutput, CimError> {
        let secs = a.required_u32("Interval")?;
        if !(1..=MAX_POLLING_INTERVAL_SECS).contains(&secs) {
            return Err(invalid_parameter(format!(
                "parameter Interval: {secs} s is outside 1..={MAX_POLLING_INTERVAL_SECS} s"
            )));
        }
        self.host
            .set_poll_interval(Duration::from_secs(secs.into()));
        Ok(success(Vec::new()))
    }
}

impl Provider for ServiceProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        Ok(vec![instance(&self.host, &self.system)])
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        super::paths::pick(vec![instance(&self.host, &self.system)], path, &KEYS)
    }

    fn invoke_method(
        &self,
        ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        self.check_target(target)?;
        if let Some(m) = NOT_IMPLEMENTED
            .iter()
            .find(|m| m.eq_ignore_ascii_case(method))
        {
            return Err(not_implemented(&format!("{CLASS}.{m}")));
        }
        let a = Args::Params(params);
        match method.to_ascii_lowercase().as_str() {
            "createiiset" => self.create_set(ctx, &a),
            "deleteiiset" => {
                let name = a.set_name("Name")?;
                let r = self.host.with_engine(|e| e.disable(&name))?;
                Ok(outcome(CLASS, "DeleteIISet", &name, r))
            }
            "getalliisets" => self.all_sets(ctx),
            "createiigroup" => self.create_group(ctx, &a),
            "deleteiigroup" => self.delete_group(&a),
            "getallavailablevolumes" => self.available_volumes(),
            "setpollinginterval" => self.set_polling_interval(&a),
            _ => Err(CimError::new(
                CimStatus::MethodNotFound,
                format!("{CLASS} has no method {method}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_interval_rounds_up() {
        assert_eq!(whole_secs(Duration::from_millis(250)), 1);
        assert_eq!(whole_secs(Duration::from_secs(5)), 5);
        assert_eq!(whole_secs(Duration::ZERO), 0);
    }

    #[test]
    fn singleton_path_has_the_instance_keys() {
        let host = EngineHost::unavailable("no dm");
        let inst = instance(&host, "h1");
        // The path interop points at (CIM_ElementConformsToProfile) names this instance.
        assert!(is_named_by(&inst, &interop::service_path("h1"), &KEYS));
        assert!(!is_named_by(&inst, &interop::service_path("h2"), &KEYS));
        assert!(!system_name().is_empty());
    }
}
