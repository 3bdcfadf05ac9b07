//! Associators, AssociatorNames, References, ReferenceNames: computed
//! generically from the instances of the association classes of the
//! target's namespace whose reference properties point at the target. The
//! associated objects may live in another namespace (CIM_ElementConformsTo-
//! Profile points from `interop` to `root/dsimage`); they are fetched from
//! their own namespace's providers. Class-level calls are not supported.

use crate::cim::types::name_eq;
use crate::cim::{CimError, CimStatus, CimType, IMethodResult, IReturnValue, Instance, ObjectPath};

use super::filter::Shape;
use super::instances::{result, Args};
use super::params::{invalid, ObjectName, Params};
use super::{paths, Cimom};

/// The filters of the association operations (DSP0200 5.3.2.7–10).
#[derive(Debug, Clone, Default)]
pub(super) struct AssocFilter {
    pub assoc_class: Option<String>,
    pub result_class: Option<String>,
    pub role: Option<String>,
    pub result_role: Option<String>,
}

impl AssocFilter {
    /// Reads the filters an operation accepts from its parameters.
    pub fn from_params(p: &Params) -> Result<AssocFilter, CimError> {
        Ok(AssocFilter {
            assoc_class: p.class_name("AssocClass")?,
            result_class: p.class_name("ResultClass")?,
            role: p.string("Role")?.filter(|s| !s.is_empty()),
            result_role: p.string("ResultRole")?.filter(|s| !s.is_empty()),
        })
    }
}

/// An association instance referring to the target, and the name of the
/// reference property that does.
struct Referral {
    path: ObjectPath,
    inst: Instance,
    role: String,
}

fn class_level(class: &str) -> CimError {
    CimError::new(
        CimStatus::NotSupported,
        format!("association operations on classes ({class}) are not supported; name an instance"),
    )
}

impl Cimom {
    /// The target instance path of an association operation: an instance
    /// of a class of `ns`, keys checked. DSP0200 has no CIM_ERR_INVALID_CLASS
    /// for these operations: an unknown class is an invalid parameter.
    pub(super) fn assoc_target(&self, ns: &str, path: &ObjectPath) -> Result<ObjectPath, CimError> {
        let ns = match &path.namespace {
            Some(other) => self.namespace(other)?,
            None => ns.to_string(),
        };
        self.client_path(&ns, path).map_err(|e| match e.status {
            CimStatus::InvalidClass => invalid(e.description),
            _ => e,
        })
    }

