//! `Pipeline`: calls written ahead of their replies on one connection,
//! against the real manager binary and against CPython's own server (which
//! defines the answer: it reads, calls and replies strictly in order).
//! Covers result order, per-call errors, a batch larger than the socket
//! buffers, blocking calls holding the batch, `#PROXY` results, a broken
//! connection and the blocking facade.

mod common;

use common::{PyChild, Server, KEY};
use mpcluster::{exc, Error, Manager, Value};
use std::time::{Duration, Instant};

fn s(text: &str) -> Value {
    Value::from(text)
}

/// Results in call order, remote errors in their own slots, later calls
/// still executed; the same on any server.
async fn order_and_errors(m: &Manager) {
    let d = m.dict::<String, i64>(&[]).await.unwrap();
    let l = m.list::<i64>(&[]).await.unwrap();
    let mut pipe = m.pipeline();
    for i in 0..50 {
        pipe.call(&l, "append", vec![Value::Int(i)]);
    }
    pipe.call(&d, "__setitem__", vec![s("a"), Value::Int(1)])
        .call(&d, "__getitem__", vec![s("missing")])
        .call(&d, "__getitem__", vec![s("a")])
        .call(&l, "no_such_method", vec![])
        .call(&d, "__setitem__", vec![s("a"), Value::Int(2)])
        .call(&d, "__getitem__", vec![s("a")])
        .call(&l, "__len__", vec![]);
    assert_eq!(pipe.len(), 57);
    let r = pipe.run().await.unwrap();
    assert!(pipe.is_empty());
    assert_eq!(r.len(), 57);
    for (i, slot) in r.iter().take(50).enumerate() {
        assert_eq!(slot.as_ref().unwrap(), &Value::None, "append #{i}");
    }
    assert_eq!(r[50].as_ref().unwrap(), &Value::None);
    let missing = r[51].as_ref().unwrap_err();
    assert!(missing.is_remote(exc::KEY_ERROR), "{missing}");
    assert_eq!(r[52].as_ref().unwrap(), &Value::Int(1));
    // Not exposed: `#TRACEBACK`, a RemoteError in a CPython client.
    let unexposed = r[53].as_ref().unwrap_err();
    assert!(unexposed.is_remote(exc::REMOTE_ERROR), "{unexposed}");
    assert_eq!(r[54].as_ref().unwrap(), &Value::None);
    // The set after the errors ran, and ran before this get.
    assert_eq!(r[55].as_ref().unwrap(), &Value::Int(2));
    assert_eq!(r[56].as_ref().unwrap(), &Value::Int(50));
    // Executed in order: the appends landed as sent.
    assert_eq!(l.to_vec().await.unwrap(), (0..50).collect::<Vec<_>>());

    // The pipeline refills, and the connection went back to a usable pool.
    pipe.call(&d, "__len__", vec![]);
    assert_eq!(
        pipe.run().await.unwrap()[0].as_ref().unwrap(),
        &Value::Int(1)
    );
    assert_eq!(d.len().await.unwrap(), 1);
    assert!(pipe.run().await.unwrap().is_empty());
}

#[tokio::test]
async fn results_keep_call_order_and_errors_stay_in_their_slot() {
    let server = Server::start();
    let m = server.manager().await;
    order_and_errors(&m).await;
}

#[tokio::test]
async fn a_batch_larger_than_the_socket_buffers_does_not_deadlock() {
    let server = Server::start();
    let m = server.manager().await;
    let d = m.dict::<String, String>(&[]).await.unwrap();
    // Big requests and big replies: writing everything before reading
    // would leave both sides blocked on full buffers.
    let big = "y".repeat(32 * 1024);
    let mut pipe = m.pipeline();
    for i in 0..1000 {
        pipe.call(
            &d,
            "setdefault",
            vec![Value::from(format!("k{i}")), s(&big)],
        );
    }
    let r = tokio::time::timeout(Duration::from_secs(60), pipe.run())
        .await
        .expect("the batch finished")
        .unwrap();
    assert_eq!(r.len(), 1000);
    assert!(r.iter().all(|v| v.as_ref().unwrap() == &s(&big)));
    assert_eq!(d.len().await.unwrap(), 1000);
}

