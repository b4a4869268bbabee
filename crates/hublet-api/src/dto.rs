//! The API's wire types: camelCase JSON, converted from the core's domain
//! types, and exported to TypeScript (ts-rs) for the UI. The CLI's client
//! uses the same types, so client and server agree at compile time.
//!
//! Times are RFC 3339 strings in UTC (`2030-01-01T00:00:00.000Z`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hublet_core::registry::ConnectionState;
use hublet_core::{C2dMessage, Device, FeedbackRecord, HubSettings, MethodResponse, TraceEvent};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A device's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SymmetricKeyDto {
    /// Primary key (base64).
    pub primary_key: String,
    /// Secondary key (base64).
    pub secondary_key: String,
}

/// How a device authenticates (IoT Hub's shape; Hublet uses SAS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AuthenticationDto {
    /// Always `sas`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The keys.
    pub symmetric_key: SymmetricKeyDto,
}

/// A device, in IoT Hub's registry shape plus Hublet's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceDto {
    /// Id.
    pub device_id: String,
    /// Changes when the id is deleted and re-created.
    pub generation_id: String,
    /// Send it back in `If-Match` to update safely.
    pub etag: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Why the status was set.
    pub status_reason: Option<String>,
    /// When the status changed.
    pub status_updated_time: String,
    /// `Connected` or `Disconnected`.
    pub connection_state: String,
    /// When the connection state changed.
    pub connection_state_updated_time: String,
    /// Last time the device did anything.
    pub last_activity_time: Option<String>,
    /// Messages in its C2D queue.
    pub cloud_to_device_message_count: u32,
    /// Keys.
    pub authentication: AuthenticationDto,
    /// `standard`, `simulated` or `serialBoard`.
    pub kind: String,
    /// The transport holding it (`mqtt`, `mqtts`, `serial`, ...), when connected.
    pub transport: Option<String>,
    /// When it was registered.
    pub created_time: String,
}

impl From<Device> for DeviceDto {
    fn from(d: Device) -> Self {
        DeviceDto {
            device_id: d.device_id,
            generation_id: d.generation_id,
            etag: d.etag,
            status: d.status.as_str().into(),
            status_reason: d.status_reason,
            status_updated_time: d.status_updated_time.to_rfc3339(),
            connection_state: match d.connection_state {
                ConnectionState::Connected => "Connected".into(),
                ConnectionState::Disconnected => "Disconnected".into(),
            },
            connection_state_updated_time: d.connection_state_updated_time.to_rfc3339(),
            last_activity_time: d.last_activity_time.map(|t| t.to_rfc3339()),
            cloud_to_device_message_count: d.cloud_to_device_message_count,
            authentication: AuthenticationDto {
                kind: "sas".into(),
                symmetric_key: SymmetricKeyDto {
                    primary_key: d.primary_key,
                    secondary_key: d.secondary_key,
                },
            },
            kind: d.kind.as_str().into(),
            transport: d.transport,
            created_time: d.created_time.to_rfc3339(),
        }
    }
}

/// Registers a device (`POST /api/devices`, or IoT Hub's `PUT /devices/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct NewDeviceRequest {
    /// Id (IoT Hub's rules).
    pub device_id: String,
    /// `enabled` (default) or `disabled`.
    pub status: Option<String>,
    /// Why, if disabled.
    pub status_reason: Option<String>,
    /// Keys to use instead of generated ones.
    pub authentication: Option<AuthenticationInput>,
    /// `standard` (default), `simulated` or `serialBoard`.
    pub kind: Option<String>,
}

/// Keys given by the caller; either may be omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct AuthenticationInput {
    /// Ignored unless `sas`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The keys.
    pub symmetric_key: Option<KeyInput>,
}

/// Optional keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct KeyInput {
    /// Primary key (base64), or null to generate.
    pub primary_key: Option<String>,
    /// Secondary key (base64), or null to generate.
    pub secondary_key: Option<String>,
}

/// Changes a device (`PATCH /api/devices/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct DeviceUpdateRequest {
    /// `enabled` or `disabled`.
    pub status: Option<String>,
    /// Why.
    pub status_reason: Option<String>,
}

