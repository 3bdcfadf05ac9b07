//! Parsing of CIM-XML (DSP0201) requests and responses into typed values.
//! This is the only place CIM-XML is interpreted; the low-level, hardened
//! XML parse happens in `xml_tree`.

use super::error::{CimError, CimStatus};
use super::message::{
    IMethodResult, IReturnValue, MethodResult, MethodTarget, ParamData, ParamValue, Request,
    Response,
};
use super::types::{
    name_eq, Class, EmbeddedObject, Flavors, Instance, KeyBinding, KeyValue, Method, Numeric,
    ObjectPath, Parameter, Property, Qualifier, QualifierDecl, Scope,
};
use super::value::{CimType, RawValue, Scalar, Value, ValueError};
use super::xml_tree::{self, Element, Limits};

/// How a parse failure should be reported (DSP0200 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlErrorClass {
    /// HTTP 400 with `CIMError: request-not-well-formed`.
    NotWellFormed,
    /// HTTP 400 with `CIMError: request-not-valid`.
    NotValid,
    /// A well-formed, valid request whose values are wrong:
    /// `CIM_ERR_INVALID_PARAMETER`.
    InvalidParameter,
    /// `CIMError: multiple-requests-unsupported`.
    MultipleRequestsUnsupported,
}

/// Everything that can be wrong with a CIM-XML document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlError {
    #[error("document exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("elements nested deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("a value or attribute exceeds {limit} bytes")]
    ValueTooLarge { limit: usize },
    #[error("element {element} has more than {limit} attributes")]
    TooManyAttributes { element: String, limit: usize },
    #[error("document is not valid UTF-8")]
    InvalidUtf8,
    #[error("unsupported encoding {0:?} (only UTF-8 is accepted)")]
    UnsupportedEncoding(String),
    #[error("DOCTYPE declarations are not allowed")]
    DoctypeNotAllowed,
    #[error("reference to undeclared entity &{0};")]
    UnknownEntity(String),
    #[error("malformed character or entity reference near {0:?}")]
    BadReference(String),
    #[error("XML syntax error: {0}")]
    Syntax(String),
    #[error("expected element {expected}, found {found}")]
    UnexpectedElement { expected: String, found: String },
    #[error("element {parent} is missing child {expected}")]
    MissingElement { parent: String, expected: String },
    #[error("element {element} is missing attribute {attribute}")]
    MissingAttribute { element: String, attribute: String },
    #[error("element {element} has invalid {attribute}={value:?}")]
    InvalidAttribute {
        element: String,
        attribute: String,
        value: String,
    },
    #[error("duplicate {what} {name:?}")]
    Duplicate { what: &'static str, name: String },
    #[error("instance name for class {classname} has no keybindings")]
    MissingKeys { classname: String },
    #[error("invalid value in {context}: {source}")]
    InvalidValue {
        context: String,
        #[source]
        source: ValueError,
    },
    #[error("unsupported CIM-XML construct: {0}")]
    Unsupported(String),
    #[error("multiple requests (MULTIREQ) are not supported")]
    MultipleRequests,
}

impl XmlError {
    pub fn class(&self) -> XmlErrorClass {
        use XmlError::*;
        match self {
            TooLarge { .. }
            | TooDeep { .. }
            | ValueTooLarge { .. }
            | TooManyAttributes { .. }
            | InvalidUtf8
            | UnsupportedEncoding(_)
            | DoctypeNotAllowed
            | UnknownEntity(_)
            | BadReference(_)
            | Syntax(_) => XmlErrorClass::NotWellFormed,
            UnexpectedElement { .. }
            | MissingElement { .. }
            | MissingAttribute { .. }
            | InvalidAttribute { .. }
            | Duplicate { .. }
            | Unsupported(_) => XmlErrorClass::NotValid,
            MissingKeys { .. } | InvalidValue { .. } => XmlErrorClass::InvalidParameter,
            MultipleRequests => XmlErrorClass::MultipleRequestsUnsupported,
        }
    }
}

type R<T> = Result<T, XmlError>;

// ---- tree helpers ---------------------------------------------------------

fn expect(el: &Element, name: &str) -> R<()> {
    if el.name == name {
        Ok(())
    } else {
        Err(XmlError::UnexpectedElement {
            expected: name.into(),
            found: el.name.clone(),
        })
    }
}

fn attr<'a>(el: &'a Element, name: &str) -> R<&'a str> {
    el.attr(name).ok_or_else(|| XmlError::MissingAttribute {
        element: el.name.clone(),
        attribute: name.into(),
    })
}

