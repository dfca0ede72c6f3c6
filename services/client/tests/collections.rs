//! `list`, `dict`, `Namespace`, `Value` and `Array` proxies against the
//! real manager binary: every method, with the answers and exceptions
//! CPython gives for the same operations (docs/protocol.md 9.1-9.5).

mod common;

use common::Server;
use mpcluster::{exc, Proxy, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[tokio::test]
async fn list_methods() {
    let server = Server::start();
    let m = server.manager().await;
    let l = m.list(&[3_i64, 1, 2]).await.unwrap();
    assert_eq!(l.len().await.unwrap(), 3);
    l.push(&5).await.unwrap();
    l.extend(&[8, 1]).await.unwrap();
    l.insert(0, &9).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![9, 3, 1, 2, 5, 8, 1]);
    assert_eq!(l.get(-1).await.unwrap(), 1);
    assert_eq!(l.slice(Some(1), Some(3)).await.unwrap(), vec![3, 1]);
    assert_eq!(l.slice(None, Some(-5)).await.unwrap(), vec![9, 3]);
    assert_eq!(l.count(&1).await.unwrap(), 2);
    assert_eq!(l.index(&2).await.unwrap(), 3);
    assert!(l.contains(&8).await.unwrap());
    assert!(!l.contains(&42).await.unwrap());
    l.set(0, &10).await.unwrap();
    l.delete(1).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![10, 1, 2, 5, 8, 1]);
    l.remove(&1).await.unwrap();
    assert_eq!(l.pop().await.unwrap(), Some(1));
    assert_eq!(l.pop_at(0).await.unwrap(), 10);
    assert_eq!(l.to_vec().await.unwrap(), vec![2, 5, 8]);
    l.reverse().await.unwrap();
    assert_eq!(l.reversed().await.unwrap(), vec![2, 5, 8]);
    l.sort(false).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![2, 5, 8]);
    l.sort(true).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![8, 5, 2]);
    assert_eq!(l.concat(&[1]).await.unwrap(), vec![8, 5, 2, 1]);
    assert_eq!(l.repeat(2).await.unwrap(), vec![8, 5, 2, 8, 5, 2]);
    l.repeat_in_place(2).await.unwrap();
    assert_eq!(l.len().await.unwrap(), 6);
    l.set_slice(Some(0), Some(3), &[7]).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![7, 8, 5, 2]);
    l.delete_slice(Some(1), Some(3)).await.unwrap();
    assert_eq!(l.to_vec().await.unwrap(), vec![7, 2]);

    let mut it = l.iter();
    let mut seen = Vec::new();
    while let Some(x) = it.next().await.unwrap() {
        seen.push(x);
    }
    assert_eq!(seen, vec![7, 2]);
    assert_eq!(it.next().await.unwrap(), None);

    l.clear().await.unwrap();
    assert!(l.is_empty().await.unwrap());
    assert_eq!(l.pop().await.unwrap(), None);
    assert_eq!(l.raw().py_repr().await.unwrap(), "[]");
}

