//! Class and qualifier-type operations, answered from the repository:
//! GetClass, EnumerateClasses, EnumerateClassNames, GetQualifier,
//! EnumerateQualifiers. The schema is fixed at build time, so the
//! operations that would change it are refused in `dispatch`.

use crate::cim::{CimError, CimStatus, IMethodResult, IReturnValue};

use super::instances::{result, Args};
use super::params::{invalid, Params};
use super::Cimom;

impl Cimom {
    pub(super) fn get_class(&self, ns: &str, args: Args) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "GetClass",
            args,
            &[
                "ClassName",
                "LocalOnly",
                "IncludeQualifiers",
                "IncludeClassOrigin",
                "PropertyList",
            ],
        )?;
        let name = p.required_class_name("ClassName")?;
        // DSP0200 defaults: LocalOnly and IncludeQualifiers true.
        let c = self.repo.get_class(
            ns,
            &name,
            p.bool("LocalOnly", true)?,
            p.bool("IncludeQualifiers", true)?,
            p.bool("IncludeClassOrigin", false)?,
            p.property_list()?.as_deref(),
        )?;
        Ok(result(IReturnValue::Classes(vec![c])))
    }

    pub(super) fn enumerate_classes(
        &self,
        ns: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "EnumerateClasses",
            args,
            &[
                "ClassName",
                "DeepInheritance",
                "LocalOnly",
                "IncludeQualifiers",
                "IncludeClassOrigin",
            ],
        )?;
        let name = p.class_name("ClassName")?;
        let deep = p.bool("DeepInheritance", false)?;
        let local_only = p.bool("LocalOnly", true)?;
        let include_qualifiers = p.bool("IncludeQualifiers", true)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let classes = self
            .repo
            .enumerate_classes(ns, name.as_deref(), deep)?
            .into_iter()
            .map(|c| {
                self.repo.get_class(
                    ns,
                    &c.name,
                    local_only,
                    include_qualifiers,
                    include_class_origin,
                    None,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(result(IReturnValue::Classes(classes)))
    }

    pub(super) fn enumerate_class_names(
        &self,
        ns: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "EnumerateClassNames",
            args,
            &["ClassName", "DeepInheritance"],
        )?;
        let name = p.class_name("ClassName")?;
        let deep = p.bool("DeepInheritance", false)?;
        let names = self
            .repo
            .enumerate_classes(ns, name.as_deref(), deep)?
            .into_iter()
            .map(|c| c.name.clone())
            .collect();
        Ok(result(IReturnValue::ClassNames(names)))
    }

    pub(super) fn get_qualifier(&self, ns: &str, args: Args) -> Result<IMethodResult, CimError> {
        let p = Params::new("GetQualifier", args, &["QualifierName"])?;
        let name = p
            .string("QualifierName")?
            .ok_or_else(|| invalid("parameter QualifierName is required"))?;
        let q = self.repo.qualifier_decl(ns, &name).ok_or_else(|| {
            CimError::new(
                CimStatus::NotFound,
                format!("qualifier type {name} is not declared in {ns}"),
            )
        })?;
        Ok(result(IReturnValue::QualifierDecls(vec![q.clone()])))
    }

    pub(super) fn enumerate_qualifiers(
        &self,
        ns: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        Params::new("EnumerateQualifiers", args, &[])?;
        Ok(result(IReturnValue::QualifierDecls(
            self.repo.qualifier_decls(ns).to_vec(),
        )))
    }
}
