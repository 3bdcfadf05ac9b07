//! Fault injection for tests of roll-back: when the environment variable
//! `DSIMAGE_FAULT` names a fault point, the engine fails there as if the kernel had
//! refused the step. Points are named `<operation>.<step>`; see the callers.

use super::{EngineError, Result};

/// Fails with a clear error if `point` is the injected fault.
pub(crate) fn point(point: &str) -> Result<()> {
    match std::env::var("DSIMAGE_FAULT") {
        Ok(p) if p == point => Err(EngineError::Failed(format!(
            "injected fault at {point} (DSIMAGE_FAULT)"
        ))),
        _ => Ok(()),
    }
}
