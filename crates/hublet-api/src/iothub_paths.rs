//! IoT Hub's paths as IoT Hub matches them: its fixed segments in any case
//! (`devicebound` and `deviceBound`, `servicebound`, `Twins`, …) and with
//! or without a trailing slash. The Node and C SDKs poll
//! `/devices/{id}/messages/devicebound`; .NET writes `deviceBound`.
//!
//! Requests are rewritten to the one spelling the router declares before
//! they are routed. Ids (the segment after `devices`, `twins`, `modules`,
//! and a lock token after `deviceBound` or `feedback`) are never touched,
//! and Hublet's own `/api/…` paths are left exactly as they are.
//!
//! Every IoT Hub path also needs an `api-version` query, as on IoT Hub:
//! without one, or with one that is not a version, the answer is 400
//! `InvalidProtocolVersion` ([`version_refusal`]).

use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, IotHubError};

/// First segments of IoT Hub's own REST paths (service and device).
const ROOTS: &[&str] = &[
    "devices",
    "twins",
    "messages",
    "modules",
    "configurations",
    "jobs",
    "statistics",
    "digitaltwins",
];

/// True for a path under one of IoT Hub's roots (any case).
pub fn is_iothub(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    ROOTS.iter().any(|r| r.eq_ignore_ascii_case(first))
}

/// Why an `api-version` query is not acceptable, or `None` when it is:
/// present, and a version in IoT Hub's form (`YYYY-MM-DD`, optionally
/// `-preview`) from 2016 on. Hublet serves every version the same way, so
/// an SDK newer than this list still works.
pub fn api_version_problem(query: Option<&str>) -> Option<String> {
    let value = query.unwrap_or("").split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        k.eq_ignore_ascii_case("api-version").then_some(v)
    });
    let Some(v) = value else {
        return Some("the api-version query parameter is missing; the Azure IoT SDKs send one (for example ?api-version=2021-04-12)".into());
    };
    let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
    let date = v.strip_suffix("-preview").unwrap_or(&v);
    let ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
        && &date[..4] >= "2016"
        && date[5..7]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m))
        && date[8..10]
            .parse::<u8>()
            .is_ok_and(|d| (1..=31).contains(&d));
    (!ok).then(|| {
        format!("api-version '{v}' is not a version of IoT Hub's API (YYYY-MM-DD, 2016 or later)")
    })
}

/// IoT Hub's answer to a request on one of its paths without a usable
/// `api-version`: 400 `InvalidProtocolVersion` in IoT Hub's envelope.
/// `None` lets the request through (run by [`crate::edge`]).
pub fn version_refusal(req: &Request) -> Option<Response> {
    if !is_iothub(req.uri().path()) {
        return None;
    }
    let problem = api_version_problem(req.uri().query())?;
    Some(
        IotHubError(ApiError::http(
            StatusCode::BAD_REQUEST,
            "InvalidProtocolVersion",
            problem,
        ))
        .into_response(),
    )
}

/// Fixed segments of IoT Hub's paths, in the spelling the router uses.
const SEGMENTS: &[&str] = &[
    "devices",
    "twins",
    "modules",
    "messages",
    "deviceBound",
    "serviceBound",
    "feedback",
    "events",
    "methods",
    "commands",
    "abandon",
    "query",
];

/// Segments followed by an id (or a lock token).
const BEFORE_ID: &[&str] = &["devices", "twins", "modules", "deviceBound", "feedback"];

/// The path in the router's spelling (unchanged for `/api/…` and anything
/// that is not an IoT Hub path).
pub fn canonical(path: &str) -> Option<String> {
    if path == "/" || path.starts_with("/api/") || path == "/api" {
        return None;
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let mut out = String::with_capacity(path.len());
    let mut id_next = false;
    let mut changed = trimmed.len() != path.len();
    for seg in trimmed.split('/').skip(1) {
        out.push('/');
        if id_next {
            out.push_str(seg);
            id_next = false;
            continue;
        }
        match SEGMENTS.iter().find(|s| s.eq_ignore_ascii_case(seg)) {
            Some(canon) => {
                changed |= *canon != seg;
                out.push_str(canon);
                id_next = BEFORE_ID.contains(canon);
            }
            None => out.push_str(seg),
        }
    }
    changed.then_some(out)
}

/// `uri` with its path in the router's spelling.
pub fn normalize(uri: &Uri) -> Option<Uri> {
    let path = canonical(uri.path())?;
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_in_iot_hubs_form_are_accepted() {
        for ok in [
            "api-version=2021-04-12",
            "x=1&api-version=2016-11-14&reject",
            "API-VERSION=2020-05-31-preview",
            "api-version=2030-01-01",
        ] {
            assert_eq!(api_version_problem(Some(ok)), None, "{ok}");
        }
        for bad in [
            None,
            Some("reject"),
            Some("api-version="),
            Some("api-version=latest"),
            Some("api-version=2015-08-15-preview"),
            Some("api-version=2021-13-01"),
            Some("api-version=2021-4-12"),
        ] {
            assert!(api_version_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn iot_hubs_roots_are_recognised_in_any_case() {
        assert!(is_iothub("/devices"));
        assert!(is_iothub("/Twins/d1/methods"));
        assert!(is_iothub("/messages/serviceBound/feedback"));
        assert!(!is_iothub("/api/devices"));
        assert!(!is_iothub("/assets/index.js"));
        assert!(!is_iothub("/"));
    }

    #[test]
    fn iot_hubs_segments_match_in_any_case_and_ids_are_kept() {
        assert_eq!(
            canonical("/devices/Dev1/messages/devicebound").as_deref(),
            Some("/devices/Dev1/messages/deviceBound")
        );
        assert_eq!(
            canonical("/DEVICES/messages/Messages/DEVICEBOUND/abc/ABANDON").as_deref(),
            Some("/devices/messages/messages/deviceBound/abc/abandon"),
            "a device named 'messages' stays 'messages', a lock token stays as sent"
        );
        assert_eq!(
            canonical("/messages/servicebound/feedback/").as_deref(),
            Some("/messages/serviceBound/feedback")
        );
        assert_eq!(canonical("/devices/d1/messages/deviceBound"), None);
        assert_eq!(canonical("/api/devices/d1/Messages"), None);
    }
}
