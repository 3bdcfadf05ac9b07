//! Instances as the class declares them: provider instances made to conform
//! to their class (canonical names, declared types, unknown properties
//! dropped), client instances typed against it, and the per-request shaping
//! of what is returned (PropertyList, DeepInheritance, IncludeQualifiers,
//! IncludeClassOrigin).

use crate::cim::types::name_eq;
use crate::cim::{
    CimError, CimStatus, CimType, Class, EmbeddedObject, Instance, Property, Scalar, Value,
};

/// A value converted to a declared type, when it has another one: integers
/// of another width, or anything whose text form parses as the declared
/// type. Arrays stay arrays and scalars scalars.
pub(crate) fn coerce(value: Value, t: CimType, is_array: bool) -> Result<Value, String> {
    if value.is_array() != is_array {
        return Err(format!(
            "expected {}{}, found {}",
            t,
            if is_array { "[]" } else { "" },
            if value.is_array() {
                "an array"
            } else {
                "a scalar"
            }
        ));
    }
    if value.cim_type() == t {
        return Ok(value);
    }
    let one = |s: Scalar| -> Result<Scalar, String> {
        if let (Some(v), true) = (s.as_i128(), t.is_integer()) {
            return Scalar::parse(t, &v.to_string()).map_err(|e| e.to_string());
        }
        match s.to_text() {
            Some(text) => Scalar::parse(t, &text).map_err(|e| e.to_string()),
            None => Err(format!("expected {t}, found a reference")),
        }
    };
    match value {
        Value::Scalar(s) => one(s).map(Value::Scalar),
        Value::Array(_, items) => items
            .into_iter()
            .map(|i| i.map(one).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map(|items| Value::Array(t, items)),
    }
}

/// A reference (or reference array) with the namespace filled in.
fn anchored(v: Value, ns: &str) -> Value {
    let anchor = |s: Scalar| match s {
        Scalar::Reference(mut p) if p.namespace.is_none() => {
            p.namespace = Some(ns.to_string());
            Scalar::Reference(p)
        }
        other => other,
    };
    match v {
        Value::Scalar(s) => Value::Scalar(anchor(s)),
        Value::Array(t, items) => {
            Value::Array(t, items.into_iter().map(|i| i.map(anchor)).collect())
        }
    }
}

fn embedded_kind(p: &Property) -> Option<EmbeddedObject> {
    if p.qualifier("EmbeddedInstance")
        .is_some_and(|q| q.value.is_some())
    {
        Some(EmbeddedObject::Instance)
    } else if p.has_flag("EmbeddedObject") {
        Some(EmbeddedObject::Object)
    } else {
        None
    }
}

/// An instance property shaped after the class property `cp`, with `value`.
fn property_like(cp: &Property, value: Option<Value>) -> Property {
    let mut p = Property::new(cp.name.clone(), cp.cimtype, cp.is_array);
    p.array_size = cp.array_size;
    p.reference_class = cp.reference_class.clone();
    p.embedded_object = embedded_kind(cp);
    p.value = value;
    p
}

/// Makes a provider's instance conform to `class`: every class property
/// present in declaration order (NULL when the provider gave none), names
/// and types as declared. Properties the class does not have and values
/// that cannot take the declared type are provider bugs: they are dropped
/// and logged, never sent. References without a namespace are taken to be
/// in `ns`, the provider's, and say so (clients follow them).
pub(crate) fn conform(class: &Class, ns: &str, inst: Instance) -> Instance {
    if !name_eq(&inst.classname, &class.name) {
        super::log(&format!(
            "provider bug: instance of {} returned for class {}",
            inst.classname, class.name
        ));
    }
    for p in &inst.properties {
        if class.property(&p.name).is_none() {
            super::log(&format!(
                "provider bug: class {} has no property {}; dropped",
                class.name, p.name
            ));
        }
    }
    let mut given = inst.properties;
    let mut out = Instance::new(class.name.clone());
    for cp in &class.properties {
        let value = given
            .iter()
            .position(|p| name_eq(&p.name, &cp.name))
            .and_then(|i| given.swap_remove(i).value)
            .map(|v| anchored(v, ns))
            .and_then(|v| match coerce(v, cp.cimtype, cp.is_array) {
                Ok(v) => Some(v),
                Err(e) => {
                    super::log(&format!(
                        "provider bug: {}.{}: {e}; sent as NULL",
                        class.name, cp.name
                    ));
                    None
                }
            });
        out.properties.push(property_like(cp, value));
    }
    out
}

/// Types a client's instance (CreateInstance, ModifyInstance) against
/// `class`: unknown properties are CIM_ERR_INVALID_PARAMETER, values that
/// cannot take the declared type CIM_ERR_TYPE_MISMATCH. Only the properties
/// the client sent are returned.
pub(crate) fn typed_client_instance(class: &Class, inst: &Instance) -> Result<Instance, CimError> {
    if !name_eq(&inst.classname, &class.name) {
        return Err(CimError::new(
            CimStatus::InvalidParameter,
            format!(
                "the instance is of class {}, the path names class {}",
                inst.classname, class.name
            ),
        ));
    }
    let mut out = Instance::new(class.name.clone());
    for p in &inst.properties {
        let cp = class.property(&p.name).ok_or_else(|| {
            CimError::new(
                CimStatus::InvalidParameter,
                format!("class {} has no property {}", class.name, p.name),
            )
        })?;
        let value = p
            .value
            .clone()
            .map(|v| coerce(v, cp.cimtype, cp.is_array))
            .transpose()
            .map_err(|e| {
                CimError::new(
                    CimStatus::TypeMismatch,
                    format!("property {}.{}: {e}", class.name, cp.name),
                )
            })?;
        out.properties.push(property_like(cp, value));
    }
    Ok(out)
}

/// A client's instance completed with the class's defaults (NULL where the
/// class has none) for what the client left out (CreateInstance).
pub(crate) fn with_defaults(class: &Class, given: Instance) -> Instance {
    let mut out = Instance::new(class.name.clone());
    for cp in &class.properties {
        let value = match given.property(&cp.name) {
            Some(p) => p.value.clone(),
            None => cp.value.clone(),
        };
        out.properties.push(property_like(cp, value));
    }
    out
}

/// What a request wants returned of each instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape<'a> {
    /// `PropertyList`; `None` for all.
    pub property_list: Option<&'a [String]>,
    /// With DeepInheritance false: only properties of this (requested) class.
    pub only_of_class: Option<&'a Class>,
    pub include_qualifiers: bool,
    pub include_class_origin: bool,
}

impl Shape<'_> {
    fn keeps(&self, name: &str) -> bool {
        self.property_list
            .is_none_or(|l| l.iter().any(|n| name_eq(n, name)))
            && self
                .only_of_class
                .is_none_or(|c| c.property(name).is_some())
    }

    /// Applies the shape to a conformed instance of `class`.
    pub fn apply(&self, class: &Class, mut inst: Instance) -> Instance {
        inst.properties.retain(|p| self.keeps(&p.name));
        if self.include_qualifiers || self.include_class_origin {
            for p in &mut inst.properties {
                let Some(cp) = class.property(&p.name) else {
                    continue;
                };
                if self.include_qualifiers {
                    p.qualifiers = cp.qualifiers.clone();
                }
                if self.include_class_origin {
                    p.class_origin = cp.class_origin.clone();
                }
            }
        }
        inst
    }
}
