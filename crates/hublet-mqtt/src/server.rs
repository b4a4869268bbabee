//! Listeners: plain TCP (bench firmware without TLS) and TLS (the Azure IoT
//! SDKs), one accept loop each, one task per connection.
//!
//! Shape (after mini-redis): `start` binds and spawns; a cancellation token
//! is the shutdown broadcast; a task tracker knows when every connection has
//! finished. Caps and accept back-off are `hublet-net`'s, shared with the
//! other listeners so that none can starve the rest of descriptors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hublet_core::Hub;
use hublet_net::{Acceptor, Incoming};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::GatewayConfig;
use crate::connection::{self, Shared};

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running gateway.
pub struct Gateway {
    tcp_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    shared: Arc<Shared>,
}

impl Gateway {
    /// Binds the configured listeners and starts accepting devices.
    pub async fn start(hub: Hub, config: GatewayConfig) -> std::io::Result<Gateway> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let tcp = match config.tcp {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let tls = match &config.tls {
            Some((a, cfg)) => Some((TcpListener::bind(a).await?, TlsAcceptor::from(cfg.clone()))),
            None => None,
        };
        let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
        let tls_addr = tls.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
        let shared = Arc::new(Shared {
            hub,
            config,
            cancel: cancel.clone(),
        });
        let cap = shared.config.max_connections;
        if let Some(listener) = tcp {
            tracker.spawn(accept_loop(
                Acceptor::new(listener, cap, "mqtt"),
                None,
                shared.clone(),
                tracker.clone(),
            ));
        }
        if let Some((listener, acceptor)) = tls {
            tracker.spawn(accept_loop(
                Acceptor::new(listener, cap, "mqtts"),
                Some(acceptor),
                shared.clone(),
                tracker.clone(),
            ));
        }
        Ok(Gateway {
            tcp_addr,
            tls_addr,
            cancel,
            tracker,
            shared,
        })
    }

    /// Serves one connection given as any byte stream (an in-memory pipe in
    /// the fuzz targets and tests), exactly as an accepted TCP connection
    /// is served; returns when it ends.
    pub async fn serve_io<S>(&self, stream: S, remote: &str)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    {
        connection::serve(stream, remote.to_string(), "mqtt", self.shared.clone()).await;
    }

    /// The plain TCP listener's address.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The TLS listener's address.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Stops accepting, closes every connection (devices are detached with
    /// reason `shutdown`), and waits for them to finish.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(
    mut listener: Acceptor,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
) {
    while let Some(incoming) = listener.next(&shared.cancel).await {
        // Over the cap the connection is simply closed: MQTT has no way to
        // refuse before CONNECT, and reading one would hold the descriptor.
        let Incoming::Admitted {
            stream,
            peer,
            permit,
        } = incoming
        else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            serve_stream(stream, peer, tls, shared).await;
            drop(permit);
        });
    }
}

async fn serve_stream(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let remote = peer.to_string();
    match tls {
        None => connection::serve(stream, remote, "mqtt", shared).await,
        Some(acceptor) => {
            // Boxed: a task's state is the largest of its branches, so the
            // TLS handshake and stream would otherwise be paid for by every
            // plain connection too.
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            match Box::pin(handshake).await {
                Ok(Ok(tls_stream)) => {
                    Box::pin(connection::serve(tls_stream, remote, "mqtts", shared)).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}
