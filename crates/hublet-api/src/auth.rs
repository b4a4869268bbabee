//! Who is calling, and may they.
//!
//! Every request carries one of:
//! - `Authorization: Bearer <hub token>`: the hub's own token (created on
//!   first start, stored in the data directory readable by its owner only).
//!   It grants everything; the app, the CLI and scripts use it.
//! - `Authorization: SharedAccessSignature …`: an IoT Hub SAS token. A
//!   service token (with `skn`) must come from a policy with the permission
//!   the path needs; a device token only opens that device's own paths.
//! - `?access_token=<hub token>` on GET requests only, for browser features
//!   that cannot set headers (EventSource, download links).

use axum::http::HeaderMap;
use hublet_core::auth::Permission;

use crate::AppState;
use crate::error::ApiError;

/// What a path needs.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// Hublet's own API: the hub token or an `iothubowner`-like policy.
    Api,
    /// An IoT Hub service path needing this permission.
    Service(Permission),
    /// A device path of this device.
    Device(&'a str),
}

/// Who the caller turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The hub token.
    Owner,
    /// A shared access policy.
    Policy(String),
    /// A device.
    Device(String),
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the request's credentials against what the path needs.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
    need: Need<'_>,
    remote: Option<String>,
) -> Result<Caller, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let bearer = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .or(query_token)
        .map(str::trim);
    if let Some(t) = bearer {
        if constant_time_eq(t.as_bytes(), state.token.as_bytes()) {
            return Ok(Caller::Owner);
        }
        return Err(ApiError::unauthorized(
            "the bearer token is not this hub's token",
        ));
    }
    let Some(sas) = header.filter(|h| h.starts_with("SharedAccessSignature ")) else {
        return Err(ApiError::unauthorized(
            "no credentials: send 'Authorization: Bearer <hub token>' (see the data directory's api-token file) or an IoT Hub SAS token",
        ));
    };
    let hub = &state.hub;
    let has_policy = sas.contains("skn=");
    match need {
        Need::Api => {
            for p in [
                Permission::RegistryRead,
                Permission::RegistryWrite,
                Permission::ServiceConnect,
            ] {
                hub.authenticate_service(sas, p)?;
            }
            Ok(Caller::Policy(
                hub.authenticate_service(sas, Permission::ServiceConnect)?,
            ))
        }
        Need::Service(p) => {
            if !has_policy {
                return Err(ApiError::unauthorized(
                    "a device token cannot be used on a service path",
                ));
            }
            Ok(Caller::Policy(hub.authenticate_service(sas, p)?))
        }
        Need::Device(id) => {
            hub.authenticate_device(id, sas, "http", remote).await?;
            Ok(Caller::Device(id.to_string()))
        }
    }
}
