//! References, tokens and connection errors against the real manager
//! binary: counts as CPython's server keeps them (docs/protocol.md 6.2), releases on
//! drop and when the manager handle goes, proxies reopened from tokens by
//! another manager handle, and distinct auth and connection failures.

mod common;

use common::{Server, KEY};
use mpcluster::{DictProxy, ListProxy, Manager, Proxy, RawProxy, Token, Value};
use std::time::Duration;

#[tokio::test]
async fn one_reference_per_proxy_released_on_drop() {
    let server = Server::start();
    let m = server.manager().await;
    assert_eq!(m.number_of_objects().await.unwrap(), 0);
    let l = m.list(&[1_i64]).await.unwrap();
    let d = m.dict::<i64, i64>(&[]).await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 2);
    assert!(m.debug_info().await.unwrap().contains(&l.token().id));
    // Clones share the reference.
    let l2 = l.clone();
    drop(l);
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 2);
    drop(l2);
    drop(d);
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 0);
}

#[tokio::test]
async fn dict_iterators_are_counted_and_released() {
    let server = Server::start();
    let m = server.manager().await;
    let d = m.dict(&[(1_i64, 1_i64)]).await.unwrap();
    let it = d.iter().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 2);
    // The iterator's reference is ours, not the serving connection's:
    // closing the pooled connections does not free it (docs/protocol.md 6.2).
    m.close_idle_connections();
    assert_eq!(it.next().await.unwrap(), Some(1));
    drop(it);
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 1);
}

#[tokio::test]
async fn tokens_reopen_in_another_manager_handle() {
    let server = Server::start();
    let a = server.manager().await;
    let b = Manager::connect(server.addr.as_str(), KEY).await.unwrap();
    let l = a.list(&["x".to_string()]).await.unwrap();
    // Tokens travel as JSON (or anything serde writes).
    let json = serde_json::to_string(l.token()).unwrap();
    let token: Token = serde_json::from_str(&json).unwrap();
    let there: ListProxy<String> = b.open(token).await.unwrap();
    there.push(&"y".to_string()).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec!["x", "y"]);
    assert_eq!(a.number_of_objects().await.unwrap(), 1);
    // Two references now: dropping the creator's keeps the object.
    drop(l);
    a.flush().await.unwrap();
    assert_eq!(there.len().await.unwrap(), 2);
    drop(there);
    b.flush().await.unwrap();
    assert_eq!(a.number_of_objects().await.unwrap(), 0);
    // A token of a disposed object cannot be reopened: incref is a
    // KeyError traceback.
    let gone = Token::from_value(&Value::tuple([
        Value::from("list"),
        mpcluster::Address::new("127.0.0.1", 1).to_value(),
        Value::from("zz"),
    ]))
    .unwrap();
    let gone = Token {
        address: a.address().clone(),
        ..gone
    };
    let err = a.open::<RawProxy>(gone).await.unwrap_err();
    assert!(err.is_remote("RemoteError"), "{err}");
}

#[tokio::test]
async fn dropping_the_last_manager_handle_releases_everything() {
    let server = Server::start();
    let observer = server.manager().await;
    {
        let m = server.manager().await;
        let _l = m.list(&[1_i64]).await.unwrap();
        let _q = m.queue::<i64>(0).await.unwrap();
        assert_eq!(observer.number_of_objects().await.unwrap(), 2);
        // `m` and the proxies drop here; the manager's runtime waits for
        // the decrefs before it goes.
    }
    assert_eq!(observer.number_of_objects().await.unwrap(), 0);
}

#[tokio::test]
async fn proxies_nest_inside_other_objects() {
    let server = Server::start();
    let m = server.manager().await;
    let inner = m.dict(&[("k".to_string(), 1_i64)]).await.unwrap();
    let outer = m.list::<Value>(&[]).await.unwrap();
    outer.push(&inner.to_py_value()).await.unwrap();
    drop(inner);
    m.flush().await.unwrap();
    // The list holds the dict alive; reading it back gives its token.
    let v = outer.get(0).await.unwrap();
    let token = Token::from_value(&v).expect("a proxy value");
    assert_eq!(token.typeid, "dict");
    let again: DictProxy<String, i64> = m.open(token).await.unwrap();
    assert_eq!(again.get(&"k".to_string()).await.unwrap(), Some(1));
}

#[tokio::test]
async fn auth_and_connection_errors_are_distinct() {
    let server = Server::start();
    let err = Manager::connect(server.addr.as_str(), b"wrong key")
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert!(
        err.to_string().contains("digest sent was rejected"),
        "{err}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Manager::builder(("127.0.0.1", port), KEY)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_connection(), "{err}");
    assert!(!err.is_auth());

    // A silent peer: the handshake times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _accept = tokio::spawn(async move {
        let (_s, _) = silent.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let err = Manager::builder(addr, KEY)
        .handshake_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            mpcluster::Error::Timeout {
                what: "handshake",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_lost_server_fails_calls_with_connection_errors() {
    let server = Server::start();
    let m = server.manager().await;
    let l = m.list(&[1_i64]).await.unwrap();
    assert_eq!(l.len().await.unwrap(), 1);
    drop(server);
    let err = l.len().await.unwrap_err();
    assert!(err.is_connection(), "{err}");
}

/// `ManagerBuilder::runtime`: calls run inside the caller's task. Objects,
/// pipelines and `#PROXY` results work as with an owned runtime; dropping
/// a call's future drops its connection (the server cancels the wait, and
/// nothing is lost); releases run as tasks that `flush` waits for.
#[tokio::test]
async fn calls_on_the_callers_runtime() {
    let server = Server::start();
    let m = Manager::builder(server.addr.as_str(), KEY)
        .runtime(tokio::runtime::Handle::current())
        .connect()
        .await
        .unwrap();
    let d = m.dict::<String, i64>(&[]).await.unwrap();
    d.insert(&"a".to_string(), &1).await.unwrap();
    let mut pipe = m.pipeline();
    pipe.call(&d, "__setitem__", vec![Value::from("b"), Value::Int(2)]);
    pipe.call(&d, "__len__", vec![]);
    let results = pipe.run().await.unwrap();
    assert_eq!(results[1].as_ref().ok(), Some(&Value::Int(2)));
    let it = d.iter().await.unwrap();
    assert_eq!(it.next().await.unwrap(), Some("a".to_string()));
    assert_eq!(m.number_of_objects().await.unwrap(), 2);

    let q = m.queue::<String>(0).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(200), q.get()).await;
    assert!(waited.is_err(), "get on an empty queue returned {waited:?}");
    // Give the server time to see that connection close and drop its wait
    // (a wait still running then would take the item for a dead client).
    tokio::time::sleep(Duration::from_millis(100)).await;
    q.put(&"kept".to_string()).await.unwrap();
    assert_eq!(q.get().await.unwrap(), "kept");

    drop((it, q));
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 1);
    drop(d);
    m.flush().await.unwrap();
    assert_eq!(m.number_of_objects().await.unwrap(), 0);
}