/// A connection string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionStringDto {
    /// The string.
    pub connection_string: String,
}

/// A C2D message to send (`POST /api/devices/{id}/messages`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct SendMessageRequest {
    /// The body, as text or encoded per `bodyEncoding`.
    pub body: String,
    /// `text` (default, UTF-8), `base64` or `hex`.
    pub body_encoding: Option<String>,
    /// Message id (generated when absent).
    pub message_id: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// Content encoding.
    pub content_encoding: Option<String>,
    /// Time to live in seconds (default: the hub's).
    #[ts(type = "number | null")]
    pub ttl_seconds: Option<u64>,
    /// Absolute expiry (RFC 3339); excludes `ttlSeconds`.
    pub expiry_time_utc: Option<String>,
    /// `none` (default), `positive`, `negative` or `full`.
    pub ack: Option<String>,
    /// Application properties.
    pub properties: BTreeMap<String, String>,
}

/// A message in a device's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MessageDto {
    /// Target device.
    pub device_id: String,
    /// Delivery order.
    #[ts(type = "number")]
    pub sequence_number: i64,
    /// Message id.
    pub message_id: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// `/devices/{id}/messages/devicebound`.
    pub to: String,
    /// Expiry.
    pub expiry_time_utc: String,
    /// When accepted.
    pub enqueued_time_utc: String,
    /// Ack mode.
    pub ack: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Content encoding.
    pub content_encoding: Option<String>,
    /// Application properties.
    pub properties: BTreeMap<String, String>,
    /// The body as text when it is UTF-8.
    pub body_text: Option<String>,
    /// The body, base64.
    pub body_base64: String,
    /// `Enqueued` or `Invisible`.
    pub state: String,
    /// Current lock token, while Invisible.
    pub lock_token: Option<String>,
    /// When the lock ends, while Invisible.
    pub lock_expiry_time_utc: Option<String>,
    /// Explicit abandons so far (IoT Hub's delivery count).
    pub delivery_count: u32,
    /// Times handed to a device.
    pub attempts: u32,
}

impl From<C2dMessage> for MessageDto {
    fn from(m: C2dMessage) -> Self {
        MessageDto {
            device_id: m.device_id,
            sequence_number: m.sequence_number,
            message_id: m.message_id,
            correlation_id: m.correlation_id,
            user_id: m.user_id,
            to: m.to,
            expiry_time_utc: m.expiry_time_utc.to_rfc3339(),
            enqueued_time_utc: m.enqueued_time.to_rfc3339(),
            ack: m.ack.as_str().into(),
            content_type: m.content_type,
            content_encoding: m.content_encoding,
            properties: m.properties,
            body_text: String::from_utf8(m.body.clone()).ok(),
            body_base64: B64.encode(&m.body),
            state: format!("{:?}", m.state),
            lock_token: m.lock_token,
            lock_expiry_time_utc: m.lock_expiry.map(|t| t.to_rfc3339()),
            delivery_count: m.delivery_count,
            attempts: m.attempts,
        }
    }
}

/// How many messages a purge removed (IoT Hub's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PurgeResultDto {
    /// Removed messages.
    pub total_messages_purged: u32,
    /// The device.
    pub device_id: String,
    /// Always null (modules are not supported).
    pub module_id: Option<String>,
}

/// A direct-method call (IoT Hub's body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct InvokeRequest {
    /// Method name.
    pub method_name: String,
    /// JSON payload.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// 0 to 300 (default 0).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub connect_timeout_in_seconds: Option<u64>,
    /// 5 to 300 (default 30).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub response_timeout_in_seconds: Option<u64>,
}

/// A method result: IoT Hub's `{status, payload}` plus Hublet's extras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MethodResultDto {
    /// The device's status.
    pub status: i32,
    /// The device's JSON.
    pub payload: serde_json::Value,
    /// The request id used (find the call's story in the trace with it).
    pub request_id: String,
    /// Round trip to the device, milliseconds.
    pub latency_ms: f64,
}

