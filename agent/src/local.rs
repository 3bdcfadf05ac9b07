//! Local engine commands: open the engine in this process (which restores the kernel
//! state from the configuration), run one operation, print JSON. Until the CIM listener
//! lands these are how tests and administrators drive the engine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use dmtarget::engine::{
    CopyParams, Direction, Engine, EngineError, EngineOptions, SetKind, SetSpec,
};
use dmtarget::units::Sectors;
use serde::Serialize;

#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Restore and print what restore did.
    Restore,
    /// List block devices with their roles and suitability.
    Volumes,
    /// Put a raw volume under control (creates its top device).
    Control { path: PathBuf },
    /// Release a volume from control.
    Release { path: PathBuf },
    /// Enable a volume set.
    Enable {
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "type", default_value = "dependent")]
        kind: SetKind,
        #[arg(long)]
        master: PathBuf,
        #[arg(long)]
        shadow: PathBuf,
        #[arg(long)]
        bitmap: PathBuf,
        #[arg(long)]
        overflow: Option<PathBuf>,
        /// Chunk size in KiB (power of two, 4..=512).
        #[arg(long)]
        chunk_kib: Option<u64>,
    },
    /// Disable a volume set.
    Disable { name: String },
    /// Full copy in a direction (to_shadow | to_master).
    Copy { name: String, direction: Direction },
    /// Update (changed chunks only) in a direction (to_shadow | to_master).
    Update { name: String, direction: Direction },
    /// Suspend the running copy of an independent set (resume continues it).
    Suspend { name: String },
    /// Resume a suspended copy.
    Resume { name: String },
    /// Abort the copy of an independent set: its target stays dependent on its source
    /// until a new copy or update in the same direction.
    Abort { name: String },
    /// Throttle the copies of an independent set: `--units` chunks per batch, then
    /// `--delay-ms` of pause after each batch; `--clear` removes the throttle.
    CopyParams {
        name: String,
        #[command(flatten)]
        throttle: Throttle,
    },
    /// Status of one set, or of all sets.
    Status { name: Option<String> },
    /// Wait until a set's operation is over.
    Wait {
        name: String,
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
    /// Groups of sets copied and updated at one point in time.
    #[command(subcommand)]
    Group(GroupCommand),
}

/// Exit codes by error kind, so scripts can tell refusals apart.
fn exit_code(e: &EngineError) -> u8 {
    match e {
        EngineError::InvalidArgument(_) => 2,
        EngineError::NotFound { .. } => 3,
        EngineError::AlreadyExists { .. } => 4,
        EngineError::Conflict(_) | EngineError::InvalidState(_) => 5,
        EngineError::Busy(_) => 6,
        EngineError::TooSmall { .. } => 7,
        EngineError::NotSupported(_) => 8,
        EngineError::Timeout(_) => 9,
        _ => 1,
    }
}

fn print<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("dsimaged: cannot print result: {e}"),
    }
}

fn fail(e: EngineError) -> ExitCode {
    eprintln!("dsimaged: {e}");
    ExitCode::from(exit_code(&e))
}

/// `--units U [--delay-ms D]` or `--clear`: the throttle of copies.
#[derive(clap::Args, Debug)]
pub struct Throttle {
    /// Chunks the kernel copies per batch.
    #[arg(long, required_unless_present = "clear")]
    units: Option<u64>,
    /// Pause after each batch, in milliseconds (at most 60000).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Remove the throttle: copies go at full speed.
    #[arg(long, conflicts_with = "units")]
    clear: bool,
}

