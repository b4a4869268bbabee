//! The HTTP and HTTPS listeners, and the limits that keep a slow, idle or
//! greedy client from wearing the hub down.
//!
//! Both listeners run the same loop (`hublet-net` caps connections and backs
//! off when descriptors run out) and hand each connection to hyper. Not
//! `axum::serve`: it has no connection cap, no idle timeout and no way to
//! see a connection's peer and activity, and the API listens on the network
//! in a classroom (`--api 0.0.0.0`), where anyone may connect without a
//! token. The limits, per connection:
//!
//! - **Idle**: a connection with no request in progress is closed after
//!   [`Limits::idle`] (HTTP/1 and HTTP/2 alike). A request in progress (a
//!   method call waiting for its device, a live trace stream) keeps it open.
//! - **Headers**: HTTP/1 headers must arrive within [`Limits::headers`]
//!   (hyper's header-read timeout, which also starts while a kept-alive
//!   connection waits for its next request).
//! - **Body**: a declared length over the limit is refused with 413 before
//!   any of it is read, and the whole body must arrive within
//!   [`Limits::body`] (the `body` module).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hublet_net::{Acceptor, Incoming, Peeked};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::AppState;
use crate::extract::Shutdown;
use crate::routes::amqp_ws::UpgradedConn;

/// Per-connection limits. The defaults suit a desktop hub on a network.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most open connections on each listener (HTTP and HTTPS each).
    pub max_connections: usize,
    /// How long a connection may sit with no request in progress.
    pub idle: Duration,
    /// How long an HTTP/1 request's headers may take to arrive.
    pub headers: Duration,
    /// How long a request's whole body may take to arrive.
    pub body: Duration,
    /// How long a TLS handshake may take.
    pub handshake: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1_000,
            idle: Duration::from_secs(30),
            headers: Duration::from_secs(10),
            body: Duration::from_secs(30),
            handshake: Duration::from_secs(10),
        }
    }
}

