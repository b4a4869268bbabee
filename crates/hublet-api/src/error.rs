//! Errors to HTTP, in one place.
//!
//! Hublet's own `/api/...` answers `{"error": {code, name, message,
//! explanation}}`. IoT Hub's paths answer IoT Hub's envelope
//! (`{"Message": "{\"errorCode\":…}", "ExceptionMessage": ""}`), which the
//! Azure SDKs parse. Both carry the `iothub-errorcode` header with the name.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hublet_core::{ErrorCode, HubError, MethodFailure};
use serde_json::json;

use crate::dto::{ApiErrorDto, ApiErrorEnvelope, ErrorInfo};

/// An error answered by Hublet's own API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// IoT Hub code, when there is one.
    pub code: Option<ErrorCode>,
    /// Name (IoT Hub's, or Hublet's for HTTP-only errors).
    pub name: &'static str,
    /// What went wrong.
    pub message: String,
    /// Structured detail (the field at fault, a timeout), in both envelopes.
    pub info: ErrorInfo,
    /// A failed method call's request id (its story in the trace).
    pub request_id: Option<String>,
}

impl ApiError {
    /// An HTTP-level error with no IoT Hub code (bad Host, bad Origin, ...).
    pub fn http(status: StatusCode, name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: None,
            name,
            message: message.into(),
            info: ErrorInfo::default(),
            request_id: None,
        }
    }

    /// 400004 ArgumentInvalid.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        HubError::invalid(message).into()
    }

    /// 401003 IotHubUnauthorized.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        HubError::Unauthorized(message.into()).into()
    }

    fn explanation(&self) -> String {
        match self.code {
            Some(c) => c.explanation().to_string(),
            None => match self.status {
                StatusCode::FORBIDDEN => "The request came from a host or web page the hub does not serve; see the API's SECURITY.md.".into(),
                StatusCode::NOT_FOUND => "What the request names does not exist (no such endpoint, board or simulated device).".into(),
                _ => String::new(),
            },
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        let code = e.code();
        let info = ErrorInfo {
            field: e.field().map(str::to_string),
            timeout: match &e {
                HubError::DeviceNotOnline {
                    connect_timeout_s, ..
                } => {
                    let s = *connect_timeout_s;
                    Some(format!(
                        "{:02}:{:02}:{:02}",
                        s / 3600,
                        (s / 60) % 60,
                        s % 60
                    ))
                }
                _ => None,
            },
        };
        ApiError {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: Some(code),
            name: code.name(),
            message: e.to_string(),
            info,
            request_id: None,
        }
    }
}

impl From<MethodFailure> for ApiError {
    fn from(f: MethodFailure) -> Self {
        ApiError {
            request_id: f.request_id,
            ..f.error.into()
        }
    }
}

fn with_code_header(mut r: Response, name: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(name) {
        r.headers_mut().insert("iothub-errorcode", v);
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorEnvelope {
            error: ApiErrorDto {
                code: self.code.map(|c| c.number()),
                name: self.name.to_string(),
                message: self.message.clone(),
                explanation: self.explanation(),
                request_id: self.request_id.clone(),
                info: (!self.info.is_empty()).then(|| self.info.clone()),
            },
        };
        with_code_header((self.status, Json(body)).into_response(), self.name)
    }
}

/// An error answered in IoT Hub's envelope (for IoT Hub's own paths).
#[derive(Debug, Clone)]
pub struct IotHubError(pub ApiError);

impl<E: Into<ApiError>> From<E> for IotHubError {
    fn from(e: E) -> Self {
        IotHubError(e.into())
    }
}

impl IntoResponse for IotHubError {
    fn into_response(self) -> Response {
        let e = self.0;
        let now = chrono_like_now();
        let inner = json!({
            "errorCode": e.code.map(|c| c.number()),
            "trackingId": format!("hublet-{}", rand::random::<u32>()),
            "message": e.message,
            "info": e.info,
            "timestampUtc": now,
        });
        let body = json!({"Message": inner.to_string(), "ExceptionMessage": ""});
        with_code_header((e.status, Json(body)).into_response(), e.name)
    }
}

fn chrono_like_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    hublet_core::Timestamp(ms).to_rfc3339()
}
