//! Serialisation of CIM objects and messages to CIM-XML (DSP0201). This is
//! the only place CIM-XML is produced. Text is always escaped with entity
//! and character references; CDATA is never used.

use std::fmt::Write as _;

use super::error::CimError;
use super::message::{
    IMethodResult, IReturnValue, MethodResult, MethodTarget, ParamData, ParamValue, Request,
    Response,
};
use super::types::{
    Class, EmbeddedObject, Flavors, Instance, KeyValue, Method, ObjectPath, Property, Qualifier,
    QualifierDecl,
};
use super::value::{CimType, RawValue, Scalar, Value};

/// The XML declaration and `CIM` root start tag that every message starts with.
pub const XML_DECL: &str = r#"<?xml version="1.0" encoding="utf-8" ?>"#;

/// Host written into `INSTANCEPATH`s whose path carries none (the element
/// requires one).
const DEFAULT_HOST: &str = "localhost";

/// Escapes character data. Besides the markup characters, control
/// characters become character references so they survive parsing
/// (a literal CR would otherwise be normalised to LF).
pub fn escape_text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value; tab and newlines are also referenced
/// because attribute-value normalisation would turn them into spaces.
pub fn escape_attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' if !attr => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Minimal XML builder: a string buffer plus start/end/empty helpers.
#[derive(Debug, Default)]
struct Out {
    buf: String,
}

impl Out {
    fn open_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.buf, " {k}=\"{}\"", escape_attr(v));
        }
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open_tag(name, attrs);
        self.buf.push('>');
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open_tag(name, attrs);
        self.buf.push_str("/>");
    }

    /// An element with no content written as a start and an end tag. sblim wbemcli's
    /// parser takes `<PROPERTY .../>` (and other elements that may have content) for a
    /// start tag and then fails; only always-empty elements may be self-closing.
    fn empty_pair(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.end(name);
    }

    fn end(&mut self, name: &str) {
        let _ = write!(self.buf, "</{name}>");
    }

    fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.buf.push_str(&escape_text(text));
        self.end(name);
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

// ---- values ---------------------------------------------------------------

fn value_text(o: &mut Out, text: &str) {
    o.text_element("VALUE", &[], text);
}

fn raw_value(o: &mut Out, v: &RawValue) {
    match v {
        RawValue::Text(t) => value_text(o, t),
        RawValue::Array(items) => {
            o.start("VALUE.ARRAY", &[]);
            for i in items {
                match i {
                    Some(t) => value_text(o, t),
                    None => o.empty("VALUE.NULL", &[]),
                }
            }
            o.end("VALUE.ARRAY");
        }
        RawValue::Reference(p) => value_reference(o, p),
        RawValue::RefArray(items) => {
            o.start("VALUE.REFARRAY", &[]);
            for i in items {
                match i {
                    Some(p) => value_reference(o, p),
                    None => o.empty("VALUE.NULL", &[]),
                }
            }
            o.end("VALUE.REFARRAY");
        }
    }
}

fn value(o: &mut Out, v: &Value) {
    raw_value(o, &RawValue::from_value(v));
}

// ---- paths ----------------------------------------------------------------

fn local_namespace_path(o: &mut Out, ns: &str) {
    o.start("LOCALNAMESPACEPATH", &[]);
    for c in ns.split('/').filter(|c| !c.is_empty()) {
        o.empty("NAMESPACE", &[("NAME", c)]);
    }
    o.end("LOCALNAMESPACEPATH");
}

fn namespace_path(o: &mut Out, host: Option<&str>, ns: &str) {
    o.start("NAMESPACEPATH", &[]);
    o.text_element("HOST", &[], host.unwrap_or(DEFAULT_HOST));
    local_namespace_path(o, ns);
    o.end("NAMESPACEPATH");
}

