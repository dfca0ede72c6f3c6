//! The admin surface end to end, in process: a manager and its admin
//! listener on port 0, objects created over the real data protocol (the
//! wire crate's handshake and pickles), then read back and acted on through
//! the HTTP JSON API (a raw HTTP/1.1 client over a `TcpStream`) and through
//! gRPC (the generated tonic client). Helpers live in `admin/support.rs`.

#[path = "admin/support.rs"]
mod support;

use mpcluster_manager::admin::grpc::pb;
use mpcluster_manager::admin::view::{AdminView, EventKind};
use mpcluster_wire::Value;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn http_lists_objects_with_types_refcounts_sizes_and_previews() {
    let r = start(&[]).await;
    let list = create(r.data, "list").await;
    let queue = create(r.data, "Queue").await;
    let mut c = Client::serving(r.data).await;
    for i in 1..=3 {
        let (kind, _) = c
            .call(Value::from(list.as_str()), "append", vec![Value::Int(i)])
            .await
            .unwrap();
        assert_eq!(kind, "#RETURN");
    }
    for i in 0..2 {
        let (kind, _) = c
            .call(Value::from(queue.as_str()), "put", vec![Value::Int(i)])
            .await
            .unwrap();
        assert_eq!(kind, "#RETURN");
    }
    // Learn the serving connection's id from the connection table.
    let conns = get(&r, "/api/v1/connections").await.json();
    let serving = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "MainProcess|T")
        .unwrap_or_else(|| panic!("serving connection not listed: {conns}"));
    assert_eq!(serving["requests"], 6, "accept_connection + 5 calls");
    assert!(serving["authenticated"].is_string());

    let reply = get(&r, "/api/v1/objects").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let objects = reply.json();
    let l = find(&objects, &list);
    assert_eq!(l["typeid"], "list");
    assert_eq!(l["type_name"], "list");
    assert_eq!(l["refcount"], 1);
    assert_eq!(l["size"], 3);
    assert_eq!(l["orphan"], false);
    assert_eq!(l["named"], false);
    assert_eq!(
        l["conns"],
        serde_json::json!([{"id": serving["id"], "open": true}])
    );
    assert!(l["created"].as_str().unwrap().ends_with('Z'));
    let q = find(&objects, &queue);
    assert_eq!(
        (q["typeid"].as_str(), q["size"].as_u64()),
        (Some("Queue"), Some(2))
    );

    let detail = get(&r, &format!("/api/v1/objects/{list}")).await.json();
    assert_eq!(detail["preview"], "[1, 2, 3]");
    assert_eq!(detail["preview_truncated"], false);
    assert_eq!(detail["refcount"], 1);

    // A long value is cut to the limit.
    let long = "x".repeat(10_000);
    c.call(
        Value::from(list.as_str()),
        "append",
        vec![Value::from(long.as_str())],
    )
    .await
    .unwrap();
    let detail = get(&r, &format!("/api/v1/objects/{list}")).await.json();
    assert_eq!(detail["preview_truncated"], true);
    let limit = detail["preview_limit"].as_u64().unwrap() as usize;
    assert_eq!(detail["preview"].as_str().unwrap().len(), limit);
    assert!(detail["preview"]
        .as_str()
        .unwrap()
        .starts_with("[1, 2, 3, 'xxx"));

    let missing = get(&r, "/api/v1/objects/nope").await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].as_str().unwrap().contains("nope"));

    let stats = get(&r, "/api/v1/stats").await.json();
    assert_eq!(stats["objects"], 2);
    assert_eq!(stats["objects_referenced"], 2);
    assert_eq!(stats["version"], env!("CARGO_PKG_VERSION"));
    // 2 creates + 6 method calls (accept_connection is not a metered request).
    assert!(stats["requests_total"].as_u64().unwrap() >= 8, "{stats}");
    assert!(stats["connections"].as_u64().unwrap() >= 1);
    r.stop.cancel();
}

