//! Names of coded values (DS_IISet.State, a method's return code...) as the MOF's
//! ValueMap and Values qualifiers give them: read from the schema compiled into this
//! binary, the same MOF the agent serves, so that no table of names is kept twice.

use std::sync::OnceLock;

use crate::cim::{Qualifier, Scalar, Value};
use crate::cimom::schema::{self, DSIMAGE_NAMESPACE};
use crate::mof::Repository;

fn repository() -> Option<&'static Repository> {
    static REPO: OnceLock<Option<Repository>> = OnceLock::new();
    REPO.get_or_init(|| schema::builtin().ok()).as_ref()
}

fn strings(q: Option<&Qualifier>) -> Vec<String> {
    match q.and_then(|q| q.value.as_ref()) {
        Some(Value::Array(_, items)) => items
            .iter()
            .map(|i| match i {
                Some(Scalar::String(s)) => s.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The Values entry of `code` in a ValueMap: an exact entry first, then a range
/// (`"32768..65535"`), then `".."` (every value not listed, DSP0004).
pub fn lookup(value_map: &[String], values: &[String], code: u64) -> Option<String> {
    let in_range = |entry: &str| -> bool {
        let Some((lo, hi)) = entry.split_once("..") else {
            return false;
        };
        if lo.is_empty() && hi.is_empty() {
            return false;
        }
        let lo = lo.trim().parse::<u64>().unwrap_or(0);
        let hi = hi.trim().parse::<u64>().unwrap_or(u64::MAX);
        (lo..=hi).contains(&code)
    };
    let index = value_map
        .iter()
        .position(|e| e.trim().parse::<u64>().ok() == Some(code))
        .or_else(|| value_map.iter().position(|e| in_range(e)))
        .or_else(|| value_map.iter().position(|e| e.trim() == ".."))?;
    values.get(index).cloned()
}

/// The name of value `code` of property `class.property` (`DS_IISet.State` 1: `Idle`).
pub fn property_value(class: &str, property: &str, code: u64) -> Option<String> {
    let p = repository()?
        .class(DSIMAGE_NAMESPACE, class)?
        .property(property)?;
    lookup(
        &strings(p.qualifier("ValueMap")),
        &strings(p.qualifier("Values")),
        code,
    )
}

/// The name of return code `code` of method `class.method` (`6`: `In Use`).
pub fn return_value(class: &str, method: &str, code: u64) -> Option<String> {
    let m = repository()?
        .class(DSIMAGE_NAMESPACE, class)?
        .method(method)?;
    lookup(
        &strings(m.qualifier("ValueMap")),
        &strings(m.qualifier("Values")),
        code,
    )
}

/// As [`property_value`], or the number itself when the MOF has no name for it.
pub fn property_text(class: &str, property: &str, code: u64) -> String {
    property_value(class, property, code).unwrap_or_else(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_mof() {
        assert_eq!(
            property_value("DS_IISet", "State", 1).as_deref(),
            Some("Idle")
        );
        assert_eq!(
            property_value("DS_IISet", "State", 2).as_deref(),
            Some("Copy In Progress")
        );
        assert_eq!(
            property_value("DS_IISet", "Direction", 2).as_deref(),
            Some("Shadow To Master")
        );
        assert_eq!(
            property_value("DS_IISet", "Type", 2).as_deref(),
            Some("Dependent")
        );
        assert_eq!(
            property_value("DS_IIGroup", "Type", 0).as_deref(),
            Some("Empty")
        );
        assert_eq!(
            property_value("DS_StorageVolume", "Role", 1).as_deref(),
            Some("Master")
        );
        assert_eq!(property_value("DS_IISet", "State", 99), None);
        assert_eq!(property_text("DS_IISet", "State", 99), "99");
        assert_eq!(property_value("DS_IISet", "NoSuch", 1), None);
        assert_eq!(property_value("NoSuchClass", "State", 1), None);
    }

    #[test]
    fn return_codes_of_every_method_come_from_its_value_map() {
        assert_eq!(
            return_value("DS_IISet", "Update", 6).as_deref(),
            Some("In Use")
        );
        assert_eq!(
            return_value("DS_IIGroup", "Copy", 13).as_deref(),
            Some("Busy")
        );
        assert_eq!(
            return_value("DS_IIService", "CreateIISet", 9).as_deref(),
            Some("Already Exists")
        );
        assert_eq!(
            return_value("DS_StorageVolume", "PutUnderControl", 10).as_deref(),
            Some("Volume Unsuitable")
        );
        // Ranges and "..".
        assert_eq!(
            return_value("DS_IISet", "Update", 40000).as_deref(),
            Some("Vendor Specific")
        );
        assert_eq!(
            return_value("DS_IISet", "Update", 14).as_deref(),
            Some("DMTF Reserved")
        );
    }

    #[test]
    fn lookup_rules() {
        let map: Vec<String> = ["0", "2", "..", "10..20"].map(String::from).to_vec();
        let values: Vec<String> = ["zero", "two", "other", "teens"].map(String::from).to_vec();
        assert_eq!(lookup(&map, &values, 0).as_deref(), Some("zero"));
        assert_eq!(lookup(&map, &values, 2).as_deref(), Some("two"));
        assert_eq!(lookup(&map, &values, 15).as_deref(), Some("teens"));
        assert_eq!(lookup(&map, &values, 3).as_deref(), Some("other"));
        assert_eq!(lookup(&map[..2], &values, 3), None);
        // Fewer Values than ValueMap entries: no name rather than a wrong one.
        assert_eq!(lookup(&map, &values[..1], 2), None);
    }
}
