//! End-to-end tests of the listener over real sockets on 127.0.0.1: raw HTTP with
//! exact status codes and headers, HTTPS with the generated certificate, and the
//! real `wbemcli` when it is installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::auth::add_user_with_iterations;
use super::test_util::TempDir;
use super::{spawn, Dispatcher, ListenerConfig, ListenerHandle};
use crate::cim::{
    IMethodResult, IReturnValue, KeyBinding, KeyValue, MethodResult, ObjectPath, Request, Response,
};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
/// base64("alice:s3cret")
const BASIC: &str = "Basic YWxpY2U6czNjcmV0";

/// Answers every call successfully: intrinsic calls with `names` (empty unless a
/// test sets some; their class names for EnumerateClassNames), extrinsic ones with
/// nothing; panics on a method named `Panic`.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<(String, String)>>,
    names: Mutex<Vec<ObjectPath>>,
}

impl Dispatcher for Fake {
    fn dispatch(&self, request: Request, user: &str) -> Response {
        self.calls
            .lock()
            .unwrap()
            .push((request.method().to_string(), user.to_string()));
        match request {
            Request::IMethodCall { id, method, .. } => {
                assert_ne!(method, "Panic", "the fake object manager panics on request");
                let names = self.names.lock().unwrap().clone();
                let value = if method == "EnumerateClassNames" {
                    IReturnValue::ClassNames(names.into_iter().map(|p| p.classname).collect())
                } else {
                    IReturnValue::InstanceNames(names)
                };
                Response::IMethod {
                    id,
                    method,
                    result: Ok(IMethodResult {
                        value,
                        out_params: Vec::new(),
                    }),
                }
            }
            Request::MethodCall { id, method, .. } => Response::Method {
                id,
                method,
                result: Ok(MethodResult {
                    return_type: None,
                    return_value: None,
                    out_params: Vec::new(),
                }),
            },
            Request::ExportMethodCall { id, method, .. } => Response::Export {
                id,
                method,
                result: Ok(()),
            },
        }
    }
}

struct Server {
    handle: ListenerHandle,
    fake: Arc<Fake>,
    dir: TempDir,
}

impl Server {
    fn start(tweak: impl FnOnce(&mut ListenerConfig)) -> Server {
        let dir = TempDir::new("srv");
        let mut cfg = ListenerConfig::new(dir.path());
        cfg.http = Some("127.0.0.1:0".parse().unwrap());
        cfg.https = Some("127.0.0.1:0".parse().unwrap());
        cfg.limits.max_total = 64 * 1024;
        cfg.read_timeout = Duration::from_secs(5);
        tweak(&mut cfg);
        add_user_with_iterations(&cfg.users_file, USER, PASSWORD, 1000).unwrap();
        let fake = Arc::new(Fake::default());
        let handle = spawn(cfg, fake.clone()).unwrap();
        Server { handle, fake, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.http_addr().unwrap()
    }

    fn send(&self, req: &Req) -> Reply {
        let mut c = Client::connect(self.addr());
        c.send(req)
    }
}

/// A raw HTTP request, pywbem-shaped by default.
#[derive(Clone)]
struct Req {
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn cim(body: &str, cim_method: &str, cim_object: &str) -> Req {
        let mut r = Req {
            method: "POST".into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        r.set("Host", "localhost");
        r.set("Content-Type", "application/xml; charset=\"utf-8\"");
        r.set("Content-Length", &body.len().to_string());
        r.set("CIMOperation", "MethodCall");
        r.set("CIMMethod", cim_method);
        r.set("CIMObject", cim_object);
        r.set("Authorization", BASIC);
        r
    }

    fn ecn() -> Req {
        Req::cim(
            &ecn_xml("EnumerateInstanceNames"),
            "EnumerateInstanceNames",
            "root/dsimage",
        )
    }

    fn set(&mut self, name: &str, value: &str) -> &mut Req {
        self.remove(name);
        self.headers.push((name.into(), value.into()));
        self
    }

    fn remove(&mut self, name: &str) -> &mut Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn body(&mut self, body: &[u8]) -> &mut Req {
        self.body = body.to_vec();
        self.set("Content-Length", &body.len().to_string())
    }

    fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} /cimom HTTP/1.1\r\n", self.method);
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = self.head_bytes();
        b.extend_from_slice(&self.body);
        b
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cim_error(&self) -> Option<&str> {
        self.header("CIMError")
    }
}

struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    fn send(&mut self, req: &Req) -> Reply {
        self.stream.write_all(&req.bytes()).unwrap();
        self.read_reply()
    }

