//! Tests that what the providers build conforms to the schema: every property of an
//! instance exists in its class with the declared type, OUT parameters match the
//! method's declaration, every key is set, and every method of a served class is
//! handled. Instances are built from hand-made engine statuses (no device-mapper here).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dmtarget::engine::{
    CopyControl, CopyParams, Direction, GroupStatus, SetKind, SetState, SetStatus, VolumeInfo,
    VolumeRole, MAX_NAME_BYTES,
};
use dmtarget::units::Bytes;
use dmtarget::volume::{BlockDevice, DeviceKind};

use super::engine_host::EngineHost;
use super::{assoc, group, service, set, volume, NAMESPACE};
use crate::cim::{CimStatus, Class, Instance, MethodTarget, ParamValue, Value};
use crate::cimom::Ctx;
use crate::mof::Repository;

fn repo() -> &'static Repository {
    static REPO: OnceLock<Repository> = OnceLock::new();
    REPO.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
        crate::mof::compile_dir(&dir, NAMESPACE).expect("the schema compiles")
    })
}

fn class(name: &str) -> &'static Class {
    repo()
        .class(NAMESPACE, name)
        .unwrap_or_else(|| panic!("class {name} is not in the schema"))
}

/// Every property exists in the class with the declared type and array-ness, and every
/// key property is set.
fn conforms(inst: &Instance) {
    let c = class(&inst.classname);
    for p in &inst.properties {
        let decl = c
            .property(&p.name)
            .unwrap_or_else(|| panic!("{} has no property {}", c.name, p.name));
        let v = p.value.as_ref().expect("providers set no NULL properties");
        assert_eq!(
            (v.cim_type(), v.is_array()),
            (decl.cimtype, decl.is_array),
            "{}.{}",
            c.name,
            p.name
        );
    }
    for k in c.key_properties() {
        assert!(
            inst.get(&k.name).is_some(),
            "{}: key {} is not set",
            c.name,
            k.name
        );
    }
}

/// OUT parameters are declared OUT parameters of the method, with their types.
fn out_params_conform(class_name: &str, method: &str, out: &[ParamValue]) {
    let m = class(class_name)
        .method(method)
        .unwrap_or_else(|| panic!("{class_name} has no method {method}"));
    for p in out {
        let decl = m
            .parameter(&p.name)
            .unwrap_or_else(|| panic!("{class_name}.{method} has no parameter {}", p.name));
        assert!(
            decl.has_flag("Out"),
            "{class_name}.{method}.{} is not OUT",
            p.name
        );
        assert_eq!(
            p.paramtype,
            Some(decl.cimtype),
            "{class_name}.{method}.{}",
            p.name
        );
        let typed = p
            .data
            .typed(&p.name, decl.cimtype, decl.is_array)
            .unwrap_or_else(|e| panic!("{class_name}.{method}.{}: {e}", p.name));
        assert!(typed.is_some(), "{class_name}.{method}.{} is NULL", p.name);
    }
}

pub(super) fn status(state: SetState) -> SetStatus {
    SetStatus {
        name: "s1".into(),
        uuid: "0123".into(),
        kind: SetKind::Dependent,
        compact: true,
        master: PathBuf::from("/dev/vdb"),
        shadow: PathBuf::from("/dev/vdc"),
        bitmap: PathBuf::from("/dev/vdd"),
        overflow: None,
        master_device: PathBuf::from("/dev/mapper/dsimage-vdb"),
        shadow_device: PathBuf::from("/dev/mapper/dsimage-vdc"),
        master_size: 1 << 30,
        shadow_size: 1 << 28,
        chunk_size: 32768,
        state,
        percent_completed: 42.4,
        percent_synchronized: 99.6,
        chunks_total: 32768,
        chunks_changed: 131,
        shadow_chunks_total: 8192,
        shadow_chunks_used: 140,
        created: 1_700_000_000,
        last_modified: 1_700_000_600,
        last_freeze_us: Some(1500),
        copy_control: None,
        copy_region_bytes: None,
        copy_regions: None,
        copy_regions_left: None,
        copy_params: None,
        group: None,
        scratch_used_bytes: None,
        scratch_size_bytes: None,
    }
}

