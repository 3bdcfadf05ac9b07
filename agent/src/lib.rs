//! The dsimage agent: CIM-XML listener, CIM object manager and providers over the engine.

pub mod cim;
pub mod mof;
