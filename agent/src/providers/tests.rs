//! Behaviour of the providers on a host without an engine (the build host has no
//! device-mapper): every engine-backed operation answers CIM_ERR_FAILED with the
//! reason, and every request error is found before the engine is asked. How the
//! engine's refusals of group operations read as return codes is checked here too,
//! with the errors the engine raises.

use std::sync::Arc;

use super::args::Args;
use super::assoc::{
    EmptyAssocProvider, GroupSetProvider, SetVolumeProvider, GROUP_SET, SET_OVERFLOW, SET_VOLUME,
};
use super::errors::outcome;
use super::group::{GroupProvider, NewGroup};
use super::overflow::OverflowProvider;
use super::service::ServiceProvider;
use super::set::SetProvider;
use super::volume::VolumeProvider;
use super::{group, service, set, volume, EngineHost, NAMESPACE};
use crate::cim::{
    CimError, CimStatus, Instance, KeyValue, MethodTarget, ObjectPath, ParamValue, Value,
};
use crate::cimom::{Ctx, MethodOutput, Provider};

const WHY: &str = "device-mapper is unavailable on this host: no /dev/mapper/control";
const SYSTEM: &str = "host1";

fn host() -> Arc<EngineHost> {
    Arc::new(EngineHost::unavailable(WHY))
}

fn ctx() -> Ctx {
    Ctx {
        user: "tester".into(),
        namespace: NAMESPACE.into(),
    }
}

fn param(name: &str, v: impl Into<Value>) -> ParamValue {
    let v = v.into();
    ParamValue::new(name, v.cim_type(), Some(&v))
}

fn set_target(name: &str) -> MethodTarget {
    MethodTarget::Instance(set::path(NAMESPACE, name))
}

fn group_target(name: &str) -> MethodTarget {
    MethodTarget::Instance(group::path(NAMESPACE, name))
}

fn service_target() -> MethodTarget {
    MethodTarget::Instance(super::interop::service_path(SYSTEM))
}

fn volume_target() -> MethodTarget {
    MethodTarget::Instance(volume::path(NAMESPACE, SYSTEM, "vdb"))
}

fn create_params() -> Vec<ParamValue> {
    vec![
        param("Name", "s1"),
        param("Type", 2u16),
        param("MasterVolume", "/dev/vdb"),
        param("ShadowVolume", "/dev/vdc"),
        param("BitmapVolume", "/dev/vdd"),
    ]
}

#[track_caller]
fn unavailable<T: std::fmt::Debug>(r: Result<T, CimError>) {
    let e = r.expect_err("must fail without an engine");
    assert_eq!(e.status, CimStatus::Failed);
    assert_eq!(e.description, WHY);
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, CimError>, needle: &str) {
    let e = r.expect_err("must be refused");
    assert_eq!(e.status, CimStatus::InvalidParameter, "{e}");
    assert!(
        e.description.contains(needle),
        "{:?} lacks {needle:?}",
        e.description
    );
}

#[track_caller]
fn not_supported<T: std::fmt::Debug>(r: Result<T, CimError>) {
    let e = r.expect_err("must be refused");
    assert_eq!(e.status, CimStatus::NotSupported, "{e}");
    assert!(
        e.description.contains("not implemented yet"),
        "{}",
        e.description
    );
}

#[test]
fn set_operations_without_engine_fail_with_the_reason() {
    let p = SetProvider::new(host());
    // Not an empty list: the client must learn that sets cannot be known.
    unavailable(p.enumerate_instances(&ctx(), set::CLASS));
    unavailable(p.get_instance(&ctx(), &set::path(NAMESPACE, "s1")));
    unavailable(p.delete_instance(&ctx(), &set::path(NAMESPACE, "s1")));
    let inst = Instance::new(set::CLASS)
        .with("Name", "s1")
        .with("Type", 2u16)
        .with("MasterVolume", "/dev/vdb")
        .with("ShadowVolume", "/dev/vdc")
        .with("BitmapVolume", "/dev/vdd");
    unavailable(p.create_instance(&ctx(), &inst));
    let t = set_target("s1");
    for (m, params) in [
        ("Copy", vec![param("Direction", 1u16)]),
        ("Update", vec![param("Direction", 2u16)]),
        ("Wait", vec![param("Timeout", 5u32)]),
        ("Wait", vec![]),
        ("Disable", vec![]),
        ("GetStatus", vec![]),
        ("Suspend", vec![]),
        ("Resume", vec![]),
        ("Abort", vec![]),
        (
            "SetCopyParameters",
            vec![param("Units", 32u32), param("Delay", 1000u32)],
        ),
        ("ClearCopyParameters", vec![]),
        // Units 0 is the engine's to refuse (a return code), not a request error.
        (
            "SetCopyParameters",
            vec![param("Units", 0u32), param("Delay", 0u32)],
        ),
    ] {
        unavailable(p.invoke_method(&ctx(), &t, m, &params));
    }
}

