//! The dsimage agent: CIM-XML listener, CIM object manager and providers over the engine.

pub mod cim;
pub mod cimom;
pub mod client;
pub mod http;
pub mod mof;
pub mod providers;
