//! TLS for the HTTPS listener: loading the configured certificate and key, or
//! generating a self-signed pair at first start (`<state_dir>/tls/cert.pem` and
//! `key.pem`, the key with mode 0600) so that HTTPS works out of the box; clients
//! then run with `-noverify` (wbemcli) or `--no-verify` (pywbemcli) or trust the
//! generated certificate explicitly.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::config::ListenerConfig;

/// A certificate or key that cannot be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        match e {
            TlsError::Io { source, path } => {
                io::Error::new(source.kind(), format!("{}: {source}", path.display()))
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

/// Where a generated certificate and key live.
pub fn generated_paths(state_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = state_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The rustls server configuration for `cfg`: its certificate and key, or the
/// generated ones (made now if missing).
pub fn server_config(cfg: &ListenerConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert, key) = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => ensure_self_signed(&cfg.state_dir)?,
    };
    load(&cert, &key)
}

/// Makes `<state_dir>/tls/{cert,key}.pem` unless both exist; returns their paths.
pub fn ensure_self_signed(state_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = generated_paths(state_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let dir = cert.parent().expect("joined path has a parent");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| TlsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(h) = hostname() {
        names.push(h);
    }
    let mut params = rcgen::CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "dsimage agent (self-signed)");
    let key_pair = rcgen::KeyPair::generate()?;
    let generated = params.self_signed(&key_pair)?;
    // Key first: a certificate without its key would be taken as complete above.
    write_private(&key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_private(&cert, generated.pem().as_bytes(), 0o644)?;
    eprintln!(
        "dsimaged: http: generated a self-signed TLS certificate {}",
        cert.display()
    );
    Ok((cert, key))
}

/// The host name, when it is a usable DNS name for the certificate.
fn hostname() -> Option<String> {
    let h = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    let ok = !h.is_empty()
        && h != "localhost"
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then(|| h.to_string())
}

/// Writes atomically (temporary + rename) with `mode` from creation on, so the
/// key is never readable by others, not even briefly.
fn write_private(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let io_err = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err)?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err)?;
    f.write_all(data).map_err(io_err)?;
    f.sync_all().map_err(io_err)?;
    fs::rename(&tmp, path).map_err(io_err)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
    }
    Ok(())
}

/// Reads a PEM certificate chain and private key into a server configuration
/// (TLS 1.2 and 1.3, ring provider, no client certificates).
pub fn load(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |p: &Path| {
        fs::read(p).map_err(|source| TlsError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let pem_err = |p: &Path, reason: String| TlsError::Pem {
        path: p.to_path_buf(),
        reason,
    };
    let cert_pem = read(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err(cert, "no CERTIFICATE in file".into()));
    }
    let key_pem = read(key)?;
    let key_der =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| pem_err(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_util::TempDir;

    #[test]
    fn generates_once_with_private_key_mode() {
        let d = TempDir::new("tls");
        let (c, k) = ensure_self_signed(d.path()).unwrap();
        assert_eq!(
            fs::metadata(&k).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let before = fs::read(&c).unwrap();
        let cfg = ListenerConfig::new(d.path());
        server_config(&cfg).unwrap();
        assert_eq!(fs::read(&c).unwrap(), before, "not regenerated");
    }

    #[test]
    fn bad_pem_is_reported_with_its_path() {
        let d = TempDir::new("tls-bad");
        let c = d.path().join("c.pem");
        fs::write(&c, "nothing here").unwrap();
        let e = load(&c, &c).unwrap_err();
        assert!(e.to_string().contains("c.pem"), "{e}");
    }
}
