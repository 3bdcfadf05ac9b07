//! The one engine of the agent, shared by CIM requests and a background poller.
//!
//! The engine is not `Sync` and owns its state directory exclusively, so it lives behind
//! a mutex here and everything that needs it goes through [`EngineHost::with_engine`].
//! When it cannot be opened (no device-mapper on the host, state directory locked by
//! another engine, unreadable configuration) the host keeps the reason and every
//! engine-backed operation answers CIM_ERR_FAILED with it: the agent still starts and
//! serves the protocol (classes, interop, the service instance).
//!
//! Long waits never hold the mutex for their duration: [`EngineHost::wait_idle`] (a set)
//! and [`EngineHost::wait_group_idle`] (every set of a group) take short steps and
//! release the lock in between, so other requests and the poller go on.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dmtarget::engine::{Engine, EngineError, EngineOptions, GroupStatus, RestoreReport, SetStatus};

use super::errors;
use crate::cim::CimError;

/// Polling interval until [`EngineHost::start_poller`] or
/// [`EngineHost::set_poll_interval`] says otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Pause between the steps of [`EngineHost::wait_idle`]; short enough that a finished
/// operation is noticed promptly, long enough not to hog the lock.
const WAIT_STEP: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct PollerState {
    interval: Duration,
    running: bool,
    stop: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct EngineHost {
    /// The engine, or why there is none.
    engine: Result<Mutex<Engine>, String>,
    restore: Option<RestoreReport>,
    poller: Mutex<PollerState>,
    /// Wakes the poller when its interval changes or it must stop.
    poller_wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the engine half-changed: every engine
    // mutation rolls itself back when unwound (its transaction's drop), so keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EngineHost {
    /// Opens the engine (restoring every set in the kernel); never fails: without an
    /// engine the host answers every engine-backed operation with the reason.
    pub fn open(opts: EngineOptions) -> EngineHost {
        match Engine::open(opts) {
            Ok((engine, report)) => {
                for w in &report.warnings {
                    eprintln!("dsimaged: restore: {w}");
                }
                EngineHost::with(Ok(Mutex::new(engine)), Some(report))
            }
            Err(e) => {
                let reason = errors::unavailable_reason(&e);
                eprintln!("dsimaged: {reason}; serving without an engine");
                EngineHost::unavailable(reason)
            }
        }
    }

    /// A host without an engine, answering every engine-backed operation with `reason`.
    pub fn unavailable(reason: impl Into<String>) -> EngineHost {
        EngineHost::with(Err(reason.into()), None)
    }

    fn with(engine: Result<Mutex<Engine>, String>, restore: Option<RestoreReport>) -> Self {
        EngineHost {
            engine,
            restore,
            poller: Mutex::new(PollerState {
                interval: DEFAULT_POLL_INTERVAL,
                running: false,
                stop: false,
            }),
            poller_wake: Condvar::new(),
        }
    }

    /// Why there is no engine; `None` when there is one.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.engine.as_ref().err().map(String::as_str)
    }

    /// What restoring the kernel at open did; `None` without an engine.
    pub fn restore_report(&self) -> Option<&RestoreReport> {
        self.restore.as_ref()
    }

    /// Runs `f` with the engine locked; CIM_ERR_FAILED saying why when there is none.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> Result<T, CimError> {
        match &self.engine {
            Ok(m) => Ok(f(&mut lock(m))),
            Err(reason) => Err(errors::unavailable(reason)),
        }
    }

    /// Waits until the set's operation is over or `timeout` passes (`None`: no limit),
    /// advancing it in short steps without holding the lock in between. The inner result
    /// is the set's status when idle, `EngineError::Timeout` when still busy at the
    /// deadline, or the engine's error.
    pub fn wait_idle(
        &self,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Result<SetStatus, EngineError>, CimError> {
        self.wait_steps(&format!("set {name}"), timeout, |e| set_step(e, name))
    }

    /// As [`EngineHost::wait_idle`], until no set of the group has an operation running
    /// (a suspended or aborted copy counts as over, as for one set). The engine's own
    /// `group_wait` holds the engine for the whole wait; this advances every member one
    /// step at a time instead.
    pub fn wait_group_idle(
        &self,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Result<GroupStatus, EngineError>, CimError> {
        self.wait_steps(&format!("group {name}"), timeout, |e| group_step(e, name))
    }

    /// Runs `step` with the engine locked until it returns a value or an error, or
    /// `timeout` passes (`EngineError::Timeout` naming `what`); sleeps without the lock
    /// between steps.
    fn wait_steps<T>(
        &self,
        what: &str,
        timeout: Option<Duration>,
        mut step: impl FnMut(&mut Engine) -> Result<Option<T>, EngineError>,
    ) -> Result<Result<T, EngineError>, CimError> {
        let start = Instant::now();
        loop {
            match self.with_engine(&mut step)? {
                Ok(None) => {}
                Ok(Some(done)) => return Ok(Ok(done)),
                Err(e) => return Ok(Err(e)),
            }
            let mut pause = WAIT_STEP;
            if let Some(t) = timeout {
                let left = t.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Ok(Err(EngineError::Timeout(format!(
                        "{what} is still busy after {} s",
                        t.as_secs()
                    ))));
                }
                pause = pause.min(left);
            }
            std::thread::sleep(pause);
        }
    }

    pub fn poll_interval(&self) -> Duration {
        lock(&self.poller).interval
    }

    /// Changes the poller's interval; a running poller picks it up at once.
    pub fn set_poll_interval(&self, interval: Duration) {
        lock(&self.poller).interval = interval;
        self.poller_wake.notify_all();
    }

    /// Starts the thread that advances long-running operations every `interval`
    /// (`poll()`), logging finished operations and errors. Does nothing without an
    /// engine or when a poller already runs.
    pub fn start_poller(self: &Arc<Self>, interval: Duration) -> Option<JoinHandle<()>> {
        if self.engine.is_err() {
            return None;
        }
        {
            let mut st = lock(&self.poller);
            if st.running {
                return None;
            }
            st.running = true;
            st.stop = false;
            st.interval = interval;
        }
        let host = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("dsimage-poller".into())
            .spawn(move || host.poller_loop());
        match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                eprintln!("dsimaged: cannot start the poller: {e}");
                lock(&self.poller).running = false;
                None
            }
        }
    }

    /// Asks a running poller to stop; it does so within its current sleep.
    pub fn stop_poller(&self) {
        lock(&self.poller).stop = true;
        self.poller_wake.notify_all();
    }

    fn poller_loop(&self) {
        // The same error every interval is logged once, not every 250 ms.
        let mut last_error: Option<String> = None;
        loop {
            {
                let st = lock(&self.poller);
                let interval = st.interval;
                let (st, _) = self
                    .poller_wake
                    .wait_timeout_while(st, interval, |s| !s.stop && s.interval == interval)
                    .unwrap_or_else(PoisonError::into_inner);
                if st.stop {
                    break;
                }
                if st.interval != interval {
                    // A new interval: start a full wait of it.
                    continue;
                }
            }
            match self.with_engine(|e| e.poll()) {
                Ok(Ok(finished)) => {
                    last_error = None;
                    for name in finished {
                        eprintln!("dsimaged: set {name}: operation finished");
                    }
                }
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    if last_error.as_deref() != Some(msg.as_str()) {
                        eprintln!("dsimaged: poll: {msg}");
                        last_error = Some(msg);
                    }
                }
                Err(_) => break,
            }
        }
        let mut st = lock(&self.poller);
        st.running = false;
        st.stop = false;
    }
}

