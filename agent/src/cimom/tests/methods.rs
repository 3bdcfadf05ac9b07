//! InvokeMethod: method lookup, IN parameters typed against the declaration,
//! instance targets checked, class targets passed on, provider results
//! typed, provider panics contained.

use super::*;

fn on(path: ObjectPath) -> MethodTarget {
    MethodTarget::Instance(path.with_namespace(NS))
}

fn on_class(class: &str) -> MethodTarget {
    MethodTarget::Class {
        namespace: NS.into(),
        classname: class.into(),
    }
}

fn param(name: &str, t: Option<CimType>, data: ParamData) -> ParamValue {
    ParamValue {
        name: name.into(),
        paramtype: t,
        embedded_object: None,
        data,
    }
}

#[test]
fn invoke_types_in_and_out_parameters() {
    let (c, fake) = fixture();
    let (ret, out) = invoke(
        &c,
        on(widget_path("w1")),
        "resize",
        vec![
            // Untyped text (wbemcli) and typed (pywbem) both work.
            param("newsize", None, num(12)),
            param("Force", Some(CimType::Boolean), boolean(true)),
            param("Names", None, names(&["x", "y"])),
            param("Peer", None, iname(widget_path("w2"))),
        ],
    )
    .unwrap();
    assert_eq!(ret, Some(RawValue::Text("0".into())));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].name, "OldSize");
    assert_eq!(out[0].paramtype, Some(CimType::Uint32));
    assert_eq!(
        typed_param(&out[0], CimType::Uint32),
        Some(Value::from(10u32))
    );
    let j = fake.journal.lock().unwrap();
    let (target, method, params) = &j.invoked[0];
    assert_eq!(method, "Resize");
    let MethodTarget::Instance(p) = target else {
        panic!()
    };
    assert_eq!(p.namespace.as_deref(), Some(NS));
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["NewSize", "Force", "Names", "Peer"]);
    assert!(params.iter().all(|p| p.paramtype.is_some()));
    assert_eq!(params[0].data.as_u32("NewSize").unwrap(), Some(12));
    assert!(params[3].data.as_instance_name("Peer").unwrap().is_some());
}

#[test]
fn invoke_parameter_errors() {
    let (c, _) = fixture();
    let e =
        |params: Vec<ParamValue>| invoke(&c, on(widget_path("w1")), "Resize", params).unwrap_err();
    // Required parameter missing, or NULL.
    assert_eq!(e(vec![]).status, CimStatus::InvalidParameter);
    assert_eq!(
        e(vec![param("NewSize", None, ParamData::Null)]).status,
        CimStatus::InvalidParameter
    );
    let unknown = e(vec![
        param("NewSize", None, num(1)),
        param("Colour", None, text("red")),
    ]);
    assert_eq!(unknown.status, CimStatus::InvalidParameter);
    assert!(
        unknown.description.contains("Colour"),
        "{}",
        unknown.description
    );
    // OUT-only parameter sent in.
    assert_eq!(
        e(vec![
            param("NewSize", None, num(1)),
            param("OldSize", None, num(1))
        ])
        .status,
        CimStatus::InvalidParameter
    );
    // Text that is not a uint32.
    let bad = e(vec![param("NewSize", None, text("big"))]);
    assert_eq!(bad.status, CimStatus::InvalidParameter);
    assert!(bad.description.contains("NewSize"), "{}", bad.description);
    // Declared as another type, an array for a scalar, a scalar for an array.
    assert_eq!(
        e(vec![param("NewSize", Some(CimType::String), text("big"))]).status,
        CimStatus::TypeMismatch
    );
    assert_eq!(
        e(vec![param("NewSize", None, names(&["1"]))]).status,
        CimStatus::TypeMismatch
    );
    assert_eq!(
        e(vec![
            param("NewSize", None, num(1)),
            param("Names", None, text("x"))
        ])
        .status,
        CimStatus::TypeMismatch
    );
    assert_eq!(
        e(vec![
            param("NewSize", None, num(1)),
            param("Force", None, iname(widget_path("w2")))
        ])
        .status,
        CimStatus::TypeMismatch
    );
}

#[test]
fn invoke_target_errors() {
    let (c, _) = fixture();
    let e = |t: MethodTarget, m: &str| invoke(&c, t, m, vec![]).unwrap_err().status;
    assert_eq!(e(on(widget_path("w1")), "Fly"), CimStatus::MethodNotFound);
    assert_eq!(e(on(widget_path("nope")), "Count"), CimStatus::NotFound);
    assert_eq!(
        e(on(ObjectPath::new("Test_Widget")), "Count"),
        CimStatus::InvalidParameter
    );
    assert_eq!(e(on_class("No_Such"), "Count"), CimStatus::InvalidClass);
    assert_eq!(
        e(
            MethodTarget::Class {
                namespace: "root/none".into(),
                classname: "Test_Widget".into()
            },
            "Count"
        ),
        CimStatus::InvalidNamespace
    );
}

#[test]
fn static_methods_on_the_class_path() {
    let (c, fake) = fixture();
    let (ret, out) = invoke(&c, on_class("test_widget"), "Count", vec![]).unwrap();
    assert_eq!(ret, Some(RawValue::Text("0".into())));
    assert_eq!(out[0].name, "N");
    let j = fake.journal.lock().unwrap();
    assert_eq!(
        j.invoked[0].0,
        MethodTarget::Class {
            namespace: NS.into(),
            classname: "Test_Widget".into()
        }
    );
}

#[test]
fn provider_results_are_typed_and_panics_contained() {
    let (c, _) = fixture();
    let (ret, out) = invoke(&c, on(widget_path("w1")), "Lie", vec![]).unwrap();
    assert_eq!(ret, Some(RawValue::Text("5".into())));
    assert!(out.is_empty(), "{out:?}");
    let e = invoke(&c, on(widget_path("w1")), "BadReturn", vec![]).unwrap_err();
    assert_eq!(e.status, CimStatus::Failed);
    let e = invoke(&c, on(widget_path("w1")), "Explode", vec![]).unwrap_err();
    assert_eq!(e.status, CimStatus::Failed);
    // The object manager is still serving.
    invoke(&c, on_class("Test_Widget"), "Count", vec![]).unwrap();
}
