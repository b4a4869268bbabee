//! `GET /$servicebus/websocket` and `/$iothub/websocket`: AMQP over
//! WebSockets, the port-443 way into the AMQP endpoint (IoT Hub's service
//! SDKs, the Event Hubs SDKs). A route like the others, so the Host and
//! Origin checks apply before the upgrade; the AMQP side (subprotocol,
//! framing, then the same connection as on 5671) is
//! `hublet_amqp::websocket`'s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// Where an upgraded connection's task is left for the HTTP connection
/// that carried it: that connection waits for it (holding its place under
/// the listener's connection cap) instead of ending at the upgrade.
#[derive(Clone, Default)]
pub struct UpgradedConn(pub Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>);

/// Answers the upgrade; the AMQP connection then runs in a task handed to
/// the HTTP connection through [`UpgradedConn`].
pub async fn upgrade(State(s): State<AppState>, req: Request) -> Response {
    let Some(amqp) = s.amqp.clone() else {
        return ApiError::http(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the AMQP endpoint is off (--amqps off): there is no AMQP over WebSockets",
        )
        .into_response();
    };
    if !hublet_amqp::websocket::is_amqp_upgrade(&req) {
        return ApiError::http(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "this path serves AMQP over WebSockets: send a WebSocket upgrade with the 'AMQPWSB10' subprotocol",
        )
        .into_response();
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let slot = req.extensions().get::<UpgradedConn>().cloned();
    let (res, serve) = hublet_amqp::websocket::accept(&amqp, req, peer);
    if let Some(serve) = serve {
        let task = tokio::spawn(serve);
        if let Some(slot) = slot
            && let Ok(mut held) = slot.0.lock()
        {
            *held = Some(task);
        }
    }
    res.map(axum::body::Body::from)
}
