//! The documentation's "Using a remote manager" example with a Rust client:
//! one shared queue, served under the name `get_queue`, that producers and
//! consumers on any host (Rust or Python) reach by address and authkey.
//!
//! Serve the queue (a named object from a TOML file):
//!
//! ```text
//! printf '[objects]\nget_queue = { kind = "Queue" }\n' > queue.toml
//! MPCLUSTER_AUTHKEY=abracadabra mpcluster-manager --bind 0.0.0.0:50000 --config queue.toml
//! ```
//!
//! Then, on any host:
//!
//! ```text
//! export MPCLUSTER_ADDRESS=server:50000 MPCLUSTER_AUTHKEY=abracadabra
//! cargo run --example remote_queue -- put hello world   # two items
//! cargo run --example remote_queue -- get 2             # prints 'hello', 'world'
//! ```
//!
//! A Python consumer of the same queue is the documentation's client half:
//! `QueueManager.register('get_queue')`, `connect()`, `m.get_queue().get()`.
//! Items print as Python `repr`s, so whatever Python puts can be read here.

use mpcluster::blocking::{Manager, QueueProxy};
use mpcluster::Value;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote_queue: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = std::env::var("MPCLUSTER_ADDRESS").unwrap_or_else(|_| "127.0.0.1:50000".into());
    let authkey = std::env::var("MPCLUSTER_AUTHKEY").map_err(|_| "set MPCLUSTER_AUTHKEY")?;
    let manager = Manager::connect(address.as_str(), authkey.as_bytes())?;
    let queue: QueueProxy<Value> = manager.get("get_queue")?;
    match args.split_first() {
        Some((cmd, items)) if cmd == "put" => {
            for item in items {
                queue.put(&Value::from(item.as_str()))?;
            }
        }
        Some((cmd, rest)) if cmd == "get" => {
            let n: usize = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(1);
            for _ in 0..n {
                match queue.get_timeout(Duration::from_secs(60))? {
                    Some(item) => println!("{}", item.repr()),
                    None => return Err("no item within 60 s".into()),
                }
            }
        }
        _ => return Err("usage: remote_queue put ITEM... | remote_queue get [N]".into()),
    }
    Ok(())
}
