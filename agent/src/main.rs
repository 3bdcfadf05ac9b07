//! `dsimaged`: the dsimage agent daemon, and local engine commands for administrators
//! and tests on the same host.

mod daemon;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "dsimaged",
    version,
    about = "dsimage agent: point-in-time volume copies"
)]
struct Cli {
    /// State directory (configuration and lock); must survive reboots.
    #[arg(long, env = "DSIMAGE_STATE_DIR", default_value = "/var/lib/dsimage")]
    state_dir: PathBuf,
    /// Prefix of every device-mapper device the agent makes.
    #[arg(long, env = "DSIMAGE_DM_PREFIX", default_value = "dsimage")]
    prefix: String,
    /// Largest scratch area of one independent copy, in MiB (default: as large as the
    /// source, which cannot fill). A copy that needs more fails cleanly.
    #[arg(long, env = "DSIMAGE_SCRATCH_MAX_MIB")]
    scratch_max_mib: Option<u64>,
    /// A block device for the scratch areas of independent copies, instead of sparse
    /// files in the state directory: one copy at a time, half of the device each.
    #[arg(long, env = "DSIMAGE_SCRATCH_DEVICE")]
    scratch_device: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent: restore every set, serve CIM-XML over HTTP(S), keep long-running
    /// operations going, until SIGTERM or SIGINT.
    Serve(daemon::ServeArgs),
    /// Add or update a user of the CIM-XML listener; the password is read from the
    /// terminal (without echo) or from one line of standard input.
    Adduser {
        name: String,
        /// Credentials file (default <state-dir>/users).
        #[arg(long)]
        users: Option<PathBuf>,
    },
    /// Run one engine command locally and print the result as JSON.
    #[command(flatten)]
    Local(local::LocalCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = dmtarget::engine::EngineOptions {
        state_dir: cli.state_dir,
        prefix: cli.prefix,
        scratch_max: cli
            .scratch_max_mib
            .map(|m| dmtarget::units::Bytes(m.saturating_mul(1 << 20))),
        scratch_device: cli.scratch_device,
    };
    match cli.cmd {
        Command::Serve(args) => daemon::serve(opts, args),
        Command::Adduser { name, users } => daemon::adduser(&opts.state_dir, users, &name),
        Command::Local(cmd) => local::run(opts, cmd),
    }
}