#[tokio::test]
async fn a_blocking_call_holds_the_calls_behind_it() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<i64>(0).await.unwrap();
    // The `put` that would feed the `get` comes after it: the server
    // answers in order, so the `get` times out first (CPython does the same).
    let mut pipe = m.pipeline();
    pipe.call(&q, "get", vec![Value::Bool(true), Value::Float(0.3)])
        .call(&q, "put", vec![Value::Int(7)])
        .call(&q, "qsize", vec![]);
    let began = Instant::now();
    let r = pipe.run().await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(r[0].as_ref().unwrap_err().is_remote(exc::QUEUE_EMPTY));
    assert_eq!(r[1].as_ref().unwrap(), &Value::None);
    assert_eq!(r[2].as_ref().unwrap(), &Value::Int(1));

    // A `get` without timeout waits for another connection's `put`; the
    // call behind it is answered only afterwards.
    let mut pipe = m.pipeline();
    pipe.call(&q, "get", vec![])
        .call(&q, "get", vec![])
        .call(&q, "qsize", vec![]);
    let feeder = {
        let q = q.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            q.put(&8).await.unwrap();
        })
    };
    let began = Instant::now();
    let r = pipe.run().await.unwrap();
    feeder.await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(200));
    let got: Vec<&Value> = r.iter().map(|v| v.as_ref().unwrap()).collect();
    assert_eq!(got, [&Value::Int(7), &Value::Int(8), &Value::Int(0)]);
}

#[tokio::test]
async fn proxy_results_are_refused_and_released() {
    let server = Server::start();
    let m = server.manager().await;
    let d = m.dict(&[("a".to_string(), 1_i64)]).await.unwrap();
    let before = m.number_of_objects().await.unwrap();
    let mut pipe = m.pipeline();
    pipe.call(&d, "__iter__", vec![])
        .call(&d, "__len__", vec![]);
    let r = pipe.run().await.unwrap();
    let err = r[0].as_ref().unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    assert!(err.to_string().contains("call_proxy"), "{err}");
    assert_eq!(r[1].as_ref().unwrap(), &Value::Int(1));
    // The iterator the server made is gone again.
    assert_eq!(m.number_of_objects().await.unwrap(), before);
}

#[tokio::test]
async fn calls_to_two_managers_are_refused_before_sending() {
    let (one, two) = (Server::start(), Server::start());
    let (m1, m2) = (one.manager().await, two.manager().await);
    let here = m1.list::<i64>(&[]).await.unwrap();
    let there = m2.list::<i64>(&[]).await.unwrap();
    let mut pipe = m1.pipeline();
    pipe.call(&here, "append", vec![Value::Int(1)])
        .call(&there, "append", vec![Value::Int(2)]);
    let err = pipe.run().await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(here.to_vec().await.unwrap().is_empty());
    assert!(there.to_vec().await.unwrap().is_empty());
    // The refused batch left nothing behind.
    pipe.call(&here, "append", vec![Value::Int(3)]);
    pipe.run().await.unwrap();
    assert_eq!(here.to_vec().await.unwrap(), vec![3]);
}

#[tokio::test]
async fn a_broken_connection_fails_the_whole_batch() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<i64>(0).await.unwrap();
    let mut pipe = m.pipeline();
    pipe.call(&q, "qsize", vec![]).call(&q, "get", vec![]);
    let run = tokio::spawn(async move { pipe.run().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(server); // kills the manager
    let err = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the batch ended")
        .unwrap()
        .unwrap_err();
    assert!(err.is_connection(), "{err}");
}

#[test]
fn the_blocking_facade_pipelines_too() {
    let server = Server::start();
    let m = mpcluster::blocking::Manager::connect(server.addr.as_str(), KEY).unwrap();
    let q = m.queue::<i64>(0).unwrap();
    let mut pipe = m.pipeline();
    for i in 0..16 {
        pipe.call(&q, "put", vec![Value::Int(i)]);
    }
    pipe.call(&q, "get_nowait", vec![]);
    let r = pipe.run().unwrap();
    assert_eq!(r.len(), 17);
    assert_eq!(r[16].as_ref().unwrap(), &Value::Int(0));
    assert_eq!(q.len().unwrap(), 15);
}

const CPYTHON_SERVER: &str = "\
from multiprocessing.managers import SyncManager
m = SyncManager(address=('127.0.0.1', 0), authkey=AUTHKEY)
server = m.get_server()
host, port = server.address
say(f'{host}:{port}')
server.serve_forever()
";

#[tokio::test]
async fn cpython_servers_answer_a_pipeline_the_same_way() {
    for python in common::pythons() {
        eprintln!("CPython server: {python}");
        let mut py = PyChild::spawn_with(&python, "127.0.0.1:0", CPYTHON_SERVER);
        let addr = py.line().await;
        let m = Manager::connect(addr.as_str(), KEY).await.unwrap();
        order_and_errors(&m).await;
        // A `#PROXY` result is released on CPython's server too (it would
        // keep the iterator forever otherwise).
        let d = m.dict(&[("a".to_string(), 1_i64)]).await.unwrap();
        let mut pipe = m.pipeline();
        pipe.call(&d, "__iter__", vec![]);
        assert!(pipe.run().await.unwrap()[0].is_err());
        drop(d);
        m.flush().await.unwrap();
        assert_eq!(m.number_of_objects().await.unwrap(), 0);
    }
}
