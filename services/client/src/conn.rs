//! One authenticated connection to a manager: TCP connect, the mutual
//! authkey handshake, then strictly alternating request and reply frames.
//!
//! Requests are `(ident, name, args, kwds)` pickles and replies
//! `(kind, payload)` pickles (docs/protocol.md 5.1, 5.2); [`Conn::request`] sends one
//! and decodes the answer into a [`Reply`]. Connections carry no state of
//! their own beyond the socket: whether one is a control connection (one
//! request, then the server closes it) or a serving connection (after
//! `accept_connection`) is the caller's business (`crate::core`).

use crate::error::{Error, RemoteException, Result};
use crate::token::{Address, Token};
use bytes::{Bytes, BytesMut};
use mpcluster_wire::frame::FrameCodec;
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::io::{client_handshake, HandshakeError};
use mpcluster_wire::pickle::{self, Limits};
use mpcluster_wire::{Dict, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::ReadHalf;
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

/// Connection settings shared by every connection of a manager.
#[derive(Clone, Debug)]
pub(crate) struct ConnSettings {
    pub authkey: Vec<u8>,
    pub policy: AuthPolicy,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    /// Largest reply frame accepted.
    pub max_frame: usize,
    /// Budgets of a reply's pickle.
    pub limits: Limits,
}

/// What the manager answered (docs/protocol.md 5.2).
#[derive(Debug)]
pub(crate) enum Reply {
    /// `#RETURN`: the method's result.
    Return(Value),
    /// `#ERROR`: the exception the method raised, already read.
    Error(RemoteException),
    /// `#TRACEBACK` and `#UNSERIALIZABLE`: a `RemoteError`.
    Traceback(String),
    /// `#PROXY`: the method's result became a new shared object (a dict
    /// iterator). Its creation reference is ours to take over.
    Proxy { exposed: Vec<String>, token: Token },
}

impl Reply {
    /// The `#RETURN` value, or the remote exception as an error. A
    /// `#PROXY` reply where a value was expected is a protocol error (a
    /// CPython client's `dispatch` raises `ValueError` for it too).
    pub fn into_value(self) -> Result<Value> {
        match self {
            Reply::Return(v) => Ok(v),
            Reply::Error(e) => Err(Error::Remote(Box::new(e))),
            Reply::Traceback(t) => Err(Error::Remote(Box::new(RemoteException::remote_error(t)))),
            Reply::Proxy { token, .. } => Err(Error::protocol(format!(
                "unexpected #PROXY reply ({token}) where a value was expected"
            ))),
        }
    }

    /// Reads a decoded reply pickle.
    fn parse(v: Value) -> Result<Reply> {
        let Value::Tuple(items) = v else {
            return Err(Error::protocol(format!(
                "reply is a {}, not a (kind, payload) tuple",
                v.type_name()
            )));
        };
        let mut items = items.into_iter();
        let (Some(Value::Str(kind)), Some(payload), None) =
            (items.next(), items.next(), items.next())
        else {
            return Err(Error::protocol("reply is not a (str, payload) pair"));
        };
        match kind.as_str() {
            "#RETURN" => Ok(Reply::Return(payload)),
            "#ERROR" => RemoteException::from_instance(&payload)
                .map(Reply::Error)
                // CPython's client raises TypeError for a non-exception
                // payload; we report what arrived.
                .ok_or_else(|| {
                    Error::protocol(format!(
                        "#ERROR payload is not an exception: {}",
                        payload.repr_bounded(200)
                    ))
                }),
            "#TRACEBACK" => match payload {
                Value::Str(text) => Ok(Reply::Traceback(text)),
                other => Err(Error::protocol(format!(
                    "#TRACEBACK payload is a {}, not a str",
                    other.type_name()
                ))),
            },
            // CPython's client formats this exactly so (`BaseProxy._callmethod`
            // via `convert_to_error`).
            "#UNSERIALIZABLE" => match payload {
                Value::Str(text) => Ok(Reply::Traceback(format!(
                    "Unserializable message: {text}\n"
                ))),
                other => Err(Error::protocol(format!(
                    "#UNSERIALIZABLE payload is a {}",
                    other.type_name()
                ))),
            },
            "#PROXY" => parse_proxy(&payload),
            other => Err(Error::protocol(format!(
                "unrecognized message type {other:?}"
            ))),
        }
    }
}

/// `(exposed, token)` of a `#PROXY` reply.
fn parse_proxy(payload: &Value) -> Result<Reply> {
    let bad = || Error::protocol("#PROXY payload is not (exposed, Token)");
    let Value::Tuple(parts) = payload else {
        return Err(bad());
    };
    let [exposed, token] = parts.as_slice() else {
        return Err(bad());
    };
    let (Value::Tuple(names) | Value::List(names)) = exposed else {
        return Err(bad());
    };
    let exposed = names
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let token = Token::from_value(token).ok_or_else(bad)?;
    Ok(Reply::Proxy { exposed, token })
}

/// A reply's pickle to a [`Reply`]; the common `("#RETURN", None)`,
/// `True` and `False` are recognised without decoding.
fn decode_reply(frame: &[u8], limits: &Limits) -> Result<Reply> {
    if let Some(v) = pickle::read_fixed_return(frame) {
        return Ok(Reply::Return(v));
    }
    Reply::parse(pickle::decode(frame, limits)?)
}

/// Appends one framed request to a batch for [`Conn::exchange_many`].
pub(crate) fn append_frame(
    out: &mut Vec<u8>,
    ident: Option<&str>,
    name: &str,
    args: &[Value],
    kwds: &Dict,
) {
    // Pickled straight into the batch, behind a header patched afterwards,
    // from the parts: no request tuple is built.
    mpcluster_wire::frame::append_frame(out, |out| {
        pickle::encode_call_into(ident, name, args, kwds, pickle::DEFAULT_PROTOCOL, out)
    });
}

/// The replies of a batch, in request order.
#[derive(Debug)]
pub(crate) struct Exchanged {
    /// One per request: the reply, or why it could not be read.
    pub replies: Vec<Result<Reply>>,
    /// Every reply parsed, so the connection may be reused.
    pub all_clean: bool,
}

/// How long a reply may be awaited before we acknowledge what arrived
/// (see `read_reply`): far above a loopback or LAN round trip, far
/// below the 40 ms of Linux's delayed ACK.
const ACK_STALL: Duration = Duration::from_millis(1);

/// One authenticated manager connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    address: Address,
    /// Display form of `address` for errors.
    label: String,
    max_frame: usize,
    limits: Limits,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("address", &self.label)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Connects and runs the client side of the handshake: answer the
    /// server's challenge, then deliver ours (docs/protocol.md 4.1, 5.9).
    pub async fn open(address: &Address, s: &ConnSettings) -> Result<Conn> {
        let label = address.to_string();
        let connect = TcpStream::connect((address.host.as_str(), address.port));
        let stream = match tokio::time::timeout(s.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(Error::Connection {
                    address: label,
                    source,
                })
            }
            Err(_) => {
                return Err(Error::Timeout {
                    what: "connect",
                    address: label,
                    after: s.connect_timeout,
                })
            }
        };
        // Every request is one small write answered by one small read: the
        // Nagle/delayed-ACK stall of docs/protocol.md 2.2a would cost 40 ms per call.
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            // Room for a typical reply, so the first read is not cut at the
            // header the decoder asks for.
            buf: BytesMut::with_capacity(8 * 1024),
            address: address.clone(),
            label,
            max_frame: s.max_frame,
            limits: s.limits.clone(),
        };
        quickack(&conn.stream);
        match client_handshake(&mut conn.stream, &s.authkey, &s.policy, s.handshake_timeout).await {
            Ok(_) => Ok(conn),
            Err(HandshakeError::Auth(source)) => Err(Error::Auth {
                address: conn.label,
                source,
            }),
            Err(HandshakeError::Timeout(after)) => Err(Error::Timeout {
                what: "handshake",
                address: conn.label,
                after,
            }),
            Err(HandshakeError::Frame(e)) => Err(Error::from_frame(&conn.label, e)),
            Err(HandshakeError::Closed) => Err(Error::closed(&conn.label)),
        }
    }

    /// The address this connection reached.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Sends one request and reads its reply. An error leaves the
    /// connection in an unknown state: the caller must drop it.
    pub async fn request(
        &mut self,
        ident: Option<&str>,
        name: &str,
        args: Vec<Value>,
        kwds: Dict,
    ) -> Result<Reply> {
        let mut frame = Vec::new();
        append_frame(&mut frame, ident, name, &args, &kwds);
        self.stream
            .write_all(&frame)
            .await
            .map_err(|source| Error::Connection {
                address: self.label.clone(),
                source,
            })?;
        let (mut rd, _) = self.stream.split();
        let frame = read_reply(&mut rd, &mut self.buf, self.max_frame, &self.label).await?;
        decode_reply(&frame, &self.limits)
    }

    /// Sends a batch of framed requests (see [`append_frame`]) and reads
    /// `count` replies, in order (docs/protocol.md 5.5: a serving connection answers
    /// strictly in request order, so requests may be written ahead of
    /// their replies).
    ///
    /// Writing and reading run at once: a batch larger than the socket
    /// buffers would otherwise deadlock, the server blocked writing replies
    /// we do not read while we are blocked writing requests it does not
    /// read. A reply that arrives but does not parse is that entry's error;
    /// the outer error is a broken exchange, after which the connection's
    /// state is unknown and the caller must drop it, as after
    /// [`Conn::request`]. Any inner error also means the connection should
    /// not be reused, which `all_clean` reports.
    pub async fn exchange_many(&mut self, frames: &[u8], count: usize) -> Result<Exchanged> {
        let Conn {
            stream,
            buf,
            label,
            max_frame,
            limits,
            ..
        } = self;
        let (mut rd, mut wr) = stream.split();
        let write = async {
            wr.write_all(frames).await?;
            wr.flush().await
        };
        let read = async {
            let mut replies = Vec::with_capacity(count);
            let mut all_clean = true;
            for _ in 0..count {
                let frame = read_reply(&mut rd, buf, *max_frame, label).await?;
                let reply = decode_reply(&frame, limits);
                all_clean &= reply.is_ok();
                replies.push(reply);
            }
            Ok::<_, Error>(Exchanged { replies, all_clean })
        };
        let write = async {
            write.await.map_err(|source| Error::Connection {
                address: label.clone(),
                source,
            })
        };
        let ((), exchanged) = tokio::try_join!(write, read)?;
        Ok(exchanged)
    }
}