#[test]
fn volume_and_association_operations_without_engine_fail_with_the_reason() {
    let v = VolumeProvider::new(host(), SYSTEM.into());
    unavailable(v.enumerate_instances(&ctx(), volume::CLASS));
    unavailable(v.get_instance(&ctx(), &volume::path(NAMESPACE, SYSTEM, "vdb")));
    unavailable(v.invoke_method(&ctx(), &volume_target(), "PutUnderControl", &[]));
    unavailable(v.invoke_method(&ctx(), &volume_target(), "Release", &[]));
    let a = SetVolumeProvider::new(host(), SYSTEM.into());
    unavailable(a.enumerate_instances(&ctx(), SET_VOLUME));
}

#[test]
fn service_without_engine() {
    let s = ServiceProvider::new(host(), SYSTEM.into());
    // The singleton exists regardless, and says why it cannot work.
    let list = s.enumerate_instances(&ctx(), service::CLASS).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].get("StatusDescriptions"),
        Some(&Value::string_array([WHY]))
    );
    assert_eq!(
        s.get_instance(&ctx(), &super::interop::service_path(SYSTEM))
            .unwrap(),
        list[0]
    );
    assert_eq!(
        s.get_instance(&ctx(), &super::interop::service_path("other"))
            .unwrap_err()
            .status,
        CimStatus::NotFound
    );
    let t = service_target();
    unavailable(s.invoke_method(&ctx(), &t, "CreateIISet", &create_params()));
    unavailable(s.invoke_method(&ctx(), &t, "DeleteIISet", &[param("Name", "s1")]));
    unavailable(s.invoke_method(&ctx(), &t, "GetAllIISets", &[]));
    unavailable(s.invoke_method(&ctx(), &t, "GetAllAvailableVolumes", &[]));
    // Static invocation on the class works the same.
    let class = MethodTarget::Class {
        namespace: NAMESPACE.into(),
        classname: service::CLASS.into(),
    };
    unavailable(s.invoke_method(&ctx(), &class, "GetAllIISets", &[]));
}

#[test]
fn polling_interval_is_adjustable_without_engine() {
    let h = host();
    let s = ServiceProvider::new(h.clone(), SYSTEM.into());
    let out: MethodOutput = s
        .invoke_method(
            &ctx(),
            &service_target(),
            "SetPollingInterval",
            &[param("Interval", 30u32)],
        )
        .unwrap();
    assert_eq!(out.return_value, Value::from(0u32));
    assert_eq!(h.poll_interval(), std::time::Duration::from_secs(30));
    let inst = &s.enumerate_instances(&ctx(), service::CLASS).unwrap()[0];
    assert_eq!(inst.get("PollingInterval"), Some(&Value::from(30u32)));
    for bad in [0u32, service::MAX_POLLING_INTERVAL_SECS + 1] {
        invalid(
            s.invoke_method(
                &ctx(),
                &service_target(),
                "SetPollingInterval",
                &[param("Interval", bad)],
            ),
            "Interval",
        );
    }
    invalid(
        s.invoke_method(&ctx(), &service_target(), "SetPollingInterval", &[]),
        "Interval is required",
    );
}

