//! `/api/hub`, `/api/stats`, `/api/settings`, `/api/ca`, service connection strings.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::{ConnectionStringDto, HubInfoDto, RulesDto, SasTokenDto, SettingsDto, StatsDto};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

pub async fn info(State(s): State<AppState>, _c: ApiCaller) -> Result<Json<HubInfoDto>, ApiError> {
    let facts = s.facts();
    let stats = s.hub.stats().await?;
    Ok(Json(HubInfoDto {
        version: facts.version,
        hub_name: s.hub.settings().hub_name.clone(),
        listeners: facts.listeners,
        database: stats.database.clone(),
        ca_path: facts.ca_path,
        stats: stats.into(),
    }))
}

pub async fn stats(State(s): State<AppState>, _c: ApiCaller) -> Result<Json<StatsDto>, ApiError> {
    Ok(Json(s.hub.stats().await?.into()))
}

/// The rules the hub checks input against (`GET /api/rules`), so a client
/// can check a form before sending it without keeping its own copy.
pub async fn rules(State(s): State<AppState>, _c: ApiCaller) -> Json<RulesDto> {
    Json(RulesDto::of(&s.hub.settings()))
}

pub async fn get_settings(State(s): State<AppState>, _c: ApiCaller) -> Json<SettingsDto> {
    Json(s.hub.settings().as_ref().clone())
}

pub async fn put_settings(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(req): JsonBody<SettingsDto>,
) -> Result<Json<SettingsDto>, ApiError> {
    let saved = s.hub.update_settings(req).await?;
    Ok(Json(saved.as_ref().clone()))
}

/// The CA certificate, PEM. No credentials needed: it is public by nature,
/// and a newcomer's first step is to give it to a device.
pub async fn ca(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    match s.facts().ca_pem {
        Some(pem) => Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem)),
        None => Err(ApiError::http(
            axum::http::StatusCode::NOT_FOUND,
            "NoTls",
            "this hub runs without TLS listeners, so it has no CA",
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceParams {
    policy: Option<String>,
    host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSasParams {
    policy: Option<String>,
    host: Option<String>,
    ttl_secs: Option<u64>,
}

/// A service SAS token for a policy (`GET /api/sas-token/service`), as the
/// service SDKs make one (`sr` is the hub name unless `host` is given).
pub async fn service_sas_token(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ServiceSasParams>,
) -> Result<Json<SasTokenDto>, ApiError> {
    let ttl = std::time::Duration::from_secs(p.ttl_secs.unwrap_or(3600));
    let (token, expiry) =
        s.hub
            .registry()
            .service_sas_token(p.policy.as_deref(), p.host.as_deref(), ttl)?;
    Ok(Json(SasTokenDto {
        token,
        expires_at: expiry.to_rfc3339(),
    }))
}

/// A service connection string. Its HostName defaults to the HTTPS
/// listener's address, which is what the Azure service SDK must dial.
pub async fn service_connection_string(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ServiceParams>,
) -> Result<Json<ConnectionStringDto>, ApiError> {
    let https = s.facts().listeners.https.map(|a| https_host(&a));
    let host = p.host.or(https);
    let cs = s
        .hub
        .registry()
        .service_connection_string(p.policy.as_deref(), host.as_deref())?;
    Ok(Json(ConnectionStringDto {
        connection_string: cs,
    }))
}

/// `GET /api/connection-string/events[?policy=…]`: the Event Hub-compatible
/// endpoint's connection string, naming the AMQP listener.
pub async fn events_connection_string(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ServiceParams>,
) -> Result<Json<ConnectionStringDto>, ApiError> {
    let amqps = s.facts().listeners.amqps.map(|a| listener_host(&a, 5671));
    let host = p.host.or(amqps).ok_or_else(|| {
        ApiError::invalid(
            "the AMQP listener is off (--amqps off): there is no Event Hub-compatible endpoint",
        )
    })?;
    let cs = s
        .hub
        .registry()
        .events_connection_string(p.policy.as_deref(), &host)?;
    Ok(Json(ConnectionStringDto {
        connection_string: cs,
    }))
}

pub use hublet_net::listener_host;

/// The HostName for the HTTPS listener at `addr`: `localhost` for a
/// loopback or wildcard listener, with `:PORT` unless it is IoT Hub's 443
/// (which every SDK dials without being told, and the Node SDKs require).
pub fn https_host(addr: &str) -> String {
    listener_host(addr, 443)
}
