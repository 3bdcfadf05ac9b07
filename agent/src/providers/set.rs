//! DS_IISet: one instance per set of the engine, built from its status; the set methods
//! the engine supports (Copy, Update, Wait, Disable, GetStatus, and for the background
//! copy of an independent set Suspend, Resume, Abort and SetCopyParameters),
//! DeleteInstance (disable) and CreateInstance (enable, like DS_IIService.CreateIISet).

use std::sync::Arc;

use dmtarget::engine::{CopyControl, Direction, SetKind, SetState, SetStatus};

use super::args::{self, Args};
use super::create::NewSet;
use super::engine_host::EngineHost;
use super::errors::{cim_error, failure, not_implemented, outcome, success};
use super::paths::named_by;
use super::NAMESPACE;
use crate::cim::{
    CimDateTime, CimError, CimStatus, CimType, Instance, KeyValue, MethodTarget, ObjectPath,
    ParamValue, Scalar, Value,
};
use crate::cimom::{Ctx, MethodOutput, Provider};

pub const CLASS: &str = "DS_IISet";
const KEYS: [&str; 1] = ["Name"];

/// DS_IISet.State values.
pub mod state {
    pub const UNKNOWN: u16 = 0;
    pub const IDLE: u16 = 1;
    pub const COPY_IN_PROGRESS: u16 = 2;
    pub const UPDATE_IN_PROGRESS: u16 = 3;
    pub const SUSPENDED: u16 = 4;
    pub const ABORTED: u16 = 5;
    pub const OFFLINE: u16 = 8;
}

/// CIM_ManagedSystemElement.OperationalStatus values used.
const OP_OK: u16 = 2;
const OP_ERROR: u16 = 6;

/// Methods of the schema the engine does not offer yet.
const NOT_IMPLEMENTED: [&str; 5] = [
    "Export",
    "Join",
    "Reset",
    "AttachOverflow",
    "DetachOverflow",
];

/// The path of a set.
pub fn path(namespace: &str, name: &str) -> ObjectPath {
    ObjectPath::new(CLASS)
        .with_namespace(namespace)
        .with_key("Name", KeyValue::string(name))
}

/// DS_IISet.Type of a set kind.
pub fn type_code(kind: SetKind) -> u16 {
    match kind {
        SetKind::Independent => 1,
        SetKind::Dependent => 2,
    }
}

/// DS_IISet.Direction (0 None, 1 Master To Shadow, 2 Shadow To Master).
pub fn direction_code(d: Option<Direction>) -> u16 {
    match d {
        None => 0,
        Some(Direction::ToShadow) => 1,
        Some(Direction::ToMaster) => 2,
    }
}

/// DS_IISet.State. A dependent set's copy is an update (only changed chunks move), so
/// its operations are reported as updates. The background copy of an independent set
/// is in progress, suspended or aborted (its target still depends on its source until
/// it is resumed or replaced). A shadow that ran out of space or that the kernel reports
/// unusable is offline (the master is unharmed).
pub fn state_code(st: &SetStatus) -> u16 {
    match &st.state {
        SetState::Idle => state::IDLE,
        SetState::Copying { .. } => match (st.kind, st.copy_control) {
            (SetKind::Dependent, _) => state::UPDATE_IN_PROGRESS,
            (SetKind::Independent, Some(CopyControl::Suspended)) => state::SUSPENDED,
            (SetKind::Independent, Some(CopyControl::Aborted)) => state::ABORTED,
            (SetKind::Independent, _) => state::COPY_IN_PROGRESS,
        },
        SetState::OutOfSpace | SetState::Failed { .. } => state::OFFLINE,
    }
}

/// Rounded down, so that 100 means done / fully synchronized and nothing less.
pub(super) fn percent(p: f64) -> u8 {
    p.floor().clamp(0.0, 100.0) as u8
}

/// A time of the engine (seconds since the epoch) as a CIM datetime.
pub(super) fn datetime(unix_secs: u64) -> CimDateTime {
    CimDateTime::from_unix(i64::try_from(unix_secs).unwrap_or(i64::MAX), 0)
}

