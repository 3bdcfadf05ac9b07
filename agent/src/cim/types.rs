//! The CIM object model: qualifiers, properties, methods, classes,
//! instances and object paths. CIM names compare case-insensitively; order
//! of members is preserved as declared.

use super::value::{CimType, Scalar, Value};

/// Case-insensitive name comparison, as DSP0004 requires for CIM names.
pub fn name_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Qualifier flavors. Defaults are DSP0004's: overridable, propagated to
/// subclasses, not translatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flavors {
    pub overridable: bool,
    pub tosubclass: bool,
    pub translatable: bool,
}

impl Default for Flavors {
    fn default() -> Self {
        Flavors {
            overridable: true,
            tosubclass: true,
            translatable: false,
        }
    }
}

/// A qualifier value attached to a class, property, method or parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Qualifier {
    pub name: String,
    pub cimtype: CimType,
    pub value: Option<Value>,
    /// Inherited from the superclass rather than declared locally.
    pub propagated: bool,
    pub flavors: Flavors,
}

impl Qualifier {
    pub fn new(name: impl Into<String>, value: Value) -> Self {
        Qualifier {
            name: name.into(),
            cimtype: value.cim_type(),
            value: Some(value),
            propagated: false,
            flavors: Flavors::default(),
        }
    }
}

/// Where a qualifier may be used (`Scope(...)` in MOF, `SCOPE` in CIM-XML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scope {
    pub class: bool,
    pub association: bool,
    pub indication: bool,
    pub property: bool,
    pub reference: bool,
    pub method: bool,
    pub parameter: bool,
}

impl Scope {
    pub const ANY: Scope = Scope {
        class: true,
        association: true,
        indication: true,
        property: true,
        reference: true,
        method: true,
        parameter: true,
    };
}

/// A qualifier type declaration (`Qualifier Key : boolean = false, ...;`).
#[derive(Debug, Clone, PartialEq)]
pub struct QualifierDecl {
    pub name: String,
    pub cimtype: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub value: Option<Value>,
    pub scope: Scope,
    pub flavors: Flavors,
}

/// How an embedded object in a string property/parameter is flagged
/// (`EmbeddedObject="object"|"instance"` in CIM-XML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbeddedObject {
    Object,
    Instance,
}

impl EmbeddedObject {
    pub fn as_str(self) -> &'static str {
        match self {
            EmbeddedObject::Object => "object",
            EmbeddedObject::Instance => "instance",
        }
    }
}

/// A property of a class or instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub cimtype: CimType,
    /// `None` is NULL.
    pub value: Option<Value>,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub class_origin: Option<String>,
    pub propagated: bool,
    pub qualifiers: Vec<Qualifier>,
    /// Class named by `REF` for reference properties.
    pub reference_class: Option<String>,
    pub embedded_object: Option<EmbeddedObject>,
}

impl Property {
    /// A property of the given type without value or qualifiers.
    pub fn new(name: impl Into<String>, cimtype: CimType, is_array: bool) -> Self {
        Property {
            name: name.into(),
            cimtype,
            value: None,
            is_array,
            array_size: None,
            class_origin: None,
            propagated: false,
            qualifiers: Vec::new(),
            reference_class: None,
            embedded_object: None,
        }
    }

    /// A property holding `value` (type and array-ness taken from it).
    pub fn with_value(name: impl Into<String>, value: Value) -> Self {
        let mut p = Property::new(name, value.cim_type(), value.is_array());
        p.value = Some(value);
        p
    }

    pub fn qualifier(&self, name: &str) -> Option<&Qualifier> {
        self.qualifiers.iter().find(|q| name_eq(&q.name, name))
    }

    /// True if the boolean qualifier `name` is present and TRUE.
    pub fn has_flag(&self, name: &str) -> bool {
        flag(&self.qualifiers, name)
    }
}

fn flag(quals: &[Qualifier], name: &str) -> bool {
    quals
        .iter()
        .find(|q| name_eq(&q.name, name))
        .and_then(|q| q.value.as_ref())
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A method parameter declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub cimtype: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub reference_class: Option<String>,
    pub qualifiers: Vec<Qualifier>,
}

impl Parameter {
    pub fn qualifier(&self, name: &str) -> Option<&Qualifier> {
        self.qualifiers.iter().find(|q| name_eq(&q.name, name))
    }

    pub fn has_flag(&self, name: &str) -> bool {
        flag(&self.qualifiers, name)
    }
}

