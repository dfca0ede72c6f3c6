//! Thin tokio adapters: frames and the authkey handshake over any
//! `AsyncRead`/`AsyncWrite` stream.
//!
//! A manager connection loop calls [`server_handshake`] once and then
//! alternates [`read_frame`] and [`write_frame`] (or wraps the stream in
//! `tokio_util::codec::Framed` with [`FrameCodec`]). All protocol decisions
//! live in `crate::frame` and `crate::handshake`; this module only moves
//! bytes, enforces the handshake timeout and caps every handshake read at
//! [`MAX_HANDSHAKE_FRAME`] bytes before allocating anything.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;

use crate::frame::{
    check_len, encode_header, eof_kind, parse_header, EofKind, FrameCodec, FrameError,
    LONG_HEADER_LEN, SHORT_HEADER_LEN,
};
use crate::handshake::{AuthError, AuthPolicy, Handshake, HandshakeInfo, MAX_HANDSHAKE_FRAME};

/// Payloads up to this size are written together with their header in one
/// write: CPython does the same (`Connection._send_bytes`, bpo-20540) so a
/// small message never waits on Nagle's algorithm behind its own header.
pub const SINGLE_WRITE_MAX: usize = 16384;

/// Buffer space offered to each read of [`read_frame`].
const READ_CHUNK: usize = 4096;

/// Why a handshake over a stream did not complete.
#[derive(Debug, Error)]
pub enum HandshakeError {
    /// The peer did not finish within the configured time (CPython has no
    /// such limit: a silent peer holds a server thread forever).
    #[error("handshake timed out after {0:?}")]
    Timeout(Duration),
    /// The peer failed authentication or broke the protocol.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// A handshake frame was malformed or over the 256-byte cap.
    #[error("handshake frame: {0}")]
    Frame(#[from] FrameError),
    /// The peer closed the connection mid-handshake (CPython: `EOFError`).
    #[error("peer closed the connection during the handshake")]
    Closed,
}

/// Runs the accepting side of the handshake (deliver, then answer) with a
/// fresh random nonce.
pub async fn server_handshake<S>(
    io: &mut S,
    authkey: &[u8],
    policy: &AuthPolicy,
    timeout: Duration,
) -> Result<HandshakeInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hs = Handshake::server(authkey, *policy, &mut rand::rngs::OsRng);
    run_handshake(io, hs, timeout).await
}

/// [`server_handshake`] reading through `buf`, as [`read_frame`] does: one
/// `recv` per handshake frame instead of two, and whatever the peer sent
/// after its last handshake frame (a CPython client's first request
/// follows its `#WELCOME#` at once) is left in `buf` for the caller's
/// [`read_frame`] on the same buffer.
pub async fn server_handshake_buffered<S>(
    io: &mut S,
    authkey: &[u8],
    policy: &AuthPolicy,
    timeout: Duration,
    buf: &mut BytesMut,
) -> Result<HandshakeInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hs = Handshake::server(authkey, *policy, &mut rand::rngs::OsRng);
    match tokio::time::timeout(timeout, drive(io, hs, Some(buf))).await {
        Ok(result) => result,
        Err(_) => Err(HandshakeError::Timeout(timeout)),
    }
}

/// Runs the connecting side of the handshake (answer, then deliver) with a
/// fresh random nonce.
pub async fn client_handshake<S>(
    io: &mut S,
    authkey: &[u8],
    policy: &AuthPolicy,
    timeout: Duration,
) -> Result<HandshakeInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hs = Handshake::client(authkey, *policy, &mut rand::rngs::OsRng);
    run_handshake(io, hs, timeout).await
}

/// Drives a prepared [`Handshake`] (either role) to completion.
///
/// Handshake frames are read with exact reads, never past the end of the
/// frame, so bytes the peer pipelines right after its last handshake frame
/// (a CPython client sends its first request straight after `#WELCOME#`)
/// stay in the stream for the caller's [`read_frame`]. On an authentication
/// failure the queued `#FAILURE#` is sent (best effort) before returning.
pub async fn run_handshake<S>(
    io: &mut S,
    hs: Handshake,
    timeout: Duration,
) -> Result<HandshakeInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, drive(io, hs, None)).await {
        Ok(result) => result,
        Err(_) => Err(HandshakeError::Timeout(timeout)),
    }
}

