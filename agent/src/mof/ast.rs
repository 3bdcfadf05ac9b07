//! Syntax tree of a MOF compilation unit, before type checking and
//! inheritance resolution (which `repository` does).

use super::lexer::Pos;
use crate::cim::CimType;

/// A literal as written in MOF; typed later against its declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i128),
    Real(f64),
    Str(String),
    Char(char),
    Alias(String),
    Array(Vec<Literal>),
}

/// The declared type of a property, parameter or method.
#[derive(Debug, Clone, PartialEq)]
pub enum DataType {
    Prim(CimType),
    /// `ClassName REF`.
    Ref(String),
}

/// A qualifier flavor keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    EnableOverride,
    DisableOverride,
    ToSubclass,
    Restricted,
    Translatable,
}

/// `Name`, `Name(value)` or `Name{values}`, optionally `: flavors`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualifierValue {
    pub name: String,
    pub value: Option<Literal>,
    pub flavors: Vec<Flavor>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QualifierDeclAst {
    pub name: String,
    pub cimtype: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub default: Option<Literal>,
    /// Lower-case scope keywords (`class`, `property`, ..., `any`).
    pub scopes: Vec<String>,
    pub flavors: Vec<Flavor>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyAst {
    pub qualifiers: Vec<QualifierValue>,
    pub dtype: DataType,
    pub name: String,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub default: Option<Literal>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParameterAst {
    pub qualifiers: Vec<QualifierValue>,
    pub dtype: DataType,
    pub name: String,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MethodAst {
    pub qualifiers: Vec<QualifierValue>,
    pub return_type: DataType,
    pub name: String,
    pub params: Vec<ParameterAst>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassAst {
    pub qualifiers: Vec<QualifierValue>,
    pub name: String,
    pub superclass: Option<String>,
    pub properties: Vec<PropertyAst>,
    pub methods: Vec<MethodAst>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceAst {
    pub classname: String,
    pub alias: Option<String>,
    pub values: Vec<(String, Literal, Pos)>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeclKind {
    Qualifier(QualifierDeclAst),
    Class(ClassAst),
    Instance(InstanceAst),
}

/// One top-level declaration with where it came from and the namespace
/// that `#pragma namespace` made current for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub kind: DeclKind,
    pub file: String,
    pub namespace: String,
}
