//! The agent on a host without device-mapper (this development host): it starts, the
//! real clients discover it and read its classes, and every volume operation answers a
//! clear CIM error saying device-mapper is unavailable.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dsimage_e2e::clients::{Clients, PASSWORD, USER};
use dsimage_e2e::target_bin;

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn agent_without_device_mapper_serves_classes_and_refuses_volume_operations() {
    if std::path::Path::new("/dev/mapper/control").exists() {
        eprintln!("SKIPPED: this host has device-mapper");
        return;
    }
    let dir = std::env::temp_dir().join(format!("dsimage-host-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = target_bin("dsimaged");
    let mut add = Command::new(&bin)
        .args(["--state-dir", dir.to_str().unwrap(), "adduser", USER])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("adduser");
    use std::io::Write;
    writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(add.wait().unwrap().success());
    let (port, sport) = (free_port(), free_port());
    let log = dir.join("agent.log");
    let _agent = Agent(
        Command::new(&bin)
            .args(["--state-dir", dir.to_str().unwrap(), "serve"])
            .args(["--http", &format!("127.0.0.1:{port}")])
            .args(["--https", &format!("127.0.0.1:{sport}")])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("serve"),
    );
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening on http ")
    {
        assert!(t.elapsed() < Duration::from_secs(30), "agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = Clients::new(port, Some(sport));
    let r = c.pywbem(
        "s = pywbem.WBEMServer(conn)\n\
         def code(f):\n    try:\n        f(); return (0, '')\n    except pywbem.CIMError as e:\n        return (e.status_code, e.status_description)\n\
         svc = conn.EnumerateInstanceNames('DS_IIService')[0]\n\
         print(json.dumps({'brand': s.brand, 'interop': s.interop_ns,\n\
           'classes': len(conn.EnumerateClassNames(DeepInheritance=True)),\n\
           'sets': code(lambda: conn.EnumerateInstances('DS_IISet')),\n\
           'volumes': code(lambda: conn.EnumerateInstances('DS_StorageVolume')),\n\
           'create': code(lambda: conn.InvokeMethod('CreateIISet', svc, Name='x', Type=pywbem.Uint16(2), MasterVolume='/dev/a', ShadowVolume='/dev/b', BitmapVolume='/dev/c'))}))",
    );
    assert_eq!(r["brand"], "dsimage", "{r}");
    assert_eq!(r["interop"], "interop", "{r}");
    assert!(r["classes"].as_u64().unwrap() > 20, "{r}");
    for op in ["sets", "volumes", "create"] {
        assert_eq!(r[op][0], 1, "{op} should be CIM_ERR_FAILED: {r}");
        assert!(
            r[op][1]
                .as_str()
                .unwrap()
                .contains("device-mapper is unavailable"),
            "{op}: {r}"
        );
    }
    let w = c.wbemcli("ei", &[], "root/dsimage:DS_IISet", &[]);
    assert_ne!(w.status, 0, "{w:?}");
    assert!(w.stderr.contains("device-mapper is unavailable"), "{w:?}");
    let w = c.wbemcli("gc", &[], "root/dsimage:DS_IISet", &[]);
    assert_eq!(w.status, 0, "{w:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