pub(super) fn volume_info(name: &str, roles: Vec<(String, VolumeRole)>) -> VolumeInfo {
    VolumeInfo {
        device: BlockDevice {
            path: PathBuf::from(format!("/dev/{name}")),
            name: name.into(),
            major: 252,
            minor: 16,
            size: Bytes(1 << 30),
            kind: DeviceKind::Disk,
            read_only: false,
            mounted: None,
            holders: vec!["dm-0".into()],
            partitions: Vec::new(),
            dm_name: None,
            serial: None,
        },
        top: Some(PathBuf::from(format!("/dev/mapper/dsimage-{name}"))),
        suitable: roles.is_empty(),
        reason: (!roles.is_empty()).then(|| "is the shadow volume of set s1".into()),
        roles,
    }
}

#[test]
fn set_instances_conform_in_every_state() {
    for state in [
        SetState::Idle,
        SetState::Copying {
            direction: Direction::ToMaster,
        },
        SetState::OutOfSpace,
        SetState::Failed {
            reason: "kernel".into(),
        },
    ] {
        let st = status(state);
        let inst = set::instance(&st);
        conforms(&inst);
        out_params_conform(set::CLASS, "GetStatus", &set::status_out_params(&st));
    }
    for control in [
        CopyControl::Run,
        CopyControl::Suspended,
        CopyControl::Aborted,
    ] {
        let st = independent_copy(
            control,
            Some(CopyParams {
                units: 32,
                delay_ms: 60_000,
            }),
        );
        conforms(&set::instance(&st));
        out_params_conform(set::CLASS, "GetStatus", &set::status_out_params(&st));
    }
}

/// An independent set copying master to shadow, its copy in `control`.
fn independent_copy(control: CopyControl, params: Option<CopyParams>) -> SetStatus {
    let mut st = status(SetState::Copying {
        direction: Direction::ToShadow,
    });
    st.kind = SetKind::Independent;
    st.compact = false;
    st.copy_control = Some(control);
    st.copy_region_bytes = Some(32768);
    st.copy_regions = Some(256);
    st.copy_regions_left = Some(224);
    st.copy_params = params;
    st
}

#[test]
fn copy_control_states_and_parameters() {
    let st_of = |i: &Instance| i.get("State").cloned();
    let run = set::instance(&independent_copy(CopyControl::Run, None));
    assert_eq!(st_of(&run), Some(Value::from(set::state::COPY_IN_PROGRESS)));
    // Unthrottled: no copy parameters (NULL).
    assert_eq!(run.get("CopyUnits"), None);
    assert_eq!(run.get("CopyDelay"), None);
    let params = Some(CopyParams {
        units: 32,
        delay_ms: 60_000,
    });
    let suspended = independent_copy(CopyControl::Suspended, params);
    let i = set::instance(&suspended);
    assert_eq!(st_of(&i), Some(Value::from(set::state::SUSPENDED)));
    assert_eq!(i.get("Direction"), Some(&Value::from(1u16)));
    assert_eq!(i.get("CopyUnits"), Some(&Value::from(32u32)));
    assert_eq!(i.get("CopyDelay"), Some(&Value::from(60_000u32)));
    let text = set::summary(&suspended);
    assert!(text.contains("suspended at 42%"), "{text}");
    assert!(text.contains("until the copy is resumed"), "{text}");
    let out = set::status_out_params(&suspended);
    assert_eq!(out[0].name, "State");
    assert_eq!(
        out[0]
            .data
            .typed("State", crate::cim::CimType::Uint16, false)
            .unwrap(),
        Some(Value::from(4u16))
    );

    let mut aborted = independent_copy(CopyControl::Aborted, params);
    aborted.state = SetState::Copying {
        direction: Direction::ToMaster,
    };
    let i = set::instance(&aborted);
    assert_eq!(st_of(&i), Some(Value::from(set::state::ABORTED)));
    assert_eq!(i.get("Direction"), Some(&Value::from(2u16)));
    let text = set::summary(&aborted);
    assert!(
        text.starts_with("copy shadow to master aborted at 42%: the master reads"),
        "{text}"
    );
    assert!(
        text.contains("depends on the shadow until the next copy or update shadow to master"),
        "{text}"
    );
    assert_eq!(
        i.get("StatusDescriptions"),
        Some(&Value::string_array([text]))
    );
    // Parameters beyond uint32 are reported as its largest value.
    let big = independent_copy(
        CopyControl::Run,
        Some(CopyParams {
            units: u64::MAX,
            delay_ms: 0,
        }),
    );
    let i = set::instance(&big);
    assert_eq!(i.get("CopyUnits"), Some(&Value::from(u32::MAX)));
    assert_eq!(i.get("CopyDelay"), Some(&Value::from(0u32)));
    // Independent sets report their parameters when idle too.
    let mut idle = independent_copy(CopyControl::Run, params);
    idle.state = SetState::Idle;
    idle.copy_control = None;
    let i = set::instance(&idle);
    assert_eq!(st_of(&i), Some(Value::from(set::state::IDLE)));
    assert_eq!(i.get("CopyUnits"), Some(&Value::from(32u32)));
}

