//! Instance operations: enumeration (with subclasses, DeepInheritance,
//! PropertyList, qualifiers, class origin), GetInstance (with and without
//! the provider's own lookup), Create/Modify/Delete, Get/SetProperty, and
//! how provider bugs and panics are absorbed.

use super::*;

fn get(c: &Cimom, path: ObjectPath, extra: Vec<(&str, ParamData)>) -> Result<Instance, CimError> {
    let mut params = vec![("InstanceName", iname(path))];
    params.extend(extra);
    call(c, "GetInstance", params).map(|r| match r.value {
        IReturnValue::Instances(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("{other:?}"),
    })
}

#[test]
fn enumerate_instances_includes_subclasses_with_their_own_properties() {
    let (c, _) = fixture();
    let v = named_instances(
        call(
            &c,
            "EnumerateInstances",
            vec![("ClassName", cn("test_widget"))],
        )
        .unwrap(),
    );
    let names: Vec<(&str, &str)> = v
        .iter()
        .map(|(p, _)| (p.classname.as_str(), key_str(p, "Name")))
        .collect();
    assert_eq!(
        names,
        [
            ("Test_Widget", "w1"),
            ("Test_Widget", "w2"),
            ("Test_SmallWidget", "s1")
        ]
    );
    let (path, w1) = &v[0];
    assert_eq!(path.namespace.as_deref(), Some(NS));
    // Conformed: every class property in declaration order, the bogus one
    // dropped, Size back to uint32.
    assert_eq!(
        prop_names(w1),
        ["Caption", "Name", "Size", "Flag", "Tags", "Label"]
    );
    assert_eq!(u32_of(w1, "Size"), Some(10));
    assert!(w1.get("Caption").is_none());
    let (_, s1) = &v[2];
    assert_eq!(s1.classname, "Test_SmallWidget");
    assert!(prop_names(s1).contains(&"Shade"));
    // No qualifiers or class origin unless asked for.
    assert!(w1.properties.iter().all(|p| p.qualifiers.is_empty()));
    assert!(w1.properties.iter().all(|p| p.class_origin.is_none()));
}

#[test]
fn deep_inheritance_false_keeps_the_requested_classes_properties() {
    let (c, _) = fixture();
    let v = named_instances(
        call(
            &c,
            "EnumerateInstances",
            vec![
                ("ClassName", cn("Test_Widget")),
                ("DeepInheritance", boolean(false)),
            ],
        )
        .unwrap(),
    );
    // Subclass instances are still returned, without subclass properties.
    assert_eq!(v.len(), 3);
    assert!(!prop_names(&v[2].1).contains(&"Shade"));
    assert!(prop_names(&v[2].1).contains(&"Caption"));
}

#[test]
fn enumerate_from_a_superclass_reaches_every_provider() {
    let (c, _) = fixture();
    let v = instance_names(
        call(
            &c,
            "EnumerateInstanceNames",
            vec![("ClassName", cn("Test_Widget"))],
        )
        .unwrap(),
    );
    assert_eq!(v.len(), 3);
    // Test_Element: widgets, gears (the keyless one dropped); the bomb
    // provider's panic fails the whole enumeration.
    let e = call(
        &c,
        "EnumerateInstanceNames",
        vec![("ClassName", cn("Test_Element"))],
    )
    .unwrap_err();
    assert_eq!(e.status, CimStatus::Failed);
    let gears = instance_names(
        call(
            &c,
            "EnumerateInstanceNames",
            vec![("ClassName", cn("Test_Gear"))],
        )
        .unwrap(),
    );
    assert_eq!(gears.len(), 2);
    assert_eq!(
        gears[1].key("Id"),
        Some(&KeyValue::Numeric {
            value: crate::cim::Numeric::Unsigned(2),
            cimtype: Some(CimType::Uint16)
        })
    );
    // A class without provider has no instances; an unknown class is invalid.
    assert!(instance_names(
        call(
            &c,
            "EnumerateInstanceNames",
            vec![("ClassName", cn("Test_Orphan"))]
        )
        .unwrap()
    )
    .is_empty());
    assert_eq!(
        status(call(
            &c,
            "EnumerateInstances",
            vec![("ClassName", cn("No_Such"))]
        )),
        CimStatus::InvalidClass
    );
    assert_eq!(
        status(call_ns(
            &c,
            "interop",
            "EnumerateInstanceNames",
            vec![("ClassName", cn("Test_Widget"))]
        )),
        CimStatus::InvalidNamespace
    );
}

#[test]
fn property_list_qualifiers_and_class_origin() {
    let (c, _) = fixture();
    let v = named_instances(
        call(
            &c,
            "EnumerateInstances",
            vec![
                ("ClassName", cn("Test_Widget")),
                ("PropertyList", names(&["size", "Shade", "Unknown"])),
                ("IncludeQualifiers", boolean(true)),
                ("IncludeClassOrigin", boolean(true)),
                ("LocalOnly", boolean(true)),
            ],
        )
        .unwrap(),
    );
    assert_eq!(prop_names(&v[0].1), ["Size"]);
    assert_eq!(prop_names(&v[2].1), ["Size", "Shade"]);
    let size = v[0].1.property("Size").unwrap();
    assert!(size.qualifier("Units").is_some());
    assert_eq!(size.class_origin.as_deref(), Some("Test_Widget"));
    // Paths keep their keys whatever the PropertyList.
    assert_eq!(key_str(&v[0].0, "Name"), "w1");
    // An empty PropertyList returns no properties.
    let v = named_instances(
        call(
            &c,
            "EnumerateInstances",
            vec![
                ("ClassName", cn("Test_Widget")),
                ("PropertyList", names(&[])),
            ],
        )
        .unwrap(),
    );
    assert!(v.iter().all(|(_, i)| i.properties.is_empty()));
}

#[test]
fn get_instance_by_provider_and_by_enumeration() {
    let (c, _) = fixture();
    let w = get(
        &c,
        widget_path("w2"),
        vec![("PropertyList", names(&["Size"]))],
    )
    .unwrap();
    assert_eq!(prop_names(&w), ["Size"]);
    assert_eq!(u32_of(&w, "Size"), Some(20));
    // Gears have no GetInstance: found by enumeration, keys typed from
    // what the client sent (wbemcli sends numbers as strings).
    let by_text = ObjectPath::new("TEST_GEAR")
        .with_key("id", KeyValue::string("2"))
        .with_key("LEFT", KeyValue::string("false"));
    let g = get(&c, by_text, vec![]).unwrap();
    assert_eq!(g.classname, "Test_Gear");
    assert_eq!(
        get(&c, gear_path(3, true), vec![]).unwrap_err().status,
        CimStatus::NotFound
    );
    assert_eq!(
        get(&c, widget_path("nope"), vec![]).unwrap_err().status,
        CimStatus::NotFound
    );
}

#[test]
fn get_instance_path_errors() {
    let (c, _) = fixture();
    let err = |p: ObjectPath| {
        call(&c, "GetInstance", vec![("InstanceName", iname(p))])
            .unwrap_err()
            .status
    };
    assert_eq!(
        err(ObjectPath::new("No_Such").with_key("Name", KeyValue::string("x"))),
        CimStatus::InvalidClass
    );
    // Missing key, extra key, ill-typed key.
    assert_eq!(
        err(ObjectPath::new("Test_Widget")),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        err(widget_path("w1").with_key("Other", KeyValue::string("x"))),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        err(ObjectPath::new("Test_Gear")
            .with_key("Id", KeyValue::string("70000"))
            .with_key("Left", KeyValue::Boolean(true))),
        CimStatus::InvalidParameter
    );
    // A class without provider has no instances.
    assert_eq!(
        err(ObjectPath::new("Test_Orphan").with_key("Name", KeyValue::string("x"))),
        CimStatus::NotFound
    );
    assert_eq!(
        status(call(&c, "GetInstance", vec![])),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        status(call(
            &c,
            "GetInstance",
            vec![("InstanceName", cn("Test_Widget"))]
        )),
        CimStatus::InvalidParameter
    );
}

#[test]
fn create_instance_types_fills_defaults_and_returns_the_path() {
    let (c, fake) = fixture();
    let new = Instance::new("Test_Widget")
        .with("Name", "w3")
        .with("Size", "42"); // text: typed as uint32
    let r = call(
        &c,
        "CreateInstance",
        vec![("NewInstance", ParamData::Instance(new.clone()))],
    )
    .unwrap();
    let p = instance_names(r);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].classname, "Test_Widget");
    assert_eq!(key_str(&p[0], "Name"), "w3");
    assert_eq!(p[0].keybindings[0].name, "Name");
    let created = fake.journal.lock().unwrap().created[0].clone();
    assert_eq!(u32_of(&created, "Size"), Some(42));
    assert_eq!(created.get("Label"), Some(&Value::string("none")));
    assert!(created.get("Flag").is_none());
    // Errors: from the provider, unknown property, bad value, bad class.
    assert_eq!(
        status(call(
            &c,
            "CreateInstance",
            vec![("NewInstance", ParamData::Instance(new.clone()))]
        )),
        CimStatus::AlreadyExists
    );
    let bad = |i: Instance| {
        status(call(
            &c,
            "CreateInstance",
            vec![("NewInstance", ParamData::Instance(i))],
        ))
    };
    assert_eq!(
        bad(new.clone().with("Colour", "red")),
        CimStatus::InvalidParameter
    );
    assert_eq!(
        bad(new.clone().with("Size", "big")),
        CimStatus::TypeMismatch
    );
    assert_eq!(
        bad(Instance::new("No_Such").with("Name", "x")),
        CimStatus::InvalidClass
    );
    assert_eq!(
        bad(Instance::new("Test_Orphan").with("Name", "x")),
        CimStatus::NotSupported
    );
    assert_eq!(
        bad(Instance::new("Test_Abstract").with("Name", "x")),
        CimStatus::NotSupported
    );
}

