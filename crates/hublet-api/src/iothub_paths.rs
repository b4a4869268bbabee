//! IoT Hub's paths as IoT Hub matches them: its fixed segments in any case
//! (`devicebound` and `deviceBound`, `servicebound`, `Twins`, …) and with
//! or without a trailing slash. The Node and C SDKs poll
//! `/devices/{id}/messages/devicebound`; .NET writes `deviceBound`.
//!
//! Requests are rewritten to the one spelling the router declares before
//! they are routed. Ids (the segment after `devices`, `twins`, `modules`,
//! and a lock token after `deviceBound` or `feedback`) are never touched,
//! and Hublet's own `/api/…` paths are left exactly as they are.

use axum::http::Uri;

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