fn bad_attr(el: &Element, name: &str, value: &str) -> XmlError {
    XmlError::InvalidAttribute {
        element: el.name.clone(),
        attribute: name.into(),
        value: value.into(),
    }
}

fn bool_attr(el: &Element, name: &str, default: bool) -> R<bool> {
    match el.attr(name) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad_attr(el, name, v)),
    }
}

fn type_attr(el: &Element, name: &str) -> R<Option<CimType>> {
    match el.attr(name) {
        None | Some("") => Ok(None),
        Some(v) => CimType::from_name(v)
            .map(Some)
            .ok_or_else(|| bad_attr(el, name, v)),
    }
}

fn req_type(el: &Element) -> R<CimType> {
    type_attr(el, "TYPE")?.ok_or_else(|| XmlError::MissingAttribute {
        element: el.name.clone(),
        attribute: "TYPE".into(),
    })
}

fn u32_attr(el: &Element, name: &str) -> R<Option<u32>> {
    el.attr(name)
        .map(|v| v.trim().parse().map_err(|_| bad_attr(el, name, v)))
        .transpose()
}

fn only_child(el: &Element) -> R<&Element> {
    match el.children.as_slice() {
        [c] => Ok(c),
        [] => Err(XmlError::MissingElement {
            parent: el.name.clone(),
            expected: "a child element".into(),
        }),
        [_, c, ..] => Err(XmlError::UnexpectedElement {
            expected: format!("end of {}", el.name),
            found: c.name.clone(),
        }),
    }
}

fn child<'a>(el: &'a Element, idx: usize, name: &str) -> R<&'a Element> {
    let c = el
        .children
        .get(idx)
        .ok_or_else(|| XmlError::MissingElement {
            parent: el.name.clone(),
            expected: name.into(),
        })?;
    expect(c, name)?;
    Ok(c)
}

fn no_more(el: &Element, used: usize) -> R<()> {
    match el.children.get(used) {
        None => Ok(()),
        Some(c) => Err(XmlError::UnexpectedElement {
            expected: format!("end of {}", el.name),
            found: c.name.clone(),
        }),
    }
}

fn check_unique<'a>(what: &'static str, names: impl Iterator<Item = &'a str>) -> R<()> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if seen.iter().any(|s| name_eq(s, n)) {
            return Err(XmlError::Duplicate {
                what,
                name: n.into(),
            });
        }
        seen.push(n);
    }
    Ok(())
}

// ---- values and paths -------------------------------------------------------

fn value_text(el: &Element) -> R<String> {
    expect(el, "VALUE")?;
    no_more(el, 0)?;
    Ok(el.text.clone())
}

fn value_array(el: &Element) -> R<Vec<Option<String>>> {
    expect(el, "VALUE.ARRAY")?;
    el.children
        .iter()
        .map(|c| match c.name.as_str() {
            "VALUE.NULL" => Ok(None),
            _ => value_text(c).map(Some),
        })
        .collect()
}

fn raw_value(el: &Element) -> R<RawValue> {
    Ok(match el.name.as_str() {
        "VALUE" => RawValue::Text(value_text(el)?),
        "VALUE.ARRAY" => RawValue::Array(value_array(el)?),
        "VALUE.REFERENCE" => RawValue::Reference(value_reference(el)?),
        "VALUE.REFARRAY" => RawValue::RefArray(
            el.children
                .iter()
                .map(|c| match c.name.as_str() {
                    "VALUE.NULL" => Ok(None),
                    _ => value_reference(c).map(Some),
                })
                .collect::<R<_>>()?,
        ),
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: "VALUE, VALUE.ARRAY, VALUE.REFERENCE or VALUE.REFARRAY".into(),
                found: other.into(),
            })
        }
    })
}

fn typed_value(context: &str, t: CimType, el: &Element) -> R<Value> {
    raw_value(el)?
        .typed(t, el.name == "VALUE.ARRAY" || el.name == "VALUE.REFARRAY")
        .map_err(|source| XmlError::InvalidValue {
            context: context.into(),
            source,
        })
}

fn value_reference(el: &Element) -> R<ObjectPath> {
    expect(el, "VALUE.REFERENCE")?;
    let c = only_child(el)?;
    match c.name.as_str() {
        "INSTANCEPATH" => instance_path(c),
        "LOCALINSTANCEPATH" => local_instance_path(c),
        "INSTANCENAME" => instance_name(c),
        "CLASSPATH" | "LOCALCLASSPATH" | "CLASSNAME" => Err(XmlError::Unsupported(format!(
            "class reference ({}) in VALUE.REFERENCE",
            c.name
        ))),
        other => Err(XmlError::UnexpectedElement {
            expected: "INSTANCEPATH, LOCALINSTANCEPATH or INSTANCENAME".into(),
            found: other.into(),
        }),
    }
}

