//! `/api/devices…`: the registry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hublet_core::registry::{DeviceQuery, DeviceUpdate, KeyKind};
use hublet_core::{DeviceKind, DeviceStatus, NewDevice};
use serde::Deserialize;

use super::{ApiCaller, if_match};
use crate::AppState;
use crate::dto::{
    ConnectionStringDto, DeviceDto, DeviceUpdateRequest, NewDeviceRequest, SasTokenDto,
};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

pub(crate) fn parse_status(s: Option<&str>) -> Result<Option<DeviceStatus>, ApiError> {
    match s.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("enabled") => Ok(Some(DeviceStatus::Enabled)),
        Some("disabled") => Ok(Some(DeviceStatus::Disabled)),
        Some(other) => Err(ApiError::invalid(format!(
            "status '{other}' is not 'enabled' or 'disabled'"
        ))),
    }
}

pub(crate) fn parse_kind(s: Option<&str>) -> Result<DeviceKind, ApiError> {
    match s {
        None | Some("standard") => Ok(DeviceKind::Standard),
        Some("simulated") => Ok(DeviceKind::Simulated),
        Some("serialBoard") => Ok(DeviceKind::SerialBoard),
        Some(other) => Err(ApiError::invalid(format!(
            "kind '{other}' is not standard, simulated or serialBoard"
        ))),
    }
}

pub(crate) fn new_device(req: NewDeviceRequest) -> Result<NewDevice, ApiError> {
    let keys = req
        .authentication
        .and_then(|a| a.symmetric_key)
        .unwrap_or_default();
    Ok(NewDevice {
        device_id: req.device_id,
        status: parse_status(req.status.as_deref())?.unwrap_or_default(),
        status_reason: req.status_reason,
        primary_key: keys.primary_key.filter(|k| !k.is_empty()),
        secondary_key: keys.secondary_key.filter(|k| !k.is_empty()),
        kind: parse_kind(req.kind.as_deref())?,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListParams {
    search: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ListParams>,
) -> Result<Json<Vec<DeviceDto>>, ApiError> {
    let q = DeviceQuery {
        search: p.search,
        after: p.after,
        limit: p.limit,
    };
    Ok(Json(
        s.hub
            .registry()
            .list(q)
            .await?
            .into_iter()
            .map(DeviceDto::from)
            .collect(),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(req): JsonBody<NewDeviceRequest>,
) -> Result<(StatusCode, Json<DeviceDto>), ApiError> {
    let d = s.hub.registry().create(new_device(req)?).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

pub async fn get(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<DeviceDto>, ApiError> {
    Ok(Json(s.hub.registry().get(&id).await?.into()))
}

pub async fn update(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<DeviceUpdateRequest>,
) -> Result<Json<DeviceDto>, ApiError> {
    let change = DeviceUpdate {
        status: parse_status(req.status.as_deref())?,
        status_reason: req.status_reason,
        ..DeviceUpdate::default()
    };
    Ok(Json(
        s.hub
            .registry()
            .update(&id, change, if_match(&headers).as_deref())
            .await?
            .into(),
    ))
}

pub async fn delete(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    s.hub
        .registry()
        .delete(&id, if_match(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn key_kind(which: &str) -> Result<KeyKind, ApiError> {
    match which {
        "primary" => Ok(KeyKind::Primary),
        "secondary" => Ok(KeyKind::Secondary),
        other => Err(hublet_core::HubError::invalid_field(
            "key",
            format!("key '{other}' is not 'primary' or 'secondary'"),
        )
        .into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SasParams {
    /// Lifetime in seconds (default one hour).
    ttl_secs: Option<u64>,
    /// `primary` (default) or `secondary`.
    key: Option<String>,
}

/// A SAS token for the device (`GET /api/devices/{id}/sas-token`), as the
/// device SDKs make one: for a script or a tool standing in for firmware.
pub async fn sas_token(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<SasParams>,
) -> Result<Json<SasTokenDto>, ApiError> {
    let key = key_kind(p.key.as_deref().unwrap_or("primary"))?;
    let ttl = std::time::Duration::from_secs(p.ttl_secs.unwrap_or(3600));
    let (token, expiry) = s.hub.registry().device_sas_token(&id, key, ttl).await?;
    Ok(Json(SasTokenDto {
        token,
        expires_at: expiry.to_rfc3339(),
    }))
}

pub async fn regenerate_key(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path((id, which)): Path<(String, String)>,
) -> Result<Json<DeviceDto>, ApiError> {
    let which = key_kind(&which)?;
    Ok(Json(
        s.hub.registry().regenerate_key(&id, which).await?.into(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConnectionStringParams {
    /// The address devices dial, when it is not the hub name.
    pub(crate) gateway: Option<String>,
}

pub async fn connection_string(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<ConnectionStringParams>,
) -> Result<Json<ConnectionStringDto>, ApiError> {
    let gateway = p.gateway.filter(|g| !g.is_empty());
    let cs = s
        .hub
        .registry()
        .connection_string(&id, gateway.as_deref())
        .await?;
    Ok(Json(ConnectionStringDto {
        connection_string: cs,
    }))
}
