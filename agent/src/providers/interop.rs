//! The interop namespace provider (DSP1033 profile registration), so that
//! generic clients (pywbem's `WBEMServer`, pywbemcli `server` commands)
//! discover the agent: one CIM_Namespace per served namespace, the single
//! CIM_ObjectManager, the CIM_RegisteredProfile of dsimage's profile, and
//! the CIM_ElementConformsToProfile from that profile to its central
//! instance, the DS_IIService singleton. The indication subscription
//! classes are served empty until indications exist.
//!
//! The DS_IIService path is built here, in [`service_path`], for every
//! provider that needs it.

use crate::cim::types::name_eq;
use crate::cim::{CimError, CimStatus, Instance, KeyValue, ObjectPath, Value};
use crate::cimom::schema::{DSIMAGE_NAMESPACE, INTEROP_NAMESPACE, NAMESPACES};
use crate::cimom::{Ctx, Provider};

/// `Name` of the DS_IIService singleton.
pub const SERVICE_NAME: &str = "dsimage";
/// Class (and `CreationClassName`) of the central instance.
pub const SERVICE_CLASS: &str = "DS_IIService";
/// `SystemCreationClassName` of everything hosted by this system.
pub const SYSTEM_CLASS: &str = "CIM_ComputerSystem";
/// `Name` and `ElementName` of the object manager: the brand pywbem shows.
pub const OBJECT_MANAGER_NAME: &str = "dsimage";

/// The registered profile dsimage implements.
pub const PROFILE_ORGANIZATION: &str = "dsimage";
pub const PROFILE_NAME: &str = "Instant Image";
pub const PROFILE_VERSION: &str = "1.0.0";
/// `InstanceID` of the CIM_RegisteredProfile instance.
pub const PROFILE_INSTANCE_ID: &str = "dsimage:Instant Image:1.0.0";

const NAMESPACE: &str = "CIM_Namespace";
const OBJECT_MANAGER: &str = "CIM_ObjectManager";
const REGISTERED_PROFILE: &str = "CIM_RegisteredProfile";
const CONFORMS: &str = "CIM_ElementConformsToProfile";
/// Indication subscriptions: served, always empty, creation refused.
const SUBSCRIPTION_CLASSES: [&str; 3] = [
    "CIM_IndicationFilter",
    "CIM_ListenerDestinationCIMXML",
    "CIM_IndicationSubscription",
];

/// Path of the DS_IIService singleton of `hostname` (namespace
/// `root/dsimage`), keys in the order DS_IIService declares them (`Name`
/// first: CIM_Service overrides it where CIM_ManagedSystemElement has it).
pub fn service_path(hostname: &str) -> ObjectPath {
    ObjectPath::new(SERVICE_CLASS)
        .with_namespace(DSIMAGE_NAMESPACE)
        .with_key("Name", KeyValue::string(SERVICE_NAME))
        .with_key("SystemCreationClassName", KeyValue::string(SYSTEM_CLASS))
        .with_key("SystemName", KeyValue::string(hostname))
        .with_key("CreationClassName", KeyValue::string(SERVICE_CLASS))
}

/// Path of the CIM_RegisteredProfile instance (namespace `interop`).
pub fn profile_path() -> ObjectPath {
    ObjectPath::new(REGISTERED_PROFILE)
        .with_namespace(INTEROP_NAMESPACE)
        .with_key("InstanceID", KeyValue::string(PROFILE_INSTANCE_ID))
}

/// This system's host name (the kernel's), `localhost` if unreadable.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The interop provider.
#[derive(Debug, Clone)]
pub struct InteropProvider {
    hostname: String,
    version: String,
}

impl InteropProvider {
    /// `version`: the agent's version, shown as the object manager's.
    pub fn new(hostname: impl Into<String>, version: impl Into<String>) -> Self {
        InteropProvider {
            hostname: hostname.into(),
            version: version.into(),
        }
    }

