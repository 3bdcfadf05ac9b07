//! `dsimaged`: the dsimage agent daemon, and local engine commands for administrators
//! and tests on the same host.

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
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent: restore every set, then keep long-running operations going.
    Serve {
        /// Polling interval for running operations, in milliseconds.
        #[arg(long, default_value_t = 250)]
        poll_ms: u64,
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
    };
    match cli.cmd {
        Command::Serve { poll_ms } => local::serve(opts, poll_ms),
        Command::Local(cmd) => local::run(opts, cmd),
    }
}
