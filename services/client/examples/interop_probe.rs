//! A small probe for the cross-language tests (`tests/python/test_rust_client.py`):
//! reads objects that Python processes created and holds, and reports
//! what it sees on stdout, one line per fact.
//!
//! ```text
//! interop_probe dict TYPEID      # a named dict, typed then untyped
//! interop_probe lock ID          # waits for the Lock with this id
//! ```
//!
//! Address and authkey come from `MPCLUSTER_ADDRESS` and
//! `MPCLUSTER_AUTHKEY`.

use mpcluster::blocking::{AcquirerProxy, DictProxy, Manager};
use mpcluster::{Token, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop_probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = std::env::var("MPCLUSTER_ADDRESS").map_err(|_| "set MPCLUSTER_ADDRESS")?;
    let authkey = std::env::var("MPCLUSTER_AUTHKEY").map_err(|_| "set MPCLUSTER_AUTHKEY")?;
    let manager = Manager::connect(address.as_str(), authkey.as_bytes())?;
    match args.as_slice() {
        [cmd, typeid] if cmd == "dict" => {
            let typed: DictProxy<String, i64> = manager.get(typeid)?;
            let map: BTreeMap<String, i64> = typed.to_map()?;
            say(&format!("typed {}", serde_json::to_string(&map)?));
            let untyped: DictProxy<Value, Value> = manager.get(typeid)?;
            let items: Vec<String> = untyped
                .items()?
                .iter()
                .map(|(k, v)| format!("{}: {}", k.repr(), v.repr()))
                .collect();
            say(&format!("untyped {{{}}}", items.join(", ")));
        }
        [cmd, id] if cmd == "lock" => {
            let token = Token {
                typeid: "Lock".into(),
                address: address.parse()?,
                id: id.clone(),
            };
            let lock: AcquirerProxy = manager.open(token)?;
            say("waiting");
            let guard = lock.acquire()?;
            say("acquired");
            guard.release()?;
            say("released");
        }
        _ => return Err("usage: interop_probe dict TYPEID | interop_probe lock ID".into()),
    }
    Ok(())
}