fn local_namespace_path(el: &Element) -> R<String> {
    expect(el, "LOCALNAMESPACEPATH")?;
    if el.children.is_empty() {
        return Err(XmlError::MissingElement {
            parent: el.name.clone(),
            expected: "NAMESPACE".into(),
        });
    }
    let parts = el
        .children
        .iter()
        .map(|c| {
            expect(c, "NAMESPACE")?;
            attr(c, "NAME").map(|n| n.trim_matches('/').to_string())
        })
        .collect::<R<Vec<_>>>()?;
    Ok(parts.join("/"))
}

fn namespace_path(el: &Element) -> R<(String, String)> {
    expect(el, "NAMESPACEPATH")?;
    let host = child(el, 0, "HOST")?.text.trim().to_string();
    let ns = local_namespace_path(child(el, 1, "LOCALNAMESPACEPATH")?)?;
    no_more(el, 2)?;
    Ok((host, ns))
}

fn class_name(el: &Element) -> R<String> {
    expect(el, "CLASSNAME")?;
    Ok(attr(el, "NAME")?.to_string())
}

fn key_value(el: &Element) -> R<KeyValue> {
    let cimtype = type_attr(el, "TYPE")?;
    let text = &el.text;
    let valuetype = el.attr("VALUETYPE").unwrap_or("string");
    let bad = |source| XmlError::InvalidValue {
        context: "KEYVALUE".into(),
        source,
    };
    // TYPE, when given, takes precedence over VALUETYPE (as in pywbem).
    let kind = match cimtype {
        Some(CimType::Boolean) => "boolean",
        Some(CimType::String | CimType::Char16 | CimType::DateTime) => "string",
        Some(t) if t.is_integer() || t.is_real() => "numeric",
        Some(CimType::Reference) => return Err(bad_attr(el, "TYPE", "reference")),
        _ => valuetype,
    };
    Ok(match kind {
        "string" => {
            if let Some(t) = cimtype {
                Scalar::parse(t, text).map_err(bad)?;
            }
            KeyValue::String {
                value: text.clone(),
                cimtype,
            }
        }
        "boolean" => match Scalar::parse(CimType::Boolean, text).map_err(bad)? {
            Scalar::Boolean(b) => KeyValue::Boolean(b),
            _ => unreachable!("boolean parse yields a boolean"),
        },
        "numeric" => {
            let value = match cimtype {
                Some(t) => {
                    let s = Scalar::parse(t, text).map_err(bad)?;
                    match (s.as_i128(), s) {
                        (Some(v), _) if v >= 0 => Numeric::Unsigned(v as u64),
                        (Some(v), _) => Numeric::Signed(v as i64),
                        (None, Scalar::Real32(f)) => Numeric::Real(f.into()),
                        (None, Scalar::Real64(f)) => Numeric::Real(f),
                        _ => unreachable!("numeric TYPE parses to a number"),
                    }
                }
                None => Numeric::parse(text).ok_or_else(|| {
                    bad(ValueError::Invalid {
                        cimtype: CimType::Sint64,
                        text: text.clone(),
                    })
                })?,
            };
            KeyValue::Numeric { value, cimtype }
        }
        other => return Err(bad_attr(el, "VALUETYPE", other)),
    })
}

fn instance_name(el: &Element) -> R<ObjectPath> {
    expect(el, "INSTANCENAME")?;
    let classname = attr(el, "CLASSNAME")?.to_string();
    let mut keybindings = Vec::new();
    for c in &el.children {
        match c.name.as_str() {
            "KEYBINDING" => {
                let name = attr(c, "NAME")?.to_string();
                let v = only_child(c)?;
                let value = match v.name.as_str() {
                    "KEYVALUE" => key_value(v)?,
                    "VALUE.REFERENCE" => KeyValue::Reference(Box::new(value_reference(v)?)),
                    other => {
                        return Err(XmlError::UnexpectedElement {
                            expected: "KEYVALUE or VALUE.REFERENCE".into(),
                            found: other.into(),
                        })
                    }
                };
                keybindings.push(KeyBinding { name, value });
            }
            // Unnamed single keys are legal in the DTD but useless to us:
            // without a name we cannot match them to a key property.
            "KEYVALUE" | "VALUE.REFERENCE" => {
                return Err(XmlError::Unsupported(
                    "INSTANCENAME with an unnamed key".into(),
                ))
            }
            other => {
                return Err(XmlError::UnexpectedElement {
                    expected: "KEYBINDING".into(),
                    found: other.into(),
                })
            }
        }
    }
    if keybindings.is_empty() {
        return Err(XmlError::MissingKeys { classname });
    }
    check_unique("keybinding", keybindings.iter().map(|k| k.name.as_str()))?;
    Ok(ObjectPath {
        host: None,
        namespace: None,
        classname,
        keybindings,
    })
}

