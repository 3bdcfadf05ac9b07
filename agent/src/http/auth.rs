//! Who may use the listener: the credentials file, password hashing, and HTTP
//! Basic credentials.
//!
//! # Credentials file
//!
//! A text file, one user a line, `#` comments and blank lines ignored:
//!
//! ```text
//! # name:$scheme$params$salt$hash
//! admin:$pbkdf2-sha256$i=600000$q4Ky0UJY2fd7C0bzIhqfWg$0vQ3...Qk
//! ```
//!
//! - `name`: 1 to 64 bytes of UTF-8, no `:`, whitespace or control characters
//!   (HTTP Basic cannot carry a `:` in the user name);
//! - the rest is a PHC-style string: scheme `pbkdf2-sha256` (PBKDF2-HMAC-SHA256),
//!   `i=` the iteration count, then the salt (16 bytes) and the derived key
//!   (32 bytes), both in unpadded standard base64.
//!
//! The file holds no password; it is still written with mode 0600 because the hashes
//! allow offline guessing. [`add_user`] creates or updates an entry atomically
//! (temporary file, fsync, rename). The listener rereads the file when it changes,
//! so `dsimaged adduser` takes effect without a restart.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hmac, pbkdf2};

/// The only hashing scheme written and understood.
pub const SCHEME: &str = "pbkdf2-sha256";
/// Iterations for new entries (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). A
/// successful login is cached in memory, so the cost is paid once per user and
/// password, not per request.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
pub const MAX_USER_LEN: usize = 64;
pub const MAX_PASSWORD_LEN: usize = 1024;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// Iteration counts above this are refused when read: a forged file must not be able
/// to make one login burn minutes of CPU.
const MAX_ITERATIONS: u32 = 100_000_000;

/// A credentials file that cannot be read or written, or an unacceptable entry.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid user name {0:?}: 1 to 64 bytes, no ':', whitespace or control characters")]
    InvalidUser(String),
    #[error("invalid password: {0}")]
    InvalidPassword(&'static str),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `name` can be stored and sent in HTTP Basic.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && !name.starts_with('#')
        && !name
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

fn check_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::InvalidPassword("empty"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::InvalidPassword("longer than 1024 bytes"));
    }
    Ok(())
}