    fn read_reply(&mut self) -> Reply {
        read_reply(&mut self.reader)
    }

    /// Whether the server closed the connection (EOF) within the read timeout.
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0))
            || matches!(self.reader.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn ns_xml() -> &'static str {
    "<LOCALNAMESPACEPATH><NAMESPACE NAME=\"root\"/><NAMESPACE NAME=\"dsimage\"/></LOCALNAMESPACEPATH>"
}

fn message(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">\
         <MESSAGE ID=\"1001\" PROTOCOLVERSION=\"1.0\">{inner}</MESSAGE></CIM>"
    )
}

fn ecn_xml(method: &str) -> String {
    message(&format!(
        "<SIMPLEREQ><IMETHODCALL NAME=\"{method}\">{}<IPARAMVALUE NAME=\"ClassName\">\
         <CLASSNAME NAME=\"DS_IISet\"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ>",
        ns_xml()
    ))
}

fn invoke_xml() -> String {
    message(&format!(
        "<SIMPLEREQ><METHODCALL NAME=\"Start\"><LOCALINSTANCEPATH>{}\
         <INSTANCENAME CLASSNAME=\"DS_IISet\"><KEYBINDING NAME=\"Name\">\
         <KEYVALUE VALUETYPE=\"string\">x</KEYVALUE></KEYBINDING></INSTANCENAME>\
         </LOCALINSTANCEPATH></METHODCALL></SIMPLEREQ>",
        ns_xml()
    ))
}

#[test]
fn enumerate_instance_names_succeeds_as_the_user() {
    let s = Server::start(|_| {});
    let r = s.send(&Req::ecn());
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/xml; charset=\"utf-8\"")
    );
    assert_eq!(r.header("CIMOperation"), Some("MethodResponse"));
    assert!(
        r.body
            .contains("<IMETHODRESPONSE NAME=\"EnumerateInstanceNames\">"),
        "{}",
        r.body
    );
    assert!(r.body.contains("MESSAGE ID=\"1001\""), "{}", r.body);
    assert_eq!(
        s.fake.calls.lock().unwrap().as_slice(),
        &[("EnumerateInstanceNames".to_string(), USER.to_string())]
    );
}

#[test]
fn extrinsic_call_with_wbemcli_headers() {
    let s = Server::start(|_| {});
    let mut req = Req::cim(
        &invoke_xml(),
        "Start",
        "root%2Fdsimage%3ADS_IISet.Name=\"x\"",
    );
    req.set("CIMProtocolVersion", "1.0")
        .set("Connection", "Keep-Alive, TE")
        .set("Accept", "")
        .set("Content-Type", "application/xml; charset=\"utf-8\"");
    let r = s.send(&req);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body.contains("<METHODRESPONSE NAME=\"Start\">"),
        "{}",
        r.body
    );
    // Static-method form of the header names the class only.
    let r = s.send(&Req::cim(&invoke_xml(), "start", "root/dsimage:ds_iiset"));
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn missing_credentials_get_a_basic_challenge() {
    let s = Server::start(|_| {});
    let r = s.send(Req::ecn().remove("Authorization"));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"dsimage\"")
    );
    assert!(s.fake.calls.lock().unwrap().is_empty());
}

#[test]
fn wrong_password_unknown_user_and_garbage_get_401() {
    let s = Server::start(|_| {});
    for auth in [
        "Basic YWxpY2U6d3Jvbmc=", // alice:wrong
        "Basic Ym9iOnMzY3JldA==", // bob:s3cret
        "Basic !!!!",
        "Digest username=\"alice\"",
    ] {
        let r = s.send(Req::ecn().set("Authorization", auth));
        assert_eq!(r.status, 401, "{auth}");
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Basic realm=\"dsimage\"")
        );
    }
    assert!(s.fake.calls.lock().unwrap().is_empty());
}

