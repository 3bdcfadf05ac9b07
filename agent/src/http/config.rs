//! Listener configuration: which addresses to listen on, TLS material, the
//! credentials file, request limits and timeouts, and the TOML file they can
//! be read from.
//!
//! Every key of the file is optional; a missing key keeps its default:
//!
//! ```toml
//! http = "0.0.0.0:5988"        # "off" disables plain HTTP
//! https = "0.0.0.0:5989"       # "off" disables HTTPS
//! tls_cert = "cert.pem"        # both or neither; neither = self-signed in <state_dir>/tls
//! tls_key = "key.pem"
//! state_dir = "/var/lib/dsimage"
//! users_file = "users"         # default <state_dir>/users
//! max_connections = 64
//! read_timeout_secs = 30
//!
//! [limits]
//! max_request_bytes = 16777216 # larger bodies get 413
//! max_depth = 64
//! max_value_bytes = 4194304
//! max_attributes = 16
//! ```
//!
//! Relative paths are taken relative to the directory of the configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cim::Limits;

/// WBEM's registered CIM-XML over HTTP port.
pub const DEFAULT_HTTP: &str = "0.0.0.0:5988";
/// WBEM's registered CIM-XML over HTTPS port.
pub const DEFAULT_HTTPS: &str = "0.0.0.0:5989";
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Name of the credentials file inside the state directory.
pub const USERS_FILE_NAME: &str = "users";

/// Everything the listener needs to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    /// Plain HTTP address; `None` disables it.
    pub http: Option<SocketAddr>,
    /// HTTPS address; `None` disables it.
    pub https: Option<SocketAddr>,
    /// PEM certificate chain; with `tls_key`. When both are `None`, a self-signed
    /// certificate is generated at first start in `<state_dir>/tls/`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Where generated TLS material lives (`<state_dir>/tls/cert.pem`, `key.pem`).
    pub state_dir: PathBuf,
    /// The credentials file (see [`crate::http::auth`]).
    pub users_file: PathBuf,
    /// CIM-XML parser limits; `limits.max_total` is also the largest request body.
    pub limits: Limits,
    /// Connections served at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Bound on receiving a request's headers and, separately, its body; also how
    /// long an idle keep-alive connection is kept.
    pub read_timeout: Duration,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid address {value:?} for {key} (expected host:port or \"off\")")]
    Address { key: &'static str, value: String },
    #[error("{0}")]
    Invalid(String),
}

impl ListenerConfig {
    /// The defaults, with the state directory given (the daemon's `--state-dir`).
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        let state_dir = state_dir.into();
        ListenerConfig {
            http: Some(DEFAULT_HTTP.parse().expect("valid default address")),
            https: Some(DEFAULT_HTTPS.parse().expect("valid default address")),
            tls_cert: None,
            tls_key: None,
            users_file: state_dir.join(USERS_FILE_NAME),
            state_dir,
            limits: Limits::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// Reads a TOML configuration file over the defaults of [`ListenerConfig::new`].
    pub fn from_file(path: &Path, state_dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_in(&text, state_dir.into(), base).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Like [`ListenerConfig::from_file`] for text already read; relative paths
    /// are taken relative to the current directory.
    pub fn from_toml(text: &str, state_dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_toml_in(text, state_dir.into(), Path::new("."))
    }

    fn from_toml_in(text: &str, state_dir: PathBuf, base: &Path) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: PathBuf::from("<config>"),
            source,
        })?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let state_dir = file.state_dir.map(resolve).unwrap_or(state_dir);
        let mut cfg = ListenerConfig::new(state_dir);
        if let Some(v) = file.http {
            cfg.http = address("http", &v)?;
        }
        if let Some(v) = file.https {
            cfg.https = address("https", &v)?;
        }
        cfg.tls_cert = file.tls_cert.map(resolve);
        cfg.tls_key = file.tls_key.map(resolve);
        if let Some(p) = file.users_file {
            cfg.users_file = resolve(p);
        }
        if let Some(n) = file.max_connections {
            cfg.max_connections = n;
        }
        if let Some(s) = file.read_timeout_secs {
            cfg.read_timeout = Duration::from_secs(s);
        }
        if let Some(l) = file.limits {
            let d = cfg.limits;
            cfg.limits = Limits {
                max_total: l.max_request_bytes.unwrap_or(d.max_total),
                max_depth: l.max_depth.unwrap_or(d.max_depth),
                max_value: l.max_value_bytes.unwrap_or(d.max_value),
                max_attributes: l.max_attributes.unwrap_or(d.max_attributes),
            };
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the combinations a file cannot express wrongly by type alone.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.http.is_none() && self.https.is_none() {
            return bad("both http and https are off: nothing to listen on");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key must be given together");
        }
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1");
        }
        if self.read_timeout.is_zero() {
            return bad("read_timeout_secs must be at least 1");
        }
        if self.limits.max_total == 0 || self.limits.max_depth == 0 {
            return bad("limits must be positive");
        }
        Ok(())
    }
}

fn address(key: &'static str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| ConfigError::Address {
        key,
        value: value.to_string(),
    })
}

/// The file's shape; unknown keys are errors so that a typo is not silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    http: Option<String>,
    https: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    users_file: Option<PathBuf>,
    max_connections: Option<usize>,
    read_timeout_secs: Option<u64>,
    limits: Option<FileLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_request_bytes: Option<usize>,
    max_depth: Option<usize>,
    max_value_bytes: Option<usize>,
    max_attributes: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_wbem_ports() {
        let c = ListenerConfig::new("/s");
        assert_eq!(c.http.unwrap().port(), 5988);
        assert_eq!(c.https.unwrap().port(), 5989);
        assert_eq!(c.users_file, Path::new("/s/users"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn file_overrides_and_resolves_relative_paths() {
        let c = ListenerConfig::from_toml_in(
            r#"
            http = "off"
            https = "127.0.0.1:15989"
            tls_cert = "c.pem"
            tls_key = "/abs/k.pem"
            state_dir = "state"
            max_connections = 3
            read_timeout_secs = 7
            [limits]
            max_request_bytes = 1000
            "#,
            PathBuf::from("/ignored"),
            Path::new("/etc/dsimage"),
        )
        .unwrap();
        assert_eq!(c.http, None);
        assert_eq!(c.https.unwrap().port(), 15989);
        assert_eq!(c.tls_cert.as_deref(), Some(Path::new("/etc/dsimage/c.pem")));
        assert_eq!(c.tls_key.as_deref(), Some(Path::new("/abs/k.pem")));
        assert_eq!(c.state_dir, Path::new("/etc/dsimage/state"));
        assert_eq!(c.users_file, Path::new("/etc/dsimage/state/users"));
        assert_eq!(c.max_connections, 3);
        assert_eq!(c.read_timeout, Duration::from_secs(7));
        assert_eq!(c.limits.max_total, 1000);
        assert_eq!(c.limits.max_depth, Limits::default().max_depth);
    }

    #[test]
    fn rejects_typos_bad_addresses_and_half_tls() {
        assert!(matches!(
            ListenerConfig::from_toml("htp = \"x\"", "/s"),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            ListenerConfig::from_toml("http = \"nowhere\"", "/s"),
            Err(ConfigError::Address { key: "http", .. })
        ));
        assert!(matches!(
            ListenerConfig::from_toml("tls_cert = \"c\"", "/s"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            ListenerConfig::from_toml("http = \"off\"\nhttps = \"off\"", "/s"),
            Err(ConfigError::Invalid(_))
        ));
    }
}
