//! What each kind of trace event says: one Rust type per kind, combined in
//! [`TraceDetail`], whose tag is the kind.
//!
//! This is the contract the engine, the REST API, the UI (TypeScript types
//! generated from these by ts-rs), the CLI, desktop notifications and
//! exports share. A writer builds a variant; a reader matches on it. A
//! renamed field is a compile error on both sides of the wire.
//!
//! Storage keeps its shape: the `kind` column is the tag and `detail` the
//! variant's JSON. A stored row that no variant reads (written by an older
//! or newer Hublet, or by hand) comes back as [`TraceDetail::Unknown`] with
//! its kind and raw JSON, shown as it is, never dropped.
//!
//! To add a kind: add a line to the `trace_kinds!` list below with its
//! detail type, emit it where it happens, and describe it in the UI's
//! `ui/src/lib/logic/traceView.ts` (the compiler lists every place that
//! must handle it). The contract test (`crates/hublet-core/tests/core/contract.rs`)
//! must produce it once.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::Timestamp;
use crate::feedback::FeedbackStatus;
use crate::mailbox::{AckMode, MessageState};
use crate::registry::{DeviceKind, DeviceStatus};

/// A body or payload as the trace keeps it: UTF-8 text when it is text,
/// else base64, cut to a limit so one huge payload does not bloat the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BodyPreview {
    /// The (possibly cut) body as text, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// The (possibly cut) body as base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base64: Option<String>,
    /// Size of the whole body in bytes.
    pub size: usize,
    /// The preview is cut (the body is larger than the trace keeps).
    pub truncated: bool,
}

impl BodyPreview {
    /// The preview of `body`, cut to `limit` bytes.
    pub fn of(body: &[u8], limit: usize) -> BodyPreview {
        use base64::Engine;
        let cut = &body[..body.len().min(limit)];
        let truncated = body.len() > limit;
        let text = match std::str::from_utf8(cut) {
            Ok(text) => Some(text.to_string()),
            // The cut split a multi-byte character; keep the valid prefix.
            Err(e) if truncated && e.error_len().is_none() => {
                std::str::from_utf8(&cut[..e.valid_up_to()])
                    .ok()
                    .map(str::to_string)
            }
            Err(_) => None,
        };
        let base64 = match text {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(cut)),
        };
        BodyPreview {
            text,
            base64,
            size: body.len(),
            truncated,
        }
    }
}

// ---------------------------------------------------------------------------
// Devices and connections

/// `device.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceCreated {
    /// Standard, simulated or serial board.
    pub kind: DeviceKind,
    /// Enabled or disabled.
    pub status: DeviceStatus,
    /// The new identity's generation id.
    pub generation_id: String,
}

/// `device.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceDeleted {
    /// C2D messages dropped with the queue.
    pub dropped_messages: u32,
    /// Feedback records not yet batched that were dropped (as IoT Hub does).
    pub dropped_feedback_records: u32,
    /// The deleted identity's generation id.
    pub generation_id: String,
}

/// `device.enabled`, `device.disabled`, `device.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceChanged {
    /// The status after the change.
    pub status: DeviceStatus,
    /// Why the status was set.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// A key was replaced.
    #[serde(default)]
    pub keys_changed: bool,
    /// The device's new etag.
    pub etag: String,
}

/// `device.attached`: a transport attached the device (it is connected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceAttached {
    /// The transport (`mqtt`, `mqtts`, `serial`, `sim`, ...).
    pub via: String,
    /// Where the device is: peer address or port path.
    #[serde(default)]
    pub remote: Option<String>,
    /// The attachment's number (unique while the hub runs).
    pub attachment: u64,
    /// A connection with the same id was closed by this one (IoT Hub 400027).
    #[serde(default)]
    pub replaced_earlier_connection: bool,
    /// Why the transport vouched for the device instead of a SAS token.
    #[serde(default)]
    pub trusted: Option<String>,
    /// When the SAS token it connected with expires.
    #[serde(default)]
    pub token_expiry: Option<Timestamp>,
}

