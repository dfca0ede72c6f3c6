//! A dict shared by several processes, as in the documentation's
//! `Manager()` example: the parent creates a dict and a lock, starts worker
//! processes, and hands them the objects' tokens; each worker reopens them
//! and updates the dict under the lock.
//!
//! ```text
//! MPCLUSTER_AUTHKEY=secret mpcluster-manager &
//! MPCLUSTER_AUTHKEY=secret cargo run --example shared_dict -- 4
//! ```
//!
//! The workers are this same program started with `worker ...` arguments;
//! tokens travel as JSON on their command line (a token holds no
//! reference, so the parent keeps its proxies until the workers are done).

use mpcluster::blocking::{AcquirerProxy, DictProxy, Manager};
use mpcluster::{Proxy, Token};
use std::process::{Command, ExitCode};

const ROUNDS: i64 = 25;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shared_dict: {e}");
            ExitCode::FAILURE
        }
    }
}

fn connect() -> Result<Manager, Box<dyn std::error::Error>> {
    let address = std::env::var("MPCLUSTER_ADDRESS").unwrap_or_else(|_| "127.0.0.1:50000".into());
    let authkey = std::env::var("MPCLUSTER_AUTHKEY").map_err(|_| "set MPCLUSTER_AUTHKEY")?;
    Ok(Manager::connect(address.as_str(), authkey.as_bytes())?)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, name, dict, lock] if cmd == "worker" => worker(name, dict, lock),
        [] => parent(3),
        [n] => parent(n.parse()?),
        _ => Err("usage: shared_dict [WORKERS]".into()),
    }
}

fn parent(workers: usize) -> Result<(), Box<dyn std::error::Error>> {
    let manager = connect()?;
    let counts: DictProxy<String, i64> = manager.dict(&[("total".to_string(), 0)])?;
    let lock = manager.lock()?;
    let dict_token = serde_json::to_string(counts.token())?;
    let lock_token = serde_json::to_string(lock.token())?;
    let exe = std::env::current_exe()?;
    let children = (0..workers)
        .map(|i| {
            Command::new(&exe)
                .args(["worker", &format!("worker-{i}"), &dict_token, &lock_token])
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut child in children {
        if !child.wait()?.success() {
            return Err("a worker failed".into());
        }
    }
    for (name, n) in counts.items()? {
        println!("{name} = {n}");
    }
    Ok(())
}

fn worker(name: &str, dict: &str, lock: &str) -> Result<(), Box<dyn std::error::Error>> {
    let manager = connect()?;
    let counts: DictProxy<String, i64> = manager.open(serde_json::from_str::<Token>(dict)?)?;
    let lock: AcquirerProxy = manager.open(serde_json::from_str::<Token>(lock)?)?;
    let total = "total".to_string();
    for _ in 0..ROUNDS {
        // Read-modify-write of two keys: only safe under the lock.
        let _guard = lock.acquire()?;
        let now = counts.get(&total)?.unwrap_or(0);
        counts.insert(&total, &(now + 1))?;
        let mine = counts.get(&name.to_string())?.unwrap_or(0);
        counts.insert(&name.to_string(), &(mine + 1))?;
    }
    Ok(())
}