/// Reads one reply frame, acknowledging at once only when it helps.
///
/// Re-arming `TCP_QUICKACK` before every read (as the handshake does)
/// makes the kernel answer every reply with a bare ACK packet, where
/// the next request would have carried it: on loopback that cost 40%
/// more client CPU per call and a third of the throughput of 50
/// connections (measured, `docs/performance-native.md`). An ACK is
/// urgent only when the server holds data back until we acknowledge
/// what it sent (Nagle on a server without `TCP_NODELAY`, i.e.
/// CPython's; docs/protocol.md 2.2a): the payload of a reply over 16 KiB, which
/// CPython writes after its header (`Connection._send_bytes`), or a
/// reply queued behind one we have not acknowledged. So: quickack as
/// soon as a frame is partly in, or when nothing arrived for
/// [`ACK_STALL`]; the stall a delayed ACK could cause shrinks from
/// 40 ms to about that.
async fn read_reply(
    rd: &mut ReadHalf<'_>,
    buf: &mut BytesMut,
    max_frame: usize,
    label: &str,
) -> Result<Bytes> {
    let mut codec = FrameCodec::new(max_frame);
    let mut acked = false;
    loop {
        let decoded = codec.decode(buf).map_err(|e| Error::from_frame(label, e))?;
        if let Some(frame) = decoded {
            return Ok(frame.freeze());
        }
        if !acked && !buf.is_empty() {
            quickack(rd.as_ref());
            acked = true;
        }
        let read = if acked {
            rd.read_buf(buf).await
        } else {
            // `read_buf` is cancel safe: a timeout loses no bytes.
            match tokio::time::timeout(ACK_STALL, rd.read_buf(buf)).await {
                Ok(read) => read,
                Err(_) => {
                    quickack(rd.as_ref());
                    acked = true;
                    continue;
                }
            }
        };
        let n = read.map_err(|source| Error::Connection {
            address: label.to_string(),
            source,
        })?;
        if n == 0 {
            return match codec.decode_eof(buf) {
                Ok(Some(frame)) => Ok(frame.freeze()),
                Ok(None) => Err(Error::closed(label)),
                Err(e) => Err(Error::from_frame(label, e)),
            };
        }
    }
}

