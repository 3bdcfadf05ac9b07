//! Association classes; the object manager derives Associators/References from their
//! instances.
//!
//! - DS_IISetVolume: each set to each of its master, shadow and bitmap volumes, with the
//!   volume's Role (from the engine's volume roles, so both ends are instances that
//!   DS_IISet and DS_StorageVolume enumerate);
//! - DS_IIGroupSet: each group to each of its member sets (from the engine's
//!   configuration, so both ends are instances that DS_IIGroup and DS_IISet enumerate);
//! - DS_IISetOverflow: overflow volumes do not exist yet, so neither does this.

use std::sync::Arc;

use dmtarget::engine::{VolumeInfo, VolumeRole};

use super::engine_host::EngineHost;
use super::errors::cim_error;
use super::paths::pick;
use super::{group, set, volume, NAMESPACE};
use crate::cim::{CimError, CimStatus, Instance, ObjectPath, Value};
use crate::cimom::{Ctx, Provider};

pub const SET_VOLUME: &str = "DS_IISetVolume";
pub const GROUP_SET: &str = "DS_IIGroupSet";
pub const SET_OVERFLOW: &str = "DS_IISetOverflow";
const SET_VOLUME_KEYS: [&str; 2] = ["Set", "Volume"];
const GROUP_SET_KEYS: [&str; 2] = ["Group", "Set"];

/// The DS_IISetVolume instances of one volume: one per set it plays a role in. Overflow
/// roles belong to DS_IISetOverflow, whose Role ValueMap has no overflow.
pub fn set_volume_instances(namespace: &str, system: &str, info: &VolumeInfo) -> Vec<Instance> {
    let vol = volume::path(namespace, system, &volume::device_id(&info.device));
    info.roles
        .iter()
        .filter(|(_, role)| *role != VolumeRole::Overflow)
        .map(|(set_name, role)| {
            Instance::new(SET_VOLUME)
                .with("Set", Value::reference(set::path(namespace, set_name)))
                .with("Volume", Value::reference(vol.clone()))
                .with("Role", volume::role_code(*role))
        })
        .collect()
}

/// DS_IISetVolume; see the module documentation.
#[derive(Debug)]
pub struct SetVolumeProvider {
    host: Arc<EngineHost>,
    system: String,
}

impl SetVolumeProvider {
    pub fn new(host: Arc<EngineHost>, system: String) -> SetVolumeProvider {
        SetVolumeProvider { host, system }
    }
}

impl Provider for SetVolumeProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, SET_VOLUME)]
    }

    fn enumerate_instances(&self, ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        let vols = self
            .host
            .with_engine(|e| e.volumes())?
            .map_err(|e| cim_error(&e))?;
        Ok(vols
            .iter()
            .flat_map(|v| set_volume_instances(&ctx.namespace, &self.system, v))
            .collect())
    }

    fn get_instance(&self, ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        pick(
            self.enumerate_instances(ctx, SET_VOLUME)?,
            path,
            &SET_VOLUME_KEYS,
        )
    }
}

/// The DS_IIGroupSet instances of one group: one per member set.
pub fn group_set_instances(namespace: &str, group_name: &str, members: &[String]) -> Vec<Instance> {
    let g = group::path(namespace, group_name);
    members
        .iter()
        .map(|m| {
            Instance::new(GROUP_SET)
                .with("Group", Value::reference(g.clone()))
                .with("Set", Value::reference(set::path(namespace, m)))
        })
        .collect()
}

/// DS_IIGroupSet; see the module documentation.
#[derive(Debug)]
pub struct GroupSetProvider {
    host: Arc<EngineHost>,
}

impl GroupSetProvider {
    pub fn new(host: Arc<EngineHost>) -> GroupSetProvider {
        GroupSetProvider { host }
    }
}

impl Provider for GroupSetProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, GROUP_SET)]
    }

    fn enumerate_instances(&self, ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        // From the configuration: membership is known without asking the kernel.
        let groups: Vec<(String, Vec<String>)> = self.host.with_engine(|e| {
            e.config()
                .groups
                .iter()
                .map(|g| (g.name.clone(), g.members.clone()))
                .collect()
        })?;
        Ok(groups
            .iter()
            .flat_map(|(g, members)| group_set_instances(&ctx.namespace, g, members))
            .collect())
    }

    fn get_instance(&self, ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        pick(
            self.enumerate_instances(ctx, GROUP_SET)?,
            path,
            &GROUP_SET_KEYS,
        )
    }
}

/// DS_IISetOverflow: no instances until overflow volumes exist.
#[derive(Debug)]
pub struct EmptyAssocProvider;

impl Provider for EmptyAssocProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, SET_OVERFLOW)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        Ok(Vec::new())
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        Err(CimError::new(
            CimStatus::NotFound,
            format!(
                "no {} instances exist: overflow volumes are not implemented yet",
                path.classname
            ),
        ))
    }
}
