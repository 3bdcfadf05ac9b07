//! CIM-XML codec (placeholder).