/// An extrinsic method declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    pub name: String,
    pub return_type: CimType,
    pub parameters: Vec<Parameter>,
    pub qualifiers: Vec<Qualifier>,
    pub class_origin: Option<String>,
    pub propagated: bool,
}

impl Method {
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| name_eq(&p.name, name))
    }

    pub fn qualifier(&self, name: &str) -> Option<&Qualifier> {
        self.qualifiers.iter().find(|q| name_eq(&q.name, name))
    }
}

/// A class declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub name: String,
    pub superclass: Option<String>,
    pub qualifiers: Vec<Qualifier>,
    pub properties: Vec<Property>,
    pub methods: Vec<Method>,
}

impl Class {
    pub fn new(name: impl Into<String>) -> Self {
        Class {
            name: name.into(),
            superclass: None,
            qualifiers: Vec::new(),
            properties: Vec::new(),
            methods: Vec::new(),
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| name_eq(&p.name, name))
    }

    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| name_eq(&m.name, name))
    }

    pub fn qualifier(&self, name: &str) -> Option<&Qualifier> {
        self.qualifiers.iter().find(|q| name_eq(&q.name, name))
    }

    pub fn has_flag(&self, name: &str) -> bool {
        flag(&self.qualifiers, name)
    }

    /// Key properties (those with `Key(true)`), in declaration order.
    pub fn key_properties(&self) -> impl Iterator<Item = &Property> {
        self.properties.iter().filter(|p| p.has_flag("Key"))
    }
}

/// An instance: a class name and property values.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub classname: String,
    pub properties: Vec<Property>,
    /// Instance-level qualifiers (deprecated in DSP0004; kept for fidelity).
    pub qualifiers: Vec<Qualifier>,
}

impl Instance {
    pub fn new(classname: impl Into<String>) -> Self {
        Instance {
            classname: classname.into(),
            properties: Vec::new(),
            qualifiers: Vec::new(),
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| name_eq(&p.name, name))
    }

    /// The value of a property, `None` if absent or NULL.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.property(name).and_then(|p| p.value.as_ref())
    }

    /// Sets (replacing) a property to a typed value.
    pub fn set(&mut self, name: &str, value: Value) {
        let p = Property::with_value(name, value);
        match self.properties.iter_mut().find(|q| name_eq(&q.name, name)) {
            Some(slot) => *slot = p,
            None => self.properties.push(p),
        }
    }

    /// Builder form of [`Instance::set`].
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value.into());
        self
    }
}

/// A numeric key value. DSP0201 keys say only "numeric" unless `TYPE` is
/// given, so the magnitude is kept in the widest matching form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Numeric {
    Unsigned(u64),
    Signed(i64),
    Real(f64),
}

impl Numeric {
    pub fn parse(text: &str) -> Option<Numeric> {
        let s = text.trim();
        if let Ok(v) = s.parse::<u64>() {
            Some(Numeric::Unsigned(v))
        } else if let Ok(v) = s.parse::<i64>() {
            Some(Numeric::Signed(v))
        } else if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok().map(Numeric::Unsigned)
        } else if s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        {
            s.parse::<f64>().ok().map(Numeric::Real)
        } else {
            None
        }
    }

    pub fn to_text(self) -> String {
        match self {
            Numeric::Unsigned(v) => v.to_string(),
            Numeric::Signed(v) => v.to_string(),
            Numeric::Real(v) => format!("{v:?}"),
        }
    }
}

/// The value of one keybinding (`KEYVALUE` or `VALUE.REFERENCE`).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// `VALUETYPE="string"`: string, char16 or datetime keys; `cimtype` is
    /// the `TYPE` attribute when the sender supplied it.
    String {
        value: String,
        cimtype: Option<CimType>,
    },
    Boolean(bool),
    Numeric {
        value: Numeric,
        cimtype: Option<CimType>,
    },
    Reference(Box<ObjectPath>),
}

impl KeyValue {
    pub fn string(s: impl Into<String>) -> Self {
        KeyValue::String {
            value: s.into(),
            cimtype: Some(CimType::String),
        }
    }

    /// The key form of a typed scalar; `None` for types that cannot be keys.
    pub fn from_scalar(s: &Scalar) -> Option<KeyValue> {
        Some(match s {
            Scalar::Boolean(b) => KeyValue::Boolean(*b),
            Scalar::String(_) | Scalar::Char16(_) | Scalar::DateTime(_) => KeyValue::String {
                value: s.to_text()?,
                cimtype: Some(s.cim_type()),
            },
            Scalar::Reference(p) => KeyValue::Reference(p.clone()),
            Scalar::Real32(_) | Scalar::Real64(_) => return None,
            _ => KeyValue::Numeric {
                value: match s.as_i128()? {
                    v if v >= 0 => Numeric::Unsigned(v as u64),
                    v => Numeric::Signed(v as i64),
                },
                cimtype: Some(s.cim_type()),
            },
        })
    }

