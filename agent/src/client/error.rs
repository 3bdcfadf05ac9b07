//! What can go wrong in `iiadm`, the words it prints, and the one mapping to its exit
//! codes (documented in docs/iiadm.md).

use std::fmt;

use crate::cim::{CimError, CimStatus};

/// Exit codes of `iiadm`; scripts can tell refusals apart by them.
pub mod exit {
    pub const OK: u8 = 0;
    /// The agent or the operation failed (device-mapper, I/O, an HTTP or protocol
    /// error), or a code the table does not name.
    pub const FAILURE: u8 = 1;
    /// Bad command line, invalid parameter, or an overwrite of a master that was not
    /// confirmed.
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const ALREADY_EXISTS: u8 = 4;
    /// A volume in use (mounted, open, in another set), unsuitable, or a set that is
    /// in a group (copy the group).
    pub const IN_USE: u8 = 5;
    /// An operation in progress, or the set is not in a state the request applies to.
    pub const BUSY: u8 = 6;
    /// A volume too small (size mismatch) or out of space.
    pub const SIZE: u8 = 7;
    pub const NOT_SUPPORTED: u8 = 8;
    pub const TIMEOUT: u8 = 9;
    /// The agent could not be reached (connection, name resolution, TLS).
    pub const UNREACHABLE: u8 = 10;
    /// The agent refused the user name or password.
    pub const AUTH: u8 = 11;
}

/// An error of one `iiadm` run.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// The command line cannot be carried out as given.
    Usage(String),
    /// Overwriting a master was not confirmed.
    NotConfirmed(String),
    /// An object the command names is not among the agent's.
    NotFound(String),
    /// No connection to the agent at `url`.
    Unreachable { url: String, reason: String },
    /// The agent answered 401 to `user`.
    Auth { url: String, user: String },
    /// The agent answered an HTTP error or something that is not a CIM-XML response.
    Protocol { url: String, reason: String },
    /// The agent answered a CIM error; `context` says what it was about.
    Cim {
        context: Option<String>,
        error: CimError,
    },
    /// A method returned a non-zero code: its name from the MOF's ValueMap, and what
    /// the agent says of the object now (its status text), if anything.
    Returned {
        context: String,
        method: String,
        code: u64,
        name: String,
        detail: Option<String>,
    },
}

impl ClientError {
    /// Names the object a CIM error was about (`set web`), unless already named.
    pub fn about(self, what: impl Into<String>) -> ClientError {
        match self {
            ClientError::Cim {
                context: None,
                error,
            } => ClientError::Cim {
                context: Some(what.into()),
                error,
            },
            other => other,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) | ClientError::NotConfirmed(_) => exit::USAGE,
            ClientError::NotFound(_) => exit::NOT_FOUND,
            ClientError::Unreachable { .. } => exit::UNREACHABLE,
            ClientError::Auth { .. } => exit::AUTH,
            ClientError::Protocol { .. } => exit::FAILURE,
            ClientError::Cim { error, .. } => cim_status_exit(error.status),
            ClientError::Returned { code, .. } => return_code_exit(*code),
        }
    }
}

/// Exit code of a CIM error.
pub fn cim_status_exit(s: CimStatus) -> u8 {
    match s {
        CimStatus::InvalidParameter | CimStatus::TypeMismatch | CimStatus::NoSuchProperty => {
            exit::USAGE
        }
        CimStatus::NotFound => exit::NOT_FOUND,
        CimStatus::AlreadyExists => exit::ALREADY_EXISTS,
        CimStatus::NotSupported | CimStatus::MethodNotAvailable => exit::NOT_SUPPORTED,
        CimStatus::AccessDenied => exit::AUTH,
        _ => exit::FAILURE,
    }
}

/// Exit code of a method's return code (the ValueMap shared by every DS_ method).
pub fn return_code_exit(code: u64) -> u8 {
    match code {
        0 => exit::OK,
        1 => exit::NOT_SUPPORTED,
        3 => exit::TIMEOUT,
        5 => exit::USAGE,
        6 | 10 => exit::IN_USE,
        7 | 13 => exit::BUSY,
        8 => exit::NOT_FOUND,
        9 => exit::ALREADY_EXISTS,
        11 | 12 => exit::SIZE,
        _ => exit::FAILURE,
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Usage(m) | ClientError::NotConfirmed(m) | ClientError::NotFound(m) => {
                f.write_str(m)
            }
            ClientError::Unreachable { url, reason } => {
                write!(f, "cannot reach the agent at {url}: {reason}")
            }
            ClientError::Auth { url, user } => write!(
                f,
                "the agent at {url} refused user {user:?}: check --user/--password \
                 (DSIMAGE_USER/DSIMAGE_PASSWORD) against the agent's users \
                 (dsimaged adduser)"
            ),
            ClientError::Protocol { url, reason } => write!(f, "agent at {url}: {reason}"),
            ClientError::Cim { context, error } => {
                if let Some(c) = context {
                    write!(f, "{c}: ")?;
                }
                write!(f, "{}", error.status.name())?;
                if !error.description.is_empty() {
                    write!(f, ": {}", error.description)?;
                }
                Ok(())
            }
            ClientError::Returned {
                context,
                method,
                code,
                name,
                detail,
            } => {
                write!(f, "{context}: {method} returned {code} {name}")?;
                if let Some(d) = detail {
                    write!(f, " ({d})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_return_code_of_the_mof_has_an_exit_code() {
        let want = [0, 8, 1, 9, 1, 2, 5, 6, 3, 4, 5, 7, 7, 6];
        for (code, exit) in want.iter().enumerate() {
            assert_eq!(return_code_exit(code as u64), *exit, "return code {code}");
        }
        assert_eq!(return_code_exit(40000), exit::FAILURE);
    }

    #[test]
    fn cim_errors_print_their_name_and_map_to_exit_codes() {
        let e = ClientError::Cim {
            context: None,
            error: CimError::new(CimStatus::NotFound, "set x not found"),
        }
        .about("set x");
        assert_eq!(e.to_string(), "set x: CIM_ERR_NOT_FOUND: set x not found");
        assert_eq!(e.exit_code(), exit::NOT_FOUND);
        // A second context does not replace the first.
        assert_eq!(e.clone().about("other"), e);
        let bare = ClientError::Cim {
            context: None,
            error: CimError::new(CimStatus::Failed, ""),
        };
        assert_eq!(bare.to_string(), "CIM_ERR_FAILED");
        assert_eq!(bare.exit_code(), exit::FAILURE);
        for (s, code) in [
            (CimStatus::InvalidParameter, exit::USAGE),
            (CimStatus::AlreadyExists, exit::ALREADY_EXISTS),
            (CimStatus::NotSupported, exit::NOT_SUPPORTED),
            (CimStatus::AccessDenied, exit::AUTH),
        ] {
            assert_eq!(cim_status_exit(s), code, "{s}");
        }
    }

    #[test]
    fn return_codes_print_the_value_map_name() {
        let e = ClientError::Returned {
            context: "set web".into(),
            method: "Update".into(),
            code: 6,
            name: "In Use".into(),
            detail: Some("idle".into()),
        };
        assert_eq!(e.to_string(), "set web: Update returned 6 In Use (idle)");
        assert_eq!(e.exit_code(), exit::IN_USE);
    }
}
