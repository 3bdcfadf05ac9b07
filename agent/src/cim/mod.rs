//! CIM object model and the CIM-XML codec (DSP0200/DSP0201).
//!
//! - [`value`] / [`datetime`]: CIM data types and typed values;
//! - [`types`]: qualifiers, properties, methods, classes, instances, paths;
//! - [`message`]: requests and responses as typed values;
//! - [`xml_write`]: the only CIM-XML producer;
//! - [`xml_read`] (over the hardened [`xml_tree`]): the only CIM-XML consumer;
//! - [`error`]: `CIM_ERR_*` status codes.

pub mod datetime;
pub mod error;
pub mod message;
pub mod types;
pub mod value;
pub mod xml_read;
pub mod xml_tree;
pub mod xml_write;

#[cfg(test)]
mod tests;

pub use datetime::CimDateTime;
pub use error::{CimError, CimStatus};
pub use message::{
    IMethodResult, IReturnValue, MethodResult, MethodTarget, ParamData, ParamValue, Request,
    Response,
};
pub use types::{
    Class, EmbeddedObject, Flavors, Instance, InstanceName, KeyBinding, KeyValue, Method,
    Namespace, Numeric, ObjectPath, Parameter, Property, Qualifier, QualifierDecl, Scope,
};
pub use value::{CimType, RawValue, Scalar, Value};
pub use xml_read::{XmlError, XmlErrorClass};
pub use xml_tree::Limits;
