//! One client connection, from the socket to its first request.
//!
//! Every connection runs the mutual authkey handshake (spec 4), then reads
//! one request. `accept_connection` turns it into a serving connection
//! (`serve.rs`), which answers method calls until the client closes it;
//! anything else is a control request (`control.rs`): one reply, then the
//! server closes, as CPython's does.

use crate::clients::ClientInfo;
use crate::control;
use crate::events::Event;
use crate::reply::Reply;
use crate::request::Request;
use crate::serve;
use crate::state::Shared;
use crate::store::ConnId;
use bytes::{Bytes, BytesMut};
use mpcluster_wire::frame::FrameError;
use mpcluster_wire::{io, pickle, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tracing::{debug, info_span, warn, Instrument};

/// The two halves of an authenticated connection, and its bookkeeping.
pub struct Conn {
    pub id: ConnId,
    pub reader: OwnedReadHalf,
    pub writer: OwnedWriteHalf,
    pub buf: BytesMut,
    /// Encoded replies not written yet (see [`Conn::queue`]).
    pub out: Vec<u8>,
    pub info: Arc<ClientInfo>,
    /// Unsent reply bytes past which a client that reads nothing is cut
    /// off (`--max-pending-reply-bytes`).
    pub max_pending: usize,
}

/// Replies queued past this size are written even if more requests are
/// already buffered, bounding a pipelining client's cost in server memory.
const FLUSH_AT: usize = 64 * 1024;

/// An output buffer grown past this by one large reply is given back after
/// the write instead of being kept for the connection's lifetime.
const KEEP_OUT: usize = 256 * 1024;

/// How long a client holding more than `--max-pending-reply-bytes` of
/// unsent replies may go without reading anything before it is cut off.
/// A client that reads a large reply slowly makes progress within it and
/// keeps its connection; one that pipelines requests and never reads does
/// not (Redis's `client-output-buffer-limit` hard limit, with a grace so
/// that a reply larger than the limit can still be read).
pub const PENDING_REPLY_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a connection ended other than by a clean EOF.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    #[error("write: {0}")]
    Write(#[from] std::io::Error),
    #[error(
        "client output limit: {pending} reply bytes unsent and nothing read for {grace:?} \
         (--max-pending-reply-bytes {limit})"
    )]
    OutputLimit {
        pending: usize,
        limit: usize,
        grace: std::time::Duration,
    },
}

impl Conn {
    /// Reads one frame; `None` on a clean end of stream.
    ///
    /// A request is answered at once and the reply carries its ACK, so
    /// ACKs stay delayed (see [`run`]), except while part of a frame is in
    /// and the rest is awaited: a CPython client holds the payload of a
    /// request over 16 KiB back until its header is acknowledged (spec
    /// 2.2a), which cost 44 ms per such request before.
    pub async fn read_frame(&mut self, max: usize) -> Result<Option<Bytes>, FrameError> {
        if self.buf.capacity() == 0 {
            // A connection that has not sent its first request holds no
            // read buffer until bytes arrive (a peek waits for them; mere
            // readiness may be left over from the handshake's reads), so
            // an idle authenticated connection costs 3 KB, not 7.
            let mut probe = [0u8; 1];
            self.reader.peek(&mut probe).await.map_err(FrameError::Io)?;
        }
        io::read_frame_with(&mut self.reader, max, &mut self.buf, |r| {
            ack_now(r.as_ref())
        })
        .await
    }

    /// A request already read ahead and whole in the buffer, if any.
    pub fn buffered_frame(&mut self, max: usize) -> Result<Option<Bytes>, FrameError> {
        io::buffered_frame(&mut self.buf, max)
    }

    /// Encodes one reply into the output buffer; returns its pickle size.
    ///
    /// Replies to requests a client pipelined are written together, one
    /// `send` for the batch (as Redis answers one event-loop turn), instead
    /// of one system call and one TCP segment each. The serving loop
    /// flushes before it waits for anything: a read, a blocking call.
    pub fn queue(&mut self, reply: Reply) -> usize {
        reply.encode_into(&mut self.out)
    }

    /// Whether enough replies are queued to write them now.
    pub fn out_full(&self) -> bool {
        self.out.len() >= FLUSH_AT
    }

