//! IoT Hub's service paths, for the Azure IoT service SDKs (any api-version).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hublet_core::feedback::FEEDBACK_CONTENT_TYPE;
use hublet_core::registry::{DeviceQuery, DeviceUpdate};
use serde::Deserialize;

use super::devices::{new_device, parse_status};
use super::{REGISTRY_READ, REGISTRY_WRITE, SERVICE_CONNECT, Service, if_match};
use crate::AppState;
use crate::dto::{DeviceDto, InvokeRequest, NewDeviceRequest, PurgeResultDto};
use crate::error::{ApiError, IotHubError};
use crate::extract::{IotHubJson, QueryParams};

type R<T> = Result<T, IotHubError>;

/// `PUT /devices/{id}`: create, or with `If-Match` update (status and keys).
pub async fn put_device(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(id): Path<String>,
    headers: HeaderMap,
    IotHubJson(mut req): IotHubJson<NewDeviceRequest>,
) -> R<Json<DeviceDto>> {
    if !req.device_id.is_empty() && req.device_id != id {
        return Err(ApiError::invalid(format!(
            "body deviceId '{}' differs from the path's '{id}'",
            req.device_id
        ))
        .into());
    }
    req.device_id = id.clone();
    match if_match(&headers) {
        None => Ok(Json(
            s.hub.registry().create(new_device(req)?).await?.into(),
        )),
        Some(etag) => {
            let keys = req
                .authentication
                .and_then(|a| a.symmetric_key)
                .unwrap_or_default();
            let change = DeviceUpdate {
                status: parse_status(req.status.as_deref())?,
                status_reason: req.status_reason,
                primary_key: keys.primary_key.filter(|k| !k.is_empty()),
                secondary_key: keys.secondary_key.filter(|k| !k.is_empty()),
                kind: None,
            };
            Ok(Json(
                s.hub
                    .registry()
                    .update(&id, change, Some(&etag))
                    .await?
                    .into(),
            ))
        }
    }
}

pub async fn get_device(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    Path(id): Path<String>,
) -> R<Json<DeviceDto>> {
    Ok(Json(s.hub.registry().get(&id).await?.into()))
}

pub async fn delete_device(
    State(s): State<AppState>,
    _a: Service<REGISTRY_WRITE>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> R<StatusCode> {
    s.hub
        .registry()
        .delete(&id, if_match(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListParams {
    top: Option<usize>,
}

pub async fn list_devices(
    State(s): State<AppState>,
    _a: Service<REGISTRY_READ>,
    QueryParams(p): QueryParams<ListParams>,
) -> R<Json<Vec<DeviceDto>>> {
    let q = DeviceQuery {
        limit: Some(p.top.unwrap_or(1000)),
        ..DeviceQuery::default()
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

/// `POST /twins/{id}/methods` and `/twins/{id}/modules/{mid}/methods`:
/// `{status, payload}` on success.
pub async fn invoke(
    State(s): State<AppState>,
    _a: Service<SERVICE_CONNECT>,
    Path(p): Path<super::twins::TwinPath>,
    IotHubJson(req): IotHubJson<InvokeRequest>,
) -> R<Json<serde_json::Value>> {
    let r = s
        .hub
        .methods()
        .invoke(&p.key()?, super::methods::to_call(req))
        .await?;
    Ok(Json(
        serde_json::json!({"status": r.status, "payload": r.payload}),
    ))
}

/// `DELETE /devices/{id}/commands`: purge, 200 with the count.
pub async fn purge(
    State(s): State<AppState>,
    _a: Service<SERVICE_CONNECT>,
    Path(id): Path<String>,
) -> R<Json<PurgeResultDto>> {
    let n = s.hub.mailbox().purge(&id).await?;
    Ok(Json(PurgeResultDto {
        total_messages_purged: n,
        device_id: id,
        module_id: None,
    }))
}

/// `GET /messages/serviceBound/feedback`: one locked feedback message (a
/// JSON array of records, lock token in `ETag`), or 204.
pub async fn receive_feedback(
    State(s): State<AppState>,
    _a: Service<SERVICE_CONNECT>,
) -> R<Response> {
    let Some(m) = s.hub.feedback().receive().await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let body = m.body()?;
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(FEEDBACK_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", m.lock_token)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&m.user_id) {
        h.insert("iothub-userid", v);
    }
    if let Ok(v) = HeaderValue::from_str(&m.enqueued_time.to_rfc3339()) {
        h.insert("iothub-enqueuedtime", v);
    }
    Ok(r)
}

pub async fn complete_feedback(
    State(s): State<AppState>,
    _a: Service<SERVICE_CONNECT>,
    Path(lock): Path<String>,
) -> R<StatusCode> {
    s.hub.feedback().complete(lock.trim_matches('"')).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn abandon_feedback(
    State(s): State<AppState>,
    _a: Service<SERVICE_CONNECT>,
    Path(lock): Path<String>,
) -> R<StatusCode> {
    s.hub.feedback().abandon(lock.trim_matches('"')).await?;
    Ok(StatusCode::NO_CONTENT)
}
