//! IoT Hub's HTTP device endpoints for C2D: receive (lock), complete,
//! reject, abandon. A device token for that device is required.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::DeviceCaller;
use crate::AppState;
use crate::error::IotHubError;

type R<T> = Result<T, IotHubError>;

fn put(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        h.insert(n, v);
    }
}

/// `GET /devices/{id}/messages/deviceBound`: 200 with the message (lock
/// token in a quoted `ETag`, properties in `iothub-*` headers), or 204.
pub async fn receive(State(s): State<AppState>, DeviceCaller(id): DeviceCaller) -> R<Response> {
    let Some(m) = s.hub.mailbox().receive(&id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut r = Response::new(Body::from(m.body.clone()));
    let h = r.headers_mut();
    put(
        h,
        "etag",
        &format!("\"{}\"", m.lock_token.clone().unwrap_or_default()),
    );
    put(h, "iothub-messageid", &m.message_id);
    put(h, "iothub-sequencenumber", &m.sequence_number.to_string());
    put(h, "iothub-to", &m.to);
    put(h, "iothub-ack", m.ack.as_str());
    put(h, "iothub-expiry", &m.expiry_time_utc.to_rfc3339());
    put(h, "iothub-deliverycount", &m.delivery_count.to_string());
    put(h, "iothub-enqueuedtime", &m.enqueued_time.to_rfc3339());
    for (name, v) in [
        ("iothub-correlationid", &m.correlation_id),
        ("iothub-userid", &m.user_id),
    ] {
        put(h, name, v.as_deref().unwrap_or(""));
    }
    if let Some(ct) = &m.content_type {
        put(h, "ContentType", ct);
        put(h, header::CONTENT_TYPE.as_str(), ct);
    }
    if let Some(ce) = &m.content_encoding {
        put(h, "ContentEncoding", ce);
    }
    for (k, v) in &m.properties {
        put(h, &format!("iothub-app-{k}"), v);
    }
    Ok(r)
}

/// `DELETE /devices/{id}/messages/deviceBound/{etag}`: complete, or reject
/// with `?reject` (with or without a value).
pub async fn settle(
    State(s): State<AppState>,
    DeviceCaller(id): DeviceCaller,
    Path((_, etag)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> R<StatusCode> {
    let token = etag.trim_matches('"');
    let reject = q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "reject" || kv.starts_with("reject="));
    if reject {
        s.hub.mailbox().reject(&id, token).await?;
    } else {
        s.hub.mailbox().complete(&id, token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /devices/{id}/messages/deviceBound/{etag}/abandon`.
pub async fn abandon(
    State(s): State<AppState>,
    DeviceCaller(id): DeviceCaller,
    Path((_, etag)): Path<(String, String)>,
) -> R<StatusCode> {
    s.hub.mailbox().abandon(&id, etag.trim_matches('"')).await?;
    Ok(StatusCode::NO_CONTENT)
}