#[test]
fn set_instance_values() {
    let st = status(SetState::Copying {
        direction: Direction::ToMaster,
    });
    let i = set::instance(&st);
    assert_eq!(i.get("Name"), Some(&Value::from("s1")));
    assert_eq!(i.get("Type"), Some(&Value::from(2u16)));
    assert_eq!(
        i.get("State"),
        Some(&Value::from(set::state::UPDATE_IN_PROGRESS))
    );
    assert_eq!(i.get("Direction"), Some(&Value::from(2u16)));
    assert_eq!(i.get("PercentCompleted"), Some(&Value::from(42u8)));
    assert_eq!(i.get("PercentSynchronized"), Some(&Value::from(99u8)));
    assert_eq!(i.get("ChunkSize"), Some(&Value::from(32768u32)));
    assert_eq!(i.get("MasterSize"), Some(&Value::from(1u64 << 30)));
    assert_eq!(i.get("ShadowChunksUsed"), Some(&Value::from(140u64)));
    assert_eq!(i.get("Compact"), Some(&Value::from(true)));
    assert_eq!(i.get("MasterVolume"), Some(&Value::from("/dev/vdb")));
    assert_eq!(i.get("OverflowVolume"), Some(&Value::from("")));
    assert_eq!(i.get("OutOfSpace"), Some(&Value::from(false)));
    assert_eq!(
        i.get("LastModified")
            .and_then(|v| v.as_scalar())
            .and_then(|s| s.to_text()),
        Some("20231114222320.000000+000".into())
    );

    let idle = set::instance(&status(SetState::Idle));
    assert_eq!(idle.get("State"), Some(&Value::from(set::state::IDLE)));
    assert_eq!(idle.get("Direction"), Some(&Value::from(0u16)));
    let oos = set::instance(&status(SetState::OutOfSpace));
    assert_eq!(oos.get("State"), Some(&Value::from(set::state::OFFLINE)));
    assert_eq!(oos.get("OutOfSpace"), Some(&Value::from(true)));
    let mut indep = status(SetState::Copying {
        direction: Direction::ToShadow,
    });
    indep.kind = SetKind::Independent;
    let i = set::instance(&indep);
    assert_eq!(i.get("Type"), Some(&Value::from(1u16)));
    assert_eq!(
        i.get("State"),
        Some(&Value::from(set::state::COPY_IN_PROGRESS))
    );
    assert_eq!(i.get("Direction"), Some(&Value::from(1u16)));
}