    /// Writes every queued reply.
    ///
    /// When the queued replies pass `max_pending` bytes, each write must
    /// make progress within [`PENDING_REPLY_GRACE`], or the connection ends
    /// with [`ConnError::OutputLimit`] and its buffer is freed with it.
    /// Below the limit a client that stops reading only stalls its own
    /// connection: the server reads nothing more from it meanwhile, so
    /// what it can make the server hold stays under the limit.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let mut sent = 0;
        // The whole batch counts, not what is left of it: the kernel's
        // socket buffers hold a few MiB more, so a client that stopped
        // reading has its last bytes stuck, not its first.
        let over = self.out.len() > self.max_pending;
        while sent < self.out.len() {
            let rest = &self.out[sent..];
            let n = if over {
                match tokio::time::timeout(PENDING_REPLY_GRACE, self.writer.write(rest)).await {
                    Ok(n) => n?,
                    Err(_) => {
                        return Err(ConnError::OutputLimit {
                            pending: rest.len(),
                            limit: self.max_pending,
                            grace: PENDING_REPLY_GRACE,
                        })
                    }
                }
            } else {
                self.writer.write(rest).await?
            };
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            sent += n;
        }
        self.out.clear();
        if self.out.capacity() > KEEP_OUT {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Encodes and sends one reply.
    pub async fn send(&mut self, reply: Reply) -> Result<usize, ConnError> {
        let n = self.queue(reply);
        self.flush().await?;
        Ok(n)
    }
}

/// Serves one accepted socket to the end.
pub async fn handle(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = shared.next_conn_id();
    let span = info_span!("conn", conn_id = id, %peer);
    async move {
        let info = shared.clients.open(id, peer, shared.shutdown.child_token());
        shared.metrics.connections_open.inc();
        shared.metrics.connections_total.inc();
        let cancel = info.cancel.clone();
        tokio::select! {
            r = run(&shared, stream, id, info) => match r {
                Err(e @ ConnError::OutputLimit { .. }) => {
                    warn!(error = %e, "client disconnected");
                    shared.metrics.output_limit_disconnects.inc();
                }
                Err(e) => debug!(error = %e, "connection closed"),
                Ok(()) => {}
            },
            // Admin drop or server shutdown: dropping `run` closes the socket
            // and cancels any wait in progress.
            _ = cancel.cancelled() => debug!("connection dropped"),
        }
        shared.clients.close(id);
        shared.metrics.connections_open.dec();
        shared
            .events
            .emit(Event::ClientDisconnected { conn: id, peer });
    }
    .instrument(span)
    .await
}

async fn run(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    id: ConnId,
    info: Arc<ClientInfo>,
) -> Result<(), ConnError> {
    // Our replies must not wait on Nagle's algorithm; and ACKs are delayed
    // from the start (a new socket acknowledges every segment at once for
    // a while), so each one rides on the answer that follows, except the
    // one ACK a CPython client waits for: see `ack_now` below. A control
    // connection took 18 TCP segments, now 17 (tcpdump, nstat).
    let _ = stream.set_nodelay(true);
    delay_acks(&stream);
    let settings = &shared.settings;
    // Read through a buffer: one `recv` per handshake frame, and a request
    // sent right behind the last one stays in `buf` for `Conn::read_frame`.
    let mut buf = BytesMut::new();
    match io::server_handshake_buffered(
        &mut stream,
        &shared.authkey,
        &settings.auth_policy,
        settings.handshake_timeout,
        &mut buf,
    )
    .await
    {
        Ok(how) => {
            debug!(handshake = %how, "authenticated");
            info.set_authenticated();
            shared.events.emit(Event::ClientConnected {
                conn: id,
                peer: info.peer,
            });
        }
        Err(e) => {
            warn!(error = %e, "handshake failed");
            shared.metrics.auth_failures.inc();
            shared.events.emit(Event::AuthFailed {
                peer: info.peer,
                reason: e.to_string(),
            });
            return Ok(());
        }
    }
    if buf.is_empty() {
        // Nothing read ahead: free the buffer, so an idle connection holds
        // none until its first bytes arrive (`Conn::read_frame`).
        buf = BytesMut::new();
    }
    let (reader, writer) = stream.into_split();
    let mut conn = Conn {
        id,
        reader,
        writer,
        buf,
        out: Vec::new(),
        info,
        max_pending: settings.max_pending_reply_bytes,
    };
    // A CPython client writes its `#WELCOME#` and then its first request;
    // Nagle holds the request until the welcome is acknowledged, and a
    // delayed ACK would stall every fresh connection ~40 ms (spec 2.2a).
    // (Over loopback the request arrives inside this call, before ACKs
    // could be delayed again, so it gets a bare ACK of its own: one
    // `delay_acks` here was measured to save nothing.)
    ack_now(conn.reader.as_ref());
    let Some(frame) = conn.read_frame(settings.max_frame).await? else {
        return Ok(());
    };
    let request = match decode_request(shared, &frame) {
        Ok(r) => r,
        Err(reply) => {
            conn.send(reply).await?;
            return Ok(());
        }
    };
    if request.name_str() == Some("accept_connection") {
        let mut request = request;
        let args = match request.take_args() {
            Ok(a) => a,
            Err(e) => {
                let callable = "multiprocessing.managers.Server.accept_connection";
                conn.send(Reply::Traceback(e.to_exception(None, callable)))
                    .await?;
                return Ok(());
            }
        };
        match control::accept_connection(args) {
            Ok(name) => {
                conn.info.set_name(name);
                let n = conn.send(Reply::none()).await?;
                conn.info.count(frame.len(), n);
                serve::run(shared, conn).await
            }
            Err(reply) => {
                conn.send(reply).await?;
                Ok(())
            }
        }
    } else {
        let name = request.name_str().unwrap_or("other").to_string();
        let started = std::time::Instant::now();
        let replies = control::handle(shared, id, request).await;
        let kind = replies.first().map_or("", |r| r.kind());
        let elapsed = started.elapsed();
        let mut sent = 0;
        for reply in replies {
            sent += conn.send(reply).await?;
        }
        conn.info.count(frame.len(), sent);
        shared.metrics.request(
            control::metric_label(&name),
            kind,
            elapsed,
            frame.len(),
            sent,
        );
        if name == "shutdown" && shared.shutdown.is_cancelled() {
            debug!("shutdown requested by this client");
        }
        Ok(())
    }
}

/// Decodes a control connection's request, or the `#TRACEBACK` CPython
/// would answer.
fn decode_request(shared: &Shared, frame: &[u8]) -> Result<Request, Reply> {
    let value = decode(shared, frame).map_err(Reply::Traceback)?;
    Request::parse(value).map_err(Reply::Traceback)
}

/// Decodes a request pickle within the configured limits. A pickle we
/// refuse is answered like one CPython fails to unpickle.
pub fn decode(shared: &Shared, frame: &[u8]) -> Result<Value, crate::pyexc::PyException> {
    pickle::decode(frame, &shared.settings.pickle).map_err(|e| {
        warn!(error = %e, "undecodable request");
        // A pickle whose shared references would expand past its budget
        // is a request for more memory than it carries: the MemoryError
        // CPython's server raises when it runs out.
        let kind = match e {
            pickle::PickleError::TooManyValues { .. } => crate::pyexc::ExcKind::MemoryError,
            _ => crate::pyexc::ExcKind::UnpicklingError,
        };
        crate::pyexc::PyException::msg(kind, format!("mpcluster cannot decode this request: {e}"))
    })
}

/// Sends an ACK the kernel is delaying now (`TCP_QUICKACK`, Linux). It
/// also acknowledges at once what arrives next, until [`delay_acks`] or
/// the kernel's own switch back to delayed ACKs after a reply.
fn ack_now<S: std::os::fd::AsFd>(s: &S) {
    set_quickack(s, true);
}

/// Lets ACKs wait to ride on the next reply (`TCP_QUICKACK` off: the
/// kernel's interactive mode), instead of a bare ACK packet per segment.
fn delay_acks<S: std::os::fd::AsFd>(s: &S) {
    set_quickack(s, false);
}

fn set_quickack<S: std::os::fd::AsFd>(s: &S, on: bool) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(s).set_quickack(on);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (s, on);
}