    /// Association instances of `target`'s namespace (of `assoc_class` and
    /// its subclasses when given) with a reference property (named `role`
    /// when given) pointing at `target`.
    fn referrals(
        &self,
        user: &str,
        target: &ObjectPath,
        assoc_class: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<Referral>, CimError> {
        let ns = target.namespace.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        let assocs = self.repo.enumerate_classes(ns, None, true)?;
        for class in assocs.into_iter().filter(|c| c.has_flag("Association")) {
            // Only associations that can point at the target's class are
            // asked for instances: each enumeration may cost the engine.
            let can_point = class.properties.iter().any(|p| {
                p.cimtype == CimType::Reference
                    && role.is_none_or(|r| name_eq(r, &p.name))
                    && p.reference_class
                        .as_deref()
                        .is_none_or(|rc| self.repo.is_subclass(ns, &target.classname, rc))
            });
            if !can_point
                || assoc_class.is_some_and(|a| !self.repo.is_subclass(ns, &class.name, a))
                || self.provider(ns, &class.name).is_none()
            {
                continue;
            }
            for (path, inst) in self.enumerate_exact(user, ns, class)? {
                for p in &inst.properties {
                    let points_here = p.cimtype == CimType::Reference
                        && role.is_none_or(|r| name_eq(r, &p.name))
                        && p.value
                            .as_ref()
                            .is_some_and(|v| paths::refers_to(v, target, ns));
                    if points_here {
                        out.push(Referral {
                            path: path.clone(),
                            inst: inst.clone(),
                            role: p.name.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Association instances referring to `target` (References).
    pub(super) fn references_of(
        &self,
        user: &str,
        target: &ObjectPath,
        f: &AssocFilter,
    ) -> Result<Vec<(ObjectPath, Instance)>, CimError> {
        let mut out: Vec<(ObjectPath, Instance)> = Vec::new();
        for r in self.referrals(user, target, f.result_class.as_deref(), f.role.as_deref())? {
            if !out.iter().any(|(p, _)| p.same_instance(&r.path)) {
                out.push((r.path, r.inst));
            }
        }
        Ok(out)
    }

    /// Paths of the objects associated with `target` (AssociatorNames),
    /// each once, namespace set, keys typed where their class is known.
    pub(super) fn associator_paths(
        &self,
        user: &str,
        target: &ObjectPath,
        f: &AssocFilter,
    ) -> Result<Vec<ObjectPath>, CimError> {
        let ns = target.namespace.as_deref().unwrap_or_default();
        let mut out: Vec<ObjectPath> = Vec::new();
        for r in self.referrals(user, target, f.assoc_class.as_deref(), f.role.as_deref())? {
            for p in &r.inst.properties {
                if p.cimtype != CimType::Reference
                    || name_eq(&p.name, &r.role)
                    || f.result_role
                        .as_deref()
                        .is_some_and(|rr| !name_eq(rr, &p.name))
                {
                    continue;
                }
                let Some(other) = p.value.as_ref().and_then(|v| v.as_reference()) else {
                    continue;
                };
                let mut other = other.clone();
                if other.namespace.is_none() {
                    other.namespace = Some(ns.to_string());
                }
                let other_ns = other.namespace.clone().unwrap_or_default();
                // Objects in a namespace or class we do not serve are still
                // named (they are the provider's statement), unfiltered by
                // class and untyped.
                let other = match self.namespace(&other_ns) {
                    Ok(cns) => match self.client_path(&cns, &other) {
                        Ok(p) => p,
                        Err(_) => other,
                    },
                    Err(_) => other,
                };
                if let Some(rc) = &f.result_class {
                    let ons = other.namespace.as_deref().unwrap_or_default();
                    if !self.repo.is_subclass(ons, &other.classname, rc) {
                        continue;
                    }
                }
                if !out.iter().any(|o| o.same_instance(&other)) {
                    out.push(other);
                }
            }
        }
        Ok(out)
    }

    /// The objects associated with `target` (Associators); objects that no
    /// longer exist are left out.
    pub(super) fn associator_instances(
        &self,
        user: &str,
        target: &ObjectPath,
        f: &AssocFilter,
    ) -> Result<Vec<(ObjectPath, Instance)>, CimError> {
        let mut out = Vec::new();
        for path in self.associator_paths(user, target, f)? {
            match self.fetch(user, &path) {
                Ok(inst) => out.push((path, inst)),
                Err(e)
                    if matches!(
                        e.status,
                        CimStatus::NotFound | CimStatus::InvalidClass | CimStatus::InvalidNamespace
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn assoc_operation(
        &self,
        ns: &str,
        user: &str,
        args: Args,
        op: AssocOp,
    ) -> Result<IMethodResult, CimError> {
        let mut accepted = vec!["ObjectName", "ResultClass", "Role"];
        if matches!(op, AssocOp::Associators | AssocOp::AssociatorNames) {
            accepted.extend(["AssocClass", "ResultRole"]);
        }
        if matches!(op, AssocOp::Associators | AssocOp::References) {
            accepted.extend(["IncludeQualifiers", "IncludeClassOrigin", "PropertyList"]);
        }
        let p = Params::new(op.name(), args, &accepted)?;
        let f = AssocFilter::from_params(&p)?;
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let property_list = p.property_list()?;
        let target = match p.object_name("ObjectName")? {
            ObjectName::Class(c) => return Err(class_level(&c)),
            ObjectName::Instance(path) => self.assoc_target(ns, &path)?,
        };
        let shape = Shape {
            property_list: property_list.as_deref(),
            only_of_class: None,
            include_qualifiers,
            include_class_origin,
        };
        let value = match op {
            AssocOp::Associators => IReturnValue::ObjectsWithPath(
                self.shaped(&shape, self.associator_instances(user, &target, &f)?),
            ),
            AssocOp::AssociatorNames => {
                IReturnValue::ObjectPaths(self.associator_paths(user, &target, &f)?)
            }
            AssocOp::References => IReturnValue::ObjectsWithPath(
                self.shaped(&shape, self.references_of(user, &target, &f)?),
            ),
            AssocOp::ReferenceNames => IReturnValue::ObjectPaths(
                self.references_of(user, &target, &f)?
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect(),
            ),
        };
        Ok(result(value))
    }

    pub(super) fn associators(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.assoc_operation(ns, user, args, AssocOp::Associators)
    }

    pub(super) fn associator_names(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.assoc_operation(ns, user, args, AssocOp::AssociatorNames)
    }

    pub(super) fn references(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.assoc_operation(ns, user, args, AssocOp::References)
    }

    pub(super) fn reference_names(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.assoc_operation(ns, user, args, AssocOp::ReferenceNames)
    }
}

#[derive(Debug, Clone, Copy)]
enum AssocOp {
    Associators,
    AssociatorNames,
    References,
    ReferenceNames,
}

impl AssocOp {
    fn name(self) -> &'static str {
        match self {
            AssocOp::Associators => "Associators",
            AssocOp::AssociatorNames => "AssociatorNames",
            AssocOp::References => "References",
            AssocOp::ReferenceNames => "ReferenceNames",
        }
    }
}
