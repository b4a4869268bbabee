//! Device and module twins: IoT Hub's `GET/PATCH/PUT /twins/{id}` and
//! `/twins/{id}/modules/{mid}` for the service SDKs, and the same under
//! Hublet's `/api/devices/{id}/twin` and `/api/devices/{id}/modules/{mid}/twin`
//! for the app and CLI. All answer the whole twin in IoT Hub's JSON form;
//! one handler serves a device's and a module's path ([`TwinPath`]).

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

/// A twin's path parameters: `{id}`, and `{mid}` on a module's path.
#[derive(Debug, serde::Deserialize)]
pub struct TwinPath {
    id: String,
    #[serde(default)]
    mid: Option<String>,
}

impl TwinPath {
    /// The engine's identity key (`device` or `device/module`), each id
    /// validated on its own so an id holding `/` cannot pose as a module.
    pub fn key(&self) -> Result<String, ApiError> {
        Ok(match &self.mid {
            None => hublet_core::ids::DeviceId::new(self.id.as_str())?.to_string(),
            Some(m) => hublet_core::ids::Identity::module(&self.id, m)?.key(),
        })
    }
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
    Path(p): Path<TwinPath>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(s.hub.twins().get(&p.key()?).await?.to_json()))
}

/// `PATCH /twins/{id}`: tags and desired properties merged.
pub async fn patch(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(p): Path<TwinPath>,
    headers: HeaderMap,
    IotHubJson(body): IotHubJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(
        write(&s, &p.key()?, TwinOp::Patch, &headers, &body).await?,
    ))
}

/// `PUT /twins/{id}`: tags and desired properties replaced.
pub async fn replace(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(p): Path<TwinPath>,
    headers: HeaderMap,
    IotHubJson(body): IotHubJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, IotHubError> {
    Ok(Json(
        write(&s, &p.key()?, TwinOp::Replace, &headers, &body).await?,
    ))
}

/// `GET /api/devices/{id}/twin`.
pub async fn api_get(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(p): Path<TwinPath>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(s.hub.twins().get(&p.key()?).await?.to_json()))
}

/// `PATCH /api/devices/{id}/twin`.
pub async fn api_patch(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(p): Path<TwinPath>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        write(&s, &p.key()?, TwinOp::Patch, &headers, &body).await?,
    ))
}

/// `PUT /api/devices/{id}/twin`.
pub async fn api_replace(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(p): Path<TwinPath>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        write(&s, &p.key()?, TwinOp::Replace, &headers, &body).await?,
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
