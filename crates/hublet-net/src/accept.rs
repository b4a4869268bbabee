//! An accept loop step with a connection cap and back-off.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// First wait after a failed accept; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// Longest wait between accept attempts while descriptors are exhausted.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What an accept produced.
#[derive(Debug)]
pub enum Incoming {
    /// A connection within the cap; hold the permit for its lifetime.
    Admitted {
        /// The connection.
        stream: TcpStream,
        /// Its peer.
        peer: SocketAddr,
        /// Released when dropped, freeing a place under the cap.
        permit: OwnedSemaphorePermit,
    },
    /// A connection over the cap. The caller may answer briefly (an HTTP
    /// 503) and must then drop it.
    OverCap {
        /// The connection.
        stream: TcpStream,
        /// Its peer.
        peer: SocketAddr,
    },
}

/// A listener with a connection cap.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    cap: Arc<Semaphore>,
    max: usize,
    backoff: Duration,
    name: &'static str,
}

impl Acceptor {
    /// Wraps a bound listener. `name` appears in log lines (`mqtt`, `api`).
    pub fn new(listener: TcpListener, max_connections: usize, name: &'static str) -> Acceptor {
        Acceptor {
            listener,
            cap: Arc::new(Semaphore::new(max_connections)),
            max: max_connections,
            backoff: FIRST_BACKOFF,
            name,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The cap.
    pub fn max_connections(&self) -> usize {
        self.max
    }

    /// Connections held now.
    pub fn open_connections(&self) -> usize {
        self.max - self.cap.available_permits()
    }

    /// Waits for the next connection; `None` once `cancel` fires.
    ///
    /// A failed accept (most often `EMFILE`: the process is out of
    /// descriptors) is logged and retried after a growing pause, so the
    /// loop neither spins nor dies; the pending connection stays in the
    /// kernel's backlog until descriptors come back.
    pub async fn next(&mut self, cancel: &CancellationToken) -> Option<Incoming> {
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                _ = cancel.cancelled() => return None,
            };
            match accepted {
                Ok((stream, peer)) => {
                    self.backoff = FIRST_BACKOFF;
                    return Some(match self.cap.clone().try_acquire_owned() {
                        Ok(permit) => Incoming::Admitted {
                            stream,
                            peer,
                            permit,
                        },
                        Err(_) => {
                            tracing::warn!(
                                listener = self.name,
                                %peer,
                                "connection limit ({}) reached; connection refused",
                                self.max
                            );
                            Incoming::OverCap { stream, peer }
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(
                        listener = self.name,
                        "accept failed: {e}; retrying in {:?}",
                        self.backoff
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(self.backoff) => {}
                        _ = cancel.cancelled() => return None,
                    }
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_handed_back_and_places_free_up() {
        let mut a = Acceptor::new(listener().await, 2, "test");
        let addr = a.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let first = a.next(&cancel).await.unwrap();
        let second = a.next(&cancel).await.unwrap();
        let third = a.next(&cancel).await.unwrap();
        assert!(matches!(first, Incoming::Admitted { .. }));
        assert!(matches!(second, Incoming::Admitted { .. }));
        assert!(matches!(third, Incoming::OverCap { .. }));
        assert_eq!(a.open_connections(), 2);
        drop(first);
        assert_eq!(a.open_connections(), 1);
        clients.push(TcpStream::connect(addr).await.unwrap());
        assert!(matches!(
            a.next(&cancel).await,
            Some(Incoming::Admitted { .. })
        ));
    }

    #[tokio::test]
    async fn cancelling_ends_the_wait() {
        let mut a = Acceptor::new(listener().await, 2, "test");
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(a.next(&cancel).await.is_none());
    }
}