/// Reads with exact reads, or through `buf` when given (see
/// [`server_handshake_buffered`]).
async fn drive<S>(
    io: &mut S,
    mut hs: Handshake,
    mut buf: Option<&mut BytesMut>,
) -> Result<HandshakeInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        while let Some(payload) = hs.poll_transmit() {
            write_frame(io, &payload).await.map_err(FrameError::Io)?;
        }
        if let Some(info) = hs.info() {
            return Ok(info);
        }
        let payload: Bytes = match buf.as_deref_mut() {
            Some(buf) => read_frame(io, MAX_HANDSHAKE_FRAME, buf).await?,
            None => read_frame_exact(io, MAX_HANDSHAKE_FRAME)
                .await?
                .map(Bytes::from),
        }
        .ok_or(HandshakeError::Closed)?;
        if let Err(err) = hs.handle(&payload) {
            while let Some(verdict) = hs.poll_transmit() {
                // The peer may already be gone; the auth error is what the
                // caller needs to log, not a broken pipe.
                if write_frame(io, &verdict).await.is_err() {
                    break;
                }
            }
            return Err(err.into());
        }
    }
}

/// Reads one frame with exact reads only (CPython `_recv_bytes`), refusing
/// a declared length over `max` before allocating. `Ok(None)` on a clean
/// end of stream (before a header, or right after one, as CPython's
/// `EOFError`).
pub async fn read_frame_exact<R>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut header = [0u8; LONG_HEADER_LEN];
    let mut filled = 0;
    let parsed = loop {
        let want = match parse_header(&header[..filled])? {
            Some(parsed) => break parsed,
            None if filled < SHORT_HEADER_LEN => SHORT_HEADER_LEN,
            None => LONG_HEADER_LEN,
        };
        // `filled < want <= LONG_HEADER_LEN` here, so the range is in bounds.
        let n = fill(r, &mut header[filled..want]).await?;
        filled += n;
        if filled < want {
            return eof_result(&header[..filled]);
        }
    };
    let len = check_len(parsed.payload_len, max)?;
    let mut payload = vec![0u8; len];
    let n = fill(r, &mut payload).await?;
    if n < len {
        return match n {
            0 => Ok(None),
            _ => Err(FrameError::Truncated {
                buffered: parsed.header_len + n,
            }),
        };
    }
    Ok(Some(payload))
}

/// Reads until `buf` is full or the stream ends; returns how much arrived.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
        match r.read(rest).await? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

fn eof_result(partial: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
    match eof_kind(partial) {
        EofKind::Clean | EofKind::AfterHeader => Ok(None),
        EofKind::MidFrame => Err(FrameError::Truncated {
            buffered: partial.len(),
        }),
    }
}

/// Reads one frame through `buf`, which keeps any bytes read past it for the
/// next call (reuse the same buffer for the whole connection). The declared
/// length is checked against `max` before any payload space is reserved.
/// `Ok(None)` on a clean end of stream; [`FrameError::Truncated`] when the
/// stream stops inside a frame.
pub async fn read_frame<R>(
    r: &mut R,
    max: usize,
    buf: &mut BytesMut,
) -> Result<Option<Bytes>, FrameError>
where
    R: AsyncRead + Unpin,
{
    read_frame_with(r, max, buf, |_| {}).await
}