#[test]
fn oversized_authorization_header_is_refused() {
    let s = Server::start(|_| {});
    let big = format!("Basic {}", "A".repeat(5000));
    let r = s.send(Req::ecn().set("Authorization", &big));
    assert_eq!(r.status, 431);
}

#[test]
fn body_is_not_read_before_authentication() {
    let s = Server::start(|_| {});
    for auth in [None, Some("Basic YWxpY2U6d3Jvbmc=")] {
        let mut req = Req::ecn();
        req.set("Content-Length", "60000");
        match auth {
            Some(a) => req.set("Authorization", a),
            None => req.remove("Authorization"),
        };
        let mut c = Client::connect(s.addr());
        let t = Instant::now();
        // Headers only: the body is never sent.
        c.stream.write_all(&req.head_bytes()).unwrap();
        let r = c.read_reply();
        assert_eq!(r.status, 401);
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.closed());
    }
}

#[test]
fn other_methods_get_405_with_allow() {
    let s = Server::start(|_| {});
    for m in ["GET", "PUT", "OPTIONS", "DELETE"] {
        let mut req = Req::ecn();
        req.method = m.into();
        let r = s.send(&req);
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("Allow"), Some("POST, M-POST"));
    }
}

#[test]
fn content_length_rules() {
    let s = Server::start(|_| {});
    let r = s.send(Req::ecn().remove("Content-Length"));
    assert_eq!(r.status, 411);
    let mut c = Client::connect(s.addr());
    c.stream
        .write_all(&Req::ecn().set("Content-Length", "70000").head_bytes())
        .unwrap();
    let r = c.read_reply();
    assert_eq!(r.status, 413);
    assert!(c.closed());
    for bad in ["-5", "abc", "12 13"] {
        let r = s.send(Req::ecn().set("Content-Length", bad));
        assert_eq!(r.status, 400, "{bad}");
    }
    let mut req = Req::ecn();
    req.headers.push(("Content-Length".into(), "7".into()));
    assert_eq!(s.send(&req).status, 400, "differing duplicates");
}

#[test]
fn chunked_body_is_accepted_and_bounded() {
    let s = Server::start(|_| {});
    let chunked = |payload: &[u8]| {
        let mut req = Req::ecn();
        req.remove("Content-Length")
            .set("Transfer-Encoding", "chunked");
        let mut body = Vec::new();
        for part in payload.chunks(1000) {
            body.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            body.extend_from_slice(part);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        req.body = body;
        s.send(&req)
    };
    assert_eq!(
        chunked(ecn_xml("EnumerateInstanceNames").as_bytes()).status,
        200
    );
    let mut big = ecn_xml("EnumerateInstanceNames").into_bytes();
    big.extend(std::iter::repeat_n(b' ', 70 * 1024));
    assert_eq!(chunked(&big).status, 413);
}

#[test]
fn content_type_rules() {
    let s = Server::start(|_| {});
    for ok in [
        "text/xml;charset=utf-8",
        "application/xml",
        "application/xml; charset=UTF-8",
    ] {
        assert_eq!(
            s.send(Req::ecn().set("Content-Type", ok)).status,
            200,
            "{ok}"
        );
    }
    for bad in [
        "text/plain",
        "application/xml; charset=iso-8859-1",
        "application/json",
    ] {
        let r = s.send(Req::ecn().set("Content-Type", bad));
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.cim_error(), Some("header-mismatch"), "{bad}");
    }
    let r = s.send(Req::ecn().remove("Content-Type"));
    assert_eq!((r.status, r.cim_error()), (400, Some("header-mismatch")));
    let r = s.send(Req::ecn().set("Content-Encoding", "gzip"));
    assert_eq!(r.status, 415);
}

