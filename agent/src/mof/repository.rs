//! The compiled schema: per namespace, qualifier types, classes with
//! inheritance resolved (propagated members and qualifiers, class origin,
//! overrides) and instances declared in MOF. Also the class-level
//! operations the CIMOM serves from it (GetClass, EnumerateClasses...).

use super::ast::*;
use super::lexer::Pos;
use super::MofError;
use crate::cim::types::name_eq;
use crate::cim::{
    CimDateTime, CimError, CimStatus, CimType, Class, Flavors, Instance, KeyValue, Method,
    ObjectPath, Parameter, Property, Qualifier, QualifierDecl, Scalar, Scope, Value,
};

#[derive(Debug, Clone, Default)]
struct NsData {
    name: String,
    qualifiers: Vec<QualifierDecl>,
    /// Resolved classes; a class always comes after its superclass.
    classes: Vec<Class>,
    instances: Vec<Instance>,
}

/// Compiled classes and qualifier types, by namespace.
#[derive(Debug, Clone, Default)]
pub struct Repository {
    namespaces: Vec<NsData>,
}

fn find<'a, T>(items: &'a [T], name: &str, key: impl Fn(&T) -> &str) -> Option<&'a T> {
    items.iter().find(|i| name_eq(key(i), name))
}

// ---- literal typing ---------------------------------------------------------

fn lit_desc(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "null",
        Literal::Bool(_) => "a boolean",
        Literal::Int(_) => "an integer",
        Literal::Real(_) => "a real",
        Literal::Str(_) => "a string",
        Literal::Char(_) => "a char16",
        Literal::Alias(_) => "an alias",
        Literal::Array(_) => "an array",
    }
}

fn scalar_from_literal(l: &Literal, t: CimType) -> Result<Scalar, String> {
    let mismatch = || format!("type mismatch: expected {t}, found {}", lit_desc(l));
    let range = |v: i128| format!("value {v} out of range for {t}");
    macro_rules! int {
        ($v:expr, $var:ident, $ty:ty) => {
            Scalar::$var(<$ty>::try_from($v).map_err(|_| range($v))?)
        };
    }
    Ok(match (l, t) {
        (Literal::Bool(b), CimType::Boolean) => Scalar::Boolean(*b),
        (Literal::Int(v), CimType::Uint8) => int!(*v, Uint8, u8),
        (Literal::Int(v), CimType::Uint16) => int!(*v, Uint16, u16),
        (Literal::Int(v), CimType::Uint32) => int!(*v, Uint32, u32),
        (Literal::Int(v), CimType::Uint64) => int!(*v, Uint64, u64),
        (Literal::Int(v), CimType::Sint8) => int!(*v, Sint8, i8),
        (Literal::Int(v), CimType::Sint16) => int!(*v, Sint16, i16),
        (Literal::Int(v), CimType::Sint32) => int!(*v, Sint32, i32),
        (Literal::Int(v), CimType::Sint64) => int!(*v, Sint64, i64),
        (Literal::Int(v), CimType::Real32) => Scalar::Real32(*v as f32),
        (Literal::Int(v), CimType::Real64) => Scalar::Real64(*v as f64),
        (Literal::Real(v), CimType::Real32) => Scalar::Real32(*v as f32),
        (Literal::Real(v), CimType::Real64) => Scalar::Real64(*v),
        (Literal::Str(s), CimType::String) => Scalar::String(s.clone()),
        (Literal::Char(c), CimType::String) => Scalar::String(c.to_string()),
        (Literal::Char(c), CimType::Char16) => Scalar::Char16(*c),
        (Literal::Str(s), CimType::DateTime) => {
            Scalar::DateTime(s.parse::<CimDateTime>().map_err(|e| e.to_string())?)
        }
        _ => return Err(mismatch()),
    })
}