/// Why an attachment ended, as the trace names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum DetachReasonName {
    /// The device said goodbye.
    Closed,
    /// The connection broke.
    ConnectionLost,
    /// A new connection with the same id replaced it.
    Replaced,
    /// The device was disabled.
    Disabled,
    /// The device was deleted.
    Deleted,
    /// Its SAS token expired.
    TokenExpired,
    /// Nothing arrived within 1.5 × its keep-alive.
    KeepAliveTimeout,
    /// It broke a protocol rule.
    ProtocolViolation,
    /// The hub shut down.
    Shutdown,
    /// Its transport went away without saying why.
    Dropped,
}

/// `device.detached`: the device's attachment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceDetached {
    /// Why, as a stable name.
    pub reason: DetachReasonName,
    /// Why, in words.
    pub description: String,
    /// The transport that held it.
    pub via: String,
    /// Where the device was.
    #[serde(default)]
    pub remote: Option<String>,
    /// How long it was attached, milliseconds.
    pub connected_ms: i64,
    /// Messages it held locked, now back in its queue.
    pub locks_released: u32,
}

/// `twin.updated`: a service wrote tags or desired properties, or a device
/// reported properties. The parts written are as sent (a `null` removes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TwinUpdated {
    /// Who wrote.
    pub by: crate::twin::TwinAuthor,
    /// Merged or replaced.
    pub op: crate::twin::TwinOp,
    /// Tags written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tags: Option<serde_json::Value>,
    /// Desired properties written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub desired: Option<serde_json::Value>,
    /// Reported properties written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reported: Option<serde_json::Value>,
    /// Desired `$version` after the write.
    pub desired_version: u64,
    /// Reported `$version` after the write.
    pub reported_version: u64,
    /// The twin's `version` after the write.
    pub version: u64,
    /// The device's transport, for a reported patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub via: Option<String>,
}

/// `module.created`, `module.updated`, `module.deleted`: a module identity
/// of the event's device changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ModuleChanged {
    /// The module.
    pub module_id: String,
    /// Who manages it, if set.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Its generation id.
    pub generation_id: String,
    /// Its etag after the change.
    pub etag: String,
    /// Its keys changed.
    #[serde(default)]
    pub keys_changed: bool,
}

/// `device.auth_failed`: a device's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceAuthFailed {
    /// The transport.
    pub via: String,
    /// Where the attempt came from.
    #[serde(default)]
    pub remote: Option<String>,
    /// IoT Hub's error code (401003).
    pub code: u32,
    /// Why it was refused.
    pub reason: String,
}

/// `device.protocol`: a transport-level notice or protocol violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceProtocol {
    /// The transport.
    pub via: String,
    /// Where the device is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub remote: Option<String>,
    /// What happened, in words.
    pub what: String,
    /// IoT Hub's error code, when the notice is a refused operation (e.g. 412002).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code: Option<u32>,
    /// The topic or frame concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub topic: Option<String>,
    /// The MQTT packet id concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub packet_id: Option<u16>,
    /// The payload concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub body: Option<BodyPreview>,
}

impl DeviceProtocol {
    /// A notice in words, on `via`.
    pub fn new(via: impl Into<String>, what: impl Into<String>) -> DeviceProtocol {
        DeviceProtocol {
            via: via.into(),
            remote: None,
            what: what.into(),
            code: None,
            topic: None,
            packet_id: None,
            body: None,
        }
    }
}

// ---------------------------------------------------------------------------
// C2D messages

/// `c2d.enqueued`: a message was accepted into a device's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dEnqueued {
    /// Position in the device's queue.
    pub sequence_number: i64,
    /// When it expires.
    pub expiry_time_utc: Timestamp,
    /// Which outcomes produce feedback.
    pub ack: AckMode,
    /// Correlation id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// User id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Content encoding.
    #[serde(default)]
    pub content_encoding: Option<String>,
    /// Application properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Size counted against the limit: body plus properties, bytes.
    pub size: usize,
    /// The body.
    pub body: BodyPreview,
    /// How the sender reached the hub (`api`, `iothub-https`, `amqp`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub via: Option<String>,
}

