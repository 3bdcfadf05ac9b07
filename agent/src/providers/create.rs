//! Creating a set: the request of DS_IIService.CreateIISet and of CreateInstance of
//! DS_IISet (whose parameters and properties have the same names), validated before the
//! engine is asked.

use std::path::PathBuf;

use dmtarget::engine::{Engine, EngineError, SetKind, SetSpec, SetStatus};
use dmtarget::units::Sectors;

use super::args::Args;
use super::errors::invalid_parameter;
use crate::cim::CimError;

/// A validated request to create and enable a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSet {
    pub name: String,
    pub kind: SetKind,
    pub master: PathBuf,
    pub shadow: PathBuf,
    pub bitmap: PathBuf,
    pub overflow: Option<PathBuf>,
    /// The client accepts a shadow smaller than the master.
    pub compact: bool,
    /// ChunkSize in bytes (`None`: the engine's default); the engine checks its range.
    pub chunk_bytes: Option<u32>,
}

impl NewSet {
    /// Reads Name, Type, MasterVolume, ShadowVolume, BitmapVolume, OverflowVolume and
    /// Compact; CIM_ERR_INVALID_PARAMETER for anything that breaks the declaration.
    pub fn from_args(a: &Args<'_>) -> Result<NewSet, CimError> {
        let name = a.set_name("Name")?;
        let kind = a.set_kind("Type")?;
        let master = a.device_path("MasterVolume")?;
        let shadow = a.device_path("ShadowVolume")?;
        let bitmap = a.device_path("BitmapVolume")?;
        let overflow = a.optional_device_path("OverflowVolume")?;
        let compact = a.bool("Compact")?.unwrap_or(false);
        let chunk_bytes = a.u32("ChunkSize")?;
        if chunk_bytes.is_some_and(|b| b % 512 != 0) {
            return Err(invalid_parameter(
                "ChunkSize: a chunk is a whole number of 512-byte sectors",
            ));
        }
        if compact && kind == SetKind::Independent {
            return Err(invalid_parameter(
                "Compact: only dependent sets can be compact (an independent shadow is a full copy)",
            ));
        }
        if overflow.is_some() && !compact {
            return Err(invalid_parameter(
                "OverflowVolume: only compact dependent sets take an overflow volume",
            ));
        }
        Ok(NewSet {
            name,
            kind,
            master,
            shadow,
            bitmap,
            overflow,
            compact,
            chunk_bytes,
        })
    }

    /// Enables the set. A set not declared compact needs a shadow at least as large as
    /// the master (the engine would make it compact silently), so that is checked first.
    pub fn enable(&self, engine: &mut Engine) -> Result<SetStatus, EngineError> {
        if !self.compact {
            self.check_not_compact()?;
        }
        engine.enable(SetSpec {
            name: Some(self.name.clone()),
            kind: self.kind,
            master: self.master.clone(),
            shadow: self.shadow.clone(),
            bitmap: self.bitmap.clone(),
            overflow: self.overflow.clone(),
            chunk: self.chunk_bytes.map(|b| Sectors(u64::from(b) / 512)),
        })
    }

    fn check_not_compact(&self) -> Result<(), EngineError> {
        use dmtarget::volume::probe;
        // Paths that do not probe are left to the engine, which says what is wrong.
        if let (Ok(m), Ok(s)) = (probe(&self.master), probe(&self.shadow)) {
            if s.size < m.size {
                return Err(EngineError::TooSmall {
                    volume: self.shadow.display().to_string(),
                    have: s.size.0,
                    need: m.size.0,
                    why: "the shadow of a set that is not compact must be at least as large as the master",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::{CimStatus, CimType, Instance, ParamValue, Value};

    fn params(extra: &[(&str, Value)]) -> Vec<ParamValue> {
        let mut list: Vec<(&str, Value)> = vec![
            ("Name", Value::from("s1")),
            ("Type", Value::from(2u16)),
            ("MasterVolume", Value::from("/dev/vdb")),
            ("ShadowVolume", Value::from("/dev/vdc")),
            ("BitmapVolume", Value::from("/dev/vdd")),
        ];
        for (n, v) in extra {
            list.retain(|(m, _)| m != n);
            list.push((n, v.clone()));
        }
        list.into_iter()
            .map(|(n, v)| ParamValue::new(n, v.cim_type(), Some(&v)))
            .collect()
    }

    #[test]
    fn reads_a_full_request() {
        let p = params(&[
            ("Compact", Value::from(true)),
            ("OverflowVolume", Value::from("/dev/vde")),
            ("ChunkSize", Value::from(65536u32)),
        ]);
        let n = NewSet::from_args(&Args::Params(&p)).unwrap();
        assert_eq!(
            n,
            NewSet {
                name: "s1".into(),
                kind: SetKind::Dependent,
                master: "/dev/vdb".into(),
                shadow: "/dev/vdc".into(),
                bitmap: "/dev/vdd".into(),
                overflow: Some("/dev/vde".into()),
                compact: true,
                chunk_bytes: Some(65536),
            }
        );
        let inst = Instance::new("DS_IISet")
            .with("Name", "s2")
            .with("Type", 2u16)
            .with("MasterVolume", "/dev/vdb")
            .with("ShadowVolume", "/dev/vdc")
            .with("BitmapVolume", "/dev/vdd");
        let n = NewSet::from_args(&Args::Instance(&inst)).unwrap();
        assert_eq!(n.name, "s2");
        assert!(!n.compact);
        assert_eq!(n.overflow, None);
        assert_eq!(n.chunk_bytes, None);
    }

    #[test]
    fn rejects_bad_requests() {
        let cases: Vec<(Vec<ParamValue>, &str)> = vec![
            (params(&[("Type", Value::from(3u16))]), "not a set type"),
            (
                params(&[("Name", Value::from("n".repeat(65)))]),
                "at most 64",
            ),
            (
                params(&[("MasterVolume", Value::from("vdb"))]),
                "MasterVolume",
            ),
            (
                params(&[("Type", Value::from(1u16)), ("Compact", Value::from(true))]),
                "only dependent sets can be compact",
            ),
            (
                params(&[("OverflowVolume", Value::from("/dev/vde"))]),
                "only compact dependent sets",
            ),
            (
                params(&[("ChunkSize", Value::from(1000u32))]),
                "512-byte sectors",
            ),
            (
                params(&[])
                    .into_iter()
                    .filter(|p| p.name != "BitmapVolume")
                    .collect(),
                "BitmapVolume is required",
            ),
            (
                vec![ParamValue::new("Name", CimType::String, None)],
                "Name is required",
            ),
        ];
        for (p, needle) in cases {
            let e = NewSet::from_args(&Args::Params(&p)).unwrap_err();
            assert_eq!(e.status, CimStatus::InvalidParameter, "{needle}");
            assert!(e.description.contains(needle), "{}", e.description);
        }
    }
}
