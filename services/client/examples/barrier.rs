//! Parties meeting at a shared `Barrier` (blocking API, one thread per
//! party; processes or Python parties work the same way): each party
//! prepares, waits for the others, and learns its arrival index.
//!
//! ```text
//! MPCLUSTER_AUTHKEY=secret mpcluster-manager &
//! MPCLUSTER_AUTHKEY=secret cargo run --example barrier -- 4
//! ```

use mpcluster::blocking::Manager;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("barrier: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let parties: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(3);
    let address = std::env::var("MPCLUSTER_ADDRESS").unwrap_or_else(|_| "127.0.0.1:50000".into());
    let authkey = std::env::var("MPCLUSTER_AUTHKEY").map_err(|_| "set MPCLUSTER_AUTHKEY")?;
    let manager = Manager::connect(address.as_str(), authkey.as_bytes())?;
    // A wait longer than this breaks the barrier for everybody.
    let barrier = manager.barrier(parties, Some(Duration::from_secs(30)))?;
    let ready = manager.list::<usize>(&[])?;

    let threads: Vec<_> = (0..parties)
        .map(|party| {
            let (barrier, ready) = (barrier.clone(), ready.clone());
            std::thread::spawn(move || -> mpcluster::Result<usize> {
                ready.push(&party)?;
                barrier.wait()
            })
        })
        .collect();
    let mut indices = Vec::new();
    for t in threads {
        indices.push(t.join().map_err(|_| "a party panicked")??);
    }
    indices.sort_unstable();
    println!(
        "{} parties passed; arrival indices {indices:?}",
        ready.len()?
    );
    Ok(())
}
