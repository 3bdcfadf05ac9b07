//! Codec tests: every element written then read back equal, realistic
//! requests as pywbem and sblim wbemcli send them, and the hardening rules.

use super::message::*;
use super::types::*;
use super::value::*;
use super::xml_read::{parse_instance, parse_request, parse_response, XmlError, XmlErrorClass};
use super::xml_tree::Limits;
use super::xml_write;
use super::{CimDateTime, CimError, CimStatus};

fn req(xml: &str) -> Result<Request, XmlError> {
    parse_request(xml.as_bytes(), &Limits::default())
}

fn set_path() -> ObjectPath {
    ObjectPath::new("DS_IISet")
        .with_key("Name", KeyValue::string("set<1>&\"'"))
        .with_key("Flag", KeyValue::Boolean(true))
        .with_key(
            "Index",
            KeyValue::Numeric {
                value: Numeric::Signed(-7),
                cimtype: Some(CimType::Sint32),
            },
        )
        .with_key(
            "Untyped",
            KeyValue::Numeric {
                value: Numeric::Unsigned(42),
                cimtype: None,
            },
        )
        .with_key(
            "When",
            KeyValue::String {
                value: "20240101000000.000000+000".into(),
                cimtype: Some(CimType::DateTime),
            },
        )
        .with_key(
            "Svc",
            KeyValue::Reference(Box::new(
                ObjectPath::new("DS_IIService")
                    .with_namespace("root/dsimage")
                    .with_key("Name", KeyValue::string("ii")),
            )),
        )
}

fn rich_class() -> Class {
    let mut valuemap = Qualifier::new("ValueMap", Value::string_array(["0", "1", ".."]));
    valuemap.flavors.translatable = false;
    let mut desc = Qualifier::new("Description", Value::string("multi\nline \u{1} <desc>"));
    desc.flavors = Flavors {
        overridable: false,
        tosubclass: false,
        translatable: true,
    };
    let mut key = Property::new("Name", CimType::String, false);
    key.qualifiers
        .push(Qualifier::new("Key", Value::from(true)));
    key.class_origin = Some("DS_IISet".into());
    let mut state = Property::with_value("State", Value::from(2u16));
    state.qualifiers.push(valuemap.clone());
    state.propagated = true;
    state.class_origin = Some("CIM_Foo".into());
    let mut arr = Property::new("Members", CimType::String, true);
    arr.array_size = Some(4);
    arr.value = Some(Value::Array(
        CimType::String,
        vec![Some(Scalar::String("a".into())), None],
    ));
    let mut rf = Property::new("Group", CimType::Reference, false);
    rf.reference_class = Some("DS_IIGroup".into());
    rf.qualifiers.push(Qualifier::new("Key", Value::from(true)));
    let params = vec![
        Parameter {
            name: "Direction".into(),
            cimtype: CimType::Uint16,
            is_array: false,
            array_size: None,
            reference_class: None,
            qualifiers: vec![Qualifier::new("In", Value::from(true))],
        },
        Parameter {
            name: "Names".into(),
            cimtype: CimType::String,
            is_array: true,
            array_size: Some(3),
            reference_class: None,
            qualifiers: vec![],
        },
        Parameter {
            name: "Set".into(),
            cimtype: CimType::Reference,
            is_array: false,
            array_size: None,
            reference_class: Some("DS_IISet".into()),
            qualifiers: vec![Qualifier::new("Out", Value::from(true))],
        },
        Parameter {
            name: "Sets".into(),
            cimtype: CimType::Reference,
            is_array: true,
            array_size: None,
            reference_class: Some("DS_IISet".into()),
            qualifiers: vec![],
        },
    ];
    Class {
        name: "DS_IISet".into(),
        superclass: Some("CIM_Collection".into()),
        qualifiers: vec![desc, Qualifier::new("Version", Value::string("1.0.0"))],
        properties: vec![key, state, arr, rf],
        methods: vec![
            Method {
                name: "Copy".into(),
                return_type: CimType::Uint32,
                parameters: params,
                qualifiers: vec![valuemap],
                class_origin: Some("DS_IISet".into()),
                propagated: false,
            },
            Method {
                name: "Abort".into(),
                return_type: CimType::Uint32,
                parameters: vec![],
                qualifiers: vec![],
                class_origin: None,
                propagated: true,
            },
        ],
    }
}