/// One line a person can read: GetStatus's Status and the StatusDescriptions entry.
pub fn summary(st: &SetStatus) -> String {
    match &st.state {
        SetState::Idle => format!(
            "idle; {}% synchronized ({} of {} chunks differ)",
            percent(st.percent_synchronized),
            st.chunks_changed,
            st.chunks_total
        ),
        SetState::Copying { direction } => {
            let (from, to) = match direction {
                Direction::ToShadow => ("master", "shadow"),
                Direction::ToMaster => ("shadow", "master"),
            };
            let done = percent(st.percent_completed);
            match st.copy_control {
                Some(CopyControl::Suspended) => format!(
                    "copy {from} to {to} suspended at {done}%: the {to} reads the point-in-time \
                     image and depends on the {from} until the copy is resumed"
                ),
                Some(CopyControl::Aborted) => format!(
                    "copy {from} to {to} aborted at {done}%: the {to} reads the point-in-time \
                     image and depends on the {from} until the next copy or update {from} to \
                     {to}"
                ),
                Some(CopyControl::Failed) => format!(
                    "copy {from} to {to} failed at {done}%: its scratch area filled; copy or \
                     update {from} to {to} again"
                ),
                Some(CopyControl::Run) | None => format!("copying {from} to {to}: {done}% done"),
            }
        }
        SetState::OutOfSpace => "out of space: the shadow is no longer valid (the master is \
             unharmed); update the set from the master to start again"
            .into(),
        SetState::Failed { reason } => format!("failed: {reason}"),
    }
}

/// The DS_IISet instance of a set: every property of the class that the status has.
/// CopyUnits and CopyDelay are the copy parameters of an independent set, left out
/// (NULL) when its copies are not throttled; BitmapSize and PointInTime are not reported
/// by the engine yet and are left out too.
pub fn instance(st: &SetStatus) -> Instance {
    let path_text = |p: &std::path::Path| p.display().to_string();
    let direction = match &st.state {
        SetState::Copying { direction } => Some(*direction),
        _ => None,
    };
    let healthy = matches!(st.state, SetState::Idle | SetState::Copying { .. });
    let inst = Instance::new(CLASS)
        .with("Name", st.name.as_str())
        .with("Type", type_code(st.kind))
        .with("Compact", st.compact)
        .with("GroupName", st.group.as_deref().unwrap_or(""))
        .with("MasterVolume", path_text(&st.master))
        .with("ShadowVolume", path_text(&st.shadow))
        .with("BitmapVolume", path_text(&st.bitmap))
        .with(
            "OverflowVolume",
            st.overflow.as_deref().map(path_text).unwrap_or_default(),
        )
        .with("State", state_code(st))
        .with("Direction", direction_code(direction))
        .with("PercentCompleted", percent(st.percent_completed))
        .with("PercentSynchronized", percent(st.percent_synchronized))
        .with(
            "ChunkSize",
            u32::try_from(st.chunk_size).unwrap_or(u32::MAX),
        )
        .with("MasterSize", st.master_size)
        .with("ShadowSize", st.shadow_size)
        .with("ShadowChunksTotal", st.shadow_chunks_total)
        .with("ShadowChunksUsed", st.shadow_chunks_used)
        .with("LastModified", datetime(st.last_modified))
        .with("InstallDate", datetime(st.created))
        .with("Exported", false)
        .with("Imported", false)
        .with("OutOfSpace", st.state == SetState::OutOfSpace)
        .with(
            "OperationalStatus",
            Value::Array(
                CimType::Uint16,
                vec![Some(Scalar::Uint16(if healthy { OP_OK } else { OP_ERROR }))],
            ),
        )
        .with("StatusDescriptions", Value::string_array([summary(st)]));
    match st.copy_params {
        Some(p) => inst
            .with("CopyUnits", u32::try_from(p.units).unwrap_or(u32::MAX))
            .with("CopyDelay", u32::try_from(p.delay_ms).unwrap_or(u32::MAX)),
        None => inst,
    }
}

/// The OUT parameters of GetStatus.
pub fn status_out_params(st: &SetStatus) -> Vec<ParamValue> {
    vec![
        ParamValue::new("State", CimType::Uint16, Some(&Value::from(state_code(st)))),
        ParamValue::new(
            "PercentCompleted",
            CimType::Uint8,
            Some(&Value::from(percent(st.percent_completed))),
        ),
        ParamValue::new("Status", CimType::String, Some(&Value::string(summary(st)))),
    ]
}

