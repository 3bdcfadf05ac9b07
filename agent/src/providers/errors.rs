//! The one mapping from engine errors to what a CIM client sees.
//!
//! dsimage.mof says that every DS_ method returns a uint32 from one shared ValueMap
//! (0 Success, 1 Not Supported, ... 13 Busy) and lists, per method, the codes it can
//! return. So the providers answer in two ways, by one rule:
//!
//! - **Return codes** (no CIM error) for the outcome of an engine operation that an
//!   extrinsic method asked for: the engine refused it or it failed (busy set, volume in
//!   use, set not found, timeout of Wait, device-mapper failure...). [`return_code`]
//!   classifies; the engine's description is logged, since a return code carries none.
//! - **CIM errors** when the request was not carried out at all because of the request
//!   itself or of the agent: a parameter that breaks the method's declaration (Required,
//!   ValueMap, MaxLen, an absolute device path, a set or group name over
//!   [`MAX_NAME_BYTES`](dmtarget::engine::MAX_NAME_BYTES) bytes) is
//!   CIM_ERR_INVALID_PARAMETER before anything changes; a method or class operation this
//!   agent does not implement yet is CIM_ERR_NOT_SUPPORTED; no engine on this host
//!   ([`unavailable`]) is CIM_ERR_FAILED. Intrinsic operations (EnumerateInstances,
//!   GetInstance, CreateInstance, DeleteInstance) have no return code, so engine errors
//!   there become CIM errors through [`cim_error`].
//!
//! Both mappings classify the same [`EngineError`] variants, side by side in
//! [`classify`], so that they cannot drift apart: [`EngineError::Conflict`] (a volume,
//! set or group in use by something else) is In Use, [`EngineError::InvalidState`] (no
//! copy to act on, a stopped copy in the other direction, a group without sets) is
//! Invalid State.

use dmtarget::dm::DmError;
use dmtarget::engine::EngineError;

use crate::cim::{CimError, CimStatus, ParamValue, Value};
use crate::cimom::MethodOutput;

/// The return codes shared by every DS_ method (dsimage.mof header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnCode {
    Success = 0,
    NotSupported = 1,
    UnspecifiedError = 2,
    Timeout = 3,
    Failed = 4,
    InvalidParameter = 5,
    InUse = 6,
    InvalidState = 7,
    NotFound = 8,
    AlreadyExists = 9,
    VolumeUnsuitable = 10,
    OutOfSpace = 11,
    SizeMismatch = 12,
    Busy = 13,
}

impl ReturnCode {
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The method's return value (uint32, as every DS_ method declares).
    pub fn value(self) -> Value {
        Value::from(self.code())
    }

    /// The Values entry of the ValueMap.
    pub fn name(self) -> &'static str {
        match self {
            ReturnCode::Success => "Success",
            ReturnCode::NotSupported => "Not Supported",
            ReturnCode::UnspecifiedError => "Unspecified Error",
            ReturnCode::Timeout => "Timeout",
            ReturnCode::Failed => "Failed",
            ReturnCode::InvalidParameter => "Invalid Parameter",
            ReturnCode::InUse => "In Use",
            ReturnCode::InvalidState => "Invalid State",
            ReturnCode::NotFound => "Not Found",
            ReturnCode::AlreadyExists => "Already Exists",
            ReturnCode::VolumeUnsuitable => "Volume Unsuitable",
            ReturnCode::OutOfSpace => "Out Of Space",
            ReturnCode::SizeMismatch => "Size Mismatch",
            ReturnCode::Busy => "Busy",
        }
    }
}