fn instance_name(o: &mut Out, p: &ObjectPath) {
    o.start("INSTANCENAME", &[("CLASSNAME", &p.classname)]);
    for kb in &p.keybindings {
        o.start("KEYBINDING", &[("NAME", &kb.name)]);
        match &kb.value {
            KeyValue::Reference(r) => value_reference(o, r),
            KeyValue::String { value, cimtype } => {
                let mut attrs = vec![("VALUETYPE", "string")];
                if let Some(t) = cimtype {
                    attrs.push(("TYPE", t.as_str()));
                }
                o.text_element("KEYVALUE", &attrs, value);
            }
            KeyValue::Boolean(b) => o.text_element(
                "KEYVALUE",
                &[("VALUETYPE", "boolean"), ("TYPE", "boolean")],
                if *b { "TRUE" } else { "FALSE" },
            ),
            KeyValue::Numeric { value, cimtype } => {
                let mut attrs = vec![("VALUETYPE", "numeric")];
                if let Some(t) = cimtype {
                    attrs.push(("TYPE", t.as_str()));
                }
                o.text_element("KEYVALUE", &attrs, &value.to_text());
            }
        }
        o.end("KEYBINDING");
    }
    o.end("INSTANCENAME");
}

fn local_instance_path(o: &mut Out, p: &ObjectPath) {
    o.start("LOCALINSTANCEPATH", &[]);
    local_namespace_path(o, p.namespace.as_deref().unwrap_or(""));
    instance_name(o, p);
    o.end("LOCALINSTANCEPATH");
}

fn instance_path(o: &mut Out, p: &ObjectPath) {
    o.start("INSTANCEPATH", &[]);
    namespace_path(o, p.host.as_deref(), p.namespace.as_deref().unwrap_or(""));
    instance_name(o, p);
    o.end("INSTANCEPATH");
}

/// `VALUE.REFERENCE`, choosing the most specific path form the path supports.
fn value_reference(o: &mut Out, p: &ObjectPath) {
    o.start("VALUE.REFERENCE", &[]);
    match (&p.host, &p.namespace) {
        (Some(_), Some(_)) => instance_path(o, p),
        (None, Some(_)) => local_instance_path(o, p),
        _ => instance_name(o, p),
    }
    o.end("VALUE.REFERENCE");
}

// ---- declarations ---------------------------------------------------------

fn flavor_attrs(f: &Flavors, attrs: &mut Vec<(&'static str, &'static str)>) {
    if !f.overridable {
        attrs.push(("OVERRIDABLE", "false"));
    }
    if !f.tosubclass {
        attrs.push(("TOSUBCLASS", "false"));
    }
    if f.translatable {
        attrs.push(("TRANSLATABLE", "true"));
    }
}

fn qualifier(o: &mut Out, q: &Qualifier) {
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &q.name), ("TYPE", q.cimtype.as_str())];
    if q.propagated {
        attrs.push(("PROPAGATED", "true"));
    }
    let mut fl = Vec::new();
    flavor_attrs(&q.flavors, &mut fl);
    attrs.extend(fl);
    match &q.value {
        Some(v) => {
            o.start("QUALIFIER", &attrs);
            value(o, v);
            o.end("QUALIFIER");
        }
        None => o.empty_pair("QUALIFIER", &attrs),
    }
}

