//! The listener itself: accepts HTTP and HTTPS connections (hyper 1, HTTP/1.1 with
//! keep-alive), authenticates each request before reading its body, validates it as
//! a CIM operation request, parses it, hands it to the [`Dispatcher`] on a blocking
//! thread and writes the CIM-XML response.
//!
//! Order of checks, each answered before the next is looked at: method (405),
//! M-POST `Man` (510), `Authorization` size (431), credentials (401),
//! `Content-Encoding` (415), `Content-Length` (411/413/400), `Content-Type`,
//! `CIMOperation`, `CIMProtocolVersion` (501), `CIMMethod`/`CIMObject` presence; then
//! the body is read (408 when too slow, 413 when too long), parsed (400/501) and
//! compared with the headers (400 `header-mismatch`). CIM failures are `ERROR`
//! elements inside a 200, as clients expect.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::auth::{self, Authenticator};
use super::config::ListenerConfig;
use super::headers::{self, BodyLength, CimTarget, Naming, Reject};
use super::{tls, Dispatcher};
use crate::cim::xml_read::{self, XmlErrorClass};
use crate::cim::{
    xml_tree, xml_write, CimError, CimStatus, Limits, Request, Response as CimResponse,
};

/// The Basic realm announced in 401 responses.
pub const REALM: &str = "dsimage";
/// Bound on all request headers together (hyper answers 431 above it).
const MAX_HEADER_BYTES: usize = 32 * 1024;
const MAX_HEADERS: usize = 64;
/// A failed login is answered only after this pause, to slow password guessing.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(250);
/// Password hashes computed at once; further logins queue. One: on a small machine a
/// stream of wrong passwords must not take every core from the engine.
const CONCURRENT_HASHES: usize = 1;
/// How long running requests may finish after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

type HttpResponse = hyper::Response<Full<Bytes>>;

/// What every connection shares.
struct Shared {
    dispatcher: Arc<dyn Dispatcher>,
    auth: Arc<Authenticator>,
    hash_slots: Semaphore,
    limits: Limits,
    read_timeout: Duration,
}

