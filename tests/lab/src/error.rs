//! The lab's error type.

use std::io;
use std::path::Path;

/// Everything that can go wrong in the lab, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0} (run scripts/deps)")]
    Setup(String),
    #[error("invalid lab config: {0}")]
    Config(String),
    #[error("VM {name}: {reason}\n--- tail of {console} ---\n{tail}")]
    Boot {
        name: String,
        reason: String,
        console: String,
        tail: String,
    },
    #[error("guest command failed with status {status}: {cmd}\n--- stderr ---\n{stderr}")]
    Command {
        cmd: String,
        status: i32,
        stdout: String,
        stderr: String,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attaches "what were we doing" to io errors.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what(),
            source,
        })
    }
}

pub(crate) fn io_ctx(verb: &str, path: &Path) -> impl FnOnce() -> String {
    let s = format!("{verb} {}", path.display());
    move || s
}