fn qualifier_declaration(o: &mut Out, q: &QualifierDecl) {
    let size = q.array_size.map(|s| s.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![
        ("NAME", &q.name),
        ("TYPE", q.cimtype.as_str()),
        ("ISARRAY", bool_str(q.is_array)),
    ];
    if let Some(s) = &size {
        attrs.push(("ARRAYSIZE", s));
    }
    let mut fl = Vec::new();
    flavor_attrs(&q.flavors, &mut fl);
    attrs.extend(fl);
    o.start("QUALIFIER.DECLARATION", &attrs);
    let s = &q.scope;
    let scope: Vec<(&str, &str)> = [
        ("CLASS", s.class),
        ("ASSOCIATION", s.association),
        ("REFERENCE", s.reference),
        ("PROPERTY", s.property),
        ("METHOD", s.method),
        ("PARAMETER", s.parameter),
        ("INDICATION", s.indication),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(k, _)| (k, "true"))
    .collect();
    o.empty("SCOPE", &scope);
    if let Some(v) = &q.value {
        value(o, v);
    }
    o.end("QUALIFIER.DECLARATION");
}

fn property(o: &mut Out, p: &Property) {
    let size = p.array_size.map(|s| s.to_string());
    let (elem, mut attrs): (&str, Vec<(&str, &str)>) = if p.cimtype == CimType::Reference {
        let mut a = vec![("NAME", p.name.as_str())];
        if let Some(rc) = &p.reference_class {
            a.push(("REFERENCECLASS", rc));
        }
        ("PROPERTY.REFERENCE", a)
    } else if p.is_array {
        let mut a = vec![("NAME", p.name.as_str()), ("TYPE", p.cimtype.as_str())];
        if let Some(s) = &size {
            a.push(("ARRAYSIZE", s));
        }
        ("PROPERTY.ARRAY", a)
    } else {
        (
            "PROPERTY",
            vec![("NAME", p.name.as_str()), ("TYPE", p.cimtype.as_str())],
        )
    };
    if let Some(co) = &p.class_origin {
        attrs.push(("CLASSORIGIN", co));
    }
    if p.propagated {
        attrs.push(("PROPAGATED", "true"));
    }
    if let Some(eo) = p.embedded_object {
        if elem != "PROPERTY.REFERENCE" {
            attrs.push(("EmbeddedObject", eo.as_str()));
        }
    }
    if p.qualifiers.is_empty() && p.value.is_none() {
        o.empty_pair(elem, &attrs);
        return;
    }
    o.start(elem, &attrs);
    for q in &p.qualifiers {
        qualifier(o, q);
    }
    if let Some(v) = &p.value {
        value(o, v);
    }
    o.end(elem);
}

fn method(o: &mut Out, m: &Method) {
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &m.name), ("TYPE", m.return_type.as_str())];
    if let Some(co) = &m.class_origin {
        attrs.push(("CLASSORIGIN", co));
    }
    if m.propagated {
        attrs.push(("PROPAGATED", "true"));
    }
    o.start("METHOD", &attrs);
    for q in &m.qualifiers {
        qualifier(o, q);
    }
    for p in &m.parameters {
        let size = p.array_size.map(|s| s.to_string());
        let refclass = p.reference_class.as_deref().unwrap_or("");
        let is_ref = p.cimtype == CimType::Reference;
        let (elem, mut attrs): (&str, Vec<(&str, &str)>) = match (is_ref, p.is_array) {
            (false, false) => (
                "PARAMETER",
                vec![("NAME", &p.name), ("TYPE", p.cimtype.as_str())],
            ),
            (false, true) => (
                "PARAMETER.ARRAY",
                vec![("NAME", &p.name), ("TYPE", p.cimtype.as_str())],
            ),
            (true, false) => ("PARAMETER.REFERENCE", vec![("NAME", &p.name)]),
            (true, true) => ("PARAMETER.REFARRAY", vec![("NAME", &p.name)]),
        };
        if is_ref && p.reference_class.is_some() {
            attrs.push(("REFERENCECLASS", refclass));
        }
        if p.is_array {
            if let Some(s) = &size {
                attrs.push(("ARRAYSIZE", s));
            }
        }
        o.start(elem, &attrs);
        for q in &p.qualifiers {
            qualifier(o, q);
        }
        o.end(elem);
    }
    o.end("METHOD");
}

fn class(o: &mut Out, c: &Class) {
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &c.name)];
    if let Some(s) = &c.superclass {
        attrs.push(("SUPERCLASS", s));
    }
    o.start("CLASS", &attrs);
    for q in &c.qualifiers {
        qualifier(o, q);
    }
    for p in &c.properties {
        property(o, p);
    }
    for m in &c.methods {
        method(o, m);
    }
    o.end("CLASS");
}

fn instance(o: &mut Out, i: &Instance) {
    o.start("INSTANCE", &[("CLASSNAME", &i.classname)]);
    for q in &i.qualifiers {
        qualifier(o, q);
    }
    for p in &i.properties {
        property(o, p);
    }
    o.end("INSTANCE");
}

// ---- public element-level API --------------------------------------------