/// `c2d.delivered`: a message was locked and handed to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dDelivered {
    /// Position in the queue.
    pub sequence_number: i64,
    /// How many times it has been handed out, this one included.
    pub attempt: u32,
    /// Explicit abandons so far (IoT Hub's delivery count).
    pub delivery_count: u32,
    /// When the lock runs out.
    pub lock_expiry: Option<Timestamp>,
    /// The transport it went out on.
    pub via: String,
}

/// `c2d.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dCompleted {
    /// Position in the queue.
    pub sequence_number: i64,
    /// The delivery that was completed.
    pub attempt: u32,
}

/// `c2d.abandoned`: back to the queue with the delivery count raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dAbandoned {
    /// Position in the queue.
    pub sequence_number: i64,
    /// Explicit abandons so far, this one included.
    pub delivery_count: u32,
    /// The count at which it is dead-lettered.
    pub max_delivery_count: u32,
}

/// `c2d.rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dRejected {
    /// Position in the queue.
    pub sequence_number: i64,
}

/// `c2d.lock_expired` and `c2d.lock_released`: the lock ended without a
/// settlement; the message returns to the queue (delivery count unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dLockEnded {
    /// Position in the queue.
    pub sequence_number: i64,
    /// The delivery whose lock ended.
    pub attempt: u32,
    /// Explicit abandons so far.
    pub delivery_count: u32,
}

/// `c2d.expired`: the message's time to live ran out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dExpired {
    /// Position in the queue.
    pub sequence_number: i64,
    /// When it expired.
    pub expiry_time_utc: Timestamp,
}

/// `c2d.dead_lettered`: a terminal failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dDeadLettered {
    /// Position in the queue.
    pub sequence_number: i64,
    /// Why (the feedback status it produces).
    pub reason: FeedbackStatus,
    /// Explicit abandons.
    pub delivery_count: u32,
    /// Deliveries.
    pub attempts: u32,
}

/// `c2d.purged`: removed by a purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct C2dPurged {
    /// Position in the queue.
    pub sequence_number: i64,
    /// Its state when purged.
    pub state: MessageState,
}

// ---------------------------------------------------------------------------
// Feedback

/// `feedback.produced`: a feedback record for a message's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackProduced {
    /// The outcome.
    pub status_code: FeedbackStatus,
    /// IoT Hub's description of it.
    pub description: String,
    /// The ack mode that asked for it.
    pub ack: AckMode,
    /// The device identity's generation id.
    pub device_generation_id: String,
    /// The message's position in its queue.
    pub sequence_number: i64,
}

/// `feedback.batched`: pending records sealed into one feedback message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackBatched {
    /// The feedback message.
    pub batch_id: i64,
    /// Records in it.
    pub records: usize,
    /// The messages they are about.
    pub original_message_ids: Vec<String>,
    /// When the feedback message expires unread.
    pub expiry_time_utc: Timestamp,
}

/// `feedback.received`: a feedback message was locked by a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackReceived {
    /// The feedback message.
    pub batch_id: i64,
    /// Records in it.
    pub records: usize,
    /// Abandons so far.
    pub delivery_count: u32,
    /// How the receiver reached the hub (`iothub-https`, `amqp`, `api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub via: Option<String>,
}

/// `feedback.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackCompleted {
    /// The feedback message.
    pub batch_id: i64,
}

/// `feedback.abandoned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackAbandoned {
    /// The feedback message.
    pub batch_id: i64,
    /// Abandons so far, this one included.
    pub delivery_count: u32,
}

/// Why a feedback message was dropped unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum FeedbackDropReason {
    /// Its time to live ran out.
    Expired,
    /// It was abandoned the maximum number of times.
    DeliveryCountExceeded,
    /// Its receiver rejected it (dead-lettered, over AMQP).
    Rejected,
}

/// `feedback.dropped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackDropped {
    /// The feedback message.
    pub batch_id: i64,
    /// Records lost with it.
    pub records: usize,
    /// Why.
    pub reason: FeedbackDropReason,
}

// ---------------------------------------------------------------------------
// Direct methods

