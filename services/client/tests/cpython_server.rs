//! The Rust client against CPython's own manager server (docs/protocol.md 5.9): the
//! machine's CPython serves a `SyncManager` (plus a `get_queue` typeid as
//! in the documentation's remote-manager example) and every proxy kind is
//! driven from Rust. This checks that the client only uses what a CPython
//! server understands: its handshake generation, fresh control
//! connections, `#PROXY` adoption, its pickles of arrays and namespaces,
//! and reference counts that return to zero.

mod common;

use common::{PyChild, KEY};
use mpcluster::{exc, Manager, Proxy, QueueProxy};
use std::time::Duration;

const SERVER: &str = "\
import queue
from multiprocessing.managers import SyncManager
the_queue = queue.Queue()
class M(SyncManager): pass
M.register('get_queue', callable=lambda: the_queue)
m = M(address=('127.0.0.1', 0), authkey=AUTHKEY)
server = m.get_server()
host, port = server.address
say(f'{host}:{port}')
server.serve_forever()
";

async fn cpython_server(python: &str) -> (PyChild, Manager) {
    // The prelude's ADDRESS is unused by the server script.
    let mut py = PyChild::spawn_with(python, "127.0.0.1:0", SERVER);
    let addr = py.line().await;
    let m = Manager::connect(addr.as_str(), KEY).await.unwrap();
    (py, m)
}

/// Runs `scenario` against a CPython server of each installed version.
macro_rules! for_each_python {
    ($name:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $name() {
            for python in common::pythons() {
                eprintln!("CPython server: {python}");
                $scenario(&python).await;
            }
        }
    };
}

for_each_python!(collections_against_cpython, collections);
for_each_python!(queues_and_sync_against_cpython, queues_and_sync);
for_each_python!(wrong_key_against_cpython_is_an_auth_error, wrong_key);

async fn collections(python: &str) {
    let (_py, m) = cpython_server(python).await;
    let l = m.list(&[3_i64, 1, 2]).await.unwrap();
    l.sort(false).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![1, 2, 3]);
    assert_eq!(l.slice(Some(1), None).await.unwrap(), vec![2, 3]);
    assert_eq!(l.reversed().await.unwrap(), vec![3, 2, 1]);
    let err = l.get(9).await.unwrap_err();
    assert!(err.is_remote(exc::INDEX_ERROR), "{err}");
    let mut it = l.iter();
    let mut n = 0;
    while it.next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);

    let d = m
        .dict(&[("a".to_string(), 1_i64), ("b".to_string(), 2)])
        .await
        .unwrap();
    assert_eq!(d.items().await.unwrap().len(), 2);
    let keys = d.iter().await.unwrap().collect_all().await.unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    let err = d.delete(&"zz".to_string()).await.unwrap_err();
    assert!(err.is_remote(exc::KEY_ERROR), "{err}");

    let ns = m.namespace().await.unwrap();
    ns.set("x", &5_i64).await.unwrap();
    assert_eq!(ns.get::<i64>("x").await.unwrap(), Some(5));
    assert_eq!(ns.get::<i64>("y").await.unwrap(), None);
    let attrs = ns.attributes().await.unwrap();
    assert_eq!(attrs.len(), 1);

    let v = m.value("i", &1_i64).await.unwrap();
    v.set(&2).await.unwrap();
    assert_eq!(v.get().await.unwrap(), 2);
    // CPython pickles arrays with `array._array_reconstructor`.
    let a = m.array("h", &[1_i64, -2, 3]).await.unwrap();
    assert_eq!(a.to_vec().await.unwrap(), vec![1, -2, 3]);
    assert_eq!(a.slice(Some(1), None).await.unwrap(), vec![-2, 3]);
    let f = m.array("f", &[0.5_f64]).await.unwrap();
    assert_eq!(f.to_vec().await.unwrap(), vec![0.5]);

    // Every reference goes back: the CPython server forgets every id.
    drop((l, d, ns, v, a, f, it));
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 0);
}

async fn queues_and_sync(python: &str) {
    let (_py, m) = cpython_server(python).await;
    let q: QueueProxy<String> = m.get("get_queue").await.unwrap();
    q.put(&"hello".to_string()).await.unwrap();
    assert_eq!(q.get().await.unwrap(), "hello");
    assert_eq!(
        q.get_timeout(Duration::from_millis(100)).await.unwrap(),
        None
    );
    let err = q.get_nowait().await.unwrap_err();
    assert!(err.is_remote(exc::QUEUE_EMPTY), "{err}");

    let rlock = m.rlock().await.unwrap();
    let g = rlock.acquire().await.unwrap();
    assert!(rlock
        .release()
        .await
        .unwrap_err()
        .is_remote(exc::RUNTIME_ERROR));
    g.release().await.unwrap();

    let cond = m.condition(None).await.unwrap();
    let flag = m.event().await.unwrap();
    let waiter = {
        let (cond, flag) = (cond.clone(), flag.clone());
        tokio::spawn(async move {
            let mut g = cond.acquire().await.unwrap();
            let ok = g
                .wait_for(|| flag.is_set(), Some(Duration::from_secs(20)))
                .await
                .unwrap();
            g.release().await.unwrap();
            ok
        })
    };
    {
        let mut g = cond.acquire().await.unwrap();
        flag.set().await.unwrap();
        g.notify_all().await.unwrap();
        g.release().await.unwrap();
    }
    assert!(tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .unwrap()
        .unwrap());

    let barrier = m.barrier(2, None).await.unwrap();
    let other = {
        let b = barrier.clone();
        tokio::spawn(async move { b.wait().await })
    };
    barrier.wait().await.unwrap();
    other.await.unwrap().unwrap();
    assert_eq!(barrier.parties().await.unwrap(), 2);
    let err = barrier
        .wait_timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.is_remote(exc::BROKEN_BARRIER), "{err}");

    let sem = m.bounded_semaphore(1).await.unwrap();
    sem.acquire().await.unwrap().release().await.unwrap();
    assert!(sem.release().await.unwrap_err().is_remote(exc::VALUE_ERROR));

    // `get_queue` stays alive in the server's closure; everything else is
    // released.
    drop((q, rlock, cond, flag, barrier, sem));
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 0);
    assert!(q_token_is_reusable(&m).await);
}

/// The named queue comes back with the same id (CPython keeps it in the
/// registered callable's closure, docs/protocol.md 10).
async fn q_token_is_reusable(m: &Manager) -> bool {
    let a: QueueProxy<String> = m.get("get_queue").await.unwrap();
    let b: QueueProxy<String> = m.get("get_queue").await.unwrap();
    a.token() == b.token()
}

async fn wrong_key(python: &str) {
    let mut py = PyChild::spawn_with(python, "127.0.0.1:0", SERVER);
    let addr = py.line().await;
    let err = Manager::connect(addr.as_str(), b"not the key")
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    // The server survives and serves the right key.
    Manager::connect(addr.as_str(), KEY).await.unwrap();
}
