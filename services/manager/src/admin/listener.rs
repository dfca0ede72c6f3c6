//! The admin listener with a cap on connections open at once.
//!
//! The admin port accepts connections before any token is checked, and
//! HTTP keep-alive and event streams hold them open: without a cap, a
//! client opening sockets in a loop would spend the process's file
//! descriptors, and the data port, sharing them, would stop accepting
//! manager clients. Past the cap a connection gets a short HTTP 503 and is
//! closed, as the data port closes connections past `--max-connections`.
//! The 503 is written by a short-lived task that also reads what the client
//! sent (closing with unread bytes would reset the connection and could
//! destroy the 503 before the client reads it); at most [`POLITE`] of those
//! run at once, and past that a refused connection is just closed.

use crate::fdlimit::{self, SpareFd};
use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// What a connection past the cap reads before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Content-Type: text/plain\r\nContent-Length: 43\r\nConnection: close\r\n\r\n\
    mpcluster: admin connection limit reached\r\n";

/// Refused connections answered with a 503 at once.
const POLITE: usize = 32;

/// How long a refused connection may take to send its request.
const LINGER: Duration = Duration::from_millis(500);

/// A `TcpListener` that holds one permit per open connection.
pub struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    max: usize,
    spare: SpareFd,
}

impl CappedListener {
    pub fn new(inner: TcpListener, max: usize) -> Self {
        CappedListener {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            refusing: Arc::new(Semaphore::new(POLITE)),
            max,
            spare: SpareFd::new(),
        }
    }

    fn refuse(&self, stream: TcpStream) {
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _ = tokio::time::timeout(LINGER, answer_503(stream)).await;
            drop(permit);
        });
    }
}

/// Writes the 503, ends our side, and reads until the client closes (or a
/// bounded amount), so the close that follows is not a reset.
async fn answer_503(mut stream: TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(REFUSAL).await?;
    stream.shutdown().await?;
    let mut scratch = [0u8; 1024];
    let mut left: usize = 64 * 1024;
    while left > 0 {
        match stream.read(&mut scratch).await? {
            0 => break,
            n => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

impl Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CappedStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, as on the data port: the first
                    // waiting client is closed at once, not left waiting.
                    fdlimit::on_accept_error(&mut self.spare, &self.inner, e, "admin ").await;
                    continue;
                }
            };
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    return (
                        CappedStream {
                            stream,
                            _permit: permit,
                        },
                        peer,
                    )
                }
                Err(_) => {
                    warn!(%peer, max = self.max, "admin connection refused: --admin-max-connections reached");
                    self.refuse(stream);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted admin connection; its permit returns when it is dropped.
pub struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::REFUSAL;

    /// The hand-written 503 declares the length its body really has.
    #[test]
    fn refusal_content_length_matches_its_body() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        assert!(head.starts_with("HTTP/1.1 503 "));
    }
}
