//! The built-in schema with the interop provider: what pywbem's
//! `WBEMServer` does to discover the agent, step by step.

use crate::cimom::schema::{self, DSIMAGE_NAMESPACE, INTEROP_NAMESPACE};
use crate::providers::interop::{profile_path, service_path, InteropProvider};

use super::*;

const HOST: &str = "testhost";

/// Stands in for the engine-backed DS_IIService provider.
#[derive(Debug)]
struct Service;

impl Provider for Service {
    fn classes(&self) -> Vec<(&'static str, &'static str)> {
        vec![(DSIMAGE_NAMESPACE, "DS_IIService")]
    }

    fn enumerate_instances(&self, _ctx: &Ctx, _class: &str) -> Result<Vec<Instance>, CimError> {
        let p = service_path(HOST);
        let mut i = Instance::new("DS_IIService").with("ElementName", "dsimage service");
        for k in &p.keybindings {
            i.set(&k.name, Value::string(k.value.as_str().unwrap()));
        }
        Ok(vec![i])
    }
}

fn server() -> Cimom {
    Cimom::new(
        schema::builtin().unwrap(),
        vec![
            Arc::new(InteropProvider::new(HOST, "0.1.0")),
            Arc::new(Service),
        ],
    )
    .unwrap()
}

fn interop(c: &Cimom, op: &str, params: Vec<(&str, ParamData)>) -> Result<IMethodResult, CimError> {
    call_ns(c, INTEROP_NAMESPACE, op, params)
}

fn instances(c: &Cimom, class: &str) -> Vec<(ObjectPath, Instance)> {
    named_instances(interop(c, "EnumerateInstances", vec![("ClassName", cn(class))]).unwrap())
}

#[test]
fn interop_namespace_is_found_where_pywbem_looks_first() {
    let c = server();
    let v = instance_names(
        interop(
            &c,
            "EnumerateInstanceNames",
            vec![("ClassName", cn("CIM_Namespace"))],
        )
        .unwrap(),
    );
    let names: Vec<&str> = v.iter().map(|p| key_str(p, "Name")).collect();
    assert_eq!(names, [DSIMAGE_NAMESPACE, INTEROP_NAMESPACE]);
    assert_eq!(v[0].keybindings.len(), 6);
    for other in ["root/interop", "root/PG_Interop"] {
        assert_eq!(
            status(call_ns(
                &c,
                other,
                "EnumerateInstanceNames",
                vec![("ClassName", cn("CIM_Namespace"))]
            )),
            CimStatus::InvalidNamespace
        );
    }
}

#[test]
fn exactly_one_object_manager_with_brand_and_version() {
    let c = server();
    let v = instances(&c, "CIM_ObjectManager");
    assert_eq!(v.len(), 1);
    let (p, om) = &v[0];
    assert_eq!(om.get("ElementName"), Some(&Value::string("dsimage")));
    assert_eq!(
        om.get("Description"),
        Some(&Value::string("dsimage version 0.1.0"))
    );
    assert_eq!(key_str(p, "SystemName"), HOST);
    assert_eq!(key_str(p, "CreationClassName"), "CIM_ObjectManager");
    // GetInstance of it works without a provider GetInstance.
    let r = interop(&c, "GetInstance", vec![("InstanceName", iname(p.clone()))]).unwrap();
    assert!(matches!(r.value, IReturnValue::Instances(ref v) if v.len() == 1));
}

#[test]
fn registered_profile_and_its_value_map() {
    let c = server();
    let v = instances(&c, "CIM_RegisteredProfile");
    assert_eq!(v.len(), 1);
    let (p, prof) = &v[0];
    assert!(p.same_instance(&profile_path()));
    assert_eq!(prof.get("RegisteredOrganization"), Some(&Value::from(1u16)));
    assert_eq!(
        prof.get("OtherRegisteredOrganization"),
        Some(&Value::string("dsimage"))
    );
    assert_eq!(
        prof.get("RegisteredName"),
        Some(&Value::string("Instant Image"))
    );
    assert_eq!(prof.get("RegisteredVersion"), Some(&Value::string("1.0.0")));
    // pywbem's ValueMapping.for_property: GetClass, LocalOnly false, with
    // qualifiers.
    let r = interop(
        &c,
        "GetClass",
        vec![
            ("ClassName", cn("CIM_RegisteredProfile")),
            ("LocalOnly", boolean(false)),
            ("IncludeQualifiers", boolean(true)),
        ],
    )
    .unwrap();
    let IReturnValue::Classes(k) = r.value else {
        panic!()
    };
    let org = k[0].property("RegisteredOrganization").unwrap();
    assert!(org.qualifier("ValueMap").is_some());
    assert!(org.qualifier("Values").is_some());
}