macro_rules! element_fn {
    ($($(#[$m:meta])* $name:ident($t:ty) => $f:ident;)*) => {$(
        $(#[$m])*
        pub fn $name(x: &$t) -> String {
            let mut o = Out::default();
            $f(&mut o, x);
            o.buf
        }
    )*};
}

element_fn! {
    /// A `CLASS` element.
    class_xml(Class) => class;
    /// An `INSTANCE` element (also the text of an embedded instance).
    instance_xml(Instance) => instance;
    /// An `INSTANCENAME` element.
    instance_name_xml(ObjectPath) => instance_name;
    /// A `QUALIFIER.DECLARATION` element.
    qualifier_declaration_xml(QualifierDecl) => qualifier_declaration;
    /// A `VALUE`/`VALUE.ARRAY`/`VALUE.REFERENCE` element.
    value_xml(Value) => value;
}

/// A string property carrying an embedded instance (e.g. the
/// `SourceInstance` of a CIM_InstCreation indication).
pub fn embedded_instance_property(name: &str, inst: &Instance) -> Property {
    let mut p = Property::with_value(name, Value::string(instance_xml(inst)));
    p.embedded_object = Some(EmbeddedObject::Instance);
    p
}

/// A `CIM`/`DECLARATION` document holding classes, one `VALUE.OBJECT`
/// each (used to diff our compiled schema against other compilers).
pub fn declaration_document(classes: &[&Class]) -> String {
    let mut o = Out::default();
    o.buf.push_str(XML_DECL);
    o.start("CIM", &[("CIMVERSION", "2.0"), ("DTDVERSION", "2.0")]);
    o.start("DECLARATION", &[]);
    o.start("DECLGROUP", &[]);
    for c in classes {
        o.start("VALUE.OBJECT", &[]);
        class(&mut o, c);
        o.end("VALUE.OBJECT");
    }
    o.end("DECLGROUP");
    o.end("DECLARATION");
    o.end("CIM");
    o.buf
}

// ---- messages -------------------------------------------------------------

fn message_start(o: &mut Out, id: &str) {
    o.buf.push_str(XML_DECL);
    o.start("CIM", &[("CIMVERSION", "2.0"), ("DTDVERSION", "2.0")]);
    o.start("MESSAGE", &[("ID", id), ("PROTOCOLVERSION", "1.0")]);
}

fn message_end(o: &mut Out) {
    o.end("MESSAGE");
    o.end("CIM");
}

fn param_data(o: &mut Out, d: &ParamData) {
    match d {
        ParamData::Null => {}
        ParamData::Value(v) => raw_value(o, v),
        ParamData::ClassName(c) => o.empty("CLASSNAME", &[("NAME", c)]),
        ParamData::InstanceName(p) => instance_name(o, p),
        ParamData::QualifierDecl(q) => qualifier_declaration(o, q),
        ParamData::Class(c) => class(o, c),
        ParamData::Instance(i) => instance(o, i),
        ParamData::NamedInstance(p, i) => {
            o.start("VALUE.NAMEDINSTANCE", &[]);
            instance_name(o, p);
            instance(o, i);
            o.end("VALUE.NAMEDINSTANCE");
        }
    }
}

fn named_param(o: &mut Out, elem: &str, name: &str, d: &ParamData) {
    if *d == ParamData::Null {
        o.empty_pair(elem, &[("NAME", name)]);
    } else {
        o.start(elem, &[("NAME", name)]);
        param_data(o, d);
        o.end(elem);
    }
}

fn param_value(o: &mut Out, p: &ParamValue) {
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &p.name)];
    if let Some(t) = p.paramtype {
        attrs.push(("PARAMTYPE", t.as_str()));
    }
    if let Some(e) = p.embedded_object {
        attrs.push(("EmbeddedObject", e.as_str()));
    }
    o.start("PARAMVALUE", &attrs);
    param_data(o, &p.data);
    o.end("PARAMVALUE");
}

