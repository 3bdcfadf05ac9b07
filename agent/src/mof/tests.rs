//! Compiler tests: language features and error reporting on small sources,
//! and the project schema in `schema/` compiled and checked.

use std::path::PathBuf;

use super::{compile_dir, compile_str, Repository};
use crate::cim::types::name_eq;
use crate::cim::{CimType, Class, Scalar, Value};

const QUALS: &str = r#"
Qualifier Abstract : boolean = false, Scope(class, association, indication), Flavor(Restricted);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride, ToSubclass);
Qualifier Description : string = null, Scope(any), Flavor(Translatable);
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier In : boolean = true, Scope(parameter), Flavor(DisableOverride, ToSubclass);
Qualifier Out : boolean = false, Scope(parameter), Flavor(DisableOverride, ToSubclass);
Qualifier Override : string = null, Scope(property, reference, method), Flavor(Restricted);
Qualifier ValueMap : string[], Scope(property, method, parameter);
Qualifier MaxLen : uint32 = null, Scope(property, method, parameter);
"#;

fn compile(src: &str) -> Result<Repository, super::MofError> {
    compile_str(&format!("{QUALS}{src}"), "test.mof", "root/test")
}

fn err(src: &str) -> String {
    compile(src).expect_err("must fail").to_string()
}

#[test]
fn classes_inheritance_and_defaults() {
    let r = compile(
        r#"
        // comment
        [Abstract, Description("base " "class")]
        CLASS Base {
            [Key, Description("k")] string Id;
            uint8 Small = 0x10;
            sint32 Neg = -5;
            real64 R = 1.5e3;
            boolean B = TRUE;
            string S = "a\tb\x41" "c";
            char16 C = 'x';
            datetime D = "20240101000000.000000+000";
            uint16 Arr[] = {1, 2, null};
            string Fixed[4];
            [ValueMap("1")] uint32 Doit([IN, Description("p")] string P, [IN(false), OUT] Base REF R, [OUT] string A[]);
        };
        class Derived : Base {
            [Override("S"), MaxLen(8)] string S = "x";
            uint64 More;
            [Override("Doit")] uint32 Doit([IN] string P, [OUT] Base REF R, [OUT] string A[]);
            uint32 Other();
        };
        [Association] class Assoc { [Key] Base REF A; [Key] Derived REF B; };
        "#,
    )
    .unwrap();
    let ns = "root/test";
    let base = r.class(ns, "base").unwrap();
    assert!(base.has_flag("Abstract"));
    assert_eq!(
        base.qualifier("Description").unwrap().value,
        Some(Value::string("base class"))
    );
    let v = |c: &Class, p: &str| c.property(p).unwrap().value.clone();
    assert_eq!(v(base, "Small"), Some(Value::from(16u8)));
    assert_eq!(v(base, "Neg"), Some(Value::from(-5i32)));
    assert_eq!(v(base, "R"), Some(Value::from(1500.0f64)));
    assert_eq!(v(base, "B"), Some(Value::from(true)));
    assert_eq!(v(base, "S"), Some(Value::string("a\tbAc")));
    assert_eq!(v(base, "C"), Some(Value::from('x')));
    assert_eq!(
        v(base, "Arr"),
        Some(Value::Array(
            CimType::Uint16,
            vec![Some(Scalar::Uint16(1)), Some(Scalar::Uint16(2)), None]
        ))
    );
    assert_eq!(base.property("Fixed").unwrap().array_size, Some(4));
    let m = base.method("Doit").unwrap();
    assert_eq!(m.parameters.len(), 3);
    assert_eq!(m.parameters[1].cimtype, CimType::Reference);
    assert_eq!(m.parameters[1].reference_class.as_deref(), Some("Base"));
    assert!(m.parameters[1].has_flag("Out") && !m.parameters[1].has_flag("In"));
    assert!(m.parameters[2].is_array);
    assert_eq!(
        m.qualifier("ValueMap").unwrap().value,
        Some(Value::string_array(["1"]))
    );

    let d = r.class(ns, "Derived").unwrap();
    assert_eq!(d.superclass.as_deref(), Some("Base"));
    // Restricted Abstract is not inherited; ToSubclass Description is.
    assert!(!d.has_flag("Abstract"));
    assert!(d.qualifier("Description").unwrap().propagated);
    let id = d.property("Id").unwrap();
    assert!(id.propagated && id.has_flag("Key"));
    assert_eq!(id.class_origin.as_deref(), Some("Base"));
    let s = d.property("S").unwrap();
    assert!(!s.propagated);
    assert_eq!(s.class_origin.as_deref(), Some("Derived"));
    assert_eq!(s.value, Some(Value::string("x")));
    assert!(s.qualifier("Override").is_some());
    let names: Vec<&str> = d.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[0], "Id");
    assert_eq!(names.last(), Some(&"More"));
    assert!(!d.method("Doit").unwrap().propagated);
    assert!(d.method("Other").is_some());

    assert!(r.is_subclass(ns, "Derived", "base"));
    assert!(!r.is_subclass(ns, "Base", "Derived"));
    assert_eq!(r.subclasses_of(ns, "Base", false), vec!["Derived"]);
    assert_eq!(r.superclasses(ns, "Derived"), vec!["Base"]);
    let roots: Vec<&str> = r
        .enumerate_classes(ns, None, false)
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(roots, vec!["Base", "Assoc"]);
    assert_eq!(r.enumerate_classes(ns, None, true).unwrap().len(), 3);
    assert!(r.enumerate_classes(ns, Some("Nope"), true).is_err());

    let local = r.get_class(ns, "Derived", true, true, true, None).unwrap();
    assert!(local.properties.iter().all(|p| !p.propagated));
    assert_eq!(local.properties.len(), 2);
    let bare = r
        .get_class(
            ns,
            "Derived",
            false,
            false,
            false,
            Some(&["id".to_string()]),
        )
        .unwrap();
    assert_eq!(bare.properties.len(), 1);
    assert!(bare.qualifiers.is_empty() && bare.properties[0].qualifiers.is_empty());
    assert!(bare.properties[0].class_origin.is_none());
    assert!(bare.methods[0].parameters[0].qualifiers.is_empty());
    assert!(r
        .get_class("root/none", "Base", false, true, true, None)
        .is_err());
    assert!(r.get_class(ns, "None", false, true, true, None).is_err());
}