#[test]
fn central_instance_through_element_conforms_to_profile() {
    let c = server();
    // pywbem get_central_instances: AssociatorNames(profile,
    // AssocClass=CIM_ElementConformsToProfile, ResultRole=ManagedElement).
    let r = interop(
        &c,
        "AssociatorNames",
        vec![
            (
                "ObjectName",
                iname(profile_path().with_namespace(INTEROP_NAMESPACE)),
            ),
            ("AssocClass", cn("CIM_ElementConformsToProfile")),
            ("ResultRole", text("ManagedElement")),
        ],
    )
    .unwrap();
    let IReturnValue::ObjectPaths(v) = r.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert!(v[0].same_instance(&service_path(HOST)));
    assert_eq!(v[0].namespace.as_deref(), Some(DSIMAGE_NAMESPACE));
    // The instance itself is fetched from root/dsimage.
    let r = interop(
        &c,
        "Associators",
        vec![
            (
                "ObjectName",
                iname(ObjectPath {
                    namespace: None,
                    ..profile_path()
                }),
            ),
            ("ResultClass", cn("CIM_ManagedElement")),
        ],
    )
    .unwrap();
    let IReturnValue::ObjectsWithPath(v) = r.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].1.classname, "DS_IIService");
    assert_eq!(
        v[0].1.get("ElementName"),
        Some(&Value::string("dsimage service"))
    );
}

#[test]
fn subscriptions_are_empty_and_cannot_be_created() {
    let c = server();
    for class in [
        "CIM_IndicationFilter",
        "CIM_ListenerDestinationCIMXML",
        "CIM_ListenerDestination",
        "CIM_IndicationSubscription",
    ] {
        assert!(instances(&c, class).is_empty(), "{class}");
    }
    let filter = Instance::new("CIM_IndicationFilter")
        .with("Name", "f")
        .with("Query", "SELECT * FROM CIM_InstModification")
        .with("QueryLanguage", "WQL");
    let e = interop(
        &c,
        "CreateInstance",
        vec![("NewInstance", ParamData::Instance(filter))],
    )
    .unwrap_err();
    assert_eq!(e.status, CimStatus::NotSupported);
    assert_eq!(e.description, "indications are not implemented yet");
}

#[test]
fn providers_must_serve_existing_concrete_classes_once() {
    #[derive(Debug)]
    struct Serves(&'static str, &'static str);
    impl Provider for Serves {
        fn classes(&self) -> Vec<(&'static str, &'static str)> {
            vec![(self.0, self.1)]
        }
        fn enumerate_instances(&self, _: &Ctx, _: &str) -> Result<Vec<Instance>, CimError> {
            Ok(vec![])
        }
    }
    let with = |p: Vec<Arc<dyn Provider>>| Cimom::new(schema::builtin().unwrap(), p);
    assert!(with(vec![Arc::new(Serves("root/dsimage", "DS_Nope"))]).is_err());
    assert!(with(vec![Arc::new(Serves("interop", "DS_IISet"))]).is_err());
    assert!(with(vec![Arc::new(Serves("root/dsimage", "CIM_Service"))]).is_err());
    assert!(with(vec![
        Arc::new(Serves("root/dsimage", "DS_IISet")),
        Arc::new(Serves("ROOT/DSIMAGE", "ds_iiset"))
    ])
    .is_err());
    assert!(with(vec![Arc::new(Serves("root/dsimage", "DS_IISet"))]).is_ok());
}

#[test]
fn the_agents_providers_wire_up_and_serve_the_central_instance() {
    use crate::providers::{self, interop::system_hostname, EngineHost};
    let host = Arc::new(EngineHost::unavailable("no engine in unit tests"));
    let mut all = providers::all(host);
    all.push(Arc::new(InteropProvider::new(system_hostname(), "0.1.0")));
    let c = Cimom::new(schema::builtin().unwrap(), all).unwrap();
    let r = interop(
        &c,
        "AssociatorNames",
        vec![
            ("ObjectName", iname(profile_path())),
            ("AssocClass", cn("CIM_ElementConformsToProfile")),
            ("ResultRole", text("ManagedElement")),
        ],
    )
    .unwrap();
    let IReturnValue::ObjectPaths(v) = r.value else {
        panic!()
    };
    let central = ObjectPath {
        namespace: None,
        ..v[0].clone()
    };
    let r = call_ns(
        &c,
        DSIMAGE_NAMESPACE,
        "GetInstance",
        vec![("InstanceName", iname(central))],
    )
    .unwrap();
    let IReturnValue::Instances(v) = r.value else {
        panic!()
    };
    assert_eq!(v[0].classname, "DS_IIService");
}
