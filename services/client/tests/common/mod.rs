//! Test fixture: the real `mpcluster-manager` binary on a loopback port of
//! its own, killed when the fixture drops.
//!
//! The binary belongs to another package, so Cargo gives us no
//! `CARGO_BIN_EXE_` path; it is looked up in the target directory
//! (`CARGO_TARGET_DIR`, else `<workspace>/target`), and a missing binary
//! fails with the command that builds it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const KEY: &[u8] = b"mpcluster-client-test-key";

/// Where `cargo build -p mpcluster-manager` puts the binary.
pub fn server_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("debug").join("mpcluster-manager");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p mpcluster-manager` first",
        path.display()
    );
    path
}

/// A running manager.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The admin surface's `HOST:PORT` (token [`ADMIN_TOKEN`]).
    pub admin: Option<String>,
    _dir: Option<TempDir>,
}

/// The admin bearer token test managers use.
pub const ADMIN_TOKEN: &str = "mpcluster-client-test-admin";

impl Server {
    /// A manager with default flags.
    pub fn start() -> Server {
        Server::start_with(&[], None)
    }

    /// A manager with extra flags and, optionally, a named-objects TOML
    /// file (`--config`).
    pub fn start_with(flags: &[&str], config: Option<&str>) -> Server {
        let mut cmd = Command::new(server_binary());
        cmd.args(["--bind", "127.0.0.1:0", "--log", "warn"])
            .args(flags)
            .env("MPCLUSTER_AUTHKEY", std::str::from_utf8(KEY).unwrap())
            // The admin surface gets a free port of its own, so tests can
            // run side by side.
            .env("MPCLUSTER_ADMIN_BIND", "127.0.0.1:0")
            .env("MPCLUSTER_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let dir = config.map(|text| {
            let dir = TempDir::new("named");
            let path = dir.0.join("named.toml");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--config").arg(&path);
            dir
        });
        let mut child = cmd.spawn().expect("spawn mpcluster-manager");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut admin = None;
        let addr = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    // The admin line comes first when the admin is on.
                    if let Some(a) = line.trim().strip_prefix("mpcluster-manager admin on ") {
                        admin = Some(a.to_string());
                    }
                    let found = line.trim().strip_prefix("mpcluster-manager listening on ");
                    if let Some(addr) = found {
                        break Some(addr.to_string());
                    }
                }
                _ => break None,
            }
        };
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mpcluster-manager exited before listening");
        };
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        Server {
            child,
            addr,
            admin,
            _dir: dir,
        }
    }

    pub async fn manager(&self) -> mpcluster::Manager {
        mpcluster::Manager::connect(self.addr.as_str(), KEY)
            .await
            .expect("connect to the test manager")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mpcluster-client-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The CPython interpreter the interop tests run (`MPCLUSTER_PYTHON`, else
/// `python3` on `PATH`).
pub fn python() -> String {
    std::env::var("MPCLUSTER_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// The interpreters to run CPython servers with: `MPCLUSTER_PYTHON` alone
/// when set, else CPython 3.8, 3.11, 3.12 and 3.13 from pyenv (whichever
/// are installed; the handshake differs between 3.11 and 3.12), else
/// `python3`.
pub fn pythons() -> Vec<String> {
    if let Ok(p) = std::env::var("MPCLUSTER_PYTHON") {
        return vec![p];
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    let mut found = Vec::new();
    if let Some(versions) = root.map(|r| r.join("versions")) {
        let names: Vec<String> = std::fs::read_dir(&versions)
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        for want in ["3.8.", "3.11.", "3.12.", "3.13."] {
            let mut hits: Vec<&String> = names.iter().filter(|n| n.starts_with(want)).collect();
            hits.sort();
            if let Some(name) = hits.last() {
                let exe = versions.join(name).join("bin").join("python3");
                if exe.exists() {
                    found.push(exe.to_string_lossy().into_owned());
                }
            }
        }
    }
    if found.is_empty() {
        found.push(python());
    }
    found
}

/// A Python child process speaking line by line over stdin/stdout, killed
/// on drop.
pub struct PyChild {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl PyChild {
    /// Starts `python3 -c <prelude + code>`, where the prelude defines
    /// `ADDRESS` (a `(host, port)` tuple), `AUTHKEY`, sets the process
    /// authkey (nested proxies are rebuilt with it, docs/protocol.md 6.3) and offers
    /// `say(text)` and `hear()`.
    pub fn spawn(addr: &str, code: &str) -> PyChild {
        PyChild::spawn_with(&python(), addr, code)
    }

    /// [`PyChild::spawn`] with a given interpreter.
    pub fn spawn_with(python: &str, addr: &str, code: &str) -> PyChild {
        let (host, port) = addr.rsplit_once(':').unwrap();
        let prelude = format!(
            "import multiprocessing, sys\n\
             ADDRESS = ({host:?}, {port})\n\
             AUTHKEY = {key:?}.encode()\n\
             multiprocessing.current_process().authkey = AUTHKEY\n\
             def say(text):\n    print(text, flush=True)\n\
             def hear():\n    return sys.stdin.readline().strip()\n",
            key = std::str::from_utf8(KEY).unwrap(),
        );
        let mut child = tokio::process::Command::new(python)
            .arg("-c")
            .arg(format!("{prelude}{code}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} (set MPCLUSTER_PYTHON): {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        use tokio::io::AsyncBufReadExt;
        PyChild {
            child,
            stdin,
            lines: tokio::io::BufReader::new(stdout).lines(),
        }
    }

    /// The next line the script printed (fails on EOF or after 30 s).
    pub async fn line(&mut self) -> String {
        let next = tokio::time::timeout(std::time::Duration::from_secs(30), self.lines.next_line());
        match next.await {
            Ok(Ok(Some(line))) => line,
            other => panic!("python child gave no line: {other:?}"),
        }
    }

    /// Sends one line to the script's stdin.
    pub async fn send(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for a clean exit.
    pub async fn finish(mut self) {
        let status = tokio::time::timeout(std::time::Duration::from_secs(30), self.child.wait())
            .await
            .expect("python child exits")
            .unwrap();
        assert!(status.success(), "python child failed: {status}");
    }
}