#[test]
fn volume_instances_conform() {
    let free = volume_info("vdb", Vec::new());
    let inst = volume::instance(&free, "host1");
    conforms(&inst);
    assert_eq!(inst.get("DeviceID"), Some(&Value::from("vdb")));
    assert_eq!(inst.get("Path"), Some(&Value::from("/dev/vdb")));
    assert_eq!(
        inst.get("NumberOfBlocks"),
        Some(&Value::from((1u64 << 30) / 512))
    );
    assert_eq!(inst.get("BlockSize"), Some(&Value::from(512u64)));
    assert_eq!(inst.get("UnderControl"), Some(&Value::from(true)));
    // Only its own top device holds it.
    assert_eq!(inst.get("InUse"), Some(&Value::from(false)));
    assert_eq!(inst.get("Suitable"), Some(&Value::from(true)));
    assert_eq!(inst.get("Reason"), Some(&Value::from("")));
    assert_eq!(inst.get("Role"), Some(&Value::from(0u16)));
    assert_eq!(inst.get("MountPoint"), None);

    let mut used = volume_info("vdc", vec![("s1".into(), VolumeRole::Shadow)]);
    used.device.mounted = Some("/mnt".into());
    used.device.kind = DeviceKind::DeviceMapper;
    used.device.dm_name = Some("vg-lv".into());
    let inst = volume::instance(&used, "host1");
    conforms(&inst);
    assert_eq!(inst.get("DeviceID"), Some(&Value::from("vg-lv")));
    assert_eq!(inst.get("InUse"), Some(&Value::from(true)));
    assert_eq!(inst.get("Mounted"), Some(&Value::from(true)));
    assert_eq!(inst.get("MountPoint"), Some(&Value::from("/mnt")));
    assert_eq!(inst.get("Role"), Some(&Value::from(2u16)));
    assert_eq!(
        inst.get("Reason"),
        Some(&Value::from("is the shadow volume of set s1"))
    );
}

#[test]
fn set_volume_associations_conform() {
    let info = volume_info(
        "vdb",
        vec![
            ("s1".into(), VolumeRole::Master),
            ("s2".into(), VolumeRole::Master),
            ("s3".into(), VolumeRole::Overflow),
        ],
    );
    let list = assoc::set_volume_instances(NAMESPACE, "host1", &info);
    assert_eq!(list.len(), 2, "overflow roles are not DS_IISetVolume");
    for inst in &list {
        conforms(inst);
        assert_eq!(inst.get("Role"), Some(&Value::from(1u16)));
        let vol = inst.get("Volume").and_then(Value::as_reference).unwrap();
        // The reference names the very instance DS_StorageVolume enumerates.
        assert!(super::paths::is_named_by(
            &volume::instance(&info, "host1"),
            vol,
            &[
                "SystemCreationClassName",
                "SystemName",
                "CreationClassName",
                "DeviceID"
            ],
        ));
        let set_ref = inst.get("Set").and_then(Value::as_reference).unwrap();
        assert_eq!(set_ref.classname, set::CLASS);
    }
}

#[test]
fn service_instance_conforms() {
    let host = EngineHost::unavailable("device-mapper is unavailable on this host: test");
    let inst = service::instance(&host, "host1");
    conforms(&inst);
    assert_eq!(inst.get("PollingInterval"), Some(&Value::from(1u32)));
    assert_eq!(inst.get("EnabledState"), Some(&Value::from(6u16)));
    assert_eq!(
        inst.get("StatusDescriptions"),
        Some(&Value::string_array([
            "device-mapper is unavailable on this host: test"
        ]))
    );
    let path = super::interop::service_path("host1");
    for k in class(service::CLASS).key_properties() {
        assert!(
            path.key(&k.name).is_some(),
            "service_path lacks key {}",
            k.name
        );
    }
}

#[test]
fn service_out_params_conform() {
    let c = service::CLASS;
    out_params_conform(c, "CreateIISet", &[service::set_param(NAMESPACE, "s1")]);
    let names = vec!["s1".to_string(), "s2".to_string()];
    out_params_conform(c, "GetAllIISets", &[service::sets_param(NAMESPACE, &names)]);
    out_params_conform(c, "GetAllIISets", &[service::sets_param(NAMESPACE, &[])]);
    out_params_conform(
        c,
        "GetAllAvailableVolumes",
        &[service::volumes_param(["/dev/vdb".to_string()])],
    );
    out_params_conform(c, "CreateIIGroup", &[service::group_param(NAMESPACE, "g1")]);
}

