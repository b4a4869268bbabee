//! Module identities: IoT Hub's `/devices/{id}/modules…` for the service
//! SDKs and Azure IoT Explorer, and Hublet's `/api/devices/{id}/modules…`
//! for the app and CLI. Both drive the engine's `Modules`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hublet_core::modules::{ModuleUpdate, NewModule};

use super::devices::ConnectionStringParams;
use super::{ApiCaller, REGISTRY_READ, REGISTRY_WRITE, Service, if_match};
use crate::AppState;
use crate::dto::{ConnectionStringDto, ModuleDto, NewModuleRequest};
use crate::error::{ApiError, IotHubError};
use crate::extract::{IotHubJson, JsonBody, QueryParams};

/// The engine's request from the wire's, checking the body's ids against
/// the path's.
fn new_module(
    device: &str,
    path_module: Option<&str>,
    req: NewModuleRequest,
) -> Result<NewModule, ApiError> {
    if let Some(d) = req
        .device_id
        .as_deref()
        .filter(|d| !d.is_empty() && *d != device)
    {
        return Err(ApiError::invalid(format!(
            "body deviceId '{d}' differs from the path's '{device}'"
        )));
    }
    let module_id = match path_module {
        Some(m) if !req.module_id.is_empty() && req.module_id != m => {
            return Err(ApiError::invalid(format!(
                "body moduleId '{}' differs from the path's '{m}'",
                req.module_id
            )));
        }
        Some(m) => m.to_string(),
        None => req.module_id,
    };
    let keys = req
        .authentication
        .and_then(|a| a.symmetric_key)
        .unwrap_or_default();
    Ok(NewModule {
        module_id,
        managed_by: req.managed_by,
        primary_key: keys.primary_key.filter(|k| !k.is_empty()),
        secondary_key: keys.secondary_key.filter(|k| !k.is_empty()),
    })
}

/// `PUT /devices/{id}/modules/{mid}`: create, or with `If-Match` update
/// (keys and `managedBy`).
pub async fn put(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path((id, mid)): Path<(String, String)>,
    headers: HeaderMap,
    IotHubJson(req): IotHubJson<NewModuleRequest>,
) -> Result<Json<ModuleDto>, IotHubError> {
    let spec = new_module(&id, Some(&mid), req)?;
    let m = match if_match(&headers) {
        None => s.hub.modules().create(&id, spec).await?,
        Some(etag) => {
            let change = ModuleUpdate {
                primary_key: spec.primary_key,
                secondary_key: spec.secondary_key,
                managed_by: spec.managed_by,
            };
            s.hub
                .modules()
                .update(&id, &mid, change, Some(&etag))
                .await?
        }
    };
    Ok(Json(m.into()))
}

/// `GET /devices/{id}/modules/{mid}`.
pub async fn get(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Json<ModuleDto>, IotHubError> {
    Ok(Json(s.hub.modules().get(&id, &mid).await?.into()))
}

/// `GET /devices/{id}/modules`.
pub async fn list(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ModuleDto>>, IotHubError> {
    let all = s.hub.modules().list(&id).await?;
    Ok(Json(all.into_iter().map(ModuleDto::from).collect()))
}

/// `DELETE /devices/{id}/modules/{mid}` (`If-Match` optional; `*` is any).
pub async fn delete(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path((id, mid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, IotHubError> {
    s.hub
        .modules()
        .delete(&id, &mid, if_match(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/devices/{id}/modules`.
pub async fn api_list(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ModuleDto>>, ApiError> {
    let all = s.hub.modules().list(&id).await?;
    Ok(Json(all.into_iter().map(ModuleDto::from).collect()))
}

/// `POST /api/devices/{id}/modules`: 201 with the new module.
pub async fn api_create(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NewModuleRequest>,
) -> Result<(StatusCode, Json<ModuleDto>), ApiError> {
    let m = s
        .hub
        .modules()
        .create(&id, new_module(&id, None, req)?)
        .await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// `GET /api/devices/{id}/modules/{mid}`.
pub async fn api_get(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Json<ModuleDto>, ApiError> {
    Ok(Json(s.hub.modules().get(&id, &mid).await?.into()))
}

/// `DELETE /api/devices/{id}/modules/{mid}`.
pub async fn api_delete(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path((id, mid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    s.hub
        .modules()
        .delete(&id, &mid, if_match(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/devices/{id}/modules/{mid}/connection-string[?gateway=host:port]`.
pub async fn api_connection_string(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path((id, mid)): Path<(String, String)>,
    QueryParams(p): QueryParams<ConnectionStringParams>,
) -> Result<Json<ConnectionStringDto>, ApiError> {
    let gateway = p.gateway.filter(|g| !g.is_empty());
    let cs = s
        .hub
        .modules()
        .connection_string(&id, &mid, gateway.as_deref())
        .await?;
    Ok(Json(ConnectionStringDto {
        connection_string: cs,
    }))
}