/// A parsed `$pbkdf2-sha256$i=N$salt$hash` string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    fn new(password: &str, iterations: NonZeroU32) -> PasswordHash {
        let mut salt = vec![0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .expect("the system random number generator works");
        let mut hash = vec![0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        PasswordHash {
            iterations,
            salt,
            hash,
        }
    }

    fn parse(s: &str) -> Result<PasswordHash, String> {
        let mut parts = s.split('$');
        if parts.next() != Some("") {
            return Err("hash must start with '$'".into());
        }
        let scheme = parts.next().unwrap_or_default();
        if scheme != SCHEME {
            return Err(format!("unknown scheme {scheme:?} (only {SCHEME})"));
        }
        let iterations = parts
            .next()
            .and_then(|p| p.strip_prefix("i="))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n <= MAX_ITERATIONS)
            .and_then(NonZeroU32::new)
            .ok_or("bad or missing i=<iterations>")?;
        let salt = parts
            .next()
            .and_then(|b| STANDARD_NO_PAD.decode(b).ok())
            .filter(|s| !s.is_empty() && s.len() <= 64)
            .ok_or("bad salt")?;
        let hash = parts
            .next()
            .and_then(|b| STANDARD_NO_PAD.decode(b).ok())
            .filter(|h| h.len() == HASH_LEN)
            .ok_or("bad hash")?;
        if parts.next().is_some() {
            return Err("trailing fields".into());
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    fn encode(&self) -> String {
        format!(
            "${SCHEME}$i={}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }

    /// Constant-time in the password (ring compares the derived keys so).
    fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

/// Hashes a password for the credentials file with [`DEFAULT_ITERATIONS`].
pub fn hash_password(password: &str) -> String {
    hash_password_with(password, DEFAULT_ITERATIONS)
}

/// Hashes a password with a chosen iteration count (tests use a small one).
pub fn hash_password_with(password: &str, iterations: u32) -> String {
    let n = NonZeroU32::new(iterations.clamp(1, MAX_ITERATIONS)).expect("clamped to >= 1");
    PasswordHash::new(password, n).encode()
}

/// One non-comment line of the file.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    Some(t.split_once(':').unwrap_or((t, "")))
}

/// Creates or updates `name`'s entry with [`DEFAULT_ITERATIONS`].
pub fn add_user(file: &Path, name: &str, password: &str) -> Result<(), AuthError> {
    add_user_with_iterations(file, name, password, DEFAULT_ITERATIONS)
}

/// [`add_user`] with a chosen iteration count.
pub fn add_user_with_iterations(
    file: &Path,
    name: &str,
    password: &str,
    iterations: u32,
) -> Result<(), AuthError> {
    if !valid_user_name(name) {
        return Err(AuthError::InvalidUser(name.to_string()));
    }
    check_password(password)?;
    let entry = format!("{name}:{}", hash_password_with(password, iterations));
    let mut lines = read_lines(file)?;
    let mut replaced = false;
    for l in lines.iter_mut() {
        if split_line(l).is_some_and(|(n, _)| n == name) {
            *l = entry.clone();
            replaced = true;
        }
    }
    if !replaced {
        lines.push(entry);
    }
    write_atomically(file, &lines)
}

/// Removes `name`'s entry; `false` when there was none.
pub fn remove_user(file: &Path, name: &str) -> Result<bool, AuthError> {
    let lines = read_lines(file)?;
    let kept: Vec<String> = lines
        .iter()
        .filter(|l| split_line(l).is_none_or(|(n, _)| n != name))
        .cloned()
        .collect();
    if kept.len() == lines.len() {
        return Ok(false);
    }
    write_atomically(file, &kept)?;
    Ok(true)
}

/// Checks a password against the file, reading it afresh. An unknown user costs
/// about as much as a wrong password, so timing does not tell which names exist.
pub fn verify(file: &Path, name: &str, password: &str) -> Result<bool, AuthError> {
    let users = load(file)?;
    Ok(check_against(&users, name, password))
}

fn check_against(users: &Users, name: &str, password: &str) -> bool {
    match users.entries.get(name) {
        Some((_, h)) => h.verify(password),
        None => {
            if let Some(d) = &users.dummy {
                d.verify(password);
            }
            false
        }
    }
}

fn read_lines(file: &Path) -> Result<Vec<String>, AuthError> {
    match fs::read_to_string(file) {
        Ok(t) => Ok(t.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(file)(e)),
    }
}

fn write_atomically(file: &Path, lines: &[String]) -> Result<(), AuthError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.unwrap_or_else(|| "users".into()),
        std::process::id()
    ));
    let mut text = lines.join("\n");
    text.push('\n');
    let write = || -> io::Result<()> {
        // A stale temporary from a crashed run is ours to replace.
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, file)?;
        // The rename is durable only once the directory is.
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(file)(e)
    })
}

/// The parsed file: name -> (stored hash text, parsed hash).
#[derive(Debug)]
struct Users {
    entries: HashMap<String, (String, PasswordHash)>,
    /// Verified against when the user is unknown, at the cost of a real entry;
    /// `None` when there are no entries, so there are no names to hide.
    dummy: Option<PasswordHash>,
}

fn load(file: &Path) -> Result<Users, AuthError> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err(file)(e)),
    };
    parse_users(file, &text, |e| {
        eprintln!("dsimaged: http: ignoring entry: {e}")
    })
}

/// Parses the file; bad lines are reported through `skip` and ignored, so one
/// damaged entry does not lock every user out.
fn parse_users(
    file: &Path,
    text: &str,
    mut skip: impl FnMut(AuthError),
) -> Result<Users, AuthError> {
    let mut entries = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((name, hash)) = split_line(line) else {
            continue;
        };
        let bad = |reason: String| AuthError::Malformed {
            path: file.to_path_buf(),
            line: i + 1,
            reason,
        };
        if !valid_user_name(name) {
            skip(bad(format!("invalid user name {name:?}")));
            continue;
        }
        match PasswordHash::parse(hash) {
            Ok(h) => {
                entries.insert(name.to_string(), (hash.to_string(), h));
            }
            Err(reason) => skip(bad(reason)),
        }
    }
    let dummy = entries
        .values()
        .map(|(_, h)| h.iterations)
        .max()
        .map(|iterations| PasswordHash {
            iterations,
            salt: vec![0; SALT_LEN],
            hash: vec![0; HASH_LEN],
        });
    Ok(Users { entries, dummy })
}

