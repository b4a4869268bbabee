//! Device twins: IoT Hub's `GET/PATCH/PUT /twins/{id}` for the service SDKs,
//! and the same under Hublet's `/api/devices/{id}/twin` for the app and CLI.
//! Both answer the whole twin in IoT Hub's JSON form.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use hublet_core::twin::{TwinOp, TwinWrite};

use super::{ApiCaller, REGISTRY_READ, REGISTRY_WRITE, Service};
use crate::AppState;
use crate::error::{ApiError, IotHubError};
use crate::extract::{IotHubJson, JsonBody};

/// The raw `If-Match` (the engine strips quotes and `W/`; `*` is any).
fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn write(
    s: &AppState,
    id: &str,
    op: TwinOp,
    headers: &HeaderMap,
    body: &serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let w = TwinWrite::from_document(body)?;
    let twin = s
        .hub
        .twins()
        .write(id, op, w, if_match(headers).as_deref())
        .await?;
    Ok(twin.to_json())
}

/// `GET /twins/{id}`.
pub async fn get(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(s.hub.twins().get(&id).await?.to_json()))
}

/// `PATCH /twins/{id}`: tags and desired properties merged.
pub async fn patch(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(id): Path<String>,
    headers: HeaderMap,
    IotHubJson(body): IotHubJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(write(&s, &id, TwinOp::Patch, &headers, &body).await?))
}

/// `PUT /twins/{id}`: tags and desired properties replaced.
pub async fn replace(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(id): Path<String>,
    headers: HeaderMap,
    IotHubJson(body): IotHubJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(
        write(&s, &id, TwinOp::Replace, &headers, &body).await?,
    ))
}

/// `GET /api/devices/{id}/twin`.
pub async fn api_get(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(s.hub.twins().get(&id).await?.to_json()))
}

/// `PATCH /api/devices/{id}/twin`.
pub async fn api_patch(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(write(&s, &id, TwinOp::Patch, &headers, &body).await?))
}

/// `PUT /api/devices/{id}/twin`.
pub async fn api_replace(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        write(&s, &id, TwinOp::Replace, &headers, &body).await?,
    ))
}

/// The body of `POST /devices/query`.
#[derive(Debug, serde::Deserialize)]
pub struct QueryRequest {
    /// The query text.
    pub query: String,
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
}

async fn run_query(
    s: &AppState,
    headers: &HeaderMap,
    q: &QueryRequest,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let size = match header_str(headers, "x-ms-max-item-count") {
        None => None,
        Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
            ApiError::invalid(format!("x-ms-max-item-count '{v}' is not a number"))
        })?),
    };
    let page = s
        .hub
        .twins()
        .query(&q.query, size, header_str(headers, "x-ms-continuation"))
        .await?;
    let mut r = Json(page.items).into_response();
    let h = r.headers_mut();
    h.insert(
        "x-ms-item-type",
        axum::http::HeaderValue::from_static(page.item_type),
    );
    if let Some(c) = page.continuation
        && let Ok(v) = axum::http::HeaderValue::from_str(&c)
    {
        h.insert("x-ms-continuation", v);
    }
    Ok(r)
}

/// `POST /devices/query`: IoT Hub's query language over device twins, one
/// page per call (`x-ms-max-item-count`, `x-ms-continuation`).
pub async fn query(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    headers: HeaderMap,
    IotHubJson(q): IotHubJson<QueryRequest>,
) -> Result<axum::response::Response, IotHubError> {
    Ok(run_query(&s, &headers, &q).await?)
}

/// `POST /api/query`: the same, for the app and the CLI.
pub async fn api_query(
    State(s): State<AppState>,
    _c: ApiCaller,
    headers: HeaderMap,
    JsonBody(q): JsonBody<QueryRequest>,
) -> Result<axum::response::Response, ApiError> {
    run_query(&s, &headers, &q).await
}
