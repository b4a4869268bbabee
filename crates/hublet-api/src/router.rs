//! Every route, in one place.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use tower_http::services::ServeDir;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::{
    amqp_ws, commands, device_http, devices, events, feedback, hub, iothub, messages, methods,
    modules, scenarios, serial, sim, test_runs, trace, twins,
};

/// Largest request body: a 128 KB method payload as JSON with room to spare.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole API, with the server's default body deadline.
pub fn router(state: AppState) -> Router {
    with_body_deadline(state, crate::server::Limits::default().body)
}

/// The whole API; a request body must arrive within `body_deadline`.
pub fn with_body_deadline(state: AppState, body_deadline: std::time::Duration) -> Router {
    let api = Router::new()
        .route("/hub", get(hub::info))
        .route("/stats", get(hub::stats))
        .route("/settings", get(hub::get_settings).put(hub::put_settings))
        .route("/rules", get(hub::rules))
        .route("/ca", get(hub::ca))
        .route(
            "/connection-string/service",
            get(hub::service_connection_string),
        )
        .route(
            "/connection-string/events",
            get(hub::events_connection_string),
        )
        .route("/sas-token/service", get(hub::service_sas_token))
        .route("/devices/{id}/sas-token", get(devices::sas_token))
        .route("/devices", get(devices::list).post(devices::create))
        .route(
            "/devices/{id}",
            get(devices::get)
                .patch(devices::update)
                .delete(devices::delete),
        )
        .route(
            "/devices/{id}/keys/{which}/regenerate",
            post(devices::regenerate_key),
        )
        .route(
            "/devices/{id}/connection-string",
            get(devices::connection_string),
        )
        .route(
            "/devices/{id}/messages",
            get(messages::list)
                .post(messages::send)
                .delete(messages::purge),
        )
        .route("/devices/{id}/methods", post(methods::invoke))
        .route(
            "/devices/{id}/twin",
            get(twins::api_get)
                .patch(twins::api_patch)
                .put(twins::api_replace),
        )
        .route(
            "/devices/{id}/modules",
            get(modules::api_list).post(modules::api_create),
        )
        .route(
            "/devices/{id}/modules/{mid}",
            get(modules::api_get).delete(modules::api_delete),
        )
        .route(
            "/devices/{id}/modules/{mid}/connection-string",
            get(modules::api_connection_string),
        )
        .route("/devices/{id}/modules/{mid}/methods", post(methods::invoke))
        .route(
            "/devices/{id}/modules/{mid}/twin",
            get(twins::api_get)
                .patch(twins::api_patch)
                .put(twins::api_replace),
        )
        .route("/query", post(twins::api_query))
        .route("/events", get(events::hub))
        .route("/events/stream", get(events::stream))
        .route("/events/partitions/{p}", get(events::page))
        .route("/events/consumer-groups", post(events::add_group))
        .route(
            "/events/consumer-groups/{name}",
            delete(events::delete_group),
        )
        .route("/feedback", get(feedback::list))
        .route("/trace", get(trace::query))
        .route("/trace/story/{key}", get(trace::story))
        .route("/trace/stream", get(trace::stream))
        .route("/trace/export", get(trace::export))
        .route("/trace/diff", get(trace::diff))
        .route("/sim/profiles", get(sim::profiles))
        .route(
            "/sim/profiles/{name}",
            get(sim::profile)
                .put(sim::save_profile)
                .delete(sim::delete_profile),
        )
        .route("/sim/devices", get(sim::devices).delete(sim::stop_all))
        .route("/sim/devices/{id}", delete(sim::stop))
        .route("/sim/devices/{id}/fault", post(sim::fault))
        .route("/sim/fleets", post(sim::start))
        .route("/commands", get(commands::list))
        .route("/commands/export", get(commands::export))
        .route("/commands/import", post(commands::import))
        .route("/commands/{name}/render", post(commands::render))
        .route(
            "/commands/{name}",
            axum::routing::put(commands::put).delete(commands::delete),
        )
        .route("/scenarios", get(scenarios::list))
        .route("/scenarios/runs", post(scenarios::run))
        .route("/test-runs", get(test_runs::list).post(test_runs::create))
        .route(
            "/test-runs/{id}",
            get(test_runs::get).put(test_runs::replace),
        )
        .route("/serial/ports", get(serial::ports))
        .route("/serial/boards", get(serial::boards).post(serial::bind))
        .route(
            "/serial/boards/{id}",
            get(serial::board).delete(serial::unbind),
        )
        .route("/serial/boards/{id}/release", post(serial::release))
        .route("/serial/boards/{id}/reclaim", post(serial::reclaim))
        // Hublet 0.1's names, kept for one release.
        .route("/serial/boards/{id}/detach", post(serial::release))
        .route("/serial/boards/{id}/reattach", post(serial::reclaim))
        .route("/serial/boards/{id}/reset", post(serial::reset))
        .route("/serial/boards/{id}/send", post(serial::send))
        .route("/serial/boards/{id}/console", get(serial::console))
        .fallback(not_found);

    let root = Router::new()
        .nest("/api", api)
        // AMQP over WebSockets (the SDKs' port-443 transports).
        .route("/$servicebus/websocket", get(amqp_ws::upgrade))
        .route("/$servicebus/websocket/", get(amqp_ws::upgrade))
        .route("/$iothub/websocket", get(amqp_ws::upgrade))
        // IoT Hub service paths.
        .route("/devices", get(iothub::list_devices))
        .route("/devices/query", post(twins::query))
        .route(
            "/devices/{id}",
            get(iothub::get_device)
                .put(iothub::put_device)
                .delete(iothub::delete_device),
        )
        .route("/devices/{id}/commands", delete(iothub::purge))
        .route("/devices/{id}/modules", get(modules::list))
        .route(
            "/devices/{id}/modules/{mid}",
            get(modules::get).put(modules::put).delete(modules::delete),
        )
        .route("/twins/{id}/methods", post(iothub::invoke))
        .route("/twins/{id}/modules/{mid}/methods", post(iothub::invoke))
        .route(
            "/twins/{id}",
            get(twins::get).patch(twins::patch).put(twins::replace),
        )
        .route(
            "/twins/{id}/modules/{mid}",
            get(twins::get).patch(twins::patch).put(twins::replace),
        )
        .route(
            "/messages/serviceBound/feedback",
            get(iothub::receive_feedback),
        )
        .route(
            "/messages/serviceBound/feedback/{lock}",
            delete(iothub::complete_feedback),
        )
        .route(
            "/messages/serviceBound/feedback/{lock}/abandon",
            post(iothub::abandon_feedback),
        )
        // IoT Hub HTTP device endpoints.
        .route(
            "/devices/{id}/messages/events",
            post(device_http::send_event),
        )
        .route(
            "/devices/{id}/messages/deviceBound",
            get(device_http::receive),
        )
        .route(
            "/devices/{id}/messages/deviceBound/{etag}",
            delete(device_http::settle),
        )
        .route(
            "/devices/{id}/messages/deviceBound/{etag}/abandon",
            post(device_http::abandon),
        );
    // Anything else: IoT Hub's 404 under IoT Hub's roots; otherwise the
    // UI, when this hub serves it (`hublet serve --ui`): static files, no
    // token needed to load them (the UI asks for one to call the API).
    let inner = root
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            crate::edge::Edge {
                state: state.clone(),
                body_deadline,
            },
            crate::edge::guard,
        ))
        .with_state(state);
    // IoT Hub's paths in any case and with a trailing slash: rewritten to
    // the spelling above before routing (`iothub_paths`).
    Router::new().fallback_service(tower::ServiceExt::map_request(
        inner,
        |mut req: axum::extract::Request| {
            if let Some(uri) = crate::iothub_paths::normalize(req.uri()) {
                *req.uri_mut() = uri;
            }
            req
        },
    ))
}

async fn fallback(
    axum::extract::State(s): axum::extract::State<AppState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let path = req.uri().path().to_string();
    if crate::iothub_paths::is_iothub(&path) {
        return crate::error::IotHubError(ApiError::http(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("IoT Hub has no endpoint at {path}"),
        ))
        .into_response();
    }
    match s.ui_dir.as_deref() {
        Some(dir) => match tower::ServiceExt::oneshot(ServeDir::new(dir), req).await {
            Ok(r) => r.map(axum::body::Body::new),
            Err(never) => match never {},
        },
        None => not_found(req.uri().clone()).await.into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::http(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("no endpoint at {}", uri.path()),
    )
}
