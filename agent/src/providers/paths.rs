//! Picking instances by their keys: GetInstance of classes whose instances are cheap to
//! list compares the requested path with each instance's key properties.

use crate::cim::types::name_eq;
use crate::cim::{CimError, CimStatus, Instance, KeyValue, ObjectPath};

/// True if `inst` is the instance `path` names: same class, and every key of `keys`
/// equal (names case-insensitive; `TYPE` hints and, in references, host and namespace
/// present on one side only, ignored). Keys of the path that the class does not have
/// make it name no instance.
pub fn is_named_by(inst: &Instance, path: &ObjectPath, keys: &[&str]) -> bool {
    name_eq(&inst.classname, &path.classname)
        && path.keybindings.len() == keys.len()
        && keys.iter().all(|k| {
            let mine = inst
                .get(k)
                .and_then(|v| v.as_scalar())
                .and_then(KeyValue::from_scalar);
            matches!((mine, path.key(k)), (Some(a), Some(b)) if a.same_key(b))
        })
}

/// The instance of `list` that `path` names; CIM_ERR_NOT_FOUND otherwise.
pub fn pick(list: Vec<Instance>, path: &ObjectPath, keys: &[&str]) -> Result<Instance, CimError> {
    list.into_iter()
        .find(|i| is_named_by(i, path, keys))
        .ok_or_else(|| {
            CimError::new(
                CimStatus::NotFound,
                format!(
                    "no {} instance has the keys of the given path",
                    path.classname
                ),
            )
        })
}

/// `inst`, fetched by the keys `path` names, if `path` has no other key (a path with
/// extra keys names no instance: CIM_ERR_NOT_FOUND).
pub fn named_by(inst: Instance, path: &ObjectPath, keys: &[&str]) -> Result<Instance, CimError> {
    if is_named_by(&inst, path, keys) {
        return Ok(inst);
    }
    Err(CimError::new(
        CimStatus::NotFound,
        format!(
            "{} is identified by {} only",
            inst.classname,
            keys.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::Value;

    #[test]
    fn picks_by_keys_only() {
        let a = Instance::new("DS_X").with("K", "a").with("Other", 1u32);
        let b = Instance::new("DS_X").with("K", "b");
        let path = ObjectPath::new("ds_x").with_key("k", KeyValue::string("b"));
        assert_eq!(pick(vec![a.clone(), b.clone()], &path, &["K"]).unwrap(), b);
        let missing = ObjectPath::new("DS_X").with_key("K", KeyValue::string("c"));
        assert_eq!(
            pick(vec![a.clone()], &missing, &["K"]).unwrap_err().status,
            CimStatus::NotFound
        );
        let extra = path.clone().with_key("Z", KeyValue::string("1"));
        assert!(!is_named_by(&b, &extra, &["K"]));
        assert!(!is_named_by(
            &b,
            &ObjectPath::new("DS_Y").with_key("K", KeyValue::string("b")),
            &["K"]
        ));
    }

    #[test]
    fn reference_keys_ignore_a_missing_namespace() {
        let target = ObjectPath::new("DS_IISet")
            .with_namespace("root/dsimage")
            .with_key("Name", KeyValue::string("s"));
        let inst = Instance::new("DS_A").with("Set", Value::reference(target.clone()));
        let mut bare = target;
        bare.namespace = None;
        let path = ObjectPath::new("DS_A").with_key("Set", KeyValue::Reference(Box::new(bare)));
        assert!(is_named_by(&inst, &path, &["Set"]));
    }
}
