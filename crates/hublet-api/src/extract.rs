//! Extractors that turn bad input into IoT Hub errors instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, IotHubError};

/// A JSON object body for Hublet's own API: anything but an object is
/// refused (serde would otherwise read `["a", null, "b"]` into a struct
/// field by field), and so is a field the call does not know, because a
/// misspelt `ttlSeconds` silently ignored is a message that never expires.
/// Rejections are 400004 (bad JSON or fields) or 413001 (too large).
pub struct JsonBody<T>(pub T);

/// A JSON object body on IoT Hub's own paths. Objects only, as above, but
/// unknown fields are allowed: the Azure SDKs send whole registry objects
/// (`etag`, `capabilities`, `connectionState`, …) of which Hublet reads a part.
/// Rejections come in IoT Hub's error envelope.
pub struct IotHubJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read_object(req, state, true).await.map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for IotHubJson<T> {
    type Rejection = IotHubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, IotHubError> {
        Ok(IotHubJson(read_object(req, state, false).await?))
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

async fn read_object<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    strict: bool,
) -> Result<T, ApiError> {
    if !is_json(&req) {
        return Err(ApiError::invalid(
            "the request body must be JSON, sent with 'Content-Type: application/json'",
        ));
    }
    let bytes = match Bytes::from_request(req, state).await {
        Ok(b) => b,
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(hublet_core::HubError::TooLarge {
                what: "the request body",
                size: 0,
                limit: crate::router::BODY_LIMIT,
            }
            .into());
        }
        Err(e) => return Err(ApiError::invalid(e.body_text())),
    };
    parse_object(&bytes, strict)
}

/// Parses `bytes` as a JSON object into `T`; with `strict`, fields `T` does
/// not know are refused by name.
pub(crate) fn parse_object<T: DeserializeOwned>(bytes: &[u8], strict: bool) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => {}
        None => {
            return Err(ApiError::invalid(
                "the request body is empty; send a JSON object",
            ));
        }
        Some(_) => {
            let kind = match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(serde_json::Value::Array(_)) => "an array",
                Ok(serde_json::Value::String(_)) => "a string",
                Ok(serde_json::Value::Number(_)) => "a number",
                Ok(serde_json::Value::Bool(_)) => "a boolean",
                Ok(serde_json::Value::Null) => "null",
                _ => "not valid JSON",
            };
            return Err(ApiError::invalid(format!(
                "the request body must be a JSON object; it is {kind}"
            )));
        }
    }
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_ignored::deserialize(&mut de, |path| {
        unknown.push(path.to_string());
    });
    let value = parsed.and_then(|v| de.end().map(|()| v)).map_err(|e| {
        ApiError::invalid(format!(
            "the request body is not valid JSON for this call: {e}"
        ))
    })?;
    if strict && !unknown.is_empty() {
        let fields = unknown
            .iter()
            .map(|f| format!("'{f}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut e = ApiError::invalid(format!(
            "the request body has fields this call does not know: {fields} (check their spelling)"
        ));
        e.info.field = unknown.into_iter().next();
        return Err(e);
    }
    Ok(value)
}

/// `Query<T>` whose rejections are 400004.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryParams(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::invalid(e.body_text()))
            }
            Err(e) => Err(ApiError::invalid(e.body_text())),
        }
    }
}

/// The API server's shutdown signal, which the server puts in every
/// request's extensions. A response that never ends on its own (a live
/// stream) ends with it, so stopping the hub closes its streams at once
/// instead of waiting out the graceful-shutdown deadline, and clients see
/// the hub go. Without a server (a router under test) it never fires.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(pub tokio_util::sync::CancellationToken);

impl<S: Send + Sync> FromRequestParts<S> for Shutdown {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Shutdown>()
            .cloned()
            .unwrap_or_default())
    }
}