fn error(o: &mut Out, e: &CimError) {
    let code = e.status.code().to_string();
    let mut attrs: Vec<(&str, &str)> = vec![("CODE", &code)];
    if !e.description.is_empty() {
        attrs.push(("DESCRIPTION", &e.description));
    }
    o.empty("ERROR", &attrs);
}

/// An empty IRETURNVALUE, as a start and an end tag (see [`Out::empty_pair`]).
fn empty_ireturn_value(o: &mut Out) {
    o.empty_pair("IRETURNVALUE", &[]);
}

fn ireturn_value(o: &mut Out, v: &IReturnValue) {
    fn list<T>(o: &mut Out, items: &[T], mut f: impl FnMut(&mut Out, &T)) {
        o.start("IRETURNVALUE", &[]);
        for i in items {
            f(o, i);
        }
        o.end("IRETURNVALUE");
    }
    match v {
        IReturnValue::None => {}
        IReturnValue::Empty => empty_ireturn_value(o),
        IReturnValue::ClassNames(v) => list(o, v, |o, c| o.empty("CLASSNAME", &[("NAME", c)])),
        IReturnValue::InstanceNames(v) => list(o, v, instance_name),
        IReturnValue::Classes(v) => list(o, v, class),
        IReturnValue::Instances(v) => list(o, v, instance),
        IReturnValue::NamedInstances(v) => list(o, v, |o, (p, i)| {
            o.start("VALUE.NAMEDINSTANCE", &[]);
            instance_name(o, p);
            instance(o, i);
            o.end("VALUE.NAMEDINSTANCE");
        }),
        IReturnValue::InstancesWithPath(v) => list(o, v, |o, (p, i)| {
            o.start("VALUE.INSTANCEWITHPATH", &[]);
            instance_path(o, p);
            instance(o, i);
            o.end("VALUE.INSTANCEWITHPATH");
        }),
        IReturnValue::ObjectsWithPath(v) => list(o, v, |o, (p, i)| {
            o.start("VALUE.OBJECTWITHPATH", &[]);
            instance_path(o, p);
            instance(o, i);
            o.end("VALUE.OBJECTWITHPATH");
        }),
        IReturnValue::ObjectPaths(v) => list(o, v, |o, p| {
            o.start("OBJECTPATH", &[]);
            instance_path(o, p);
            o.end("OBJECTPATH");
        }),
        IReturnValue::InstancePaths(v) => list(o, v, instance_path),
        IReturnValue::QualifierDecls(v) => list(o, v, qualifier_declaration),
        IReturnValue::Value(v) => {
            o.start("IRETURNVALUE", &[]);
            raw_value(o, v);
            o.end("IRETURNVALUE");
        }
    }
}

/// Serialises a request message (used by our client and by tests).
pub fn request(r: &Request) -> String {
    let mut o = Out::default();
    message_start(&mut o, r.id());
    match r {
        Request::IMethodCall {
            namespace,
            method,
            params,
            ..
        } => {
            o.start("SIMPLEREQ", &[]);
            o.start("IMETHODCALL", &[("NAME", method)]);
            local_namespace_path(&mut o, namespace);
            for (n, d) in params {
                named_param(&mut o, "IPARAMVALUE", n, d);
            }
            o.end("IMETHODCALL");
            o.end("SIMPLEREQ");
        }
        Request::MethodCall {
            target,
            method,
            params,
            ..
        } => {
            o.start("SIMPLEREQ", &[]);
            o.start("METHODCALL", &[("NAME", method)]);
            match target {
                MethodTarget::Class {
                    namespace,
                    classname,
                } => {
                    o.start("LOCALCLASSPATH", &[]);
                    local_namespace_path(&mut o, namespace);
                    o.empty("CLASSNAME", &[("NAME", classname)]);
                    o.end("LOCALCLASSPATH");
                }
                MethodTarget::Instance(p) => local_instance_path(&mut o, p),
            }
            for p in params {
                param_value(&mut o, p);
            }
            o.end("METHODCALL");
            o.end("SIMPLEREQ");
        }
        Request::ExportMethodCall { method, params, .. } => {
            o.start("SIMPLEEXPREQ", &[]);
            o.start("EXPMETHODCALL", &[("NAME", method)]);
            for (n, d) in params {
                named_param(&mut o, "EXPPARAMVALUE", n, d);
            }
            o.end("EXPMETHODCALL");
            o.end("SIMPLEEXPREQ");
        }
    }
    message_end(&mut o);
    o.buf
}

