//! `labd`: the exec daemon of the lab guest.
//!
//! Listens on TCP (default port 7000, or the first argument), runs each
//! request with `/bin/sh -c` in its own process group and answers with the
//! exit status and output (see `dsimage_lab::protocol`). One thread per
//! connection, so a long command does not hold up others.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use dsimage_lab::protocol::{Request, Response, LABD_PORT, STATUS_SPAWN_FAILED, STATUS_TIMEOUT};

/// After the shell exits, how long to keep collecting output from processes
/// it left behind holding the pipes (e.g. a daemon started with `&`).
const LINGER: Duration = Duration::from_secs(2);

fn main() {
    let port = match std::env::args().nth(1) {
        Some(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("usage: labd [PORT]");
            std::process::exit(2)
        }),
        None => LABD_PORT,
    };
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("labd: bind port {port}: {e}");
        std::process::exit(1)
    });
    eprintln!("labd: listening on port {port}");
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = serve(stream) {
                        eprintln!("labd: connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("labd: accept: {e}"),
        }
    }
}

fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let req = Request::read_from(&mut BufReader::new(&stream))?;
    let resp = run(req);
    resp.write_to(&mut BufWriter::new(&stream))
}

enum Event {
    Out(Vec<u8>),
    Err(Vec<u8>),
    OutEof,
    ErrEof,
    Exited(io::Result<ExitStatus>),
}

fn run(req: Request) -> Response {
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(&req.cmd)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own group, so a timeout kills the whole pipeline, not just sh.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Response {
                status: STATUS_SPAWN_FAILED,
                stdout: Vec::new(),
                stderr: format!("labd: spawn /bin/sh: {e}\n").into_bytes(),
            }
        }
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    feed_stdin(&mut child, req.stdin);
    pump(child.stdout.take(), tx.clone(), Event::Out, Event::OutEof);
    pump(child.stderr.take(), tx.clone(), Event::Err, Event::ErrEof);
    thread::spawn(move || {
        let _ = tx.send(Event::Exited(child.wait()));
    });
    collect(rx, pid, req.timeout)
}

fn feed_stdin(child: &mut Child, data: Vec<u8>) {
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes the pipe: ignore EPIPE.
        thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
}

fn pump(
    pipe: Option<impl Read + Send + 'static>,
    tx: Sender<Event>,
    data: fn(Vec<u8>) -> Event,
    eof: Event,
) {
    let Some(mut pipe) = pipe else {
        let _ = tx.send(eof);
        return;
    };
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(eof);
    });
}

fn collect(rx: Receiver<Event>, pid: u32, timeout: Option<Duration>) -> Response {
    let start = Instant::now();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let (mut out_open, mut err_open) = (true, true);
    let mut status: Option<i32> = None;
    let mut timed_out = false;
    let mut linger_until: Option<Instant> = None;
    while status.is_none() || out_open || err_open {
        let deadline = match (linger_until, timeout) {
            (Some(l), _) => Some(l),
            (None, Some(t)) if !timed_out => Some(start + t),
            _ => None,
        };
        let event = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match event {
            Ok(Event::Out(b)) => stdout.extend_from_slice(&b),
            Ok(Event::Err(b)) => stderr.extend_from_slice(&b),
            Ok(Event::OutEof) => out_open = false,
            Ok(Event::ErrEof) => err_open = false,
            Ok(Event::Exited(st)) => {
                status = Some(match st {
                    Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                    Err(_) => STATUS_SPAWN_FAILED,
                });
                linger_until = Some(Instant::now() + LINGER);
            }
            Err(RecvTimeoutError::Timeout) if linger_until.is_some() => break,
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                kill_group(pid);
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let mut status = status.unwrap_or(STATUS_SPAWN_FAILED);
    if timed_out {
        status = STATUS_TIMEOUT;
        let secs = timeout.unwrap_or_default().as_secs_f64();
        stderr.extend_from_slice(format!("labd: timed out after {secs:.1}s\n").as_bytes());
    }
    Response {
        status,
        stdout,
        stderr,
    }
}

/// SIGKILL to the command's process group. std has no kill(2) for a group
/// and the crate denies unsafe, so the shell's `kill` does it.
fn kill_group(pgid: u32) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -KILL -- -{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
