//! The objects `iiadm` addresses (sets, groups, the service) and the text form of an
//! object path, an untyped WBEM URI (DSP0207) such as `root/dsimage:DS_IISet.Name="web"`:
//! the `CIMObject` header of a method call and what messages and `--json` show.

use crate::cim::{KeyValue, MethodTarget, ObjectPath};
use crate::providers::{group, service, set, NAMESPACE};

/// A set, by name.
pub fn set(name: &str) -> ObjectPath {
    set::path(NAMESPACE, name)
}

/// A group, by name.
pub fn group(name: &str) -> ObjectPath {
    group::path(NAMESPACE, name)
}

/// DS_IIService, addressed by its class as its methods allow (no need to know the
/// agent's host name, which is one of the singleton's keys).
pub fn service() -> MethodTarget {
    MethodTarget::Class {
        namespace: NAMESPACE.into(),
        classname: service::CLASS.into(),
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `namespace:Class.Key="value",...` (the namespace when the path has one).
pub fn text(p: &ObjectPath) -> String {
    let mut out = String::new();
    if let Some(ns) = &p.namespace {
        out.push_str(ns.trim_matches('/'));
        out.push(':');
    }
    out.push_str(&p.classname);
    for (i, k) in p.keybindings.iter().enumerate() {
        out.push(if i == 0 { '.' } else { ',' });
        out.push_str(&k.name);
        out.push('=');
        match &k.value {
            KeyValue::String { value, .. } => out.push_str(&quoted(value)),
            KeyValue::Boolean(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
            KeyValue::Numeric { value, .. } => out.push_str(&value.to_text()),
            KeyValue::Reference(r) => out.push_str(&quoted(&text(r))),
        }
    }
    out
}

/// The text of a method's target: its instance path, or `namespace:Class`.
pub fn target_text(t: &MethodTarget) -> String {
    match t {
        MethodTarget::Class {
            namespace,
            classname,
        } => format!("{}:{classname}", namespace.trim_matches('/')),
        MethodTarget::Instance(p) => text(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::{CimType, Numeric};

    #[test]
    fn untyped_wbem_uris() {
        assert_eq!(text(&set("web")), r#"root/dsimage:DS_IISet.Name="web""#);
        assert_eq!(
            text(&group(r#"a"b\c"#)),
            r#"root/dsimage:DS_IIGroup.Name="a\"b\\c""#
        );
        assert_eq!(target_text(&service()), "root/dsimage:DS_IIService");
        let p = ObjectPath::new("X")
            .with_key("On", KeyValue::Boolean(true))
            .with_key(
                "N",
                KeyValue::Numeric {
                    value: Numeric::Unsigned(7),
                    cimtype: Some(CimType::Uint16),
                },
            )
            .with_key("R", KeyValue::Reference(Box::new(set("s"))));
        assert_eq!(
            text(&p),
            r#"X.On=TRUE,N=7,R="root/dsimage:DS_IISet.Name=\"s\"""#
        );
        assert_eq!(
            target_text(&MethodTarget::Instance(set("web"))),
            text(&set("web"))
        );
    }
}
