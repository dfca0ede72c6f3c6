//! Helpers of the admin integration tests (`tests/admin.rs`): an
//! in-process manager with its admin listener on port 0, a data-plane
//! client speaking the wire protocol, a raw HTTP/1.1 client, and the
//! generated gRPC client with the token interceptor.

#![allow(dead_code)]

use clap::Parser;
use mpcluster_manager::admin::auth::AdminToken;
use mpcluster_manager::admin::grpc::pb;
use mpcluster_manager::admin::Admin;
use mpcluster_manager::config::Config;
use mpcluster_manager::server::Server;
use mpcluster_manager::state::Shared;
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::{io, pickle, Dict, Value};
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const KEY: &[u8] = b"admin-test-authkey";
pub const TOKEN: &str = "admin-test-token";

pub struct Running {
    pub data: SocketAddr,
    pub admin: SocketAddr,
    pub stop: CancellationToken,
    pub shared: Arc<Shared>,
    pub admin_task: JoinHandle<()>,
}

pub async fn start(extra: &[&str]) -> Running {
    let mut argv = vec!["mpcluster-manager", "--bind", "127.0.0.1:0"];
    argv.extend_from_slice(extra);
    let config = Config::try_parse_from(argv).expect("flags parse");
    let stop = CancellationToken::new();
    let server = Server::bind(&config, KEY.to_vec(), stop.clone())
        .await
        .expect("server binds");
    let data = server.local_addr().expect("bound address");
    let shared = server.shared();
    let admin = Admin::bind(
        "127.0.0.1:0".parse().unwrap(),
        AdminToken::new(TOKEN.as_bytes()).unwrap(),
        shared.clone(),
    )
    .await
    .expect("admin binds");
    let admin_addr = admin.local_addr().unwrap();
    tokio::spawn(server.run());
    let admin_task = tokio::spawn(admin.run());
    Running {
        data,
        admin: admin_addr,
        stop,
        shared,
        admin_task,
    }
}

// ---------------------------------------------------------------- data plane

pub struct Client {
    stream: TcpStream,
    buf: bytes::BytesMut,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        io::client_handshake(
            &mut stream,
            KEY,
            &AuthPolicy::default(),
            Duration::from_secs(5),
        )
        .await
        .expect("handshake");
        Client {
            stream,
            buf: bytes::BytesMut::new(),
        }
    }

    /// A serving connection, as a CPython proxy opens one.
    pub async fn serving(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr).await;
        let (kind, _) = c
            .call(
                Value::None,
                "accept_connection",
                vec![Value::from("MainProcess|T")],
            )
            .await
            .expect("reply");
        assert_eq!(kind, "#RETURN");
        c
    }

    /// One request; `None` when the server closed the connection.
    pub async fn call(
        &mut self,
        ident: Value,
        name: &str,
        args: Vec<Value>,
    ) -> Option<(String, Value)> {
        let req = Value::tuple([
            ident,
            Value::from(name),
            Value::Tuple(args),
            Value::from(Dict::new()),
        ]);
        io::write_frame(&mut self.stream, &pickle::encode(&req))
            .await
            .ok()?;
        let frame = io::read_frame(&mut self.stream, 1 << 24, &mut self.buf)
            .await
            .ok()??;
        match pickle::decode(&frame, &pickle::Limits::default()).expect("decodable reply") {
            Value::Tuple(mut items) if items.len() == 2 => {
                let payload = items.pop()?;
                let kind = items.pop()?;
                Some((kind.as_str()?.to_string(), payload))
            }
            other => panic!("reply is not a pair: {other:?}"),
        }
    }
}

/// `create(typeid)` on a connection of its own; returns the new id.
pub async fn create(addr: SocketAddr, typeid: &str) -> String {
    let mut c = Client::connect(addr).await;
    let (kind, reply) = c
        .call(Value::None, "create", vec![Value::from(typeid)])
        .await
        .expect("reply");
    assert_eq!(kind, "#RETURN", "{reply:?}");
    let Value::Tuple(parts) = reply else {
        panic!("create reply {reply:?}")
    };
    parts[0].as_str().expect("id").to_string()
}

pub async fn number_of_objects(addr: SocketAddr) -> Value {
    let mut c = Client::connect(addr).await;
    c.call(Value::None, "number_of_objects", vec![])
        .await
        .expect("reply")
        .1
}

// ---------------------------------------------------------------- HTTP client

pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpReply {
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

pub async fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> HttpReply {
    let mut s = TcpStream::connect(addr).await.expect("admin connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("reply in time")
        .unwrap();
    let text = String::from_utf8(raw).expect("utf-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let head = head.to_string();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    HttpReply { status, head, body }
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub async fn get(r: &Running, path: &str) -> HttpReply {
    http(r.admin, "GET", path, Some(TOKEN)).await
}

pub fn find<'a>(objects: &'a Json, id: &str) -> &'a Json {
    objects
        .as_array()
        .expect("a list")
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {objects}"))
}

// ---------------------------------------------------------------- gRPC client

/// Adds the token (if any) to every call's metadata.
#[derive(Clone)]
pub struct WithToken(Option<&'static str>);

impl tonic::service::Interceptor for WithToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Ok(req)
    }
}

pub type Grpc = pb::admin_client::AdminClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, WithToken>,
>;

pub async fn grpc(addr: SocketAddr, token: Option<&'static str>) -> Grpc {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("gRPC connects");
    pb::admin_client::AdminClient::with_interceptor(channel, WithToken(token))
}
