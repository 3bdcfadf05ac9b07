//! The WBEM agent end to end: `dsimaged serve` in the lab VM, driven from the host by
//! the real clients (sblim wbemcli, pywbem, pywbemcli), with data checked in the VM
//! after every method that moves data.

use dsimage_e2e::clients::{Clients, Run, USER};
use dsimage_e2e::{run_suite_with, Guest, Scenario, PREFIX};
use serde_json::Value;

const DISKS: &[(&str, u64)] = &[("m1", 32), ("s1", 32), ("s2", 32), ("b1", 8), ("b2", 8)];

fn main() {
    let scenarios: &[Scenario] = &[
        (
            "interop_discovery_and_classes",
            interop_discovery_and_classes,
        ),
        (
            "set_lifecycle_through_clients",
            set_lifecycle_through_clients,
        ),
        ("volumes_through_clients", volumes_through_clients),
        (
            "errors_reach_clients_and_change_nothing",
            errors_reach_clients,
        ),
        ("every_operation_and_method", every_operation_and_method),
        ("agent_restart_keeps_sets", agent_restart_keeps_sets),
        (
            "copy_control_of_an_independent_set",
            copy_control_of_an_independent_set,
        ),
        ("group_through_clients", group_through_clients),
    ];
    run_suite_with("cim", DISKS, &[5988, 5989], scenarios);
}

fn top(raw: &str) -> String {
    format!("/dev/mapper/{PREFIX}-{}", raw.trim_start_matches("/dev/"))
}

/// Starts the agent in the guest (with the suite's user) and returns the clients.
fn start_agent(g: &Guest) -> Clients {
    let (http, https) = g.start_agent();
    Clients::new(http, Some(https))
}

fn interop_discovery_and_classes(g: &mut Guest) {
    let c = start_agent(g);
    let d = c.pywbem(
        "s = pywbem.WBEMServer(conn)\n\
         profs = s.get_selected_profiles(registered_org='Other', registered_name='Instant Image')\n\
         central = [str(p) for p in s.get_central_instances(profs[0].path)]\n\
         cls = conn.GetClass('DS_IISet', LocalOnly=False, IncludeQualifiers=True)\n\
         upd = cls.methods['Update']\n\
         names = conn.EnumerateClassNames(DeepInheritance=True)\n\
         print(json.dumps({'interop': s.interop_ns, 'brand': s.brand, 'version': s.version,\n\
           'namespaces': sorted(s.namespaces), 'nprofiles': len(profs), 'central': central,\n\
           'dir_type': upd.parameters['Direction'].type, 'rettype': upd.return_type,\n\
           'has_valuemap': 'ValueMap' in upd.qualifiers, 'names': names}))",
    );
    assert_eq!(d["interop"], "interop", "{d}");
    assert_eq!(d["brand"], "dsimage", "{d}");
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"), "{d}");
    assert_eq!(
        d["namespaces"],
        serde_json::json!(["interop", "root/dsimage"])
    );
    assert_eq!(d["nprofiles"], 1);
    assert!(d["central"].to_string().contains("DS_IIService"), "{d}");
    assert_eq!(d["dir_type"], "uint16");
    assert_eq!(d["rettype"], "uint32");
    assert_eq!(d["has_valuemap"], true);
    for class in [
        "DS_IISet",
        "DS_IIService",
        "DS_StorageVolume",
        "DS_IISetVolume",
    ] {
        assert!(
            d["names"].to_string().contains(class),
            "{class} missing: {d}"
        );
    }
    // The same over HTTPS with the agent's self-signed certificate.
    let https = c.pywbem(&format!(
        "c2 = pywbem.WBEMConnection('https://127.0.0.1:{}', (USER, PASSWORD), default_namespace='root/dsimage', no_verification=True)\n\
         print(json.dumps(len(c2.EnumerateClassNames())))",
        c.https_port.unwrap()
    ));
    assert!(https.as_u64().unwrap() > 0);
    // wbemcli: GetClass (with its methods) and class names.
    let r = c.wbemcli("gc", &["-nl"], "root/dsimage:DS_IISet", &[]);
    assert_eq!(r.status, 0, "{r:?}");
    let r = c.wbemcli("ecn", &[], "root/dsimage", &[]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("DS_IISet"), "{r:?}");
    // pywbemcli: class get and the interop namespace.
    let r = c.pywbemcli(&["class", "get", "DS_IISet"]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("Update("), "{}", r.stdout);
    let r = c.pywbemcli(&["server", "brand"]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("dsimage"), "{}", r.stdout);
}

fn create_set(c: &Clients, name: &str, m: &str, s: &str, b: &str) -> Value {
    c.pywbem(&format!(
        "svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv, out = conn.InvokeMethod('CreateIISet', svc, Name={name:?}, Type=pywbem.Uint16(2),\n\
           MasterVolume={m:?}, ShadowVolume={s:?}, BitmapVolume={b:?})\n\
         print(json.dumps({{'rv': int(rv), 'set': out['Set']['Name'] if out.get('Set') else None}}))"
    ))
}