fn modify(
    c: &Cimom,
    path: ObjectPath,
    inst: Instance,
    list: Option<&[&str]>,
) -> Result<IMethodResult, CimError> {
    let mut params = vec![("ModifiedInstance", ParamData::NamedInstance(path, inst))];
    if let Some(l) = list {
        params.push(("PropertyList", names(l)));
    }
    call(c, "ModifyInstance", params)
}

#[test]
fn modify_instance_changes_only_what_changed() {
    let (c, fake) = fixture();
    // A whole instance as GetInstance returned it, with one change: only
    // that property reaches the provider (wbemcli's mi does this).
    let mut w = get(&c, widget_path("w2"), vec![]).unwrap();
    w.set("Size", Value::from(21u32));
    let r = modify(&c, widget_path("w2"), w.clone(), None).unwrap();
    assert_eq!(r.value, IReturnValue::None);
    let (path, merged, list) = fake.journal.lock().unwrap().modified[0].clone();
    assert_eq!(path.namespace.as_deref(), Some(NS));
    assert_eq!(list, Some(vec!["Size".to_string()]));
    assert_eq!(u32_of(&merged, "Size"), Some(21));
    assert_eq!(merged.get("Flag"), Some(&Value::from(true)));
    // PropertyList limits the change; a listed property the instance
    // lacks becomes NULL.
    let only_label = Instance::new("Test_Widget")
        .with("Size", 99u32)
        .with("Label", "x");
    modify(&c, widget_path("w2"), only_label, Some(&["label"])).unwrap();
    let (_, merged, list) = fake.journal.lock().unwrap().modified[1].clone();
    assert_eq!(list, Some(vec!["Label".to_string()]));
    assert_eq!(u32_of(&merged, "Size"), Some(21));
    modify(
        &c,
        widget_path("w2"),
        Instance::new("Test_Widget"),
        Some(&["Size"]),
    )
    .unwrap();
    let (_, merged, _) = fake.journal.lock().unwrap().modified[2].clone();
    assert_eq!(u32_of(&merged, "Size"), None);
}