/// An `ExportIndication` request delivering `indication` to a listener.
/// DSP0201 and pywbem's listener use `EXPPARAMVALUE NAME="NewIndication"`.
pub fn export_indication(id: &str, indication: &Instance) -> String {
    request(&Request::ExportMethodCall {
        id: id.into(),
        method: "ExportIndication".into(),
        params: vec![(
            "NewIndication".into(),
            ParamData::Instance(indication.clone()),
        )],
    })
}

/// Serialises a response message.
pub fn response(r: &Response) -> String {
    let mut o = Out::default();
    match r {
        Response::IMethod { id, method, result } => {
            message_start(&mut o, id);
            o.start("SIMPLERSP", &[]);
            o.start("IMETHODRESPONSE", &[("NAME", method)]);
            match result {
                Err(e) => error(&mut o, e),
                Ok(IMethodResult { value, out_params }) => {
                    ireturn_value(&mut o, value);
                    for p in out_params {
                        param_value(&mut o, p);
                    }
                }
            }
            o.end("IMETHODRESPONSE");
            o.end("SIMPLERSP");
        }
        Response::Method { id, method, result } => {
            message_start(&mut o, id);
            o.start("SIMPLERSP", &[]);
            o.start("METHODRESPONSE", &[("NAME", method)]);
            match result {
                Err(e) => error(&mut o, e),
                Ok(MethodResult {
                    return_type,
                    return_value,
                    out_params,
                }) => {
                    if let Some(v) = return_value {
                        let mut attrs = Vec::new();
                        if let Some(t) = return_type {
                            attrs.push(("PARAMTYPE", t.as_str()));
                        }
                        o.start("RETURNVALUE", &attrs);
                        raw_value(&mut o, v);
                        o.end("RETURNVALUE");
                    }
                    for p in out_params {
                        param_value(&mut o, p);
                    }
                }
            }
            o.end("METHODRESPONSE");
            o.end("SIMPLERSP");
        }
        Response::Export { id, method, result } => {
            message_start(&mut o, id);
            o.start("SIMPLEEXPRSP", &[]);
            o.start("EXPMETHODRESPONSE", &[("NAME", method)]);
            match result {
                Err(e) => error(&mut o, e),
                Ok(()) => empty_ireturn_value(&mut o),
            }
            o.end("EXPMETHODRESPONSE");
            o.end("SIMPLEEXPRSP");
        }
    }
    message_end(&mut o);
    o.buf
}

/// Convenience: the successful response to an extrinsic method returning
/// a typed value plus output parameters.
pub fn method_response(id: &str, method: &str, ret: &Value, out: Vec<ParamValue>) -> String {
    response(&Response::Method {
        id: id.into(),
        method: method.into(),
        result: Ok(MethodResult {
            return_type: Some(ret.cim_type()),
            return_value: Some(RawValue::from_value(ret)),
            out_params: out,
        }),
    })
}

/// Text of a scalar as written in `VALUE` (re-exported for callers that
/// build keybindings from property values).
pub fn scalar_text(s: &Scalar) -> Option<String> {
    s.to_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape_text("a<b>&\"'\u{1}\r\n\t"),
            "a&lt;b&gt;&amp;&quot;&apos;&#1;&#13;\n\t"
        );
        assert_eq!(escape_attr("x\ty\nz"), "x&#9;y&#10;z");
    }

    #[test]
    fn message_prologue() {
        let s = response(&Response::IMethod {
            id: "1001".into(),
            method: "DeleteInstance".into(),
            result: Ok(IMethodResult {
                value: IReturnValue::None,
                out_params: vec![],
            }),
        });
        assert!(s.starts_with(
            r#"<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLERSP><IMETHODRESPONSE NAME="DeleteInstance">"#
        ));
        assert!(!s.contains("CDATA"));
    }
}