/// The CIM status and the method return code of one engine error.
fn classify(e: &EngineError) -> (CimStatus, ReturnCode) {
    match e {
        EngineError::InvalidArgument(_) => {
            (CimStatus::InvalidParameter, ReturnCode::InvalidParameter)
        }
        // The shadow or bitmap cannot hold what the set needs.
        EngineError::TooSmall { .. } => (CimStatus::InvalidParameter, ReturnCode::SizeMismatch),
        EngineError::NotFound { .. } => (CimStatus::NotFound, ReturnCode::NotFound),
        EngineError::AlreadyExists { .. } => (CimStatus::AlreadyExists, ReturnCode::AlreadyExists),
        EngineError::Conflict(_) => (CimStatus::Failed, ReturnCode::InUse),
        EngineError::InvalidState(_) => (CimStatus::Failed, ReturnCode::InvalidState),
        EngineError::Busy(_) => (CimStatus::Failed, ReturnCode::Busy),
        EngineError::NotSupported(_) => (CimStatus::NotSupported, ReturnCode::NotSupported),
        EngineError::Timeout(_) => (CimStatus::Failed, ReturnCode::Timeout),
        EngineError::DeviceMapper(_) | EngineError::Io { .. } | EngineError::Failed(_) => {
            (CimStatus::Failed, ReturnCode::Failed)
        }
    }
}

/// The CIM error of an engine error met by an intrinsic operation; the description is
/// the engine's, which says what was refused and why.
pub fn cim_error(e: &EngineError) -> CimError {
    CimError::new(classify(e).0, e.to_string())
}

/// The return code of an engine error met by an extrinsic method.
pub fn return_code(e: &EngineError) -> ReturnCode {
    classify(e).1
}

/// Why there is no engine, as every engine-backed operation then answers it.
pub fn unavailable(reason: &str) -> CimError {
    CimError::new(CimStatus::Failed, reason.to_string())
}

/// The text kept when the engine cannot be opened: device-mapper missing is said
/// plainly; anything else (state directory locked by another engine, unreadable
/// configuration...) is the real reason.
pub fn unavailable_reason(e: &EngineError) -> String {
    match e {
        EngineError::DeviceMapper(DmError::Unavailable(detail)) => format!(
            "device-mapper is unavailable on this host: {detail} (is the dm-mod module loaded?)"
        ),
        other => format!("the volume-set engine could not be started: {other}"),
    }
}

/// A request that breaks the declaration of the method or class.
pub fn invalid_parameter(description: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, description)
}

/// A feature of the schema this agent does not implement yet.
pub fn not_implemented(what: &str) -> CimError {
    CimError::new(
        CimStatus::NotSupported,
        format!("{what} is not implemented yet"),
    )
}

/// A method that succeeded, with its OUT parameters.
pub fn success(out_params: Vec<ParamValue>) -> MethodOutput {
    MethodOutput {
        return_value: ReturnCode::Success.value(),
        out_params,
    }
}

/// A method whose engine operation was refused or failed: its return code, and the
/// engine's description in the log, since the client only sees the code.
pub fn failure(class: &str, method: &str, target: &str, e: &EngineError) -> MethodOutput {
    let rc = return_code(e);
    eprintln!(
        "dsimaged: {class}.{method} on {target}: returned {} ({}): {e}",
        rc.code(),
        rc.name()
    );
    MethodOutput {
        return_value: rc.value(),
        out_params: Vec::new(),
    }
}