#[test]
fn every_served_class_exists_and_is_concrete() {
    let host = Arc::new(EngineHost::unavailable("none"));
    let mut served = Vec::new();
    for p in super::all(host) {
        for (ns, c) in p.classes() {
            assert_eq!(ns, NAMESPACE);
            assert!(!class(c).has_flag("Abstract"), "{c} is abstract");
            served.push(c);
        }
    }
    for c in [
        "DS_IISet",
        "DS_IIGroup",
        "DS_IIOverflowVolume",
        "DS_IIGroupSet",
        "DS_IISetOverflow",
        "DS_IISetVolume",
        "DS_StorageVolume",
        "DS_IIService",
    ] {
        assert!(served.contains(&c), "{c} has no provider");
    }
}

/// Every method of every served class is handled: without an engine it answers a
/// parameter error, not-supported or the unavailable error, never "no such method".
#[test]
fn every_declared_method_is_handled() {
    let host = Arc::new(EngineHost::unavailable("none"));
    let ctx = Ctx {
        user: "t".into(),
        namespace: NAMESPACE.into(),
    };
    for p in super::all(host) {
        for (_, c) in p.classes() {
            let decl = class(c);
            let target = MethodTarget::Instance(match c {
                set::CLASS => set::path(NAMESPACE, "s1"),
                volume::CLASS => volume::path(NAMESPACE, &service::system_name(), "vdb"),
                service::CLASS => super::interop::service_path(&service::system_name()),
                _ => crate::cim::ObjectPath::new(c)
                    .with_namespace(NAMESPACE)
                    .with_key("Name", crate::cim::KeyValue::string("g1")),
            });
            for m in &decl.methods {
                let r = p.invoke_method(&ctx, &target, &m.name, &[]);
                if let Err(e) = r {
                    assert!(
                        matches!(
                            e.status,
                            CimStatus::InvalidParameter
                                | CimStatus::NotSupported
                                | CimStatus::Failed
                                | CimStatus::NotFound
                        ),
                        "{c}.{}: {e}",
                        m.name
                    );
                }
            }
        }
    }
}

pub(super) fn group_status(kind: Option<SetKind>, members: &[&str], busy: &[&str]) -> GroupStatus {
    GroupStatus {
        name: "g1".into(),
        kind,
        members: members.iter().map(|m| m.to_string()).collect(),
        busy: busy.iter().map(|m| m.to_string()).collect(),
        percent_completed: if busy.is_empty() { 100.0 } else { 37.9 },
        created: 1_700_000_000,
    }
}

#[test]
fn group_instances_conform() {
    let empty = group::instance(&group_status(None, &[], &[]));
    conforms(&empty);
    assert_eq!(empty.get("Name"), Some(&Value::from("g1")));
    assert_eq!(empty.get("Type"), Some(&Value::from(0u16)));
    let none: [&str; 0] = [];
    assert_eq!(empty.get("Members"), Some(&Value::string_array(none)));
    assert_eq!(empty.get("BusyMembers"), Some(&Value::string_array(none)));
    assert_eq!(empty.get("PercentCompleted"), Some(&Value::from(100u8)));
    assert_eq!(
        empty
            .get("InstallDate")
            .and_then(|v| v.as_scalar())
            .and_then(|s| s.to_text()),
        Some("20231114221320.000000+000".into())
    );

    let copying = group::instance(&group_status(
        Some(SetKind::Independent),
        &["s1", "s2"],
        &["s2"],
    ));
    conforms(&copying);
    assert_eq!(copying.get("Type"), Some(&Value::from(1u16)));
    assert_eq!(
        copying.get("Members"),
        Some(&Value::string_array(["s1", "s2"]))
    );
    assert_eq!(
        copying.get("BusyMembers"),
        Some(&Value::string_array(["s2"]))
    );
    // Rounded down, as the sets' PercentCompleted.
    assert_eq!(copying.get("PercentCompleted"), Some(&Value::from(37u8)));
    let dependent = group::instance(&group_status(Some(SetKind::Dependent), &["s1"], &[]));
    assert_eq!(dependent.get("Type"), Some(&Value::from(2u16)));
}

