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