fn rich_instance() -> Instance {
    let mut i = Instance::new("DS_IISet")
        .with("B", true)
        .with("S", "text with <markup> & \"quotes\" and \r\n\t ctrl\u{7}")
        .with("C", 'λ')
        .with("U8", 255u8)
        .with("U16", 65535u16)
        .with("U32", 4_000_000_000u32)
        .with("U64", u64::MAX)
        .with("S8", -128i8)
        .with("S16", -32768i16)
        .with("S32", i32::MIN)
        .with("S64", i64::MIN)
        .with("R32", 1.5f32)
        .with("R64", -2.5e-300f64)
        .with(
            "T",
            "20240229235959.123456-300".parse::<CimDateTime>().unwrap(),
        )
        .with(
            "I",
            "00000001020304.000005:000".parse::<CimDateTime>().unwrap(),
        );
    i.set("Ref", Value::reference(set_path()));
    i.set(
        "RefFull",
        Value::reference(
            ObjectPath::new("DS_IIGroup")
                .with_host("h.example")
                .with_namespace("root/dsimage")
                .with_key("Name", KeyValue::string("g")),
        ),
    );
    i.set(
        "Ints",
        Value::Array(
            CimType::Uint32,
            vec![Some(Scalar::Uint32(1)), None, Some(Scalar::Uint32(3))],
        ),
    );
    i.set("Empty", Value::Array(CimType::Sint64, vec![]));
    i.properties
        .push(Property::new("Null", CimType::String, false));
    i.properties.push(xml_write::embedded_instance_property(
        "Emb",
        &Instance::new("X").with("A", 1u8),
    ));
    i.properties[0].class_origin = Some("DS_IISet".into());
    i
}

