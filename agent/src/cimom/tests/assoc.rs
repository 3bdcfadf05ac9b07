//! Associators, AssociatorNames, References, ReferenceNames over the fake
//! Test_WidgetGear association: w1–g1, w1–g2, s1–g1, ghost–g2.

use super::*;

fn object_paths(r: IMethodResult) -> Vec<ObjectPath> {
    match r.value {
        IReturnValue::ObjectPaths(v) => v,
        other => panic!("{other:?}"),
    }
}

fn objects(r: IMethodResult) -> Vec<(ObjectPath, Instance)> {
    match r.value {
        IReturnValue::ObjectsWithPath(v) => v,
        other => panic!("{other:?}"),
    }
}

fn assoc_names(c: &Cimom, target: ObjectPath, extra: Vec<(&str, ParamData)>) -> Vec<String> {
    let mut params = vec![("ObjectName", iname(target))];
    params.extend(extra);
    object_paths(call(c, "AssociatorNames", params).unwrap())
        .iter()
        .map(super::super::paths::describe)
        .collect()
}

#[test]
fn associator_names_follow_references_both_ways() {
    let (c, _) = fixture();
    assert_eq!(
        assoc_names(&c, widget_path("w1"), vec![]),
        ["Test_Gear.Id=1,Left=true", "Test_Gear.Id=2,Left=false"]
    );
    assert_eq!(
        assoc_names(&c, gear_path(1, true), vec![]),
        [r#"Test_Widget.Name="w1""#, r#"Test_SmallWidget.Name="s1""#]
    );
    let r = call(
        &c,
        "AssociatorNames",
        vec![("ObjectName", iname(gear_path(1, true)))],
    )
    .unwrap();
    assert!(object_paths(r)
        .iter()
        .all(|p| p.namespace.as_deref() == Some(NS)));
}

#[test]
fn associator_filters() {
    let (c, _) = fixture();
    let g1 = || gear_path(1, true);
    assert_eq!(
        assoc_names(&c, g1(), vec![("ResultClass", cn("Test_SmallWidget"))]),
        [r#"Test_SmallWidget.Name="s1""#]
    );
    assert_eq!(
        assoc_names(&c, g1(), vec![("ResultClass", cn("Test_Widget"))]).len(),
        2
    );
    assert_eq!(assoc_names(&c, g1(), vec![("Role", text("Gear"))]).len(), 2);
    assert!(assoc_names(&c, g1(), vec![("Role", text("Widget"))]).is_empty());
    assert_eq!(
        assoc_names(&c, g1(), vec![("ResultRole", text("widget"))]).len(),
        2
    );
    assert!(assoc_names(&c, g1(), vec![("ResultRole", text("Gear"))]).is_empty());
    assert_eq!(
        assoc_names(&c, g1(), vec![("AssocClass", cn("Test_WidgetGear"))]).len(),
        2
    );
    assert!(assoc_names(&c, g1(), vec![("AssocClass", cn("Test_Element"))]).is_empty());
    assert!(assoc_names(&c, g1(), vec![("AssocClass", cn("No_Such"))]).is_empty());
}

#[test]
fn associations_that_cannot_point_at_the_target_are_not_enumerated() {
    let (c, fake) = fixture();
    let orphan = ObjectPath::new("Test_Orphan").with_key("Name", KeyValue::string("x"));
    assert!(assoc_names(&c, orphan, vec![]).is_empty());
    assert!(fake.journal.lock().unwrap().enumerated.is_empty());
    // Nor when Role names a reference of the wrong class.
    assert!(assoc_names(&c, widget_path("w1"), vec![("Role", text("Gear"))]).is_empty());
    assert!(fake.journal.lock().unwrap().enumerated.is_empty());
    assert_eq!(assoc_names(&c, widget_path("w1"), vec![]).len(), 2);
    assert_eq!(fake.journal.lock().unwrap().enumerated, ["Test_WidgetGear"]);
}

#[test]
fn associators_return_existing_objects_shaped() {
    let (c, _) = fixture();
    let v = objects(
        call(
            &c,
            "Associators",
            vec![
                ("ObjectName", iname(gear_path(2, false))),
                ("PropertyList", names(&["Size"])),
                ("IncludeClassOrigin", boolean(true)),
                ("IncludeQualifiers", boolean(false)),
            ],
        )
        .unwrap(),
    );
    // The link to "ghost" names a widget that does not exist: left out.
    assert_eq!(v.len(), 1);
    let (p, i) = &v[0];
    assert_eq!(key_str(p, "Name"), "w1");
    assert_eq!(p.namespace.as_deref(), Some(NS));
    assert_eq!(prop_names(i), ["Size"]);
    assert_eq!(
        i.property("Size").unwrap().class_origin.as_deref(),
        Some("Test_Widget")
    );
}

#[test]
fn references_and_reference_names() {
    let (c, _) = fixture();
    let v = objects(
        call(
            &c,
            "References",
            vec![("ObjectName", iname(widget_path("w1")))],
        )
        .unwrap(),
    );
    assert_eq!(v.len(), 2);
    let (p, i) = &v[0];
    assert_eq!(p.classname, "Test_WidgetGear");
    assert!(matches!(p.key("Widget"), Some(KeyValue::Reference(_))));
    // The provider's references name no namespace: they are its own.
    let gear = i.get("Gear").and_then(Value::as_reference).unwrap();
    assert_eq!(gear.namespace.as_deref(), Some(NS));
    let names = |extra: Vec<(&str, ParamData)>| {
        let mut params = vec![("ObjectName", iname(gear_path(1, true)))];
        params.extend(extra);
        object_paths(call(&c, "ReferenceNames", params).unwrap()).len()
    };
    assert_eq!(names(vec![]), 2);
    assert_eq!(names(vec![("ResultClass", cn("Test_WidgetGear"))]), 2);
    assert_eq!(names(vec![("Role", text("Gear"))]), 2);
    assert_eq!(names(vec![("Role", text("Widget"))]), 0);
}

#[test]
fn association_errors() {
    let (c, _) = fixture();
    for op in [
        "Associators",
        "AssociatorNames",
        "References",
        "ReferenceNames",
    ] {
        let e = call(&c, op, vec![("ObjectName", cn("Test_Widget"))]).unwrap_err();
        assert_eq!(e.status, CimStatus::NotSupported, "{op}");
        assert_eq!(
            status(call(
                &c,
                op,
                vec![(
                    "ObjectName",
                    iname(ObjectPath::new("No_Such").with_key("Name", KeyValue::string("x")))
                )]
            )),
            CimStatus::InvalidParameter,
            "{op}"
        );
        assert_eq!(
            status(call(
                &c,
                op,
                vec![("ObjectName", iname(ObjectPath::new("Test_Widget")))]
            )),
            CimStatus::InvalidParameter,
            "{op}"
        );
        assert_eq!(status(call(&c, op, vec![])), CimStatus::InvalidParameter);
    }
    // References have no AssocClass or ResultRole; the *Names no PropertyList.
    assert_eq!(
        status(call(
            &c,
            "References",
            vec![
                ("ObjectName", iname(widget_path("w1"))),
                ("AssocClass", cn("Test_WidgetGear"))
            ]
        )),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "AssociatorNames",
            vec![
                ("ObjectName", iname(widget_path("w1"))),
                ("PropertyList", names(&["Size"]))
            ]
        )),
        CimStatus::InvalidParameter
    );
}
