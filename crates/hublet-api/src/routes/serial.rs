//! `/api/serial…`: ports, board bindings and the console of the bench bridge.
//!
//! A board is *bound* (`POST /boards`) and *unbound* (`DELETE /boards/{id}`);
//! its port is *released* (`/release`) and *reclaimed* (`/reclaim`). The
//! paths `/detach` and `/reattach` of Hublet 0.1 still work for one release.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hublet_serial::{BoardStatus, ConsoleLine, PortInfo, SerialBridge, input};
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::{BindBoardRequest, SerialSendRequest};
use crate::error::ApiError;
use crate::extract::JsonBody;

fn bridge(s: &AppState) -> Result<&SerialBridge, ApiError> {
    s.serial.as_ref().ok_or_else(|| {
        ApiError::http(
            StatusCode::NOT_FOUND,
            "NoSerialBridge",
            "this hub runs no serial bridge",
        )
    })
}

fn board_not_found(id: &str) -> ApiError {
    ApiError::http(
        StatusCode::NOT_FOUND,
        "BoardNotFound",
        format!("'{id}' is not a serial board"),
    )
}

pub async fn ports(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<Vec<PortInfo>>, ApiError> {
    let b = bridge(&s)?.clone();
    // Listing reads sysfs; keep it off the async workers.
    let ports = tokio::task::spawn_blocking(move || b.ports())
        .await
        .map_err(|e| ApiError::from(hublet_core::HubError::Internal(e.to_string())))?;
    Ok(Json(ports))
}

pub async fn boards(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<Vec<BoardStatus>>, ApiError> {
    Ok(Json(bridge(&s)?.list()))
}

pub async fn board(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<BoardStatus>, ApiError> {
    bridge(&s)?
        .status(&id)
        .map(Json)
        .ok_or_else(|| board_not_found(&id))
}

pub async fn bind(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(r): JsonBody<BindBoardRequest>,
) -> Result<(StatusCode, Json<BoardStatus>), ApiError> {
    if r.port.trim().is_empty() {
        return Err(hublet_core::HubError::invalid_field("port", "'port' is required").into());
    }
    if r.device_id.trim().is_empty() {
        return Err(
            hublet_core::HubError::invalid_field("deviceId", "'deviceId' is required").into(),
        );
    }
    let status = bridge(&s)?
        .bind(
            &r.port,
            &r.device_id,
            r.settings.unwrap_or_default(),
            r.wait,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(status)))
}

/// Looks the board up first, so an unknown id is a 404 rather than a 400.
fn known<'a>(s: &'a AppState, id: &str) -> Result<&'a SerialBridge, ApiError> {
    let b = bridge(s)?;
    b.status(id).ok_or_else(|| board_not_found(id))?;
    Ok(b)
}

pub async fn unbind(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    known(&s, &id)?.unbind(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn release(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<BoardStatus>, ApiError> {
    let b = known(&s, &id)?;
    b.release(&id).await?;
    b.status(&id).map(Json).ok_or_else(|| board_not_found(&id))
}

pub async fn reclaim(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<BoardStatus>, ApiError> {
    let b = known(&s, &id)?;
    b.reclaim(&id).await?;
    b.status(&id).map(Json).ok_or_else(|| board_not_found(&id))
}

pub async fn reset(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    known(&s, &id)?.reset(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn send(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<SerialSendRequest>,
) -> Result<StatusCode, ApiError> {
    let b = known(&s, &id)?;
    match (r.text, r.hex, r.escaped) {
        (Some(t), None, None) => b.send_line(&id, &t).await?,
        (None, Some(h), None) => {
            b.send(&id, input::parse_hex(&h).map_err(ApiError::invalid)?)
                .await?
        }
        (None, None, Some(e)) => {
            b.send(&id, input::parse_escaped(&e).map_err(ApiError::invalid)?)
                .await?
        }
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of 'text', 'hex' or 'escaped'",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct ConsoleParams {
    /// Only the last `tail` lines.
    tail: Option<usize>,
}

pub async fn console(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    Query(p): Query<ConsoleParams>,
) -> Result<Json<Vec<ConsoleLine>>, ApiError> {
    let tail = p.tail.unwrap_or(hublet_serial::CONSOLE_LINES);
    let lines = bridge(&s)?
        .console(&id, tail)
        .await?
        .ok_or_else(|| board_not_found(&id))?;
    Ok(Json(lines))
}