/// One step of a set's operation: its status once idle, `None` while busy. A zero
/// timeout makes the engine's wait one step: advance the set once and report whether it
/// is idle.
fn set_step(e: &mut Engine, name: &str) -> Result<Option<SetStatus>, EngineError> {
    match e.wait(name, Some(Duration::ZERO)) {
        Err(EngineError::Timeout(_)) => Ok(None),
        r => r.map(Some),
    }
}

/// One step of every member of a group: the group's status once no member is busy,
/// `None` while one is. Members are read afresh at each step (one may have left).
fn group_step(e: &mut Engine, name: &str) -> Result<Option<GroupStatus>, EngineError> {
    let mut busy = false;
    for m in e.group_status(name)?.members {
        busy |= set_step(e, &m)?.is_none();
    }
    if busy {
        return Ok(None);
    }
    e.group_status(name).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::CimStatus;

    #[test]
    fn unavailable_host_answers_failed_with_the_reason() {
        let host = EngineHost::unavailable("device-mapper is unavailable on this host: test");
        assert_eq!(
            host.unavailable_reason(),
            Some("device-mapper is unavailable on this host: test")
        );
        assert!(host.restore_report().is_none());
        let e = host.with_engine(|_| ()).unwrap_err();
        assert_eq!(e.status, CimStatus::Failed);
        assert_eq!(
            e.description,
            "device-mapper is unavailable on this host: test"
        );
        let e = host.wait_idle("s", None).unwrap_err();
        assert_eq!(e.status, CimStatus::Failed);
        let e = host.wait_group_idle("g", None).unwrap_err();
        assert_eq!(e.status, CimStatus::Failed);
    }

    #[test]
    fn no_poller_without_an_engine() {
        let host = Arc::new(EngineHost::unavailable("none"));
        assert!(host.start_poller(Duration::from_millis(10)).is_none());
        host.set_poll_interval(Duration::from_secs(7));
        assert_eq!(host.poll_interval(), Duration::from_secs(7));
    }

    #[test]
    fn open_failure_keeps_the_real_reason() {
        // A configuration of an unknown version stops the engine before it touches
        // device-mapper, on any host.
        let dir = std::env::temp_dir().join(format!("dsimage-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"version":99,"generation":1,"volumes":[],"sets":[]}"#,
        )
        .unwrap();
        let host = EngineHost::open(EngineOptions::new(&dir));
        let why = host.unavailable_reason().expect("must be unavailable");
        assert!(why.contains("version 99"), "{why}");
        let e = host.with_engine(|e| e.sets().map(|s| s.len())).unwrap_err();
        assert_eq!(e.status, CimStatus::Failed);
        assert!(e.description.contains("version 99"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn open_without_device_mapper_says_so() {
        // Only meaningful where device-mapper is missing (the build host); elsewhere an
        // engine would really open, which unit tests must not do.
        if std::path::Path::new("/dev/mapper/control").exists() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("dsimage-host-dm-{}", std::process::id()));
        let host = EngineHost::open(EngineOptions::new(&dir));
        let why = host.unavailable_reason().expect("must be unavailable");
        assert!(
            why.starts_with("device-mapper is unavailable on this host: "),
            "{why}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
