//! `Queue`, `JoinableQueue` and named queues against the real manager
//! binary (docs/protocol.md 9.10, 10): FIFO order, `queue.Empty`/`queue.Full` with and
//! without timeouts, a blocking `get` woken by another task, `join`.

mod common;

use common::Server;
use mpcluster::{exc, Manager, Proxy, QueueProxy, Value};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Job {
    id: u32,
    url: String,
}

#[tokio::test]
async fn put_get_in_order_and_sizes() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<Job>(0).await.unwrap();
    assert!(q.is_empty().await.unwrap());
    assert!(!q.is_full().await.unwrap());
    for id in 0..3 {
        q.put(&Job {
            id,
            url: format!("u{id}"),
        })
        .await
        .unwrap();
    }
    assert_eq!(q.len().await.unwrap(), 3);
    assert!(q
        .try_put(&Job {
            id: 3,
            url: "u3".into()
        })
        .await
        .unwrap());
    q.put_nowait(&Job {
        id: 4,
        url: "u4".into(),
    })
    .await
    .unwrap();
    let mut ids = Vec::new();
    ids.push(q.get().await.unwrap().id);
    ids.push(q.try_get().await.unwrap().unwrap().id);
    ids.push(
        q.get_timeout(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap()
            .id,
    );
    ids.push(q.get_nowait().await.unwrap().id);
    ids.push(q.get().await.unwrap().id);
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    assert!(q.is_empty().await.unwrap());
}

#[tokio::test]
async fn empty_and_full_with_and_without_timeouts() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<i64>(1).await.unwrap();
    assert_eq!(q.try_get().await.unwrap(), None);
    let err = q.get_nowait().await.unwrap_err();
    assert!(err.is_remote(exc::QUEUE_EMPTY), "{err}");
    let started = Instant::now();
    assert_eq!(
        q.get_timeout(Duration::from_millis(200)).await.unwrap(),
        None
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(5),
        "{took:?}"
    );

    q.put(&1).await.unwrap();
    assert!(q.is_full().await.unwrap());
    assert!(!q.try_put(&2).await.unwrap());
    let err = q.put_nowait(&2).await.unwrap_err();
    assert!(err.is_remote(exc::QUEUE_FULL), "{err}");
    let started = Instant::now();
    assert!(!q.put_timeout(&2, Duration::from_millis(200)).await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_blocked_get_is_woken_by_another_task_and_does_not_block_others() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<String>(0).await.unwrap();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.get().await })
    };
    // While the get holds its connection, other calls on the same proxy
    // proceed on other pooled connections.
    let other = m.list::<i64>(&[]).await.unwrap();
    other.push(&1).await.unwrap();
    assert_eq!(q.len().await.unwrap(), 0);
    q.put(&"wake".to_string()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("get woke up")
        .unwrap()
        .unwrap();
    assert_eq!(got, "wake");
}

#[tokio::test]
async fn joinable_queue_join_waits_for_task_done() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.joinable_queue::<i64>(0).await.unwrap();
    q.put(&1).await.unwrap();
    q.put(&2).await.unwrap();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let joiner = {
        let q = q.clone();
        tokio::spawn(async move {
            q.join().await.unwrap();
            let _ = done_tx.send(());
        })
    };
    assert_eq!(q.get().await.unwrap(), 1);
    q.task_done().await.unwrap();
    assert_eq!(q.get().await.unwrap(), 2);
    // One item still open: join has not returned.
    assert!(done_rx.try_recv().is_err());
    q.task_done().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), joiner)
        .await
        .expect("join returned")
        .unwrap();
    let err = q.task_done().await.unwrap_err();
    assert!(err.is_remote(exc::VALUE_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("task_done() called too many times")
    );
}

#[tokio::test]
async fn named_queue_from_config_is_shared_between_managers() {
    let server = Server::start_with(&[], Some("[objects]\nget_queue = { kind = \"Queue\" }\n"));
    let producer = server.manager().await;
    let consumer = Manager::connect(server.addr.as_str(), common::KEY)
        .await
        .unwrap();
    let tx: QueueProxy<Job> = producer.get("get_queue").await.unwrap();
    let rx: QueueProxy<Job> = consumer.get("get_queue").await.unwrap();
    assert_eq!(tx.token().id, rx.token().id);
    assert_eq!(tx.token().typeid, "get_queue");
    let exposed = tx.raw().exposed().unwrap();
    assert!(exposed.iter().any(|m| m == "put"), "{exposed:?}");
    let job = Job {
        id: 1,
        url: "x".into(),
    };
    tx.put(&job).await.unwrap();
    assert_eq!(rx.get().await.unwrap(), job);
    // The named object survives all its references.
    drop((tx, rx));
    producer.flush().await.unwrap();
    consumer.flush().await.unwrap();
    let again: QueueProxy<Value> = producer.get("get_queue").await.unwrap();
    assert!(again.is_empty().await.unwrap());
    // An unknown typeid: KeyError traceback on the server, RemoteError here.
    let err = producer.get::<QueueProxy<Value>>("nope").await.unwrap_err();
    assert!(err.is_remote(exc::REMOTE_ERROR), "{err}");
    assert_eq!(err.remote().unwrap().traceback_type(), Some("KeyError"));
}

#[tokio::test]
async fn cancelling_a_blocked_get_loses_no_item() {
    let server = Server::start();
    let m = server.manager().await;
    let q = m.queue::<i64>(0).await.unwrap();
    // A timeout around the future cancels the request; the server sees
    // its connection close and stops waiting.
    let r = tokio::time::timeout(Duration::from_millis(100), q.get()).await;
    assert!(r.is_err());
    q.put(&42).await.unwrap();
    assert_eq!(
        q.get_timeout(Duration::from_secs(10)).await.unwrap(),
        Some(42)
    );
}
