//! AMQP over WebSockets: the AMQP WebSocket binding (subprotocol
//! `AMQPWSB10`) on the HTTPS port, as IoT Hub and Event Hubs serve it for
//! clients behind firewalls that pass only 443.
//!
//! The SDKs open `wss://{host}:443/$servicebus/websocket` (the Event Hubs
//! SDKs, uamqp) or `/$iothub/websocket` (the IoT service SDKs for Node,
//! .NET and Java); inside, every binary WebSocket message carries a piece
//! of the same byte stream as a TCP connection, so once the upgrade is done
//! the connection is served exactly like one on port 5671
//! ([`crate::connection::serve`]).
//!
//! The HTTP side (the upgrade request and the 101 answer) is checked here
//! and handed back to the HTTPS listener, which owns hyper; the WebSocket
//! framing is tokio-tungstenite's. The one piece written here is
//! [`WsBytes`], the byte-stream view of a WebSocket: fe2o3-amqp-ws has one,
//! but only for sockets it dialled itself (no constructor from an accepted
//! socket), and ws_stream_tungstenite sits on a second WebSocket stack
//! (async-tungstenite with futures-io).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::{Sink, Stream};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::AmqpServer;

/// The subprotocol of the AMQP WebSocket binding that every Azure SDK asks
/// for; `amqp` is the OASIS binding's own name, accepted too.
pub const SUBPROTOCOLS: [&str; 2] = ["AMQPWSB10", "amqp"];

/// The paths the SDKs open (a trailing slash, as uamqp sends, is allowed).
const PATHS: [&str; 2] = ["/$servicebus/websocket", "/$iothub/websocket"];

/// Largest WebSocket message or frame taken from a client. AMQP frames are
/// at most 64 KiB here; one message may carry a few of them.
const MAX_WS_MESSAGE: usize = 1024 * 1024;

/// Whether a request asks for AMQP over WebSockets (by its path and its
/// `Upgrade: websocket` header); anything else stays with the REST API.
pub fn is_amqp_upgrade<B>(req: &Request<B>) -> bool {
    let path = req.uri().path();
    let path = path.strip_suffix('/').unwrap_or(path);
    PATHS.iter().any(|p| p.eq_ignore_ascii_case(path))
        && has_token(req.headers(), header::UPGRADE, "websocket")
}

/// Answers an upgrade request. On success the answer is `101 Switching
/// Protocols` and the connection is served as AMQP once hyper hands it
/// over; the returned future does that and ends with the connection. On
/// a bad request the answer says what was wrong and there is no future.
pub fn accept<B>(
    server: &AmqpServer,
    mut req: Request<B>,
    remote: String,
) -> (
    Response<String>,
    Option<impl Future<Output = ()> + Send + 'static>,
)
where
    B: Send + 'static,
{
    let headers = req.headers();
    if req.method() != http::Method::GET || !has_token(headers, header::CONNECTION, "upgrade") {
        return (
            refuse(
                StatusCode::BAD_REQUEST,
                "a WebSocket upgrade is a GET with 'Connection: Upgrade'",
            ),
            None,
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut res = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is served",
        );
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return (res, None);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return (
            refuse(
                StatusCode::BAD_REQUEST,
                "the upgrade has no Sec-WebSocket-Key",
            ),
            None,
        );
    };
    let Some(protocol) = chosen_subprotocol(headers) else {
        return (
            refuse(
                StatusCode::BAD_REQUEST,
                "this endpoint speaks AMQP over WebSockets: ask for the 'AMQPWSB10' subprotocol",
            ),
            None,
        );
    };
    // The host the client dialled, from its Host header without the port.
    let dialled = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
            _ => h.to_string(),
        })
        .filter(|h| !h.is_empty());
    let accept_key = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut req);
    let mut res = Response::new(String::new());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    if let Ok(v) = HeaderValue::from_str(&accept_key) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    let server = server.clone();
    let serve = async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(%remote, "WebSocket upgrade failed: {e}");
                return;
            }
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(16 * 1024)
            .max_write_buffer_size(4 * MAX_WS_MESSAGE)
            .max_message_size(Some(MAX_WS_MESSAGE))
            .max_frame_size(Some(MAX_WS_MESSAGE));
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        server
            .serve_stream(WsBytes::new(ws), remote, "amqp-ws", dialled)
            .await;
    };
    (res, Some(serve))
}

/// The first AMQP subprotocol the client offered, in the spelling Hublet
/// answers with (the client compares it with what it asked for).
fn chosen_subprotocol(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|offered| {
            SUBPROTOCOLS
                .iter()
                .find(|p| p.eq_ignore_ascii_case(offered.trim()))
                .copied()
        })
}

/// Whether a comma-separated header holds `token` (case-insensitively).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn refuse(status: StatusCode, why: &str) -> Response<String> {
    let mut res = Response::new(format!("{why}\n"));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A WebSocket read and written as a byte stream: each binary message read
/// is handed out in order, each write goes out as one binary message.
/// Pings are answered by tungstenite; a close (or the end of the socket) is
/// the end of the stream; a text message is a protocol error.
pub struct WsBytes<S> {
    ws: WebSocketStream<S>,
    /// What is left of the binary message being read.
    pending: Bytes,
}

impl<S> WsBytes<S> {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> WsBytes<S> {
        WsBytes {
            ws,
            pending: Bytes::new(),
        }
    }
}

impl<S> std::fmt::Debug for WsBytes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsBytes")
            .field("pending", &self.pending.len())
            .finish()
    }
}

fn io_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => io::ErrorKind::NotConnected.into(),
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsBytes<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => self.pending = b,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "AMQP over WebSockets takes binary messages, not text",
                    )));
                }
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        let chunk = self.pending.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsBytes<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method("GET").uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn the_sdks_paths_are_recognised_with_an_upgrade_only() {
        let up = [("upgrade", "websocket"), ("connection", "Upgrade")];
        assert!(is_amqp_upgrade(&req("/$servicebus/websocket", &up)));
        assert!(is_amqp_upgrade(&req("/$servicebus/websocket/", &up)));
        assert!(is_amqp_upgrade(&req(
            "/$iothub/websocket?iothub-no-client-cert=true",
            &up
        )));
        assert!(!is_amqp_upgrade(&req("/$iothub/websocket", &[])));
        assert!(!is_amqp_upgrade(&req("/api/devices", &up)));
    }

    #[test]
    fn the_amqp_subprotocol_is_picked_from_the_offer() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(v).expect("value"),
            );
            m
        };
        assert_eq!(chosen_subprotocol(&h("AMQPWSB10")), Some("AMQPWSB10"));
        assert_eq!(chosen_subprotocol(&h("mqtt, amqp")), Some("amqp"));
        assert_eq!(chosen_subprotocol(&h("mqtt")), None);
        assert_eq!(chosen_subprotocol(&HeaderMap::new()), None);
    }
}