/// The output of a method without OUT parameters.
pub fn outcome<T>(
    class: &str,
    method: &str,
    target: &str,
    r: Result<T, EngineError>,
) -> MethodOutput {
    match r {
        Ok(_) => success(Vec::new()),
        Err(e) => failure(class, method, target, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_variants() -> Vec<EngineError> {
        vec![
            EngineError::InvalidArgument("bad".into()),
            EngineError::NotFound {
                what: "set",
                name: "s".into(),
            },
            EngineError::AlreadyExists {
                what: "set",
                name: "s".into(),
            },
            EngineError::Conflict("/dev/vdb is mounted on /mnt".into()),
            EngineError::InvalidState("set s is not copying".into()),
            EngineError::Busy("set s is busy (copying shadow to master)".into()),
            EngineError::TooSmall {
                volume: "/dev/vdc".into(),
                have: 1,
                need: 2,
                why: "test",
            },
            EngineError::NotSupported("independent sets".into()),
            EngineError::Timeout("set s".into()),
            EngineError::DeviceMapper(DmError::Unavailable("no control".into())),
            EngineError::io("saving", std::io::Error::other("disk full")),
            EngineError::Failed("kernel says no".into()),
        ]
    }

    #[test]
    fn cim_status_per_variant() {
        let want = [
            CimStatus::InvalidParameter,
            CimStatus::NotFound,
            CimStatus::AlreadyExists,
            CimStatus::Failed,
            CimStatus::Failed,
            CimStatus::Failed,
            CimStatus::InvalidParameter,
            CimStatus::NotSupported,
            CimStatus::Failed,
            CimStatus::Failed,
            CimStatus::Failed,
            CimStatus::Failed,
        ];
        for (e, status) in all_variants().iter().zip(want) {
            let c = cim_error(e);
            assert_eq!(c.status, status, "{e:?}");
            // The engine's words reach the client.
            assert_eq!(c.description, e.to_string());
            assert!(!c.description.is_empty());
        }
    }

    #[test]
    fn return_code_per_variant() {
        let want = [5, 8, 9, 6, 7, 13, 12, 1, 3, 4, 4, 4];
        for (e, code) in all_variants().iter().zip(want) {
            assert_eq!(return_code(e).code(), code, "{e:?}");
        }
    }

    #[test]
    fn in_use_and_invalid_state_reach_methods_as_their_codes() {
        let aborted = outcome::<()>(
            "DS_IISet",
            "Resume",
            "s",
            Err(EngineError::InvalidState("the copy was aborted".into())),
        );
        assert_eq!(aborted.return_value, Value::from(7u32));
        let in_use = outcome::<()>(
            "DS_IISet",
            "Update",
            "s",
            Err(EngineError::Conflict("/dev/vdc is mounted".into())),
        );
        assert_eq!(in_use.return_value, Value::from(6u32));
    }

    #[test]
    fn return_codes_match_the_mof_value_map() {
        let names = [
            "Success",
            "Not Supported",
            "Unspecified Error",
            "Timeout",
            "Failed",
            "Invalid Parameter",
            "In Use",
            "Invalid State",
            "Not Found",
            "Already Exists",
            "Volume Unsuitable",
            "Out Of Space",
            "Size Mismatch",
            "Busy",
        ];
        let codes = [
            ReturnCode::Success,
            ReturnCode::NotSupported,
            ReturnCode::UnspecifiedError,
            ReturnCode::Timeout,
            ReturnCode::Failed,
            ReturnCode::InvalidParameter,
            ReturnCode::InUse,
            ReturnCode::InvalidState,
            ReturnCode::NotFound,
            ReturnCode::AlreadyExists,
            ReturnCode::VolumeUnsuitable,
            ReturnCode::OutOfSpace,
            ReturnCode::SizeMismatch,
            ReturnCode::Busy,
        ];
        for (i, (rc, name)) in codes.iter().zip(names).enumerate() {
            assert_eq!(rc.code() as usize, i);
            assert_eq!(rc.name(), name);
            assert_eq!(rc.value(), Value::from(i as u32));
        }
    }

    #[test]
    fn unavailable_reasons_are_plain() {
        let dm = unavailable_reason(&EngineError::DeviceMapper(DmError::Unavailable(
            "no /dev/mapper/control".into(),
        )));
        assert!(
            dm.starts_with("device-mapper is unavailable on this host: no /dev/mapper/control"),
            "{dm}"
        );
        let busy = unavailable_reason(&EngineError::Busy("another engine owns /x".into()));
        assert!(busy.contains("another engine owns /x"), "{busy}");
        let e = unavailable(&dm);
        assert_eq!(e.status, CimStatus::Failed);
        assert_eq!(e.description, dm);
    }

    #[test]
    fn method_outputs() {
        let ok = outcome("DS_IISet", "Copy", "s", Ok::<(), EngineError>(()));
        assert_eq!(ok.return_value, Value::from(0u32));
        assert!(ok.out_params.is_empty());
        let busy = outcome::<()>(
            "DS_IISet",
            "Copy",
            "s",
            Err(EngineError::Busy("set s is busy".into())),
        );
        assert_eq!(busy.return_value, Value::from(13u32));
    }

    #[test]
    fn request_errors() {
        assert_eq!(invalid_parameter("x").status, CimStatus::InvalidParameter);
        let n = not_implemented("DS_IISet.Export");
        assert_eq!(n.status, CimStatus::NotSupported);
        assert_eq!(n.description, "DS_IISet.Export is not implemented yet");
    }
}
