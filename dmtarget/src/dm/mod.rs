//! Device lifecycle on top of the `devicemapper` crate: one [`DmControl`] handle that
//! creates, loads, suspends, resumes and removes devices by name, and [`Txn`], a
//! multi-device reconfiguration that rolls every device back on failure.
//!
//! Tables are always our typed [`crate::table::Table`]; strings for the kernel are made
//! there and nowhere else.

mod control;
mod node;
mod txn;

pub use control::{DevInfo, DmControl, DmError, Lockfs};
pub use node::path as node_path;
pub use txn::Txn;
