//! DS_StorageVolume: one instance per block device the engine discovers, with what
//! dsimage makes of it (under control, role in a set, suitable for a new set and why
//! not); methods PutUnderControl and Release.

use std::sync::Arc;

use dmtarget::engine::{Engine, EngineError, VolumeInfo, VolumeRole};
use dmtarget::volume::{BlockDevice, DeviceKind};

use super::args;
use super::engine_host::EngineHost;
use super::errors::{cim_error, outcome};
use super::paths::{is_named_by, pick};
use super::service::SYSTEM_CREATION_CLASS_NAME;
use super::NAMESPACE;
use crate::cim::{CimError, CimStatus, Instance, KeyValue, MethodTarget, ObjectPath, ParamValue};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = "DS_StorageVolume";
const KEYS: [&str; 4] = [
    "SystemCreationClassName",
    "SystemName",
    "CreationClassName",
    "DeviceID",
];
/// Block devices are addressed in 512-byte sectors whatever their physical blocks.
const BLOCK_SIZE: u64 = 512;

/// DeviceID: the device-mapper name of a dm device, else the kernel name (MOF).
pub fn device_id(dev: &BlockDevice) -> String {
    match (&dev.kind, &dev.dm_name) {
        (DeviceKind::DeviceMapper, Some(n)) => n.clone(),
        _ => dev.name.clone(),
    }
}

/// The path of a volume.
pub fn path(namespace: &str, system: &str, device_id: &str) -> ObjectPath {
    ObjectPath::new(CLASS)
        .with_namespace(namespace)
        .with_key(
            "SystemCreationClassName",
            KeyValue::string(SYSTEM_CREATION_CLASS_NAME),
        )
        .with_key("SystemName", KeyValue::string(system))
        .with_key("CreationClassName", KeyValue::string(CLASS))
        .with_key("DeviceID", KeyValue::string(device_id))
}

/// DS_StorageVolume.Role and DS_IISetVolume.Role of a role.
pub fn role_code(role: VolumeRole) -> u16 {
    match role {
        VolumeRole::Master => 1,
        VolumeRole::Shadow => 2,
        VolumeRole::Bitmap => 3,
        VolumeRole::Overflow => 4,
    }
}

/// The DS_StorageVolume instance of a volume on `system`.
pub fn instance(info: &VolumeInfo, system: &str) -> Instance {
    let dev = &info.device;
    let id = device_id(dev);
    let path_text = dev.path.display().to_string();
    // The volume's own top device holds it once it is under control; any other holder
    // (another dm device, md...) means someone else uses it.
    let own_holders = usize::from(info.top.is_some());
    let in_use = dev.mounted.is_some() || !info.roles.is_empty() || dev.holders.len() > own_holders;
    let mut inst = Instance::new(CLASS)
        .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", system)
        .with("CreationClassName", CLASS)
        .with("DeviceID", id.as_str())
        .with("Name", path_text.as_str())
        .with("ElementName", id.as_str())
        .with("Path", path_text.as_str())
        .with("Size", dev.size.0)
        .with("BlockSize", BLOCK_SIZE)
        .with("NumberOfBlocks", dev.size.0 / BLOCK_SIZE)
        .with("ConsumableBlocks", dev.size.0 / BLOCK_SIZE)
        .with("Primordial", dev.kind == DeviceKind::Disk)
        .with("Mounted", dev.mounted.is_some())
        .with("InUse", in_use)
        .with("UnderControl", info.top.is_some())
        .with("Suitable", info.suitable)
        .with("Reason", info.reason.clone().unwrap_or_default())
        .with(
            "Role",
            info.roles.first().map(|(_, r)| role_code(*r)).unwrap_or(0),
        );
    if let Some(m) = &dev.mounted {
        inst = inst.with("MountPoint", m.as_str());
    }
    inst
}

/// See the module documentation.
#[derive(Debug)]
pub struct VolumeProvider {
    host: Arc<EngineHost>,
    /// SystemName of every instance.
    system: String,
}

impl VolumeProvider {
    pub fn new(host: Arc<EngineHost>, system: String) -> VolumeProvider {
        VolumeProvider { host, system }
    }

    fn list(&self) -> Result<Vec<Instance>, CimError> {
        let vols = self
            .host
            .with_engine(|e| e.volumes())?
            .map_err(|e| cim_error(&e))?;
        Ok(vols.iter().map(|v| instance(v, &self.system)).collect())
    }

    /// The raw device `path` names, looked up under the same lock as the operation.
    fn find(&self, e: &Engine, path: &ObjectPath) -> Result<BlockDevice, EngineError> {
        e.volumes()?
            .into_iter()
            .find(|v| is_named_by(&instance(v, &self.system), path, &KEYS))
            .map(|v| v.device)
            .ok_or_else(|| EngineError::NotFound {
                what: "volume",
                name: path
                    .key("DeviceID")
                    .and_then(|k| k.as_str())
                    .unwrap_or_default()
                    .to_string(),
            })
    }
}

impl Provider for VolumeProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        self.list()
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        args::string_key(path, "DeviceID")?;
        pick(self.list()?, path, &KEYS)
    }

    fn invoke_method(
        &self,
        _ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        _params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        let path = args::target_instance(target, method)?;
        let id = args::string_key(path, "DeviceID")?;
        let (m, r) = match method.to_ascii_lowercase().as_str() {
            "putundercontrol" => (
                "PutUnderControl",
                self.host.with_engine(|e| {
                    let dev = self.find(e, path)?;
                    e.control(&dev.path).map(drop)
                })?,
            ),
            "release" => (
                "Release",
                self.host.with_engine(|e| {
                    let dev = self.find(e, path)?;
                    e.release(&dev.path).map(drop)
                })?,
            ),
            _ => {
                return Err(CimError::new(
                    CimStatus::MethodNotFound,
                    format!("{CLASS} has no method {method}"),
                ))
            }
        };
        Ok(outcome(CLASS, m, &id, r))
    }
}