fn local_instance_path(el: &Element) -> R<ObjectPath> {
    expect(el, "LOCALINSTANCEPATH")?;
    let ns = local_namespace_path(child(el, 0, "LOCALNAMESPACEPATH")?)?;
    let mut p = instance_name(child(el, 1, "INSTANCENAME")?)?;
    no_more(el, 2)?;
    p.namespace = Some(ns);
    Ok(p)
}

fn instance_path(el: &Element) -> R<ObjectPath> {
    expect(el, "INSTANCEPATH")?;
    let (host, ns) = namespace_path(child(el, 0, "NAMESPACEPATH")?)?;
    let mut p = instance_name(child(el, 1, "INSTANCENAME")?)?;
    no_more(el, 2)?;
    p.host = Some(host);
    p.namespace = Some(ns);
    Ok(p)
}

// ---- declarations ---------------------------------------------------------

fn flavors(el: &Element) -> R<Flavors> {
    let d = Flavors::default();
    Ok(Flavors {
        overridable: bool_attr(el, "OVERRIDABLE", d.overridable)?,
        tosubclass: bool_attr(el, "TOSUBCLASS", d.tosubclass)?,
        translatable: bool_attr(el, "TRANSLATABLE", d.translatable)?,
    })
}

fn qualifier(el: &Element) -> R<Qualifier> {
    expect(el, "QUALIFIER")?;
    let name = attr(el, "NAME")?.to_string();
    let cimtype = req_type(el)?;
    let value = match el.children.as_slice() {
        [] => None,
        [v] => Some(typed_value(&format!("qualifier {name}"), cimtype, v)?),
        [_, extra, ..] => {
            return Err(XmlError::UnexpectedElement {
                expected: "end of QUALIFIER".into(),
                found: extra.name.clone(),
            })
        }
    };
    Ok(Qualifier {
        propagated: bool_attr(el, "PROPAGATED", false)?,
        flavors: flavors(el)?,
        name,
        cimtype,
        value,
    })
}

fn qualifier_declaration(el: &Element) -> R<QualifierDecl> {
    expect(el, "QUALIFIER.DECLARATION")?;
    let name = attr(el, "NAME")?.to_string();
    let cimtype = req_type(el)?;
    let is_array = bool_attr(el, "ISARRAY", false)?;
    let mut scope = Scope::default();
    let mut value = None;
    for c in &el.children {
        if c.name == "SCOPE" {
            scope = Scope {
                class: bool_attr(c, "CLASS", false)?,
                association: bool_attr(c, "ASSOCIATION", false)?,
                reference: bool_attr(c, "REFERENCE", false)?,
                property: bool_attr(c, "PROPERTY", false)?,
                method: bool_attr(c, "METHOD", false)?,
                parameter: bool_attr(c, "PARAMETER", false)?,
                indication: bool_attr(c, "INDICATION", false)?,
            };
        } else {
            value = Some(typed_value(&format!("qualifier {name}"), cimtype, c)?);
        }
    }
    Ok(QualifierDecl {
        array_size: u32_attr(el, "ARRAYSIZE")?,
        flavors: flavors(el)?,
        name,
        cimtype,
        is_array,
        value,
        scope,
    })
}

/// Splits leading QUALIFIERs from the rest of the children.
fn qualifiers_then_rest(el: &Element) -> R<(Vec<Qualifier>, &[Element])> {
    let n = el
        .children
        .iter()
        .take_while(|c| c.name == "QUALIFIER")
        .count();
    let quals = el.children[..n]
        .iter()
        .map(qualifier)
        .collect::<R<Vec<_>>>()?;
    check_unique("qualifier", quals.iter().map(|q| q.name.as_str()))?;
    Ok((quals, &el.children[n..]))
}