#[test]
fn class_order_is_free_and_instances_compile() {
    let r = compile(
        r#"
        class B : A { string Extra; };
        class A { [Key] string Name; uint32 N = 7; };
        [Association] class L { [Key] A REF X; [Key] A REF Y; };
        instance of A as $a { Name = "one"; };
        instance of B as $b { Name = "two"; Extra = "e"; N = 3; };
        instance of L { X = $a; Y = $b; };
        "#,
    )
    .unwrap();
    let insts = r.instances("root/test");
    assert_eq!(insts.len(), 3);
    assert_eq!(insts[0].get("N"), Some(&Value::from(7u32)));
    assert_eq!(insts[1].get("N"), Some(&Value::from(3u32)));
    let y = insts[2].get("Y").unwrap().as_reference().unwrap();
    assert_eq!(y.classname, "B");
    assert_eq!(y.key("name").unwrap().as_str(), Some("two"));
}

#[test]
fn errors_have_positions_and_messages() {
    // QUALS occupies the first lines; errors are reported in test.mof.
    let line = QUALS.lines().count() + 1;
    let e = err("class A : Missing { };");
    assert!(e.contains("unknown superclass Missing"), "{e}");
    assert!(e.starts_with(&format!("test.mof:{line}:1:")), "{e}");
    assert!(err("class A { }; class a { };").contains("duplicate class a"));
    assert!(err("[Bogus] class A { };").contains("undeclared qualifier Bogus"));
    assert!(err("class A { uint8 X = 256; };").contains("out of range for uint8"));
    assert!(err("class A { uint8 X = \"s\"; };").contains("type mismatch"));
    assert!(err("class A { string X[] = \"s\"; };").contains("type mismatch"));
    assert!(err("class A { boolean X = 1; };").contains("type mismatch"));
    assert!(err("class A { string X };").contains("expected ';'"));
    assert!(err("class A { foo X; };").contains("unknown data type foo"));
    assert!(err("class A { string X; string x; };").contains("duplicate property"));
    assert!(err("class A { string X; }; class B : A { string X; };").contains("without Override"));
    assert!(err("[Key] class A { };").contains("not allowed on a class"));
    assert!(err(
        "class A { [Key] string X; }; class B : A { [Key(false), Override(\"X\")] string X; };"
    )
    .contains("DisableOverride"));
    assert!(err("class A { B REF r; };").contains("only allowed in an association"));
    assert!(err("[Association] class A { [Key] Nope REF r; };").contains("unknown class Nope"));
    assert!(err("class A { datetime D = \"2024\"; };").contains("datetime"));
    assert!(err("class A { string S = \"unterminated; };").contains("unterminated string"));
    assert!(err("Qualifier Q : boolean;").contains("has no Scope"));
    assert!(err("Qualifier Key : uint8, Scope(property);").contains("redeclared differently"));
    assert!(err("instance of Nope { };").contains("unknown class"));
}