/// `method.invoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodInvoked {
    /// The method.
    pub method_name: String,
    /// The request payload.
    pub payload: BodyPreview,
    /// Seconds allowed for the device to come online.
    pub connect_timeout_in_seconds: u64,
    /// Seconds allowed for the answer.
    pub response_timeout_in_seconds: u64,
}

/// `method.delivered`: the request went to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodDelivered {
    /// The method.
    pub method_name: String,
}

/// `method.responded`: the device answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodResponded {
    /// The method.
    pub method_name: String,
    /// The status the device returned.
    pub status: i32,
    /// The device's payload.
    pub payload: BodyPreview,
    /// Request sent to answer received, milliseconds.
    pub latency_ms: f64,
}

/// `method.timed_out`: no answer within the response timeout (504101).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodTimedOut {
    /// The method.
    pub method_name: String,
    /// IoT Hub's code (504101).
    pub code: u32,
    /// The timeout that ran out.
    pub response_timeout_in_seconds: u64,
}

/// `method.failed`: not online, disconnected, bad answer, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodFailed {
    /// The method.
    pub method_name: String,
    /// IoT Hub's code.
    pub code: u32,
    /// What went wrong.
    pub error: String,
}

/// `method.late_response`: an answer arrived after its call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodLateResponse {
    /// The status the device returned.
    pub status: i32,
    /// The device's payload.
    pub payload: BodyPreview,
    /// Why it was ignored.
    pub note: String,
}

// ---------------------------------------------------------------------------
// Telemetry

/// `telemetry.received`: a device-to-cloud message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TelemetryReceived {
    /// The transport.
    pub via: String,
    /// `$.mid`.
    #[serde(default)]
    pub message_id: Option<String>,
    /// `$.cid`.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `$.ct`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `$.ce`.
    #[serde(default)]
    pub content_encoding: Option<String>,
    /// Application properties (a bare key has no value).
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    /// Body size in bytes.
    pub size: usize,
    /// The body.
    pub body: BodyPreview,
}

// ---------------------------------------------------------------------------
// Serial boards

/// `serial.line`: a line of console output from a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SerialLine {
    /// The line as text; bytes that are not UTF-8 appear as `\xNN`.
    #[serde(default)]
    pub text: Option<String>,
    /// Every byte in hex, when the line is not valid UTF-8 (the raw bytes).
    #[serde(default)]
    pub hex: Option<String>,
    /// The line is a protocol frame.
    #[serde(default)]
    pub frame: bool,
    /// The line was cut (too long, or no line ending before the port went quiet).
    #[serde(default)]
    pub partial: bool,
    /// It looks like a frame but is not one.
    #[serde(default)]
    pub warning: Option<String>,
    /// When its first byte arrived.
    pub received_at: Timestamp,
}

/// `serial.sent`: bytes sent to a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SerialSent {
    /// The bytes as text; bytes that are not UTF-8 appear as `\xNN`.
    #[serde(default)]
    pub text: Option<String>,
    /// Every byte in hex, when they are not valid UTF-8.
    #[serde(default)]
    pub hex: Option<String>,
    /// A protocol frame written by the bridge (not typed by a user).
    #[serde(default)]
    pub frame: bool,
    /// When they were written.
    pub sent_at: Timestamp,
}

/// What happened to a board's port. (Hublet 0.1 wrote `attached` for
/// `opened` and `detached` for `released`; both are still read.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SerialPortChange {
    /// The port was opened for the first time since the board was bound.
    #[serde(alias = "attached")]
    Opened,
    /// The port came back after it vanished.
    Reappeared,
    /// The port vanished (board unplugged).
    Disappeared,
    /// The port was released on request (e.g. for a flashing tool).
    #[serde(alias = "detached")]
    Released,
    /// The hub ended the device's attachment (deleted, disabled, ...) and
    /// the port was let go.
    Dropped,
    /// The port could not be opened.
    OpenFailed,
    /// The board was reset through DTR/RTS.
    Reset,
    /// The board said HELLO: it speaks the line protocol.
    Hello,
}

