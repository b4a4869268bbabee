//! What every request passes before it is routed, as one middleware layer.
//!
//! In order: its Host and Origin ([`crate::security`]), IoT Hub's
//! `api-version` on IoT Hub's paths ([`crate::iothub_paths`]), and its
//! body's size and deadline ([`crate::body_limits`]). Each step answers the
//! requests it refuses; an admitted request reaches its route with its
//! whole body in memory, and leaves with CORS headers for its origin (so
//! the app can read the hub's refusals too, a 413 included).
//!
//! Why one layer and not three: axum boxes the future of every
//! `from_fn` layer and clones the service behind it for every request, and
//! malloc and free were a fifth of the API's async time under load
//! (docs/benchmarks.md). The three checks stay in their own modules.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::{body_limits, iothub_paths, security};

/// The layer's state: the hub's, and how long a body may take to arrive.
#[derive(Clone)]
pub(crate) struct Edge {
    pub state: AppState,
    pub body_deadline: Duration,
}

/// The middleware.
pub(crate) async fn guard(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let origin = match security::admit(&edge.state, &req) {
        Ok(origin) => origin,
        Err(refused) => return refused,
    };
    if req.method() == Method::OPTIONS {
        return security::preflight(origin.as_deref());
    }
    let mut r = match iothub_paths::version_refusal(&req) {
        Some(refused) => refused,
        None => match body_limits::read_whole(req, edge.body_deadline).await {
            Ok(req) => next.run(req).await,
            Err(refused) => refused,
        },
    };
    security::add_cors(&mut r, origin.as_deref());
    r
}
