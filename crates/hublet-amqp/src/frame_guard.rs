//! A guard in front of fe2o3-amqp's frame decoder.
//!
//! fe2o3-amqp 0.18 panics on a frame whose size field is under 8 (it reads
//! the channel from bytes that are not there), which a fuzzed client found
//! at once. A panic only ends that connection's task, but it is not the
//! clean close the protocol owes a bad client. This reader checks each frame
//! header as the bytes go by (size at least 8 and within the frame limit,
//! data offset at least 2 and inside the frame, type AMQP or SASL) and fails
//! the stream with `InvalidData` before a bad header reaches the decoder.
//! It does not frame anything itself: every byte is passed on unchanged.
//!
//! Protocol headers (`AMQP…`, eight bytes) may appear where a frame would
//! start: first, and again after SASL. A frame whose size begins with the
//! byte `A` would be over a gigabyte, so the two cannot be confused.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads through `inner`, failing on an impossible frame header.
#[derive(Debug)]
pub struct FrameGuard<S> {
    inner: S,
    max_frame: u32,
    /// Bytes of the current frame still to pass.
    remaining: u64,
    /// The next header, as far as it has arrived.
    header: [u8; 8],
    have: usize,
}

impl<S> FrameGuard<S> {
    /// Guards `inner`, allowing frames up to `max_frame` bytes.
    pub fn new(inner: S, max_frame: u32) -> FrameGuard<S> {
        FrameGuard {
            inner,
            max_frame,
            remaining: 0,
            header: [0; 8],
            have: 0,
        }
    }

    /// Checks newly read bytes.
    fn check(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.remaining -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let n = (8 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            // The size alone can already be impossible: a frame of under 8
            // bytes may end before its header does, and fe2o3 would read
            // past it.
            if self.have >= 4 && &self.header[..4] != b"AMQP" {
                let size = u32::from_be_bytes([
                    self.header[0],
                    self.header[1],
                    self.header[2],
                    self.header[3],
                ]);
                if size < 8 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("frame size {size} is under the minimum of 8"),
                    ));
                }
            }
            if self.have < 8 {
                continue;
            }
            self.have = 0;
            if &self.header[..4] == b"AMQP" {
                continue; // a protocol header, not a frame
            }
            let size = u32::from_be_bytes([
                self.header[0],
                self.header[1],
                self.header[2],
                self.header[3],
            ]);
            let doff = u32::from(self.header[4]);
            let kind = self.header[5];
            let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
            if size < 8 {
                return Err(bad(format!("frame size {size} is under the minimum of 8")));
            }
            if size > self.max_frame {
                return Err(bad(format!(
                    "frame size {size} is over the maximum of {}",
                    self.max_frame
                )));
            }
            if doff < 2 || doff * 4 > size {
                return Err(bad(format!(
                    "data offset {doff} does not fit a frame of {size} bytes"
                )));
            }
            if kind > 1 {
                return Err(bad(format!(
                    "frame type {kind} is neither AMQP (0) nor SASL (1)"
                )));
            }
            self.remaining = u64::from(size) - 8;
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let fresh = buf.filled()[before..].to_vec();
            if let Err(e) = self.check(&fresh) {
                buf.set_filled(before);
                return Poll::Ready(Err(e));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_traffic_passes_and_impossible_headers_fail() {
        let mut g = FrameGuard::new((), 65_536);
        let mut ok = b"AMQP\x00\x01\x00\x00".to_vec();
        ok.extend_from_slice(&[0, 0, 0, 8, 2, 0, 0, 0]); // a heartbeat
        ok.extend_from_slice(&[0, 0, 0, 12, 2, 0, 0, 1, 9, 9, 9, 9]);
        for chunk in ok.chunks(3) {
            g.check(chunk).unwrap();
        }
        for bad in [
            [0u8, 0, 0, 5, 2, 0, 0, 0],
            [0, 0, 0, 8, 1, 0, 0, 0],
            [0, 0, 0, 8, 3, 0, 0, 0],
            [0, 0, 0, 8, 2, 7, 0, 0],
            [0, 2, 0, 0, 2, 0, 0, 0],
        ] {
            let mut g = FrameGuard::new((), 65_536);
            assert!(g.check(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_frame_shorter_than_its_header_fails_before_the_header_is_complete() {
        // Found by the amqp_session fuzz target: a 7-byte frame ends before
        // the 8 header bytes the guard used to wait for, and fe2o3 read past it.
        let mut g = FrameGuard::new((), 65_536);
        g.check(b"AMQP\x00\x01\x00\x00").unwrap();
        assert!(g.check(&[0, 0, 0, 7, 2, 0xd0, 0xd0]).is_err());
    }
}