impl From<MethodResponse> for MethodResultDto {
    fn from(r: MethodResponse) -> Self {
        MethodResultDto {
            status: r.status,
            payload: r.payload,
            request_id: r.request_id,
            latency_ms: r.latency_ms,
        }
    }
}

/// A feedback record (IoT Hub's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FeedbackRecordDto {
    /// The C2D message's id.
    pub original_message_id: String,
    /// Target device.
    pub device_id: String,
    /// Its generation id.
    pub device_generation_id: String,
    /// `Success`, `Expired`, `DeliveryCountExceeded`, `Rejected` or `Purged`.
    pub status_code: String,
    /// Text.
    pub description: String,
    /// When the outcome happened.
    pub enqueued_time_utc: String,
    /// The trace event that recorded it (Hublet only; absent in IoT Hub's batches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "number | null")]
    pub trace_id: Option<i64>,
}

impl From<FeedbackRecord> for FeedbackRecordDto {
    fn from(r: FeedbackRecord) -> Self {
        FeedbackRecordDto {
            original_message_id: r.original_message_id,
            device_id: r.device_id,
            device_generation_id: r.device_generation_id,
            status_code: r.status_code.as_str().into(),
            description: r.description,
            enqueued_time_utc: r.enqueued_time_utc.to_rfc3339(),
            trace_id: None,
        }
    }
}

impl FeedbackRecordDto {
    /// The record a `feedback.produced` trace event describes.
    pub fn from_event(e: &TraceEvent) -> Option<FeedbackRecordDto> {
        Some(FeedbackRecordDto {
            original_message_id: e.message_id.clone()?,
            device_id: e.device_id.clone()?,
            device_generation_id: e.detail["deviceGenerationId"].as_str()?.to_string(),
            status_code: e.detail["statusCode"].as_str()?.to_string(),
            description: e.detail["description"].as_str()?.to_string(),
            enqueued_time_utc: e.ts.to_rfc3339(),
            trace_id: Some(e.id),
        })
    }
}

/// A trace event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TraceEventDto {
    /// Position in the log.
    #[ts(type = "number")]
    pub id: i64,
    /// Wall-clock time.
    pub ts: String,
    /// Monotonic microseconds since the hub started.
    #[ts(type = "number")]
    pub mono_us: u64,
    /// Kind, e.g. `c2d.enqueued`.
    pub kind: String,
    /// Device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Lock token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_token: Option<String>,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Kind-specific detail.
    pub detail: serde_json::Value,
}

