//! Handlers, filed by area. Every route is declared in `router.rs`.

pub mod amqp_ws;
pub mod commands;
pub mod device_http;
pub mod devices;
pub mod events;
pub mod feedback;
pub mod hub;
pub mod iothub;
pub mod messages;
pub mod methods;
pub mod modules;
pub mod scenarios;
pub mod serial;
pub mod sim;
pub mod test_runs;
pub mod trace;
pub mod twins;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::Method;
use axum::http::request::Parts;
use hublet_core::auth::Permission;

use crate::AppState;
use crate::auth::{Caller, Need, authorize};
use crate::error::{ApiError, IotHubError};

/// `?access_token=` is for browser features that cannot set headers
/// (EventSource, download links), which only ever GET.
fn query_token(parts: &Parts) -> Option<String> {
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        return None;
    }
    let q = parts.uri.query()?;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "access_token").then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// A caller allowed to use Hublet's own API.
pub struct ApiCaller(#[allow(dead_code)] pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = query_token(parts);
        authorize(
            state,
            &parts.headers,
            token.as_deref(),
            Need::Api,
            remote(parts),
        )
        .await
        .map(ApiCaller)
    }
}

/// A caller allowed an IoT Hub service permission `P`.
pub struct Service<const P: u8>;

/// RegistryRead.
pub const REGISTRY_READ: u8 = 0;
/// RegistryWrite.
pub const REGISTRY_WRITE: u8 = 1;
/// ServiceConnect.
pub const SERVICE_CONNECT: u8 = 2;

impl<const P: u8> FromRequestParts<AppState> for Service<P> {
    type Rejection = IotHubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, IotHubError> {
        let perm = match P {
            REGISTRY_READ => Permission::RegistryRead,
            REGISTRY_WRITE => Permission::RegistryWrite,
            _ => Permission::ServiceConnect,
        };
        authorize(
            state,
            &parts.headers,
            None,
            Need::Service(perm),
            remote(parts),
        )
        .await?;
        Ok(Service)
    }
}

/// Where the request came from, when the listener recorded it.
fn remote(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
}

/// A device calling its own HTTP endpoints: the path's `{id}`,
/// authenticated with a token for that device.
pub struct DeviceCaller(pub String);

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = IotHubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, IotHubError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        let id = params
            .get("id")
            .cloned()
            .ok_or_else(|| ApiError::invalid("the path names no device"))?;
        authorize(
            state,
            &parts.headers,
            None,
            Need::Device(&id),
            remote(parts),
        )
        .await?;
        Ok(DeviceCaller(id))
    }
}

/// The `If-Match` header, unquoted.
pub fn if_match(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().trim_matches('"').to_string())
}