#[tokio::test]
async fn requests_without_the_token_are_refused() {
    let r = start(&[]).await;
    for path in [
        "/api/v1/objects",
        "/api/v1/stats",
        "/api/v1/connections",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        for token in [None, Some("wrong"), Some("admin-test-toke")] {
            let reply = http(r.admin, "GET", path, token).await;
            assert_eq!(reply.status, 401, "{path} with {token:?}");
            assert_eq!(reply.header("www-authenticate").as_deref(), Some("Bearer"));
            assert!(reply.json()["error"].as_str().unwrap().contains("token"));
        }
    }
    let reply = http(r.admin, "DELETE", "/api/v1/objects/x", None).await;
    assert_eq!(reply.status, 401);
    // Health checks are open.
    let health = http(r.admin, "GET", "/healthz", None).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(http(r.admin, "GET", "/readyz", None).await.status, 200);
    // The page carries no data and is open; its data calls need the token.
    let page = http(r.admin, "GET", "/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("mpcluster manager"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(
        http(r.admin, "GET", "/assets/app.js", None).await.status,
        200
    );
    // Unknown paths answer JSON 404.
    let unknown = http(r.admin, "GET", "/nope", Some(TOKEN)).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"].is_string());

    for token in [None, Some("wrong")] {
        let mut g = grpc(r.admin, token).await;
        let err = g.list_objects(pb::ListObjectsRequest {}).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{token:?}");
        let err = g.get_stats(pb::GetStatsRequest {}).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }
    // The authkey shows up nowhere.
    let key = String::from_utf8_lossy(KEY).to_string();
    for path in [
        "/api/v1/stats",
        "/api/v1/connections",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        assert!(
            !get(&r, path).await.body.contains(&key),
            "{path} leaks the authkey"
        );
    }
    r.stop.cancel();
}

