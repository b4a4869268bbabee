//! IoT Hub's HTTP device endpoints: telemetry (one message or a batch),
//! and C2D receive (lock), complete, reject, abandon. A device token for
//! that device is required on each request.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use base64::Engine as _;
use hublet_core::Telemetry;
use hublet_core::attach::MAX_TELEMETRY_BYTES;

use super::DeviceCaller;
use crate::AppState;
use crate::error::{ApiError, IotHubError};

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

/// The transport name telemetry from these endpoints carries in the trace.
const VIA: &str = "http";

/// A batch's `Content-Type` (the SDKs' `sendEventBatch`).
const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.iothub.json";

/// `POST /devices/{id}/messages/events`: one device-to-cloud message, its
/// properties in IoT Hub's headers; or, with `Content-Type:
/// application/vnd.microsoft.iothub.json`, a JSON array of them. 204 when
/// every message was accepted; a bad batch is refused whole.
pub async fn send_event(
    State(s): State<AppState>,
    DeviceCaller(id): DeviceCaller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> R<StatusCode> {
    let batch = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(BATCH_CONTENT_TYPE));
    let messages = if batch {
        if body.len() > MAX_TELEMETRY_BYTES {
            return Err(hublet_core::HubError::TooLarge {
                what: "the batch of device-to-cloud messages",
                size: body.len(),
                limit: MAX_TELEMETRY_BYTES,
            }
            .into());
        }
        parse_batch(&body)?
    } else {
        let pairs = headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .filter_map(|(n, v)| property(n, v))
            .collect();
        vec![Telemetry::from_properties(pairs, body.to_vec())]
    };
    // Queued together (one commit for a batch), answered once all are stored.
    let mut stored = Vec::with_capacity(messages.len());
    for t in messages {
        stored.push(s.hub.device_telemetry(&id, VIA, t)?);
    }
    for st in stored {
        st.committed().await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One HTTP header (or a batch entry's property, which uses the same
/// names) as a message property in the engine's `$.` names; `None` for
/// headers that are not message properties.
fn property(name: &str, value: &str) -> Option<(String, Option<String>)> {
    let name = name.to_ascii_lowercase();
    let key = match name.as_str() {
        "iothub-messageid" => "$.mid".to_string(),
        "iothub-correlationid" => "$.cid".to_string(),
        "iothub-contenttype" => "$.ct".to_string(),
        "iothub-contentencoding" => "$.ce".to_string(),
        "iothub-interface-id" => "$.ifid".to_string(),
        "dt-subject" => "$.sub".to_string(),
        _ => name.strip_prefix("iothub-app-")?.to_string(),
    };
    Some((key, Some(value.to_string())))
}

/// One entry of a batch: `body` (base64 unless `base64Encoded` is false),
/// `properties` by their HTTP header names.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchEntry {
    body: serde_json::Value,
    #[serde(default = "yes")]
    base64_encoded: bool,
    #[serde(default)]
    properties: std::collections::BTreeMap<String, serde_json::Value>,
}

fn yes() -> bool {
    true
}

fn parse_batch(body: &[u8]) -> Result<Vec<Telemetry>, ApiError> {
    let entries: Vec<BatchEntry> = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!(
            "a batch must be a JSON array of {{\"body\", \"base64Encoded\", \"properties\"}} objects: {e}"
        ))
    })?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let bytes = match (&e.body, e.base64_encoded) {
                (serde_json::Value::String(b), true) => base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|err| {
                        ApiError::invalid(format!(
                            "batch entry {i}: body is not base64 ({err}); send \"base64Encoded\": false for text"
                        ))
                    })?,
                (serde_json::Value::String(b), false) => b.clone().into_bytes(),
                (_, true) => {
                    return Err(ApiError::invalid(format!(
                        "batch entry {i}: body must be a base64 string"
                    )));
                }
                (other, false) => other.to_string().into_bytes(),
            };
            let pairs = e
                .properties
                .iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    property(k, &v)
                })
                .collect();
            Ok(Telemetry::from_properties(pairs, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_to_system_and_application_properties() {
        assert_eq!(
            property("IoTHub-MessageId", "m1"),
            Some(("$.mid".into(), Some("m1".into())))
        );
        assert_eq!(
            property("iothub-app-temp", "21"),
            Some(("temp".into(), Some("21".into())))
        );
        assert_eq!(
            property("dt-subject", "c1"),
            Some(("$.sub".into(), Some("c1".into())))
        );
        assert_eq!(property("user-agent", "x"), None);
    }

    #[test]
    fn a_batch_decodes_base64_and_text_bodies() {
        let b = br#"[{"body":"aGk=","properties":{"iothub-app-k":"v","iothub-messageid":"m"}},
                     {"body":"plain","base64Encoded":false},
                     {"body":{"t":1},"base64Encoded":false}]"#;
        let m = parse_batch(b).expect("a valid batch");
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].body, b"hi");
        assert_eq!(m[0].message_id.as_deref(), Some("m"));
        assert_eq!(m[0].properties.get("k"), Some(&Some("v".into())));
        assert_eq!(m[1].body, b"plain");
        assert_eq!(m[2].body, br#"{"t":1}"#);
    }

    #[test]
    fn a_bad_batch_is_refused_whole() {
        assert!(parse_batch(br#"{"body":"aGk="}"#).is_err());
        assert!(parse_batch(br#"[{"body":"aGk="},{"body":"%%%"}]"#).is_err());
        assert!(parse_batch(br#"[{"body":{"x":1}}]"#).is_err());
    }
}