#[test]
fn modify_instance_refuses_keys_read_only_and_unknown_properties() {
    let (c, _) = fixture();
    let w = get(&c, widget_path("w1"), vec![]).unwrap();
    let e = |i: Instance, l: Option<&[&str]>| modify(&c, widget_path("w1"), i, l).unwrap_err();
    let key = e(w.clone().with("Name", "renamed"), None);
    assert_eq!(key.status, CimStatus::InvalidParameter);
    assert!(key.description.contains("key"), "{}", key.description);
    let ro = e(w.clone().with("Flag", false), None);
    assert_eq!(ro.status, CimStatus::InvalidParameter);
    assert!(
        ro.description.contains("not writable"),
        "{}",
        ro.description
    );
    assert_eq!(
        e(w.clone(), Some(&["NoSuch"])).status,
        CimStatus::InvalidParameter
    );
    assert_eq!(
        e(w.clone().with("NoSuch", 1u32), None).status,
        CimStatus::InvalidParameter
    );
    assert_eq!(
        e(Instance::new("Test_Gear"), None).status,
        CimStatus::InvalidParameter
    );
    assert_eq!(
        modify(&c, widget_path("nope"), w.clone(), None)
            .unwrap_err()
            .status,
        CimStatus::NotFound
    );
    // Only VALUE.NAMEDINSTANCE is accepted.
    assert_eq!(
        status(call(
            &c,
            "ModifyInstance",
            vec![("ModifiedInstance", ParamData::Instance(w))]
        )),
        CimStatus::InvalidParameter
    );
}

