//! Locks, semaphores, `Condition`, `Event` and `Barrier` against the real
//! manager binary (docs/protocol.md 9.6-9.9): guards, ownership per connection,
//! blocking across tasks, and the Python exceptions of misuse.

mod common;

use common::Server;
use mpcluster::exc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const LONG: Duration = Duration::from_secs(20);

#[tokio::test]
async fn lock_blocks_another_task_until_the_guard_goes() {
    let server = Server::start();
    let m = server.manager().await;
    let lock = m.lock().await.unwrap();
    let guard = lock.acquire().await.unwrap();
    assert!(lock.locked().await.unwrap());
    assert!(lock.try_acquire().await.unwrap().is_none());
    assert!(lock
        .acquire_timeout(Duration::from_millis(100))
        .await
        .unwrap()
        .is_none());

    let (got_tx, mut got_rx) = oneshot::channel();
    let contender = {
        let lock = lock.clone();
        tokio::spawn(async move {
            let g = lock.acquire().await.unwrap();
            let _ = got_tx.send(());
            g.release().await.unwrap();
        })
    };
    // The contender cannot get it while we hold it.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut got_rx)
            .await
            .is_err()
    );
    drop(guard); // released in the background
    tokio::time::timeout(LONG, got_rx).await.unwrap().unwrap();
    contender.await.unwrap();
    assert!(!lock.locked().await.unwrap());

    let err = lock.release().await.unwrap_err();
    assert!(err.is_remote(exc::RUNTIME_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("release unlocked lock")
    );
}

#[tokio::test]
async fn a_plain_lock_may_be_released_from_elsewhere() {
    let server = Server::start();
    let m = server.manager().await;
    let lock = m.lock().await.unwrap();
    lock.acquire().await.unwrap().forget();
    assert!(lock.locked().await.unwrap());
    lock.release().await.unwrap();
    assert!(!lock.locked().await.unwrap());
}