fn embedded(el: &Element) -> R<Option<EmbeddedObject>> {
    // DSP0201 spells it EmbeddedObject; some old servers use EMBEDDEDOBJECT.
    match el
        .attr("EmbeddedObject")
        .or_else(|| el.attr("EMBEDDEDOBJECT"))
    {
        None => Ok(None),
        Some("object") => Ok(Some(EmbeddedObject::Object)),
        Some("instance") => Ok(Some(EmbeddedObject::Instance)),
        Some(v) => Err(bad_attr(el, "EmbeddedObject", v)),
    }
}

fn property(el: &Element) -> R<Property> {
    let name = attr(el, "NAME")?.to_string();
    let (cimtype, is_array, value_elem) = match el.name.as_str() {
        "PROPERTY" => (req_type(el)?, false, "VALUE"),
        "PROPERTY.ARRAY" => (req_type(el)?, true, "VALUE.ARRAY"),
        "PROPERTY.REFERENCE" => (CimType::Reference, false, "VALUE.REFERENCE"),
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: "PROPERTY, PROPERTY.ARRAY or PROPERTY.REFERENCE".into(),
                found: other.into(),
            })
        }
    };
    let (qualifiers, rest) = qualifiers_then_rest(el)?;
    let value = match rest {
        [] => None,
        [v] => {
            expect(v, value_elem)?;
            Some(typed_value(&format!("property {name}"), cimtype, v)?)
        }
        [_, extra, ..] => {
            return Err(XmlError::UnexpectedElement {
                expected: format!("end of {}", el.name),
                found: extra.name.clone(),
            })
        }
    };
    Ok(Property {
        cimtype,
        value,
        is_array,
        array_size: u32_attr(el, "ARRAYSIZE")?,
        class_origin: el.attr("CLASSORIGIN").map(str::to_string),
        propagated: bool_attr(el, "PROPAGATED", false)?,
        qualifiers,
        reference_class: el.attr("REFERENCECLASS").map(str::to_string),
        embedded_object: embedded(el)?,
        name,
    })
}

fn parameter(el: &Element) -> R<Parameter> {
    let name = attr(el, "NAME")?.to_string();
    let (cimtype, is_array) = match el.name.as_str() {
        "PARAMETER" => (req_type(el)?, false),
        "PARAMETER.ARRAY" => (req_type(el)?, true),
        "PARAMETER.REFERENCE" => (CimType::Reference, false),
        "PARAMETER.REFARRAY" => (CimType::Reference, true),
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: "PARAMETER, PARAMETER.ARRAY, PARAMETER.REFERENCE or PARAMETER.REFARRAY"
                    .into(),
                found: other.into(),
            })
        }
    };
    let (qualifiers, rest) = qualifiers_then_rest(el)?;
    no_more(el, el.children.len() - rest.len())?;
    Ok(Parameter {
        cimtype,
        is_array,
        array_size: u32_attr(el, "ARRAYSIZE")?,
        reference_class: el.attr("REFERENCECLASS").map(str::to_string),
        qualifiers,
        name,
    })
}

fn method(el: &Element) -> R<Method> {
    expect(el, "METHOD")?;
    let (qualifiers, rest) = qualifiers_then_rest(el)?;
    let parameters = rest.iter().map(parameter).collect::<R<Vec<_>>>()?;
    check_unique("parameter", parameters.iter().map(|p| p.name.as_str()))?;
    Ok(Method {
        name: attr(el, "NAME")?.to_string(),
        // TYPE is optional in the DTD (void methods do not exist in CIM, so
        // pywbem and we always send it); default to uint32.
        return_type: type_attr(el, "TYPE")?.unwrap_or(CimType::Uint32),
        parameters,
        qualifiers,
        class_origin: el.attr("CLASSORIGIN").map(str::to_string),
        propagated: bool_attr(el, "PROPAGATED", false)?,
    })
}

fn class(el: &Element) -> R<Class> {
    expect(el, "CLASS")?;
    let (qualifiers, rest) = qualifiers_then_rest(el)?;
    let mut properties = Vec::new();
    let mut methods = Vec::new();
    for c in rest {
        if c.name == "METHOD" {
            methods.push(method(c)?);
        } else if methods.is_empty() {
            properties.push(property(c)?);
        } else {
            return Err(XmlError::UnexpectedElement {
                expected: "METHOD".into(),
                found: c.name.clone(),
            });
        }
    }
    check_unique(
        "property",
        properties.iter().map(|p: &Property| p.name.as_str()),
    )?;
    check_unique("method", methods.iter().map(|m: &Method| m.name.as_str()))?;
    Ok(Class {
        name: attr(el, "NAME")?.to_string(),
        superclass: el
            .attr("SUPERCLASS")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        qualifiers,
        properties,
        methods,
    })
}