    fn namespaces(&self) -> Vec<Instance> {
        NAMESPACES
            .iter()
            .map(|ns| {
                Instance::new(NAMESPACE)
                    .with("SystemCreationClassName", SYSTEM_CLASS)
                    .with("SystemName", self.hostname.as_str())
                    .with("ObjectManagerCreationClassName", OBJECT_MANAGER)
                    .with("ObjectManagerName", OBJECT_MANAGER_NAME)
                    .with("CreationClassName", NAMESPACE)
                    .with("Name", *ns)
                    .with("ElementName", *ns)
            })
            .collect()
    }

    fn object_manager(&self) -> Instance {
        Instance::new(OBJECT_MANAGER)
            .with("SystemCreationClassName", SYSTEM_CLASS)
            .with("SystemName", self.hostname.as_str())
            .with("CreationClassName", OBJECT_MANAGER)
            .with("Name", OBJECT_MANAGER_NAME)
            .with("ElementName", OBJECT_MANAGER_NAME)
            // pywbem's WBEMServer.version reads "<anything> version <v>".
            .with(
                "Description",
                format!("{OBJECT_MANAGER_NAME} version {}", self.version),
            )
            .with("Started", true)
            .with("EnabledState", 2u16)
            .with("GatherStatisticalData", false)
    }

    fn profile(&self) -> Instance {
        Instance::new(REGISTERED_PROFILE)
            .with("InstanceID", PROFILE_INSTANCE_ID)
            .with("RegisteredOrganization", 1u16) // "Other"
            .with("OtherRegisteredOrganization", PROFILE_ORGANIZATION)
            .with("RegisteredName", PROFILE_NAME)
            .with("RegisteredVersion", PROFILE_VERSION)
            .with("ElementName", PROFILE_NAME)
            .with(
                "AdvertiseTypes",
                Value::Array(
                    crate::cim::CimType::Uint16,
                    vec![Some(crate::cim::Scalar::Uint16(2))], // Not Advertised (no SLP)
                ),
            )
    }

    fn conforms(&self) -> Instance {
        Instance::new(CONFORMS)
            .with("ConformantStandard", Value::reference(profile_path()))
            .with(
                "ManagedElement",
                Value::reference(service_path(&self.hostname)),
            )
    }
}

fn indications_not_implemented() -> CimError {
    CimError::new(
        CimStatus::NotSupported,
        "indications are not implemented yet",
    )
}

impl Provider for InteropProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        [NAMESPACE, OBJECT_MANAGER, REGISTERED_PROFILE, CONFORMS]
            .into_iter()
            .chain(SUBSCRIPTION_CLASSES)
            .map(|c| (INTEROP_NAMESPACE, c))
            .collect()
    }

    fn enumerate_instances(&self, _ctx: &Ctx, class: &str) -> Result<Vec<Instance>, CimError> {
        let is = |c: &str| name_eq(class, c);
        Ok(if is(NAMESPACE) {
            self.namespaces()
        } else if is(OBJECT_MANAGER) {
            vec![self.object_manager()]
        } else if is(REGISTERED_PROFILE) {
            vec![self.profile()]
        } else if is(CONFORMS) {
            vec![self.conforms()]
        } else {
            Vec::new()
        })
    }

    fn create_instance(&self, _ctx: &Ctx, instance: &Instance) -> Result<ObjectPath, CimError> {
        if SUBSCRIPTION_CLASSES
            .iter()
            .any(|c| name_eq(c, &instance.classname))
        {
            return Err(indications_not_implemented());
        }
        Err(CimError::new(
            CimStatus::NotSupported,
            format!("instances of {} cannot be created", instance.classname),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cimom::schema;

    #[test]
    fn service_path_keys_are_the_classes_keys() {
        let repo = schema::builtin().unwrap();
        let class = repo.class(DSIMAGE_NAMESPACE, SERVICE_CLASS).unwrap();
        let keys: Vec<&str> = class.key_properties().map(|p| p.name.as_str()).collect();
        let path = service_path("h");
        let names: Vec<&str> = path.keybindings.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(keys, names);
        assert_eq!(path.key("SystemName").unwrap().as_str(), Some("h"));
    }

    #[test]
    fn every_served_class_exists_in_interop() {
        let repo = schema::builtin().unwrap();
        for (ns, c) in InteropProvider::new("h", "0").classes() {
            assert!(repo.class(ns, c).is_some(), "{ns}:{c}");
        }
    }
}