#[test]
fn set_method_parameters_are_checked_first() {
    let p = SetProvider::new(host());
    let t = set_target("s1");
    let long = set_target(&"n".repeat(65));
    invalid(
        p.invoke_method(&ctx(), &t, "Copy", &[param("Direction", 0u16)]),
        "0 is not a direction",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "Update", &[param("Direction", 3u16)]),
        "3 is not a direction",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "Copy", &[]),
        "Direction is required",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "Copy", &[param("Direction", "sideways")]),
        "Direction",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "Wait", &[param("Timeout", "soon")]),
        "Timeout",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "SetCopyParameters", &[param("Delay", 5u32)]),
        "Units is required",
    );
    invalid(
        p.invoke_method(&ctx(), &t, "SetCopyParameters", &[param("Units", 5u32)]),
        "Delay is required",
    );
    invalid(
        p.invoke_method(
            &ctx(),
            &t,
            "SetCopyParameters",
            &[param("Units", "many"), param("Delay", 5u32)],
        ),
        "Units",
    );
    invalid(p.invoke_method(&ctx(), &long, "Suspend", &[]), "at most 64");
    invalid(
        p.invoke_method(&ctx(), &long, "GetStatus", &[]),
        "at most 64",
    );
    let class = MethodTarget::Class {
        namespace: NAMESPACE.into(),
        classname: set::CLASS.into(),
    };
    invalid(
        p.invoke_method(&ctx(), &class, "Disable", &[]),
        "must be invoked on an instance",
    );
    let nokey =
        MethodTarget::Instance(ObjectPath::new(set::CLASS).with_key("Nom", KeyValue::string("s")));
    invalid(
        p.invoke_method(&ctx(), &nokey, "Disable", &[]),
        "no string key Name",
    );
    invalid(p.get_instance(&ctx(), &set::path(NAMESPACE, "")), "empty");
    invalid(
        p.delete_instance(&ctx(), &set::path(NAMESPACE, &"x".repeat(65))),
        "at most 64",
    );
    invalid(
        p.create_instance(&ctx(), &Instance::new(set::CLASS).with("Name", "s1")),
        "Type is required",
    );
}

#[test]
fn create_parameters_are_checked_first() {
    let s = ServiceProvider::new(host(), SYSTEM.into());
    let t = service_target();
    let with = |name: &str, v: Value| {
        let mut list = create_params();
        list.retain(|p| p.name != name);
        list.push(ParamValue::new(name, v.cim_type(), Some(&v)));
        list
    };
    for (params, needle) in [
        (with("Type", Value::from(9u16)), "not a set type"),
        (with("Name", Value::from("a".repeat(65))), "at most 64"),
        (
            with("ShadowVolume", Value::from("relative/vdc")),
            "ShadowVolume",
        ),
        (with("BitmapVolume", Value::from("")), "BitmapVolume"),
        (
            with("OverflowVolume", Value::from("/dev/vde")),
            "only compact dependent sets",
        ),
        (vec![param("Name", "s1")], "Type is required"),
    ] {
        invalid(s.invoke_method(&ctx(), &t, "CreateIISet", &params), needle);
    }
    invalid(
        s.invoke_method(&ctx(), &t, "DeleteIISet", &[]),
        "Name is required",
    );
    invalid(
        s.invoke_method(&ctx(), &t, "DeleteIISet", &[param("Name", "")]),
        "empty",
    );
    let wrong = MethodTarget::Instance(super::interop::service_path("elsewhere"));
    assert_eq!(
        s.invoke_method(&ctx(), &wrong, "GetAllIISets", &[])
            .unwrap_err()
            .status,
        CimStatus::NotFound
    );
}

#[test]
fn volume_method_targets_are_checked_first() {
    let v = VolumeProvider::new(host(), SYSTEM.into());
    let nokey = MethodTarget::Instance(ObjectPath::new(volume::CLASS));
    invalid(
        v.invoke_method(&ctx(), &nokey, "PutUnderControl", &[]),
        "DeviceID",
    );
    let class = MethodTarget::Class {
        namespace: NAMESPACE.into(),
        classname: volume::CLASS.into(),
    };
    invalid(v.invoke_method(&ctx(), &class, "Release", &[]), "instance");
    invalid(
        v.get_instance(&ctx(), &ObjectPath::new(volume::CLASS)),
        "DeviceID",
    );
}

#[test]
fn features_not_implemented_yet() {
    let p = SetProvider::new(host());
    for m in [
        "Export",
        "Join",
        "Reset",
        "AttachOverflow",
        "DetachOverflow",
        "export",
    ] {
        not_supported(p.invoke_method(&ctx(), &set_target("s1"), m, &[]));
    }
    let s = ServiceProvider::new(host(), SYSTEM.into());
    for m in ["Import", "CreateOverflowVolume", "DeleteOverflowVolume"] {
        not_supported(s.invoke_method(&ctx(), &service_target(), m, &[]));
    }
    let o = OverflowProvider;
    not_supported(o.create_instance(&ctx(), &Instance::new("DS_IIOverflowVolume")));
    not_supported(o.invoke_method(&ctx(), &set_target("o"), "GetStatus", &[]));
}

