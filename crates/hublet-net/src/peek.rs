//! Reading a connection's first bytes before choosing who serves it.
//!
//! One TLS port can carry two protocols (IoT Hub's 443 carries HTTPS and
//! AMQP; Node's service SDK dials AMQP on the port in its `HostName`), and
//! one AMQP port two handshakes (with and without SASL). The bytes are read
//! here and replayed to whichever server takes the connection.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// A stream that first yields bytes already read from it.
#[derive(Debug)]
pub struct Peeked<S> {
    head: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> Peeked<S> {
    /// Reads up to `n` bytes (fewer if the peer stops sending) and keeps them
    /// for replay.
    pub async fn read(mut inner: S, n: usize) -> std::io::Result<Peeked<S>> {
        let mut head = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let k = inner.read(&mut head[got..]).await?;
            if k == 0 {
                break;
            }
            got += k;
        }
        head.truncate(got);
        Ok(Peeked { head, at: 0, inner })
    }

    /// Reads more until `n` bytes are held (fewer if the peer stops
    /// sending). Only before anything was replayed.
    pub async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.at == 0 && self.head.len() < n {
            let mut more = vec![0u8; n - self.head.len()];
            let k = self.inner.read(&mut more).await?;
            if k == 0 {
                break;
            }
            self.head.extend_from_slice(&more[..k]);
        }
        Ok(())
    }

    /// Wraps a stream with bytes already read from it.
    pub fn with(head: Vec<u8>, inner: S) -> Peeked<S> {
        Peeked { head, at: 0, inner }
    }

    /// The bytes read ahead.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Peeked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.head.len() {
            let n = (self.head.len() - self.at).min(buf.remaining());
            let from = self.at;
            buf.put_slice(&self.head[from..from + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Peeked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