/// `serial.port`: a board's port appeared, disappeared, was bound or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SerialPortEvent {
    /// What happened.
    pub event: SerialPortChange,
    /// How the board is recognised (USB identity or path).
    pub identity: String,
    /// The port's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub path: Option<String>,
    /// The OS's error, for `openFailed` and `disappeared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    /// Why the hub released it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
    /// The reset pulse's length, for `reset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pulse_ms: Option<u64>,
    /// The firmware the board named in its HELLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub firmware: Option<String>,
}

// ---------------------------------------------------------------------------
// Service clients (back ends over AMQP)

/// `service.connected`: a back end opened a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceConnected {
    /// The transport (`amqps`, `amqp-https` for AMQP on the HTTPS port).
    pub via: String,
    /// Where it came from.
    pub remote: String,
    /// The SASL mechanism (`MSSBCBS`, `PLAIN`, `ANONYMOUS`), or none.
    #[serde(default)]
    pub mechanism: Option<String>,
    /// The client's AMQP container id.
    #[serde(default)]
    pub container_id: Option<String>,
}

/// `service.authorized`: a back end proved a shared access policy (a CBS
/// put-token or SASL PLAIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceAuthorized {
    /// The transport.
    pub via: String,
    /// Where it came from.
    pub remote: String,
    /// The policy (`iothubowner`, `service`, ...).
    pub policy: String,
    /// When the token expires.
    pub expiry: Timestamp,
}

/// `service.auth_failed`: a back end's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceAuthFailed {
    /// The transport.
    pub via: String,
    /// Where it came from.
    pub remote: String,
    /// IoT Hub's error code (401003).
    pub code: u32,
    /// Why.
    pub reason: String,
}

/// Which way a link carries messages, from the hub's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum LinkDirection {
    /// The back end sends to the hub (C2D messages, CBS requests).
    ToHub,
    /// The hub sends to the back end (feedback, CBS replies).
    FromHub,
}

/// `service.link_attached` and `service.link_detached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceLink {
    /// The transport.
    pub via: String,
    /// Where it came from.
    pub remote: String,
    /// The node, as the client named it (`/messages/devicebound`, `$cbs`, ...).
    pub address: String,
    /// Which way it carries messages.
    pub direction: LinkDirection,
    /// Why it ended or was refused (an AMQP error condition and text).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `service.disconnected`: a back end's connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceDisconnected {
    /// The transport.
    pub via: String,
    /// Where it came from.
    pub remote: String,
    /// Why, when it was not a clean close.
    #[serde(default)]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------
// Simulator and settings

/// What a simulated device did on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", content = "detail", rename_all = "camelCase")]
#[ts(export)]
pub enum SimActionKind {
    /// It went offline as its profile plans.
    #[serde(rename_all = "camelCase")]
    Offline {
        /// For how long.
        for_secs: f64,
    },
    /// Its connection ended unplanned; it reconnects after a back-off.
    #[serde(rename_all = "camelCase")]
    Reconnect {
        /// What ended it.
        after: String,
        /// Seconds before the next attempt.
        backoff_secs: f64,
    },
    /// It dropped its link on purpose (flaky-link profile).
    LinkDropped {
        /// The chance per second.
        probability: f64,
    },
    /// It kept a C2D message without acknowledging it.
    #[serde(rename_all = "camelCase")]
    WithholdAck {
        /// The message.
        message_id: String,
        /// The delivery was a redelivery (DUP).
        redelivery: bool,
    },
    /// It rejected a C2D message (HTTP device).
    #[serde(rename_all = "camelCase")]
    Reject {
        /// The message.
        message_id: String,
    },
    /// It abandoned a C2D message (HTTP device).
    #[serde(rename_all = "camelCase")]
    Abandon {
        /// The message.
        message_id: String,
    },
    /// Settling a C2D message over HTTP failed.
    #[serde(rename_all = "camelCase")]
    SettleFailed {
        /// The message.
        message_id: String,
        /// What it tried.
        action: String,
    },
    /// It ignored a method request, as its profile says.
    #[serde(rename_all = "camelCase")]
    IgnoreMethod {
        /// The method.
        method: String,
        /// The request id.
        request_id: String,
    },
    /// A fault was injected into it (a scenario's `fault` step, or
    /// `POST /api/sim/devices/{id}/fault`): `disconnect`, `drop_link`,
    /// `unresponsive` or `resume`.
    #[serde(rename_all = "camelCase")]
    Fault {
        /// The fault.
        fault: String,
        /// How long it lasts (none: until `resume`).
        for_secs: Option<f64>,
    },
    /// It answered a method with its failure status.
    #[serde(rename_all = "camelCase")]
    FailMethod {
        /// The method.
        method: String,
        /// The request id.
        request_id: String,
        /// It fails after this many calls.
        after_calls: Option<u64>,
    },
}

