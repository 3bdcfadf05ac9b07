//! Fault injection for tests of roll-back and crash recovery. Points are named
//! `<operation>.<step>`; see the callers.
//!
//! - `DSIMAGE_FAULT=<point>`: the engine fails there as if the kernel had refused the
//!   step (the operation rolls back).
//! - `DSIMAGE_CRASH=<point>`: the engine process is killed there (SIGKILL: no roll-back,
//!   no destructor runs), leaving the kernel and the state directory as a crash would.

use super::{EngineError, Result};

/// Fails with a clear error if `point` is the injected fault; dies if it is the injected
/// crash.
pub(crate) fn point(point: &str) -> Result<()> {
    crash(point);
    match std::env::var("DSIMAGE_FAULT") {
        Ok(p) if p == point => Err(EngineError::Failed(format!(
            "injected fault at {point} (DSIMAGE_FAULT)"
        ))),
        _ => Ok(()),
    }
}

/// Kills the process if `point` is the injected crash.
pub(crate) fn crash(point: &str) {
    if std::env::var("DSIMAGE_CRASH").is_ok_and(|p| p == point) {
        eprintln!("dsimage: injected crash at {point} (DSIMAGE_CRASH)");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
