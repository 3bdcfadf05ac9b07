//! `iiadm`, the administrator's command line: the commands of Sun's iiadm (and its
//! classic short options) carried out over CIM-XML against a `dsimaged serve` agent,
//! local or remote, exactly as any WBEM client would.
//!
//! - [`cli`]: the command line, subcommands and classic options into one [`cli::Command`];
//! - [`commands`]: each command as CIM operations, the confirmation rule applied;
//! - [`ops`]: GetInstance, EnumerateInstances, InvokeMethod as typed requests and
//!   responses of the agent's codec (`crate::cim`), over an [`ops::Exchange`];
//! - [`http`] (with [`tls`]): that exchange over HTTP(S), Basic authentication;
//! - [`confirm`]: asking before a master is overwritten;
//! - [`render`]: human output and `--json`;
//! - [`paths`], [`valuemap`]: the objects addressed, names of coded values from the MOF;
//! - [`error`]: errors and exit codes.

pub mod cli;
pub mod commands;
pub mod confirm;
pub mod error;
pub mod http;
pub mod ops;
pub mod paths;
pub mod render;
pub mod tls;
pub mod valuemap;

#[cfg(test)]
mod tests;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, ConnectionArgs};
use commands::Session;
use confirm::StdTerminal;
use error::ClientError;
use http::{Credentials, Endpoint, HttpClient};
use ops::Ops;
use tls::Trust;

/// The user and password, from the options or the environment; without them, an
/// error that says how to give them (nothing is prompted).
pub fn credentials(c: &ConnectionArgs) -> Result<Credentials, ClientError> {
    let how = "give --user NAME and --password PASSWORD, or set DSIMAGE_USER and \
               DSIMAGE_PASSWORD (a user of the agent: `dsimaged adduser NAME` on its host)";
    match (&c.user, &c.password) {
        (Some(user), Some(password)) if !user.is_empty() => Ok(Credentials {
            user: user.clone(),
            password: password.clone(),
        }),
        (None, _) | (Some(_), Some(_)) => Err(ClientError::Usage(format!(
            "no user name for the agent at {}: {how}",
            c.url
        ))),
        (Some(user), None) => Err(ClientError::Usage(format!(
            "no password for user {user:?}: {how}"
        ))),
    }
}

/// How the agent's certificate is checked.
pub fn trust(c: &ConnectionArgs) -> Trust {
    match (&c.ca_file, c.insecure) {
        (_, true) => Trust::Insecure,
        (Some(f), false) => Trust::CaFile(f.clone()),
        (None, false) => Trust::System,
    }
}

fn run(cli: &Cli) -> Result<(), ClientError> {
    let command = cli.resolve()?;
    let endpoint = Endpoint::parse(&cli.connection.url).map_err(ClientError::Usage)?;
    let credentials = credentials(&cli.connection)?;
    let client = HttpClient::new(endpoint, credentials, &trust(&cli.connection))?;
    let ops = Ops::new(client);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    Session {
        ops: &ops,
        out: &mut out,
        terminal: &mut StdTerminal,
        json: cli.json,
        yes: cli.yes,
    }
    .run(&command)
}

/// `iiadm`'s main: parse, run, print the error and exit with its code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iiadm: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