/// Every DS_IIGroup.Type the provider reports is in the ValueMap, and Mixed (3) never is
/// (the sets of a group are of one kind).
#[test]
fn group_types_are_in_the_value_map() {
    let decl = class(group::CLASS).property("Type").unwrap();
    let Some(Value::Array(_, map)) = decl.qualifier("ValueMap").and_then(|q| q.value.clone())
    else {
        panic!("DS_IIGroup.Type has no ValueMap");
    };
    let map: Vec<String> = map.iter().flatten().filter_map(|v| v.to_text()).collect();
    for kind in [None, Some(SetKind::Independent), Some(SetKind::Dependent)] {
        let code = group::type_code(kind);
        assert!(map.contains(&code.to_string()), "{code} not in {map:?}");
        assert_ne!(code, 3);
    }
}

#[test]
fn set_group_name_is_its_group() {
    let mut st = status(SetState::Idle);
    assert_eq!(set::instance(&st).get("GroupName"), Some(&Value::from("")));
    st.group = Some("g1".into());
    let inst = set::instance(&st);
    conforms(&inst);
    assert_eq!(inst.get("GroupName"), Some(&Value::from("g1")));
}

#[test]
fn group_set_associations_conform() {
    let g = group_status(Some(SetKind::Dependent), &["s1", "s2"], &[]);
    let list = assoc::group_set_instances(NAMESPACE, &g.name, &g.members);
    assert_eq!(list.len(), 2);
    for (inst, member) in list.iter().zip(&g.members) {
        conforms(inst);
        // Both references name the very instances DS_IIGroup and DS_IISet enumerate.
        let group_ref = inst.get("Group").and_then(Value::as_reference).unwrap();
        assert!(super::paths::is_named_by(
            &group::instance(&g),
            group_ref,
            &["Name"]
        ));
        let mut st = status(SetState::Idle);
        st.name = member.clone();
        let set_ref = inst.get("Set").and_then(Value::as_reference).unwrap();
        assert!(super::paths::is_named_by(
            &set::instance(&st),
            set_ref,
            &["Name"]
        ));
    }
    assert!(assoc::group_set_instances(NAMESPACE, "g", &[]).is_empty());
}

/// The MOF's MaxLen of group names is the engine's limit (the provider checks it).
#[test]
fn group_name_max_len_is_the_engines() {
    let max_len = |q: Option<&crate::cim::Qualifier>| {
        q.and_then(|q| q.value.as_ref())
            .and_then(Value::as_u64)
            .map(|v| v as usize)
    };
    let name = class(group::CLASS).property("Name").unwrap();
    assert_eq!(max_len(name.qualifier("MaxLen")), Some(MAX_NAME_BYTES));
    let create = class(service::CLASS).method("CreateIIGroup").unwrap();
    let param = create.parameter("Name").unwrap();
    assert_eq!(max_len(param.qualifier("MaxLen")), Some(MAX_NAME_BYTES));
}

/// DS_IIGroup's methods that act on one set's copy in DS_IISet take the same
/// parameters and return codes there.
#[test]
fn group_methods_mirror_the_set_methods() {
    let (g, s) = (class(group::CLASS), class(set::CLASS));
    for name in [
        "Copy",
        "Update",
        "Abort",
        "Suspend",
        "Resume",
        "Wait",
        "SetCopyParameters",
        "ClearCopyParameters",
    ] {
        let gm = g
            .method(name)
            .unwrap_or_else(|| panic!("DS_IIGroup.{name}"));
        let sm = s.method(name).unwrap();
        assert_eq!(gm.return_type, sm.return_type, "{name}");
        for q in ["ValueMap", "Values"] {
            assert_eq!(
                gm.qualifier(q).map(|q| &q.value),
                sm.qualifier(q).map(|q| &q.value),
                "{name} {q}"
            );
        }
        let params = |m: &crate::cim::Method| {
            m.parameters
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.cimtype,
                        p.is_array,
                        p.has_flag("Required"),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(params(gm), params(sm), "{name} parameters");
    }
}