/// Reads a password for `dsimaged adduser`: from the terminal without echo (after
/// `prompt` on stderr), or one line of standard input when that is not a terminal
/// (scripts: `echo pw | dsimaged adduser NAME`).
pub fn read_password(prompt: &str) -> io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::IsTerminal;
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return read_password_from(&mut stdin.lock());
    }
    eprint!("{prompt}");
    let saved = tcgetattr(&stdin).map_err(io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(io::Error::from)?;
    let read = read_password_from(&mut stdin.lock());
    // Restore echo even when reading failed.
    tcsetattr(&stdin, SetArg::TCSANOW, &saved).map_err(io::Error::from)?;
    read
}

/// One line without its line ending.
fn read_password_from(r: &mut impl io::BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no password given",
        ));
    }
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

/// Decodes an `Authorization: Basic ...` value into (user, password). `None` for
/// another scheme, bad base64, non-UTF-8 or no `:`.
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The file's identity and version, to notice edits without rereading each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn stamp(file: &Path) -> Option<Stamp> {
    fs::metadata(file).ok().map(|m| Stamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

#[derive(Debug)]
struct State {
    stamp: Option<Option<Stamp>>,
    users: Option<Users>,
    /// user -> HMAC(key, user, password, stored hash) of the last successful login.
    verified: HashMap<String, hmac::Tag>,
}

/// The listener's view of the credentials file: reloaded when it changes, with
/// successful logins remembered (as keyed MACs, never as passwords) so that the slow
/// hash is not recomputed on every request of a keep-alive client.
pub struct Authenticator {
    path: PathBuf,
    key: hmac::Key,
    state: Mutex<State>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Remembered logins are dropped wholesale past this many users.
const MAX_CACHED: usize = 1024;

impl Authenticator {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let rng = SystemRandom::new();
        Authenticator {
            path: path.into(),
            key: hmac::Key::generate(hmac::HMAC_SHA256, &rng)
                .expect("the system random number generator works"),
            state: Mutex::new(State {
                stamp: None,
                users: None,
                verified: HashMap::new(),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of usable entries in the file (as last loaded).
    pub fn user_count(&self) -> usize {
        let mut st = self.lock();
        self.refresh(&mut st);
        st.users.as_ref().map_or(0, |u| u.entries.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refresh(&self, st: &mut State) {
        let now = stamp(&self.path);
        if st.stamp == Some(now) && st.users.is_some() {
            return;
        }
        st.verified.clear();
        st.users = match load(&self.path) {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("dsimaged: http: credentials unusable, refusing all logins: {e}");
                Some(Users {
                    entries: HashMap::new(),
                    dummy: None,
                })
            }
        };
        st.stamp = Some(now);
    }

    fn mac_input(user: &str, password: &str, stored: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(user.len() + password.len() + stored.len() + 2);
        m.extend_from_slice(user.as_bytes());
        m.push(0);
        m.extend_from_slice(password.as_bytes());
        m.push(0);
        m.extend_from_slice(stored.as_bytes());
        m
    }

    /// Whether this user logged in with this password before (and the file has not
    /// changed since). Cheap: one MAC, no slow hash.
    pub fn check_cached(&self, user: &str, password: &str) -> bool {
        let mut st = self.lock();
        self.refresh(&mut st);
        let stored = st
            .users
            .as_ref()
            .and_then(|u| u.entries.get(user))
            .map(|(s, _)| s);
        match (stored, st.verified.get(user)) {
            (Some(stored), Some(tag)) => {
                let msg = Self::mac_input(user, password, stored);
                hmac::verify(&self.key, &msg, tag.as_ref()).is_ok()
            }
            _ => false,
        }
    }

    /// Whether `password` is `user`'s. Blocking: may run the slow hash.
    pub fn check(&self, user: &str, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN || user.len() > MAX_USER_LEN {
            return false;
        }
        let (entry, dummy, stamp) = {
            let mut st = self.lock();
            self.refresh(&mut st);
            let users = st.users.as_ref().expect("refreshed");
            let entry = users.entries.get(user).cloned();
            let dummy = users.dummy.clone();
            if let (Some((stored, _)), Some(tag)) = (&entry, st.verified.get(user)) {
                let msg = Self::mac_input(user, password, stored);
                if hmac::verify(&self.key, &msg, tag.as_ref()).is_ok() {
                    return true;
                }
            }
            (entry, dummy, st.stamp)
        };
        let Some((stored, hash)) = entry else {
            if let Some(d) = dummy {
                d.verify(password);
            }
            return false;
        };
        if !hash.verify(password) {
            return false;
        }
        let mut st = self.lock();
        if st.stamp == stamp {
            if st.verified.len() >= MAX_CACHED {
                st.verified.clear();
            }
            let tag = hmac::sign(&self.key, &Self::mac_input(user, password, &stored));
            st.verified.insert(user.to_string(), tag);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_util::TempDir;

    #[test]
    fn hash_round_trip_and_format() {
        let s = hash_password_with("secret", 1000);
        assert!(s.starts_with("$pbkdf2-sha256$i=1000$"), "{s}");
        let h = PasswordHash::parse(&s).unwrap();
        assert_eq!(h.encode(), s);
        assert!(h.verify("secret"));
        assert!(!h.verify("Secret"));
        assert!(PasswordHash::parse("$md5$x$y$z").is_err());
        assert!(PasswordHash::parse("$pbkdf2-sha256$i=0$AAAA$AAAA").is_err());
        assert!(PasswordHash::parse("$pbkdf2-sha256$i=10$AAAA$AAAA").is_err());
    }

    #[test]
    fn add_update_verify_remove() {
        let d = TempDir::new("auth");
        let f = d.path().join("sub/users");
        add_user_with_iterations(&f, "alice", "pw1", 1000).unwrap();
        add_user_with_iterations(&f, "bob", "pw2", 1000).unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(verify(&f, "alice", "pw1").unwrap());
        assert!(!verify(&f, "alice", "pw2").unwrap());
        assert!(!verify(&f, "carol", "pw1").unwrap());
        add_user_with_iterations(&f, "alice", "new", 1000).unwrap();
        assert!(verify(&f, "alice", "new").unwrap());
        assert!(!verify(&f, "alice", "pw1").unwrap());
        let text = fs::read_to_string(&f).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains("new") && !text.contains("pw2"));
        assert!(remove_user(&f, "bob").unwrap());
        assert!(!remove_user(&f, "bob").unwrap());
        assert!(!verify(&f, "bob", "pw2").unwrap());
    }

    #[test]
    fn rejects_bad_names_and_passwords() {
        let d = TempDir::new("auth-bad");
        let f = d.path().join("users");
        for n in ["", "a:b", "a b", "#x", "tab\t", &"x".repeat(65)] {
            assert!(matches!(
                add_user_with_iterations(&f, n, "p", 1),
                Err(AuthError::InvalidUser(_))
            ));
        }
        assert!(matches!(
            add_user_with_iterations(&f, "u", "", 1),
            Err(AuthError::InvalidPassword(_))
        ));
    }

    #[test]
    fn damaged_lines_are_skipped_not_fatal() {
        let h = hash_password_with("p", 10);
        let text = format!("# c\n\nbroken\nx:$md5$1\ngood:{h}\n");
        let mut skipped = 0;
        let users = parse_users(Path::new("f"), &text, |_| skipped += 1).unwrap();
        assert_eq!(skipped, 2);
        assert!(check_against(&users, "good", "p"));
        assert!(!check_against(&users, "x", "p"));
    }

    #[test]
    fn password_line_reading() {
        let mut r = io::Cursor::new(b"pa ss\r\nnext\n".to_vec());
        assert_eq!(read_password_from(&mut r).unwrap(), "pa ss");
        assert_eq!(read_password_from(&mut r).unwrap(), "next");
        assert!(read_password_from(&mut r).is_err());
    }

    #[test]
    fn basic_credentials() {
        let v = format!("Basic {}", STANDARD.encode("u:p:w"));
        assert_eq!(parse_basic(v.as_bytes()), Some(("u".into(), "p:w".into())));
        assert_eq!(parse_basic(b"basic dTpw"), Some(("u".into(), "p".into())));
        assert_eq!(parse_basic(b"Digest abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Basic dXNlcg=="), None); // "user": no colon
    }

    #[test]
    fn authenticator_caches_and_notices_edits() {
        let d = TempDir::new("auth-cache");
        let f = d.path().join("users");
        let a = Authenticator::new(&f);
        assert_eq!(a.user_count(), 0);
        assert!(!a.check("u", "p"));
        add_user_with_iterations(&f, "u", "p", 1000).unwrap();
        assert!(!a.check_cached("u", "p"));
        assert!(a.check("u", "p"));
        assert!(a.check_cached("u", "p"));
        assert!(a.check("u", "p")); // from the cache
        assert!(!a.check_cached("u", "q"));
        assert!(!a.check("u", "q"));
        add_user_with_iterations(&f, "u", "q", 1000).unwrap();
        assert!(!a.check_cached("u", "p"), "old password must stop working");
        assert!(!a.check("u", "p"));
        assert!(a.check("u", "q"));
    }
}