#[test]
fn overflow_volumes_truthfully_none() {
    // Not engine-backed: none exist whether or not there is an engine.
    let o = OverflowProvider;
    assert!(o
        .enumerate_instances(&ctx(), "DS_IIOverflowVolume")
        .unwrap()
        .is_empty());
    let e = EmptyAssocProvider;
    assert_eq!(e.classes(), [(NAMESPACE, SET_OVERFLOW)]);
    assert!(e
        .enumerate_instances(&ctx(), SET_OVERFLOW)
        .unwrap()
        .is_empty());
}

#[test]
fn group_operations_without_engine_fail_with_the_reason() {
    let g = GroupProvider::new(host());
    // Not an empty list: the client must learn that groups cannot be known.
    unavailable(g.enumerate_instances(&ctx(), group::CLASS));
    unavailable(g.get_instance(&ctx(), &group::path(NAMESPACE, "g1")));
    unavailable(g.delete_instance(&ctx(), &group::path(NAMESPACE, "g1")));
    unavailable(g.create_instance(&ctx(), &Instance::new(group::CLASS).with("Name", "g1")));
    let with_members = Instance::new(group::CLASS)
        .with("Name", "g1")
        .with("Members", Value::string_array(["s1", "s2"]));
    unavailable(g.create_instance(&ctx(), &with_members));
    let t = group_target("g1");
    for (m, params) in [
        ("Copy", vec![param("Direction", 1u16)]),
        ("Update", vec![param("Direction", 2u16)]),
        ("Wait", vec![param("Timeout", 5u32)]),
        ("Wait", vec![param("Timeout", 0u32)]),
        ("Wait", vec![]),
        ("Suspend", vec![]),
        ("Resume", vec![]),
        ("Abort", vec![]),
        (
            "SetCopyParameters",
            vec![param("Units", 32u32), param("Delay", 1000u32)],
        ),
        ("ClearCopyParameters", vec![]),
        ("AddSet", vec![param("SetName", "s1")]),
        ("RemoveSet", vec![param("SetName", "s1")]),
    ] {
        unavailable(g.invoke_method(&ctx(), &t, m, &params));
    }
    let a = GroupSetProvider::new(host());
    unavailable(a.enumerate_instances(&ctx(), GROUP_SET));
    unavailable(a.get_instance(&ctx(), &ObjectPath::new(GROUP_SET)));
    let s = ServiceProvider::new(host(), SYSTEM.into());
    for m in ["CreateIIGroup", "DeleteIIGroup"] {
        unavailable(s.invoke_method(&ctx(), &service_target(), m, &[param("Name", "g1")]));
    }
}

#[test]
fn group_method_parameters_are_checked_first() {
    let g = GroupProvider::new(host());
    let t = group_target("g1");
    let long = group_target(&"g".repeat(65));
    invalid(
        g.invoke_method(&ctx(), &t, "Copy", &[param("Direction", 0u16)]),
        "0 is not a direction",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "Update", &[param("Direction", 3u16)]),
        "3 is not a direction",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "Update", &[]),
        "Direction is required",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "Wait", &[param("Timeout", "soon")]),
        "Timeout",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "SetCopyParameters", &[param("Delay", 5u32)]),
        "Units is required",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "SetCopyParameters", &[param("Units", 5u32)]),
        "Delay is required",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "AddSet", &[]),
        "SetName is required",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "AddSet", &[param("SetName", "")]),
        "the set name is empty",
    );
    invalid(
        g.invoke_method(&ctx(), &t, "RemoveSet", &[param("SetName", "s".repeat(65))]),
        "at most 64",
    );
    invalid(g.invoke_method(&ctx(), &long, "Abort", &[]), "group name");
    invalid(
        g.invoke_method(&ctx(), &group_target("a\u{1}b"), "Resume", &[]),
        "control characters",
    );
    let class = MethodTarget::Class {
        namespace: NAMESPACE.into(),
        classname: group::CLASS.into(),
    };
    invalid(
        g.invoke_method(&ctx(), &class, "Abort", &[]),
        "must be invoked on an instance",
    );
    invalid(g.get_instance(&ctx(), &group::path(NAMESPACE, "")), "empty");
    invalid(
        g.delete_instance(&ctx(), &group::path(NAMESPACE, &"x".repeat(65))),
        "at most 64",
    );
    invalid(
        g.create_instance(&ctx(), &Instance::new(group::CLASS)),
        "Name is required",
    );
    let e = g.invoke_method(&ctx(), &t, "Explode", &[]).unwrap_err();
    assert_eq!(e.status, CimStatus::MethodNotFound);

    let s = ServiceProvider::new(host(), SYSTEM.into());
    let st = service_target();
    invalid(
        s.invoke_method(&ctx(), &st, "CreateIIGroup", &[]),
        "Name is required",
    );
    invalid(
        s.invoke_method(
            &ctx(),
            &st,
            "CreateIIGroup",
            &[param("Name", "g".repeat(65))],
        ),
        "the group name is 65 bytes long; at most 64",
    );
    invalid(
        s.invoke_method(&ctx(), &st, "DeleteIIGroup", &[param("Name", "")]),
        "the group name is empty",
    );
}

