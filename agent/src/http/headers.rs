//! The HTTP side of a CIM operation request (DSP0200 chapter 6/7): finding the CIM
//! extension headers (also under an M-POST `Man` namespace prefix), checking
//! `Content-Type`, `Content-Length`, `CIMOperation`, `CIMProtocolVersion`, and that
//! `CIMMethod`/`CIMObject` agree with the body. Pure functions over header maps, so
//! every rule is testable without a socket.

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::StatusCode;

use crate::cim::types::name_eq;
use crate::cim::{MethodTarget, Request};

/// The extension URI that M-POST's `Man` header must name (DSP0200 6.1).
pub const CIM_MAPPING_URI: &str = "http://www.dmtf.org/cim/mapping/http/v1.0";

/// Longest `Authorization` header accepted. A Basic value for a 64-byte user and a
/// 1024-byte password is far shorter; the bound keeps untrusted input small before
/// any decoding happens (the lesson of OpenPegasus CVE-2008-0003).
pub const MAX_AUTHORIZATION_LEN: usize = 4096;

/// Values of the `CIMError` response header (DSP0200 7.1).
pub mod cim_error {
    pub const UNSUPPORTED_PROTOCOL_VERSION: &str = "unsupported-protocol-version";
    pub const MULTIPLE_REQUESTS_UNSUPPORTED: &str = "multiple-requests-unsupported";
    pub const REQUEST_NOT_VALID: &str = "request-not-valid";
    pub const REQUEST_NOT_WELL_FORMED: &str = "request-not-well-formed";
    pub const HEADER_MISMATCH: &str = "header-mismatch";
    pub const UNSUPPORTED_OPERATION: &str = "unsupported-operation";
}

/// Why a request is refused before it reaches the object manager.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("method not allowed (use POST or M-POST)")]
    Method,
    #[error("M-POST without a Man header naming {CIM_MAPPING_URI}")]
    NotExtended,
    #[error("Authorization header longer than {MAX_AUTHORIZATION_LEN} bytes")]
    AuthorizationTooLarge,
    #[error("Content-Length is required")]
    LengthRequired,
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid Content-Length")]
    BadLength,
    #[error("unsupported Content-Encoding {0:?} (only identity)")]
    ContentEncoding(String),
    #[error("{0}")]
    ContentType(String),
    #[error("{0}")]
    Operation(String),
    #[error("unsupported CIMProtocolVersion {0:?} (1.x supported)")]
    ProtocolVersion(String),
    #[error("{0}")]
    Mismatch(String),
    #[error("request body not received in time")]
    Timeout,
    #[error("{0}")]
    NotWellFormed(String),
    #[error("{0}")]
    NotValid(String),
    #[error("{0}")]
    MultipleRequests(String),
}

impl Reject {
    pub fn status(&self) -> StatusCode {
        use Reject::*;
        match self {
            Method => StatusCode::METHOD_NOT_ALLOWED,
            NotExtended => StatusCode::NOT_EXTENDED,
            AuthorizationTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            LengthRequired => StatusCode::LENGTH_REQUIRED,
            TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Timeout => StatusCode::REQUEST_TIMEOUT,
            ProtocolVersion(_) | MultipleRequests(_) => StatusCode::NOT_IMPLEMENTED,
            BadLength | ContentType(_) | Operation(_) | Mismatch(_) | NotWellFormed(_)
            | NotValid(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The `CIMError` header value, where DSP0200 defines one.
    pub fn cim_error(&self) -> Option<&'static str> {
        use Reject::*;
        Some(match self {
            ContentType(_) | Mismatch(_) => cim_error::HEADER_MISMATCH,
            Operation(_) => cim_error::UNSUPPORTED_OPERATION,
            ProtocolVersion(_) => cim_error::UNSUPPORTED_PROTOCOL_VERSION,
            NotWellFormed(_) => cim_error::REQUEST_NOT_WELL_FORMED,
            NotValid(_) => cim_error::REQUEST_NOT_VALID,
            MultipleRequests(_) => cim_error::MULTIPLE_REQUESTS_UNSUPPORTED,
            _ => return None,
        })
    }
}

/// How the CIM headers of one request are named: plain for POST, `NN-` prefixed for
/// an M-POST whose `Man` header declared `ns=NN`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Naming {
    pub prefix: Option<String>,
}

impl Naming {
    /// For M-POST: the `ns` of the `Man` entry naming the CIM mapping.
    pub fn from_man(headers: &HeaderMap) -> Result<Naming, Reject> {
        for v in headers.get_all("man") {
            let Ok(v) = v.to_str() else { continue };
            for entry in v.split(',') {
                let mut parts = entry.split(';');
                let uri = parts.next().unwrap_or("").trim().trim_matches('"');
                if uri != CIM_MAPPING_URI {
                    continue;
                }
                let ns = parts.find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("ns")
                        .then(|| v.trim().trim_matches('"').to_string())
                });
                return match ns {
                    Some(ns) if !ns.is_empty() && ns.bytes().all(|b| b.is_ascii_digit()) => {
                        Ok(Naming { prefix: Some(ns) })
                    }
                    Some(_) => Err(Reject::NotExtended),
                    None => Ok(Naming { prefix: None }),
                };
            }
        }
        Err(Reject::NotExtended)
    }

    /// The name a CIM header has in this request/response.
    pub fn name(&self, base: &str) -> HeaderName {
        let s = match &self.prefix {
            Some(p) => format!("{p}-{base}"),
            None => base.to_string(),
        };
        HeaderName::from_bytes(s.as_bytes()).expect("CIM header names are tokens")
    }

    /// A CIM header's value; under M-POST the unprefixed form is accepted too, as
    /// OpenPegasus does, since some clients prefix only some headers.
    pub fn get<'a>(&self, headers: &'a HeaderMap, base: &str) -> Option<&'a HeaderValue> {
        headers
            .get(self.name(base))
            .or_else(|| self.prefix.as_ref().and_then(|_| headers.get(base)))
    }
}

