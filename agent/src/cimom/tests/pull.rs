//! The pull operations through `dispatch`: Open*, Pull*, CloseEnumeration,
//! MaxObjectCount (0 included), end of sequence, context expiry, limits and
//! ownership, and the unsupported options.

use std::time::Duration;

use super::super::PullLimits;
use super::*;

/// (number of objects, EndOfSequence, EnumerationContext) of a pull result.
fn seq(r: &IMethodResult) -> (usize, bool, Option<String>) {
    let n = match &r.value {
        IReturnValue::InstancesWithPath(v) => v.len(),
        IReturnValue::InstancePaths(v) => v.len(),
        other => panic!("{other:?}"),
    };
    let find = |name: &str| {
        r.out_params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let eos = find("EndOfSequence");
    assert_eq!(eos.paramtype, Some(CimType::Boolean));
    let eos = eos.data.as_bool("EndOfSequence").unwrap().unwrap();
    let ctx = find("EnumerationContext")
        .data
        .as_string("EnumerationContext")
        .unwrap();
    assert_eq!(eos, ctx.is_none(), "a context exactly while not at the end");
    (n, eos, ctx)
}

fn open_widgets(c: &Cimom, extra: Vec<(&str, ParamData)>) -> Result<IMethodResult, CimError> {
    let mut params = vec![("ClassName", cn("Test_Widget"))];
    params.extend(extra);
    call(c, "OpenEnumerateInstances", params)
}

fn pull(c: &Cimom, op: &str, ctx: &str, max: u32) -> Result<IMethodResult, CimError> {
    call(
        c,
        op,
        vec![
            ("EnumerationContext", text(ctx)),
            ("MaxObjectCount", num(max)),
        ],
    )
}

#[test]
fn open_then_pull_to_the_end() {
    let (c, _) = fixture();
    let r = open_widgets(&c, vec![("MaxObjectCount", num(2))]).unwrap();
    let (n, eos, ctx) = seq(&r);
    assert_eq!((n, eos), (2, false));
    let IReturnValue::InstancesWithPath(v) = &r.value else {
        panic!()
    };
    assert_eq!(v[0].0.namespace.as_deref(), Some(NS));
    let ctx = ctx.unwrap();
    assert_eq!(c.open_contexts(), 1);
    let r = pull(&c, "PullInstancesWithPath", &ctx, 5).unwrap();
    assert_eq!(seq(&r), (1, true, None));
    assert_eq!(c.open_contexts(), 0);
    assert_eq!(
        status(pull(&c, "PullInstancesWithPath", &ctx, 5)),
        CimStatus::InvalidEnumerationContext
    );
}

#[test]
fn max_object_count_zero_and_default() {
    let (c, _) = fixture();
    // No MaxObjectCount on open means 0.
    let (n, eos, ctx) = seq(&open_widgets(&c, vec![]).unwrap());
    assert_eq!((n, eos), (0, false));
    let ctx = ctx.unwrap();
    let (n, eos, ctx2) = seq(&pull(&c, "PullInstancesWithPath", &ctx, 0).unwrap());
    assert_eq!((n, eos), (0, false));
    assert_eq!(ctx2.as_deref(), Some(ctx.as_str()));
    assert_eq!(
        seq(&pull(&c, "PullInstancesWithPath", &ctx, 100).unwrap()),
        (3, true, None)
    );
    // Pull without MaxObjectCount is invalid.
    let (_, _, ctx) = seq(&open_widgets(&c, vec![]).unwrap());
    assert_eq!(
        status(call(
            &c,
            "PullInstancesWithPath",
            vec![("EnumerationContext", text(&ctx.unwrap()))]
        )),
        CimStatus::InvalidParameter
    );
}

#[test]
fn complete_and_empty_results_need_no_context() {
    let (c, _) = fixture();
    assert_eq!(
        seq(&open_widgets(&c, vec![("MaxObjectCount", num(3))]).unwrap()),
        (3, true, None)
    );
    let r = call(
        &c,
        "OpenEnumerateInstancePaths",
        vec![("ClassName", cn("Test_Orphan"))],
    )
    .unwrap();
    assert_eq!(seq(&r), (0, true, None));
    assert_eq!(c.open_contexts(), 0);
}

#[test]
fn paths_and_instances_contexts_are_not_interchangeable() {
    let (c, _) = fixture();
    let r = call(
        &c,
        "OpenEnumerateInstancePaths",
        vec![("ClassName", cn("Test_Widget")), ("MaxObjectCount", num(1))],
    )
    .unwrap();
    assert!(matches!(r.value, IReturnValue::InstancePaths(_)));
    let ctx = seq(&r).2.unwrap();
    assert_eq!(
        status(pull(&c, "PullInstancesWithPath", &ctx, 1)),
        CimStatus::InvalidEnumerationContext
    );
    let r = pull(&c, "PullInstancePaths", &ctx, 1).unwrap();
    assert!(matches!(r.value, IReturnValue::InstancePaths(_)));
    assert_eq!(seq(&r).0, 1);
}

#[test]
fn close_then_pull_fails() {
    let (c, _) = fixture();
    let ctx = seq(&open_widgets(&c, vec![]).unwrap()).2.unwrap();
    let r = call(
        &c,
        "CloseEnumeration",
        vec![("EnumerationContext", text(&ctx))],
    )
    .unwrap();
    assert_eq!(r.value, IReturnValue::None);
    assert!(r.out_params.is_empty());
    assert_eq!(
        status(pull(&c, "PullInstancesWithPath", &ctx, 1)),
        CimStatus::InvalidEnumerationContext
    );
    assert_eq!(
        status(call(
            &c,
            "CloseEnumeration",
            vec![("EnumerationContext", text(&ctx))]
        )),
        CimStatus::InvalidEnumerationContext
    );
    assert_eq!(
        status(call(
            &c,
            "CloseEnumeration",
            vec![("EnumerationContext", text("no-such-context"))]
        )),
        CimStatus::InvalidEnumerationContext
    );
}

#[test]
fn contexts_belong_to_the_user_who_opened_them() {
    let (c, _) = fixture();
    let ctx = seq(&open_widgets(&c, vec![]).unwrap()).2.unwrap();
    let req = Request::IMethodCall {
        id: "1".into(),
        namespace: NS.into(),
        method: "PullInstancesWithPath".into(),
        params: vec![
            ("EnumerationContext".into(), text(&ctx)),
            ("MaxObjectCount".into(), num(1)),
        ],
    };
    let Response::IMethod { result, .. } = c.dispatch(req, "mallory") else {
        panic!()
    };
    assert_eq!(
        result.unwrap_err().status,
        CimStatus::InvalidEnumerationContext
    );
    // Still there for its owner.
    assert_eq!(
        seq(&pull(&c, "PullInstancesWithPath", &ctx, 9).unwrap()).0,
        3
    );
}

#[test]
fn unsupported_open_options() {
    let (c, _) = fixture();
    assert_eq!(
        status(open_widgets(
            &c,
            vec![("FilterQuery", text("SELECT * FROM Test_Widget"))]
        )),
        CimStatus::FilteredEnumerationNotSupported
    );
    assert_eq!(
        status(open_widgets(
            &c,
            vec![("FilterQueryLanguage", text("DMTF:FQL"))]
        )),
        CimStatus::FilteredEnumerationNotSupported
    );
    assert_eq!(
        status(open_widgets(&c, vec![("ContinueOnError", boolean(true))])),
        CimStatus::ContinuationOnErrorNotSupported
    );
    open_widgets(&c, vec![("ContinueOnError", boolean(false))]).unwrap();
    assert_eq!(
        status(open_widgets(&c, vec![("OperationTimeout", num(0))])),
        CimStatus::InvalidOperationTimeout
    );
    assert_eq!(
        status(open_widgets(&c, vec![("OperationTimeout", num(100_000))])),
        CimStatus::InvalidOperationTimeout
    );
    // Open operations take no LocalOnly or IncludeQualifiers (DSP0200).
    assert_eq!(
        status(open_widgets(&c, vec![("LocalOnly", boolean(false))])),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(&c, "OpenEnumerateInstances", vec![])),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "OpenEnumerateInstances",
            vec![("ClassName", cn("No_Such"))]
        )),
        CimStatus::InvalidClass
    );
}