/// `sim.action`: something a simulated device did on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SimAction {
    /// The device's profile.
    pub profile: String,
    /// What it did.
    #[serde(flatten)]
    #[ts(flatten)]
    pub action: SimActionKind,
}

/// One changed setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SettingChange {
    /// The value before.
    pub from: serde_json::Value,
    /// The value after.
    pub to: serde_json::Value,
}

/// `settings.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SettingsChanged {
    /// Each changed setting by its name.
    pub changes: BTreeMap<String, SettingChange>,
}

/// A stored event no variant reads: its kind and detail as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UnknownDetail {
    /// The kind as stored.
    pub kind: String,
    /// The detail as stored.
    pub raw: serde_json::Value,
}

// ---------------------------------------------------------------------------
// The list of kinds: one line each.

macro_rules! trace_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal => $ty:ty, )*) => {
        /// Every kind of trace event. The string form (`c2d.enqueued`) is
        /// stable: it is stored, exported and used in filters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
        #[ts(export)]
        pub enum EventKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
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

        /// What an event says, by kind. Serialised as `{"kind": …, "detail": …}`;
        /// in TypeScript a union discriminated by `kind`.
        #[derive(Debug, Clone, PartialEq, Serialize, TS)]
        #[serde(tag = "kind", content = "detail")]
        #[ts(export)]
        pub enum TraceDetail {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($ty), )*
            /// A stored event no variant reads (an older or newer Hublet wrote
            /// it): shown raw, never dropped.
            #[serde(rename = "unknown")]
            Unknown(UnknownDetail),
        }

        impl TraceDetail {
            /// The kind, or `None` for [`TraceDetail::Unknown`].
            pub fn kind(&self) -> Option<EventKind> {
                match self {
                    $(TraceDetail::$variant(_) => Some(EventKind::$variant),)*
                    TraceDetail::Unknown(_) => None,
                }
            }

            /// The kind as stored (an unknown event's own kind).
            pub fn kind_str(&self) -> &str {
                match self {
                    $(TraceDetail::$variant(_) => $name,)*
                    TraceDetail::Unknown(u) => &u.kind,
                }
            }

            /// The detail alone, as stored in the `detail` column.
            pub fn detail_json(&self) -> serde_json::Result<String> {
                match self {
                    $(TraceDetail::$variant(d) => serde_json::to_string(d),)*
                    TraceDetail::Unknown(u) => serde_json::to_string(&u.raw),
                }
            }

            /// The detail alone as a JSON value.
            pub fn detail_value(&self) -> serde_json::Value {
                let v = match self {
                    $(TraceDetail::$variant(d) => serde_json::to_value(d),)*
                    TraceDetail::Unknown(u) => Ok(u.raw.clone()),
                };
                v.unwrap_or(serde_json::Value::Null)
            }

            /// Reads a stored row: its kind and detail text. Anything no
            /// variant reads becomes [`TraceDetail::Unknown`].
            pub fn from_stored(kind: &str, detail: &str) -> TraceDetail {
                let typed = match kind {
                    $($name => serde_json::from_str::<$ty>(detail).ok().map(TraceDetail::$variant),)*
                    _ => None,
                };
                typed.unwrap_or_else(|| TraceDetail::Unknown(UnknownDetail {
                    kind: kind.to_string(),
                    raw: serde_json::from_str(detail)
                        .unwrap_or_else(|_| serde_json::Value::String(detail.to_string())),
                }))
            }

            /// Reads a kind and detail from JSON (an export, the API).
            pub fn from_value(kind: &str, detail: serde_json::Value) -> TraceDetail {
                if kind == "unknown"
                    && let Ok(u) = serde_json::from_value::<UnknownDetail>(detail.clone())
                {
                    return TraceDetail::Unknown(u);
                }
                let typed = match kind {
                    $($name => serde_json::from_value::<$ty>(detail.clone()).ok().map(TraceDetail::$variant),)*
                    _ => None,
                };
                typed.unwrap_or_else(|| TraceDetail::Unknown(UnknownDetail {
                    kind: kind.to_string(),
                    raw: detail,
                }))
            }
        }
    };
}

