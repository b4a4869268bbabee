//! The HTTP and HTTPS listeners.
//!
//! HTTP uses `axum::serve` with graceful shutdown. HTTPS terminates TLS with
//! the hub's local CA (tokio-rustls) and hands each connection to hyper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::AppState;

/// Running API listeners.
pub struct ApiServer {
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl ApiServer {
    /// Binds and serves. Binding is done before returning, so the addresses are known.
    pub async fn start(
        state: AppState,
        http: Option<SocketAddr>,
        https: Option<(SocketAddr, Arc<ServerConfig>)>,
    ) -> std::io::Result<ApiServer> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let app = crate::router(state);
        let mut http_addr = None;
        if let Some(a) = http {
            let l = TcpListener::bind(a).await?;
            http_addr = Some(l.local_addr()?);
            let c = cancel.clone();
            let app = app.clone();
            tracker.spawn(async move {
                let r = axum::serve(l, app)
                    .with_graceful_shutdown(async move { c.cancelled().await })
                    .await;
                if let Err(e) = r {
                    tracing::error!("HTTP API stopped: {e}");
                }
            });
        }
        let mut https_addr = None;
        if let Some((a, cfg)) = https {
            let l = TcpListener::bind(a).await?;
            https_addr = Some(l.local_addr()?);
            let acceptor = TlsAcceptor::from(cfg);
            let c = cancel.clone();
            let t = tracker.clone();
            tracker.spawn(async move {
                loop {
                    let (stream, peer) = tokio::select! {
                        r = l.accept() => match r {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::warn!("HTTPS accept failed: {e}");
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        },
                        _ = c.cancelled() => return,
                    };
                    let acceptor = acceptor.clone();
                    let app = app.clone();
                    let c = c.clone();
                    t.spawn(async move {
                        let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                            Ok(Ok(s)) => s,
                            _ => {
                                tracing::debug!(%peer, "HTTPS handshake failed");
                                return;
                            }
                        };
                        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(app));
                        tokio::pin!(conn);
                        tokio::select! {
                            r = conn.as_mut() => if let Err(e) = r { tracing::debug!(%peer, "HTTPS connection: {e}") },
                            _ = c.cancelled() => conn.as_mut().graceful_shutdown(),
                        }
                    });
                }
            });
        }
        Ok(ApiServer {
            http_addr,
            https_addr,
            cancel,
            tracker,
        })
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// Stops accepting, lets requests in progress finish (up to 10 s).
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await;
    }
}