fn set_lifecycle_through_clients(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let c = start_agent(g);
    let r = create_set(&c, "web", &m1, &s1, &b1);
    assert_eq!(r, serde_json::json!({"rv": 0, "set": "web"}));
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    // wbemcli: instances and an extrinsic call (Update master -> shadow).
    g.write(&mt, &["m"], 0, 128);
    let set_path = "root/dsimage:DS_IISet.Name=\"web\"";
    let r = c.wbemcli("gi", &["-nl"], set_path, &[]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("-PercentSynchronized="), "{}", r.stdout);
    let r = c.wbemcli("ein", &[], "root/dsimage:DS_IISet", &[]);
    assert!(r.stdout.contains("Name=\"web\""), "{r:?}");
    let r = c.wbemcli("cm", &[], set_path, &["Update.Direction=1"]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains('0'), "{r:?}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");

    // pywbem: shadow -> master with Wait, then status.
    g.write(&st, &["s"], 4096, 256);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'web'})\n\
         rv1, _ = conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(2))\n\
         rv2, _ = conn.InvokeMethod('Wait', p, Timeout=pywbem.Uint32(300))\n\
         rv3, out = conn.InvokeMethod('GetStatus', p)\n\
         inst = conn.GetInstance(p)\n\
         print(json.dumps({'rv': [int(rv1), int(rv2), int(rv3)], 'state': int(inst['State']),\n\
           'sync': int(inst['PercentSynchronized'])}))",
    );
    assert_eq!(r["rv"], serde_json::json!([0, 0, 0]), "{r}");
    assert_eq!(r["state"], 1, "{r}");
    assert_eq!(r["sync"], 100, "{r}");
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");
    g.assert_dev(&st, "m");

    // Associations and the pull operations (pywbem) and pywbemcli's default pull mode.
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'web'})\n\
         vols = conn.AssociatorNames(p, AssocClass='DS_IISetVolume')\n\
         refs = conn.ReferenceNames(p, ResultClass='DS_IISetVolume')\n\
         res = conn.OpenEnumerateInstances('DS_StorageVolume', MaxObjectCount=1)\n\
         n = len(res.instances)\n\
         while not res.eos: res = conn.PullInstancesWithPath(res.context, MaxObjectCount=1); n += len(res.instances)\n\
         print(json.dumps({'vols': len(vols), 'refs': len(refs), 'pulled': n,\n\
           'enumerated': len(conn.EnumerateInstances('DS_StorageVolume'))}))",
    );
    assert_eq!(r["vols"], 3, "{r}");
    assert_eq!(r["refs"], 3, "{r}");
    assert_eq!(r["pulled"], r["enumerated"], "{r}");
    let r = c.pywbemcli(&["instance", "enumerate", "DS_IISet"]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("\"web\""), "{}", r.stdout);
    let r = c.pywbemcli(&["instance", "count", "DS_StorageVolume"]);
    assert_eq!(r.status, 0, "{r:?}");

    // Delete through the service; the master keeps its data.
    let r = c.pywbem(
        "svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv, _ = conn.InvokeMethod('DeleteIISet', svc, Name='web')\n\
         print(json.dumps({'rv': int(rv), 'left': len(conn.EnumerateInstanceNames('DS_IISet'))}))",
    );
    assert_eq!(r, serde_json::json!({"rv": 0, "left": 0}));
    g.assert_dev(&mt, "m");
}

fn volumes_through_clients(g: &mut Guest) {
    let m1 = g.disk("m1");
    let c = start_agent(g);
    let r = c.pywbem(&format!(
        "vols = conn.EnumerateInstances('DS_StorageVolume')\n\
         v = [x for x in vols if x['Path'] == {m1:?}][0]\n\
         rv, _ = conn.InvokeMethod('PutUnderControl', v.path)\n\
         after = conn.GetInstance(v.path)\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv2, out = conn.InvokeMethod('GetAllAvailableVolumes', svc)\n\
         print(json.dumps({{'suitable': bool(v['Suitable']), 'rv': int(rv), 'under': bool(after['UnderControl']),\n\
           'avail': list(out['Volumes'] or []), 'state': [bool(x['Suitable']) for x in vols if x['Path'] == '/dev/vda']}}))"
    ));
    assert_eq!(r["suitable"], true, "{r}");
    assert_eq!(r["rv"], 0, "{r}");
    assert_eq!(r["under"], true, "{r}");
    assert_eq!(
        r["state"],
        serde_json::json!([false]),
        "the mounted state disk is not suitable: {r}"
    );
    g.sh(&format!("test -b {}", top(&m1)));
    let r = c.wbemcli(
        "cm",
        &[],
        &format!(
            "root/dsimage:DS_StorageVolume.CreationClassName=\"DS_StorageVolume\",DeviceID=\"{}\",SystemCreationClassName=\"CIM_ComputerSystem\",SystemName=\"{}\"",
            m1.trim_start_matches("/dev/"),
            g.sh("cat /proc/sys/kernel/hostname").trim()
        ),
        &["Release"],
    );
    assert_eq!(r.status, 0, "{r:?}");
    let (st, _, _) = g.try_sh(&format!("test -e {}", top(&m1)));
    assert_ne!(st, 0, "released volume still has its top device");
}