#[test]
fn cim_header_rules() {
    let s = Server::start(|_| {});
    let check = |req: &Req, status: u16, err: &str| {
        let r = s.send(req);
        assert_eq!((r.status, r.cim_error()), (status, Some(err)), "{r:?}");
        assert!(r.header("PGErrorDetail").is_some());
    };
    check(
        Req::ecn().remove("CIMOperation"),
        400,
        "unsupported-operation",
    );
    check(
        Req::ecn().set("CIMOperation", "MethodResponse"),
        400,
        "unsupported-operation",
    );
    check(
        Req::ecn()
            .remove("CIMOperation")
            .set("CIMExport", "MethodRequest"),
        400,
        "unsupported-operation",
    );
    check(Req::ecn().remove("CIMMethod"), 400, "header-mismatch");
    check(Req::ecn().remove("CIMObject"), 400, "header-mismatch");
    check(
        Req::ecn().set("CIMMethod", "GetInstance"),
        400,
        "header-mismatch",
    );
    check(
        Req::ecn().set("CIMObject", "root/other"),
        400,
        "header-mismatch",
    );
    check(
        &Req::cim(&invoke_xml(), "Start", "root/dsimage:DS_Other.Name=\"x\""),
        400,
        "header-mismatch",
    );
    check(
        &Req::cim(&invoke_xml(), "Start", "root/other:DS_IISet"),
        400,
        "header-mismatch",
    );
    check(
        Req::ecn().set("CIMProtocolVersion", "2.0"),
        501,
        "unsupported-protocol-version",
    );
    // Lenient forms that real clients send.
    assert_eq!(
        s.send(Req::ecn().set("CIMObject", "root%2Fdsimage")).status,
        200
    );
    assert_eq!(
        s.send(Req::ecn().set("CIMObject", "/root/dsimage/")).status,
        200
    );
    assert_eq!(
        s.send(Req::ecn().set("CIMProtocolVersion", "1.4")).status,
        200
    );
    assert!(s.fake.calls.lock().unwrap().len() == 3);
}

#[test]
fn bad_bodies_get_400_with_the_dsp0200_error() {
    let s = Server::start(|_| {});
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE CIM [<!ENTITY a \"aaaaaaaaaa\">\
                <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><CIM>&b;</CIM>";
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (bomb.as_bytes().to_vec(), 400, "request-not-well-formed"),
        (b"<CIM><MESSAGE".to_vec(), 400, "request-not-well-formed"),
        (
            {
                let mut b = ecn_xml("EnumerateInstanceNames").into_bytes();
                let at = b.len() - 20;
                b[at] = 0xff;
                b
            },
            400,
            "request-not-well-formed",
        ),
        (
            message("<SIMPLEREQ><BOGUS/></SIMPLEREQ>").into_bytes(),
            400,
            "request-not-valid",
        ),
        (
            message("<MULTIREQ><SIMPLEREQ/><SIMPLEREQ/></MULTIREQ>").into_bytes(),
            501,
            "multiple-requests-unsupported",
        ),
    ];
    for (body, status, err) in cases {
        let r = s.send(Req::ecn().body(&body));
        assert_eq!((r.status, r.cim_error()), (status, Some(err)), "{r:?}");
    }
    assert!(s.fake.calls.lock().unwrap().is_empty());
}