#[test]
fn new_group_requests() {
    let inst = Instance::new(group::CLASS)
        .with("Name", "g1")
        .with("Members", Value::string_array(["s1", "s2"]));
    assert_eq!(
        NewGroup::from_args(&Args::Instance(&inst)).unwrap(),
        NewGroup {
            name: "g1".into(),
            members: vec!["s1".into(), "s2".into()],
        }
    );
    // No Members (or NULL): an empty group.
    let bare = Instance::new(group::CLASS).with("Name", "g2");
    assert!(NewGroup::from_args(&Args::Instance(&bare))
        .unwrap()
        .members
        .is_empty());
    let with = |members: Value| {
        Instance::new(group::CLASS)
            .with("Name", "g1")
            .with("Members", members)
    };
    for (members, needle) in [
        (
            Value::string_array(["s1", ""]),
            "Members: the set name is empty",
        ),
        (
            Value::string_array(["x".repeat(65)]),
            "Members: the set name is 65 bytes long",
        ),
        (
            Value::Array(crate::cim::CimType::String, vec![None]),
            "property Members: NULL elements are not allowed",
        ),
        (
            Value::from("s1"),
            "property Members: expected a string array",
        ),
    ] {
        invalid(NewGroup::from_args(&Args::Instance(&with(members))), needle);
    }
}

/// The engine's refusals of group operations, as the group methods answer them: the
/// codes the MOF lists for each method.
#[test]
fn group_refusals_read_as_the_mof_says() {
    use dmtarget::engine::EngineError;
    let code = |method: &str, e: EngineError| -> MethodOutput {
        outcome::<()>(group::CLASS, method, "g1", Err(e))
    };
    let rc = |o: MethodOutput| o.return_value;
    // AddSet: a set in another group is In Use; of another kind, Invalid Parameter;
    // busy, Busy; unknown, Not Found.
    let in_other = EngineError::Conflict("set s1 is in group g0".into());
    assert_eq!(rc(code("AddSet", in_other)), Value::from(6u32));
    let kind = EngineError::InvalidArgument("set s1 is dependent".into());
    assert_eq!(rc(code("AddSet", kind)), Value::from(5u32));
    let busy = EngineError::Busy("set s1 is busy".into());
    assert_eq!(rc(code("AddSet", busy)), Value::from(13u32));
    let unknown = EngineError::NotFound {
        what: "set",
        name: "s9".into(),
    };
    assert_eq!(rc(code("AddSet", unknown)), Value::from(8u32));
    // RemoveSet of a set not in the group: Not Found.
    let not_member = EngineError::NotFound {
        what: "member",
        name: "s1 (of group g1)".into(),
    };
    assert_eq!(rc(code("RemoveSet", not_member)), Value::from(8u32));
    // Copy: an empty group is Invalid State, masters shared or a volume in use In Use.
    let empty = EngineError::InvalidState("group g1 has no sets".into());
    assert_eq!(rc(code("Copy", empty)), Value::from(7u32));
    let shared = EngineError::Conflict("sets s1 and s2 of group g1 share the master".into());
    assert_eq!(rc(code("Copy", shared)), Value::from(6u32));
    // Copy control: nothing copying is Invalid State, a dependent group Not Supported.
    for m in ["Suspend", "Resume", "Abort"] {
        let idle = EngineError::InvalidState("no set of group g1 is copying".into());
        assert_eq!(rc(code(m, idle)), Value::from(7u32), "{m}");
        let dep = EngineError::NotSupported("group g1 holds dependent sets".into());
        assert_eq!(rc(code(m, dep)), Value::from(1u32), "{m}");
    }
    let timeout = EngineError::Timeout("group g1 is still busy after 5 s".into());
    assert_eq!(rc(code("Wait", timeout)), Value::from(3u32));
}

#[test]
fn unknown_methods_are_not_found() {
    let p = SetProvider::new(host());
    let e = p
        .invoke_method(&ctx(), &set_target("s1"), "Explode", &[])
        .unwrap_err();
    assert_eq!(e.status, CimStatus::MethodNotFound);
}