/// Bound sockets, ready to [`Listener::run`].
pub struct Listener {
    http: Option<TcpListener>,
    https: Option<(TcpListener, TlsAcceptor)>,
    shared: Arc<Shared>,
    max_connections: usize,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("http", &self.http_addr())
            .field("https", &self.https_addr())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Validates `cfg`, prepares TLS (generating a certificate if needed) and binds.
    pub async fn bind(cfg: ListenerConfig, dispatcher: Arc<dyn Dispatcher>) -> io::Result<Self> {
        cfg.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let http = match cfg.http {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let https = match cfg.https {
            Some(a) => {
                let acceptor = TlsAcceptor::from(tls::server_config(&cfg)?);
                Some((bind(a).await?, acceptor))
            }
            None => None,
        };
        let auth = Arc::new(Authenticator::new(&cfg.users_file));
        if auth.user_count() == 0 {
            eprintln!(
                "dsimaged: http: no users in {}: every request will get 401; add one with \
                 `dsimaged adduser`",
                cfg.users_file.display()
            );
        }
        Ok(Listener {
            http,
            https,
            shared: Arc::new(Shared {
                dispatcher,
                auth,
                hash_slots: Semaphore::new(CONCURRENT_HASHES),
                limits: cfg.limits,
                read_timeout: cfg.read_timeout,
            }),
            max_connections: cfg.max_connections,
        })
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then lets running requests finish (for
    /// up to ten seconds) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        if let Some(a) = self.http_addr() {
            eprintln!("dsimaged: http: listening on http://{a}");
        }
        if let Some(a) = self.https_addr() {
            eprintln!("dsimaged: http: listening on https://{a}");
        }
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            // Waiting for a slot before accepting leaves excess clients in the
            // kernel's backlog instead of holding sockets we will not serve.
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = &mut shutdown => break,
            };
            let accepted = tokio::select! {
                r = accept(self.http.as_ref()) => r.map(|(s, p)| (s, p, None)),
                r = accept(self.https.as_ref().map(|(l, _)| l)) => {
                    r.map(|(s, p)| (s, p, self.https.as_ref().map(|(_, a)| a.clone())))
                }
                _ = &mut shutdown => break,
            };
            let (stream, peer, tls) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("dsimaged: http: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let shared = self.shared.clone();
            let stop = stop_rx.clone();
            conns.spawn(async move {
                let _permit = permit;
                match tls {
                    None => connection(stream, peer, shared, stop).await,
                    Some(acceptor) => {
                        let hs = tokio::time::timeout(shared.read_timeout, acceptor.accept(stream));
                        // A failed or stalled handshake just ends the connection.
                        if let Ok(Ok(s)) = hs.await {
                            connection(s, peer, shared, stop).await;
                        }
                    }
                }
            });
            while conns.try_join_next().is_some() {}
        }
        drop(self.http);
        drop(self.https);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while conns.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            conns.abort_all();
        }
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

async fn accept(l: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// One client connection: HTTP/1.1 with keep-alive; closed when idle for the read
/// timeout (hyper's header timeout runs from the end of the previous response).
async fn connection<S>(
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let read_timeout = shared.read_timeout;
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(req, &shared, peer).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The outcome of one request, before it becomes an HTTP response.
enum Outcome {
    /// A CIM-XML response message (success or `ERROR`).
    Cim(String),
    Unauthorized,
    Reject(Reject),
}

async fn handle(req: hyper::Request<Incoming>, shared: &Shared, peer: SocketAddr) -> HttpResponse {
    let m_post = req.method().as_str() == "M-POST";
    if req.method() != Method::POST && !m_post {
        return respond(Outcome::Reject(Reject::Method), None, true);
    }
    let naming = if m_post {
        match Naming::from_man(req.headers()) {
            Ok(n) => n,
            Err(r) => return respond(Outcome::Reject(r), None, true),
        }
    } else {
        Naming::default()
    };
    let ext = m_post.then_some(&naming);
    // Until the body has been read completely, an early answer must close the
    // connection: the unread rest would otherwise be taken for the next request.
    let (outcome, body_read) = process(req, shared, peer, &naming).await;
    respond(outcome, ext, !body_read)
}

/// Runs the checks and the operation; the flag says whether the body was consumed.
async fn process(
    req: hyper::Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
    naming: &Naming,
) -> (Outcome, bool) {
    let (parts, body) = req.into_parts();
    let h = &parts.headers;
    let early = |r: Reject| (Outcome::Reject(r), false);
    if let Err(r) = headers::check_authorization_size(h) {
        eprintln!("dsimaged: http: oversized Authorization header from {peer}");
        return early(r);
    }
    let Some(user) = authenticate(h, shared, peer).await else {
        return (Outcome::Unauthorized, false);
    };
    let checked = (|| {
        headers::check_content_encoding(h)?;
        let length = headers::body_length(h, shared.limits.max_total)?;
        headers::check_content_type(h)?;
        headers::check_operation(h, naming)?;
        headers::check_protocol_version(h, naming)?;
        let target = headers::cim_target(h, naming)?;
        Ok::<_, Reject>((length, target))
    })();
    let (length, target) = match checked {
        Ok(x) => x,
        Err(r) => return early(r),
    };
    let bytes = match read_body(body, length, shared.limits.max_total, shared.read_timeout).await {
        Ok(b) => b,
        Err(r) => return early(r),
    };
    (run_operation(bytes, target, user, shared).await, true)
}

/// The authenticated user, or `None` (already logged where it matters).
async fn authenticate(h: &hyper::HeaderMap, shared: &Shared, peer: SocketAddr) -> Option<String> {
    // No credentials is the normal first step of a challenge, not worth a log line.
    let value = h.get(AUTHORIZATION)?;
    let Some((user, password)) = auth::parse_basic(value.as_bytes()) else {
        eprintln!("dsimaged: http: unusable Authorization header from {peer}");
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        return None;
    };
    let ok = if shared.auth.check_cached(&user, &password) {
        true
    } else if auth::valid_user_name(&user) && password.len() <= auth::MAX_PASSWORD_LEN {
        // Only logins that need the slow hash queue for it: a client already known
        // is not held up behind someone guessing passwords.
        let _slot = shared.hash_slots.acquire().await.ok()?;
        let a = shared.auth.clone();
        let u = user.clone();
        tokio::task::spawn_blocking(move || a.check(&u, &password))
            .await
            .unwrap_or(false)
    } else {
        false
    };
    if ok {
        return Some(user);
    }
    let shown: String = user.chars().take(auth::MAX_USER_LEN).collect();
    eprintln!("dsimaged: http: authentication failed for user {shown:?} from {peer}");
    tokio::time::sleep(FAILED_LOGIN_DELAY).await;
    None
}

async fn read_body(
    mut body: Incoming,
    length: BodyLength,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Reject> {
    let initial = match length {
        BodyLength::Known(n) => (n as usize).min(limit),
        BodyLength::Chunked => 0,
    };
    let read = async {
        // Grows with what arrives: the announced length is only a hint.
        let mut buf = BytesMut::with_capacity(initial.min(1 << 20));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Reject::NotWellFormed(format!("body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(Reject::TooLarge { limit });
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Reject::Timeout))
}

/// Parse, check against the headers, dispatch, serialise.
async fn run_operation(bytes: Bytes, target: CimTarget, user: String, shared: &Shared) -> Outcome {
    let limits = shared.limits;
    let parsed = tokio::task::spawn_blocking(move || parse(&bytes, &limits, &target)).await;
    let request = match parsed {
        Ok(Ok(Parsed::Request(r))) => r,
        Ok(Ok(Parsed::Answer(xml))) => return Outcome::Cim(xml),
        Ok(Err(r)) => return Outcome::Reject(r),
        Err(_) => {
            return Outcome::Reject(Reject::NotValid("request could not be parsed".into()));
        }
    };
    let (id, method) = (request.id().to_string(), request.method().to_string());
    let intrinsic = matches!(request, Request::IMethodCall { .. });
    let dispatcher = shared.dispatcher.clone();
    let done = tokio::task::spawn_blocking(move || {
        xml_write::response(&dispatcher.dispatch(request, &user))
    })
    .await;
    match done {
        Ok(xml) => Outcome::Cim(xml),
        Err(_) => {
            eprintln!("dsimaged: http: the object manager panicked on {method} (message {id})");
            let err = CimError::new(CimStatus::Failed, "internal error in the object manager");
            Outcome::Cim(xml_write::response(&error_response(
                id, method, intrinsic, err,
            )))
        }
    }
}

enum Parsed {
    Request(Request),
    /// A complete response already (a CIM error found while parsing).
    Answer(String),
}

fn parse(bytes: &[u8], limits: &Limits, target: &CimTarget) -> Result<Parsed, Reject> {
    match xml_read::parse_request(bytes, limits) {
        Ok(req) => {
            headers::check_consistent(target, &req)?;
            Ok(Parsed::Request(req))
        }
        Err(e) => match e.class() {
            XmlErrorClass::NotWellFormed => Err(Reject::NotWellFormed(e.to_string())),
            XmlErrorClass::NotValid => Err(Reject::NotValid(e.to_string())),
            XmlErrorClass::MultipleRequestsUnsupported => {
                Err(Reject::MultipleRequests(e.to_string()))
            }
            // DSP0200: a valid request with wrong values is a CIM error, which
            // needs the message ID and method that the failed parse did not return.
            XmlErrorClass::InvalidParameter => {
                let err = CimError::new(CimStatus::InvalidParameter, e.to_string());
                invalid_parameter(bytes, limits, target, err)
                    .map(Parsed::Answer)
                    .ok_or_else(|| Reject::NotValid(e.to_string()))
            }
        },
    }
}

/// Builds the `ERROR` response for a request whose values were wrong, from the
/// message skeleton (ID, call kind and name).
fn invalid_parameter(
    bytes: &[u8],
    limits: &Limits,
    target: &CimTarget,
    err: CimError,
) -> Option<String> {
    let root = xml_tree::parse(bytes, limits).ok()?;
    let msg = root.children.first().filter(|m| m.name == "MESSAGE")?;
    let id = msg.attr("ID")?.to_string();
    let call = msg
        .children
        .first()
        .filter(|s| s.name == "SIMPLEREQ")?
        .children
        .iter()
        .find(|c| c.name != "CORRELATOR")?;
    let method = call.attr("NAME")?.to_string();
    if !method.eq_ignore_ascii_case(&target.method) {
        return None;
    }
    let intrinsic = match call.name.as_str() {
        "IMETHODCALL" => true,
        "METHODCALL" => false,
        _ => return None,
    };
    Some(xml_write::response(&error_response(
        id, method, intrinsic, err,
    )))
}

fn error_response(id: String, method: String, intrinsic: bool, err: CimError) -> CimResponse {
    if intrinsic {
        CimResponse::IMethod {
            id,
            method,
            result: Err(err),
        }
    } else {
        CimResponse::Method {
            id,
            method,
            result: Err(err),
        }
    }
}

/// Encodes free text for a header value (pywbem %-decodes `PGErrorDetail`).
fn header_text(s: &str) -> HeaderValue {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes().take(512) {
        if b.is_ascii_graphic() && b != b'%' || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static(""))
}

/// Turns an outcome into the HTTP response; `ext` is set for M-POST (CIM headers
/// prefixed, `Ext` added); `close` ends the connection after it.
fn respond(outcome: Outcome, ext: Option<&Naming>, close: bool) -> HttpResponse {
    let naming = ext.cloned().unwrap_or_default();
    let mut b = hyper::Response::builder();
    let text = |msg: String| Full::new(Bytes::from(msg + "\n"));
    let (status, body) = match outcome {
        Outcome::Cim(xml) => {
            b = b
                .header(CONTENT_TYPE, "application/xml; charset=\"utf-8\"")
                .header(naming.name("CIMOperation"), "MethodResponse");
            (StatusCode::OK, Full::new(Bytes::from(xml)))
        }
        Outcome::Unauthorized => {
            b = b
                .header(WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\""))
                .header(CONTENT_TYPE, "text/plain; charset=utf-8");
            (
                StatusCode::UNAUTHORIZED,
                text("authentication required".into()),
            )
        }
        Outcome::Reject(r) => {
            if r == Reject::Method {
                b = b.header(ALLOW, "POST, M-POST");
            }
            if let Some(v) = r.cim_error() {
                b = b
                    .header(naming.name("CIMError"), v)
                    .header("PGErrorDetail", header_text(&r.to_string()));
            }
            b = b.header(CONTENT_TYPE, "text/plain; charset=utf-8");
            (r.status(), text(r.to_string()))
        }
    };
    if ext.is_some() {
        b = b.header("Ext", "");
    }
    if close {
        b = b.header(CONNECTION, "close");
    }
    b.status(status)
        .body(body)
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Binds and serves until `shutdown` completes.
pub async fn serve(
    cfg: ListenerConfig,
    dispatcher: Arc<dyn Dispatcher>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Listener::bind(cfg, dispatcher).await?.run(shutdown).await
}

/// A listener running on its own thread and tokio runtime.
#[derive(Debug)]
pub struct ListenerHandle {
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl ListenerHandle {
    /// The bound HTTP address (with the real port when 0 was configured).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https
    }

    /// Stops accepting, lets running requests finish, joins the thread.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("listener thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Starts the listener on a thread of its own (with a small runtime) and returns
/// once the sockets are bound, or with the bind/TLS error. For callers that are not
/// async themselves: the daemon's main and tests.
pub fn spawn(cfg: ListenerConfig, dispatcher: Arc<dyn Dispatcher>) -> io::Result<ListenerHandle> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let blocking = cfg.max_connections + CONCURRENT_HASHES + 4;
    let thread = std::thread::Builder::new()
        .name("dsimaged-http".into())
        .spawn(move || -> io::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(blocking)
                .thread_name("dsimaged-http")
                .enable_all()
                .build()?;
            let listener = match rt.block_on(Listener::bind(cfg, dispatcher)) {
                Ok(l) => l,
                Err(e) => {
                    let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            let _ = ready_tx.send(Ok((listener.http_addr(), listener.https_addr())));
            let r = rt.block_on(listener.run(async {
                let _ = stop_rx.await;
            }));
            rt.shutdown_timeout(Duration::from_secs(1));
            r
        })?;
    match ready_rx.recv() {
        Ok(Ok((http, https))) => Ok(ListenerHandle {
            http,
            https,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(thread
            .join()
            .map_err(|_| io::Error::other("listener thread panicked"))?
            .err()
            .unwrap_or_else(|| io::Error::other("listener thread ended early"))),
    }
}