    /// Compares key values ignoring the optional `TYPE` annotation, which
    /// some clients send and others omit.
    pub fn same_key(&self, other: &KeyValue) -> bool {
        match (self, other) {
            (KeyValue::String { value: a, .. }, KeyValue::String { value: b, .. }) => a == b,
            (KeyValue::Boolean(a), KeyValue::Boolean(b)) => a == b,
            (KeyValue::Numeric { value: a, .. }, KeyValue::Numeric { value: b, .. }) => a == b,
            (KeyValue::Reference(a), KeyValue::Reference(b)) => a.same_instance(b),
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            KeyValue::String { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// A named keybinding.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyBinding {
    pub name: String,
    pub value: KeyValue,
}

/// An instance path: optional host and namespace, class name and keys.
/// Written as `INSTANCENAME`, `LOCALINSTANCEPATH` or `INSTANCEPATH`
/// depending on which parts are present and what the context needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectPath {
    pub host: Option<String>,
    pub namespace: Option<String>,
    pub classname: String,
    pub keybindings: Vec<KeyBinding>,
}

/// DSP0201 calls the path of an instance an instance name.
pub type InstanceName = ObjectPath;

impl ObjectPath {
    pub fn new(classname: impl Into<String>) -> Self {
        ObjectPath {
            classname: classname.into(),
            ..Default::default()
        }
    }

    pub fn with_namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Adds (or replaces) a keybinding.
    pub fn with_key(mut self, name: impl Into<String>, value: KeyValue) -> Self {
        let name = name.into();
        self.keybindings.retain(|k| !name_eq(&k.name, &name));
        self.keybindings.push(KeyBinding { name, value });
        self
    }

    pub fn key(&self, name: &str) -> Option<&KeyValue> {
        self.keybindings
            .iter()
            .find(|k| name_eq(&k.name, name))
            .map(|k| &k.value)
    }

    /// Same instance: class names and key sets equal (case-insensitive
    /// names, order-independent, `TYPE` annotations ignored); host and
    /// namespace compared only when both sides carry them.
    pub fn same_instance(&self, other: &ObjectPath) -> bool {
        let opt_eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => name_eq(a.trim_matches('/'), b.trim_matches('/')),
            _ => true,
        };
        name_eq(&self.classname, &other.classname)
            && opt_eq(&self.namespace, &other.namespace)
            && opt_eq(&self.host, &other.host)
            && self.keybindings.len() == other.keybindings.len()
            && self
                .keybindings
                .iter()
                .all(|k| other.key(&k.name).is_some_and(|v| v.same_key(&k.value)))
    }
}

/// A CIM namespace name such as `root/cimv2`; components separated by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace(pub String);

impl Namespace {
    /// Normalises leading/trailing slashes away.
    pub fn new(name: &str) -> Self {
        Namespace(name.trim_matches('/').to_string())
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_identity_ignores_case_order_and_type_hints() {
        let a = ObjectPath::new("DS_IISet")
            .with_key("Name", KeyValue::string("set1"))
            .with_key(
                "N",
                KeyValue::Numeric {
                    value: Numeric::Unsigned(3),
                    cimtype: Some(CimType::Uint32),
                },
            );
        let b = ObjectPath::new("ds_iiset")
            .with_namespace("root/dsimage")
            .with_key(
                "n",
                KeyValue::Numeric {
                    value: Numeric::Unsigned(3),
                    cimtype: None,
                },
            )
            .with_key(
                "NAME",
                KeyValue::String {
                    value: "set1".into(),
                    cimtype: None,
                },
            );
        assert!(a.same_instance(&b));
        assert_ne!(a, b);
        let c = b.clone().with_key("Name", KeyValue::string("SET1"));
        assert!(!a.same_instance(&c));
    }

    #[test]
    fn numeric_keys() {
        assert_eq!(Numeric::parse("42"), Some(Numeric::Unsigned(42)));
        assert_eq!(Numeric::parse("-42"), Some(Numeric::Signed(-42)));
        assert_eq!(Numeric::parse("1.5"), Some(Numeric::Real(1.5)));
        assert_eq!(Numeric::parse("abc"), None);
        assert_eq!(Numeric::parse("inf"), None);
    }
}
