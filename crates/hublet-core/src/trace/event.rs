//! Trace events: what happened, to which device, correlated by which keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

macro_rules! event_kinds {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// Every kind of trace event. The string form (`c2d.enqueued`) is
        /// stable: it is stored, exported and used in filters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( $(#[$doc])* $variant, )*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The stable string form.
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }
        }

        impl FromStr for EventKind {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(EventKind::$variant),)*
                    other => Err(format!("unknown event kind '{other}'")),
                }
            }
        }
    };
}

event_kinds! {
    /// A device was registered.
    DeviceCreated => "device.created",
    /// A device was deleted (with its queue and pending feedback).
    DeviceDeleted => "device.deleted",
    /// A device was enabled.
    DeviceEnabled => "device.enabled",
    /// A device was disabled (and disconnected).
    DeviceDisabled => "device.disabled",
    /// A device's keys or other fields changed.
    DeviceUpdated => "device.updated",
    /// A transport attached the device (it is connected).
    DeviceAttached => "device.attached",
    /// The device's attachment ended; `detail.reason` says why.
    DeviceDetached => "device.detached",
    /// A device's credentials were refused.
    DeviceAuthFailed => "device.auth_failed",
    /// A transport-level protocol violation or notice.
    DeviceProtocol => "device.protocol",
    /// A C2D message was accepted into a device's queue.
    C2dEnqueued => "c2d.enqueued",
    /// A C2D message was locked and handed to the device.
    C2dDelivered => "c2d.delivered",
    /// The device completed the message.
    C2dCompleted => "c2d.completed",
    /// The device abandoned the message; it returns to the queue.
    C2dAbandoned => "c2d.abandoned",
    /// The device rejected the message.
    C2dRejected => "c2d.rejected",
    /// The lock timed out; the message returns to the queue.
    C2dLockExpired => "c2d.lock_expired",
    /// The device detached holding the lock; the message returns to the queue.
    C2dLockReleased => "c2d.lock_released",
    /// The message's time to live ran out.
    C2dExpired => "c2d.expired",
    /// The message reached a terminal failure (`detail.reason`).
    C2dDeadLettered => "c2d.dead_lettered",
    /// The message was removed by a purge.
    C2dPurged => "c2d.purged",
    /// A feedback record was produced for a message's outcome.
    FeedbackProduced => "feedback.produced",
    /// Pending feedback records were sealed into one feedback message.
    FeedbackBatched => "feedback.batched",
    /// A feedback message was locked by a receiver.
    FeedbackReceived => "feedback.received",
    /// A feedback message was completed by its receiver.
    FeedbackCompleted => "feedback.completed",
    /// A feedback message was abandoned by its receiver.
    FeedbackAbandoned => "feedback.abandoned",
    /// A feedback message expired or ran out of deliveries unread.
    FeedbackDropped => "feedback.dropped",
    /// A direct method call was requested.
    MethodInvoked => "method.invoked",
    /// The request was sent to the device.
    MethodDelivered => "method.delivered",
    /// The device answered.
    MethodResponded => "method.responded",
    /// The device did not answer in time (504101).
    MethodTimedOut => "method.timed_out",
    /// The call failed (not online, disconnected, bad response, ...).
    MethodFailed => "method.failed",
    /// A response arrived after its call had ended; it was ignored.
    MethodLateResponse => "method.late_response",
    /// A device-to-cloud message arrived.
    TelemetryReceived => "telemetry.received",
    /// A line of console output from a serial board.
    SerialLine => "serial.line",
    /// Bytes sent to a serial board.
    SerialSent => "serial.sent",
    /// A serial board appeared, disappeared or was re-attached.
    SerialPort => "serial.port",
    /// Something a simulated device did on its own.
    SimAction => "sim.action",
    /// Hub settings changed.
    SettingsChanged => "settings.changed",
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A stored trace event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceEvent {
    /// Position in the log; strictly increasing.
    pub id: i64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub ts: Timestamp,
    /// Monotonic microseconds since the hub started (orders events even if the wall clock steps).
    pub mono_us: u64,
    /// What happened.
    pub kind: EventKind,
    /// The device concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device_id: Option<String>,
    /// The C2D message id concerned (also on feedback events), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message_id: Option<String>,
    /// The lock token concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lock_token: Option<String>,
    /// The direct-method request id concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// Kind-specific detail.
    pub detail: serde_json::Value,
}

impl TraceEvent {
    /// The stored form of `ev`.
    pub(crate) fn stored(id: i64, ts: Timestamp, mono_us: u64, ev: NewEvent) -> TraceEvent {
        TraceEvent {
            id,
            ts,
            mono_us,
            kind: ev.kind,
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
    /// What happened.
    pub kind: EventKind,
    /// The device concerned.
    pub device_id: Option<String>,
    /// The message id concerned.
    pub message_id: Option<String>,
    /// The lock token concerned.
    pub lock_token: Option<String>,
    /// The request id concerned.
    pub request_id: Option<String>,
    /// Kind-specific detail.
    pub detail: serde_json::Value,
}

impl NewEvent {
    /// An event of `kind` about `device`.
    pub fn new(kind: EventKind, device: impl Into<String>) -> NewEvent {
        NewEvent {
            kind,
            device_id: Some(device.into()),
            message_id: None,
            lock_token: None,
            request_id: None,
            detail: serde_json::Value::Null,
        }
    }

    /// An event about no particular device.
    pub fn hub(kind: EventKind) -> NewEvent {
        NewEvent {
            kind,
            device_id: None,
            message_id: None,
            lock_token: None,
            request_id: None,
            detail: serde_json::Value::Null,
        }
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

    /// Sets the detail.
    pub fn detail(mut self, detail: serde_json::Value) -> NewEvent {
        self.detail = detail;
        self
    }
}

/// A body as shown in the trace: UTF-8 text when it is text, else base64,
/// cut to `limit` bytes so one huge payload does not bloat the log.
pub fn body_preview(body: &[u8], limit: usize) -> serde_json::Value {
    use base64::Engine;
    let cut = &body[..body.len().min(limit)];
    let truncated = body.len() > limit;
    match std::str::from_utf8(cut) {
        Ok(text) => serde_json::json!({"text": text, "size": body.len(), "truncated": truncated}),
        Err(e) if truncated && e.error_len().is_none() => {
            // The cut split a multi-byte character; keep the valid prefix.
            let text = std::str::from_utf8(&cut[..e.valid_up_to()]).unwrap_or_default();
            serde_json::json!({"text": text, "size": body.len(), "truncated": true})
        }
        Err(_) => serde_json::json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(cut),
            "size": body.len(),
            "truncated": truncated
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
        }
    }

    #[test]
    fn previews_show_text_or_base64() {
        assert_eq!(body_preview(b"hi", 10)["text"], "hi");
        assert_eq!(body_preview(&[0xff, 0x00], 10)["base64"], "/wA=");
        let p = body_preview("héllo".as_bytes(), 2);
        assert_eq!(p["text"], "h");
        assert_eq!(p["truncated"], true);
    }
}