#[tokio::test]
async fn list_errors_are_the_python_exceptions() {
    let server = Server::start();
    let m = server.manager().await;
    let l = m.list(&[1_i64]).await.unwrap();
    let err = l.get(5).await.unwrap_err();
    assert!(err.is_remote(exc::INDEX_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("list index out of range")
    );
    let err = l.index(&9).await.unwrap_err();
    assert!(err.is_remote(exc::VALUE_ERROR), "{err}");
    assert_eq!(err.remote().unwrap().message(), Some("9 is not in list"));
    let err = l.remove(&9).await.unwrap_err();
    assert!(err.is_remote(exc::VALUE_ERROR), "{err}");
    // Mixed types sort as Python refuses to.
    let mixed = m.list(&[Value::from("a"), Value::Int(1)]).await.unwrap();
    let err = mixed.sort(false).await.unwrap_err();
    assert!(err.is_remote(exc::TYPE_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("'<' not supported between instances of 'int' and 'str'")
    );
    // A typed view of values of another type is a conversion error, not a
    // remote one.
    let err = m.list(&["x"]).await.unwrap();
    let as_ints = m
        .open::<mpcluster::ListProxy<i64>>(err.token().clone())
        .await
        .unwrap();
    let conv = as_ints.get(0).await.unwrap_err();
    assert!(matches!(conv, mpcluster::Error::Serde(_)), "{conv}");
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Job {
    id: u32,
    tags: Vec<String>,
    weight: Option<f64>,
}

#[tokio::test]
async fn dict_methods() {
    let server = Server::start();
    let m = server.manager().await;
    let d = m
        .dict(&[("a".to_string(), 1_i64), ("b".to_string(), 2)])
        .await
        .unwrap();
    let k = |s: &str| s.to_string();
    assert_eq!(d.len().await.unwrap(), 2);
    assert_eq!(d.get(&k("a")).await.unwrap(), Some(1));
    assert_eq!(d.get(&k("zz")).await.unwrap(), None);
    assert_eq!(d.get_or(&k("zz"), &7).await.unwrap(), 7);
    d.insert(&k("c"), &3).await.unwrap();
    assert!(d.contains_key(&k("c")).await.unwrap());
    assert_eq!(d.keys().await.unwrap(), vec![k("a"), k("b"), k("c")]);
    assert_eq!(d.values().await.unwrap(), vec![1, 2, 3]);
    assert_eq!(
        d.items().await.unwrap(),
        vec![(k("a"), 1), (k("b"), 2), (k("c"), 3)]
    );
    assert_eq!(d.set_default(&k("a"), &100).await.unwrap(), 1);
    assert_eq!(d.set_default(&k("d"), &4).await.unwrap(), 4);
    assert_eq!(d.remove(&k("d")).await.unwrap(), Some(4));
    assert_eq!(d.remove(&k("d")).await.unwrap(), None);
    assert_eq!(d.remove_or(&k("d"), &0).await.unwrap(), 0);
    d.update(&[(k("e"), 5), (k("a"), 10)]).await.unwrap();
    assert_eq!(d.pop_item().await.unwrap(), Some((k("e"), 5)));
    d.delete(&k("b")).await.unwrap();
    let err = d.delete(&k("b")).await.unwrap_err();
    assert!(err.is_remote(exc::KEY_ERROR), "{err}");
    assert_eq!(err.remote().unwrap().args, vec![Value::from("b")]);
    assert_eq!(d.copy().await.unwrap(), vec![(k("a"), 10), (k("c"), 3)]);
    let map: BTreeMap<String, i64> = d.to_map().await.unwrap();
    assert_eq!(map, BTreeMap::from([(k("a"), 10), (k("c"), 3)]));

    let it = d.iter().await.unwrap();
    assert_eq!(it.token().typeid, "Iterator");
    assert_eq!(it.collect_all().await.unwrap(), vec![k("a"), k("c")]);
    assert_eq!(it.next().await.unwrap(), None);

    d.clear().await.unwrap();
    assert!(d.is_empty().await.unwrap());
    assert_eq!(d.pop_item().await.unwrap(), None);
}

#[tokio::test]
async fn dict_iteration_detects_changes_and_structs_round_trip() {
    let server = Server::start();
    let m = server.manager().await;
    let d = m.dict(&[(1_i64, 1_i64), (2, 2)]).await.unwrap();
    let it = d.iter().await.unwrap();
    assert_eq!(it.next().await.unwrap(), Some(1));
    d.insert(&3, &3).await.unwrap();
    let err = it.next().await.unwrap_err();
    assert!(err.is_remote(exc::RUNTIME_ERROR), "{err}");
    assert_eq!(
        err.remote().unwrap().message(),
        Some("dictionary changed size during iteration")
    );

    let job = Job {
        id: 7,
        tags: vec!["x".into()],
        weight: None,
    };
    let jobs = m.dict(&[(7_u32, job.clone())]).await.unwrap();
    assert_eq!(jobs.get(&7).await.unwrap(), Some(job));
    // Python keys: 1 == 1.0 == True.
    let raw = m
        .dict(&[(Value::Int(1), Value::from("one"))])
        .await
        .unwrap();
    assert_eq!(
        raw.get(&Value::Float(1.0)).await.unwrap(),
        Some(Value::from("one"))
    );
    assert_eq!(
        raw.get(&Value::Bool(true)).await.unwrap(),
        Some(Value::from("one"))
    );
}

#[tokio::test]
async fn namespace_value_and_array() {
    let server = Server::start();
    let m = server.manager().await;

    let ns = m.namespace().await.unwrap();
    ns.set("x", &1_i64).await.unwrap();
    ns.set("name", "alice").await.unwrap();
    assert_eq!(ns.get::<i64>("x").await.unwrap(), Some(1));
    assert_eq!(
        ns.get::<String>("name").await.unwrap(),
        Some("alice".into())
    );
    assert_eq!(ns.get::<i64>("missing").await.unwrap(), None);
    let attrs = ns.attributes().await.unwrap();
    assert_eq!(attrs.len(), 2);
    #[derive(Deserialize, Debug, PartialEq)]
    struct Both {
        x: i64,
        name: String,
    }
    assert_eq!(
        ns.to_struct::<Both>().await.unwrap(),
        Both {
            x: 1,
            name: "alice".into()
        }
    );
    ns.delete("x").await.unwrap();
    let err = ns.delete("x").await.unwrap_err();
    assert!(err.is_remote(exc::ATTRIBUTE_ERROR), "{err}");
    assert_eq!(ns.raw().py_repr().await.unwrap(), "Namespace(name='alice')");

    let v = m.value("i", &5_i64).await.unwrap();
    assert_eq!(v.get().await.unwrap(), 5);
    v.set(&6).await.unwrap();
    assert_eq!(v.get().await.unwrap(), 6);
    assert_eq!(v.raw().py_repr().await.unwrap(), "Value('i', 6)");

    let a = m.array("i", &[1_i64, 2, 3]).await.unwrap();
    assert_eq!(a.len().await.unwrap(), 3);
    assert_eq!(a.get(-1).await.unwrap(), 3);
    a.set(0, &-7).await.unwrap();
    assert_eq!(a.to_vec().await.unwrap(), vec![-7, 2, 3]);
    assert_eq!(a.slice(Some(1), None).await.unwrap(), vec![2, 3]);
    let mut it = a.iter();
    let mut seen = Vec::new();
    while let Some(x) = it.next().await.unwrap() {
        seen.push(x);
    }
    assert_eq!(seen, vec![-7, 2, 3]);
    let err = a.get(3).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().message(),
        Some("array index out of range")
    );
    let err = a.set(0, &(1_i64 << 40)).await.unwrap_err();
    assert!(err.is_remote(exc::OVERFLOW_ERROR), "{err}");
    let floats = m.array("d", &[0.5_f64, 1.5]).await.unwrap();
    assert_eq!(floats.to_vec().await.unwrap(), vec![0.5, 1.5]);
    let as_f = m
        .open::<mpcluster::ArrayProxy<f64>>(a.token().clone())
        .await
        .unwrap();
    let err = as_f.set(0, &1.5).await.unwrap_err();
    assert!(err.is_remote(exc::TYPE_ERROR), "{err}");
    // An invalid typecode fails in create: a RemoteError (traceback).
    let err = m.array("x", &[1_i64]).await.unwrap_err();
    assert!(err.is_remote(exc::REMOTE_ERROR), "{err}");
}

#[tokio::test]
async fn named_dict_serves_the_whole_dict_api() {
    // Spec 10: a named object answers with its kind's exposed list, so
    // the dunder-based methods work as on `manager.dict()`.
    let server = Server::start_with(&[], Some("[objects]\nget_dict = { kind = \"dict\" }\n"));
    let m = server.manager().await;
    let d: mpcluster::DictProxy<String, i64> = m.get("get_dict").await.unwrap();
    d.insert(&"k".to_string(), &1).await.unwrap();
    assert_eq!(d.get(&"k".to_string()).await.unwrap(), Some(1));
    assert!(d.contains_key(&"k".to_string()).await.unwrap());
    assert_eq!(d.len().await.unwrap(), 1);
    d.delete(&"k".to_string()).await.unwrap();
    assert!(d.is_empty().await.unwrap());
}
