//! From request to response: the [`Dispatcher`] the HTTP listener calls.
//! Routes each intrinsic operation to its implementation, refuses the ones
//! the agent does not offer with CIM_ERR_NOT_SUPPORTED, contains panics
//! (CIM_ERR_FAILED instead of a dead worker), and echoes the method name as
//! called (pywbem checks IMETHODRESPONSE NAME).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::cim::{CimError, CimStatus, IMethodResult, ParamData, Request, Response};
use crate::http::Dispatcher;

use super::{log, Cimom};

/// Runs `f`, turning a panic (a provider's or ours) into CIM_ERR_FAILED.
fn contained<T>(what: &str, f: impl FnOnce() -> Result<T, CimError>) -> Result<T, CimError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        log(&format!("{what} panicked: {msg}"));
        Err(CimError::new(
            CimStatus::Failed,
            format!("internal error in {what}; see the agent's log"),
        ))
    })
}

fn not_supported(method: &str, why: &str) -> CimError {
    CimError::new(
        CimStatus::NotSupported,
        format!("{method} is not supported: {why}"),
    )
}

impl Cimom {
    /// One intrinsic operation in a served namespace.
    fn intrinsic(
        &self,
        namespace: &str,
        method: &str,
        args: &[(String, ParamData)],
        user: &str,
    ) -> Result<IMethodResult, CimError> {
        let ns = &self.namespace(namespace)?;
        // DSP0200 names are case-sensitive, but nothing is gained by
        // refusing another case.
        match method.to_ascii_lowercase().as_str() {
            "getclass" => self.get_class(ns, args),
            "enumerateclasses" => self.enumerate_classes(ns, args),
            "enumerateclassnames" => self.enumerate_class_names(ns, args),
            "getqualifier" => self.get_qualifier(ns, args),
            "enumeratequalifiers" => self.enumerate_qualifiers(ns, args),
            "getinstance" => self.get_instance(ns, user, args),
            "enumerateinstances" => self.enumerate_instances(ns, user, args),
            "enumerateinstancenames" => self.enumerate_instance_names(ns, user, args),
            "createinstance" => self.create_instance(ns, user, args),
            "modifyinstance" => self.modify_instance(ns, user, args),
            "deleteinstance" => self.delete_instance(ns, user, args),
            "getproperty" => self.get_property(ns, user, args),
            "setproperty" => self.set_property(ns, user, args),
            "associators" => self.associators(ns, user, args),
            "associatornames" => self.associator_names(ns, user, args),
            "references" => self.references(ns, user, args),
            "referencenames" => self.reference_names(ns, user, args),
            "openenumerateinstances" => self.open_enumerate_instances(ns, user, args),
            "openenumerateinstancepaths" => self.open_enumerate_instance_paths(ns, user, args),
            "openassociatorinstances" => self.open_associator_instances(ns, user, args),
            "openassociatorinstancepaths" => self.open_associator_instance_paths(ns, user, args),
            "openreferenceinstances" => self.open_reference_instances(ns, user, args),
            "openreferenceinstancepaths" => self.open_reference_instance_paths(ns, user, args),
            "pullinstanceswithpath" => self.pull_instances_with_path(ns, user, args),
            "pullinstancepaths" => self.pull_instance_paths(ns, user, args),
            "closeenumeration" => self.close_enumeration(ns, user, args),
            "createclass" | "modifyclass" | "deleteclass" | "setqualifier" | "deletequalifier" => {
                Err(not_supported(
                    method,
                    "the schema is compiled into the agent and cannot be changed online",
                ))
            }
            "execquery" | "openqueryinstances" | "pullinstances" => {
                Err(not_supported(method, "queries are not implemented"))
            }
            "enumerationcount" => Err(not_supported(
                method,
                "counting would compute the whole enumeration; pull it instead",
            )),
            _ => Err(not_supported(method, "no such intrinsic operation")),
        }
    }
}

impl Dispatcher for Cimom {
    fn dispatch(&self, request: Request, user: &str) -> Response {
        match request {
            Request::IMethodCall {
                id,
                namespace,
                method,
                params,
            } => {
                let result = contained(&method, || {
                    self.intrinsic(&namespace, &method, &params, user)
                });
                Response::IMethod { id, method, result }
            }
            Request::MethodCall {
                id,
                target,
                method,
                params,
            } => {
                let result = contained(&method, || {
                    self.invoke_method(user, &target, &method, &params)
                });
                Response::Method { id, method, result }
            }
            Request::ExportMethodCall { id, method, .. } => Response::Export {
                id,
                result: Err(not_supported(
                    &method,
                    "this is a CIM server; export requests go to a CIM listener",
                )),
                method,
            },
        }
    }
}