/// Types a literal. `wrap_scalar` lets a scalar stand for a one-element
/// array (allowed for qualifier values such as `ValueMap("1")`).
fn value_from_literal(
    l: &Literal,
    t: CimType,
    is_array: bool,
    wrap_scalar: bool,
) -> Result<Option<Value>, String> {
    match (l, is_array) {
        (Literal::Null, _) => Ok(None),
        (Literal::Array(items), true) => Ok(Some(Value::Array(
            t,
            items
                .iter()
                .map(|i| match i {
                    Literal::Null => Ok(None),
                    i => scalar_from_literal(i, t).map(Some),
                })
                .collect::<Result<_, _>>()?,
        ))),
        (Literal::Array(_), false) => Err(format!("type mismatch: expected {t}, found an array")),
        (l, true) if wrap_scalar => Ok(Some(Value::Array(
            t,
            vec![Some(scalar_from_literal(l, t)?)],
        ))),
        (_, true) => Err(format!(
            "type mismatch: expected {t}[], found {}",
            lit_desc(l)
        )),
        (l, false) => scalar_from_literal(l, t).map(|s| Some(Value::Scalar(s))),
    }
}

fn apply_flavors(mut f: Flavors, list: &[Flavor]) -> Flavors {
    for fl in list {
        match fl {
            Flavor::EnableOverride => f.overridable = true,
            Flavor::DisableOverride => f.overridable = false,
            Flavor::ToSubclass => f.tosubclass = true,
            Flavor::Restricted => f.tosubclass = false,
            Flavor::Translatable => f.translatable = true,
        }
    }
    f
}

/// Which scope a set of qualifiers is being applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Class { association: bool, indication: bool },
    Property,
    Reference,
    Method,
    Parameter,
}

impl Target {
    fn allowed(self, s: &Scope) -> bool {
        match self {
            Target::Class {
                association,
                indication,
            } => s.class || (association && s.association) || (indication && s.indication),
            Target::Property => s.property,
            Target::Reference => s.reference,
            Target::Method => s.method,
            Target::Parameter => s.parameter,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Class {
                association: true, ..
            } => "association",
            Target::Class {
                indication: true, ..
            } => "indication",
            Target::Class { .. } => "class",
            Target::Property => "property",
            Target::Reference => "reference",
            Target::Method => "method",
            Target::Parameter => "parameter",
        }
    }
}

// ---- compilation ------------------------------------------------------------

struct Ctx<'a> {
    file: &'a str,
    qdecls: &'a [QualifierDecl],
}

impl Ctx<'_> {
    fn err(&self, pos: Pos, msg: impl Into<String>) -> MofError {
        MofError::at(self.file, pos, msg)
    }

    /// Local qualifiers typed against their declarations, merged with the
    /// inherited ones per DSP0004 flavor rules.
    fn qualifiers(
        &self,
        local: &[QualifierValue],
        inherited: &[Qualifier],
        target: Target,
    ) -> Result<Vec<Qualifier>, MofError> {
        let mut out: Vec<Qualifier> = Vec::new();
        for q in local {
            let decl = find(self.qdecls, &q.name, |d| &d.name)
                .ok_or_else(|| self.err(q.pos, format!("undeclared qualifier {}", q.name)))?;
            if !target.allowed(&decl.scope) {
                return Err(self.err(
                    q.pos,
                    format!(
                        "qualifier {} is not allowed on a {}",
                        decl.name,
                        target.name()
                    ),
                ));
            }
            if out.iter().any(|o| name_eq(&o.name, &q.name)) {
                return Err(self.err(q.pos, format!("duplicate qualifier {}", q.name)));
            }
            let value = match &q.value {
                // A bare boolean qualifier means TRUE; others take the default.
                None if decl.cimtype == CimType::Boolean && !decl.is_array => {
                    Some(Value::from(true))
                }
                None => decl.value.clone(),
                Some(l) => value_from_literal(l, decl.cimtype, decl.is_array, true)
                    .map_err(|m| self.err(q.pos, format!("qualifier {}: {m}", decl.name)))?,
            };
            if let Some(inh) = find(inherited, &q.name, |i| &i.name) {
                if !inh.flavors.overridable && inh.value != value {
                    return Err(self.err(
                        q.pos,
                        format!(
                            "qualifier {} is DisableOverride and cannot be changed",
                            decl.name
                        ),
                    ));
                }
            }
            out.push(Qualifier {
                name: decl.name.clone(),
                cimtype: decl.cimtype,
                value,
                propagated: false,
                flavors: apply_flavors(decl.flavors, &q.flavors),
            });
        }
        for inh in inherited {
            if inh.flavors.tosubclass && !out.iter().any(|o| name_eq(&o.name, &inh.name)) {
                let mut q = inh.clone();
                q.propagated = true;
                out.push(q);
            }
        }
        Ok(out)
    }

    fn parameter(
        &self,
        p: &ParameterAst,
        inherited: Option<&Parameter>,
    ) -> Result<Parameter, MofError> {
        let (cimtype, reference_class) = split_type(&p.dtype);
        let inh_quals = inherited.map(|i| i.qualifiers.as_slice()).unwrap_or(&[]);
        Ok(Parameter {
            name: p.name.clone(),
            cimtype,
            is_array: p.is_array,
            array_size: p.array_size,
            reference_class,
            qualifiers: self.qualifiers(&p.qualifiers, inh_quals, Target::Parameter)?,
        })
    }
}

