//! GetClass, EnumerateClasses, EnumerateClassNames, qualifier types, and the
//! class-changing operations that are refused.

use super::*;

fn class_of(r: IMethodResult) -> crate::cim::Class {
    match r.value {
        IReturnValue::Classes(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("{other:?}"),
    }
}

fn class_names(r: IMethodResult) -> Vec<String> {
    match r.value {
        IReturnValue::ClassNames(v) => v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_class_defaults_are_local_only_with_qualifiers() {
    let (c, _) = fixture();
    let k = class_of(call(&c, "GetClass", vec![("ClassName", cn("test_widget"))]).unwrap());
    assert_eq!(k.name, "Test_Widget");
    assert_eq!(k.superclass.as_deref(), Some("Test_Element"));
    // LocalOnly defaults to true: inherited Caption is left out.
    assert!(k.property("Caption").is_none());
    assert!(k.property("Size").unwrap().qualifier("Units").is_some());
    assert!(k.qualifier("Description").is_some());
    assert!(k.property("Size").unwrap().class_origin.is_none());
    assert!(k.method("Resize").is_some());
}

#[test]
fn get_class_honours_every_parameter() {
    let (c, _) = fixture();
    let k = class_of(
        call(
            &c,
            "GetClass",
            vec![
                ("ClassName", cn("Test_SmallWidget")),
                ("LocalOnly", boolean(false)),
                ("IncludeQualifiers", boolean(false)),
                ("IncludeClassOrigin", boolean(true)),
                ("PropertyList", names(&["Size", "caption", "NoSuch"])),
            ],
        )
        .unwrap(),
    );
    let props: Vec<&str> = k.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(props, ["Caption", "Size"]);
    assert!(k.properties.iter().all(|p| p.qualifiers.is_empty()));
    assert!(k.qualifiers.is_empty());
    assert_eq!(
        k.property("Size").unwrap().class_origin.as_deref(),
        Some("Test_Widget")
    );
    assert_eq!(
        k.property("Caption").unwrap().class_origin.as_deref(),
        Some("Test_Element")
    );
    // Methods are not subject to PropertyList; inherited ones are there.
    assert!(k.method("Resize").is_some());
}

#[test]
fn get_class_errors() {
    let (c, _) = fixture();
    assert_eq!(
        status(call(&c, "GetClass", vec![("ClassName", cn("No_Such"))])),
        CimStatus::NotFound
    );
    assert_eq!(
        status(call_ns(
            &c,
            "root/nowhere",
            "GetClass",
            vec![("ClassName", cn("Test_Widget"))]
        )),
        CimStatus::InvalidNamespace
    );
    assert_eq!(
        status(call(&c, "GetClass", vec![])),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "GetClass",
            vec![("ClassName", cn("Test_Widget")), ("Bogus", boolean(true))]
        )),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "GetClass",
            vec![
                ("ClassName", cn("Test_Widget")),
                ("LocalOnly", text("maybe"))
            ]
        )),
        CimStatus::InvalidParameter
    );
}

#[test]
fn enumerate_class_names_shallow_and_deep() {
    let (c, _) = fixture();
    let roots = class_names(call(&c, "EnumerateClassNames", vec![]).unwrap());
    assert_eq!(roots, ["Test_Element", "Test_WidgetGear"]);
    let all = class_names(
        call(
            &c,
            "EnumerateClassNames",
            vec![("DeepInheritance", boolean(true))],
        )
        .unwrap(),
    );
    assert_eq!(all.len(), 8);
    let subs = class_names(
        call(
            &c,
            "EnumerateClassNames",
            vec![("ClassName", cn("Test_Widget"))],
        )
        .unwrap(),
    );
    assert_eq!(subs, ["Test_SmallWidget"]);
    // NULL ClassName is the same as none.
    let roots2 = class_names(
        call(
            &c,
            "EnumerateClassNames",
            vec![("ClassName", ParamData::Null)],
        )
        .unwrap(),
    );
    assert_eq!(roots2, roots);
    assert_eq!(
        status(call(
            &c,
            "EnumerateClassNames",
            vec![("ClassName", cn("No_Such"))]
        )),
        CimStatus::InvalidClass
    );
}

#[test]
fn enumerate_classes_honours_flags() {
    let (c, _) = fixture();
    let r = call(
        &c,
        "EnumerateClasses",
        vec![
            ("ClassName", cn("Test_Element")),
            ("DeepInheritance", boolean(true)),
            ("LocalOnly", boolean(false)),
            ("IncludeQualifiers", boolean(false)),
            ("IncludeClassOrigin", boolean(true)),
        ],
    )
    .unwrap();
    let IReturnValue::Classes(v) = r.value else {
        panic!()
    };
    assert_eq!(v.len(), 6);
    let small = v.iter().find(|k| k.name == "Test_SmallWidget").unwrap();
    assert!(small.property("Caption").is_some());
    assert!(small.qualifiers.is_empty());
    assert!(small.property("Name").unwrap().class_origin.is_some());
    // Defaults: direct subclasses only, local members, with qualifiers.
    let r = call(
        &c,
        "EnumerateClasses",
        vec![("ClassName", cn("Test_Widget"))],
    )
    .unwrap();
    let IReturnValue::Classes(v) = r.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(prop_like(&v[0]), ["Shade"]);
}

fn prop_like(k: &crate::cim::Class) -> Vec<&str> {
    k.properties.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn qualifier_types_can_be_read() {
    let (c, _) = fixture();
    let r = call(&c, "GetQualifier", vec![("QualifierName", text("key"))]).unwrap();
    let IReturnValue::QualifierDecls(v) = r.value else {
        panic!()
    };
    assert_eq!(v[0].name, "Key");
    assert_eq!(
        status(call(
            &c,
            "GetQualifier",
            vec![("QualifierName", text("Nope"))]
        )),
        CimStatus::NotFound
    );
    let r = call(&c, "EnumerateQualifiers", vec![]).unwrap();
    let IReturnValue::QualifierDecls(v) = r.value else {
        panic!()
    };
    assert!(v.len() > 20);
}

#[test]
fn schema_changes_and_queries_are_not_supported() {
    let (c, _) = fixture();
    for m in [
        "CreateClass",
        "ModifyClass",
        "DeleteClass",
        "SetQualifier",
        "DeleteQualifier",
        "ExecQuery",
        "OpenQueryInstances",
        "PullInstances",
        "EnumerationCount",
        "Frobnicate",
    ] {
        let e = call(&c, m, vec![]).unwrap_err();
        assert_eq!(e.status, CimStatus::NotSupported, "{m}");
        assert!(e.description.contains(m), "{m}: {}", e.description);
    }
}
