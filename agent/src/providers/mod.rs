//! Providers of dsimage's classes over the engine, and of the interop namespace.
//!
//! - [`engine_host`]: the one engine shared by CIM requests and the background poller,
//!   or why there is none (the agent still serves the protocol without device-mapper);
//! - [`errors`]: the one mapping from engine errors to CIM errors and method return codes;
//! - [`args`]: typed, validated method parameters and instance properties;
//! - [`paths`]: picking instances by their keys;
//! - [`create`]: the validated request to create a set (CreateIISet, CreateInstance);
//! - one file per class: [`set`] (DS_IISet), [`volume`] (DS_StorageVolume), [`service`]
//!   (DS_IIService; its keys are [`interop`]'s), [`group`] (DS_IIGroup),
//!   [`overflow`] (DS_IIOverflowVolume), [`assoc`] (DS_IISetVolume, DS_IIGroupSet,
//!   DS_IISetOverflow).
//!
//! The interop namespace's provider is wired separately (see `interop`).

pub mod args;
pub mod assoc;
pub mod create;
pub mod engine_host;
pub mod errors;
pub mod group;
pub mod interop;
pub mod overflow;
pub mod paths;
pub mod service;
pub mod set;
pub mod volume;

#[cfg(test)]
mod schema_check;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::cimom::Provider;

pub use engine_host::EngineHost;

/// Namespace of the dsimage classes.
pub const NAMESPACE: &str = crate::cimom::schema::DSIMAGE_NAMESPACE;

/// Every provider of the dsimage namespace (interop is added by whoever wires the
/// object manager).
pub fn all(host: Arc<EngineHost>) -> Vec<Arc<dyn Provider>> {
    let system = service::system_name();
    vec![
        Arc::new(set::SetProvider::new(host.clone())),
        Arc::new(volume::VolumeProvider::new(host.clone(), system.clone())),
        Arc::new(service::ServiceProvider::new(host.clone(), system.clone())),
        Arc::new(group::GroupProvider::new(host.clone())),
        Arc::new(overflow::OverflowProvider),
        Arc::new(assoc::SetVolumeProvider::new(host.clone(), system)),
        Arc::new(assoc::GroupSetProvider::new(host)),
        Arc::new(assoc::EmptyAssocProvider),
    ]
}