impl From<&TraceEvent> for TraceEventDto {
    fn from(e: &TraceEvent) -> Self {
        TraceEventDto {
            id: e.id,
            ts: e.ts.to_rfc3339(),
            mono_us: e.mono_us,
            kind: e.kind.as_str().into(),
            device_id: e.device_id.clone(),
            message_id: e.message_id.clone(),
            lock_token: e.lock_token.clone(),
            request_id: e.request_id.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// The hub's settings (see `HubSettings` in the core for each field's range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
#[allow(missing_docs)]
pub struct SettingsDto {
    pub hub_name: String,
    pub host_aliases: Vec<String>,
    pub queue_cap: u32,
    pub max_message_bytes: u32,
    #[ts(type = "number")]
    pub default_ttl_secs: u64,
    #[ts(type = "number")]
    pub max_ttl_secs: u64,
    #[ts(type = "number")]
    pub lock_timeout_secs: u64,
    pub max_delivery_count: u32,
    #[ts(type = "number")]
    pub feedback_ttl_secs: u64,
    #[ts(type = "number")]
    pub feedback_lock_secs: u64,
    pub feedback_max_delivery_count: u32,
    pub feedback_batch_size: u32,
    #[ts(type = "number")]
    pub feedback_batch_window_secs: u64,
    pub method_inflight_limit: u32,
    #[ts(type = "number")]
    pub trace_max_age_secs: u64,
    #[ts(type = "number")]
    pub trace_max_events: u64,
    pub open_bench: bool,
}

impl From<&HubSettings> for SettingsDto {
    fn from(s: &HubSettings) -> Self {
        SettingsDto {
            hub_name: s.hub_name.clone(),
            host_aliases: s.host_aliases.clone(),
            queue_cap: s.queue_cap,
            max_message_bytes: s.max_message_bytes,
            default_ttl_secs: s.default_ttl_secs,
            max_ttl_secs: s.max_ttl_secs,
            lock_timeout_secs: s.lock_timeout_secs,
            max_delivery_count: s.max_delivery_count,
            feedback_ttl_secs: s.feedback_ttl_secs,
            feedback_lock_secs: s.feedback_lock_secs,
            feedback_max_delivery_count: s.feedback_max_delivery_count,
            feedback_batch_size: s.feedback_batch_size,
            feedback_batch_window_secs: s.feedback_batch_window_secs,
            method_inflight_limit: s.method_inflight_limit,
            trace_max_age_secs: s.trace_max_age_secs,
            trace_max_events: s.trace_max_events,
            open_bench: s.open_bench,
        }
    }
}

impl From<SettingsDto> for HubSettings {
    fn from(s: SettingsDto) -> Self {
        HubSettings {
            hub_name: s.hub_name,
            host_aliases: s.host_aliases,
            queue_cap: s.queue_cap,
            max_message_bytes: s.max_message_bytes,
            default_ttl_secs: s.default_ttl_secs,
            max_ttl_secs: s.max_ttl_secs,
            lock_timeout_secs: s.lock_timeout_secs,
            max_delivery_count: s.max_delivery_count,
            feedback_ttl_secs: s.feedback_ttl_secs,
            feedback_lock_secs: s.feedback_lock_secs,
            feedback_max_delivery_count: s.feedback_max_delivery_count,
            feedback_batch_size: s.feedback_batch_size,
            feedback_batch_window_secs: s.feedback_batch_window_secs,
            method_inflight_limit: s.method_inflight_limit,
            trace_max_age_secs: s.trace_max_age_secs,
            trace_max_events: s.trace_max_events,
            open_bench: s.open_bench,
        }
    }
}

/// Where the hub listens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ListenersDto {
    /// Plain HTTP API, e.g. `127.0.0.1:8480`.
    pub api: Option<String>,
    /// HTTPS API (IoT Hub's service paths for the Azure SDKs).
    pub https: Option<String>,
    /// MQTT over TCP.
    pub mqtt: Option<String>,
    /// MQTT over TLS.
    pub mqtts: Option<String>,
}

/// Counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StatsDto {
    /// Registered devices.
    #[ts(type = "number")]
    pub devices: u64,
    /// Connected now.
    #[ts(type = "number")]
    pub connected: u64,
    /// C2D messages queued.
    #[ts(type = "number")]
    pub queued_messages: u64,
    /// Feedback records not yet batched.
    #[ts(type = "number")]
    pub pending_feedback_records: u64,
    /// Feedback messages waiting for a receiver.
    #[ts(type = "number")]
    pub feedback_messages: u64,
    /// Trace events stored.
    #[ts(type = "number")]
    pub trace_events: u64,
    /// Database size in bytes.
    #[ts(type = "number")]
    pub database_bytes: u64,
}

impl From<hublet_core::HubStats> for StatsDto {
    fn from(s: hublet_core::HubStats) -> Self {
        StatsDto {
            devices: s.devices,
            connected: s.connected,
            queued_messages: s.queued_messages,
            pending_feedback_records: s.pending_feedback_records,
            feedback_messages: s.feedback_messages,
            trace_events: s.trace_events,
            database_bytes: s.database_bytes,
        }
    }
}

/// What the hub is and where it listens (`GET /api/hub`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HubInfoDto {
    /// Hublet's version.
    pub version: String,
    /// The HostName in connection strings.
    pub hub_name: String,
    /// Listeners.
    pub listeners: ListenersDto,
    /// The database file.
    pub database: String,
    /// The CA certificate file (PEM), if TLS is on.
    pub ca_path: Option<String>,
    /// Counts.
    pub stats: StatsDto,
}