#[tokio::test]
async fn delete_object_disposes_it_whatever_its_refcount() {
    let dir = std::env::temp_dir().join(format!("mpcluster-admin-named-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("named.toml");
    std::fs::write(&path, "[objects]\nget_jobs = { kind = \"Queue\" }\n").unwrap();
    let r = start(&["--config", path.to_str().unwrap()]).await;
    let dict = create(r.data, "dict").await;
    assert_eq!(number_of_objects(r.data).await, Value::Int(1));

    let gone = http(
        r.admin,
        "DELETE",
        &format!("/api/v1/objects/{dict}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(gone.json()["typeid"], "dict");
    assert_eq!(gone.json()["refcount"], 1, "answers the object as it was");
    assert_eq!(
        get(&r, &format!("/api/v1/objects/{dict}")).await.status,
        404
    );
    assert_eq!(number_of_objects(r.data).await, Value::Int(0));
    // The client's next decref finds nothing: CPython's KeyError traceback.
    let mut c = Client::connect(r.data).await;
    let (kind, _) = c
        .call(Value::None, "decref", vec![Value::from(dict.as_str())])
        .await
        .unwrap();
    assert_eq!(kind, "#TRACEBACK");
    let again = http(
        r.admin,
        "DELETE",
        &format!("/api/v1/objects/{dict}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(again.status, 404);

    // Named objects back register()-style typeids and cannot be deleted.
    let objects = get(&r, "/api/v1/objects").await.json();
    let named = objects
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["typeid"] == "get_jobs")
        .unwrap();
    assert_eq!(named["named"], true);
    let id = named["id"].as_str().unwrap();
    let refused = http(
        r.admin,
        "DELETE",
        &format!("/api/v1/objects/{id}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(refused.status, 409);
    assert_eq!(get(&r, &format!("/api/v1/objects/{id}")).await.status, 200);
    std::fs::remove_dir_all(&dir).ok();
    r.stop.cancel();
}

#[tokio::test]
async fn drop_connection_closes_it_and_cancels_its_wait() {
    let r = start(&[]).await;
    let queue = create(r.data, "Queue").await;
    let mut g = grpc(r.admin, Some(TOKEN)).await;
    let mut events = g
        .watch_events(pb::WatchEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut c = Client::serving(r.data).await;
    // A blocked Queue.get: the connection shows what it waits on.
    let get_task =
        tokio::spawn(async move { c.call(Value::from(queue.as_str()), "get", vec![]).await });
    let conn_id = loop {
        match events.message().await.unwrap().and_then(|e| e.kind) {
            Some(pb::event::Kind::ClientConnected(c)) => break c.conn,
            _ => continue,
        }
    };
    // The waiting mark is set once the call is parsed, which no event
    // announces: poll the table until it shows, within a deadline.
    let listed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let conns = get(&r, "/api/v1/connections").await.json();
            let me = conns
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == conn_id)
                .cloned();
            if let Some(me) = me.filter(|m| m["waiting"].is_string()) {
                break me;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the blocked get shows as waiting");
    assert!(
        listed["waiting"].as_str().unwrap().contains("get"),
        "{listed}"
    );

    let dropped = http(
        r.admin,
        "DELETE",
        &format!("/api/v1/connections/{conn_id}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    assert_eq!(dropped.json()["id"], conn_id);
    // The blocked client sees its connection closed, with no reply.
    let got = tokio::time::timeout(Duration::from_secs(5), get_task)
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_none(), "{got:?}");
    loop {
        match events.message().await.unwrap().and_then(|e| e.kind) {
            Some(pb::event::Kind::ClientDisconnected(c)) if c.conn == conn_id => break,
            _ => continue,
        }
    }
    let conns = get(&r, "/api/v1/connections").await.json();
    assert!(!conns.as_array().unwrap().iter().any(|c| c["id"] == conn_id));
    let again = http(
        r.admin,
        "DELETE",
        &format!("/api/v1/connections/{conn_id}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(again.status, 404);
    assert_eq!(
        http(r.admin, "DELETE", "/api/v1/connections/xyz", Some(TOKEN))
            .await
            .status,
        404
    );
    r.stop.cancel();
}

#[tokio::test]
async fn grpc_answers_like_http() {
    let r = start(&[]).await;
    let mut g = grpc(r.admin, Some(TOKEN)).await;
    let mut events = g
        .watch_events(pb::WatchEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let list = create(r.data, "list").await;
    let created = loop {
        match events.message().await.unwrap().and_then(|e| e.kind) {
            Some(pb::event::Kind::ObjectCreated(o)) => break o,
            _ => continue,
        }
    };
    assert_eq!(
        (created.id.as_str(), created.typeid.as_str()),
        (list.as_str(), "list")
    );

    let mut c = Client::serving(r.data).await;
    c.call(
        Value::from(list.as_str()),
        "extend",
        vec![Value::List(vec![Value::from("a"), Value::None])],
    )
    .await
    .unwrap();
    let objects = g
        .list_objects(pb::ListObjectsRequest {})
        .await
        .unwrap()
        .into_inner()
        .objects;
    assert_eq!(objects.len(), 1);
    let o = &objects[0];
    assert_eq!(
        (o.id.as_str(), o.typeid.as_str(), o.type_name.as_str()),
        (list.as_str(), "list", "list")
    );
    assert_eq!((o.refcount, o.size), (1, Some(2)));
    let http_view = get(&r, "/api/v1/objects").await.json();
    assert_eq!(find(&http_view, &list)["created"], o.created.as_str());

    let d = g
        .get_object(pb::GetObjectRequest { id: list.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.preview, "['a', None]");
    assert_eq!(d.object.unwrap().id, list);
    let err = g
        .get_object(pb::GetObjectRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let conns = g
        .list_connections(pb::ListConnectionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .connections;
    assert!(conns
        .iter()
        .any(|c| c.name.as_deref() == Some("MainProcess|T") && c.requests == 2));
    let err = g
        .drop_connection(pb::DropConnectionRequest { id: 999_999 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let stats = g
        .get_stats(pb::GetStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.objects, stats.objects_referenced), (1, 1));
    assert_eq!(stats.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(stats.advertised, r.data.to_string());

    let deleted = g
        .delete_object(pb::DeleteObjectRequest { id: list.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.id, list);
    loop {
        match events.message().await.unwrap().and_then(|e| e.kind) {
            Some(pb::event::Kind::ObjectDisposed(o)) if o.id == list => break,
            _ => continue,
        }
    }
    let err = g
        .delete_object(pb::DeleteObjectRequest { id: list })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    r.stop.cancel();
}

#[tokio::test]
async fn metrics_count_objects_by_typeid() {
    let r = start(&[]).await;
    let a = create(r.data, "list").await;
    create(r.data, "list").await;
    create(r.data, "dict").await;
    let m = get(&r, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().contains("openmetrics"));
    assert!(
        m.body.contains("mpcluster_objects{typeid=\"list\"} 2"),
        "{}",
        m.body
    );
    assert!(m.body.contains("mpcluster_objects{typeid=\"dict\"} 1"));
    assert!(m
        .body
        .contains("mpcluster_requests_total{method=\"create\""));
    http(
        r.admin,
        "DELETE",
        &format!("/api/v1/objects/{a}"),
        Some(TOKEN),
    )
    .await;
    let m = get(&r, "/metrics").await;
    assert!(
        m.body.contains("mpcluster_objects{typeid=\"list\"} 1"),
        "{}",
        m.body
    );
    r.stop.cancel();
}

#[tokio::test]
async fn server_sent_events_and_openapi() {
    let r = start(&[]).await;
    let mut s = TcpStream::connect(r.admin).await.unwrap();
    let req =
        format!("GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Headers first: once they arrive the subscription exists.
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("text/event-stream"));
    let id = create(r.data, "Namespace").await;
    let want = format!("\"id\":\"{id}\"");
    tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&seen).contains(&want) {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the event arrives");
    assert!(String::from_utf8_lossy(&seen).contains("\"kind\":\"object_created\""));

    let doc = get(&r, "/api/v1/openapi.json").await.json();
    assert!(doc["paths"]["/api/v1/objects/{id}"]["delete"].is_object());
    r.stop.cancel();
}

#[tokio::test]
async fn shutdown_stops_the_admin_listener_despite_watchers() {
    let r = start(&[]).await;
    let view = AdminView::new(r.shared.clone());
    let (status, _) = mpcluster_manager::admin::http::readyz(axum::extract::State(Arc::new(
        AdminView::new(r.shared.clone()),
    )))
    .await;
    assert_eq!(status, 200);
    let mut g = grpc(r.admin, Some(TOKEN)).await;
    let mut events = g
        .watch_events(pb::WatchEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    r.stop.cancel();
    assert!(!view.ready());
    let (status, _) =
        mpcluster_manager::admin::http::readyz(axum::extract::State(Arc::new(view))).await;
    assert_eq!(status, 503);
    // The event stream ends, and the listener finishes.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = events.message().await {}
    })
    .await;
    assert!(end.is_ok(), "the event stream did not end at shutdown");
    tokio::time::timeout(Duration::from_secs(5), r.admin_task)
        .await
        .expect("admin stops on the shutdown signal")
        .unwrap();
    assert!(
        TcpStream::connect(r.admin).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn objects_of_departed_clients_show_as_orphans() {
    let r = start(&[]).await;
    let view = AdminView::new(r.shared.clone()).with_orphan_after(Duration::ZERO);
    let mut events = view.watch();
    let list = create(r.data, "list").await;
    let mut c = Client::serving(r.data).await;
    c.call(Value::from(list.as_str()), "append", vec![Value::Int(1)])
        .await
        .unwrap();
    // In use by an open connection: not an orphan, even with no idle time.
    let o = view.objects().into_iter().find(|o| o.id == list).unwrap();
    assert!(!o.orphan);
    assert!(o.conns.len() == 1 && o.conns[0].open);
    let user = o.conns[0].id;
    drop(c); // the client dies without releasing its reference
    loop {
        let e = events.recv().await.expect("events flow");
        if matches!(e.kind, EventKind::ClientDisconnected { conn, .. } if conn == user) {
            break;
        }
    }
    let o = view.objects().into_iter().find(|o| o.id == list).unwrap();
    assert_eq!((o.refcount, o.orphan), (1, true));
    assert!(!o.conns[0].open);
    assert_eq!(view.stats().orphans, 1);
    // The configured threshold (5 minutes by default) is not reached yet.
    let default_view = AdminView::new(r.shared.clone());
    assert!(!default_view.objects()[0].orphan);
    let http_view = get(&r, "/api/v1/objects").await.json();
    assert_eq!(find(&http_view, &list)["orphan"], false);
    r.stop.cancel();
}

#[tokio::test]
async fn dropping_a_connection_releases_the_proxies_it_was_handed() {
    let r = start(&[]).await;
    let dict = create(r.data, "dict").await;
    let mut c = Client::serving(r.data).await;
    // `__iter__` answers `#PROXY`: the new iterator's creation reference
    // belongs to this connection until the client increfs it, which this
    // client never does (gh-99595).
    let (kind, _) = c
        .call(Value::from(dict.as_str()), "__iter__", vec![])
        .await
        .expect("reply");
    assert_eq!(kind, "#PROXY");
    assert_eq!(number_of_objects(r.data).await, Value::Int(2));
    let conns = get(&r, "/api/v1/connections").await.json();
    let serving: Vec<i64> = conns
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["waiting"].is_null())
        .filter_map(|c| c["id"].as_i64())
        .collect();
    for id in serving {
        http(
            r.admin,
            "DELETE",
            &format!("/api/v1/connections/{id}"),
            Some(TOKEN),
        )
        .await;
    }
    // The dropped connection's iterator goes; the dict (its creation
    // reference is the control client's) stays.
    let left = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = number_of_objects(r.data).await;
            if n == Value::Int(1) {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(left.ok(), Some(Value::Int(1)));
    assert!(c
        .call(Value::from(dict.as_str()), "__len__", vec![])
        .await
        .is_none());
    r.stop.cancel();
}

/// Past `--admin-max-connections` the admin port answers 503 and closes
/// (it cannot spend the file descriptors the data port needs); a slot
/// freed by a closing connection serves again, and the data port never
/// noticed.
#[tokio::test]
async fn admin_connections_past_the_cap_are_refused() {
    let r = start(&["--admin-max-connections", "2"]).await;
    // Two idle connections hold both slots (as keep-alive clients do).
    let first = TcpStream::connect(r.admin).await.unwrap();
    let _second = TcpStream::connect(r.admin).await.unwrap();
    let refused = http(r.admin, "GET", "/healthz", None).await;
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert!(
        refused.body.contains("admin connection limit reached"),
        "{}",
        refused.body
    );
    let id = create(r.data, "dict").await;
    assert!(r.shared.store.get(&id).is_some());

    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = http(r.admin, "GET", "/healthz", None).await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the freed slot never served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.stop.cancel();
}