fn errors_reach_clients(g: &mut Guest) {
    let (m1, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    let c = start_agent(g);
    assert_eq!(create_set(&c, "one", &m1, &s1, &b1)["rv"], 0);
    let before = g.state();
    // Wrong password: pywbem's AuthError; wbemcli fails.
    let r = c.pywbem(
        "bad = pywbem.WBEMConnection(URL, (USER, 'wrong'), default_namespace='root/dsimage')\n\
         try:\n    bad.EnumerateClassNames(); print(json.dumps('no error'))\n\
         except pywbem.AuthError as e:\n    print(json.dumps('auth'))",
    );
    assert_eq!(r, "auth");
    let r = c.wbemcli_as(USER, "wrong", "ecn", &[], "root/dsimage", &[]);
    assert_ne!(r.status, 0, "{r:?}");
    // CIM errors with their codes, and method return codes, through pywbem.
    let r = c.pywbem(&format!(
        "def code(f):\n    try:\n        f(); return 0\n    except pywbem.CIMError as e:\n        return e.status_code\n\
         p = pywbem.CIMInstanceName('DS_IISet', {{'Name': 'one'}})\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         def create(**kw):\n    return int(conn.InvokeMethod('CreateIISet', svc, Type=pywbem.Uint16(2), **kw)[0])\n\
         print(json.dumps({{\n\
           'unknown_class': code(lambda: conn.GetClass('NoSuchClass')),\n\
           'unknown_class_instances': code(lambda: conn.EnumerateInstances('NoSuchClass')),\n\
           'unknown_ns': code(lambda: conn.EnumerateClassNames(namespace='root/nowhere')),\n\
           'bad_key': code(lambda: conn.GetInstance(pywbem.CIMInstanceName('DS_IISet', {{'Name': 'nosuch'}}))),\n\
           'bad_direction': code(lambda: conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(7))),\n\
           'bad_type': code(lambda: conn.InvokeMethod('Update', p, Direction='sideways')),\n\
           'no_method': code(lambda: conn.InvokeMethod('NoSuchMethod', p)),\n\
           'same_device': create(Name='x', MasterVolume={m1:?}, ShadowVolume={m1:?}, BitmapVolume={b2:?}),\n\
           'shadow_in_use': create(Name='x', MasterVolume={m1:?}, ShadowVolume={s1:?}, BitmapVolume={b2:?}),\n\
           'duplicate': create(Name='one', MasterVolume={m1:?}, ShadowVolume={s2:?}, BitmapVolume={b2:?}),\n\
           'independent_small': int(conn.InvokeMethod('CreateIISet', svc, Name='x', Type=pywbem.Uint16(1), MasterVolume={m1:?}, ShadowVolume={b2:?}, BitmapVolume={s2:?})[0]),\n\
           'abort': int(conn.InvokeMethod('Abort', p)[0]),\n\
         }}))"
    ));
    assert_eq!(r["unknown_class"], 6, "GetClass of an unknown class: {r}");
    assert_eq!(
        r["unknown_class_instances"], 5,
        "instances of an unknown class: {r}"
    );
    assert_eq!(r["unknown_ns"], 3, "{r}");
    assert_eq!(r["bad_key"], 6, "{r}");
    assert_eq!(r["bad_direction"], 4, "{r}");
    assert!(r["bad_type"] == 4 || r["bad_type"] == 13, "{r}");
    assert_eq!(r["no_method"], 17, "{r}");
    assert_eq!(r["same_device"], 5, "{r}");
    assert_eq!(r["shadow_in_use"], 6, "{r}");
    assert_eq!(r["duplicate"], 9, "{r}");
    assert_eq!(
        r["independent_small"], 12,
        "independent shadow smaller than the master: {r}"
    );
    assert_eq!(
        r["abort"], 1,
        "Abort of a dependent set: Not Supported: {r}"
    );
    assert_eq!(g.state(), before, "a refused request changed something");
    // wbemcli sees a CIM error for an unknown class.
    let r = c.wbemcli("ei", &[], "root/dsimage:NoSuchClass", &[]);
    assert_ne!(r.status, 0, "{r:?}");
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("CIM_ERR_INVALID_CLASS"),
        "{r:?}"
    );
}

fn agent_restart_keeps_sets(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let c = start_agent(g);
    assert_eq!(create_set(&c, "keep", &m1, &s1, &b1)["rv"], 0);
    g.model_copy("m", "s");
    g.write(&mt, &["m"], 100, 64);
    // The agent dies; I/O goes on in the kernel.
    g.sh("killall -9 dsimaged; sleep 0.5");
    g.write(&mt, &["m"], 300, 64);
    g.assert_dev(&st, "s");
    let c = start_agent(g);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'keep'})\n\
         inst = conn.GetInstance(p)\n\
         rv, _ = conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(1))\n\
         print(json.dumps({'changed_before': int(inst['ShadowChunksUsed']) > 0, 'rv': int(rv)}))",
    );
    assert_eq!(r["rv"], 0, "{r}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
}

