//! The real WBEM clients, run on the host against the agent in the lab VM: sblim
//! `wbemcli` (Debian) and `pywbem` / `pywbemcli` (the virtual environment that
//! `scripts/venv` makes).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Credentials the suites give the agent.
pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pw";

/// How to reach the agent from the host.
#[derive(Clone, Debug)]
pub struct Clients {
    pub http_port: u16,
    pub https_port: Option<u16>,
    venv_bin: PathBuf,
}

fn venv_bin() -> PathBuf {
    if let Ok(v) = std::env::var("DSIMAGE_VENV") {
        return PathBuf::from(v).join("bin");
    }
    dsimage_lab::workspace_root().join(".venv/bin")
}

/// Output of a client run.
#[derive(Clone, Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Clients {
    pub fn new(http_port: u16, https_port: Option<u16>) -> Clients {
        let venv_bin = venv_bin();
        assert!(
            venv_bin.join("python").exists(),
            "{} is missing: run scripts/venv",
            venv_bin.display()
        );
        Clients {
            http_port,
            https_port,
            venv_bin,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `wbemcli <op> [flags] http://user:pass@host:port/<path> [args]`.
    pub fn wbemcli(&self, op: &str, flags: &[&str], path: &str, args: &[&str]) -> Run {
        self.wbemcli_as(USER, PASSWORD, op, flags, path, args)
    }

    pub fn wbemcli_as(
        &self,
        user: &str,
        pass: &str,
        op: &str,
        flags: &[&str],
        path: &str,
        args: &[&str],
    ) -> Run {
        let url = format!("http://{user}:{pass}@127.0.0.1:{}/{path}", self.http_port);
        run(Command::new("wbemcli")
            .arg(op)
            .args(flags)
            .arg(url)
            .args(args))
    }

    /// Runs a Python snippet with `conn` (a `pywbem.WBEMConnection` to `root/dsimage`),
    /// `pywbem`, `json` and `URL`, `USER`, `PASSWORD` defined; the snippet prints one JSON
    /// document last, which is returned. Panics with the traceback if it fails.
    pub fn pywbem(&self, script: &str) -> Value {
        let r = self.pywbem_run(script);
        assert_eq!(r.status, 0, "pywbem script failed:\n{script}\n{}", r.stderr);
        let last = r.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("pywbem script printed no JSON ({e}): {}", r.stdout))
    }

    pub fn pywbem_run(&self, script: &str) -> Run {
        let prelude = format!(
            "import json, pywbem\nURL = {url:?}\nUSER = {USER:?}\nPASSWORD = {PASSWORD:?}\nconn = pywbem.WBEMConnection(URL, (USER, PASSWORD), default_namespace='root/dsimage', timeout=300)\n",
            url = self.url()
        );
        run(Command::new(self.venv_bin.join("python"))
            // A CA bundle from the environment would override pywbem's own settings
            // (no_verification for the agent's self-signed certificate).
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .arg("-c")
            .arg(format!("{prelude}{script}")))
    }

    /// `pywbemcli -s URL -u USER -p PASSWORD -d root/dsimage <args>`.
    pub fn pywbemcli(&self, args: &[&str]) -> Run {
        run(Command::new(self.venv_bin.join("pywbemcli"))
            .env("PYWBEMCLI_TERMWIDTH", "200")
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .args([
                "-s",
                &self.url(),
                "-u",
                USER,
                "-p",
                PASSWORD,
                "-d",
                "root/dsimage",
            ])
            .args(args))
    }
}
