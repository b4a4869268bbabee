//! `/api/devices/{id}/messages`: send, list the queue, purge.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use hublet_core::{AckMode, NewMessage, Timestamp};

use super::ApiCaller;
use crate::AppState;
use crate::dto::{MessageDto, PurgeResultDto, SendMessageRequest};
use crate::error::ApiError;
use crate::extract::JsonBody;

/// Turns the API's request into the core's message.
pub fn to_new_message(r: SendMessageRequest) -> Result<NewMessage, ApiError> {
    let body = match r.body_encoding.as_deref().unwrap_or("text") {
        "text" | "utf-8" | "utf8" => r.body.into_bytes(),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(r.body.trim())
            .map_err(|e| ApiError::invalid(format!("body is not valid base64: {e}")))?,
        "hex" => {
            let cleaned: String = r.body.chars().filter(|c| !c.is_whitespace()).collect();
            hex::decode(cleaned)
                .map_err(|e| ApiError::invalid(format!("body is not valid hex: {e}")))?
        }
        other => {
            return Err(ApiError::invalid(format!(
                "bodyEncoding '{other}' is not text, base64 or hex"
            )));
        }
    };
    let expiry = match r.expiry_time_utc.as_deref() {
        None | Some("") => None,
        Some(t) => Some(Timestamp::parse_rfc3339(t).ok_or_else(|| {
            ApiError::invalid(format!("expiryTimeUtc '{t}' is not an RFC 3339 date-time"))
        })?),
    };
    Ok(NewMessage {
        body,
        message_id: r.message_id.filter(|m| !m.is_empty()),
        correlation_id: r.correlation_id.filter(|m| !m.is_empty()),
        user_id: r.user_id.filter(|m| !m.is_empty()),
        expiry_time_utc: expiry,
        ttl_secs: r.ttl_seconds,
        ack: AckMode::parse(r.ack.as_deref().unwrap_or("none"))?,
        content_type: r.content_type.filter(|m| !m.is_empty()),
        content_encoding: r.content_encoding.filter(|m| !m.is_empty()),
        properties: r.properties,
    })
}

pub async fn send(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SendMessageRequest>,
) -> Result<(StatusCode, Json<MessageDto>), ApiError> {
    let m = s.hub.mailbox().send(&id, to_new_message(req)?).await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<MessageDto>>, ApiError> {
    Ok(Json(
        s.hub
            .mailbox()
            .list(&id)
            .await?
            .into_iter()
            .map(MessageDto::from)
            .collect(),
    ))
}

pub async fn purge(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<PurgeResultDto>, ApiError> {
    let n = s.hub.mailbox().purge(&id).await?;
    Ok(Json(PurgeResultDto {
        total_messages_purged: n,
        device_id: id,
        module_id: None,
    }))
}