/// [`read_frame`], calling `on_partial` the first time it must wait for
/// the rest of a frame that is already partly in `buf` (at most once).
///
/// A TCP server uses it to acknowledge at once what it has: a CPython
/// client writes the header of a payload over [`SINGLE_WRITE_MAX`] bytes
/// separately and, under Nagle's algorithm, holds the payload back until
/// that header is acknowledged, which a delayed ACK puts off by ~40 ms
/// (spec 2.2a). Once is enough: that ACK also leaves the kernel
/// acknowledging the frame's later segments as they come.
pub async fn read_frame_with<R, F>(
    r: &mut R,
    max: usize,
    buf: &mut BytesMut,
    on_partial: F,
) -> Result<Option<Bytes>, FrameError>
where
    R: AsyncRead + Unpin,
    F: FnOnce(&R),
{
    let mut codec = FrameCodec::new(max);
    let mut on_partial = Some(on_partial);
    loop {
        if let Some(frame) = codec.decode(buf)? {
            return Ok(Some(frame.freeze()));
        }
        if !buf.is_empty() {
            if let Some(hook) = on_partial.take() {
                hook(r);
            }
        }
        // Room for a whole small request per read: the codec alone would
        // reserve just a header, costing a second `recv` for every frame.
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        if r.read_buf(buf).await? == 0 {
            return Ok(codec.decode_eof(buf)?.map(BytesMut::freeze));
        }
    }
}

/// A frame already whole in `buf` (read ahead by [`read_frame`]), without
/// touching the stream: a server answering pipelined requests uses it to
/// learn whether more replies will follow before it writes.
pub fn buffered_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    Ok(FrameCodec::new(max).decode(buf)?.map(BytesMut::freeze))
}

