//! `/api/devices/{id}/methods`: direct methods.

use axum::Json;
use axum::extract::{Path, State};
use hublet_core::MethodCall;

use super::ApiCaller;
use crate::AppState;
use crate::dto::{InvokeRequest, MethodResultDto};
use crate::error::ApiError;
use crate::extract::JsonBody;

/// The core's call from the API's (and IoT Hub's) request body.
pub fn to_call(r: InvokeRequest) -> MethodCall {
    MethodCall {
        method_name: r.method_name,
        payload: r.payload,
        connect_timeout_secs: r.connect_timeout_in_seconds,
        response_timeout_secs: r.response_timeout_in_seconds,
    }
}

/// `POST /api/devices/{id}/methods` and `/api/devices/{id}/modules/{mid}/methods`.
pub async fn invoke(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(p): Path<super::twins::TwinPath>,
    JsonBody(req): JsonBody<InvokeRequest>,
) -> Result<Json<MethodResultDto>, ApiError> {
    Ok(Json(
        s.hub.methods().call(&p.key()?, to_call(req)).await?.into(),
    ))
}
