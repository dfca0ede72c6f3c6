//! The blocking facade against the real manager binary, from plain
//! threads: the same objects and semantics as the async API, guards that
//! release before `drop` returns, iterators, and the refusal to block
//! inside an async runtime.

mod common;

use common::{Server, KEY};
use mpcluster::blocking::{Manager, QueueProxy};
use mpcluster::{exc, Error, Proxy};
use std::sync::mpsc;
use std::time::Duration;

fn connect(server: &Server) -> Manager {
    Manager::connect(server.addr.as_str(), KEY).unwrap()
}

#[test]
fn collections_and_iterators() {
    let server = Server::start();
    let m = connect(&server);
    let l = m.list(&[1_i64, 2, 3]).unwrap();
    l.push(&4).unwrap();
    assert_eq!(
        l.iter().collect::<Result<Vec<_>, _>>().unwrap(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(l.pop().unwrap(), Some(4));
    let err = l.get(10).unwrap_err();
    assert!(err.is_remote(exc::INDEX_ERROR), "{err}");

    let d = m
        .dict(&[("a".to_string(), 1_i64), ("b".to_string(), 2)])
        .unwrap();
    let keys: Vec<String> = d.iter().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    assert_eq!(d.get(&"b".to_string()).unwrap(), Some(2));

    let ns = m.namespace().unwrap();
    ns.set("flag", &true).unwrap();
    assert_eq!(ns.get::<bool>("flag").unwrap(), Some(true));
    let v = m.value("d", &0.5_f64).unwrap();
    v.set(&1.5).unwrap();
    assert_eq!(v.get().unwrap(), 1.5);
    let a = m.array("b", &[1_i64, -1]).unwrap();
    assert_eq!(
        a.iter().collect::<Result<Vec<_>, _>>().unwrap(),
        vec![1, -1]
    );
    assert_eq!(a.to_vec().unwrap(), vec![1, -1]);
}

#[test]
fn queue_between_threads() {
    let server = Server::start();
    let m = connect(&server);
    let q = m.queue::<String>(0).unwrap();
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || (0..3).map(|_| q.get().unwrap()).collect::<Vec<_>>())
    };
    for word in ["a", "b", "c"] {
        q.put(&word.to_string()).unwrap();
    }
    assert_eq!(consumer.join().unwrap(), vec!["a", "b", "c"]);
    assert_eq!(q.try_get().unwrap(), None);
    assert_eq!(q.get_timeout(Duration::from_millis(50)).unwrap(), None);
}

#[test]
fn dropped_guard_releases_before_drop_returns() {
    let server = Server::start();
    let m = connect(&server);
    let lock = m.lock().unwrap();
    let guard = lock.acquire().unwrap();
    assert!(lock.try_acquire().unwrap().is_none());
    drop(guard);
    // Synchronous release: no waiting needed.
    assert!(!lock.locked().unwrap());

    let rlock = m.rlock().unwrap();
    {
        let _g = rlock.acquire().unwrap();
        assert!(rlock.try_acquire().unwrap().is_none());
    }
    assert!(rlock.try_acquire().unwrap().is_some());
}

#[test]
fn condition_and_barrier_across_threads() {
    let server = Server::start();
    let m = connect(&server);
    let cond = m.condition(None).unwrap();
    let ready = m.value("i", &0_i64).unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let waiter = {
        let (cond, ready) = (cond.clone(), ready.clone());
        std::thread::spawn(move || {
            let mut g = cond.acquire().unwrap();
            started_tx.send(()).unwrap();
            g.wait_for(|| Ok(ready.get()? == 1), Some(Duration::from_secs(20)))
                .unwrap()
        })
    };
    started_rx.recv().unwrap();
    {
        let mut g = cond.acquire().unwrap();
        ready.set(&1).unwrap();
        g.notify_all().unwrap();
    }
    assert!(waiter.join().unwrap());

    let barrier = m.barrier(2, None).unwrap();
    let other = {
        let b = barrier.clone();
        std::thread::spawn(move || b.wait().unwrap())
    };
    let mine = barrier.wait().unwrap();
    let theirs = other.join().unwrap();
    let mut both = [mine, theirs];
    both.sort();
    assert_eq!(both, [0, 1]);

    let ev = m.event().unwrap();
    assert!(!ev.wait_timeout(Duration::from_millis(20)).unwrap());
    ev.set().unwrap();
    ev.wait().unwrap();
}

#[test]
fn named_objects_tokens_and_references() {
    let server = Server::start_with(&[], Some("[objects]\nget_queue = { kind = \"Queue\" }\n"));
    let m = connect(&server);
    let q: QueueProxy<i64> = m.get("get_queue").unwrap();
    q.put(&5).unwrap();
    let other = connect(&server);
    let reopened: QueueProxy<i64> = other.open(q.token().clone()).unwrap();
    assert_eq!(reopened.get().unwrap(), 5);
    let l = m.list(&[0_i64]).unwrap();
    assert_eq!(m.number_of_objects().unwrap(), 2);
    drop(l);
    m.flush().unwrap();
    assert_eq!(m.number_of_objects().unwrap(), 1);
}

#[test]
fn blocking_calls_are_refused_inside_a_runtime() {
    let server = Server::start();
    let m = connect(&server);
    let l = m.list(&[1_i64]).unwrap();
    let lock = m.lock().unwrap();
    let blocking_guard = lock.acquire().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(matches!(l.len(), Err(Error::BlockingInAsync)));
        // The async API on the same objects works there.
        assert_eq!(l.as_async().len().await.unwrap(), 1);
        // A blocking guard dropped in async code releases in the
        // background instead of blocking (or failing).
        drop(blocking_guard);
        let g = lock.as_async().acquire().await.unwrap();
        g.release().await.unwrap();
    });
    m.flush().unwrap();
    assert!(!lock.locked().unwrap());
    assert!(Manager::connect(server.addr.as_str(), b"bad")
        .unwrap_err()
        .is_auth());
}