#[test]
fn delete_instance() {
    let (c, fake) = fixture();
    let r = call(
        &c,
        "DeleteInstance",
        vec![("InstanceName", iname(widget_path("w1")))],
    );
    assert_eq!(r.unwrap().value, IReturnValue::None);
    let deleted = fake.journal.lock().unwrap().deleted[0].clone();
    assert_eq!(key_str(&deleted, "Name"), "w1");
    assert_eq!(deleted.namespace.as_deref(), Some(NS));
    assert_eq!(
        status(call(
            &c,
            "DeleteInstance",
            vec![("InstanceName", iname(widget_path("nope")))]
        )),
        CimStatus::NotFound
    );
    assert_eq!(
        status(call(
            &c,
            "DeleteInstance",
            vec![(
                "InstanceName",
                iname(ObjectPath::new("Test_Orphan").with_key("Name", KeyValue::string("x")))
            )]
        )),
        CimStatus::NotSupported
    );
}

#[test]
fn get_and_set_property() {
    let (c, fake) = fixture();
    let gp = |prop: &str| {
        call(
            &c,
            "GetProperty",
            vec![
                ("InstanceName", iname(widget_path("w1"))),
                ("PropertyName", text(prop)),
            ],
        )
    };
    assert_eq!(
        gp("size").unwrap().value,
        IReturnValue::Value(RawValue::Text("10".into()))
    );
    // NULL is an empty IRETURNVALUE.
    assert_eq!(gp("Caption").unwrap().value, IReturnValue::Empty);
    assert_eq!(status(gp("Nope")), CimStatus::NoSuchProperty);
    let sp = |prop: &str, v: ParamData| {
        call(
            &c,
            "SetProperty",
            vec![
                ("InstanceName", iname(widget_path("w1"))),
                ("PropertyName", text(prop)),
                ("NewValue", v),
            ],
        )
    };
    assert_eq!(sp("Size", num(11)).unwrap().value, IReturnValue::None);
    let (_, merged, list) = fake.journal.lock().unwrap().modified[0].clone();
    assert_eq!(list, Some(vec!["Size".to_string()]));
    assert_eq!(u32_of(&merged, "Size"), Some(11));
    assert_eq!(status(sp("Size", text("eleven"))), CimStatus::TypeMismatch);
    assert_eq!(
        status(sp("Flag", boolean(false))),
        CimStatus::InvalidParameter
    );
    assert_eq!(status(sp("Nope", num(1))), CimStatus::NoSuchProperty);
    // NULL clears a writable property.
    sp("Label", ParamData::Null).unwrap();
    let (_, merged, _) = fake.journal.lock().unwrap().modified[1].clone();
    assert!(merged.get("Label").is_none());
}
