//! The CIM object manager: dispatches intrinsic operations to the class repository and
//! to providers, and extrinsic methods to providers.

mod provider;

pub use provider::{Ctx, MethodOutput, Provider};
