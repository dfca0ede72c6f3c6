//! A producer and a consumer around a shared buffer, guarded by a shared
//! `Condition` (async API): the consumer waits until the buffer has items,
//! the producer appends and notifies. Both sides could as well run in
//! different processes or in Python (`manager.Condition()`).
//!
//! ```text
//! MPCLUSTER_AUTHKEY=secret mpcluster-manager &
//! MPCLUSTER_AUTHKEY=secret cargo run --example condition -- 5
//! ```

use mpcluster::{ConditionProxy, ListProxy, Manager};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("condition: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let items: i64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5);
    let address = std::env::var("MPCLUSTER_ADDRESS").unwrap_or_else(|_| "127.0.0.1:50000".into());
    let authkey = std::env::var("MPCLUSTER_AUTHKEY").map_err(|_| "set MPCLUSTER_AUTHKEY")?;
    let manager = Manager::connect(address.as_str(), authkey.as_bytes()).await?;
    let cond = manager.condition(None).await?;
    let buffer = manager.list::<i64>(&[]).await?;

    let consumer = tokio::spawn(consume(cond.clone(), buffer.clone(), items));
    for i in 0..items {
        let mut guard = cond.acquire().await?;
        buffer.push(&(i * i)).await?;
        guard.notify(1).await?;
        guard.release().await?;
    }
    let consumed = consumer.await??;
    println!("consumed {consumed:?}");
    Ok(())
}

async fn consume(
    cond: ConditionProxy,
    buffer: ListProxy<i64>,
    items: i64,
) -> mpcluster::Result<Vec<i64>> {
    let mut got = Vec::new();
    while (got.len() as i64) < items {
        let mut guard = cond.acquire().await?;
        let ready = guard
            .wait_for(
                || async { Ok(!buffer.is_empty().await?) },
                Some(Duration::from_secs(30)),
            )
            .await?;
        if !ready {
            return Err(mpcluster::Error::InvalidArgument("producer stalled".into()));
        }
        // Take everything that is there while holding the lock.
        while let Some(item) = buffer.pop().await? {
            got.push(item);
        }
        guard.release().await?;
    }
    got.sort_unstable();
    Ok(got)
}