/// The operations and methods the other scenarios do not reach, through the clients.
fn every_operation_and_method(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let c = start_agent(g);
    // CreateInstance enables a set; then the association, pull and property operations.
    let r = c.pywbem(&format!(
        "def code(f):\n    try:\n        f(); return 0\n    except pywbem.CIMError as e:\n        return e.status_code\n\
         inst = pywbem.CIMInstance('DS_IISet', properties={{'Name': 'ops', 'Type': pywbem.Uint16(2),\n\
           'MasterVolume': {m1:?}, 'ShadowVolume': {s1:?}, 'BitmapVolume': {b1:?}}})\n\
         p = conn.CreateInstance(inst)\n\
         assoc = conn.Associators(p, AssocClass='DS_IISetVolume')\n\
         refs = conn.References(p, ResultClass='DS_IISetVolume')\n\
         r1 = conn.OpenAssociatorInstancePaths(p, AssocClass='DS_IISetVolume', MaxObjectCount=1)\n\
         conn.CloseEnumeration(r1.context)\n\
         closed = code(lambda: conn.PullInstancePaths(r1.context, MaxObjectCount=1))\n\
         r2 = conn.OpenReferenceInstances(p, ResultClass='DS_IISetVolume', MaxObjectCount=10)\n\
         r3 = conn.OpenAssociatorInstances(p, AssocClass='DS_IISetVolume', MaxObjectCount=10)\n\
         r4 = conn.OpenReferenceInstancePaths(p, ResultClass='DS_IISetVolume', MaxObjectCount=10)\n\
         r5 = conn.OpenEnumerateInstancePaths('DS_IISet', MaxObjectCount=0)\n\
         paths = list(r5.paths)\n\
         while not r5.eos: r5 = conn.PullInstancePaths(r5.context, MaxObjectCount=5); paths += r5.paths\n\
         mod = conn.GetInstance(p); mod['State'] = pywbem.Uint16(3)\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv_sets, out_sets = conn.InvokeMethod('GetAllIISets', svc)\n\
         rv_poll, _ = conn.InvokeMethod('SetPollingInterval', svc, Interval=pywbem.Uint32(2))\n\
         print(json.dumps({{'path': p['Name'], 'assoc': len(assoc), 'refs': len(refs), 'closed': closed,\n\
           'ri': len(r2.instances), 'ai': len(r3.instances), 'rp': len(r4.paths), 'paths': len(paths),\n\
           'modify': code(lambda: conn.ModifyInstance(mod)),\n\
           'sets': [x['Name'] for x in out_sets['Sets']], 'rv': [int(rv_sets), int(rv_poll)]}}))"
    ));
    assert_eq!(r["path"], "ops", "{r}");
    assert_eq!(
        (r["assoc"].as_u64(), r["refs"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(
        r["closed"], 21,
        "pull after close: CIM_ERR_INVALID_ENUMERATION_CONTEXT: {r}"
    );
    assert_eq!(
        (r["ri"].as_u64(), r["ai"].as_u64(), r["rp"].as_u64()),
        (Some(3), Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(r["paths"], 1, "{r}");
    assert_eq!(r["modify"], 4, "no DS_IISet property is writable: {r}");
    assert_eq!(r["sets"], serde_json::json!(["ops"]), "{r}");
    assert_eq!(r["rv"], serde_json::json!([0, 0]), "{r}");
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");

    // Copy in both directions (pywbem), with data checked.
    g.write(&mt, &["m"], 64, 64);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ops'})\n\
         rv = int(conn.InvokeMethod('Copy', p, Direction=pywbem.Uint16(1))[0])\n\
         print(json.dumps(rv))",
    );
    assert_eq!(r, 0);
    g.model_copy("m", "s");
    g.assert_dev(&st, "s");
    // 16 MiB of shadow changes keep the copy back to the master busy long enough for the
    // conflicting requests that follow it to meet it.
    g.write(&st, &["s"], 128, 16384);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ops'})\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv1 = int(conn.InvokeMethod('Copy', p, Direction=pywbem.Uint16(2))[0])\n\
         busy = int(conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(1))[0])\n\
         busy_delete = int(conn.InvokeMethod('DeleteIISet', svc, Name='ops')[0])\n\
         rv2 = int(conn.InvokeMethod('Wait', p)[0])\n\
         print(json.dumps([rv1, busy, busy_delete, rv2]))",
    );
    assert_eq!(
        r,
        serde_json::json!([0, 13, 13, 0]),
        "copy, conflicting update, conflicting delete, wait"
    );
    g.model_copy("s", "m");
    g.assert_dev(&mt, "m");

    // Methods not implemented yet say so.
    let r = c.pywbem(
        "def code(f):\n    try:\n        f(); return 0\n    except pywbem.CIMError as e:\n        return e.status_code\n\
         p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ops'})\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         out = {m: code(lambda: conn.InvokeMethod(m, p)) for m in ['Export', 'Reset', 'DetachOverflow']}\n\
         out['CreateOverflowVolume'] = code(lambda: conn.InvokeMethod('CreateOverflowVolume', svc, Volume='/dev/vdz'))\n\
         print(json.dumps(out))",
    );
    for m in ["Export", "Reset", "DetachOverflow", "CreateOverflowVolume"] {
        assert_eq!(r[m], 7, "{m} should be CIM_ERR_NOT_SUPPORTED: {r}");
    }

    // wbemcli: associators, references, a property, an XML method call, delete.
    let set = "root/dsimage:DS_IISet.Name=\"ops\"";
    for (op, flag) in [
        ("ai", "-ac"),
        ("ain", "-ac"),
        ("ri", "-arc"),
        ("rin", "-arc"),
    ] {
        let w = c.wbemcli(op, &[flag, "DS_IISetVolume"], set, &[]);
        assert_eq!(w.status, 0, "wbemcli {op}: {w:?}");
        assert_eq!(
            w.stdout
                .lines()
                .filter(|l| !l.starts_with('-') && !l.is_empty())
                .count(),
            3,
            "wbemcli {op}: {}",
            w.stdout
        );
    }
    let w = c.wbemcli("gp", &[], set, &["State"]);
    assert_eq!(w.status, 0, "{w:?}");
    assert_eq!(w.stdout.trim(), "1", "State of an idle set: {w:?}");
    let w = c.wbemcli("cmx", &[], set, &["GetStatus"]);
    assert_eq!(w.status, 0, "{w:?}");
    assert!(w.stdout.contains("RETURNVALUE"), "{w:?}");
    let w = c.wbemcli("dc", &[], "root/dsimage:DS_IISet", &[]);
    assert_ne!(w.status, 0, "deleting a class must fail: {w:?}");
    let w = c.wbemcli("di", &[], set, &[]);
    assert_eq!(w.status, 0, "{w:?}");
    let w = c.wbemcli("ein", &[], "root/dsimage:DS_IISet", &[]);
    assert!(!w.stdout.contains("ops"), "{w:?}");
    g.assert_dev(&mt, "m");
}

/// The return value `wbemcli cm` prints last: `<path> <Method>: <value>`.
#[track_caller]
fn wbemcli_rv(r: &Run) -> u64 {
    assert_eq!(r.status, 0, "{r:?}");
    r.stdout
        .trim()
        .rsplit(": ")
        .next()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no return value in {r:?}"))
}

/// `wbemcli gp` of one property of set `name`; empty for NULL.
#[track_caller]
fn wbemcli_prop(c: &Clients, name: &str, prop: &str) -> String {
    let r = c.wbemcli(
        "gp",
        &[],
        &format!("root/dsimage:DS_IISet.Name=\"{name}\""),
        &[prop],
    );
    assert_eq!(r.status, 0, "{r:?}");
    r.stdout.trim().to_string()
}

/// Suspend, Resume, Abort and SetCopyParameters on the background copy of an
/// independent set, through wbemcli and pywbem: the states and return codes the clients
/// see, what is refused meanwhile, and the data once a new update replaces the aborted
/// one; then the same methods on a dependent set.
fn copy_control_of_an_independent_set(g: &mut Guest) {
    let (m1, s1, b1) = (g.disk("m1"), g.disk("s1"), g.disk("b1"));
    let (s2, b2) = (g.disk("s2"), g.disk("b2"));
    let (mt, st) = (top(&m1), top(&s1));
    g.fill(&m1, "m");
    let c = start_agent(g);
    // An independent set: enable starts a full copy; Wait for it.
    let r = c.pywbem(&format!(
        "svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv, out = conn.InvokeMethod('CreateIISet', svc, Name='ind', Type=pywbem.Uint16(1),\n\
           MasterVolume={m1:?}, ShadowVolume={s1:?}, BitmapVolume={b1:?})\n\
         p = out['Set']\n\
         rvw, _ = conn.InvokeMethod('Wait', p, Timeout=pywbem.Uint32(600))\n\
         inst = conn.GetInstance(p)\n\
         print(json.dumps({{'rv': [int(rv), int(rvw)], 'type': int(inst['Type']),\n\
           'state': int(inst['State']), 'units': inst['CopyUnits'], 'delay': inst['CopyDelay']}}))"
    ));
    assert_eq!(r["rv"], serde_json::json!([0, 0]), "{r}");
    assert_eq!(r["type"], 1, "{r}");
    assert_eq!(r["state"], 1, "{r}");
    // Unthrottled: no copy parameters.
    assert_eq!(
        (&r["units"], &r["delay"]),
        (&Value::Null, &Value::Null),
        "{r}"
    );
    g.model_copy("m", "s");
    g.assert_dev(&s1, "s");

    // wbemcli: a throttle with a long pause keeps the next update in progress for
    // minutes (32 chunks per batch, 60 s after each batch).
    let set = "root/dsimage:DS_IISet.Name=\"ind\"";
    let r = c.wbemcli("cm", &[], set, &["SetCopyParameters.Units=32,Delay=60000"]);
    assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    assert_eq!(wbemcli_prop(&c, "ind", "CopyUnits"), "32");
    assert_eq!(wbemcli_prop(&c, "ind", "CopyDelay"), "60000");

    // Bad values are the engine's Invalid Parameter (5) and change nothing.
    let before = g.state();
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ind'})\n\
         def scp(u, d):\n    return int(conn.InvokeMethod('SetCopyParameters', p, Units=pywbem.Uint32(u), Delay=pywbem.Uint32(d))[0])\n\
         rvs = [scp(0, 10), scp(8, 60001)]\n\
         inst = conn.GetInstance(p)\n\
         print(json.dumps({'rv': rvs, 'units': int(inst['CopyUnits']), 'delay': int(inst['CopyDelay'])}))",
    );
    assert_eq!(
        r["rv"],
        serde_json::json!([5, 5]),
        "Units 0, Delay 60001: {r}"
    );
    assert_eq!(
        (r["units"].as_u64(), r["delay"].as_u64()),
        (Some(32), Some(60000)),
        "{r}"
    );
    let r = c.wbemcli("cm", &[], set, &["SetCopyParameters.Units=0,Delay=10"]);
    assert_eq!(wbemcli_rv(&r), 5, "{r:?}");
    assert_eq!(
        g.state(),
        before,
        "a refused SetCopyParameters changed something"
    );
    // Nothing to suspend, resume or abort on an idle set: Invalid State.
    for m in ["Suspend", "Resume", "Abort"] {
        assert_eq!(
            wbemcli_rv(&c.wbemcli("cm", &[], set, &[m])),
            7,
            "{m} of an idle set"
        );
    }

    // 256 chunks written on the master, then Update master -> shadow (wbemcli): the
    // shadow reads the new image at once, while the copy goes on in batches.
    g.write_scattered(&mt, &["m"], 0, 256, 4);
    let r = c.wbemcli("cm", &[], set, &["Update.Direction=1"]);
    assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    g.model_copy("m", "s");
    assert_eq!(wbemcli_prop(&c, "ind", "State"), "2", "copy in progress");
    g.assert_dev(&st, "s");

    // Suspend (wbemcli): State 4; suspending again is no change; Wait returns at once.
    let r = c.wbemcli("cm", &[], set, &["Suspend"]);
    assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    assert_eq!(wbemcli_prop(&c, "ind", "State"), "4", "suspended");
    assert_eq!(wbemcli_rv(&c.wbemcli("cm", &[], set, &["Suspend"])), 0);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ind'})\n\
         rvw, _ = conn.InvokeMethod('Wait', p, Timeout=pywbem.Uint32(30))\n\
         rvs, out = conn.InvokeMethod('GetStatus', p)\n\
         inst = conn.GetInstance(p)\n\
         print(json.dumps({'wait': int(rvw), 'status': [int(rvs), int(out['State']), out['Status']],\n\
           'state': int(inst['State']), 'direction': int(inst['Direction']),\n\
           'desc': list(inst['StatusDescriptions'])}))",
    );
    assert_eq!(r["wait"], 0, "Wait returns for a suspended copy: {r}");
    assert_eq!(r["status"][0], 0, "{r}");
    assert_eq!(r["status"][1], 4, "{r}");
    assert_eq!(r["state"], 4, "{r}");
    assert_eq!(r["direction"], 1, "{r}");
    let text = r["status"][2].as_str().unwrap_or_default();
    assert!(text.contains("suspended"), "{r}");
    assert_eq!(r["desc"][0].as_str(), Some(text), "{r}");
    g.assert_dev(&st, "s");
    // Disable is refused while the shadow depends on the master (Busy), and so is
    // DeleteInstance (CIM_ERR_FAILED).
    assert_eq!(wbemcli_rv(&c.wbemcli("cm", &[], set, &["Disable"])), 13);

    // Resume (pywbem): 0, copying again; resuming a running copy is no change.
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ind'})\n\
         rv1 = int(conn.InvokeMethod('Resume', p)[0])\n\
         s1 = int(conn.GetInstance(p)['State'])\n\
         rv2 = int(conn.InvokeMethod('Resume', p)[0])\n\
         print(json.dumps({'rv': [rv1, rv2], 'state': s1}))",
    );
    assert_eq!(r["rv"], serde_json::json!([0, 0]), "{r}");
    assert_eq!(r["state"], 2, "copying again after Resume: {r}");

    // Abort (pywbem): State 5, the shadow still reads the point in time; Resume and
    // Suspend are then Invalid State, an update in the other direction is refused as
    // Invalid State too (the shadow depends on the master), and so are Disable and
    // DeleteInstance (Busy).
    let r = c.pywbem(
        "def code(f):\n    try:\n        f(); return 0\n    except pywbem.CIMError as e:\n        return e.status_code\n\
         p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ind'})\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv = int(conn.InvokeMethod('Abort', p)[0])\n\
         inst = conn.GetInstance(p)\n\
         out = {'abort': rv, 'state': int(inst['State']), 'desc': inst['StatusDescriptions'][0],\n\
           'again': int(conn.InvokeMethod('Abort', p)[0]),\n\
           'resume': int(conn.InvokeMethod('Resume', p)[0]),\n\
           'suspend': int(conn.InvokeMethod('Suspend', p)[0]),\n\
           'other_direction': int(conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(2))[0]),\n\
           'disable': int(conn.InvokeMethod('Disable', p)[0]),\n\
           'delete_iiset': int(conn.InvokeMethod('DeleteIISet', svc, Name='ind')[0]),\n\
           'delete_instance': code(lambda: conn.DeleteInstance(p)),\n\
           'after': int(conn.GetInstance(p)['State'])}\n\
         print(json.dumps(out))",
    );
    assert_eq!(r["abort"], 0, "{r}");
    assert_eq!(r["state"], 5, "{r}");
    assert!(
        r["desc"].as_str().unwrap_or_default().contains("aborted"),
        "{r}"
    );
    assert_eq!(r["again"], 0, "aborting an aborted copy is no change: {r}");
    assert_eq!(r["resume"], 7, "Resume after Abort: Invalid State: {r}");
    assert_eq!(r["suspend"], 7, "Suspend after Abort: Invalid State: {r}");
    assert_eq!(r["other_direction"], 7, "{r}");
    assert_eq!(r["disable"], 13, "{r}");
    assert_eq!(r["delete_iiset"], 13, "{r}");
    assert_eq!(r["delete_instance"], 1, "CIM_ERR_FAILED: {r}");
    assert_eq!(r["after"], 5, "{r}");
    let w = c.wbemcli("di", &[], set, &[]);
    assert_ne!(
        w.status, 0,
        "wbemcli di of a set whose copy was aborted: {w:?}"
    );
    assert_eq!(wbemcli_prop(&c, "ind", "State"), "5");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");

    // Lift the throttle (ClearCopyParameters, wbemcli; again: no change), change the
    // master again and update master -> shadow: the new copy replaces the aborted one
    // and finishes at full speed (Wait, pywbem).
    for _ in 0..2 {
        let r = c.wbemcli("cm", &[], set, &["ClearCopyParameters"]);
        assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    }
    g.write(&mt, &["m"], 16384, 512);
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ind'})\n\
         rv1 = int(conn.InvokeMethod('Update', p, Direction=pywbem.Uint16(1))[0])\n\
         rv2 = int(conn.InvokeMethod('Wait', p, Timeout=pywbem.Uint32(600))[0])\n\
         inst = conn.GetInstance(p)\n\
         print(json.dumps({'rv': [rv1, rv2], 'state': int(inst['State']),\n\
           'sync': int(inst['PercentSynchronized']), 'units': inst['CopyUnits'],\n\
           'delay': inst['CopyDelay']}))",
    );
    assert_eq!(r["rv"], serde_json::json!([0, 0]), "{r}");
    assert_eq!(r["state"], 1, "{r}");
    assert_eq!(r["sync"], 100, "{r}");
    assert_eq!(
        (&r["units"], &r["delay"]),
        (&Value::Null, &Value::Null),
        "no throttle after ClearCopyParameters: {r}"
    );
    g.model_copy("m", "s");
    g.assert_dev(&s1, "s");
    g.assert_dev(&st, "s");
    g.assert_dev(&mt, "m");
    // Idle again: nothing to suspend; and now the set can go.
    assert_eq!(wbemcli_rv(&c.wbemcli("cm", &[], set, &["Suspend"])), 7);
    let w = c.wbemcli("di", &[], set, &[]);
    assert_eq!(w.status, 0, "{w:?}");
    g.assert_dev(&m1, "m");

    // A dependent set has no background copy: Not Supported (1), nothing changes.
    assert_eq!(create_set(&c, "dep", &m1, &s2, &b2)["rv"], 0);
    let before = g.state();
    let r = c.pywbem(
        "p = pywbem.CIMInstanceName('DS_IISet', {'Name': 'dep'})\n\
         out = {m: int(conn.InvokeMethod(m, p)[0]) for m in ['Suspend', 'Resume', 'Abort']}\n\
         out['SetCopyParameters'] = int(conn.InvokeMethod('SetCopyParameters', p, Units=pywbem.Uint32(8), Delay=pywbem.Uint32(10))[0])\n\
         out['ClearCopyParameters'] = int(conn.InvokeMethod('ClearCopyParameters', p)[0])\n\
         inst = conn.GetInstance(p)\n\
         out['state'] = int(inst['State'])\n\
         out['units'] = inst['CopyUnits']\n\
         print(json.dumps(out))",
    );
    for m in [
        "Suspend",
        "Resume",
        "Abort",
        "SetCopyParameters",
        "ClearCopyParameters",
    ] {
        assert_eq!(r[m], 1, "{m} of a dependent set: Not Supported: {r}");
    }
    assert_eq!(r["state"], 1, "{r}");
    assert_eq!(r["units"], Value::Null, "{r}");
    let dep = "root/dsimage:DS_IISet.Name=\"dep\"";
    assert_eq!(wbemcli_rv(&c.wbemcli("cm", &[], dep, &["Suspend"])), 1);
    assert_eq!(g.state(), before, "a refused request changed something");
    g.model_copy("m", "d");
    g.assert_dev(&top(&s2), "d");
}

