//! Fault injection for tests of roll-back and crash recovery. Points are named
//! `<operation>.<step>`; see the callers.
//!
//! - `DSIMAGE_FAULT=<point>`: the engine fails there as if the kernel had refused the
//!   step (the operation rolls back).
//! - `DSIMAGE_CRASH=<point>`: the engine process is killed there (SIGKILL: no roll-back,
//!   no destructor runs), leaving the kernel and the state directory as a crash would.
//! - `DSIMAGE_TRACE=1`: every point reached is printed to standard error with the time
//!   since the first one, to see where an operation spends its time.

use std::sync::OnceLock;
use std::time::Instant;

use super::{EngineError, Result};

/// Prints `point` with the milliseconds since the first traced point, if
/// `DSIMAGE_TRACE` is set.
pub(crate) fn trace(point: &str) {
    static TRACE: OnceLock<Option<Instant>> = OnceLock::new();
    if let Some(t0) =
        TRACE.get_or_init(|| std::env::var_os("DSIMAGE_TRACE").map(|_| Instant::now()))
    {
        eprintln!(
            "dsimage trace: {:9.1} ms {point}",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
}

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
    trace(point);
    if std::env::var("DSIMAGE_CRASH").is_ok_and(|p| p == point) {
        eprintln!("dsimage: injected crash at {point} (DSIMAGE_CRASH)");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
