//! Objects made by the Rust client, read back through the manager's admin
//! HTTP API: operators see what Rust programs share, with the right types,
//! reference counts and previews.

mod common;

use common::{Server, ADMIN_TOKEN};
use mpcluster::Proxy;
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::net::TcpStream;

/// `GET path` on the admin port with the bearer token; the JSON body.
fn get(admin: &str, path: &str) -> Json {
    let mut s = TcpStream::connect(admin).expect("admin port");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {admin}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"))
}

fn find<'a>(objects: &'a Json, id: &str) -> &'a Json {
    objects
        .as_array()
        .expect("a list of objects")
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {objects}"))
}

#[tokio::test]
async fn rust_objects_are_visible_to_operators() {
    let server = Server::start();
    let admin = server.admin.clone().expect("the admin surface is on");
    let m = server.manager().await;
    let list = m.list::<i64>(&[1, 2, 3]).await.unwrap();
    let dict = m.dict::<String, i64>(&[]).await.unwrap();
    dict.insert(&"answer".to_string(), &42).await.unwrap();
    let queue = m.queue::<String>(0).await.unwrap();
    queue.put(&"job".to_string()).await.unwrap();

    let objects = get(&admin, "/api/v1/objects");
    let l = find(&objects, &list.token().id);
    assert_eq!(l["typeid"], "list");
    assert_eq!(l["refcount"], 1);
    assert_eq!(l["size"], 3);
    let q = find(&objects, &queue.token().id);
    assert_eq!(q["typeid"], "Queue");
    assert_eq!(q["size"], 1);

    let detail = get(&admin, &format!("/api/v1/objects/{}", dict.token().id));
    assert_eq!(detail["typeid"], "dict");
    assert_eq!(detail["preview"], "{'answer': 42}");

    // Dropping the proxies releases the references the admin showed.
    let ids = [list.token().id.clone(), dict.token().id.clone()];
    drop((list, dict));
    m.flush().await.unwrap();
    let objects = get(&admin, "/api/v1/objects");
    for id in ids {
        assert!(
            !objects
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["id"] == id.as_str()),
            "{id} still listed after its proxy was dropped"
        );
    }
}
