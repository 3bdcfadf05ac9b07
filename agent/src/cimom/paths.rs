//! Instance paths: built from the class's key properties for instances the
//! providers return, and checked and normalised (key names, key types,
//! namespace) for paths the clients send.

use crate::cim::types::name_eq;
use crate::cim::{
    CimError, CimStatus, CimType, Class, Instance, KeyValue, Numeric, ObjectPath, Scalar, Value,
};

use super::params::invalid;

/// The path of `inst` (already conformed to `class`) in namespace `ns`:
/// one keybinding per key property, in declaration order. Host is left out
/// (the writer fills in a default where the DTD needs one).
pub(crate) fn instance_path(
    class: &Class,
    ns: &str,
    inst: &Instance,
) -> Result<ObjectPath, String> {
    let mut path = ObjectPath::new(class.name.clone()).with_namespace(ns);
    for k in class.key_properties() {
        let v = inst
            .get(&k.name)
            .ok_or_else(|| format!("key property {} is NULL", k.name))?;
        let kv = v
            .as_scalar()
            .and_then(KeyValue::from_scalar)
            .ok_or_else(|| format!("key property {} has no key form", k.name))?;
        path = path.with_key(k.name.clone(), kv);
    }
    Ok(path)
}

fn numeric_in_range(t: CimType, n: Numeric) -> bool {
    let v: i128 = match n {
        Numeric::Unsigned(v) => v.into(),
        Numeric::Signed(v) => v.into(),
        Numeric::Real(_) => return false,
    };
    let (lo, hi): (i128, i128) = match t {
        CimType::Uint8 => (0, u8::MAX.into()),
        CimType::Uint16 => (0, u16::MAX.into()),
        CimType::Uint32 => (0, u32::MAX.into()),
        CimType::Uint64 => (0, u64::MAX.into()),
        CimType::Sint8 => (i8::MIN.into(), i8::MAX.into()),
        CimType::Sint16 => (i16::MIN.into(), i16::MAX.into()),
        CimType::Sint32 => (i32::MIN.into(), i32::MAX.into()),
        CimType::Sint64 => (i64::MIN.into(), i64::MAX.into()),
        _ => return false,
    };
    (lo..=hi).contains(&v)
}

/// A client's key value typed as the key property declares; clients differ
/// in what they send (wbemcli: numbers as strings from the URL; pywbem:
/// typed), so any text that parses as the declared type is accepted.
fn typed_key(t: CimType, kv: &KeyValue) -> Option<KeyValue> {
    let text = match kv {
        KeyValue::String { value, .. } => value.clone(),
        KeyValue::Numeric { value, .. } => value.to_text(),
        KeyValue::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        KeyValue::Reference(p) => {
            return (t == CimType::Reference).then(|| KeyValue::Reference(p.clone()))
        }
    };
    match t {
        CimType::Reference | CimType::Real32 | CimType::Real64 => None,
        CimType::Boolean => match Scalar::parse(t, &text).ok()? {
            Scalar::Boolean(b) => Some(KeyValue::Boolean(b)),
            _ => None,
        },
        CimType::String | CimType::Char16 | CimType::DateTime => {
            KeyValue::from_scalar(&Scalar::parse(t, &text).ok()?)
        }
        _ => {
            let n = Numeric::parse(&text)?;
            numeric_in_range(t, n).then_some(KeyValue::Numeric {
                value: n,
                cimtype: Some(t),
            })
        }
    }
}

/// Checks a client's instance path against `class` (in namespace `ns`) and
/// returns it normalised: canonical class and key names in declaration
/// order, key values typed, namespace set. Missing, unknown or ill-typed
/// keys are CIM_ERR_INVALID_PARAMETER.
pub(crate) fn normalize(
    class: &Class,
    ns: &str,
    path: &ObjectPath,
) -> Result<ObjectPath, CimError> {
    if let Some(kb) = path
        .keybindings
        .iter()
        .find(|kb| !class.key_properties().any(|k| name_eq(&k.name, &kb.name)))
    {
        return Err(invalid(format!(
            "{} is not a key property of {}",
            kb.name, class.name
        )));
    }
    let mut out = ObjectPath::new(class.name.clone()).with_namespace(ns);
    out.host = path.host.clone();
    for k in class.key_properties() {
        let given = path
            .key(&k.name)
            .ok_or_else(|| invalid(format!("the path lacks key property {}", k.name)))?;
        let v = typed_key(k.cimtype, given).ok_or_else(|| {
            invalid(format!(
                "key property {} of {}: not a valid {} value",
                k.name, class.name, k.cimtype
            ))
        })?;
        out = out.with_key(k.name.clone(), v);
    }
    Ok(out)
}

/// Same instance, with a reference's missing namespace read as `ns`.
pub(crate) fn refers_to(value: &Value, target: &ObjectPath, ns: &str) -> bool {
    match value.as_reference() {
        Some(p) if p.namespace.is_none() => p.clone().with_namespace(ns).same_instance(target),
        Some(p) => p.same_instance(target),
        None => false,
    }
}

pub(crate) fn invalid_class(ns: &str, name: &str) -> CimError {
    CimError::new(
        CimStatus::InvalidClass,
        format!("class {name} does not exist in namespace {ns}"),
    )
}

/// A path as a reader would write it: `Class.Key="v",Other=3`.
pub(crate) fn describe(path: &ObjectPath) -> String {
    let keys: Vec<String> = path
        .keybindings
        .iter()
        .map(|k| {
            let v = match &k.value {
                KeyValue::String { value, .. } => format!("{value:?}"),
                KeyValue::Boolean(b) => b.to_string(),
                KeyValue::Numeric { value, .. } => value.to_text(),
                KeyValue::Reference(p) => describe(p),
            };
            format!("{}={v}", k.name)
        })
        .collect();
    if keys.is_empty() {
        path.classname.clone()
    } else {
        format!("{}.{}", path.classname, keys.join(","))
    }
}
