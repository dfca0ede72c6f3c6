//! The manager protocol end to end, in process: a real server bound to a
//! loopback port, driven by the wire crate's client handshake and pickles,
//! checking the request/reply shapes of docs/protocol.md section 5.

use clap::Parser;
use mpcluster_manager::config::Config;
use mpcluster_manager::server::Server;
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::{io, pickle, Dict, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const KEY: &[u8] = b"protocol-test-key";

async fn start(extra: &[&str]) -> (SocketAddr, CancellationToken) {
    let mut argv = vec!["mpcluster-manager", "--bind", "127.0.0.1:0"];
    argv.extend_from_slice(extra);
    let config = Config::try_parse_from(argv).expect("flags parse");
    let stop = CancellationToken::new();
    let server = Server::bind(&config, KEY.to_vec(), stop.clone())
        .await
        .expect("server binds");
    let addr = server.local_addr().expect("bound address");
    tokio::spawn(server.run());
    (addr, stop)
}

struct Client {
    stream: TcpStream,
    buf: bytes::BytesMut,
}

impl Client {
    async fn connect(addr: SocketAddr, key: &[u8]) -> Result<Client, io::HandshakeError> {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        io::client_handshake(
            &mut stream,
            key,
            &AuthPolicy::default(),
            Duration::from_secs(5),
        )
        .await?;
        Ok(Client {
            stream,
            buf: bytes::BytesMut::new(),
        })
    }

    async fn call(&mut self, ident: Value, name: &str, args: Vec<Value>) -> (String, Value) {
        let req = Value::tuple([
            ident,
            Value::from(name),
            Value::Tuple(args),
            Value::from(Dict::new()),
        ]);
        io::write_frame(&mut self.stream, &pickle::encode(&req))
            .await
            .expect("send");
        let frame = io::read_frame(&mut self.stream, 1 << 24, &mut self.buf)
            .await
            .expect("read")
            .expect("a reply");
        match pickle::decode(&frame, &pickle::Limits::default()).expect("decodable reply") {
            Value::Tuple(mut items) if items.len() == 2 => {
                let payload = items.pop().unwrap();
                let kind = items.pop().unwrap();
                (kind.as_str().unwrap().to_string(), payload)
            }
            other => panic!("reply is not a pair: {other:?}"),
        }
    }
}

/// One control request on its own connection, as CPython clients do.
async fn control(addr: SocketAddr, name: &str, args: Vec<Value>) -> (String, Value) {
    let mut c = Client::connect(addr, KEY).await.expect("handshake");
    c.call(Value::None, name, args).await
}

#[tokio::test]
async fn create_call_and_refcounts() {
    let (addr, stop) = start(&[]).await;
    assert_eq!(control(addr, "dummy", vec![]).await.0, "#RETURN");

    let (kind, reply) = control(addr, "create", vec![Value::from("list")]).await;
    assert_eq!(kind, "#RETURN");
    let Value::Tuple(parts) = reply else {
        panic!("create reply")
    };
    let id = parts[0].clone();
    assert!(matches!(&parts[1], Value::Tuple(names) if names.contains(&Value::from("append"))));
    assert_eq!(
        control(addr, "number_of_objects", vec![]).await.1,
        Value::Int(1)
    );

    let mut serving = Client::connect(addr, KEY).await.unwrap();
    let (kind, _) = serving
        .call(
            Value::None,
            "accept_connection",
            vec![Value::from("MainProcess")],
        )
        .await;
    assert_eq!(kind, "#RETURN");
    let (kind, _) = serving
        .call(id.clone(), "append", vec![Value::Int(3)])
        .await;
    assert_eq!(kind, "#RETURN");
    let (kind, v) = serving.call(id.clone(), "#GETVALUE", vec![]).await;
    assert_eq!(
        (kind.as_str(), v),
        ("#RETURN", Value::List(vec![Value::Int(3)]))
    );
    // Not exposed: a traceback (RemoteError), not an #ERROR.
    let (kind, text) = serving.call(id.clone(), "nope", vec![]).await;
    assert_eq!(kind, "#TRACEBACK");
    assert!(text.as_str().unwrap().contains("AttributeError"));

    assert_eq!(control(addr, "decref", vec![id.clone()]).await.0, "#RETURN");
    assert_eq!(
        control(addr, "number_of_objects", vec![]).await.1,
        Value::Int(0)
    );
    // A second decref of a disposed id is a KeyError traceback (captured).
    let (kind, text) = control(addr, "decref", vec![id]).await;
    assert_eq!(kind, "#TRACEBACK");
    assert!(text.as_str().unwrap().contains("KeyError"));
    stop.cancel();
}

#[tokio::test]
async fn control_errors_match_cpython() {
    let (addr, stop) = start(&[]).await;
    let (kind, text) = control(addr, "xyz", vec![]).await;
    assert_eq!(kind, "#TRACEBACK");
    assert!(text
        .as_str()
        .unwrap()
        .contains("AssertionError: 'xyz' unrecognized"));
    let (kind, text) = control(addr, "create", vec![Value::from("nosuch")]).await;
    assert_eq!(kind, "#TRACEBACK");
    assert!(text.as_str().unwrap().contains("KeyError: 'nosuch'"));
    let (kind, text) = control(addr, "shutdown", vec![]).await;
    assert_eq!(kind, "#TRACEBACK");
    assert!(text.as_str().unwrap().contains("PermissionError"));
    // Still serving.
    assert_eq!(control(addr, "dummy", vec![]).await.0, "#RETURN");
    stop.cancel();
}

#[tokio::test]
async fn wrong_key_is_refused_and_server_keeps_serving() {
    let (addr, stop) = start(&[]).await;
    let err = Client::connect(addr, b"wrong")
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("digest sent was rejected"),
        "{err}"
    );
    assert_eq!(control(addr, "dummy", vec![]).await.0, "#RETURN");
    stop.cancel();
}

#[tokio::test]
async fn named_objects_are_shared() {
    let dir = std::env::temp_dir().join(format!("mpcluster-named-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("named.toml");
    std::fs::write(&path, "[objects]\nget_queue = { kind = \"Queue\" }\n").unwrap();
    let (addr, stop) = start(&["--config", path.to_str().unwrap()]).await;
    let first = control(addr, "create", vec![Value::from("get_queue")])
        .await
        .1;
    let second = control(addr, "create", vec![Value::from("get_queue")])
        .await
        .1;
    let id = |v: &Value| match v {
        Value::Tuple(p) => p[0].clone(),
        _ => panic!("create reply"),
    };
    assert_eq!(id(&first), id(&second));
    // Both references dropped: the named object survives.
    control(addr, "decref", vec![id(&first)]).await;
    control(addr, "decref", vec![id(&first)]).await;
    let third = control(addr, "create", vec![Value::from("get_queue")])
        .await
        .1;
    assert_eq!(id(&third), id(&first));
    stop.cancel();
}