fn instance(el: &Element) -> R<Instance> {
    expect(el, "INSTANCE")?;
    let (qualifiers, rest) = qualifiers_then_rest(el)?;
    let properties = rest.iter().map(property).collect::<R<Vec<_>>>()?;
    check_unique("property", properties.iter().map(|p| p.name.as_str()))?;
    Ok(Instance {
        classname: attr(el, "CLASSNAME")?.to_string(),
        properties,
        qualifiers,
    })
}

// ---- messages -------------------------------------------------------------

fn param_data(el: &Element) -> R<ParamData> {
    let c = match el.children.as_slice() {
        [] => return Ok(ParamData::Null),
        [c] => c,
        [_, extra, ..] => {
            return Err(XmlError::UnexpectedElement {
                expected: format!("end of {}", el.name),
                found: extra.name.clone(),
            })
        }
    };
    Ok(match c.name.as_str() {
        "VALUE" | "VALUE.ARRAY" | "VALUE.REFERENCE" | "VALUE.REFARRAY" => {
            ParamData::Value(raw_value(c)?)
        }
        "CLASSNAME" => ParamData::ClassName(class_name(c)?),
        "INSTANCENAME" => ParamData::InstanceName(instance_name(c)?),
        "QUALIFIER.DECLARATION" => ParamData::QualifierDecl(qualifier_declaration(c)?),
        "CLASS" => ParamData::Class(class(c)?),
        "INSTANCE" => ParamData::Instance(instance(c)?),
        "VALUE.NAMEDINSTANCE" => {
            let (p, i) = named_instance(c)?;
            ParamData::NamedInstance(p, i)
        }
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: format!("a value in {}", el.name),
                found: other.into(),
            })
        }
    })
}

fn named_instance(el: &Element) -> R<(ObjectPath, Instance)> {
    let p = instance_name(child(el, 0, "INSTANCENAME")?)?;
    let i = instance(child(el, 1, "INSTANCE")?)?;
    no_more(el, 2)?;
    Ok((p, i))
}

fn path_and_instance(el: &Element) -> R<(ObjectPath, Instance)> {
    let p = instance_path(child(el, 0, "INSTANCEPATH")?)?;
    let i = instance(child(el, 1, "INSTANCE")?)?;
    no_more(el, 2)?;
    Ok((p, i))
}

fn named_params(el: &Element, elem: &str) -> R<Vec<(String, ParamData)>> {
    let params = el
        .children
        .iter()
        .map(|c| {
            expect(c, elem)?;
            Ok((attr(c, "NAME")?.to_string(), param_data(c)?))
        })
        .collect::<R<Vec<_>>>()?;
    check_unique("parameter", params.iter().map(|(n, _)| n.as_str()))?;
    Ok(params)
}

fn param_value(el: &Element) -> R<ParamValue> {
    expect(el, "PARAMVALUE")?;
    Ok(ParamValue {
        name: attr(el, "NAME")?.to_string(),
        paramtype: type_attr(el, "PARAMTYPE")?,
        embedded_object: embedded(el)?,
        data: param_data(el)?,
    })
}

fn param_values(els: &[Element]) -> R<Vec<ParamValue>> {
    let params = els.iter().map(param_value).collect::<R<Vec<_>>>()?;
    check_unique("parameter", params.iter().map(|p| p.name.as_str()))?;
    Ok(params)
}

/// Checks `CIM` and `MESSAGE` and returns (message id, message body).
fn message(root: &Element) -> R<(String, &Element)> {
    expect(root, "CIM")?;
    attr(root, "CIMVERSION")?;
    attr(root, "DTDVERSION")?;
    let msg = only_child(root)?;
    expect(msg, "MESSAGE")?;
    let id = attr(msg, "ID")?.to_string();
    attr(msg, "PROTOCOLVERSION")?;
    Ok((id, only_child(msg)?))
}

