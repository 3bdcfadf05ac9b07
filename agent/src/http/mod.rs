//! The CIM-XML over HTTP(S) listener (DSP0200).

use crate::cim::{Request, Response};

/// What the listener hands a well-formed, authenticated request to (the CIM object
/// manager). Called on a blocking thread; may take long (a Wait method).
pub trait Dispatcher: Send + Sync + 'static {
    fn dispatch(&self, request: Request, user: &str) -> Response;
}
