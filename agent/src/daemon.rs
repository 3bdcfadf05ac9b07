//! `dsimaged serve`: the engine (restored at start) behind the providers, the CIM
//! object manager over the schema, and the CIM-XML listener, until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dmtarget::engine::EngineOptions;
use dsimage_agent::cimom::{schema, Cimom};
use dsimage_agent::http::{self, ListenerConfig};
use dsimage_agent::providers::{self, interop, EngineHost};

/// Listener settings from the command line; a config file is read first.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration of the listener (see docs/http-listener.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HTTP address (default 0.0.0.0:5988); "off" disables HTTP.
    #[arg(long)]
    pub http: Option<String>,
    /// HTTPS address (default 0.0.0.0:5989); "off" disables HTTPS.
    #[arg(long)]
    pub https: Option<String>,
    /// Credentials file (default <state-dir>/users).
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Compile the schema from this directory's MOF files instead of the copy built
    /// into the binary.
    #[arg(long)]
    pub schema_dir: Option<PathBuf>,
    /// Polling interval of running operations, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
}

fn addr(v: &str) -> Result<Option<std::net::SocketAddr>, String> {
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|e| format!("bad address {v:?}: {e}"))
}

pub fn listener_config(
    state_dir: &std::path::Path,
    args: &ServeArgs,
) -> Result<ListenerConfig, String> {
    let mut cfg = match &args.config {
        Some(f) => ListenerConfig::from_file(f, state_dir).map_err(|e| e.to_string())?,
        None => ListenerConfig::new(state_dir),
    };
    if let Some(h) = &args.http {
        cfg.http = addr(h)?;
    }
    if let Some(h) = &args.https {
        cfg.https = addr(h)?;
    }
    if let Some(u) = &args.users {
        cfg.users_file = u.clone();
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

pub fn serve(opts: EngineOptions, args: ServeArgs) -> ExitCode {
    let cfg = match listener_config(&opts.state_dir, &args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dsimaged: {e}");
            return ExitCode::from(2);
        }
    };
    let host = Arc::new(EngineHost::open(opts));
    match host.unavailable_reason() {
        Some(why) => eprintln!("dsimaged: volume operations unavailable: {why}"),
        None => {
            if let Some(r) = host.restore_report() {
                eprintln!(
                    "dsimaged: restored: {} created, {} repaired, {} kept, {} removed, continuing {:?}",
                    r.created.len(),
                    r.repaired.len(),
                    r.kept.len(),
                    r.removed.len(),
                    r.continuing
                );
                for w in &r.warnings {
                    eprintln!("dsimaged: restore: {w}");
                }
            }
        }
    }
    host.start_poller(Duration::from_millis(args.poll_ms));
    let mut list = providers::all(host.clone());
    list.push(Arc::new(interop::InteropProvider::new(
        interop::system_hostname(),
        env!("CARGO_PKG_VERSION"),
    )));
    let repo = match args
        .schema_dir
        .as_deref()
        .map_or_else(schema::builtin, schema::from_dir)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dsimaged: schema: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cimom = match Cimom::new(repo, list) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("dsimaged: object manager: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handle = match http::spawn(cfg, cimom) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("dsimaged: listener: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "dsimaged: listening on http {} https {}",
        handle.http_addr().map_or("off".into(), |a| a.to_string()),
        handle.https_addr().map_or("off".into(), |a| a.to_string())
    );
    wait_for_signal();
    eprintln!("dsimaged: shutting down");
    let _ = handle.shutdown();
    ExitCode::SUCCESS
}

/// Blocks until SIGTERM or SIGINT.
fn wait_for_signal() {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    if set.thread_block().is_ok() {
        let _ = set.wait();
    } else {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// `dsimaged adduser NAME`: adds or updates a user of the listener.
pub fn adduser(state_dir: &std::path::Path, users: Option<PathBuf>, name: &str) -> ExitCode {
    let file = users.unwrap_or_else(|| ListenerConfig::new(state_dir).users_file);
    let pw = match http::auth::read_password("Password: ") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dsimaged: reading the password: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(state_dir) {
        eprintln!("dsimaged: creating {}: {e}", state_dir.display());
        return ExitCode::FAILURE;
    }
    match http::auth::add_user(&file, name, &pw) {
        Ok(()) => {
            eprintln!("dsimaged: user {name} saved in {}", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dsimaged: {e}");
            ExitCode::from(2)
        }
    }
}