/// Checks the Authorization header's size before anything decodes it.
pub fn check_authorization_size(headers: &HeaderMap) -> Result<(), Reject> {
    let total: usize = headers
        .get_all(hyper::header::AUTHORIZATION)
        .iter()
        .map(|v| v.len())
        .sum();
    if total > MAX_AUTHORIZATION_LEN {
        Err(Reject::AuthorizationTooLarge)
    } else {
        Ok(())
    }
}

/// How long the body is, as announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    Known(u64),
    Chunked,
}

/// `Content-Length` (required unless chunked; every copy must agree) against
/// `limit`. hyper has already refused the framing-level ambiguities (differing
/// duplicates, garbage, both CL and TE); this is the second line.
pub fn body_length(headers: &HeaderMap, limit: usize) -> Result<BodyLength, Reject> {
    let chunked = headers.get_all(TRANSFER_ENCODING).iter().any(|v| {
        v.to_str()
            .map(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
            })
            .unwrap_or(false)
    });
    let mut length: Option<u64> = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        let s = v.to_str().map_err(|_| Reject::BadLength)?;
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reject::BadLength);
            }
            let n: u64 = part.parse().map_err(|_| Reject::BadLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(Reject::BadLength);
            }
            length = Some(n);
        }
    }
    match (length, chunked) {
        (_, true) => Ok(BodyLength::Chunked),
        (Some(n), false) if n > limit as u64 => Err(Reject::TooLarge { limit }),
        (Some(n), false) => Ok(BodyLength::Known(n)),
        (None, false) => Err(Reject::LengthRequired),
    }
}

/// Only identity content coding is understood.
pub fn check_content_encoding(headers: &HeaderMap) -> Result<(), Reject> {
    for v in headers.get_all(hyper::header::CONTENT_ENCODING) {
        let s = v.to_str().unwrap_or("?").trim();
        if !s.is_empty() && !s.eq_ignore_ascii_case("identity") {
            return Err(Reject::ContentEncoding(s.to_string()));
        }
    }
    Ok(())
}

/// `application/xml` or `text/xml`, with no charset or UTF-8 (quoted or not).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Reject> {
    let v = headers
        .get(hyper::header::CONTENT_TYPE)
        .ok_or_else(|| Reject::ContentType("Content-Type is required".into()))?;
    let s = v
        .to_str()
        .map_err(|_| Reject::ContentType("Content-Type is not ASCII".into()))?;
    let mut parts = s.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/xml") && !media.eq_ignore_ascii_case("text/xml") {
        return Err(Reject::ContentType(format!(
            "unsupported Content-Type {media:?} (application/xml or text/xml)"
        )));
    }
    for p in parts {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("charset") {
            let cs = val.trim().trim_matches('"').trim();
            if !cs.eq_ignore_ascii_case("utf-8") && !cs.eq_ignore_ascii_case("utf8") {
                return Err(Reject::ContentType(format!(
                    "unsupported charset {cs:?} (only UTF-8)"
                )));
            }
        }
    }
    Ok(())
}

