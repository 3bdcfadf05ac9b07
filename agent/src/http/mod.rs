//! The CIM-XML over HTTP(S) listener (DSP0200): what turns HTTP requests from WBEM
//! clients (pywbem/pywbemcli, sblim wbemcli, ...) into [`Request`]s for the object
//! manager and its [`Response`]s back into HTTP.
//!
//! - [`config`]: addresses, TLS files, limits, timeouts and the TOML file;
//! - [`auth`]: the credentials file, password hashing, HTTP Basic;
//! - [`headers`]: the CIM extension headers and the HTTP-level request rules;
//! - [`tls`]: certificate loading and self-signed generation;
//! - [`server`]: the hyper-based listener ([`serve`], [`spawn`]).

pub mod auth;
pub mod config;
pub mod headers;
pub mod server;
pub mod tls;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

pub use config::{ConfigError, ListenerConfig};
pub use server::{serve, spawn, Listener, ListenerHandle};

use crate::cim::{Request, Response};

/// What the listener hands a well-formed, authenticated request to (the CIM object
/// manager). Called on a blocking thread; may take long (a Wait method).
pub trait Dispatcher: Send + Sync + 'static {
    fn dispatch(&self, request: Request, user: &str) -> Response;
}