#[test]
fn contexts_expire_after_operation_timeout() {
    let (c, _) = fixture();
    let ctx = seq(&open_widgets(&c, vec![("OperationTimeout", num(1))]).unwrap())
        .2
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        status(pull(&c, "PullInstancesWithPath", &ctx, 1)),
        CimStatus::InvalidEnumerationContext
    );
}

#[test]
fn open_contexts_are_limited() {
    let (c, _) = fixture();
    let c = c.with_pull_limits(PullLimits {
        max_contexts: 2,
        ..Default::default()
    });
    let a = seq(&open_widgets(&c, vec![]).unwrap()).2.unwrap();
    open_widgets(&c, vec![]).unwrap();
    assert_eq!(
        status(open_widgets(&c, vec![])),
        CimStatus::ServerLimitsExceeded
    );
    call(
        &c,
        "CloseEnumeration",
        vec![("EnumerationContext", text(&a))],
    )
    .unwrap();
    open_widgets(&c, vec![]).unwrap();
}

#[test]
fn open_enumerate_instances_shapes_like_enumerate_instances() {
    let (c, _) = fixture();
    let r = open_widgets(
        &c,
        vec![
            ("MaxObjectCount", num(10)),
            ("DeepInheritance", boolean(false)),
            ("PropertyList", names(&["Name", "Shade"])),
            ("IncludeClassOrigin", boolean(true)),
        ],
    )
    .unwrap();
    let IReturnValue::InstancesWithPath(v) = r.value else {
        panic!()
    };
    assert_eq!(v.len(), 3);
    assert_eq!(prop_names(&v[2].1), ["Name"]);
    assert!(v[2].1.properties[0].class_origin.is_some());
}