/// Sets `TCP_QUICKACK` (Linux), which sends an ACK the kernel was
/// delaying right away and acknowledges what arrives next at once
/// until the kernel falls back to delayed ACKs: used around the
/// handshake and when a reply is late (docs/protocol.md 2.2a; see `read_reply`).
fn quickack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(stream).set_quickack(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::Object;

    fn pair(kind: &str, payload: Value) -> Value {
        Value::tuple([Value::from(kind), payload])
    }

    #[test]
    fn return_error_and_traceback_replies() {
        assert!(matches!(
            Reply::parse(pair("#RETURN", Value::Int(3))).unwrap(),
            Reply::Return(Value::Int(3))
        ));
        let exc = Value::Object(Box::new(Object::reduce(
            Value::global("_queue", "Empty"),
            vec![],
        )));
        let err = Reply::parse(pair("#ERROR", exc))
            .unwrap()
            .into_value()
            .unwrap_err();
        assert!(err.is_remote("queue.Empty"), "{err}");
        let tb = Reply::parse(pair(
            "#TRACEBACK",
            Value::from("Traceback...\nKeyError: 'x'"),
        ))
        .unwrap()
        .into_value()
        .unwrap_err();
        assert!(tb.is_remote("RemoteError"));
        assert_eq!(tb.remote().unwrap().traceback_type(), Some("KeyError"));
        let un = Reply::parse(pair("#UNSERIALIZABLE", Value::from("boom")))
            .unwrap()
            .into_value()
            .unwrap_err();
        assert_eq!(
            un.remote().unwrap().message(),
            Some("Unserializable message: boom\n")
        );
    }

    #[test]
    fn batched_frames_read_back_as_the_requests_in_order() {
        let mut batch = Vec::new();
        append_frame(
            &mut batch,
            Some("a1"),
            "append",
            &[Value::Int(1)],
            &Dict::new(),
        );
        append_frame(&mut batch, Some("b2"), "__len__", &[], &Dict::new());
        let mut buf = BytesMut::from(&batch[..]);
        let mut codec = FrameCodec::new(1 << 20);
        let mut names = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            let req = pickle::decode(&frame, &Limits::default()).unwrap();
            let Value::Tuple(parts) = req else {
                panic!("{req:?}")
            };
            assert_eq!(parts.len(), 4);
            names.push((parts[0].clone(), parts[1].clone()));
        }
        assert!(buf.is_empty());
        assert_eq!(
            names,
            [
                (Value::from("a1"), Value::from("append")),
                (Value::from("b2"), Value::from("__len__"))
            ]
        );
    }

    #[test]
    fn proxy_reply_carries_exposed_and_token() {
        let token = Token {
            typeid: "Iterator".into(),
            address: Address::new("10.0.0.1", 7),
            id: "a1".into(),
        };
        let payload = Value::tuple([
            Value::tuple([Value::from("__next__"), Value::from("send")]),
            token.to_value(),
        ]);
        match Reply::parse(pair("#PROXY", payload)).unwrap() {
            Reply::Proxy { exposed, token: t } => {
                assert_eq!(exposed, ["__next__", "send"]);
                assert_eq!(t, token);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        for bad in [
            Value::Int(1),
            Value::tuple([Value::from("#RETURN")]),
            pair("#WHAT", Value::None),
            pair("#TRACEBACK", Value::Int(1)),
            pair("#ERROR", Value::from("not an exception")),
            pair("#PROXY", Value::None),
            Value::tuple([Value::Int(1), Value::None]),
        ] {
            assert!(
                matches!(Reply::parse(bad.clone()), Err(Error::Protocol(_))),
                "{bad:?}"
            );
        }
    }
}
