//! Trace events: what happened, to which device, correlated by which keys.
//! What each kind says is in [`super::detail`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::detail::{EventKind, TraceDetail};
use crate::clock::Timestamp;

/// A stored trace event, as the API, exports and the UI see it (the UI's
/// `TraceEventDto`: the common fields and the kind's detail, a union
/// discriminated by `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export, rename = "TraceEventDto")]
pub struct TraceEvent {
    /// Position in the log; strictly increasing.
    pub id: i64,
    /// Wall-clock time (RFC 3339, UTC, milliseconds).
    pub ts: Timestamp,
    /// Monotonic microseconds since the hub started (orders events even if the wall clock steps).
    pub mono_us: u64,
    /// The device concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub device_id: Option<String>,
    /// The C2D message id concerned (also on feedback events), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub message_id: Option<String>,
    /// The lock token concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub lock_token: Option<String>,
    /// The direct-method request id concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub request_id: Option<String>,
    /// What happened: the kind and what it says.
    #[serde(flatten)]
    #[ts(flatten)]
    pub detail: TraceDetail,
}

impl TraceEvent {
    /// The kind, or `None` for an event no variant reads.
    pub fn kind(&self) -> Option<EventKind> {
        self.detail.kind()
    }

    /// The kind as stored (an unknown event's own kind).
    pub fn kind_str(&self) -> &str {
        self.detail.kind_str()
    }

    /// The stored form of `ev`.
    pub(crate) fn stored(id: i64, ts: Timestamp, mono_us: u64, ev: NewEvent) -> TraceEvent {
        TraceEvent {
            id,
            ts,
            mono_us,
            device_id: ev.device_id,
            message_id: ev.message_id,
            lock_token: ev.lock_token,
            request_id: ev.request_id,
            detail: ev.detail,
        }
    }
}

/// A trace event before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The device concerned.
    pub device_id: Option<String>,
    /// The message id concerned.
    pub message_id: Option<String>,
    /// The lock token concerned.
    pub lock_token: Option<String>,
    /// The request id concerned.
    pub request_id: Option<String>,
    /// What happened: the kind and what it says.
    pub detail: TraceDetail,
}

impl NewEvent {
    /// An event about `device`.
    pub fn new(device: impl Into<String>, detail: TraceDetail) -> NewEvent {
        NewEvent {
            device_id: Some(device.into()),
            message_id: None,
            lock_token: None,
            request_id: None,
            detail,
        }
    }

    /// An event about no particular device.
    pub fn hub(detail: TraceDetail) -> NewEvent {
        NewEvent {
            device_id: None,
            message_id: None,
            lock_token: None,
            request_id: None,
            detail,
        }
    }

    /// The kind, or `None` for an unknown event.
    pub fn kind(&self) -> Option<EventKind> {
        self.detail.kind()
    }

    /// Sets the message id.
    pub fn message(mut self, id: impl Into<String>) -> NewEvent {
        self.message_id = Some(id.into());
        self
    }

    /// Sets the lock token.
    pub fn lock(mut self, token: impl Into<String>) -> NewEvent {
        self.lock_token = Some(token.into());
        self
    }

    /// Sets the request id.
    pub fn request(mut self, rid: impl Into<String>) -> NewEvent {
        self.request_id = Some(rid.into());
        self
    }
}
