//! Host and Origin checks, and CORS for the app's own origins.
//!
//! - **Host** must be a loopback name (`localhost`, `127.0.0.1`, `[::1]`),
//!   an IP literal, the hub's name or one of its aliases, or a name given
//!   with `--allow-host`. Anything else is refused: this stops DNS-rebinding
//!   pages (whose requests carry their own host name) from reaching the hub.
//!   Exactly one Host is allowed, and an absolute-form request target
//!   (`GET http://name/…`) must name an accepted host as well.
//! - **Origin**, when a browser sends one, must be the request's own origin
//!   or one of the app's (`tauri://localhost`, `http(s)://tauri.localhost`,
//!   and any given with `--allow-origin`). Cross-origin requests from other
//!   web pages are refused before any handler runs.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// Origins of the desktop app's webview.
pub const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// What the checks accept besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    /// Extra host names accepted in `Host`.
    pub allowed_hosts: Vec<String>,
    /// Extra origins accepted (e.g. a Vite dev server `http://localhost:5173`).
    pub allowed_origins: Vec<String>,
}

fn host_name(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => h,
    }
}

fn host_allowed(state: &AppState, host: &str) -> bool {
    let name = host_name(host);
    if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let settings = state.hub.settings();
    settings
        .host_names()
        .iter()
        .map(|h| host_name(h))
        .any(|h| h == name)
        || state
            .security
            .allowed_hosts
            .iter()
            .any(|h| host_name(h) == name)
}

fn origin_allowed(state: &AppState, origin: &str, host: Option<&str>) -> bool {
    let o = origin.trim_end_matches('/');
    if APP_ORIGINS.contains(&o)
        || state
            .security
            .allowed_origins
            .iter()
            .any(|a| a.trim_end_matches('/') == o)
    {
        return true;
    }
    // Same origin: the origin's authority is the request's Host.
    let authority = o.split_once("://").map(|(_, a)| a).unwrap_or(o);
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// Checks a request's Host and Origin headers: the answer refusing it, or
/// the origin to grant in CORS headers ([`add_cors`]), if it sent one
/// (run by [`crate::edge`]).
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, moved out once; a box would add an allocation"
)]
pub(crate) fn admit(state: &AppState, req: &Request) -> Result<Option<String>, Response> {
    // RFC 9112 3.2: a request with more than one Host is answered 400.
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(ApiError::http(
            StatusCode::BAD_REQUEST,
            "BadHost",
            "the request has more than one Host header",
        )
        .into_response());
    }
    let header_host = match first.map(|v| v.to_str()) {
        Some(Ok(h)) => Some(h.to_string()),
        Some(Err(_)) => {
            return Err(ApiError::http(
                StatusCode::BAD_REQUEST,
                "BadHost",
                "the Host header is not text",
            )
            .into_response());
        }
        None => None,
    };
    // An absolute-form target ("GET http://name/path") names the host that
    // counts (RFC 9112 3.2.2), so that name is checked too.
    let target_host = req.uri().authority().map(|a| a.to_string());
    let host = header_host.clone().or_else(|| target_host.clone());
    for h in [&header_host, &target_host].into_iter().flatten() {
        if !host_allowed(state, h) {
            return Err(ApiError::http(
                StatusCode::FORBIDDEN,
                "ForbiddenHost",
                format!("Host '{h}' is not one of this hub's names; add it with --allow-host or as a hub alias"),
            )
            .into_response());
        }
    }
    if host.is_none() {
        return Err(ApiError::http(
            StatusCode::BAD_REQUEST,
            "MissingHost",
            "the request has no Host",
        )
        .into_response());
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match origin {
        None => Ok(None),
        Some(o) if origin_allowed(state, &o, host.as_deref()) => Ok(Some(o)),
        Some(o) => Err(ApiError::http(
            StatusCode::FORBIDDEN,
            "ForbiddenOrigin",
            format!("web pages from '{o}' may not call this hub; add the origin with --allow-origin if it is yours"),
        )
        .into_response()),
    }
}

/// The answer to an admitted CORS preflight (`OPTIONS`).
pub(crate) fn preflight(origin: Option<&str>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    add_cors(&mut r, origin);
    r
}

/// Grants `origin` (an admitted one, see [`admit`]) in a response's CORS
/// headers; nothing when the request sent no origin.
pub(crate) fn add_cors(r: &mut Response<Body>, origin: Option<&str>) {
    let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        // The app's own calls: the token, JSON, a twin's etag, and a query's
        // page size and continuation (IoT Hub's header names).
        HeaderValue::from_static(
            "authorization, content-type, if-match, x-ms-max-item-count, x-ms-continuation",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, iothub-errorcode, x-ms-continuation, x-ms-item-type"),
    );
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_names_drop_ports_and_brackets() {
        assert_eq!(host_name("localhost:8480"), "localhost");
        assert_eq!(host_name("[::1]:8443"), "::1");
        assert_eq!(host_name("MyHub.Local"), "myhub.local");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }
}