/// Running API listeners.
pub struct ApiServer {
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// What a connection's task needs besides the stream.
#[derive(Clone)]
struct Ctx {
    app: axum::Router,
    limits: Limits,
    cancel: CancellationToken,
    amqp: Option<hublet_amqp::AmqpServer>,
}

impl ApiServer {
    /// Binds and serves. Binding is done before returning, so the addresses are known.
    pub async fn start(
        state: AppState,
        http: Option<SocketAddr>,
        https: Option<(SocketAddr, Arc<ServerConfig>)>,
        limits: Limits,
    ) -> std::io::Result<ApiServer> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let amqp = state.amqp.clone();
        let app = crate::router::with_body_deadline(state, limits.body);
        let ctx = Ctx {
            app,
            limits,
            cancel: cancel.clone(),
            amqp,
        };
        let mut http_addr = None;
        if let Some(a) = http {
            let l = Acceptor::new(TcpListener::bind(a).await?, limits.max_connections, "api");
            http_addr = Some(l.local_addr()?);
            tracker.spawn(accept_loop(l, None, ctx.clone(), tracker.clone()));
        }
        let mut https_addr = None;
        if let Some((a, cfg)) = https {
            let l = Acceptor::new(TcpListener::bind(a).await?, limits.max_connections, "https");
            https_addr = Some(l.local_addr()?);
            let tls = TlsAcceptor::from(cfg);
            tracker.spawn(accept_loop(l, Some(tls), ctx, tracker.clone()));
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

    /// Stops accepting, ends live streams, lets other requests in progress
    /// finish (up to 10 s).
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await;
    }
}

/// The answer to a connection over the cap, written before closing it.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 121\r\n\r\n{\"error\":{\"name\":\"ServerBusy\",\"message\":\"the hub has too many open API connections; try again shortly\",\"explanation\":\"\"}}";

async fn accept_loop(
    mut listener: Acceptor,
    tls: Option<TlsAcceptor>,
    ctx: Ctx,
    tracker: TaskTracker,
) {
    while let Some(incoming) = listener.next(&ctx.cancel).await {
        match incoming {
            Incoming::OverCap { mut stream, .. } => {
                if tls.is_none() {
                    tracker.spawn(async move {
                        let write = stream.write_all(BUSY);
                        let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
                    });
                }
            }
            Incoming::Admitted {
                stream,
                peer,
                permit,
            } => {
                let _ = stream.set_nodelay(true);
                let ctx = ctx.clone();
                let tls = tls.clone();
                tracker.spawn(async move {
                    match tls {
                        None => serve_connection(stream, peer, ctx).await,
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            match tokio::time::timeout(ctx.limits.handshake, handshake).await {
                                Ok(Ok(s)) => {
                                    let local = s.get_ref().0.local_addr().ok();
                                    let dialled = hublet_amqp::server::dialled_host(
                                        s.get_ref().1.server_name(),
                                        local,
                                    );
                                    serve_tls(s, peer, ctx, dialled).await
                                }
                                _ => tracing::debug!(%peer, "HTTPS handshake failed"),
                            }
                        }
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// An HTTPS connection, or AMQP on the HTTPS port: IoT Hub serves both on
/// 443, and Node's service SDK dials AMQP on the port of its `HostName`
/// (`localhost:8443` in Hublet's service connection string).
async fn serve_tls<S>(stream: S, peer: SocketAddr, ctx: Ctx, dialled: Option<String>)
where
    S: AsyncRead + AsyncWrite + std::fmt::Debug + Unpin + Send + 'static,
{
    let peeked = match tokio::time::timeout(ctx.limits.headers, Peeked::read(stream, 4)).await {
        Ok(Ok(p)) => p,
        _ => return,
    };
    match &ctx.amqp {
        Some(amqp) if peeked.head() == b"AMQP" => {
            amqp.serve_peeked(peeked, peer.to_string(), dialled).await
        }
        _ => serve_connection(peeked, peer, ctx).await,
    }
}

/// What the idle watchdog knows about a connection.
struct Activity {
    /// Requests whose responses have not been fully sent.
    in_flight: AtomicUsize,
    /// When the last request finished, in milliseconds since `start`.
    last_done_ms: AtomicU64,
    start: Instant,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            start: Instant::now(),
        })
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let done = Duration::from_millis(self.last_done_ms.load(Ordering::Acquire));
        Some(self.start.elapsed().saturating_sub(done))
    }
}

/// Counts a request as in flight until its response body is dropped (sent
/// or abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(a: &Arc<Activity>) -> InFlight {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(a.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_done_ms.store(ms, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn serve_connection<S>(stream: S, peer: SocketAddr, ctx: Ctx)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    // AMQP over WebSockets: once upgraded, the connection is AMQP's until
    // it ends, and this task (which holds the connection's permit) waits
    // for it (`routes::amqp_ws`).
    let upgraded = UpgradedConn::default();
    let service = {
        let activity = activity.clone();
        let app = ctx.app.clone();
        let upgraded = upgraded.clone();
        let shutdown = Shutdown(ctx.cancel.clone());
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            // In flight from the request's arrival until its response body
            // is dropped, so a streamed response (live trace) is activity.
            let mark = InFlight::begin(&activity);
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(upgraded.clone());
            req.extensions_mut().insert(shutdown.clone());
            let call = tower::ServiceExt::oneshot(app.clone(), req);
            async move {
                let res = call.await?;
                Ok::<_, std::convert::Infallible>(res.map(|b| {
                    axum::body::Body::new(b.map_frame(move |f| {
                        let _held = &mark;
                        f
                    }))
                }))
            }
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_concurrent_streams(128);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let check_every = (ctx.limits.idle / 4).max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(check_every);
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "API connection: {e}");
                }
                let amqp = upgraded.0.lock().ok().and_then(|mut slot| slot.take());
                if let Some(amqp) = amqp {
                    let _ = amqp.await;
                }
                return;
            }
            _ = ticker.tick() => {
                if activity.idle_for().is_some_and(|d| d >= ctx.limits.idle) {
                    tracing::debug!(%peer, "API connection idle; closed");
                    return;
                }
            }
            _ = ctx.cancel.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
                return;
            }
        }
    }
}