/// `CIMOperation: MethodCall` (an export request is not for us: we are no listener).
pub fn check_operation(headers: &HeaderMap, naming: &Naming) -> Result<(), Reject> {
    match naming.get(headers, "CIMOperation").map(|v| v.to_str()) {
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("MethodCall") => Ok(()),
        Some(Ok(v)) => Err(Reject::Operation(format!(
            "unsupported CIMOperation {v:?} (MethodCall expected)"
        ))),
        Some(Err(_)) => Err(Reject::Operation("CIMOperation is not ASCII".into())),
        None if naming.get(headers, "CIMExport").is_some() => Err(Reject::Operation(
            "export requests are not accepted here (no indication listener)".into(),
        )),
        None => Err(Reject::Operation("CIMOperation header is missing".into())),
    }
}

/// `CIMProtocolVersion`, when present, must be 1.x.
pub fn check_protocol_version(headers: &HeaderMap, naming: &Naming) -> Result<(), Reject> {
    let Some(v) = naming.get(headers, "CIMProtocolVersion") else {
        return Ok(());
    };
    let s = v.to_str().unwrap_or("").trim();
    let ok = s
        .strip_prefix("1.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Reject::ProtocolVersion(s.to_string()))
    }
}

/// `CIMMethod` and `CIMObject`, decoded; both required for a method call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimTarget {
    pub method: String,
    pub object: String,
}

pub fn cim_target(headers: &HeaderMap, naming: &Naming) -> Result<CimTarget, Reject> {
    let get = |name: &str| -> Result<String, Reject> {
        let v = naming
            .get(headers, name)
            .ok_or_else(|| Reject::Mismatch(format!("{name} header is missing")))?;
        percent_decode(v.as_bytes())
            .ok_or_else(|| Reject::Mismatch(format!("{name} header is not valid %-encoded UTF-8")))
    };
    Ok(CimTarget {
        method: get("CIMMethod")?,
        object: get("CIMObject")?,
    })
}

/// DSP0200's header encoding: UTF-8, then %-escapes. Invalid escapes are kept
/// literally (lenient), invalid UTF-8 is refused.
pub fn percent_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' && i + 2 < raw.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).ok().map(|s| s.trim().to_string())
}

fn norm_ns(ns: &str) -> String {
    ns.trim().trim_matches('/').to_ascii_lowercase()
}

/// Splits a decoded CIMObject of an extrinsic call into (namespace, class name):
/// `root/ns:Class.Key="v"` or `root/ns:Class`, optionally after `//host/`.
fn split_object(object: &str) -> Option<(&str, &str)> {
    let mut o = object.trim();
    if let Some(rest) = o.strip_prefix("//") {
        o = &rest[rest.find('/')?..];
    }
    // The namespace ends at the first ':' that comes before any key text.
    let stop = o.find(['.', '"', '=']).unwrap_or(o.len());
    let colon = o[..stop].find(':')?;
    let (ns, rest) = (&o[..colon], &o[colon + 1..]);
    let class = &rest[..rest.find('.').unwrap_or(rest.len())];
    Some((ns, class.trim()))
}

