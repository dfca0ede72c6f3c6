//! Rust and unmodified CPython clients sharing objects on the real
//! manager binary: a queue in both directions, a dict filled by Python
//! read from Rust (typed and untyped), proxies handed across in both
//! directions, and a lock held by Python blocking Rust until released.

mod common;

use common::{PyChild, Server};
use mpcluster::{DictProxy, ListProxy, Proxy, QueueProxy, Token, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

const NAMED: &str = "[objects]\nget_queue = { kind = \"Queue\" }\n";

/// Python's side of the remote-manager pattern (docs/protocol.md 10).
const QUEUE_MANAGER: &str = "\
from multiprocessing.managers import BaseManager, SyncManager
class QueueManager(SyncManager): pass
QueueManager.register('get_queue')
m = QueueManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()
q = m.get_queue()
";

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Job {
    id: u32,
    url: String,
    tags: Vec<String>,
}

#[tokio::test]
async fn rust_puts_python_gets_and_back() {
    let server = Server::start_with(&[], Some(NAMED));
    let m = server.manager().await;
    let q: QueueProxy<Job> = m.get("get_queue").await.unwrap();
    let mut py = PyChild::spawn(
        &server.addr,
        &format!(
            "{QUEUE_MANAGER}\
job = q.get(timeout=20)
assert job == {{'id': 7, 'url': 'https://example.org', 'tags': ['a', 'b']}}, job
q.put({{'id': job['id'] + 1, 'url': job['url'].upper(), 'tags': tuple(reversed(job['tags']))}})
say('done')
"
        ),
    );
    q.put(&Job {
        id: 7,
        url: "https://example.org".into(),
        tags: vec!["a".into(), "b".into()],
    })
    .await
    .unwrap();
    assert_eq!(py.line().await, "done");
    let back = q
        .get_timeout(Duration::from_secs(20))
        .await
        .unwrap()
        .unwrap();
    // A Python tuple reads as a Vec.
    assert_eq!(
        back,
        Job {
            id: 8,
            url: "HTTPS://EXAMPLE.ORG".into(),
            tags: vec!["b".into(), "a".into()],
        }
    );
    py.finish().await;
}

#[tokio::test]
async fn python_fills_a_dict_rust_reads_it_typed_and_untyped() {
    let server = Server::start_with(&[], Some(NAMED));
    let m = server.manager().await;
    let q: QueueProxy<Value> = m.get("get_queue").await.unwrap();
    let mut py = PyChild::spawn(
        &server.addr,
        &format!(
            "{QUEUE_MANAGER}\
d = m.dict()
d['apples'] = 3
d['pears'] = 5
d.update(plums=-1)
q.put(d)             # the proxy itself, as RebuildProxy(DictProxy, ...)
say('put')
hear()               # keep our reference until Rust holds its own
"
        ),
    );
    assert_eq!(py.line().await, "put");
    let v = q.get().await.unwrap();
    let token = Token::from_value(&v).expect("a pickled DictProxy");
    assert_eq!(token.typeid, "dict");
    let typed: DictProxy<String, i64> = m.open(token.clone()).await.unwrap();
    let untyped: DictProxy<Value, Value> = m.open(token).await.unwrap();
    py.send("bye").await;
    py.finish().await;
    // Python's references are gone; ours keep the dict alive.
    assert_eq!(
        typed.items().await.unwrap(),
        vec![
            ("apples".to_string(), 3),
            ("pears".to_string(), 5),
            ("plums".to_string(), -1)
        ]
    );
    let map: HashMap<String, i64> = typed.to_map().await.unwrap();
    assert_eq!(map["pears"], 5);
    assert_eq!(
        untyped.get(&Value::from("apples")).await.unwrap(),
        Some(Value::Int(3))
    );
    let keys = untyped.keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| matches!(k, Value::Str(_))));
}

#[derive(Serialize)]
struct Report {
    name: String,
    results: ListProxy<i64>,
}

#[tokio::test]
async fn rust_hands_a_proxy_to_python_inside_a_struct() {
    let server = Server::start_with(&[], Some(NAMED));
    let m = server.manager().await;
    let q: QueueProxy<Value> = m.get("get_queue").await.unwrap();
    let results = m.list(&[1_i64]).await.unwrap();
    let report = Report {
        name: "r1".into(),
        results: results.clone(),
    };
    // A struct is a dict; its proxy field becomes `RebuildProxy(ListProxy, ...)`.
    q.put(&mpcluster::to_value(&report).unwrap()).await.unwrap();
    let mut py = PyChild::spawn(
        &server.addr,
        &format!(
            "{QUEUE_MANAGER}\
report = q.get(timeout=20)
assert report['name'] == 'r1', report
lst = report['results']
assert type(lst).__name__ == 'ListProxy', type(lst)
lst.append(2)
say(repr(list(lst)))
"
        ),
    );
    assert_eq!(py.line().await, "[1, 2]");
    py.finish().await;
    assert_eq!(results.to_vec().await.unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn a_lock_held_by_python_blocks_rust_until_released() {
    let server = Server::start();
    let m = server.manager().await;
    let lock = m.lock().await.unwrap();
    let id = &lock.token().id;
    let mut py = PyChild::spawn(
        &server.addr,
        &format!(
            "\
from multiprocessing.managers import Token, AcquirerProxy
lock = AcquirerProxy(Token('Lock', ADDRESS, {id:?}), 'pickle', authkey=AUTHKEY)
lock.acquire()
say('held')
hear()
lock.release()
say('released')
hear()
"
        ),
    );
    assert_eq!(py.line().await, "held");
    assert!(lock.try_acquire().await.unwrap().is_none());
    let mut waiter = {
        let lock = lock.clone();
        tokio::spawn(async move { lock.acquire().await.map(|g| g.forget()) })
    };
    // Still held by Python.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut waiter)
            .await
            .is_err()
    );
    py.send("release").await;
    assert_eq!(py.line().await, "released");
    tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("Rust acquired after Python released")
        .unwrap()
        .unwrap();
    assert!(lock.locked().await.unwrap());
    lock.release().await.unwrap();
    py.send("bye").await;
    py.finish().await;
}
