//! One clear line per error, and distinct exit codes scripts can branch on.

use std::process::ExitCode;

use crate::client::ClientError;

/// Exit codes (documented in docs/cli.md).
pub mod codes {
    /// Something else failed.
    pub const FAILURE: u8 = 1;
    /// Bad input: invalid arguments, ids, properties, sizes, timeouts (400xxx, 403009, 413001).
    pub const BAD_INPUT: u8 = 2;
    /// Not found: the device is not registered (404001), or no such endpoint.
    pub const NOT_FOUND: u8 = 3;
    /// Timed out / not reachable in time: 404103, 504101, 404104, or `--wait-feedback` ran out.
    pub const TIMEOUT: u8 = 4;
    /// Unauthorized (401003) or refused by the API's security checks.
    pub const UNAUTHORIZED: u8 = 5;
    /// No hub running, or it cannot be reached.
    pub const NO_HUB: u8 = 6;
    /// Conflict: already exists (409001), etag mismatch (412001), lock lost (412002), queue full (403004).
    pub const CONFLICT: u8 = 7;
    /// The message reached a negative outcome (`send --wait-feedback`).
    pub const NEGATIVE_FEEDBACK: u8 = 8;
}

/// The exit code for an IoT Hub error code.
pub fn for_hub_code(code: u32) -> u8 {
    match code {
        404001 => codes::NOT_FOUND,
        404103 | 504101 | 404104 => codes::TIMEOUT,
        401003 => codes::UNAUTHORIZED,
        409001 | 412001 | 412002 | 403004 => codes::CONFLICT,
        c if (400000..401000).contains(&c) || c == 403009 || c == 413001 => codes::BAD_INPUT,
        _ => codes::FAILURE,
    }
}

/// Prints the error in one line (or as JSON with `--json`) and picks the exit code.
pub fn report(e: &anyhow::Error, json: bool) -> ExitCode {
    let (code, line, body) = match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api {
            status,
            code,
            name,
            message,
            request_id,
        }) => {
            let exit = code.map(for_hub_code).unwrap_or(match *status {
                401 | 403 => codes::UNAUTHORIZED,
                404 => codes::NOT_FOUND,
                _ => codes::FAILURE,
            });
            let label = match code {
                Some(c) => format!("{c} {name}"),
                None => name.clone(),
            };
            let story = request_id
                .as_ref()
                .map(|r| format!(" (its story: hublet trace --correlation {r})"))
                .unwrap_or_default();
            (
                exit,
                format!("error: {label}: {message}{story}"),
                serde_json::json!({"error": {"code": code, "name": name, "message": message, "status": status, "requestId": request_id}}),
            )
        }
        Some(ClientError::NoHub(msg)) => (
            codes::NO_HUB,
            format!("error: {msg}"),
            serde_json::json!({"error": {"name": "NoHub", "message": msg}}),
        ),
        Some(ClientError::Exit(code, msg)) => (
            *code,
            format!("error: {msg}"),
            serde_json::json!({"error": {"message": msg}}),
        ),
        None => (
            codes::FAILURE,
            format!("error: {e:#}"),
            serde_json::json!({"error": {"message": format!("{e:#}")}}),
        ),
    };
    if json {
        println!("{body}");
    } else {
        eprintln!("{line}");
    }
    ExitCode::from(code)
}
