//! Instance operations over the providers: GetInstance, EnumerateInstances,
//! EnumerateInstanceNames, CreateInstance, ModifyInstance, DeleteInstance,
//! GetProperty, SetProperty; and the two primitives every other operation
//! builds on, [`Cimom::collect`] (all instances of a class and its
//! subclasses) and [`Cimom::fetch`] (one instance by path).

use crate::cim::types::name_eq;
use crate::cim::{
    CimError, CimStatus, Class, IMethodResult, IReturnValue, Instance, ObjectPath, ParamData,
    RawValue,
};

use super::filter::{self, Shape};
use super::params::{invalid, Params};
use super::{log, paths, Cimom};

pub(super) type Args<'a> = &'a [(String, ParamData)];

pub(super) fn result(value: IReturnValue) -> IMethodResult {
    IMethodResult {
        value,
        out_params: Vec::new(),
    }
}

fn not_found(path: &ObjectPath) -> CimError {
    CimError::new(
        CimStatus::NotFound,
        format!("instance {} does not exist", paths::describe(path)),
    )
}

fn no_provider(op: &str, class: &Class) -> CimError {
    CimError::new(
        CimStatus::NotSupported,
        format!("{op} is not supported for class {}", class.name),
    )
}

impl Cimom {
    /// Instances a provider serves of exactly `class`, conformed, with paths.
    pub(super) fn enumerate_exact(
        &self,
        user: &str,
        ns: &str,
        class: &Class,
    ) -> Result<Vec<(ObjectPath, Instance)>, CimError> {
        let Some(p) = self.provider(ns, &class.name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for i in p.enumerate_instances(&self.ctx(user, ns), &class.name)? {
            let i = filter::conform(class, ns, i);
            match paths::instance_path(class, ns, &i) {
                Ok(path) => out.push((path, i)),
                Err(e) => log(&format!(
                    "provider bug: instance of {} dropped: {e}",
                    class.name
                )),
            }
        }
        Ok(out)
    }

    /// Every instance of `classname` and its subclasses in `ns` (superclass
    /// first), conformed to its own class, with its path.
    pub(super) fn collect(
        &self,
        user: &str,
        ns: &str,
        classname: &str,
    ) -> Result<Vec<(ObjectPath, Instance)>, CimError> {
        let class = self.class(ns, classname)?;
        let mut out = self.enumerate_exact(user, ns, class)?;
        for sub in self.repo.subclasses_of(ns, &class.name, true) {
            out.extend(self.enumerate_exact(user, ns, self.class(ns, sub)?)?);
        }
        Ok(out)
    }

    /// The instance at `path` (normalised, namespace set), conformed;
    /// CIM_ERR_NOT_FOUND when there is none. Providers without their own
    /// GetInstance (CIM_ERR_NOT_SUPPORTED) are enumerated instead.
    pub(super) fn fetch(&self, user: &str, path: &ObjectPath) -> Result<Instance, CimError> {
        let ns = path.namespace.as_deref().unwrap_or_default();
        let class = self.class(ns, &path.classname)?;
        let Some(p) = self.provider(ns, &class.name) else {
            return Err(not_found(path));
        };
        match p.get_instance(&self.ctx(user, ns), path) {
            Ok(i) => Ok(filter::conform(class, ns, i)),
            Err(e) if e.status == CimStatus::NotSupported => self
                .enumerate_exact(user, ns, class)?
                .into_iter()
                .find(|(p, _)| p.same_instance(path))
                .map(|(_, i)| i)
                .ok_or_else(|| not_found(path)),
            Err(e) => Err(e),
        }
    }

    /// A client's instance path checked against its class in `ns`.
    pub(super) fn client_path(&self, ns: &str, path: &ObjectPath) -> Result<ObjectPath, CimError> {
        let class = self.class(ns, &path.classname)?;
        paths::normalize(class, ns, path)
    }

    pub(super) fn get_instance(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "GetInstance",
            args,
            &[
                "InstanceName",
                "LocalOnly",
                "IncludeQualifiers",
                "IncludeClassOrigin",
                "PropertyList",
            ],
        )?;
        // LocalOnly is deprecated for instances (DSP0200 5.3.2.2); as
        // DSP0200 recommends, it is accepted and treated as false.
        p.bool("LocalOnly", true)?;
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let property_list = p.property_list()?;
        let path = self.client_path(ns, &p.required_instance_name("InstanceName")?)?;
        let class = self.class(ns, &path.classname)?;
        let inst = self.fetch(user, &path)?;
        let shape = Shape {
            property_list: property_list.as_deref(),
            only_of_class: None,
            include_qualifiers,
            include_class_origin,
        };
        Ok(result(IReturnValue::Instances(vec![
            shape.apply(class, inst)
        ])))
    }

