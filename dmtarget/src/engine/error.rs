//! The engine's error type. Every variant says what was refused and why; the agent maps
//! these to CIM_ERR_* codes in one place.

use crate::dm::DmError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} already exists")]
    AlreadyExists { what: &'static str, name: String },
    /// A volume or set is in use by something else (mounted, held, in another set or
    /// group).
    #[error("{0}")]
    Conflict(String),
    /// The set or group is not in a state the request applies to (no copy to suspend,
    /// a stopped copy in the other direction, a group without sets, an unusable shadow).
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Busy(String),
    #[error("{volume} is too small: {have} bytes, {need} bytes needed ({why})")]
    TooSmall {
        volume: String,
        have: u64,
        need: u64,
        why: &'static str,
    },
    #[error("not supported: {0}")]
    NotSupported(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error(transparent)]
    DeviceMapper(#[from] DmError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl EngineError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> EngineError {
        EngineError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
