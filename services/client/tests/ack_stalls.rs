//! No Nagle / delayed-ACK stalls (docs/protocol.md 2.2a) against CPython's own server,
//! which sets no `TCP_NODELAY`: the client leaves ACKs to the kernel in
//! the steady state (they ride on the next request) and acknowledges at
//! once only when a reply is partly in or late. These tests time the two
//! shapes where a server holds data back for our ACK: a reply over
//! 16 KiB (CPython writes its header, then the payload) and replies
//! queued behind unacknowledged ones (a pipeline). Each would take about
//! 40 ms per call if our ACKs waited for the kernel's delayed-ACK timer.

mod common;

use common::{PyChild, KEY};
use mpcluster::{Manager, Value};
use std::time::{Duration, Instant};

const SERVER: &str = "\
from multiprocessing.managers import SyncManager
m = SyncManager(address=('127.0.0.1', 0), authkey=AUTHKEY)
server = m.get_server()
host, port = server.address
say(f'{host}:{port}')
server.serve_forever()
";

const CALLS: u32 = 40;

/// Far below `CALLS` delayed ACKs (40 x 40 ms), far above the real cost
/// even on a loaded machine.
const BUDGET: Duration = Duration::from_millis(800);

const BATCHES: u32 = 10;

/// Half of one delayed ACK per batch.
const PIPELINE_BUDGET: Duration = Duration::from_millis(200);

#[tokio::test]
async fn large_replies_and_pipelines_from_cpython_do_not_stall() {
    for python in common::pythons() {
        eprintln!("CPython server: {python}");
        let mut py = PyChild::spawn_with(&python, "127.0.0.1:0", SERVER);
        let addr = py.line().await;
        let m = Manager::connect(addr.as_str(), KEY).await.unwrap();
        let big = "z".repeat(40 * 1024);
        let v = m.value("u", &big).await.unwrap();
        let small = m.value("i", &1_i64).await.unwrap();
        // Warm the pool: the first call opens a connection.
        assert_eq!(v.get().await.unwrap(), big);

        let began = Instant::now();
        for _ in 0..CALLS {
            assert_eq!(v.get().await.unwrap().len(), big.len());
        }
        let large = began.elapsed();

        let began = Instant::now();
        for _ in 0..CALLS {
            assert_eq!(small.get().await.unwrap(), 1);
        }
        let plain = began.elapsed();

        // A pipeline would meet one delayed ACK per batch.
        let began = Instant::now();
        let mut pipe = m.pipeline();
        for _ in 0..BATCHES {
            for _ in 0..CALLS {
                pipe.call(&small, "get", vec![]);
            }
            let r = pipe.run().await.unwrap();
            assert!(r.iter().all(|v| v.as_ref().unwrap() == &Value::Int(1)));
        }
        let pipelined = began.elapsed();

        eprintln!(
            "  {CALLS} x 40 KiB: {large:?}, {CALLS} x small: {plain:?}, {BATCHES} pipelines: {pipelined:?}"
        );
        assert!(large < BUDGET, "large replies stalled: {large:?}");
        assert!(plain < BUDGET, "small replies stalled: {plain:?}");
        assert!(
            pipelined < PIPELINE_BUDGET,
            "a pipeline stalled: {pipelined:?}"
        );
    }
}