fn request_body(id: String, body: &Element) -> R<Request> {
    match body.name.as_str() {
        "SIMPLEREQ" => {}
        "SIMPLEEXPREQ" => {
            let call = only_child(body)?;
            expect(call, "EXPMETHODCALL")?;
            // DSP0201 uses EXPPARAMVALUE; some old senders use IPARAMVALUE.
            let elem = match call.children.first() {
                Some(c) if c.name == "IPARAMVALUE" => "IPARAMVALUE",
                _ => "EXPPARAMVALUE",
            };
            return Ok(Request::ExportMethodCall {
                id,
                method: attr(call, "NAME")?.to_string(),
                params: named_params(call, elem)?,
            });
        }
        "MULTIREQ" | "MULTIEXPREQ" => return Err(XmlError::MultipleRequests),
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: "SIMPLEREQ".into(),
                found: other.into(),
            })
        }
    }
    // DSP0201 2.4 allows CORRELATOR elements before the call; ignore them.
    let calls: Vec<&Element> = body
        .children
        .iter()
        .filter(|c| c.name != "CORRELATOR")
        .collect();
    let call = match calls.as_slice() {
        [c] => *c,
        _ => {
            return Err(XmlError::MissingElement {
                parent: "SIMPLEREQ".into(),
                expected: "exactly one IMETHODCALL or METHODCALL".into(),
            })
        }
    };
    let method = attr(call, "NAME")?.to_string();
    match call.name.as_str() {
        "IMETHODCALL" => {
            let namespace = local_namespace_path(child(call, 0, "LOCALNAMESPACEPATH")?)?;
            let rest = Element {
                name: call.name.clone(),
                children: call.children[1..].to_vec(),
                ..Default::default()
            };
            Ok(Request::IMethodCall {
                id,
                namespace,
                method,
                params: named_params(&rest, "IPARAMVALUE")?,
            })
        }
        "METHODCALL" => {
            let t = call
                .children
                .first()
                .ok_or_else(|| XmlError::MissingElement {
                    parent: "METHODCALL".into(),
                    expected: "LOCALINSTANCEPATH or LOCALCLASSPATH".into(),
                })?;
            let target = match t.name.as_str() {
                "LOCALINSTANCEPATH" => MethodTarget::Instance(local_instance_path(t)?),
                "LOCALCLASSPATH" => {
                    let namespace = local_namespace_path(child(t, 0, "LOCALNAMESPACEPATH")?)?;
                    let classname = class_name(child(t, 1, "CLASSNAME")?)?;
                    no_more(t, 2)?;
                    MethodTarget::Class {
                        namespace,
                        classname,
                    }
                }
                other => {
                    return Err(XmlError::UnexpectedElement {
                        expected: "LOCALINSTANCEPATH or LOCALCLASSPATH".into(),
                        found: other.into(),
                    })
                }
            };
            Ok(Request::MethodCall {
                id,
                target,
                method,
                params: param_values(&call.children[1..])?,
            })
        }
        other => Err(XmlError::UnexpectedElement {
            expected: "IMETHODCALL or METHODCALL".into(),
            found: other.into(),
        }),
    }
}

fn error_element(el: &Element) -> R<CimError> {
    let code = attr(el, "CODE")?;
    let status = code
        .trim()
        .parse()
        .ok()
        .and_then(CimStatus::from_code)
        .ok_or_else(|| bad_attr(el, "CODE", code))?;
    Ok(CimError::new(
        status,
        el.attr("DESCRIPTION").unwrap_or_default(),
    ))
}

fn ireturn_value(el: &Element) -> R<IReturnValue> {
    let first = match el.children.first() {
        None => return Ok(IReturnValue::Empty),
        Some(f) => f.name.as_str(),
    };
    if let Some(c) = el.children.iter().find(|c| c.name != first) {
        return Err(XmlError::UnexpectedElement {
            expected: first.into(),
            found: c.name.clone(),
        });
    }
    fn all<T>(el: &Element, f: impl Fn(&Element) -> R<T>) -> R<Vec<T>> {
        el.children.iter().map(f).collect()
    }
    Ok(match first {
        "CLASSNAME" => IReturnValue::ClassNames(all(el, class_name)?),
        "INSTANCENAME" => IReturnValue::InstanceNames(all(el, instance_name)?),
        "CLASS" => IReturnValue::Classes(all(el, class)?),
        "INSTANCE" => IReturnValue::Instances(all(el, instance)?),
        "VALUE.NAMEDINSTANCE" => IReturnValue::NamedInstances(all(el, named_instance)?),
        "VALUE.INSTANCEWITHPATH" => IReturnValue::InstancesWithPath(all(el, path_and_instance)?),
        "VALUE.OBJECTWITHPATH" => IReturnValue::ObjectsWithPath(all(el, path_and_instance)?),
        "OBJECTPATH" => IReturnValue::ObjectPaths(all(el, |c| {
            let p = only_child(c)?;
            if p.name != "INSTANCEPATH" {
                return Err(XmlError::Unsupported(format!("{} in OBJECTPATH", p.name)));
            }
            instance_path(p)
        })?),
        "INSTANCEPATH" => IReturnValue::InstancePaths(all(el, instance_path)?),
        "QUALIFIER.DECLARATION" => IReturnValue::QualifierDecls(all(el, qualifier_declaration)?),
        "VALUE" | "VALUE.ARRAY" | "VALUE.REFERENCE" => {
            IReturnValue::Value(raw_value(only_child(el)?)?)
        }
        other => return Err(XmlError::Unsupported(format!("{other} in IRETURNVALUE"))),
    })
}