/// A group of two dependent sets of one master through the clients: created and filled
/// by pywbem, updated at one point in time by wbemcli, the membership visible as
/// GroupName and through DS_IIGroupSet, refusals as return codes, then taken apart.
fn group_through_clients(g: &mut Guest) {
    let (m1, s1, s2, b1, b2) = (
        g.disk("m1"),
        g.disk("s1"),
        g.disk("s2"),
        g.disk("b1"),
        g.disk("b2"),
    );
    let (mt, st1, st2) = (top(&m1), top(&s1), top(&s2));
    g.fill(&m1, "m");
    let c = start_agent(g);
    for (name, s, b) in [("ga", &s1, &b1), ("gb", &s2, &b2)] {
        let r = create_set(&c, name, &m1, s, b);
        assert_eq!(r["rv"], 0, "{r}");
    }
    g.model_copy("m", "a");
    g.model_copy("m", "b");
    let r = c.pywbem(
        "svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         rv, out = conn.InvokeMethod('CreateIIGroup', svc, Name='grp')\n\
         grp = out['Group']\n\
         adds = [int(conn.InvokeMethod('AddSet', grp, SetName=n)[0]) for n in ['ga', 'gb']]\n\
         inst = conn.GetInstance(grp)\n\
         print(json.dumps({'rv': int(rv), 'adds': adds, 'type': int(inst['Type']),\n\
           'members': list(inst['Members'])}))",
    );
    assert_eq!(r["rv"], 0, "{r}");
    assert_eq!(r["adds"], serde_json::json!([0, 0]), "{r}");
    assert_eq!(r["type"], 2, "{r}");
    assert_eq!(r["members"], serde_json::json!(["ga", "gb"]), "{r}");

    // wbemcli: the group's instances and an update of both shadows at one point in time.
    let grp = "root/dsimage:DS_IIGroup.Name=\"grp\"";
    let r = c.wbemcli("ei", &["-nl"], "root/dsimage:DS_IIGroup", &[]);
    assert_eq!(r.status, 0, "{r:?}");
    assert!(r.stdout.contains("-Members="), "{}", r.stdout);
    assert_eq!(
        wbemcli_prop(&c, "ga", "GroupName").rsplit('=').next(),
        Some("grp")
    );
    g.write(&mt, &["m"], 512, 256);
    let r = c.wbemcli("cm", &[], grp, &["Update.Direction=1"]);
    assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    g.model_copy("m", "a");
    g.model_copy("m", "b");
    g.assert_dev(&st1, "a");
    g.assert_dev(&st2, "b");

    // Refusals: a member alone, both shadows onto their one master, a second group.
    let before = g.state();
    let r = c.pywbem(
        "ga = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ga'})\n\
         grp = pywbem.CIMInstanceName('DS_IIGroup', {'Name': 'grp'})\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         out = {'set': int(conn.InvokeMethod('Update', ga, Direction=pywbem.Uint16(1))[0]),\n\
           'back': int(conn.InvokeMethod('Update', grp, Direction=pywbem.Uint16(2))[0]),\n\
           'abort': int(conn.InvokeMethod('Abort', grp)[0])}\n\
         def code(f):\n    try:\n        f(); return 0\n    except pywbem.CIMError as e:\n        return e.status_code\n\
         out['dir'] = code(lambda: conn.InvokeMethod('Update', grp, Direction=pywbem.Uint16(3)))\n\
         print(json.dumps(out))",
    );
    assert_eq!(r["set"], 6, "a member alone is In Use: {r}");
    assert_eq!(r["back"], 6, "two shadows of one master: {r}");
    assert_eq!(r["abort"], 1, "abort of a dependent group: {r}");
    assert_eq!(r["dir"], 4, "bad direction: {r}");
    assert_eq!(g.state(), before, "refusals changed something");

    // Associations both ways, a wait, then the group taken apart.
    let r = c.pywbem(
        "ga = pywbem.CIMInstanceName('DS_IISet', {'Name': 'ga'})\n\
         grp = pywbem.CIMInstanceName('DS_IIGroup', {'Name': 'grp'})\n\
         groups = [p['Name'] for p in conn.AssociatorNames(ga, AssocClass='DS_IIGroupSet')]\n\
         sets = sorted(p['Name'] for p in conn.AssociatorNames(grp, AssocClass='DS_IIGroupSet'))\n\
         w = int(conn.InvokeMethod('Wait', grp, Timeout=pywbem.Uint32(60))[0])\n\
         rm = int(conn.InvokeMethod('RemoveSet', grp, SetName='gb')[0])\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         d = int(conn.InvokeMethod('DeleteIIGroup', svc, Name='grp')[0])\n\
         print(json.dumps({'groups': groups, 'sets': sets, 'wait': w, 'remove': rm, 'delete': d,\n\
           'left': len(conn.EnumerateInstanceNames('DS_IIGroup')),\n\
           'links': len(conn.EnumerateInstanceNames('DS_IIGroupSet')),\n\
           'name': conn.GetInstance(ga)['GroupName']}))",
    );
    assert_eq!(r["groups"], serde_json::json!(["grp"]), "{r}");
    assert_eq!(r["sets"], serde_json::json!(["ga", "gb"]), "{r}");
    assert_eq!(
        (&r["wait"], &r["remove"], &r["delete"]),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{r}"
    );
    assert_eq!(r["left"], 0, "{r}");
    assert_eq!(r["links"], 0, "{r}");
    assert_eq!(r["name"], "", "{r}");
    // The sets go on alone.
    g.write(&mt, &["m"], 0, 64);
    let r = c.wbemcli(
        "cm",
        &[],
        "root/dsimage:DS_IISet.Name=\"ga\"",
        &["Update.Direction=1"],
    );
    assert_eq!(wbemcli_rv(&r), 0, "{r:?}");
    g.model_copy("m", "a");
    g.assert_dev(&st1, "a");
    g.assert_dev(&st2, "b");
    g.assert_dev(&mt, "m");
}