#[tokio::test]
async fn rlock_belongs_to_the_guard_connection() {
    let server = Server::start();
    let m = server.manager().await;
    let rlock = m.rlock().await.unwrap();
    let guard = rlock.acquire().await.unwrap();
    // Another connection may not release it (CPython: another thread).
    let err = rlock.release().await.unwrap_err();
    assert!(err.is_remote(exc::RUNTIME_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("cannot release un-acquired lock")
    );
    assert!(rlock.try_acquire().await.unwrap().is_none());
    // The guard's own connection releases it.
    guard.release().await.unwrap();
    let again = rlock.try_acquire().await.unwrap();
    assert!(again.is_some());
}

#[tokio::test]
async fn semaphores_count_and_bounded_ones_refuse_over_release() {
    let server = Server::start();
    let m = server.manager().await;
    let sem = m.semaphore(2).await.unwrap();
    let a = sem.acquire().await.unwrap();
    let b = sem.acquire().await.unwrap();
    assert!(sem.try_acquire().await.unwrap().is_none());
    a.release().await.unwrap();
    let c = sem.try_acquire().await.unwrap().expect("one slot free");
    drop((b, c));

    let bounded = m.bounded_semaphore(1).await.unwrap();
    let g = bounded.acquire().await.unwrap();
    g.release().await.unwrap();
    let err = bounded.release().await.unwrap_err();
    assert!(err.is_remote(exc::VALUE_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("Semaphore released too many times")
    );
}

#[tokio::test]
async fn condition_producer_consumer_with_wait_for() {
    let server = Server::start();
    let m = server.manager().await;
    let cond = m.condition(None).await.unwrap();
    let items = m.list::<i64>(&[]).await.unwrap();

    let consumer = {
        let (cond, items) = (cond.clone(), items.clone());
        tokio::spawn(async move {
            let mut g = cond.acquire().await.unwrap();
            let ready = g
                .wait_for(|| async { Ok(items.len().await? >= 3) }, Some(LONG))
                .await
                .unwrap();
            let got = items.to_vec().await.unwrap();
            g.release().await.unwrap();
            (ready, got)
        })
    };
    for i in 0..3 {
        let mut g = cond.acquire().await.unwrap();
        items.push(&i).await.unwrap();
        g.notify_all().await.unwrap();
        g.release().await.unwrap();
    }
    let (ready, got) = tokio::time::timeout(LONG, consumer).await.unwrap().unwrap();
    assert!(ready);
    assert_eq!(got, vec![0, 1, 2]);
}

#[tokio::test]
async fn condition_timeouts_and_misuse() {
    let server = Server::start();
    let m = server.manager().await;
    let lock = m.lock().await.unwrap();
    let cond = m.condition(Some(&lock)).await.unwrap();
    let mut g = cond.acquire().await.unwrap();
    // The condition really uses the lock we passed (docs/protocol.md 6.3).
    assert!(lock.locked().await.unwrap());
    let started = Instant::now();
    assert!(!g.wait_timeout(Duration::from_millis(150)).await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(100));
    let never = g
        .wait_while(|| async { Ok(true) }, Some(Duration::from_millis(150)))
        .await
        .unwrap();
    assert!(!never);
    g.notify(1).await.unwrap();
    g.release().await.unwrap();
    assert!(!lock.locked().await.unwrap());

    // notify/wait without the lock: the raw call on a pooled connection.
    let err = cond.raw_notify_without_lock().await.unwrap_err();
    assert!(err.is_remote(exc::RUNTIME_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("cannot notify on un-acquired lock")
    );
}

/// `notify` outside a guard is not in the typed API; send it raw.
trait RawNotify {
    async fn raw_notify_without_lock(&self) -> mpcluster::Result<mpcluster::Value>;
}

impl RawNotify for mpcluster::ConditionProxy {
    async fn raw_notify_without_lock(&self) -> mpcluster::Result<mpcluster::Value> {
        use mpcluster::Proxy;
        self.raw()
            .call(
                "notify",
                vec![mpcluster::Value::Int(1)],
                mpcluster::Dict::new(),
            )
            .await
    }
}

#[tokio::test]
async fn event_wakes_every_waiter() {
    let server = Server::start();
    let m = server.manager().await;
    let ev = m.event().await.unwrap();
    assert!(!ev.is_set().await.unwrap());
    assert!(!ev.wait_timeout(Duration::from_millis(100)).await.unwrap());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let ev = ev.clone();
            tokio::spawn(async move { ev.wait().await })
        })
        .collect();
    ev.set().await.unwrap();
    for w in waiters {
        tokio::time::timeout(LONG, w)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    assert!(ev.is_set().await.unwrap());
    assert!(ev.wait_timeout(Duration::from_millis(10)).await.unwrap());
    ev.clear().await.unwrap();
    assert!(!ev.is_set().await.unwrap());
}

#[tokio::test]
async fn barrier_releases_all_parties_and_breaks_on_timeout() {
    let server = Server::start();
    let m = server.manager().await;
    let barrier = Arc::new(m.barrier(3, None).await.unwrap());
    assert_eq!(barrier.parties().await.unwrap(), 3);
    assert!(!barrier.broken().await.unwrap());
    let parties: Vec<_> = (0..3)
        .map(|_| {
            let b = barrier.clone();
            tokio::spawn(async move { b.wait().await })
        })
        .collect();
    let mut indices = Vec::new();
    for p in parties {
        indices.push(
            tokio::time::timeout(LONG, p)
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2]);
    assert_eq!(barrier.n_waiting().await.unwrap(), 0);

    let err = barrier
        .wait_timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is_remote(exc::BROKEN_BARRIER), "{err}");
    assert!(barrier.broken().await.unwrap());
    barrier.reset().await.unwrap();
    assert!(!barrier.broken().await.unwrap());
    barrier.abort().await.unwrap();
    let err = barrier.wait().await.unwrap_err();
    assert!(err.is_remote(exc::BROKEN_BARRIER), "{err}");

    let timed = m
        .barrier(2, Some(Duration::from_millis(100)))
        .await
        .unwrap();
    let err = timed.wait().await.unwrap_err();
    assert!(err.is_remote(exc::BROKEN_BARRIER), "{err}");
}

#[tokio::test]
async fn condition_wait_releases_the_lock_until_notified() {
    let server = Server::start();
    let m = server.manager().await;
    let cond = m.condition(None).await.unwrap();
    let (waiting_tx, waiting_rx) = oneshot::channel();
    let waiter = {
        let cond = cond.clone();
        tokio::spawn(async move {
            let mut g = cond.acquire().await.unwrap();
            let _ = waiting_tx.send(());
            g.wait().await.unwrap();
            // Holding the lock again after the wakeup.
            g.release().await.unwrap();
        })
    };
    waiting_rx.await.unwrap();
    // `wait` gave the lock up: we can take it (possibly after the waiter
    // entered `wait`, hence the timeout form).
    let mut g = cond
        .acquire_timeout(LONG)
        .await
        .unwrap()
        .expect("the waiting task released the lock");
    g.notify(1).await.unwrap();
    // The waiter needs the lock back to return: still ours.
    let mut waiter = waiter;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut waiter)
            .await
            .is_err()
    );
    assert!(cond.try_acquire().await.unwrap().is_none());
    g.release().await.unwrap();
    tokio::time::timeout(LONG, waiter).await.unwrap().unwrap();
    assert!(cond.try_acquire().await.unwrap().is_some());
}
