//! A minimal CIM-XML over HTTP(S) client (DSP0200), blocking for its caller: one
//! `POST /cimom` per request with the CIM headers (`CIMOperation: MethodCall`,
//! `CIMMethod`, `CIMObject`), `Content-Type: application/xml; charset=utf-8` and Basic
//! authentication, on a connection of its own. The body is written and the answer
//! read only by the agent's codec (`cim::xml_write::request`,
//! `cim::xml_read::parse_response`).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::cim::xml_read::parse_response;
use crate::cim::{xml_write, Limits, Request, Response};

use super::error::ClientError;
use super::ops::Exchange;
use super::paths;
use super::tls::{self, Trust};

/// Where `iiadm` finds the agent unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:5988";
const HTTP_PORT: u16 = 5988;
const HTTPS_PORT: u16 = 5989;
const DEFAULT_PATH: &str = "/cimom";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent's address, from a URL `http[s]://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    /// Parses a URL; without a scheme, `http://` is meant. The port defaults to 5988
    /// (HTTP) or 5989 (HTTPS), the path to `/cimom`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("https://") {
            (true, &url[8..])
        } else if lower.starts_with("http://") {
            (false, &url[7..])
        } else if url.contains("://") {
            return Err(format!(
                "URL {url:?}: only http:// and https:// are supported"
            ));
        } else {
            (false, url)
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(format!(
                "URL {url:?}: give no user or password in the URL; use --user and \
                 --password, or DSIMAGE_USER and DSIMAGE_PASSWORD"
            ));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("URL {url:?}: unclosed [ in the host"))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        if host.is_empty() {
            return Err(format!("URL {url:?}: no host"));
        }
        let port = match port {
            None => {
                if https {
                    HTTPS_PORT
                } else {
                    HTTP_PORT
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("URL {url:?}: bad port {p:?}"))?,
        };
        let path = match path {
            "" | "/" => DEFAULT_PATH.to_string(),
            p => p.to_string(),
        };
        Ok(Endpoint {
            https,
            host: host.to_string(),
            port,
            path,
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL, as messages show it.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let path = if self.path == DEFAULT_PATH {
            ""
        } else {
            &self.path
        };
        format!("{scheme}://{}{path}", self.authority())
    }
}

/// A user of the agent (`dsimaged adduser`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    fn basic(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// DSP0200's header encoding: UTF-8, `%`-escaped where a byte is not plainly safe
/// (the agent's `http::headers::percent_decode` is the inverse).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/=,\"".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `CIMObject` header of a request: the namespace of an intrinsic operation, the
/// target's path of a method.
pub fn cim_object(request: &Request) -> String {
    match request {
        Request::IMethodCall { namespace, .. } => namespace.clone(),
        Request::MethodCall { target, .. } => paths::target_text(target),
        Request::ExportMethodCall { .. } => String::new(),
    }
}

/// A CIM-XML client of one agent.
pub struct HttpClient {
    endpoint: Endpoint,
    credentials: Credentials,
    tls: Option<TlsConnector>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("endpoint", &self.endpoint)
            .field("user", &self.credentials.user)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What the agent answered at the HTTP level.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl HttpClient {
    pub fn new(
        endpoint: Endpoint,
        credentials: Credentials,
        trust: &Trust,
    ) -> Result<HttpClient, ClientError> {
        let tls = if endpoint.https {
            let config = tls::client_config(trust).map_err(|e| {
                ClientError::Usage(format!(
                    "HTTPS to {}: {e}; give --ca-file with the agent's certificate \
                     (<state-dir>/tls/cert.pem on its host) or --insecure",
                    endpoint.url()
                ))
            })?;
            Some(TlsConnector::from(config))
        } else {
            None
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: endpoint.url(),
                reason: format!("cannot start the I/O runtime: {e}"),
            })?;
        Ok(HttpClient {
            endpoint,
            credentials,
            tls,
            runtime,
        })
    }

    fn unreachable(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Unreachable {
            url: self.endpoint.url(),
            reason: reason.into(),
        }
    }

    fn protocol(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Protocol {
            url: self.endpoint.url(),
            reason: reason.into(),
        }
    }

    fn http_request(&self, request: &Request) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
        let body = xml_write::request(request);
        let header = |v: String| {
            HeaderValue::from_str(&v)
                .map_err(|_| ClientError::Usage(format!("cannot send {v:?} in a header")))
        };
        let mut r = hyper::Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.path.as_str())
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::Usage(format!("URL path {:?}: {e}", self.endpoint.path)))?;
        let h = r.headers_mut();
        h.insert(HOST, header(self.endpoint.authority())?);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        h.insert("CIMOperation", HeaderValue::from_static("MethodCall"));
        h.insert("CIMMethod", header(percent_encode(request.method()))?);
        h.insert("CIMObject", header(percent_encode(&cim_object(request)))?);
        h.insert("CIMProtocolVersion", HeaderValue::from_static("1.0"));
        h.insert(AUTHORIZATION, header(self.credentials.basic())?);
        *r.body_mut() = Full::new(Bytes::from(body));
        Ok(r)
    }

    async fn post(&self, request: hyper::Request<Full<Bytes>>) -> Result<Answer, ClientError> {
        let addr = (self.endpoint.host.as_str(), self.endpoint.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                self.unreachable(format!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    " (is `dsimaged serve` running there, listening on that port?)"
                } else {
                    ""
                };
                self.unreachable(format!("{e}{hint}"))
            })?;
        match &self.tls {
            None => self.send(TokioIo::new(tcp), request).await,
            Some(connector) => {
                let name =
                    tls::server_name(&self.endpoint.host).map_err(|e| self.unreachable(e))?;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                    .await
                    .map_err(|_| self.unreachable("no TLS handshake within 10 s"))?
                    .map_err(|e| {
                        let hint = if e.to_string().contains("certificate") {
                            "; the agent's certificate is self-signed unless it was given \
                             one: pass --ca-file with it (<state-dir>/tls/cert.pem on the \
                             agent's host) or --insecure"
                        } else {
                            ""
                        };
                        self.unreachable(format!("TLS handshake failed: {e}{hint}"))
                    })?;
                self.send(TokioIo::new(stream), request).await
            }
        }
    }

    async fn send<S>(
        &self,
        io: S,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, ClientError>
    where
        S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let lost = |e: hyper::Error| {
            let hint = if self.endpoint.https {
                ""
            } else {
                " (an HTTPS port? then use https://)"
            };
            self.unreachable(format!("connection lost: {e}{hint}"))
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(lost)?;
        let task = tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(lost)?;
        let (parts, body) = response.into_parts();
        let max = Limits::default().max_total;
        let body = Limited::new(body, max)
            .collect()
            .await
            .map_err(|e| self.protocol(format!("reading the answer: {e}")))?
            .to_bytes();
        task.abort();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

fn response_id(r: &Response) -> &str {
    match r {
        Response::IMethod { id, .. }
        | Response::Method { id, .. }
        | Response::Export { id, .. } => id,
    }
}

impl Exchange for HttpClient {
    fn exchange(&self, request: &Request) -> Result<Response, ClientError> {
        let http = self.http_request(request)?;
        let answer = self.runtime.block_on(self.post(http))?;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Auth {
                url: self.endpoint.url(),
                user: self.credentials.user.clone(),
            });
        }
        if answer.status != StatusCode::OK {
            let cim_error = answer
                .headers
                .get("CIMError")
                .and_then(|v| v.to_str().ok())
                .map(|v| format!(" (CIMError: {v})"))
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&answer.body);
            let text: String = text.trim().chars().take(300).collect();
            return Err(self.protocol(format!(
                "HTTP {}{cim_error}{}{text}",
                answer.status,
                if text.is_empty() { "" } else { ": " }
            )));
        }
        let response = parse_response(&answer.body, &Limits::default())
            .map_err(|e| self.protocol(format!("the answer is not a CIM-XML response: {e}")))?;
        if response_id(&response) != request.id() {
            return Err(self.protocol(format!(
                "the answer is to message {}, not {}",
                response_id(&response),
                request.id()
            )));
        }
        Ok(response)
    }

    fn url(&self) -> String {
        self.endpoint.url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse(DEFAULT_URL).unwrap();
        assert_eq!(
            e,
            Endpoint {
                https: false,
                host: "127.0.0.1".into(),
                port: 5988,
                path: "/cimom".into()
            }
        );
        assert_eq!(e.url(), "http://127.0.0.1:5988");
        let e = Endpoint::parse("HTTPS://agent.example").unwrap();
        assert_eq!(
            (e.https, e.port, e.url().as_str()),
            (true, 5989, "https://agent.example:5989")
        );
        let e = Endpoint::parse("https://[::1]:6000/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 6000));
        assert_eq!(e.url(), "https://[::1]:6000");
        let e = Endpoint::parse("host1:7000/other").unwrap();
        assert_eq!((e.https, e.port, e.path.as_str()), (false, 7000, "/other"));
        assert_eq!(e.url(), "http://host1:7000/other");
        for (bad, says) in [
            ("ftp://h", "only http"),
            ("http://u:p@h", "DSIMAGE_USER"),
            ("http://:5988", "no host"),
            ("http://h:99999", "bad port"),
            ("http://h:0", "bad port"),
            ("http://[::1", "unclosed"),
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn headers_are_percent_encoded_as_dsp0200_says() {
        let o = r#"root/dsimage:DS_IISet.Name="my set%é""#;
        let enc = percent_encode(o);
        assert_eq!(enc, "root/dsimage:DS_IISet.Name=\"my%20set%25%C3%A9\"");
        assert_eq!(
            crate::http::headers::percent_decode(enc.as_bytes()).as_deref(),
            Some(o)
        );
    }

    #[test]
    fn basic_authorization() {
        let c = Credentials {
            user: "alice".into(),
            password: "s3cret".into(),
        };
        assert_eq!(c.basic(), "Basic YWxpY2U6czNjcmV0");
    }
}