/// The body of every error from `/api/...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ApiErrorDto {
    /// IoT Hub's numeric code (e.g. 404103), when there is one.
    pub code: Option<u32>,
    /// IoT Hub's name for it (e.g. `DeviceNotOnline`).
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// One sentence on what the code means.
    pub explanation: String,
    /// For a method call that failed after it was admitted: its request
    /// id, under which the trace holds its story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub request_id: Option<String>,
}

/// `{ "error": … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ApiErrorEnvelope {
    /// The error.
    pub error: ApiErrorDto,
}

/// A simulator profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProfileDto {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Shipped with Hublet.
    pub builtin: bool,
    /// The TOML text.
    pub toml: String,
}

impl From<hublet_sim::ProfileInfo> for ProfileDto {
    fn from(p: hublet_sim::ProfileInfo) -> Self {
        ProfileDto {
            name: p.name,
            description: p.description,
            builtin: p.builtin,
            toml: p.toml,
        }
    }
}

/// Saves a profile (`PUT /api/sim/profiles/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SaveProfileRequest {
    /// The TOML text.
    pub toml: String,
}

/// Starts simulated devices (`POST /api/sim/fleets`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct FleetRequestDto {
    /// Profile name.
    pub profile: String,
    /// How many (default 1).
    pub count: Option<u32>,
    /// Ids are `{prefix}-{n}` (default: the profile name).
    pub prefix: Option<String>,
    /// Seed (default: random).
    #[ts(type = "number | null")]
    pub seed: Option<u64>,
    /// Restart them with the hub.
    pub persist: bool,
}

/// The devices a fleet request started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FleetStartedDto {
    /// Their ids.
    pub device_ids: Vec<String>,
}

/// A running simulated device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
#[allow(missing_docs)]
pub struct SimStatusDto {
    pub device_id: String,
    pub profile: String,
    #[ts(type = "number")]
    pub seed: u64,
    pub persist: bool,
    /// `waiting`, `online`, `offline`, `reconnecting` or `stopped`.
    pub state: String,
    pub since: Option<String>,
    #[ts(type = "number")]
    pub c2d_received: u64,
    #[ts(type = "number")]
    pub c2d_completed: u64,
    #[ts(type = "number")]
    pub c2d_rejected: u64,
    #[ts(type = "number")]
    pub c2d_abandoned: u64,
    #[ts(type = "number")]
    pub c2d_withheld: u64,
    #[ts(type = "number")]
    pub methods_answered: u64,
    #[ts(type = "number")]
    pub methods_ignored: u64,
    #[ts(type = "number")]
    pub telemetry_sent: u64,
    #[ts(type = "number")]
    pub drops: u64,
}

impl From<hublet_sim::SimStatus> for SimStatusDto {
    fn from(s: hublet_sim::SimStatus) -> Self {
        SimStatusDto {
            device_id: s.device_id,
            profile: s.profile,
            seed: s.seed,
            persist: s.persist,
            state: s.state,
            since: s.since.map(|t| t.to_rfc3339()),
            c2d_received: s.c2d_received,
            c2d_completed: s.c2d_completed,
            c2d_rejected: s.c2d_rejected,
            c2d_abandoned: s.c2d_abandoned,
            c2d_withheld: s.c2d_withheld,
            methods_answered: s.methods_answered,
            methods_ignored: s.methods_ignored,
            telemetry_sent: s.telemetry_sent,
            drops: s.drops,
        }
    }
}

/// Binds a device to a serial port (`POST /api/serial/boards`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct AttachBoardRequest {
    /// The port's path as listed by `/api/serial/ports` (or any path, e.g. a symlink).
    pub port: String,
    /// The device the board is; registered if missing.
    pub device_id: String,
    /// Line settings (default 115200 8N1, no flow control, LF).
    pub settings: Option<hublet_serial::SerialSettings>,
}

/// Bytes for a board (`POST /api/serial/boards/{id}/send`): exactly one of
/// `text`, `hex` or `escaped`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct SerialSendRequest {
    /// Text, sent with the board's line ending.
    pub text: Option<String>,
    /// Hex bytes (`de ad be ef`), sent as they are.
    pub hex: Option<String>,
    /// Text with C escapes (`AT\\r\\n`, `\\x1b`), sent as it expands.
    pub escaped: Option<String>,
}