fn round_trip_response(r: Response) {
    let xml = xml_write::response(&r);
    let back =
        parse_response(xml.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(back, r, "{xml}");
}

fn round_trip_request(r: Request) {
    let xml = xml_write::request(&r);
    let back = req(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(back, r, "{xml}");
}

fn iresp(method: &str, value: IReturnValue) -> Response {
    Response::IMethod {
        id: "7".into(),
        method: method.into(),
        result: Ok(IMethodResult {
            value,
            out_params: vec![],
        }),
    }
}

#[test]
fn class_and_instance_round_trip() {
    round_trip_response(iresp("GetClass", IReturnValue::Classes(vec![rich_class()])));
    round_trip_response(iresp(
        "GetInstance",
        IReturnValue::Instances(vec![rich_instance()]),
    ));
    let emb = rich_instance();
    let text = emb.get("Emb").unwrap().as_str().unwrap();
    assert_eq!(
        parse_instance(text).unwrap(),
        Instance::new("X").with("A", 1u8)
    );
}

#[test]
fn ireturnvalue_variants_round_trip() {
    let full = set_path().with_host("host").with_namespace("root/dsimage");
    let qd = QualifierDecl {
        name: "ValueMap".into(),
        cimtype: CimType::String,
        is_array: true,
        array_size: None,
        value: None,
        scope: Scope {
            property: true,
            method: true,
            parameter: true,
            ..Scope::default()
        },
        flavors: Flavors::default(),
    };
    let key = QualifierDecl {
        name: "Key".into(),
        cimtype: CimType::Boolean,
        is_array: false,
        array_size: None,
        value: Some(Value::from(false)),
        scope: Scope {
            property: true,
            reference: true,
            ..Scope::default()
        },
        flavors: Flavors {
            overridable: false,
            ..Flavors::default()
        },
    };
    for v in [
        IReturnValue::None,
        IReturnValue::Empty,
        IReturnValue::ClassNames(vec!["A".into(), "B".into()]),
        IReturnValue::InstanceNames(vec![set_path()]),
        IReturnValue::NamedInstances(vec![(set_path(), rich_instance())]),
        IReturnValue::InstancesWithPath(vec![(full.clone(), rich_instance())]),
        IReturnValue::ObjectsWithPath(vec![(full.clone(), rich_instance())]),
        IReturnValue::ObjectPaths(vec![full.clone()]),
        IReturnValue::InstancePaths(vec![full.clone(), full.clone()]),
        IReturnValue::QualifierDecls(vec![qd, key]),
        IReturnValue::Value(RawValue::Text("x".into())),
        IReturnValue::Value(RawValue::Array(vec![Some("1".into()), None])),
        IReturnValue::Value(RawValue::Reference(set_path())),
    ] {
        round_trip_response(iresp("Op", v));
    }
}

#[test]
fn pull_response_and_errors_round_trip() {
    round_trip_response(Response::IMethod {
        id: "9".into(),
        method: "OpenEnumerateInstances".into(),
        result: Ok(IMethodResult {
            value: IReturnValue::InstancesWithPath(vec![(
                set_path().with_host("h").with_namespace("root/dsimage"),
                rich_instance(),
            )]),
            out_params: vec![
                ParamValue::new("EndOfSequence", CimType::Boolean, Some(&Value::from(false))),
                ParamValue::new(
                    "EnumerationContext",
                    CimType::String,
                    Some(&Value::from("ctx-1")),
                ),
            ],
        }),
    });
    round_trip_response(Response::IMethod {
        id: "9".into(),
        method: "GetInstance".into(),
        result: Err(CimError::new(CimStatus::NotFound, "no set \"x\" <here>")),
    });
    round_trip_response(Response::Method {
        id: "10".into(),
        method: "Copy".into(),
        result: Err(CimError::new(CimStatus::MethodNotAvailable, "")),
    });
    round_trip_response(Response::Export {
        id: "11".into(),
        method: "ExportIndication".into(),
        result: Ok(()),
    });
    round_trip_response(Response::Export {
        id: "11".into(),
        method: "ExportIndication".into(),
        result: Err(CimError::new(CimStatus::Failed, "nope")),
    });
}

#[test]
fn method_response_round_trip() {
    let xml = xml_write::method_response(
        "12",
        "CreateIISet",
        &Value::from(0u32),
        vec![
            ParamValue::new(
                "Set",
                CimType::Reference,
                Some(&Value::reference(set_path())),
            ),
            ParamValue::new(
                "Sets",
                CimType::Reference,
                Some(&Value::Array(
                    CimType::Reference,
                    vec![Some(Scalar::Reference(Box::new(set_path()))), None],
                )),
            ),
            ParamValue::new(
                "Volumes",
                CimType::String,
                Some(&Value::string_array(["/dev/a"])),
            ),
            ParamValue::new("Nothing", CimType::String, None),
        ],
    );
    let r = parse_response(xml.as_bytes(), &Limits::default()).unwrap();
    let Response::Method { result: Ok(m), .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(m.return_type, Some(CimType::Uint32));
    assert_eq!(
        m.return_value
            .unwrap()
            .typed(CimType::Uint32, false)
            .unwrap(),
        Value::from(0u32)
    );
    assert_eq!(m.out_params.len(), 4);
    assert_eq!(
        m.out_params[0]
            .data
            .typed("Set", CimType::Reference, false)
            .unwrap(),
        Some(Value::reference(set_path()))
    );
    assert_eq!(m.out_params[3].data, ParamData::Null);
}

#[test]
fn requests_round_trip() {
    let class = rich_class();
    round_trip_request(Request::IMethodCall {
        id: "1".into(),
        namespace: "root/dsimage".into(),
        method: "Whatever".into(),
        params: vec![
            ("Null".into(), ParamData::Null),
            ("V".into(), ParamData::Value(RawValue::Text("TRUE".into()))),
            (
                "A".into(),
                ParamData::Value(RawValue::Array(vec![Some("a".into()), None])),
            ),
            (
                "R".into(),
                ParamData::Value(RawValue::Reference(set_path())),
            ),
            ("CN".into(), ParamData::ClassName("DS_IISet".into())),
            ("IN".into(), ParamData::InstanceName(set_path())),
            ("C".into(), ParamData::Class(class)),
            ("I".into(), ParamData::Instance(rich_instance())),
            (
                "NI".into(),
                ParamData::NamedInstance(set_path(), rich_instance()),
            ),
        ],
    });
    round_trip_request(Request::MethodCall {
        id: "2".into(),
        target: MethodTarget::Instance(set_path().with_namespace("root/dsimage")),
        method: "Copy".into(),
        params: vec![
            ParamValue::new("Direction", CimType::Uint16, Some(&Value::from(1u16))),
            ParamValue {
                name: "Untyped".into(),
                paramtype: None,
                embedded_object: None,
                data: ParamData::Value(RawValue::Text("5".into())),
            },
            ParamValue {
                name: "Emb".into(),
                paramtype: Some(CimType::String),
                embedded_object: Some(EmbeddedObject::Instance),
                data: ParamData::Value(RawValue::Text(xml_write::instance_xml(&rich_instance()))),
            },
            ParamValue::new(
                "Refs",
                CimType::Reference,
                Some(&Value::Array(
                    CimType::Reference,
                    vec![Some(Scalar::Reference(Box::new(set_path())))],
                )),
            ),
        ],
    });
    round_trip_request(Request::MethodCall {
        id: "3".into(),
        target: MethodTarget::Class {
            namespace: "root/dsimage".into(),
            classname: "DS_IIService".into(),
        },
        method: "GetAllIISets".into(),
        params: vec![],
    });
    let ind = Instance::new("CIM_InstCreation").with("IndicationIdentifier", "1");
    let xml = xml_write::export_indication("4", &ind);
    assert!(xml.contains(
        r#"<EXPPARAMVALUE NAME="NewIndication"><INSTANCE CLASSNAME="CIM_InstCreation">"#
    ));
    assert_eq!(
        req(&xml).unwrap(),
        Request::ExportMethodCall {
            id: "4".into(),
            method: "ExportIndication".into(),
            params: vec![("NewIndication".into(), ParamData::Instance(ind))],
        }
    );
}

// ---- what real clients send ---------------------------------------------

/// pywbem `conn.GetClass('DS_IISet', LocalOnly=False, IncludeQualifiers=True)`.
const PYWBEM_GETCLASS: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="dsimage"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="DS_IISet"/></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="IncludeQualifiers"><VALUE>TRUE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="PropertyList"><VALUE.ARRAY><VALUE>Name</VALUE><VALUE>State</VALUE></VALUE.ARRAY></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"#;

#[test]
fn pywbem_get_class() {
    let Request::IMethodCall {
        id,
        namespace,
        method,
        params,
    } = req(PYWBEM_GETCLASS).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (id.as_str(), namespace.as_str(), method.as_str()),
        ("1001", "root/dsimage", "GetClass")
    );
    let p = |n| find_param(&params, n).unwrap();
    assert_eq!(
        p("classname").as_class_name("ClassName").unwrap(),
        Some("DS_IISet")
    );
    assert_eq!(p("LocalOnly").as_bool("LocalOnly").unwrap(), Some(false));
    assert_eq!(p("IncludeQualifiers").as_bool("x").unwrap(), Some(true));
    assert_eq!(
        p("PropertyList").as_string_array("x").unwrap(),
        Some(vec!["Name".into(), "State".into()])
    );
    assert!(p("LocalOnly").as_u32("LocalOnly").is_err());
}

#[test]
fn pywbem_open_enumerate_instances() {
    let xml = r#"<?xml version="1.0" encoding="utf-8" ?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1002" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="OpenEnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="dsimage"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="DS_IISet"/></IPARAMVALUE><IPARAMVALUE NAME="DeepInheritance"><VALUE>TRUE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="IncludeClassOrigin"><VALUE>FALSE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="OperationTimeout"><VALUE>30</VALUE></IPARAMVALUE><IPARAMVALUE NAME="ContinueOnError"><VALUE>FALSE</VALUE></IPARAMVALUE><IPARAMVALUE NAME="MaxObjectCount"><VALUE>100</VALUE></IPARAMVALUE><IPARAMVALUE NAME="FilterQueryLanguage"/></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"#;
    let Request::IMethodCall { method, params, .. } = req(xml).unwrap() else {
        panic!()
    };
    assert_eq!(method, "OpenEnumerateInstances");
    let p = |n| find_param(&params, n).unwrap();
    assert_eq!(
        p("MaxObjectCount").as_u32("MaxObjectCount").unwrap(),
        Some(100)
    );
    assert_eq!(p("OperationTimeout").as_u32("x").unwrap(), Some(30));
    assert_eq!(p("FilterQueryLanguage").as_string("x").unwrap(), None);
}

#[test]
fn pywbem_invoke_method() {
    // conn.InvokeMethod('CreateIISet', CIMClassName('DS_IIService', namespace=..), ...)
    // with a string, a Uint32 and a CIMInstanceName parameter, on an instance path.
    let xml = r#"<?xml version="1.0" encoding="utf-8" ?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1003" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="CreateIISet"><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="dsimage"/></LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME="DS_IIService"><KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string" TYPE="string">dsimage</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH><PARAMVALUE NAME="Name" PARAMTYPE="string"><VALUE>set1</VALUE></PARAMVALUE><PARAMVALUE NAME="CopyDelay" PARAMTYPE="uint32"><VALUE>2</VALUE></PARAMVALUE><PARAMVALUE NAME="Group" PARAMTYPE="reference"><VALUE.REFERENCE><LOCALINSTANCEPATH><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="dsimage"/></LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME="DS_IIGroup"><KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string" TYPE="string">g1</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH></VALUE.REFERENCE></PARAMVALUE></METHODCALL></SIMPLEREQ></MESSAGE></CIM>"#;
    let Request::MethodCall {
        target,
        method,
        params,
        ..
    } = req(xml).unwrap()
    else {
        panic!()
    };
    assert_eq!(method, "CreateIISet");
    assert_eq!(target.namespace(), "root/dsimage");
    let MethodTarget::Instance(p) = &target else {
        panic!()
    };
    assert_eq!(p.key("name").unwrap().as_str(), Some("dsimage"));
    assert_eq!(params[0].paramtype, Some(CimType::String));
    assert_eq!(
        params[1]
            .data
            .typed("CopyDelay", CimType::Uint32, false)
            .unwrap(),
        Some(Value::from(2u32))
    );
    let g = params[2]
        .data
        .typed("Group", CimType::Reference, false)
        .unwrap()
        .unwrap();
    let g = g.as_reference().unwrap();
    assert_eq!(g.classname, "DS_IIGroup");
    assert_eq!(g.namespace.as_deref(), Some("root/dsimage"));
}

/// sblim wbemcli: line breaks between elements, `NAMESPACE` written with
/// start/end tags, keys without `TYPE`, untyped `PARAMVALUE`s.
#[test]
fn wbemcli_requests() {
    let ei = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">\n<MESSAGE ID=\"4711\" PROTOCOLVERSION=\"1.0\">\n<SIMPLEREQ>\n<IMETHODCALL NAME=\"EnumerateInstances\">\n<LOCALNAMESPACEPATH>\n<NAMESPACE NAME=\"root\"></NAMESPACE>\n<NAMESPACE NAME=\"dsimage\"></NAMESPACE>\n</LOCALNAMESPACEPATH>\n<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"DS_IISet\"/></IPARAMVALUE>\n<IPARAMVALUE NAME=\"LocalOnly\"><VALUE>FALSE</VALUE></IPARAMVALUE>\n</IMETHODCALL>\n</SIMPLEREQ>\n</MESSAGE>\n</CIM>\n";
    let Request::IMethodCall {
        namespace, params, ..
    } = req(ei).unwrap()
    else {
        panic!()
    };
    assert_eq!(namespace, "root/dsimage");
    assert_eq!(params.len(), 2);

    let gi = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">\n<MESSAGE ID=\"4711\" PROTOCOLVERSION=\"1.0\">\n<SIMPLEREQ>\n<METHODCALL NAME=\"Wait\">\n<LOCALINSTANCEPATH>\n<LOCALNAMESPACEPATH>\n<NAMESPACE NAME=\"root\"></NAMESPACE>\n<NAMESPACE NAME=\"dsimage\"></NAMESPACE>\n</LOCALNAMESPACEPATH>\n<INSTANCENAME CLASSNAME=\"DS_IISet\">\n<KEYBINDING NAME=\"Name\">\n<KEYVALUE VALUETYPE=\"string\">my set</KEYVALUE>\n</KEYBINDING>\n<KEYBINDING NAME=\"Num\"><KEYVALUE VALUETYPE=\"numeric\">12</KEYVALUE></KEYBINDING>\n</INSTANCENAME>\n</LOCALINSTANCEPATH>\n<PARAMVALUE NAME=\"Timeout\">\n<VALUE>60</VALUE>\n</PARAMVALUE>\n</METHODCALL>\n</SIMPLEREQ>\n</MESSAGE>\n</CIM>\n";
    let Request::MethodCall { target, params, .. } = req(gi).unwrap() else {
        panic!()
    };
    let MethodTarget::Instance(p) = target else {
        panic!()
    };
    assert_eq!(p.key("Name").unwrap().as_str(), Some("my set"));
    assert_eq!(
        p.key("Num"),
        Some(&KeyValue::Numeric {
            value: Numeric::Unsigned(12),
            cimtype: None
        })
    );
    assert_eq!(params[0].paramtype, None);
    assert_eq!(
        params[0]
            .data
            .typed("Timeout", CimType::Uint32, false)
            .unwrap(),
        Some(Value::from(60u32))
    );
}

// ---- hardening --------------------------------------------------------------

fn err(xml: &str) -> XmlError {
    req(xml).expect_err("must be rejected")
}

fn msg(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ>{body}</SIMPLEREQ></MESSAGE></CIM>"#
    )
}

fn gi(instancename: &str) -> String {
    msg(&format!(
        r#"<IMETHODCALL NAME="GetInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="InstanceName">{instancename}</IPARAMVALUE></IMETHODCALL>"#
    ))
}

#[test]
fn rejects_doctype_and_entities() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><CIM CIMVERSION="2.0" DTDVERSION="2.0">&lol2;</CIM>"#;
    assert_eq!(err(laughs), XmlError::DoctypeNotAllowed);
    assert_eq!(err(laughs).class(), XmlErrorClass::NotWellFormed);
    let ext = r#"<?xml version="1.0"?><!DOCTYPE CIM SYSTEM "http://example/cim.dtd"><CIM/>"#;
    assert_eq!(err(ext), XmlError::DoctypeNotAllowed);
    let undeclared = gi(
        r#"<INSTANCENAME CLASSNAME="A"><KEYBINDING NAME="K"><KEYVALUE>&xxe;</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    assert_eq!(err(&undeclared), XmlError::UnknownEntity("xxe".into()));
    let bad_ref = gi(
        r#"<INSTANCENAME CLASSNAME="A"><KEYBINDING NAME="K"><KEYVALUE>&#0;</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    assert!(matches!(err(&bad_ref), XmlError::BadReference(_)));
    let ok = gi(
        r#"<INSTANCENAME CLASSNAME="A"><KEYBINDING NAME="K&#x4B;"><KEYVALUE>&lt;&#65;&#x42;&amp;&quot;&apos;&gt;</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    let Request::IMethodCall { params, .. } = req(&ok).unwrap() else {
        panic!()
    };
    let p = find_param(&params, "InstanceName").unwrap();
    let p = p.as_instance_name("x").unwrap().unwrap();
    assert_eq!(p.key("KK").unwrap().as_str(), Some("<AB&\"'>"));
}

#[test]
fn enforces_limits() {
    let small = Limits {
        max_total: 300,
        ..Limits::default()
    };
    let big = msg(&"x".repeat(400));
    assert_eq!(
        parse_request(big.as_bytes(), &small).unwrap_err(),
        XmlError::TooLarge { limit: 300 }
    );
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert_eq!(err(&deep), XmlError::TooDeep { limit: 64 });
    let tiny_values = Limits {
        max_value: 8,
        ..Limits::default()
    };
    let long = gi(
        r#"<INSTANCENAME CLASSNAME="A"><KEYBINDING NAME="K"><KEYVALUE>0123456789</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    assert_eq!(
        parse_request(long.as_bytes(), &tiny_values).unwrap_err(),
        XmlError::ValueTooLarge { limit: 8 }
    );
    let attrs: String = (0..20).map(|i| format!(" a{i}=\"x\"")).collect();
    assert!(matches!(
        err(&format!("<CIM{attrs}/>")),
        XmlError::TooManyAttributes { .. }
    ));
}

#[test]
fn rejects_bad_encoding_and_syntax() {
    let mut bytes = msg("").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe");
    assert_eq!(
        parse_request(&bytes, &Limits::default()).unwrap_err(),
        XmlError::InvalidUtf8
    );
    assert!(matches!(
        err(r#"<?xml version="1.0" encoding="ISO-8859-1"?><CIM/>"#),
        XmlError::UnsupportedEncoding(_)
    ));
    for bad in [
        "",
        "<CIM>",
        "<CIM></MESSAGE>",
        "<CIM/><CIM/>",
        "<CIM a='1' a='2'/>",
        "text<CIM/>",
    ] {
        assert_eq!(err(bad).class(), XmlErrorClass::NotWellFormed, "{bad}");
    }
}

#[test]
fn structural_errors_are_typed() {
    assert!(matches!(
        err(r#"<CIM CIMVERSION="2.0" DTDVERSION="2.0"><SIMPLEREQ/></CIM>"#),
        XmlError::UnexpectedElement { .. }
    ));
    assert!(matches!(
        err(r#"<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE PROTOCOLVERSION="1.0"><SIMPLEREQ/></MESSAGE></CIM>"#),
        XmlError::MissingAttribute { ref attribute, .. } if attribute == "ID"
    ));
    assert!(matches!(
        err(&msg(r#"<IMETHODCALL><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH></IMETHODCALL>"#)),
        XmlError::MissingAttribute { ref attribute, .. } if attribute == "NAME"
    ));
    assert!(matches!(
        err(&gi(r#"<INSTANCENAME><KEYBINDING NAME="K"><KEYVALUE>v</KEYVALUE></KEYBINDING></INSTANCENAME>"#)),
        XmlError::MissingAttribute { ref attribute, .. } if attribute == "CLASSNAME"
    ));
    let e = err(&gi(r#"<INSTANCENAME CLASSNAME="A"/>"#));
    assert_eq!(
        e,
        XmlError::MissingKeys {
            classname: "A".into()
        }
    );
    assert_eq!(e.class(), XmlErrorClass::InvalidParameter);
    assert!(matches!(
        err(&gi(
            r#"<INSTANCENAME CLASSNAME="A"><KEYBINDING NAME="K"><KEYVALUE>1</KEYVALUE></KEYBINDING><KEYBINDING NAME="k"><KEYVALUE>2</KEYVALUE></KEYBINDING></INSTANCENAME>"#
        )),
        XmlError::Duplicate {
            what: "keybinding",
            ..
        }
    ));
    let dup_prop = msg(
        r#"<IMETHODCALL NAME="CreateInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="NewInstance"><INSTANCE CLASSNAME="A"><PROPERTY NAME="P" TYPE="string"/><PROPERTY NAME="p" TYPE="uint8"/></INSTANCE></IPARAMVALUE></IMETHODCALL>"#,
    );
    assert!(matches!(
        err(&dup_prop),
        XmlError::Duplicate {
            what: "property",
            ..
        }
    ));
    let dup_param = msg(
        r#"<IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="LocalOnly"/><IPARAMVALUE NAME="LOCALONLY"/></IMETHODCALL>"#,
    );
    assert!(matches!(
        err(&dup_param),
        XmlError::Duplicate {
            what: "parameter",
            ..
        }
    ));
    let bad_value = msg(
        r#"<IMETHODCALL NAME="CreateInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="NewInstance"><INSTANCE CLASSNAME="A"><PROPERTY NAME="P" TYPE="uint8"><VALUE>300</VALUE></PROPERTY></INSTANCE></IPARAMVALUE></IMETHODCALL>"#,
    );
    assert_eq!(err(&bad_value).class(), XmlErrorClass::InvalidParameter);
    let no_ns = msg(r#"<IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH/></IMETHODCALL>"#);
    assert!(matches!(err(&no_ns), XmlError::MissingElement { .. }));
    let multi = r#"<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><MULTIREQ/></MESSAGE></CIM>"#;
    assert_eq!(
        err(multi).class(),
        XmlErrorClass::MultipleRequestsUnsupported
    );
}

#[test]
fn control_characters_survive() {
    let i = Instance::new("A").with("S", "a\u{1}b\rc\u{7f}");
    let xml = xml_write::instance_xml(&i);
    assert!(xml.contains("&#1;") && xml.contains("&#13;"));
    assert_eq!(parse_instance(&xml).unwrap(), i);
}
