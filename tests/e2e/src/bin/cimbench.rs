//! cimbench: requests per second and latency of CIM-XML operations against an agent.
//!
//! `cimbench --port P --user U --password W --op getclass|enuminst|invoke [--target NAME]
//!  [--clients N] [--seconds S] [--pid PID]` prints one line per run: operation, clients,
//! requests, requests/s, median and p99 latency, errors, and the agent's resident memory
//! before and after when `--pid` names the agent process on this host.
//! Keep-alive connections, one per client thread; std only, so the figures are the
//! agent's, not a client library's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn ns_xml(ns: &str) -> String {
    ns.split('/')
        .map(|p| format!("<NAMESPACE NAME=\"{p}\"/>"))
        .collect()
}

/// (CIMMethod, CIMObject, body) of one request.
fn request(op: &str, target: &str) -> (String, String, String) {
    let head = "<?xml version=\"1.0\" encoding=\"utf-8\" ?><CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\"><MESSAGE ID=\"1001\" PROTOCOLVERSION=\"1.0\"><SIMPLEREQ>";
    let tail = "</SIMPLEREQ></MESSAGE></CIM>";
    match op {
        "getclass" => (
            "GetClass".into(),
            "root%2Fdsimage".into(),
            format!("{head}<IMETHODCALL NAME=\"GetClass\"><LOCALNAMESPACEPATH>{}</LOCALNAMESPACEPATH><IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"DS_IISet\"/></IPARAMVALUE><IPARAMVALUE NAME=\"LocalOnly\"><VALUE>FALSE</VALUE></IPARAMVALUE></IMETHODCALL>{tail}", ns_xml("root/dsimage")),
        ),
        "enuminst" => {
            let (ns, class) = target.split_once(':').unwrap_or(("interop", target));
            (
                "EnumerateInstances".into(),
                ns.replace('/', "%2F"),
                format!("{head}<IMETHODCALL NAME=\"EnumerateInstances\"><LOCALNAMESPACEPATH>{}</LOCALNAMESPACEPATH><IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"{class}\"/></IPARAMVALUE></IMETHODCALL>{tail}", ns_xml(ns)),
            )
        }
        "invoke" => (
            "GetStatus".into(),
            format!("root%2Fdsimage%3ADS_IISet.Name%3D%22{target}%22"),
            format!("{head}<METHODCALL NAME=\"GetStatus\"><LOCALINSTANCEPATH><LOCALNAMESPACEPATH>{}</LOCALNAMESPACEPATH><INSTANCENAME CLASSNAME=\"DS_IISet\"><KEYBINDING NAME=\"Name\"><KEYVALUE VALUETYPE=\"string\">{target}</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH></METHODCALL>{tail}", ns_xml("root/dsimage")),
        ),
        other => panic!("unknown operation {other} (getclass, enuminst, invoke)"),
    }
}

/// Sends one request on a keep-alive connection; Ok(true) when the answer is a 200
/// without an ERROR element.
fn call(conn: &mut BufReader<TcpStream>, req: &[u8]) -> std::io::Result<bool> {
    conn.get_mut().write_all(req)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let ok_status = line.split_whitespace().nth(1) == Some("200");
    let mut len = None;
    let mut chunked = false;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse::<usize>().ok();
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            conn.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(len.unwrap_or(0), 0);
        conn.read_exact(&mut body)?;
    }
    Ok(ok_status && !String::from_utf8_lossy(&body).contains("<ERROR"))
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let port: u16 = get("--port").expect("--port").parse().expect("port");
    let user = get("--user").unwrap_or_else(|| "tester".into());
    let pass = get("--password").expect("--password");
    let op = get("--op").unwrap_or_else(|| "getclass".into());
    let target = get("--target").unwrap_or_else(|| "interop:CIM_Namespace".into());
    let clients: usize = get("--clients").map_or(1, |c| c.parse().expect("clients"));
    let secs: u64 = get("--seconds").map_or(5, |s| s.parse().expect("seconds"));
    let pid: Option<u32> = get("--pid").map(|p| p.parse().expect("pid"));

    let (method, object, body) = request(&op, &target);
    let req = format!(
        "POST /cimom HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/xml; charset=\"utf-8\"\r\nContent-Length: {}\r\nCIMOperation: MethodCall\r\nCIMMethod: {method}\r\nCIMObject: {object}\r\nAuthorization: Basic {}\r\n\r\n{body}",
        body.len(),
        b64(format!("{user}:{pass}").as_bytes())
    )
    .into_bytes();
    let rss_before = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let req = req.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .expect("timeout");
                let mut conn = BufReader::new(stream);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match call(&mut conn, &req) {
                        Ok(true) => lat.push(t.elapsed()),
                        Ok(false) => errors += 1,
                        Err(e) => panic!("request failed: {e}"),
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let start = Instant::now();
    let mut peak = rss_before;
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(200));
        peak = peak.max(rss_kib(pid));
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().expect("client thread");
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "op={op} clients={clients} requests={} rps={:.0} median_ms={:.2} p99_ms={:.2} errors={errors} rss_idle_kib={} rss_peak_kib={}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        rss_before.map_or("-".into(), |v| v.to_string()),
        peak.map_or("-".into(), |v| v.to_string()),
    );
    if all.is_empty() || errors > 0 {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_examples() {
        assert_eq!(super::b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::b64(b"fooba"), "Zm9vYmE=");
        assert_eq!(super::b64(b"foob"), "Zm9vYg==");
        assert_eq!(super::b64(b"f"), "Zg==");
    }
}
