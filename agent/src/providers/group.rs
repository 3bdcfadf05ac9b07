//! DS_IIGroup: one instance per group of the engine, built from its status;
//! CreateInstance (an empty group, or one with the given Members), DeleteInstance (its
//! sets stay, ungrouped), and the group methods: Copy and Update (every member at one
//! point in time), Wait, AddSet and RemoveSet, and for the background copies of an
//! independent group Suspend, Resume, Abort, SetCopyParameters and ClearCopyParameters.
//!
//! Return codes go through [`errors`](super::errors) as for DS_IISet.

use std::sync::Arc;

use dmtarget::engine::{Direction, Engine, EngineError, GroupStatus, SetKind};

use super::args::{self, Args};
use super::engine_host::EngineHost;
use super::errors::{cim_error, outcome};
use super::paths::named_by;
use super::set::{datetime, percent};
use super::{set, NAMESPACE};
use crate::cim::{
    CimError, CimStatus, Instance, KeyValue, MethodTarget, ObjectPath, ParamValue, Value,
};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = "DS_IIGroup";
const KEYS: [&str; 1] = ["Name"];

/// The path of a group.
pub fn path(namespace: &str, name: &str) -> ObjectPath {
    ObjectPath::new(CLASS)
        .with_namespace(namespace)
        .with_key("Name", KeyValue::string(name))
}

/// DS_IIGroup.Type: 0 Empty while the group has no sets, else the kind of its sets
/// (as DS_IISet.Type). 3 Mixed is never reported: the sets of a group are of one kind.
pub fn type_code(kind: Option<SetKind>) -> u16 {
    kind.map_or(0, set::type_code)
}

/// The DS_IIGroup instance of a group.
pub fn instance(g: &GroupStatus) -> Instance {
    Instance::new(CLASS)
        .with("Name", g.name.as_str())
        .with("Type", type_code(g.kind))
        .with("Members", Value::string_array(&g.members))
        .with("BusyMembers", Value::string_array(&g.busy))
        .with("PercentCompleted", percent(g.percent_completed))
        .with("InstallDate", datetime(g.created))
}

/// A validated request to create a group (CreateInstance): its name and the sets to
/// add, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGroup {
    pub name: String,
    pub members: Vec<String>,
}

impl NewGroup {
    /// Reads Name and Members (NULL or absent: no sets); CIM_ERR_INVALID_PARAMETER for
    /// a name the engine cannot take.
    pub fn from_args(a: &Args<'_>) -> Result<NewGroup, CimError> {
        let name = a.group_name("Name")?;
        let members = a.strings("Members")?.unwrap_or_default();
        for m in &members {
            args::set_name("Members", m)?;
        }
        Ok(NewGroup { name, members })
    }

    /// Creates the group and adds its members; if one cannot be added, the group is
    /// deleted again (the members added before it leave with it) and that refusal is
    /// the answer.
    pub fn create(&self, e: &mut Engine) -> Result<GroupStatus, EngineError> {
        let mut st = e.group_create(&self.name)?;
        for m in &self.members {
            match e.group_add(&self.name, m) {
                Ok(added) => st = added.into_inner(),
                Err(err) => {
                    self.roll_back(e);
                    return Err(err);
                }
            }
        }
        Ok(st)
    }

    fn roll_back(&self, e: &mut Engine) {
        if let Err(err) = e.group_delete(&self.name) {
            eprintln!(
                "dsimaged: {CLASS} {}: deleting the group after a member was refused \
                 failed: {err}",
                self.name
            );
        }
    }
}

/// Copy or Update of the group (`Engine::group_copy`, `Engine::group_update`).
type Start = fn(&mut Engine, &str, Direction) -> Result<GroupStatus, EngineError>;

/// See the module documentation.
#[derive(Debug)]
pub struct GroupProvider {
    host: Arc<EngineHost>,
}

impl GroupProvider {
    pub fn new(host: Arc<EngineHost>) -> GroupProvider {
        GroupProvider { host }
    }

    /// Copy or Update: one point in time for every set of the group.
    fn start(
        &self,
        name: &str,
        method: &'static str,
        dir: Direction,
        start: Start,
    ) -> Result<MethodOutput, CimError> {
        let r = self.host.with_engine(|e| start(e, name, dir))?;
        Ok(outcome(CLASS, method, name, r))
    }

    /// Runs `f` on the group with the engine locked; the method's outcome.
    fn run<T>(
        &self,
        name: &str,
        method: &'static str,
        f: impl FnOnce(&mut Engine) -> Result<T, EngineError>,
    ) -> Result<MethodOutput, CimError> {
        let r = self.host.with_engine(f)?;
        Ok(outcome(CLASS, method, name, r))
    }
}

impl Provider for GroupProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        let groups = self
            .host
            .with_engine(|e| e.groups())?
            .map_err(|e| cim_error(&e))?;
        Ok(groups.iter().map(instance).collect())
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        let name = args::group_key(path)?;
        let st = self
            .host
            .with_engine(|e| e.group_status(&name))?
            .map_err(|e| cim_error(&e))?;
        named_by(instance(&st), path, &KEYS)
    }

    fn create_instance(&self, ctx: &Ctx, inst: &Instance) -> Result<ObjectPath, CimError> {
        let req = NewGroup::from_args(&Args::Instance(inst))?;
        self.host
            .with_engine(|e| req.create(e))?
            .map_err(|e| cim_error(&e))?;
        Ok(path(&ctx.namespace, &req.name))
    }

    fn delete_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<(), CimError> {
        let name = args::group_key(path)?;
        self.host
            .with_engine(|e| e.group_delete(&name))?
            .map_err(|e| cim_error(&e))
    }

    fn invoke_method(
        &self,
        _ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        let name = args::group_key(args::target_instance(target, method)?)?;
        let name = name.as_str();
        let a = Args::Params(params);
        match method.to_ascii_lowercase().as_str() {
            "copy" => self.start(name, "Copy", a.direction("Direction")?, Engine::group_copy),
            "update" => self.start(
                name,
                "Update",
                a.direction("Direction")?,
                Engine::group_update,
            ),
            "wait" => {
                let timeout = a.wait_timeout("Timeout")?;
                // Without the engine locked while waiting: see wait_group_idle.
                let r = self.host.wait_group_idle(name, timeout)?;
                Ok(outcome(CLASS, "Wait", name, r))
            }
            "addset" => {
                let set = a.set_name("SetName")?;
                self.run(name, "AddSet", |e| e.group_add(name, &set))
            }
            "removeset" => {
                let set = a.set_name("SetName")?;
                self.run(name, "RemoveSet", |e| e.group_remove(name, &set))
            }
            // The background copies of an independent group's sets.
            "suspend" => self.run(name, "Suspend", |e| e.group_suspend(name)),
            "resume" => self.run(name, "Resume", |e| e.group_resume(name)),
            "abort" => self.run(name, "Abort", |e| e.group_abort(name)),
            "setcopyparameters" => {
                let params = a.copy_params()?;
                self.run(name, "SetCopyParameters", |e| {
                    e.group_copy_params(name, Some(params))
                })
            }
            "clearcopyparameters" => self.run(name, "ClearCopyParameters", |e| {
                e.group_copy_params(name, None)
            }),
            _ => Err(CimError::new(
                CimStatus::MethodNotFound,
                format!("{CLASS} has no method {method}"),
            )),
        }
    }
}