#[test]
fn open_association_operations_match_the_classic_ones() {
    let (c, _) = fixture();
    let g1 = || iname(gear_path(1, true));
    let classic = |op: &str| -> usize {
        match call(&c, op, vec![("ObjectName", g1())]).unwrap().value {
            IReturnValue::ObjectPaths(v) => v.len(),
            IReturnValue::ObjectsWithPath(v) => v.len(),
            other => panic!("{other:?}"),
        }
    };
    for (open, same_as, paths) in [
        ("OpenAssociatorInstances", "Associators", false),
        ("OpenAssociatorInstancePaths", "AssociatorNames", true),
        ("OpenReferenceInstances", "References", false),
        ("OpenReferenceInstancePaths", "ReferenceNames", true),
    ] {
        let r = call(
            &c,
            open,
            vec![("InstanceName", g1()), ("MaxObjectCount", num(1))],
        )
        .unwrap();
        let (n, eos, ctx) = seq(&r);
        assert_eq!((n, eos), (1, false), "{open}");
        let pull_op = if paths {
            "PullInstancePaths"
        } else {
            "PullInstancesWithPath"
        };
        let (rest, eos, _) = seq(&pull(&c, pull_op, &ctx.unwrap(), 100).unwrap());
        assert!(eos);
        assert_eq!(1 + rest, classic(same_as), "{open}");
    }
    // Filters are honoured, and the paths variants take no PropertyList.
    let r = call(
        &c,
        "OpenAssociatorInstancePaths",
        vec![
            ("InstanceName", g1()),
            ("ResultClass", cn("Test_SmallWidget")),
            ("MaxObjectCount", num(10)),
        ],
    )
    .unwrap();
    assert_eq!(seq(&r), (1, true, None));
    assert_eq!(
        status(call(
            &c,
            "OpenReferenceInstancePaths",
            vec![("InstanceName", g1()), ("PropertyList", names(&["x"]))]
        )),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "OpenReferenceInstances",
            vec![("InstanceName", g1()), ("ResultRole", text("Gear"))]
        )),
        CimStatus::InvalidParameter
    );
}
