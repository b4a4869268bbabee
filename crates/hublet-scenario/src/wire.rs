//! The few shapes of Hublet's REST API the runner reads, as a client sees
//! them. The runner is a plain client of the API (it runs against any hub,
//! local or not), and the API crate serves scenario runs itself, so this
//! crate cannot depend on the API's own DTO types without a cycle; it reads
//! only the fields it needs, and the CLI tests run it against the real API.

use serde::Deserialize;
use serde_json::Value;

/// `POST /api/devices/{id}/messages` answers the message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub message_id: String,
}

/// A message in `GET /api/devices/{id}/messages`.
#[derive(Debug, Deserialize)]
pub struct Queued {
    /// `Enqueued` or `Invisible`.
    pub state: String,
}

/// A record of `GET /api/feedback`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    pub status_code: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /api/devices/{id}/methods` answers the device's result.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodResult {
    pub status: i64,
    #[serde(default)]
    pub payload: Value,
    pub request_id: String,
    pub latency_ms: f64,
}

/// Every API error: `{"error": {"code", "name", "message", …}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The error itself.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub message: String,
}