fn response_body(id: String, body: &Element) -> R<Response> {
    let resp = only_child(body)?;
    let method = attr(resp, "NAME")?.to_string();
    let error = match resp.children.first() {
        Some(e) if e.name == "ERROR" => {
            no_more(resp, 1)?;
            Some(error_element(e)?)
        }
        _ => None,
    };
    match (body.name.as_str(), resp.name.as_str()) {
        ("SIMPLERSP", "IMETHODRESPONSE") => {
            let result = match error {
                Some(e) => Err(e),
                None => {
                    let (value, rest) = match resp.children.first() {
                        Some(r) if r.name == "IRETURNVALUE" => {
                            (ireturn_value(r)?, &resp.children[1..])
                        }
                        _ => (IReturnValue::None, &resp.children[..]),
                    };
                    Ok(IMethodResult {
                        value,
                        out_params: param_values(rest)?,
                    })
                }
            };
            Ok(Response::IMethod { id, method, result })
        }
        ("SIMPLERSP", "METHODRESPONSE") => {
            let result = match error {
                Some(e) => Err(e),
                None => {
                    let (return_type, return_value, rest) = match resp.children.first() {
                        Some(r) if r.name == "RETURNVALUE" => {
                            let v = match r.children.as_slice() {
                                [] => None,
                                [v] => Some(raw_value(v)?),
                                [_, extra, ..] => {
                                    return Err(XmlError::UnexpectedElement {
                                        expected: "end of RETURNVALUE".into(),
                                        found: extra.name.clone(),
                                    })
                                }
                            };
                            (type_attr(r, "PARAMTYPE")?, v, &resp.children[1..])
                        }
                        _ => (None, None, &resp.children[..]),
                    };
                    Ok(MethodResult {
                        return_type,
                        return_value,
                        out_params: param_values(rest)?,
                    })
                }
            };
            Ok(Response::Method { id, method, result })
        }
        ("SIMPLEEXPRSP", "EXPMETHODRESPONSE") => Ok(Response::Export {
            id,
            method,
            result: error.map_or(Ok(()), Err),
        }),
        (b, r) => Err(XmlError::UnexpectedElement {
            expected: "SIMPLERSP/IMETHODRESPONSE, SIMPLERSP/METHODRESPONSE or \
                       SIMPLEEXPRSP/EXPMETHODRESPONSE"
                .into(),
            found: format!("{b}/{r}"),
        }),
    }
}

/// Parses a request message (`SIMPLEREQ` or `SIMPLEEXPREQ`).
pub fn parse_request(bytes: &[u8], limits: &Limits) -> R<Request> {
    let root = xml_tree::parse(bytes, limits)?;
    let (id, body) = message(&root)?;
    request_body(id, body)
}

/// Parses a response message (`SIMPLERSP` or `SIMPLEEXPRSP`).
pub fn parse_response(bytes: &[u8], limits: &Limits) -> R<Response> {
    let root = xml_tree::parse(bytes, limits)?;
    let (id, body) = message(&root)?;
    response_body(id, body)
}

/// Parses a standalone `CLASS` element.
pub fn parse_class(xml: &str) -> R<Class> {
    class(&xml_tree::parse(xml.as_bytes(), &Limits::default())?)
}

/// Parses a standalone `INSTANCE` element (e.g. the text of an embedded
/// instance property).
pub fn parse_instance(xml: &str) -> R<Instance> {
    instance(&xml_tree::parse(xml.as_bytes(), &Limits::default())?)
}

/// Parses a standalone `INSTANCENAME` element.
pub fn parse_instance_name(xml: &str) -> R<ObjectPath> {
    instance_name(&xml_tree::parse(xml.as_bytes(), &Limits::default())?)
}

/// Parses a standalone `QUALIFIER.DECLARATION` element.
pub fn parse_qualifier_declaration(xml: &str) -> R<QualifierDecl> {
    qualifier_declaration(&xml_tree::parse(xml.as_bytes(), &Limits::default())?)
}