trace_kinds! {
    /// A device was registered.
    DeviceCreated = "device.created" => DeviceCreated,
    /// A device was deleted (with its queue and pending feedback).
    DeviceDeleted = "device.deleted" => DeviceDeleted,
    /// A device was enabled.
    DeviceEnabled = "device.enabled" => DeviceChanged,
    /// A device was disabled (and disconnected).
    DeviceDisabled = "device.disabled" => DeviceChanged,
    /// A device's keys or other fields changed.
    DeviceUpdated = "device.updated" => DeviceChanged,
    /// A transport attached the device (it is connected).
    DeviceAttached = "device.attached" => DeviceAttached,
    /// The device's attachment ended.
    DeviceDetached = "device.detached" => DeviceDetached,
    /// A device's credentials were refused.
    DeviceAuthFailed = "device.auth_failed" => DeviceAuthFailed,
    /// A transport-level protocol violation or notice.
    DeviceProtocol = "device.protocol" => DeviceProtocol,
    /// A C2D message was accepted into a device's queue.
    C2dEnqueued = "c2d.enqueued" => C2dEnqueued,
    /// A C2D message was locked and handed to the device.
    C2dDelivered = "c2d.delivered" => C2dDelivered,
    /// The device completed the message.
    C2dCompleted = "c2d.completed" => C2dCompleted,
    /// The device abandoned the message; it returns to the queue.
    C2dAbandoned = "c2d.abandoned" => C2dAbandoned,
    /// The device rejected the message.
    C2dRejected = "c2d.rejected" => C2dRejected,
    /// The lock timed out; the message returns to the queue.
    C2dLockExpired = "c2d.lock_expired" => C2dLockEnded,
    /// The device detached holding the lock; the message returns to the queue.
    C2dLockReleased = "c2d.lock_released" => C2dLockEnded,
    /// The message's time to live ran out.
    C2dExpired = "c2d.expired" => C2dExpired,
    /// The message reached a terminal failure.
    C2dDeadLettered = "c2d.dead_lettered" => C2dDeadLettered,
    /// The message was removed by a purge.
    C2dPurged = "c2d.purged" => C2dPurged,
    /// A feedback record was produced for a message's outcome.
    FeedbackProduced = "feedback.produced" => FeedbackProduced,
    /// Pending feedback records were sealed into one feedback message.
    FeedbackBatched = "feedback.batched" => FeedbackBatched,
    /// A feedback message was locked by a receiver.
    FeedbackReceived = "feedback.received" => FeedbackReceived,
    /// A feedback message was completed by its receiver.
    FeedbackCompleted = "feedback.completed" => FeedbackCompleted,
    /// A feedback message was abandoned by its receiver.
    FeedbackAbandoned = "feedback.abandoned" => FeedbackAbandoned,
    /// A feedback message expired or ran out of deliveries unread.
    FeedbackDropped = "feedback.dropped" => FeedbackDropped,
    /// A direct method call was requested.
    MethodInvoked = "method.invoked" => MethodInvoked,
    /// The request was sent to the device.
    MethodDelivered = "method.delivered" => MethodDelivered,
    /// The device answered.
    MethodResponded = "method.responded" => MethodResponded,
    /// The device did not answer in time (504101).
    MethodTimedOut = "method.timed_out" => MethodTimedOut,
    /// The call failed (not online, disconnected, bad response, ...).
    MethodFailed = "method.failed" => MethodFailed,
    /// A response arrived after its call had ended; it was ignored.
    MethodLateResponse = "method.late_response" => MethodLateResponse,
    /// A device-to-cloud message arrived.
    TelemetryReceived = "telemetry.received" => TelemetryReceived,
    /// A line of console output from a serial board.
    SerialLine = "serial.line" => SerialLine,
    /// Bytes sent to a serial board.
    SerialSent = "serial.sent" => SerialSent,
    /// A serial board's port appeared, disappeared, was bound or released.
    SerialPort = "serial.port" => SerialPortEvent,
    /// Something a simulated device did on its own.
    SimAction = "sim.action" => SimAction,
    /// A back end connected over AMQP.
    ServiceConnected = "service.connected" => ServiceConnected,
    /// A back end proved a shared access policy.
    ServiceAuthorized = "service.authorized" => ServiceAuthorized,
    /// A back end's credentials were refused.
    ServiceAuthFailed = "service.auth_failed" => ServiceAuthFailed,
    /// A back end attached a link (C2D sender, feedback receiver, CBS).
    ServiceLinkAttached = "service.link_attached" => ServiceLink,
    /// A back end's link ended, or was refused.
    ServiceLinkDetached = "service.link_detached" => ServiceLink,
    /// A back end's connection ended.
    ServiceDisconnected = "service.disconnected" => ServiceDisconnected,
    /// A device twin changed (tags, desired or reported properties).
    TwinUpdated = "twin.updated" => TwinUpdated,
    /// A module identity was created on the device.
    ModuleCreated = "module.created" => ModuleChanged,
    /// A module's keys or `managedBy` changed.
    ModuleUpdated = "module.updated" => ModuleChanged,
    /// A module identity was deleted, with its twin.
    ModuleDeleted = "module.deleted" => ModuleChanged,
    /// Hub settings changed.
    SettingsChanged = "settings.changed" => SettingsChanged,
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TraceDetail {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            kind: String,
            #[serde(default)]
            detail: serde_json::Value,
        }
        let r = Raw::deserialize(d)?;
        Ok(TraceDetail::from_value(&r.kind, r.detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn previews_show_text_or_base64() {
        assert_eq!(BodyPreview::of(b"hi", 10).text.as_deref(), Some("hi"));
        assert_eq!(
            BodyPreview::of(&[0xff, 0x00], 10).base64.as_deref(),
            Some("/wA=")
        );
        let p = BodyPreview::of("héllo".as_bytes(), 2);
        assert_eq!(p.text.as_deref(), Some("h"));
        assert!(p.truncated);
    }

    #[test]
    fn a_row_in_an_old_shape_or_of_an_unknown_kind_comes_back_raw() {
        let old = TraceDetail::from_stored("c2d.completed", r#"{"seq": 3}"#);
        assert_eq!(
            old,
            TraceDetail::Unknown(UnknownDetail {
                kind: "c2d.completed".into(),
                raw: serde_json::json!({"seq": 3}),
            })
        );
        assert_eq!(old.kind_str(), "c2d.completed");
        let future = TraceDetail::from_stored("twin.teleported", "not json");
        assert_eq!(future.kind(), None);
        assert_eq!(future.kind_str(), "twin.teleported");
        // Shown as it is: the raw text survives.
        assert_eq!(
            future.detail_value(),
            serde_json::Value::String("not json".into())
        );
    }

    #[test]
    fn an_unknown_event_round_trips_through_its_wire_form() {
        let u = TraceDetail::from_stored("x.y", r#"{"a":1}"#);
        let wire = serde_json::to_value(&u).unwrap();
        assert_eq!(wire["kind"], "unknown");
        assert_eq!(wire["detail"]["kind"], "x.y");
        let back: TraceDetail = serde_json::from_value(wire).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn a_typed_detail_round_trips_through_storage() {
        let d = TraceDetail::C2dCompleted(C2dCompleted {
            sequence_number: 4,
            attempt: 2,
        });
        let stored = d.detail_json().unwrap();
        assert_eq!(stored, r#"{"sequenceNumber":4,"attempt":2}"#);
        assert_eq!(TraceDetail::from_stored("c2d.completed", &stored), d);
    }
}
