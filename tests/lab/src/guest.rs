//! The host side of the labd protocol: one TCP connection per command,
//! through the QEMU port forward on 127.0.0.1.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::protocol::{Request, Response};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    Ok(s)
}

/// Runs a request and waits for its response, at most `wait` for a reply
/// (None: forever). While the guest boots, QEMU accepts the connection and
/// then closes it, which shows up here as UnexpectedEof.
pub(crate) fn call(port: u16, req: &Request, wait: Option<Duration>) -> io::Result<Response> {
    let s = connect(port)?;
    s.set_read_timeout(wait)?;
    let mut w = BufWriter::new(&s);
    req.write_to(&mut w)?;
    w.flush()?;
    drop(w);
    Response::read_from(&mut BufReader::new(&s))
}

/// Sends a request that ends the guest (reboot, poweroff): no reply comes.
pub(crate) fn fire(port: u16, cmd: &str) -> io::Result<()> {
    let s = connect(port)?;
    let req = Request {
        cmd: cmd.to_string(),
        stdin: Vec::new(),
        timeout: None,
    };
    req.write_to(&mut BufWriter::new(&s))?;
    // Give labd a moment to read it before the connection goes away.
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let _ = Response::read_from(&mut BufReader::new(&s));
    Ok(())
}
