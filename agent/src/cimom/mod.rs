//! The CIM object manager: dispatches intrinsic operations to the class repository and
//! to providers, and extrinsic methods to providers.
//!
//! - [`schema`]: the namespaces and MOF files served;
//! - `dispatch`: request → operation, panics contained, response built;
//! - `classes`: class and qualifier operations, from the repository;
//! - `instances`: instance operations over the providers;
//! - `assoc`: Associators/References, derived from association instances;
//! - `methods`: extrinsic methods, parameters typed against the class;
//! - `pull`: Open*/Pull*/CloseEnumeration and their enumeration contexts;
//! - `paths`, `filter`, `params`: instance paths, instance shaping, typed
//!   operation parameters.

mod assoc;
mod classes;
mod dispatch;
mod filter;
mod instances;
mod methods;
mod params;
mod paths;
mod provider;
mod pull;
pub mod schema;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::cim::types::name_eq;
use crate::cim::{CimError, CimStatus, Class};
use crate::mof::Repository;

pub use provider::{Ctx, MethodOutput, Provider};
pub use pull::PullLimits;

/// Logs an object-manager event worth an operator's attention (provider
/// bugs, contained panics).
pub(crate) fn log(msg: &str) {
    eprintln!("dsimaged: cimom: {msg}");
}

/// The CIM object manager: class repository, providers by (namespace,
/// class), and the open enumeration contexts of the pull operations.
pub struct Cimom {
    repo: Repository,
    /// Keyed by lower-case (namespace, class name).
    providers: HashMap<(String, String), Arc<dyn Provider>>,
    pulls: pull::PullStore,
}

impl fmt::Debug for Cimom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut served: Vec<String> = self
            .providers
            .keys()
            .map(|(ns, c)| format!("{ns}:{c}"))
            .collect();
        served.sort();
        f.debug_struct("Cimom")
            .field("namespaces", &self.repo.namespaces())
            .field("served", &served)
            .finish_non_exhaustive()
    }
}

fn key(ns: &str, class: &str) -> (String, String) {
    (
        ns.trim_matches('/').to_ascii_lowercase(),
        class.to_ascii_lowercase(),
    )
}

impl Cimom {
    /// An object manager over `repo` with `providers`. Every class a
    /// provider serves must exist, be concrete, and have exactly one
    /// provider.
    pub fn new(repo: Repository, providers: Vec<Arc<dyn Provider>>) -> Result<Cimom, String> {
        let mut map: HashMap<(String, String), Arc<dyn Provider>> = HashMap::new();
        for p in providers {
            for (ns, class) in p.classes() {
                let c = repo
                    .class(ns, class)
                    .ok_or_else(|| format!("provider for {ns}:{class}: no such class"))?;
                if c.has_flag("Abstract") {
                    return Err(format!("provider for {ns}:{class}: the class is abstract"));
                }
                if map.insert(key(ns, class), p.clone()).is_some() {
                    return Err(format!("{ns}:{class} has two providers"));
                }
            }
        }
        Ok(Cimom {
            repo,
            providers: map,
            pulls: pull::PullStore::new(PullLimits::default()),
        })
    }

    /// Replaces the limits on enumeration contexts (closing any open ones).
    pub fn with_pull_limits(mut self, limits: PullLimits) -> Self {
        self.pulls = pull::PullStore::new(limits);
        self
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// The canonical name of a served namespace; CIM_ERR_INVALID_NAMESPACE
    /// otherwise.
    fn namespace(&self, ns: &str) -> Result<String, CimError> {
        let want = ns.trim_matches('/');
        self.repo
            .namespaces()
            .into_iter()
            .find(|n| name_eq(n, want))
            .map(str::to_string)
            .ok_or_else(|| {
                CimError::new(
                    CimStatus::InvalidNamespace,
                    format!("namespace {ns} does not exist"),
                )
            })
    }

    /// A class of a (canonical) namespace; CIM_ERR_INVALID_CLASS otherwise.
    fn class(&self, ns: &str, name: &str) -> Result<&Class, CimError> {
        self.repo
            .class(ns, name)
            .ok_or_else(|| paths::invalid_class(ns, name))
    }

    fn provider(&self, ns: &str, class: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(&key(ns, class))
    }

    fn ctx(&self, user: &str, ns: &str) -> Ctx {
        Ctx {
            user: user.to_string(),
            namespace: ns.to_string(),
        }
    }
}
