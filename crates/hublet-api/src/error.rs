//! Errors to HTTP, in one place.
//!
//! Hublet's own `/api/...` answers `{"error": {code, name, message,
//! explanation}}`. IoT Hub's paths answer in IoT Hub's two envelopes, which
//! the Azure SDKs parse into their typed errors: `{"Message":
//! "ErrorCode:<Name>;<text>", "ExceptionMessage": "Tracking ID:…"}` for
//! most errors, and `{"Message": "{\"errorCode\":504101,…}",
//! "ExceptionMessage": ""}` for a direct method that did not complete. Both
//! carry the `iothub-errorcode` header with the same name (.NET checks that
//! they agree).

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
        let now = now_utc();
        let (name, body) = if e.code.is_some_and(is_method_outcome) {
            // A direct method that did not complete: IoT Hub's JSON-in-Message
            // form, with the number and `info` (the connect timeout).
            let inner = json!({
                "errorCode": e.code.map(|c| c.number()),
                "trackingId": tracking_id(&now),
                "message": e.message,
                "info": e.info,
                "timestampUtc": now,
            });
            (
                e.name,
                json!({"Message": inner.to_string(), "ExceptionMessage": ""}),
            )
        } else {
            // Everything else: `ErrorCode:<Name>;<text>`, which the Node SDK
            // turns into its typed errors (`DeviceNotFoundError`, ...) and
            // .NET parses by name. Node keeps only the text up to a second
            // `;`, so none is left in it.
            let name = if e.status == StatusCode::UNAUTHORIZED {
                // What IoT Hub names a bad or expired SAS on HTTP (401002).
                "IotHubUnauthorizedAccess"
            } else {
                e.name
            };
            let text = match e.message.replace(';', ",") {
                t if t.trim().is_empty() => {
                    e.status.canonical_reason().unwrap_or("error").to_string()
                }
                t => t,
            };
            let body = json!({
                "Message": format!("ErrorCode:{name};{text}"),
                "ExceptionMessage": format!("Tracking ID:{}", tracking_id(&now)),
            });
            (name, body)
        };
        with_code_header((e.status, Json(body)).into_response(), name)
    }
}

/// Codes that end a direct-method call after the hub accepted it, which
/// IoT Hub reports in its JSON-in-Message envelope.
fn is_method_outcome(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DeviceNotOnline
            | ErrorCode::DeviceConnectionClosedRemotely
            | ErrorCode::GatewayTimeout
            | ErrorCode::DeviceMaximumInflightMethodExceeded
            | ErrorCode::InvalidResponseWhileProxying
    )
}

/// IoT Hub's tracking id: 32 hex digits, a gateway number and the time as
/// `MM/dd/yyyy HH:mm:ss` (from the RFC 3339 time `now`).
fn tracking_id(now: &str) -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    let part = |r: std::ops::Range<usize>| now.get(r).unwrap_or("00");
    format!(
        "{hex}-G:0-TimeStamp:{}/{}/{} {}",
        part(5..7),
        part(8..10),
        part(0..4),
        now.get(11..19).unwrap_or("00:00:00")
    )
}

fn now_utc() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    hublet_core::Timestamp(ms).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response) -> (StatusCode, String, serde_json::Value) {
        let status = r.status();
        let code = r
            .headers()
            .get("iothub-errorcode")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (
            status,
            code,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn registry_errors_name_the_code_before_the_text() {
        let e = IotHubError(HubError::DeviceNotFound("d1; x".into()).into());
        let (status, header, body) = body_of(e.into_response()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(header, "DeviceNotFound");
        let m = body["Message"].as_str().unwrap_or_default();
        let (code, text) = m.split_once(';').unwrap_or_default();
        assert_eq!(code, "ErrorCode:DeviceNotFound");
        assert!(!text.is_empty() && !text.contains(';'), "{m}");
        let tracking = body["ExceptionMessage"].as_str().unwrap_or_default();
        assert!(
            tracking.starts_with("Tracking ID:") && tracking.contains("-G:0-TimeStamp:"),
            "{tracking}"
        );
    }

    #[tokio::test]
    async fn a_bad_token_is_iot_hubs_unauthorized_access() {
        let e = IotHubError(ApiError::unauthorized("no"));
        let (status, header, body) = body_of(e.into_response()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(header, "IotHubUnauthorizedAccess");
        assert!(
            body["Message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("ErrorCode:IotHubUnauthorizedAccess;")
        );
    }

    #[tokio::test]
    async fn method_outcomes_carry_the_number_inside_the_message() {
        let e = IotHubError(ApiError::from(HubError::MethodTimeout {
            device: "d1".into(),
            method: "m".into(),
            response_timeout_s: 5,
        }));
        let (status, header, body) = body_of(e.into_response()).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(header, "GatewayTimeout");
        let inner: serde_json::Value =
            serde_json::from_str(body["Message"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(inner["errorCode"], 504101);
    }
}
