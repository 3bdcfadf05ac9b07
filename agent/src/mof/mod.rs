//! MOF compiler (placeholder).