/// Writes one frame and flushes it: header and payload in a single write up
/// to [`SINGLE_WRITE_MAX`] bytes, separate writes above (CPython's split).
pub async fn write_frame<W>(w: &mut W, payload: &[u8]) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let header = encode_header(payload.len());
    if payload.len() <= SINGLE_WRITE_MAX {
        let mut frame = Vec::with_capacity(header.as_bytes().len() + payload.len());
        frame.extend_from_slice(header.as_bytes());
        frame.extend_from_slice(payload);
        w.write_all(&frame).await?;
    } else {
        w.write_all(header.as_bytes()).await?;
        w.write_all(payload).await?;
    }
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    const KEY: &[u8] = b"mpcluster-capture-key";
    const LONG: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn both_sides_complete_and_pipelined_bytes_survive() {
        let (mut a, mut b) = duplex(4096);
        let policy = AuthPolicy::default();
        let server = async {
            let info = server_handshake(&mut a, KEY, &policy, LONG).await.unwrap();
            let mut buf = BytesMut::new();
            let req = read_frame(&mut a, 1024, &mut buf).await.unwrap().unwrap();
            (info, req)
        };
        let client = async {
            let info = client_handshake(&mut b, KEY, &policy, LONG).await.unwrap();
            // A CPython client sends its first request right after its
            // `#WELCOME#`; the server must still find it.
            write_frame(&mut b, b"request").await.unwrap();
            info
        };
        let ((s_info, req), c_info) = tokio::join!(server, client);
        assert_eq!(&req[..], b"request");
        assert_eq!(s_info.to_string(), "modern sha256");
        assert_eq!(c_info.to_string(), "modern sha256");
    }

    /// `on_partial` runs while part of a frame is in and the rest is
    /// awaited, and only then. The writer here behaves as a CPython client
    /// under Nagle's algorithm: it sends a large payload's header alone and
    /// the payload only once the reader has acknowledged (signalled), so
    /// a reader that never calls back waits forever.
    #[tokio::test]
    async fn partial_frames_are_reported_before_waiting_for_the_rest() {
        let (mut a, mut b) = duplex(1 << 16);
        let (acked, mut ack) = tokio::sync::mpsc::unbounded_channel();
        let payload = vec![7u8; SINGLE_WRITE_MAX + 1];
        let writer = async {
            // Two whole frames in one write: no callback for them.
            let mut two = Vec::new();
            for body in [&b"one"[..], b"two"] {
                two.extend_from_slice(encode_header(body.len()).as_bytes());
                two.extend_from_slice(body);
            }
            b.write_all(&two).await.unwrap();
            assert!(ack.recv().await.is_some(), "reader gone");
            b.write_all(encode_header(payload.len()).as_bytes())
                .await
                .unwrap();
            assert!(ack.recv().await.is_some(), "reader gone");
            b.write_all(&payload).await.unwrap();
        };
        let reader = async {
            let mut buf = BytesMut::new();
            let mut calls = 0;
            let mut frames = Vec::new();
            for _ in 0..2 {
                let frame = read_frame_with(&mut a, 1 << 20, &mut buf, |_| calls += 1);
                frames.push(frame.await.unwrap().unwrap());
            }
            assert_eq!(calls, 0, "whole frames are not partial");
            acked.send(()).unwrap();
            let big = read_frame_with(&mut a, 1 << 20, &mut buf, |_| {
                calls += 1;
                let _ = acked.send(());
            });
            frames.push(big.await.unwrap().unwrap());
            (frames, calls)
        };
        let ((frames, calls), ()) =
            tokio::time::timeout(LONG, async { tokio::join!(reader, writer) })
                .await
                .expect("the reader waited without acknowledging the header");
        assert_eq!(&frames[0][..], b"one");
        assert_eq!(&frames[1][..], b"two");
        assert_eq!(frames[2][..], payload[..]);
        assert!(calls >= 1, "{calls}");
    }

    /// The buffered server side keeps what the client sent behind its last
    /// handshake frame (here two whole requests and half of a third, in one
    /// write with the `#WELCOME#`) for the request reader.
    #[tokio::test]
    async fn buffered_server_keeps_bytes_sent_behind_the_handshake() {
        let (mut a, mut b) = duplex(4096);
        let policy = AuthPolicy::default();
        let server = async {
            let mut buf = BytesMut::new();
            let info = server_handshake_buffered(&mut a, KEY, &policy, LONG, &mut buf)
                .await
                .unwrap();
            // Read ahead with the `#WELCOME#`, not left in the stream.
            assert!(buf.len() >= 4 + 5 + 4 + 6, "{buf:?}");
            let mut reqs = Vec::new();
            for _ in 0..3 {
                reqs.push(read_frame(&mut a, 1024, &mut buf).await.unwrap().unwrap());
            }
            (info, reqs)
        };
        let client = async {
            // The client's side by hand, so its `#WELCOME#` and the
            // requests after it go out in a single write.
            let mut hs = Handshake::client(KEY, policy, &mut rand::rngs::OsRng);
            let mut tail = Vec::new();
            loop {
                while let Some(out) = hs.poll_transmit() {
                    if hs.info().is_some() {
                        tail.extend_from_slice(encode_header(out.len()).as_bytes());
                        tail.extend_from_slice(&out);
                    } else {
                        write_frame(&mut b, &out).await.unwrap();
                    }
                }
                if hs.info().is_some() {
                    break;
                }
                let frame = read_frame_exact(&mut b, 256).await.unwrap().unwrap();
                hs.handle(&frame).unwrap();
            }
            for req in [&b"first"[..], b"second"] {
                tail.extend_from_slice(encode_header(req.len()).as_bytes());
                tail.extend_from_slice(req);
            }
            tail.extend_from_slice(encode_header(5).as_bytes());
            tail.extend_from_slice(b"th");
            b.write_all(&tail).await.unwrap();
            b.write_all(b"ird").await.unwrap();
        };
        let ((info, reqs), ()) = tokio::join!(server, client);
        assert_eq!(info.to_string(), "modern sha256");
        let reqs: Vec<&[u8]> = reqs.iter().map(|r| &r[..]).collect();
        assert_eq!(reqs, [&b"first"[..], b"second", b"third"]);
    }

    #[tokio::test]
    async fn wrong_key_sends_failure_and_errors_on_both_sides() {
        let (mut a, mut b) = duplex(4096);
        let policy = AuthPolicy::default();
        let (s, c) = tokio::join!(
            server_handshake(&mut a, KEY, &policy, LONG),
            client_handshake(&mut b, b"wrong", &policy, LONG)
        );
        assert!(
            matches!(s, Err(HandshakeError::Auth(AuthError::DigestReceivedWrong))),
            "{s:?}"
        );
        assert!(
            matches!(c, Err(HandshakeError::Auth(AuthError::DigestSentRejected))),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn silent_peer_times_out() {
        let (mut a, _b) = duplex(4096);
        let started = std::time::Instant::now();
        let timeout = Duration::from_millis(50);
        let res = server_handshake(&mut a, KEY, &AuthPolicy::default(), timeout).await;
        assert!(
            matches!(res, Err(HandshakeError::Timeout(t)) if t == timeout),
            "{res:?}"
        );
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn oversized_handshake_frame_is_refused() {
        let (mut a, mut b) = duplex(4096);
        let policy = AuthPolicy::default();
        let server = server_handshake(&mut a, KEY, &policy, LONG);
        let client = async {
            let challenge = read_frame_exact(&mut b, 256).await.unwrap().unwrap();
            assert!(challenge.starts_with(b"#CHALLENGE#{sha256}"));
            // Announce 1 GiB; send nothing else.
            b.write_all(&[0x40, 0, 0, 0]).await.unwrap();
        };
        let (res, ()) = tokio::join!(server, client);
        assert!(
            matches!(
                res,
                Err(HandshakeError::Frame(FrameError::TooLarge {
                    declared: 0x4000_0000,
                    max: 256
                }))
            ),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn peer_closing_mid_handshake_is_reported() {
        let (mut a, b) = duplex(4096);
        drop(b);
        let res = server_handshake(&mut a, KEY, &AuthPolicy::default(), LONG).await;
        // The challenge write fails or the read sees the end of stream.
        assert!(
            matches!(
                res,
                Err(HandshakeError::Closed | HandshakeError::Frame(FrameError::Io(_)))
            ),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn read_frame_eof_semantics() {
        for (bytes, want) in [
            (&b""[..], "clean"),
            (&b"\x00\x00\x00\x05"[..], "clean"),
            (&b"\x00\x00\x00\x05ab"[..], "truncated"),
            (&b"\x00\x00"[..], "truncated"),
        ] {
            let mut r = bytes;
            let got = match read_frame(&mut r, 64, &mut BytesMut::new()).await {
                Ok(None) => "clean",
                Err(FrameError::Truncated { .. }) => "truncated",
                other => panic!("{other:?}"),
            };
            assert_eq!(got, want, "{bytes:?}");
            let mut r = bytes;
            let got = match read_frame_exact(&mut r, 64).await {
                Ok(None) => "clean",
                Err(FrameError::Truncated { .. }) => "truncated",
                other => panic!("{other:?}"),
            };
            assert_eq!(got, want, "exact {bytes:?}");
        }
    }

    #[tokio::test]
    async fn frames_round_trip_over_a_stream_in_both_forms_of_write() {
        let (mut a, mut b) = duplex(1 << 16);
        let sizes = [0usize, 1, SINGLE_WRITE_MAX, SINGLE_WRITE_MAX + 1, 1 << 20];
        let writer = async {
            for n in sizes {
                let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                write_frame(&mut a, &payload).await.unwrap();
            }
            drop(a);
        };
        let reader = async {
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            while let Some(frame) = read_frame(&mut b, 2 << 20, &mut buf).await.unwrap() {
                got.push(frame);
            }
            got
        };
        let ((), got) = tokio::join!(writer, reader);
        assert_eq!(got.len(), sizes.len());
        for (frame, n) in got.iter().zip(sizes) {
            assert_eq!(frame.len(), n);
            assert!(frame.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        }
    }

    #[tokio::test]
    async fn long_form_header_is_read_by_the_exact_reader() {
        let mut r = &b"\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x02hi"[..];
        assert_eq!(read_frame_exact(&mut r, 8).await.unwrap().unwrap(), b"hi");
        let mut r = &b"\xff\xff\xff\xfe"[..];
        assert!(matches!(
            read_frame_exact(&mut r, 8).await,
            Err(FrameError::NegativeLength(-2))
        ));
    }
}