fn split_type(t: &DataType) -> (CimType, Option<String>) {
    match t {
        DataType::Prim(t) => (*t, None),
        DataType::Ref(c) => (CimType::Reference, Some(c.clone())),
    }
}

fn has_override(q: &[QualifierValue], name: &str, pos: Pos, ctx: &Ctx) -> Result<bool, MofError> {
    match q.iter().find(|q| name_eq(&q.name, "Override")) {
        None => Ok(false),
        Some(QualifierValue {
            value: Some(Literal::Str(target)),
            ..
        }) if !name_eq(target, name) => Err(ctx.err(
            pos,
            format!("Override({target:?}) on {name}: renaming overrides are not supported"),
        )),
        Some(_) => Ok(true),
    }
}

fn inherited_copy_quals(quals: &[Qualifier]) -> Vec<Qualifier> {
    quals
        .iter()
        .filter(|q| q.flavors.tosubclass)
        .map(|q| Qualifier {
            propagated: true,
            ..q.clone()
        })
        .collect()
}

fn compile_class(ast: &ClassAst, sup: Option<&Class>, ctx: &Ctx) -> Result<Class, MofError> {
    let has_local = |n: &str| {
        ast.qualifiers
            .iter()
            .any(|q| name_eq(&q.name, n) && !matches!(q.value, Some(Literal::Bool(false))))
    };
    let association = has_local("Association") || sup.is_some_and(|s| s.has_flag("Association"));
    let indication = has_local("Indication") || sup.is_some_and(|s| s.has_flag("Indication"));
    let sup_quals = sup.map(|s| s.qualifiers.as_slice()).unwrap_or(&[]);
    let qualifiers = ctx.qualifiers(
        &ast.qualifiers,
        sup_quals,
        Target::Class {
            association,
            indication,
        },
    )?;

    // Properties: inherited ones first (overridden in place), then new ones.
    let mut properties: Vec<Property> = sup
        .map(|s| {
            s.properties
                .iter()
                .map(|p| Property {
                    propagated: true,
                    qualifiers: inherited_copy_quals(&p.qualifiers),
                    ..p.clone()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut seen: Vec<&str> = Vec::new();
    for pa in &ast.properties {
        if seen.iter().any(|s| name_eq(s, &pa.name)) {
            return Err(ctx.err(pa.pos, format!("duplicate property {}", pa.name)));
        }
        seen.push(&pa.name);
        let (cimtype, reference_class) = split_type(&pa.dtype);
        if reference_class.is_some() && !association {
            return Err(ctx.err(
                pa.pos,
                format!(
                    "reference property {} is only allowed in an association class",
                    pa.name
                ),
            ));
        }
        let inherited = sup.and_then(|s| s.property(&pa.name));
        if inherited.is_some() && !has_override(&pa.qualifiers, &pa.name, pa.pos, ctx)? {
            return Err(ctx.err(
                pa.pos,
                format!(
                    "property {} duplicates an inherited property without Override",
                    pa.name
                ),
            ));
        }
        if let Some(i) = inherited {
            if i.cimtype != cimtype || i.is_array != pa.is_array {
                return Err(ctx.err(
                    pa.pos,
                    format!(
                        "property {} overrides an inherited property of another type",
                        pa.name
                    ),
                ));
            }
        }
        let target = if reference_class.is_some() {
            Target::Reference
        } else {
            Target::Property
        };
        let inh_quals = inherited.map(|i| i.qualifiers.as_slice()).unwrap_or(&[]);
        let value = match &pa.default {
            None => inherited.and_then(|i| i.value.clone()),
            Some(l) if reference_class.is_some() => {
                if *l != Literal::Null {
                    return Err(ctx.err(pa.pos, "reference defaults are not supported"));
                }
                None
            }
            Some(l) => value_from_literal(l, cimtype, pa.is_array, false)
                .map_err(|m| ctx.err(pa.pos, format!("default of {}: {m}", pa.name)))?,
        };
        let prop = Property {
            name: pa.name.clone(),
            cimtype,
            value,
            is_array: pa.is_array,
            array_size: pa.array_size,
            class_origin: Some(ast.name.clone()),
            propagated: false,
            qualifiers: ctx.qualifiers(&pa.qualifiers, inh_quals, target)?,
            reference_class,
            embedded_object: None,
        };
        match properties.iter_mut().find(|p| name_eq(&p.name, &pa.name)) {
            Some(slot) => *slot = prop,
            None => properties.push(prop),
        }
    }

    let mut methods: Vec<Method> = sup
        .map(|s| {
            s.methods
                .iter()
                .map(|m| Method {
                    propagated: true,
                    qualifiers: inherited_copy_quals(&m.qualifiers),
                    parameters: m
                        .parameters
                        .iter()
                        .map(|p| Parameter {
                            qualifiers: inherited_copy_quals(&p.qualifiers),
                            ..p.clone()
                        })
                        .collect(),
                    ..m.clone()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut seen: Vec<&str> = Vec::new();
    for ma in &ast.methods {
        if seen.iter().any(|s| name_eq(s, &ma.name)) {
            return Err(ctx.err(ma.pos, format!("duplicate method {}", ma.name)));
        }
        seen.push(&ma.name);
        let inherited = sup.and_then(|s| s.method(&ma.name));
        if inherited.is_some() && !has_override(&ma.qualifiers, &ma.name, ma.pos, ctx)? {
            return Err(ctx.err(
                ma.pos,
                format!(
                    "method {} duplicates an inherited method without Override",
                    ma.name
                ),
            ));
        }
        let (return_type, rc) = split_type(&ma.return_type);
        if rc.is_some() || return_type == CimType::Reference {
            return Err(ctx.err(ma.pos, "methods cannot return references"));
        }
        if inherited.is_some_and(|i| i.return_type != return_type) {
            return Err(ctx.err(
                ma.pos,
                format!(
                    "method {} overrides an inherited method with another return type",
                    ma.name
                ),
            ));
        }
        let mut params = Vec::new();
        for p in &ma.params {
            if params.iter().any(|q: &Parameter| name_eq(&q.name, &p.name)) {
                return Err(ctx.err(p.pos, format!("duplicate parameter {}", p.name)));
            }
            params.push(ctx.parameter(p, inherited.and_then(|m| m.parameter(&p.name)))?);
        }
        let inh_quals = inherited.map(|i| i.qualifiers.as_slice()).unwrap_or(&[]);
        let m = Method {
            name: ma.name.clone(),
            return_type,
            parameters: params,
            qualifiers: ctx.qualifiers(&ma.qualifiers, inh_quals, Target::Method)?,
            class_origin: Some(ast.name.clone()),
            propagated: false,
        };
        match methods.iter_mut().find(|x| name_eq(&x.name, &ma.name)) {
            Some(slot) => *slot = m,
            None => methods.push(m),
        }
    }

    Ok(Class {
        name: ast.name.clone(),
        superclass: sup.map(|s| s.name.clone()),
        qualifiers,
        properties,
        methods,
    })
}

fn qualifier_decl(q: &QualifierDeclAst, file: &str) -> Result<QualifierDecl, MofError> {
    let mut scope = Scope::default();
    for s in &q.scopes {
        match s.as_str() {
            "any" => scope = Scope::ANY,
            "class" => scope.class = true,
            "association" => scope.association = true,
            "indication" => scope.indication = true,
            "property" => scope.property = true,
            "reference" => scope.reference = true,
            "method" => scope.method = true,
            "parameter" => scope.parameter = true,
            other => return Err(MofError::at(file, q.pos, format!("unknown scope {other}"))),
        }
    }
    let value = match &q.default {
        None => None,
        Some(l) => value_from_literal(l, q.cimtype, q.is_array, false)
            .map_err(|m| MofError::at(file, q.pos, format!("qualifier {}: {m}", q.name)))?,
    };
    Ok(QualifierDecl {
        name: q.name.clone(),
        cimtype: q.cimtype,
        is_array: q.is_array,
        array_size: q.array_size,
        value,
        scope,
        flavors: apply_flavors(Flavors::default(), &q.flavors),
    })
}

impl Repository {
    fn ns(&self, ns: &str) -> Option<&NsData> {
        let ns = ns.trim_matches('/');
        self.namespaces.iter().find(|n| name_eq(&n.name, ns))
    }

    fn ns_mut(&mut self, ns: &str) -> &mut NsData {
        let ns = ns.trim_matches('/');
        if let Some(i) = self.namespaces.iter().position(|n| name_eq(&n.name, ns)) {
            return &mut self.namespaces[i];
        }
        self.namespaces.push(NsData {
            name: ns.to_string(),
            ..Default::default()
        });
        self.namespaces.last_mut().expect("just pushed")
    }

    fn ns_or_err(&self, ns: &str) -> Result<&NsData, CimError> {
        self.ns(ns).ok_or_else(|| {
            CimError::new(
                CimStatus::InvalidNamespace,
                format!("namespace {ns} does not exist"),
            )
        })
    }

    /// Builds a repository from parsed declarations: qualifier types first,
    /// then classes in superclass order, then instances.
    pub fn build(decls: &[Decl]) -> Result<Repository, MofError> {
        let mut repo = Repository::default();
        for d in decls {
            if let DeclKind::Qualifier(q) = &d.kind {
                let decl = qualifier_decl(q, &d.file)?;
                let ns = repo.ns_mut(&d.namespace);
                match find(&ns.qualifiers, &q.name, |x| &x.name) {
                    Some(existing) if *existing == decl => {}
                    Some(_) => {
                        return Err(MofError::at(
                            &d.file,
                            q.pos,
                            format!("qualifier {} redeclared differently", q.name),
                        ))
                    }
                    None => ns.qualifiers.push(decl),
                }
            }
        }
        let classes: Vec<(&Decl, &ClassAst)> = decls
            .iter()
            .filter_map(|d| match &d.kind {
                DeclKind::Class(c) => Some((d, c)),
                _ => None,
            })
            .collect();
        for (i, (d, c)) in classes.iter().enumerate() {
            if classes[..i]
                .iter()
                .any(|(d2, c2)| name_eq(&c2.name, &c.name) && name_eq(&d2.namespace, &d.namespace))
            {
                return Err(MofError::at(
                    &d.file,
                    c.pos,
                    format!("duplicate class {}", c.name),
                ));
            }
        }
        // Superclass order, independent of file order.
        let mut pending: Vec<(&Decl, &ClassAst)> = classes;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for (d, c) in pending {
                let ns = repo.ns_mut(&d.namespace);
                let sup = match &c.superclass {
                    None => None,
                    Some(s) => match find(&ns.classes, s, |x| &x.name) {
                        Some(sc) => Some(sc.clone()),
                        None => {
                            rest.push((d, c));
                            continue;
                        }
                    },
                };
                let ctx = Ctx {
                    file: &d.file,
                    qdecls: &ns.qualifiers,
                };
                let class = compile_class(c, sup.as_ref(), &ctx)?;
                ns.classes.push(class);
            }
            if rest.len() == before {
                let (d, c) = rest[0];
                return Err(MofError::at(
                    &d.file,
                    c.pos,
                    format!(
                        "unknown superclass {} of class {}",
                        c.superclass.as_deref().unwrap_or(""),
                        c.name
                    ),
                ));
            }
            pending = rest;
        }
        // References must name known classes.
        for d in decls {
            let DeclKind::Class(c) = &d.kind else {
                continue;
            };
            let ns = repo
                .ns(&d.namespace)
                .expect("namespace of a compiled class");
            let refs = c.properties.iter().map(|p| (&p.dtype, p.pos)).chain(
                c.methods
                    .iter()
                    .flat_map(|m| m.params.iter().map(|p| (&p.dtype, p.pos))),
            );
            for (t, pos) in refs {
                if let DataType::Ref(rc) = t {
                    if find(&ns.classes, rc, |x| &x.name).is_none() {
                        return Err(MofError::at(
                            &d.file,
                            pos,
                            format!("unknown class {rc} in REF"),
                        ));
                    }
                }
            }
        }
        let mut aliases: Vec<(String, ObjectPath)> = Vec::new();
        for d in decls {
            if let DeclKind::Instance(i) = &d.kind {
                repo.add_mof_instance(d, i, &mut aliases)?;
            }
        }
        Ok(repo)
    }

    fn add_mof_instance(
        &mut self,
        d: &Decl,
        ia: &InstanceAst,
        aliases: &mut Vec<(String, ObjectPath)>,
    ) -> Result<(), MofError> {
        let err = |pos, m: String| MofError::at(&d.file, pos, m);
        let ns = self.ns_mut(&d.namespace);
        let class = find(&ns.classes, &ia.classname, |c| &c.name).ok_or_else(|| {
            err(
                ia.pos,
                format!("instance of unknown class {}", ia.classname),
            )
        })?;
        let mut inst = Instance::new(class.name.clone());
        for p in &class.properties {
            let mut ip = Property::new(p.name.clone(), p.cimtype, p.is_array);
            ip.value = p.value.clone();
            ip.reference_class = p.reference_class.clone();
            inst.properties.push(ip);
        }
        for (name, lit, pos) in &ia.values {
            let cp = class
                .property(name)
                .ok_or_else(|| err(*pos, format!("class {} has no property {name}", class.name)))?;
            let value = match lit {
                Literal::Alias(a) if cp.cimtype == CimType::Reference => {
                    let path = aliases
                        .iter()
                        .find(|(n, _)| n == a)
                        .map(|(_, p)| p.clone())
                        .ok_or_else(|| err(*pos, format!("undefined alias ${a}")))?;
                    Some(Value::reference(path))
                }
                l => value_from_literal(l, cp.cimtype, cp.is_array, false)
                    .map_err(|m| err(*pos, format!("property {name}: {m}")))?,
            };
            let slot = inst
                .properties
                .iter_mut()
                .find(|p| name_eq(&p.name, name))
                .expect("instance has every class property");
            slot.value = value;
        }
        if let Some(a) = &ia.alias {
            let mut path = ObjectPath::new(class.name.clone()).with_namespace(ns.name.clone());
            for k in class.key_properties() {
                let v = inst
                    .get(&k.name)
                    .and_then(Value::as_scalar)
                    .and_then(KeyValue::from_scalar)
                    .ok_or_else(|| err(ia.pos, format!("aliased instance lacks key {}", k.name)))?;
                path = path.with_key(k.name.clone(), v);
            }
            aliases.push((a.clone(), path));
        }
        ns.instances.push(inst);
        Ok(())
    }

    /// Names of all namespaces with declarations.
    pub fn namespaces(&self) -> Vec<&str> {
        self.namespaces.iter().map(|n| n.name.as_str()).collect()
    }

    /// The fully resolved class, as stored.
    pub fn class(&self, ns: &str, name: &str) -> Option<&Class> {
        find(&self.ns(ns)?.classes, name, |c| &c.name)
    }

    /// GetClass semantics (DSP0200 5.3.2.1): `local_only` drops propagated
    /// members and qualifiers; `include_qualifiers = false` drops all
    /// qualifiers (also on members and parameters); `include_class_origin`
    /// keeps CLASSORIGIN; `property_list` restricts properties.
    pub fn get_class(
        &self,
        ns: &str,
        name: &str,
        local_only: bool,
        include_qualifiers: bool,
        include_class_origin: bool,
        property_list: Option<&[String]>,
    ) -> Result<Class, CimError> {
        let data = self.ns_or_err(ns)?;
        let c = find(&data.classes, name, |c| &c.name)
            .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("class {name} not found")))?;
        let mut c = c.clone();
        if local_only {
            c.properties.retain(|p| !p.propagated);
            c.methods.retain(|m| !m.propagated);
            c.qualifiers.retain(|q| !q.propagated);
        }
        if let Some(list) = property_list {
            c.properties
                .retain(|p| list.iter().any(|n| name_eq(n, &p.name)));
        }
        if !include_qualifiers {
            c.qualifiers.clear();
            for p in &mut c.properties {
                p.qualifiers.clear();
            }
            for m in &mut c.methods {
                m.qualifiers.clear();
                for p in &mut m.parameters {
                    p.qualifiers.clear();
                }
            }
        }
        if !include_class_origin {
            for p in &mut c.properties {
                p.class_origin = None;
            }
            for m in &mut c.methods {
                m.class_origin = None;
            }
        }
        Ok(c)
    }

    /// EnumerateClasses / EnumerateClassNames: without `classname`, the
    /// root classes (or all when `deep`); with it, its direct subclasses
    /// (or all descendants when `deep`). Superclasses come first.
    pub fn enumerate_classes(
        &self,
        ns: &str,
        classname: Option<&str>,
        deep: bool,
    ) -> Result<Vec<&Class>, CimError> {
        let data = self.ns_or_err(ns)?;
        match classname {
            None => Ok(data
                .classes
                .iter()
                .filter(|c| deep || c.superclass.is_none())
                .collect()),
            Some(name) => {
                if find(&data.classes, name, |c| &c.name).is_none() {
                    return Err(CimError::new(
                        CimStatus::InvalidClass,
                        format!("class {name} not found"),
                    ));
                }
                Ok(data
                    .classes
                    .iter()
                    .filter(|c| {
                        if deep {
                            !name_eq(&c.name, name) && self.is_subclass(ns, &c.name, name)
                        } else {
                            c.superclass.as_deref().is_some_and(|s| name_eq(s, name))
                        }
                    })
                    .collect())
            }
        }
    }

    /// Names of the subclasses of `name` (all descendants when `deep`).
    pub fn subclasses_of(&self, ns: &str, name: &str, deep: bool) -> Vec<&str> {
        self.enumerate_classes(ns, Some(name), deep)
            .map(|v| v.into_iter().map(|c| c.name.as_str()).collect())
            .unwrap_or_default()
    }

    /// True if `a` is `b` or inherits from it.
    pub fn is_subclass(&self, ns: &str, a: &str, b: &str) -> bool {
        let mut cur = self.class(ns, a);
        while let Some(c) = cur {
            if name_eq(&c.name, b) {
                return true;
            }
            cur = c.superclass.as_deref().and_then(|s| self.class(ns, s));
        }
        false
    }

    /// The superclass chain of `name`, nearest first.
    pub fn superclasses(&self, ns: &str, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = self.class(ns, name).and_then(|c| c.superclass.as_deref());
        while let Some(s) = cur {
            match self.class(ns, s) {
                Some(c) => {
                    out.push(c.name.as_str());
                    cur = c.superclass.as_deref();
                }
                None => break,
            }
        }
        out
    }

    pub fn qualifier_decl(&self, ns: &str, name: &str) -> Option<&QualifierDecl> {
        find(&self.ns(ns)?.qualifiers, name, |q| &q.name)
    }

    pub fn qualifier_decls(&self, ns: &str) -> &[QualifierDecl] {
        self.ns(ns).map(|n| n.qualifiers.as_slice()).unwrap_or(&[])
    }

    /// Instances declared with `instance of` in MOF.
    pub fn instances(&self, ns: &str) -> &[Instance] {
        self.ns(ns).map(|n| n.instances.as_slice()).unwrap_or(&[])
    }

    /// All classes of a namespace as a CIM-XML `DECLARATION` document (one
    /// fully resolved `CLASS` per class, in superclass order), for diffing
    /// against other MOF compilers.
    pub fn to_cim_xml_classes(&self, ns: &str) -> String {
        let classes: Vec<&Class> = self
            .ns(ns)
            .map(|n| n.classes.iter().collect())
            .unwrap_or_default();
        crate::cim::xml_write::declaration_document(&classes)
    }
}