impl Throttle {
    /// The copy parameters to set; `None` clears them.
    fn params(&self) -> Option<CopyParams> {
        self.units.map(|units| CopyParams {
            units,
            delay_ms: self.delay_ms,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create an empty group.
    Create { name: String },
    /// Delete a group (its sets stay, ungrouped).
    Delete { name: String },
    /// Add an idle set to a group (sets of one kind per group).
    Add { group: String, set: String },
    /// Take an idle set out of a group.
    Remove { group: String, set: String },
    /// Full copy of every set of the group at one point in time.
    Copy { name: String, direction: Direction },
    /// Update of every set of the group at one point in time.
    Update { name: String, direction: Direction },
    /// Suspend the copies of the group's sets.
    Suspend { name: String },
    /// Resume the suspended copies of the group's sets.
    Resume { name: String },
    /// Abort the copies of the group's sets.
    Abort { name: String },
    /// Throttle the copies of every set of the group (as `copy-params` for one set).
    CopyParams {
        name: String,
        #[command(flatten)]
        throttle: Throttle,
    },
    /// Status of one group, or of all groups.
    Status { name: Option<String> },
    /// Wait until no set of the group has an operation running.
    Wait {
        name: String,
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
}

fn run_group(engine: &mut Engine, cmd: GroupCommand) -> Result<(), EngineError> {
    match cmd {
        GroupCommand::Create { name } => print(&engine.group_create(&name)?),
        GroupCommand::Delete { name } => {
            engine.group_delete(&name)?;
            print(&"deleted");
        }
        GroupCommand::Add { group, set } => print(&engine.group_add(&group, &set)?.into_inner()),
        GroupCommand::Remove { group, set } => print(&engine.group_remove(&group, &set)?),
        GroupCommand::Copy { name, direction } => print(&engine.group_copy(&name, direction)?),
        GroupCommand::Update { name, direction } => print(&engine.group_update(&name, direction)?),
        GroupCommand::Suspend { name } => print(&engine.group_suspend(&name)?),
        GroupCommand::Resume { name } => print(&engine.group_resume(&name)?),
        GroupCommand::Abort { name } => print(&engine.group_abort(&name)?),
        GroupCommand::CopyParams { name, throttle } => {
            print(&engine.group_copy_params(&name, throttle.params())?)
        }
        GroupCommand::Status { name: Some(n) } => print(&engine.group_status(&n)?),
        GroupCommand::Status { name: None } => print(&engine.groups()?),
        GroupCommand::Wait { name, timeout_ms } => {
            print(&engine.group_wait(&name, timeout_ms.map(Duration::from_millis))?)
        }
    }
    Ok(())
}

pub fn run(opts: EngineOptions, cmd: LocalCommand) -> ExitCode {
    let (mut engine, report) = match Engine::open(opts) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    for w in &report.warnings {
        eprintln!("dsimaged: restore: {w}");
    }
    let r = (|| -> Result<(), EngineError> {
        match cmd {
            LocalCommand::Restore => print(&report),
            LocalCommand::Volumes => print(&engine.volumes()?),
            LocalCommand::Control { path } => print(&engine.control(&path)?.into_inner()),
            LocalCommand::Release { path } => {
                engine.release(&path)?;
                print(&"released");
            }
            LocalCommand::Enable {
                name,
                kind,
                master,
                shadow,
                bitmap,
                overflow,
                chunk_kib,
            } => {
                let chunk = match chunk_kib {
                    Some(k) => Some(Sectors(k.checked_mul(2).ok_or_else(|| {
                        EngineError::InvalidArgument(format!("chunk size {k} KiB is too large"))
                    })?)),
                    None => None,
                };
                print(&engine.enable(SetSpec {
                    name,
                    kind,
                    master,
                    shadow,
                    bitmap,
                    overflow,
                    chunk,
                })?)
            }
            LocalCommand::Disable { name } => {
                engine.disable(&name)?;
                print(&"disabled");
            }
            LocalCommand::Copy { name, direction } => print(&engine.copy(&name, direction)?),
            LocalCommand::Update { name, direction } => print(&engine.update(&name, direction)?),
            LocalCommand::Suspend { name } => print(&engine.suspend_copy(&name)?.into_inner()),
            LocalCommand::Resume { name } => print(&engine.resume_copy(&name)?.into_inner()),
            LocalCommand::Abort { name } => print(&engine.abort_copy(&name)?.into_inner()),
            LocalCommand::CopyParams { name, throttle } => {
                print(&engine.set_copy_params(&name, throttle.params())?)
            }
            LocalCommand::Status { name: Some(n) } => print(&engine.status(&n)?),
            LocalCommand::Status { name: None } => print(&engine.sets()?),
            LocalCommand::Wait { name, timeout_ms } => {
                print(&engine.wait(&name, timeout_ms.map(Duration::from_millis))?)
            }
            LocalCommand::Group(cmd) => run_group(&mut engine, cmd)?,
        }
        Ok(())
    })();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