    pub(super) fn enumerate_instances(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "EnumerateInstances",
            args,
            &[
                "ClassName",
                "LocalOnly",
                "DeepInheritance",
                "IncludeQualifiers",
                "IncludeClassOrigin",
                "PropertyList",
            ],
        )?;
        p.bool("LocalOnly", true)?; // deprecated; treated as false (see GetInstance)
        let deep = p.bool("DeepInheritance", true)?;
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let property_list = p.property_list()?;
        let class = self.class(ns, &p.required_class_name("ClassName")?)?;
        let shape = Shape {
            property_list: property_list.as_deref(),
            only_of_class: (!deep).then_some(class),
            include_qualifiers,
            include_class_origin,
        };
        let found = self.collect(user, ns, &class.name)?;
        Ok(result(IReturnValue::NamedInstances(
            self.shaped(&shape, found),
        )))
    }

    /// Applies `shape` to instances, each after its own class (in its
    /// path's namespace).
    pub(super) fn shaped(
        &self,
        shape: &Shape,
        found: Vec<(ObjectPath, Instance)>,
    ) -> Vec<(ObjectPath, Instance)> {
        found
            .into_iter()
            .map(|(path, inst)| {
                let ns = path.namespace.as_deref().unwrap_or_default();
                let inst = match self.repo.class(ns, &inst.classname) {
                    Some(c) => shape.apply(c, inst),
                    None => inst,
                };
                (path, inst)
            })
            .collect()
    }

    pub(super) fn enumerate_instance_names(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new("EnumerateInstanceNames", args, &["ClassName"])?;
        let class = self.class(ns, &p.required_class_name("ClassName")?)?;
        let found = self.collect(user, ns, &class.name)?;
        Ok(result(IReturnValue::InstanceNames(
            found.into_iter().map(|(p, _)| p).collect(),
        )))
    }

    pub(super) fn create_instance(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new("CreateInstance", args, &["NewInstance"])?;
        let given = p.required_instance("NewInstance")?;
        let class = self.class(ns, &given.classname)?;
        if class.has_flag("Abstract") {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("class {} is abstract", class.name),
            ));
        }
        let provider = self
            .provider(ns, &class.name)
            .ok_or_else(|| no_provider("CreateInstance", class))?;
        let inst = filter::with_defaults(class, filter::typed_client_instance(class, given)?);
        let path = provider.create_instance(&self.ctx(user, ns), &inst)?;
        let path = paths::normalize(class, ns, &path).map_err(|e| {
            log(&format!(
                "provider bug: CreateInstance of {} returned a bad path: {}",
                class.name, e.description
            ));
            CimError::new(
                CimStatus::Failed,
                "the provider returned an invalid instance path",
            )
        })?;
        Ok(result(IReturnValue::InstanceNames(vec![path])))
    }

    pub(super) fn modify_instance(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "ModifyInstance",
            args,
            &["ModifiedInstance", "IncludeQualifiers", "PropertyList"],
        )?;
        // Instance qualifiers are not modifiable; the flag is accepted only.
        p.bool("IncludeQualifiers", true)?;
        let property_list = p.property_list()?;
        let (path, given) = p.required_named_instance("ModifiedInstance")?;
        let path = self.client_path(ns, path)?;
        let class = self.class(ns, &path.classname)?;
        let typed = filter::typed_client_instance(class, given)?;
        self.modify(user, class, &path, &typed, property_list.as_deref())?;
        Ok(result(IReturnValue::None))
    }

    /// ModifyInstance and SetProperty: the properties named by
    /// `property_list` (all that `typed` carries when `None`) take their
    /// values from `typed` (NULL when it lacks them). Unchanged values are
    /// no change, so a client may send back a whole instance it got; a
    /// changed key or a changed property without `Write` is refused. The
    /// provider gets the current instance with the changes applied, and the
    /// names of the changed properties.
    fn modify(
        &self,
        user: &str,
        class: &Class,
        path: &ObjectPath,
        typed: &Instance,
        property_list: Option<&[String]>,
    ) -> Result<(), CimError> {
        let ns = path.namespace.as_deref().unwrap_or_default();
        let provider = self
            .provider(ns, &class.name)
            .ok_or_else(|| no_provider("ModifyInstance", class))?;
        let mut names: Vec<&str> = Vec::new();
        match property_list {
            Some(list) => {
                for n in list {
                    let cp = class.property(n).ok_or_else(|| {
                        invalid(format!(
                            "PropertyList: class {} has no property {n}",
                            class.name
                        ))
                    })?;
                    names.push(&cp.name);
                }
            }
            None => names.extend(typed.properties.iter().map(|p| p.name.as_str())),
        }
        let current = self.fetch(user, path)?;
        let mut merged = current.clone();
        let mut changed: Vec<String> = Vec::new();
        for n in names {
            if changed.iter().any(|c| name_eq(c, n)) {
                continue;
            }
            let new = typed.get(n);
            if new == current.get(n) {
                continue;
            }
            let cp = class.property(n).expect("names come from the class");
            if cp.has_flag("Key") {
                return Err(invalid(format!(
                    "key property {}.{} cannot be modified",
                    class.name, cp.name
                )));
            }
            if !cp.has_flag("Write") {
                return Err(invalid(format!(
                    "property {}.{} is not writable",
                    class.name, cp.name
                )));
            }
            if let Some(slot) = merged.properties.iter_mut().find(|p| name_eq(&p.name, n)) {
                slot.value = new.cloned();
            }
            changed.push(cp.name.clone());
        }
        provider.modify_instance(&self.ctx(user, ns), &merged, path, Some(&changed))
    }

    pub(super) fn delete_instance(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new("DeleteInstance", args, &["InstanceName"])?;
        let path = self.client_path(ns, &p.required_instance_name("InstanceName")?)?;
        let class = self.class(ns, &path.classname)?;
        let provider = self
            .provider(ns, &class.name)
            .ok_or_else(|| no_provider("DeleteInstance", class))?;
        provider.delete_instance(&self.ctx(user, ns), &path)?;
        Ok(result(IReturnValue::None))
    }

    fn named_property<'c>(
        &self,
        class: &'c Class,
        p: &Params,
    ) -> Result<&'c crate::cim::Property, CimError> {
        let name = p
            .string("PropertyName")?
            .ok_or_else(|| invalid("parameter PropertyName is required"))?;
        class.property(&name).ok_or_else(|| {
            CimError::new(
                CimStatus::NoSuchProperty,
                format!("class {} has no property {name}", class.name),
            )
        })
    }

    pub(super) fn get_property(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new("GetProperty", args, &["InstanceName", "PropertyName"])?;
        let path = self.client_path(ns, &p.required_instance_name("InstanceName")?)?;
        let class = self.class(ns, &path.classname)?;
        let cp = self.named_property(class, &p)?;
        let inst = self.fetch(user, &path)?;
        // An empty IRETURNVALUE is a NULL value (DSP0201).
        Ok(result(match inst.get(&cp.name) {
            Some(v) => IReturnValue::Value(RawValue::from_value(v)),
            None => IReturnValue::Empty,
        }))
    }

    pub(super) fn set_property(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "SetProperty",
            args,
            &["InstanceName", "PropertyName", "NewValue"],
        )?;
        let path = self.client_path(ns, &p.required_instance_name("InstanceName")?)?;
        let class = self.class(ns, &path.classname)?;
        let cp = self.named_property(class, &p)?;
        let value = match p.get("NewValue") {
            None => None,
            Some(d) => d
                .typed(&cp.name, cp.cimtype, cp.is_array)
                .map_err(|e| CimError::new(CimStatus::TypeMismatch, e.to_string()))?,
        };
        let mut typed = Instance::new(class.name.clone());
        if let Some(v) = value {
            typed.set(&cp.name, v);
        }
        self.modify(
            user,
            class,
            &path,
            &typed,
            Some(std::slice::from_ref(&cp.name)),
        )?;
        Ok(result(IReturnValue::None))
    }
}