#[test]
fn includes_resolve_relative_to_the_including_file() {
    let dir = std::env::temp_dir().join(format!("mof-inc-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.join("top.mof"),
        "#pragma include(\"sub/quals.mof\")\n#pragma include (\"sub/classes.mof\")\n",
    )
    .unwrap();
    std::fs::write(sub.join("quals.mof"), QUALS).unwrap();
    std::fs::write(
        sub.join("classes.mof"),
        "#pragma namespace(\"root/other\")\nQualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);\nclass X { [Key] string K; };",
    )
    .unwrap();
    let r = compile_dir(&dir, "root/test").unwrap();
    assert!(r.class("root/other", "X").is_some());
    assert!(r.qualifier_decl("root/test", "ValueMap").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- the project schema -----------------------------------------------------

const NS: &str = "root/dsimage";

fn schema() -> Repository {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema");
    compile_dir(&dir, NS).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn schema_compiles_with_expected_hierarchy() {
    let r = schema();
    for (class, ancestor) in [
        ("DS_IISet", "CIM_LogicalElement"),
        ("DS_IIGroup", "CIM_Collection"),
        ("DS_IIOverflowVolume", "CIM_ManagedElement"),
        ("DS_StorageVolume", "CIM_StorageExtent"),
        ("DS_IIService", "CIM_Service"),
        ("CIM_ObjectManager", "CIM_Service"),
        ("CIM_ListenerDestinationCIMXML", "CIM_ListenerDestination"),
        ("CIM_InstCreation", "CIM_Indication"),
        ("DS_IISetStateChange", "CIM_InstModification"),
        ("DS_IIAlert", "CIM_AlertIndication"),
    ] {
        assert!(r.is_subclass(NS, class, ancestor), "{class} < {ancestor}");
    }
    for assoc in [
        "DS_IIGroupSet",
        "DS_IISetOverflow",
        "DS_IISetVolume",
        "CIM_ElementConformsToProfile",
        "CIM_IndicationSubscription",
        "CIM_MemberOfCollection",
    ] {
        let c = r.class(NS, assoc).unwrap();
        assert!(c.has_flag("Association"), "{assoc}");
        assert!(
            c.properties
                .iter()
                .filter(|p| p.cimtype == CimType::Reference)
                .count()
                >= 2
        );
    }
    assert!(r
        .class(NS, "CIM_InstCreation")
        .unwrap()
        .has_flag("Indication"));
    let keys = |c: &str| -> Vec<String> {
        r.class(NS, c)
            .unwrap()
            .key_properties()
            .map(|p| p.name.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    // Sorted; declaration order follows inheritance (overrides stay in place).
    assert_eq!(keys("DS_IISet"), ["Name"]);
    assert_eq!(keys("DS_IIGroup"), ["Name"]);
    assert_eq!(keys("CIM_RegisteredProfile"), ["InstanceID"]);
    assert_eq!(
        keys("DS_StorageVolume"),
        [
            "CreationClassName",
            "DeviceID",
            "SystemCreationClassName",
            "SystemName"
        ]
    );
    assert_eq!(
        keys("DS_IIService"),
        [
            "CreationClassName",
            "Name",
            "SystemCreationClassName",
            "SystemName"
        ]
    );
    let set = r.class(NS, "DS_IISet").unwrap();
    assert_eq!(
        set.property("Name").unwrap().class_origin.as_deref(),
        Some("DS_IISet")
    );
    assert_eq!(
        set.property("Caption").unwrap().class_origin.as_deref(),
        Some("CIM_ManagedElement")
    );
    assert_eq!(
        set.property("LastModified").unwrap().cimtype,
        CimType::DateTime
    );
}

#[test]
fn schema_methods_and_parameters() {
    let r = schema();
    let set = r.class(NS, "DS_IISet").unwrap();
    for m in [
        "Copy",
        "Update",
        "Abort",
        "Suspend",
        "Resume",
        "Wait",
        "SetCopyParameters",
        "ClearCopyParameters",
        "Export",
        "Join",
        "Reset",
        "AttachOverflow",
        "DetachOverflow",
        "Disable",
        "GetStatus",
    ] {
        let m = set.method(m).unwrap_or_else(|| panic!("DS_IISet.{m}"));
        assert_eq!(m.return_type, CimType::Uint32);
        assert!(m.qualifier("Description").is_some());
    }
    let copy = set.method("Copy").unwrap();
    let dir = copy.parameter("Direction").unwrap();
    assert_eq!(dir.cimtype, CimType::Uint16);
    assert!(dir.has_flag("In"));
    let status = set
        .method("GetStatus")
        .unwrap()
        .parameter("Status")
        .unwrap();
    assert!(status.has_flag("Out") && !status.has_flag("In"));

    let svc = r.class(NS, "DS_IIService").unwrap();
    for m in [
        "CreateIISet",
        "DeleteIISet",
        "GetAllIISets",
        "CreateIIGroup",
        "DeleteIIGroup",
        "Import",
        "GetAllAvailableVolumes",
        "CreateOverflowVolume",
        "DeleteOverflowVolume",
        "SetPollingInterval",
    ] {
        assert!(svc.method(m).is_some(), "DS_IIService.{m}");
    }
    let create = svc.method("CreateIISet").unwrap();
    let out = create.parameter("Set").unwrap();
    assert_eq!(out.cimtype, CimType::Reference);
    assert_eq!(out.reference_class.as_deref(), Some("DS_IISet"));
    assert!(out.has_flag("Out") && !out.has_flag("In"));
    let sets = svc
        .method("GetAllIISets")
        .unwrap()
        .parameter("Sets")
        .unwrap();
    assert!(sets.is_array && sets.cimtype == CimType::Reference);
    let vols = svc
        .method("GetAllAvailableVolumes")
        .unwrap()
        .parameter("Volumes")
        .unwrap();
    assert!(vols.is_array && vols.cimtype == CimType::String);
    // Inherited from CIM_Service.
    let start = svc.method("StartService").unwrap();
    assert!(start.propagated);
    assert_eq!(start.class_origin.as_deref(), Some("CIM_Service"));
}

fn strings(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(_, items)) => items
            .iter()
            .map(|i| match i {
                Some(Scalar::String(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn schema_valuemaps_match_values_everywhere() {
    let r = schema();
    let mut checked = 0;
    for c in r.enumerate_classes(NS, None, true).unwrap() {
        let mut sites: Vec<(String, &[crate::cim::Qualifier])> = Vec::new();
        for p in &c.properties {
            sites.push((format!("{}.{}", c.name, p.name), &p.qualifiers));
        }
        for m in &c.methods {
            sites.push((format!("{}.{}()", c.name, m.name), &m.qualifiers));
            for p in &m.parameters {
                sites.push((format!("{}.{}({})", c.name, m.name, p.name), &p.qualifiers));
            }
        }
        for (site, quals) in sites {
            let find = |n: &str| quals.iter().find(|q| name_eq(&q.name, n));
            match (find("ValueMap"), find("Values")) {
                (Some(vm), Some(vs)) => {
                    let (vm, vs) = (strings(&vm.value), strings(&vs.value));
                    assert_eq!(vm.len(), vs.len(), "{site}");
                    let mut uniq = vm.clone();
                    uniq.sort();
                    uniq.dedup();
                    assert_eq!(uniq.len(), vm.len(), "{site}: duplicate ValueMap entry");
                    checked += 1;
                }
                (None, None) => {}
                _ => panic!("{site}: ValueMap without Values or vice versa"),
            }
        }
    }
    assert!(checked > 40, "{checked}");
    let org = r
        .class(NS, "CIM_RegisteredProfile")
        .unwrap()
        .property("RegisteredOrganization")
        .unwrap();
    let vm = strings(&org.qualifier("ValueMap").unwrap().value);
    let vs = strings(&org.qualifier("Values").unwrap().value);
    let at = |k: &str| vs[vm.iter().position(|v| v == k).unwrap()].clone();
    assert_eq!(at("1"), "Other");
    assert_eq!(at("2"), "DMTF");
    let state = r.class(NS, "DS_IISet").unwrap().property("State").unwrap();
    assert!(strings(&state.qualifier("Values").unwrap().value)
        .contains(&"Copy In Progress".to_string()));
}

#[test]
fn schema_descriptions_everywhere_and_xml_export() {
    let r = schema();
    for c in r.enumerate_classes(NS, None, true).unwrap() {
        assert!(c.qualifier("Description").is_some(), "{}", c.name);
        if c.name.starts_with("DS_") {
            for p in c.properties.iter().filter(|p| !p.propagated) {
                assert!(
                    p.qualifier("Description").is_some(),
                    "{}.{}",
                    c.name,
                    p.name
                );
            }
            for m in c.methods.iter().filter(|m| !m.propagated) {
                for p in &m.parameters {
                    assert!(
                        p.qualifier("Description").is_some(),
                        "{}.{}({})",
                        c.name,
                        m.name,
                        p.name
                    );
                }
            }
        }
    }
    let xml = r.to_cim_xml_classes(NS);
    assert!(xml.contains(r#"<CLASS NAME="DS_IISet" SUPERCLASS="CIM_LogicalElement">"#));
    // Every class written can be read back identically.
    let root = crate::cim::xml_tree::parse(xml.as_bytes(), &Default::default()).unwrap();
    let group = &root.children[0].children[0];
    let classes = r.enumerate_classes(NS, None, true).unwrap();
    assert_eq!(group.children.len(), classes.len());
    for c in classes {
        let text = crate::cim::xml_write::class_xml(c);
        assert_eq!(&crate::cim::xml_read::parse_class(&text).unwrap(), c);
    }
}