/// Checks that `CIMMethod` and `CIMObject` name what the body does. Keys are not
/// compared: their quoting and order vary between clients and the body is what is
/// executed; a different method, namespace or class is a clear mismatch.
pub fn check_consistent(target: &CimTarget, req: &Request) -> Result<(), Reject> {
    if !target.method.eq_ignore_ascii_case(req.method()) {
        return Err(Reject::Mismatch(format!(
            "CIMMethod {:?} does not match the body's {:?}",
            target.method,
            req.method()
        )));
    }
    let mismatch = |what: &str| {
        Err(Reject::Mismatch(format!(
            "CIMObject {:?} does not match the body's {what}",
            target.object
        )))
    };
    match req {
        Request::IMethodCall { namespace, .. } => {
            if norm_ns(&target.object) != norm_ns(namespace) {
                return mismatch(&format!("namespace {namespace:?}"));
            }
        }
        Request::MethodCall { target: t, .. } => {
            let (ns, class) = match split_object(&target.object) {
                Some(x) => x,
                None => return mismatch("object path"),
            };
            if norm_ns(ns) != norm_ns(t.namespace()) || !name_eq(class, t.classname()) {
                let what = match t {
                    MethodTarget::Class { .. } => "class path",
                    MethodTarget::Instance(_) => "instance path",
                };
                return mismatch(&format!("{what} {}:{}", t.namespace(), t.classname()));
            }
        }
        Request::ExportMethodCall { .. } => {
            return Err(Reject::Operation(
                "export requests are not accepted here (no indication listener)".into(),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn man_header() {
        let h = map(&[("Man", "http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73")]);
        let n = Naming::from_man(&h).unwrap();
        assert_eq!(n.prefix.as_deref(), Some("73"));
        assert_eq!(n.name("CIMMethod").as_str(), "73-cimmethod");
        let h = map(&[("Man", "\"http://www.dmtf.org/cim/mapping/http/v1.0\";ns=01")]);
        assert_eq!(Naming::from_man(&h).unwrap().prefix.as_deref(), Some("01"));
        assert_eq!(
            Naming::from_man(&map(&[("Man", "http://example.com/x;ns=1")])),
            Err(Reject::NotExtended)
        );
        assert_eq!(Naming::from_man(&map(&[])), Err(Reject::NotExtended));
    }

    #[test]
    fn content_length_rules() {
        let l = |p: &[(&str, &str)]| body_length(&map(p), 100);
        assert_eq!(l(&[("Content-Length", "5")]), Ok(BodyLength::Known(5)));
        assert_eq!(l(&[("Content-Length", "5, 5")]), Ok(BodyLength::Known(5)));
        assert_eq!(l(&[]), Err(Reject::LengthRequired));
        assert_eq!(
            l(&[("Transfer-Encoding", "chunked")]),
            Ok(BodyLength::Chunked)
        );
        assert_eq!(
            l(&[("Content-Length", "101")]),
            Err(Reject::TooLarge { limit: 100 })
        );
        assert_eq!(l(&[("Content-Length", "-1")]), Err(Reject::BadLength));
        assert_eq!(l(&[("Content-Length", "1x")]), Err(Reject::BadLength));
        assert_eq!(
            l(&[("Content-Length", "1"), ("Content-Length", "2")]),
            Err(Reject::BadLength)
        );
        assert_eq!(
            l(&[("Content-Length", "99999999999999999999999")]),
            Err(Reject::BadLength)
        );
    }

    #[test]
    fn content_type_rules() {
        let ok = |v: &str| check_content_type(&map(&[("Content-Type", v)])).is_ok();
        assert!(ok("application/xml; charset=\"utf-8\""));
        assert!(ok("text/xml;charset=UTF-8"));
        assert!(ok("application/xml"));
        assert!(ok("Application/XML ; charset = \"UTF-8\""));
        assert!(!ok("application/xml; charset=iso-8859-1"));
        assert!(!ok("application/json"));
        assert!(check_content_type(&map(&[])).is_err());
        let e = check_content_type(&map(&[("Content-Type", "text/plain")])).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.cim_error(), Some("header-mismatch"));
    }

    #[test]
    fn operation_and_version() {
        let n = Naming::default();
        assert!(check_operation(&map(&[("CIMOperation", "MethodCall")]), &n).is_ok());
        let e = check_operation(&map(&[("CIMOperation", "MethodResponse")]), &n).unwrap_err();
        assert_eq!(e.cim_error(), Some("unsupported-operation"));
        assert!(check_operation(&map(&[]), &n).is_err());
        assert!(check_protocol_version(&map(&[]), &n).is_ok());
        assert!(check_protocol_version(&map(&[("CIMProtocolVersion", "1.0")]), &n).is_ok());
        assert!(check_protocol_version(&map(&[("CIMProtocolVersion", "1.4")]), &n).is_ok());
        let e = check_protocol_version(&map(&[("CIMProtocolVersion", "2.0")]), &n).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(e.cim_error(), Some("unsupported-protocol-version"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"root%2Fdsimage").unwrap(), "root/dsimage");
        assert_eq!(percent_decode(b"a%3Ab%").unwrap(), "a:b%");
        assert_eq!(percent_decode(b"%zz").unwrap(), "%zz");
        assert_eq!(percent_decode(b"%C3%A9").unwrap(), "\u{e9}");
        assert_eq!(percent_decode(b"%FF"), None);
    }

    #[test]
    fn object_paths_split() {
        assert_eq!(
            split_object("root/dsimage:DS_IISet.Name=\"a:b.c\""),
            Some(("root/dsimage", "DS_IISet"))
        );
        assert_eq!(split_object("root/x:C"), Some(("root/x", "C")));
        assert_eq!(
            split_object("//host:5988/root/x:C.k=1"),
            Some(("/root/x", "C"))
        );
        assert_eq!(split_object("C.k=\"x:y\""), None);
    }
}
