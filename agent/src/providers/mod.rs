//! Providers of dsimage's classes over the engine, and of the interop namespace.