/// See the module documentation.
#[derive(Debug)]
pub struct SetProvider {
    host: Arc<EngineHost>,
}

impl SetProvider {
    pub fn new(host: Arc<EngineHost>) -> SetProvider {
        SetProvider { host }
    }
}

impl Provider for SetProvider {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(NAMESPACE, CLASS)]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        let sets = self
            .host
            .with_engine(|e| e.sets())?
            .map_err(|e| cim_error(&e))?;
        Ok(sets.iter().map(instance).collect())
    }

    fn get_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<Instance, CimError> {
        let name = args::set_key(path)?;
        let st = self
            .host
            .with_engine(|e| e.status(&name))?
            .map_err(|e| cim_error(&e))?;
        named_by(instance(&st), path, &KEYS)
    }

    fn create_instance(&self, ctx: &Ctx, inst: &Instance) -> Result<ObjectPath, CimError> {
        let req = NewSet::from_args(&Args::Instance(inst))?;
        self.host
            .with_engine(|e| req.enable(e))?
            .map_err(|e| cim_error(&e))?;
        Ok(path(&ctx.namespace, &req.name))
    }

    fn delete_instance(&self, _ctx: &Ctx, path: &ObjectPath) -> Result<(), CimError> {
        let name = args::set_key(path)?;
        self.host
            .with_engine(|e| e.disable(&name))?
            .map_err(|e| cim_error(&e))
    }

    fn invoke_method(
        &self,
        _ctx: &Ctx,
        target: &MethodTarget,
        method: &str,
        params: &[ParamValue],
    ) -> Result<MethodOutput, CimError> {
        if let Some(m) = NOT_IMPLEMENTED
            .iter()
            .find(|m| m.eq_ignore_ascii_case(method))
        {
            return Err(not_implemented(&format!("{CLASS}.{m}")));
        }
        let name = args::set_key(args::target_instance(target, method)?)?;
        let a = Args::Params(params);
        let host = &self.host;
        let (m, r) = match method.to_ascii_lowercase().as_str() {
            "copy" => {
                let dir = a.direction("Direction")?;
                ("Copy", host.with_engine(|e| e.copy(&name, dir).map(drop))?)
            }
            "update" => {
                let dir = a.direction("Direction")?;
                (
                    "Update",
                    host.with_engine(|e| e.update(&name, dir).map(drop))?,
                )
            }
            "wait" => {
                let timeout = a.wait_timeout("Timeout")?;
                ("Wait", host.wait_idle(&name, timeout)?.map(drop))
            }
            "disable" => ("Disable", host.with_engine(|e| e.disable(&name))?),
            // The background copy of an independent set.
            "suspend" => (
                "Suspend",
                host.with_engine(|e| e.suspend_copy(&name).map(drop))?,
            ),
            "resume" => (
                "Resume",
                host.with_engine(|e| e.resume_copy(&name).map(drop))?,
            ),
            "abort" => (
                "Abort",
                host.with_engine(|e| e.abort_copy(&name).map(drop))?,
            ),
            "setcopyparameters" => {
                let params = a.copy_params()?;
                (
                    "SetCopyParameters",
                    host.with_engine(|e| e.set_copy_params(&name, Some(params)).map(drop))?,
                )
            }
            "clearcopyparameters" => (
                "ClearCopyParameters",
                host.with_engine(|e| e.set_copy_params(&name, None).map(drop))?,
            ),
            "getstatus" => {
                return Ok(match host.with_engine(|e| e.status(&name))? {
                    Ok(st) => success(status_out_params(&st)),
                    Err(e) => failure(CLASS, "GetStatus", &name, &e),
                })
            }
            _ => {
                return Err(CimError::new(
                    CimStatus::MethodNotFound,
                    format!("{CLASS} has no method {method}"),
                ))
            }
        };
        // The engine's Conflict means no copy in progress (or an aborted one) to the
        // methods that act on the copy, a volume in use to the others.
        Ok(outcome(CLASS, m, &name, r))
    }
}