#[test]
fn invalid_parameter_values_are_a_cim_error_in_a_200() {
    let s = Server::start(|_| {});
    let xml = message(&format!(
        "<SIMPLEREQ><IMETHODCALL NAME=\"GetInstance\">{}<IPARAMVALUE NAME=\"InstanceName\">\
         <INSTANCENAME CLASSNAME=\"DS_IISet\"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ>",
        ns_xml()
    ));
    let r = s.send(&Req::cim(&xml, "GetInstance", "root/dsimage"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("<ERROR CODE=\"4\""), "{}", r.body);
    assert!(
        r.body.contains("IMETHODRESPONSE NAME=\"GetInstance\""),
        "{}",
        r.body
    );
}

#[test]
fn object_manager_panic_is_cim_err_failed() {
    let s = Server::start(|_| {});
    let r = s.send(&Req::cim(&ecn_xml("Panic"), "Panic", "root/dsimage"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("<ERROR CODE=\"1\""), "{}", r.body);
    // The listener survives.
    assert_eq!(s.send(&Req::ecn()).status, 200);
}

#[test]
fn m_post_with_man_header() {
    let s = Server::start(|_| {});
    let mut req = Req::ecn();
    req.method = "M-POST".into();
    for h in ["CIMOperation", "CIMMethod", "CIMObject"] {
        let v = req.headers.iter().find(|(n, _)| n == h).unwrap().1.clone();
        req.remove(h).set(&format!("73-{h}"), &v);
    }
    req.set("Man", "http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73");
    let r = s.send(&req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Ext"), Some(""));
    assert_eq!(r.header("73-CIMOperation"), Some("MethodResponse"));
    // Prefixed errors too.
    let r = s.send(req.clone().set("73-CIMMethod", "GetClass"));
    assert_eq!(
        (r.status, r.header("73-CIMError")),
        (400, Some("header-mismatch"))
    );
    // M-POST that does not declare the CIM mapping.
    let r = s.send(req.clone().remove("Man"));
    assert_eq!(r.status, 510);
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let s = Server::start(|_| {});
    let mut c = Client::connect(s.addr());
    let mut req = Req::ecn();
    req.set("Connection", "Keep-Alive, TE")
        .set("TE", "trailers");
    assert_eq!(c.send(&req).status, 200);
    let r = c.send(&Req::cim(&invoke_xml(), "Start", "root/dsimage:DS_IISet"));
    assert_eq!(r.status, 200, "{r:?}");
    // A CIM-level rejection after the body was read keeps the connection too.
    assert_eq!(c.send(Req::ecn().set("CIMMethod", "X")).status, 400);
    assert_eq!(c.send(&Req::ecn()).status, 200);
    assert_eq!(s.fake.calls.lock().unwrap().len(), 3);
}

#[test]
fn slow_senders_time_out() {
    let s = Server::start(|c| c.read_timeout = Duration::from_secs(1));
    // Headers complete, body stalls: 408 and close.
    let req = Req::ecn();
    let mut c = Client::connect(s.addr());
    let t = Instant::now();
    c.stream.write_all(&req.head_bytes()).unwrap();
    c.stream.write_all(&req.body[..10]).unwrap();
    let r = c.read_reply();
    assert_eq!(r.status, 408);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(c.closed());
    // Headers stall: the connection is dropped.
    let mut c = Client::connect(s.addr());
    c.stream
        .write_all(b"POST /cimom HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t = Instant::now();
    assert!(c.closed());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn https_with_the_generated_certificate() {
    let s = Server::start(|_| {});
    let cert_path = s.dir.path().join("tls/cert.pem");
    let addr = s.handle.https_addr().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = rt.block_on(async move {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&cert_path).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let mut req = Req::ecn();
        req.set("Connection", "close");
        tls.write_all(&req.bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        out
    });
    let r = read_reply(&mut &reply[..]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("IMETHODRESPONSE"), "{}", r.body);
}

#[test]
fn shutdown_closes_the_ports() {
    let s = Server::start(|_| {});
    let addr = s.addr();
    assert_eq!(s.send(&Req::ecn()).status, 200);
    s.handle.shutdown().unwrap();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn bind_failure_is_reported() {
    let s = Server::start(|_| {});
    let dir = TempDir::new("bind");
    let mut cfg = ListenerConfig::new(dir.path());
    cfg.http = Some(s.addr());
    cfg.https = None;
    let e = spawn(cfg, Arc::new(Fake::default())).unwrap_err();
    assert!(e.to_string().contains(&s.addr().to_string()), "{e}");
}

fn wbemcli() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("wbemcli"))
            .find(|f| f.is_file())
    })
}

/// `wbemcli ein` (EnumerateInstanceNames) and `ecn` (EnumerateClassNames), over
/// HTTP and HTTPS, with results and with empty results.
#[test]
fn real_wbemcli_enumerates() {
    let Some(wbemcli) = wbemcli() else {
        println!("SKIPPED: wbemcli is not installed (Debian package sblim-wbemcli)");
        return;
    };
    let s = Server::start(|_| {});
    let url = format!(
        "http://{USER}:{PASSWORD}@127.0.0.1:{}/root/dsimage:DS_IISet",
        s.addr().port()
    );
    let run = |op: &str, url: &str| {
        let out = std::process::Command::new(&wbemcli)
            .args(["-noverify", op, url])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    *s.fake.names.lock().unwrap() = vec![ObjectPath {
        host: None,
        namespace: None,
        classname: "DS_IISet".into(),
        keybindings: vec![KeyBinding {
            name: "Name".into(),
            value: KeyValue::string("set1"),
        }],
    }];
    let (ok, text) = run("ein", &url);
    assert!(ok, "wbemcli ein failed: {text}");
    assert!(text.contains("DS_IISet.Name=\"set1\""), "{text}");
    let (ok, text) = run("ecn", &url);
    assert!(ok, "wbemcli ecn failed: {text}");
    assert!(text.contains(":DS_IISet"), "{text}");
    // HTTPS with the generated certificate.
    let https = format!(
        "https://{USER}:{PASSWORD}@127.0.0.1:{}/root/dsimage:DS_IISet",
        s.handle.https_addr().unwrap().port()
    );
    let (ok, text) = run("ein", &https);
    assert!(ok, "wbemcli ein over HTTPS failed: {text}");
    assert!(text.contains("DS_IISet.Name=\"set1\""), "{text}");
    assert_eq!(
        s.fake.calls.lock().unwrap().as_slice(),
        &[
            ("EnumerateInstanceNames".to_string(), USER.to_string()),
            ("EnumerateClassNames".to_string(), USER.to_string()),
            ("EnumerateInstanceNames".to_string(), USER.to_string()),
        ]
    );
    // A wrong password fails.
    let (ok, text) = run("ein", &url.replace(PASSWORD, "nope"));
    assert!(!ok, "{text}");
    // Empty results. wbemcli's parser cannot read an empty-element
    // `<IRETURNVALUE/>`; it needs `<IRETURNVALUE></IRETURNVALUE>`.
    s.fake.names.lock().unwrap().clear();
    for op in ["ein", "ecn"] {
        let (ok, text) = run(op, &url);
        assert!(
            ok,
            "wbemcli {op} failed on an empty result: {text}\n(cim::xml_write must write an \
             empty IRETURNVALUE as a start and an end tag, not as an empty-element tag)"
        );
    }
}

/// A Python with pywbem: `$DSIMAGE_TEST_PYTHON` or `python3`, if it imports pywbem.
fn pywbem_python() -> Option<String> {
    let python = std::env::var("DSIMAGE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pywbem"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

const PYWBEM_SCRIPT: &str = r#"
import sys, pywbem
url, user, password, ca = sys.argv[1:5]
def conn(pw):
    return pywbem.WBEMConnection(url, (user, pw), default_namespace='root/dsimage',
                                 ca_certs=ca)
c = conn(password)
names = c.EnumerateInstanceNames('DS_IISet')
assert len(names) == 1 and names[0]['Name'] == 'set1', names
c.InvokeMethod('Start', names[0])
c.InvokeMethod('Start', pywbem.CIMClassName('DS_IISet', namespace='root/dsimage'))
try:
    conn('wrong').EnumerateInstanceNames('DS_IISet')
    sys.exit('wrong password accepted')
except pywbem.AuthError:
    pass
print('pywbem ok')
"#;

/// pywbem over HTTP and HTTPS: enumeration, extrinsic calls on an instance and a
/// class, and a refused password.
#[test]
fn real_pywbem_client() {
    let Some(python) = pywbem_python() else {
        println!("SKIPPED: no Python with pywbem (set DSIMAGE_TEST_PYTHON)");
        return;
    };
    let s = Server::start(|_| {});
    *s.fake.names.lock().unwrap() = vec![ObjectPath {
        host: None,
        namespace: None,
        classname: "DS_IISet".into(),
        keybindings: vec![KeyBinding {
            name: "Name".into(),
            value: KeyValue::string("set1"),
        }],
    }];
    let urls = [
        format!("http://127.0.0.1:{}", s.addr().port()),
        format!(
            "https://localhost:{}",
            s.handle.https_addr().unwrap().port()
        ),
    ];
    let ca = s.dir.path().join("tls/cert.pem");
    for url in urls {
        // requests lets these override the CA given by the program.
        let out = std::process::Command::new(&python)
            .args(["-c", PYWBEM_SCRIPT, &url, USER, PASSWORD])
            .arg(&ca)
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pywbem against {url}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(s.fake.calls.lock().unwrap().len(), 6);
}
