//! The volume-set engine: the one API the agent and the command line call.
//!
//! The engine owns the persisted configuration ([`config`]) and turns it into
//! device-mapper tables. The data path is the kernel's; the engine only builds tables,
//! reads on-disk metadata and decides. Every mutation is validated first, applied in a
//! [`crate::dm::Txn`] that rolls back on failure, and persisted atomically.
//!
//! - [`config`]: what is persisted.
//! - `tables`: the table of every device, from the configuration.
//! - `validate`: the constraints on sets and volumes.
//! - `dependent`: dependent sets (dm-snapshot): enable, update, merge, disable.
//! - `independent`: independent sets (snapshot + mirror copy in the kernel).
//! - `copyctl`: suspend, resume, abort and throttling of independent copies.
//! - `tracking`: change tracking of independent sets at rest (dm-era).
//! - `restore`: bringing the kernel back to the configuration at start.
//! - `status`: what a user sees of a set.

mod bitmapvol;
pub mod config;
mod copyctl;
mod dependent;
mod error;
mod fault;
mod group;
mod independent;
pub mod names;
mod restore;
mod scratch;
mod status;
mod tables;
mod tracking;
mod validate;
mod volumes;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};

pub use config::{CopyControl, CopyParams, Direction, SetKind, SetOp};
pub use copyctl::MAX_COPY_DELAY_MS;
pub use error::{EngineError, Result};
pub use group::GroupStatus;
pub use restore::RestoreReport;
pub use status::{SetState, SetStatus};
pub use volumes::{VolumeInfo, VolumeRole};

use crate::dm::DmControl;
use crate::units::Sectors;
use config::{Config, ConfigStore};

/// Default chunk size: 32 KiB, as in the original product.
pub const DEFAULT_CHUNK: Sectors = Sectors(64);
/// Longest set name accepted.
pub const MAX_NAME_BYTES: usize = 64;

/// How an engine is set up.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Holds `config.json` and the lock; must survive reboots.
    pub state_dir: PathBuf,
    /// Prefix of every device-mapper name the engine makes.
    pub prefix: String,
    /// Largest scratch area of one copy (`None`: as large as the source plus metadata,
    /// which cannot fill). A copy whose source (or target) takes more writes than this
    /// during the copy fails cleanly.
    pub scratch_max: Option<crate::units::Bytes>,
    /// A block device for the scratch areas of copies instead of sparse files in the
    /// state directory: one copy at a time uses it, each point-in-time generation one
    /// half of it ([`scratch`]).
    pub scratch_device: Option<PathBuf>,
}

impl EngineOptions {
    pub fn new(state_dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            state_dir: state_dir.into(),
            prefix: "dsimage".into(),
            scratch_max: None,
            scratch_device: None,
        }
    }
}

/// What a client asks for when it enables a set.
#[derive(Clone, Debug)]
pub struct SetSpec {
    pub name: Option<String>,
    pub kind: SetKind,
    pub master: PathBuf,
    pub shadow: PathBuf,
    pub bitmap: PathBuf,
    pub overflow: Option<PathBuf>,
    pub chunk: Option<Sectors>,
}

/// Whether a request changed anything (repeating a request is visibly idempotent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Nothing to do: it was already so.
    Identity(T),
    /// The request made the change.
    Changed(T),
}

impl<T> Outcome<T> {
    pub fn into_inner(self) -> T {
        match self {
            Outcome::Identity(t) | Outcome::Changed(t) => t,
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Engine {
    opts: EngineOptions,
    store: ConfigStore,
    cfg: Config,
    dm: DmControl,
    /// Throttled copies: when the kernel finished the last batch (not persisted: after a
    /// restart the next batch waits one delay).
    batch_done: HashMap<String, Instant>,
    _lock: Flock<File>,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Engine {
    /// Opens the engine: takes the state directory's lock (one engine per state
    /// directory), loads the configuration and restores every volume and set in the
    /// kernel from it and from on-disk metadata.
    pub fn open(opts: EngineOptions) -> Result<(Engine, RestoreReport)> {
        std::fs::create_dir_all(&opts.state_dir)
            .map_err(|e| EngineError::io(format!("creating {}", opts.state_dir.display()), e))?;
        let lock_path = opts.state_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| EngineError::io(format!("opening {}", lock_path.display()), e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            EngineError::Busy(format!(
                "another engine owns {} ({e})",
                opts.state_dir.display()
            ))
        })?;
        let store = ConfigStore::new(&opts.state_dir);
        let cfg = store
            .load()
            .map_err(|e| EngineError::io("loading the configuration", e))?;
        let dm = DmControl::open()?;
        let mut engine = Engine {
            opts,
            store,
            cfg,
            dm,
            batch_done: HashMap::new(),
            _lock: lock,
        };
        fault::trace("open.loaded");
        let report = engine.restore()?;
        fault::trace("open.restored");
        Ok((engine, report))
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn dm(&self) -> &DmControl {
        &self.dm
    }

    /// Saves a new configuration; on failure the in-memory one is left unchanged.
    fn persist(&mut self, next: Config) -> Result<()> {
        dependent::save_config(&self.store, &mut self.cfg, next)
    }

    fn set_record(&self, name: &str) -> Result<&config::SetRecord> {
        self.cfg.set(name).ok_or_else(|| EngineError::NotFound {
            what: "set",
            name: name.to_string(),
        })
    }

    /// Path of the device applications use for a raw volume under control.
    pub fn top_path(&self, raw: &Path) -> Option<PathBuf> {
        self.cfg.volume(raw).map(|v| DmControl::node_path(&v.top))
    }

    /// Advances long-running operations (merges); call it periodically. Returns the
    /// names of sets whose operation finished. Every busy set is advanced even when
    /// another fails; the failures come back together as one error.
    pub fn poll(&mut self) -> Result<Vec<String>> {
        let mut finished = Vec::new();
        let mut failures = Vec::new();
        let names: Vec<String> = self
            .cfg
            .sets
            .iter()
            .filter(|s| s.op != SetOp::Idle)
            .map(|s| s.name.clone())
            .collect();
        for name in names {
            match self.advance(&name) {
                Ok(true) => finished.push(name),
                Ok(false) => {}
                Err(e) => failures.push(format!("set {name}: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(finished)
        } else {
            Err(EngineError::Failed(failures.join("; ")))
        }
    }

    /// Blocks until the set's operation is over or stopped (suspended, aborted), or
    /// `timeout` passes.
    pub fn wait(&mut self, name: &str, timeout: Option<Duration>) -> Result<SetStatus> {
        let start = Instant::now();
        loop {
            self.set_record(name)?;
            self.advance(name)?;
            match self.set_record(name)?.op {
                SetOp::Idle => return self.status(name),
                // A stopped copy goes nowhere until someone resumes or replaces it.
                SetOp::Copying { control, .. } if control != CopyControl::Run => {
                    return self.status(name)
                }
                _ => {}
            }
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    return Err(EngineError::Timeout(format!(
                        "set {name} is still busy after {} ms",
                        t.as_millis()
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One step of a set's long-running operation; true when it just finished.
    pub fn advance(&mut self, name: &str) -> Result<bool> {
        let rec = self.set_record(name)?.clone();
        match rec.kind {
            SetKind::Dependent => self.dependent_advance(&rec),
            SetKind::Independent => self.independent_advance(&rec),
        }
    }
}

/// 16 random bytes as hex, for set identities.
pub(crate) fn new_uuid() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}
