//! The API's wire types: camelCase JSON, converted from the core's domain
//! types, and exported to TypeScript (ts-rs) for the UI. The CLI's client
//! uses the same types, so client and server agree at compile time.
//!
//! Times are RFC 3339 strings in UTC (`2030-01-01T00:00:00.000Z`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hublet_core::registry::ConnectionState;
use hublet_core::{
    AckMode, C2dMessage, Device, DeviceKind, DeviceStatus, FeedbackRecord, FeedbackStatus,
    MessageState, MethodResponse, TraceDetail, TraceEvent,
};

/// A trace event: the engine's own type (`TraceEvent`), whose `kind` and
/// `detail` are one typed union; exported to TypeScript as `TraceEventDto`.
pub use hublet_core::TraceEvent as TraceEventDto;

/// The hub's settings: the engine's own type (`HubSettings`, each field
/// with its range), exported to TypeScript as `SettingsDto`.
pub use hublet_core::HubSettings as SettingsDto;
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
    /// Enabled or disabled.
    pub status: DeviceStatus,
    /// Why the status was set.
    pub status_reason: Option<String>,
    /// When the status changed.
    pub status_updated_time: String,
    /// Connected or disconnected.
    pub connection_state: ConnectionState,
    /// When the connection state changed.
    pub connection_state_updated_time: String,
    /// Last time the device did anything.
    pub last_activity_time: Option<String>,
    /// Messages in its C2D queue.
    pub cloud_to_device_message_count: u32,
    /// Keys.
    pub authentication: AuthenticationDto,
    /// Standard, simulated or serial board.
    pub kind: DeviceKind,
    /// The transport holding it (`mqtt`, `mqtts`, `serial`, ...), when connected.
    pub transport: Option<String>,
    /// When it was registered.
    pub created_time: String,
    /// The IoT Plug and Play model id it announced (`""` if none).
    pub model_id: String,
}

impl From<Device> for DeviceDto {
    fn from(d: Device) -> Self {
        DeviceDto {
            device_id: d.device_id,
            generation_id: d.generation_id,
            etag: d.etag,
            status: d.status,
            status_reason: d.status_reason,
            status_updated_time: d.status_updated_time.to_rfc3339(),
            connection_state: d.connection_state,
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
            kind: d.kind,
            transport: d.transport,
            created_time: d.created_time.to_rfc3339(),
            model_id: d.model_id,
        }
    }
}

/// A module identity, in IoT Hub's registry shape plus Hublet's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ModuleDto {
    /// The module's id.
    pub module_id: String,
    /// The device it belongs to.
    pub device_id: String,
    /// Who manages it (free text; IoT Edge writes `IotEdge`).
    pub managed_by: Option<String>,
    /// Changes when the id is deleted and re-created.
    pub generation_id: String,
    /// Send it back in `If-Match` to update safely.
    pub etag: String,
    /// Connected or disconnected.
    pub connection_state: ConnectionState,
    /// When the connection state changed.
    pub connection_state_updated_time: String,
    /// Last time it did anything.
    pub last_activity_time: Option<String>,
    /// Always 0: modules have no C2D queue.
    pub cloud_to_device_message_count: u32,
    /// Keys.
    pub authentication: AuthenticationDto,
    /// The transport holding it, when connected.
    pub transport: Option<String>,
    /// When it was created.
    pub created_time: String,
}

impl From<hublet_core::Module> for ModuleDto {
    fn from(m: hublet_core::Module) -> Self {
        ModuleDto {
            module_id: m.module_id,
            device_id: m.device_id,
            managed_by: m.managed_by,
            generation_id: m.generation_id,
            etag: m.etag,
            connection_state: m.connection_state,
            connection_state_updated_time: m.connection_state_updated_time.to_rfc3339(),
            last_activity_time: m.last_activity_time.map(|t| t.to_rfc3339()),
            cloud_to_device_message_count: 0,
            authentication: AuthenticationDto {
                kind: "sas".into(),
                symmetric_key: SymmetricKeyDto {
                    primary_key: m.primary_key,
                    secondary_key: m.secondary_key,
                },
            },
            transport: m.transport,
            created_time: m.created_time.to_rfc3339(),
        }
    }
}

/// Creates a module (`POST /api/devices/{id}/modules`, or IoT Hub's
/// `PUT /devices/{id}/modules/{mid}`, which also updates with `If-Match`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct NewModuleRequest {
    /// Id (a device id's rules); IoT Hub's path gives it too.
    pub module_id: String,
    /// The device; when given, it must be the path's.
    pub device_id: Option<String>,
    /// Who manages it.
    pub managed_by: Option<String>,
    /// Keys to use instead of generated ones.
    pub authentication: Option<AuthenticationInput>,
}

/// A device-to-cloud event as the Event Hub-compatible endpoint keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EventDto {
    /// The partition.
    pub partition: u32,
    /// Its number in the partition.
    pub sequence_number: i64,
    /// Its offset in the partition (a string, as Event Hubs gives it).
    pub offset: String,
    /// When the hub stored it.
    pub enqueued_time: String,
    /// The device.
    pub device_id: String,
    /// The module, if a module sent it.
    pub module_id: Option<String>,
    /// The transport it came over.
    pub via: String,
    /// `message-id`, `correlation-id`, `content-type`, `content-encoding`.
    pub message_id: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// Content encoding.
    pub content_encoding: Option<String>,
    /// Application properties (a bare key has no value).
    pub properties: BTreeMap<String, Option<String>>,
    /// The whole body: text when it is UTF-8, else base64.
    pub body: hublet_core::BodyPreview,
}

impl From<hublet_core::events::HubEvent> for EventDto {
    fn from(e: hublet_core::events::HubEvent) -> Self {
        EventDto {
            partition: e.partition,
            sequence_number: e.sequence_number,
            offset: e.offset.to_string(),
            enqueued_time: e.enqueued_time.to_rfc3339(),
            device_id: e.device_id,
            module_id: e.module_id,
            via: e.via,
            message_id: e.properties.message_id,
            correlation_id: e.properties.correlation_id,
            content_type: e.properties.content_type,
            content_encoding: e.properties.content_encoding,
            properties: e.properties.application,
            body: hublet_core::BodyPreview::of(&e.body, usize::MAX),
        }
    }
}

/// One partition of the Event Hub-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PartitionDto {
    /// Its id.
    pub partition_id: String,
    /// The oldest retained event's sequence number.
    pub begin_sequence_number: i64,
    /// The newest event's sequence number.
    pub last_sequence_number: i64,
    /// The newest event's offset (`-1` when empty).
    pub last_offset: String,
    /// When the newest event was stored.
    pub last_enqueued_time: Option<String>,
    /// No event retained.
    pub is_empty: bool,
}

/// The Event Hub-compatible endpoint: its name, partitions and consumer groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EventHubDto {
    /// The Event Hub's name (its `EntityPath`).
    pub name: String,
    /// Each partition.
    pub partitions: Vec<PartitionDto>,
    /// `$Default` and those created.
    pub consumer_groups: Vec<String>,
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

/// A SAS token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SasTokenDto {
    /// `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
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
    pub ack: AckMode,
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
    /// Enqueued or Invisible.
    pub state: MessageState,
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
            ack: m.ack,
            content_type: m.content_type,
            content_encoding: m.content_encoding,
            properties: m.properties,
            body_text: String::from_utf8(m.body.clone()).ok(),
            body_base64: B64.encode(&m.body),
            state: m.state,
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
    /// Always null (modules have no C2D queue to purge).
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
    pub connect_timeout_in_seconds: Option<u64>,
    /// 5 to 300 (default 30).
    #[serde(default)]
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
    /// The outcome.
    pub status_code: FeedbackStatus,
    /// Text.
    pub description: String,
    /// When the outcome happened.
    pub enqueued_time_utc: String,
    /// The trace event that recorded it (Hublet only; absent in IoT Hub's batches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<i64>,
}

impl From<FeedbackRecord> for FeedbackRecordDto {
    fn from(r: FeedbackRecord) -> Self {
        FeedbackRecordDto {
            original_message_id: r.original_message_id,
            device_id: r.device_id,
            device_generation_id: r.device_generation_id,
            status_code: r.status_code,
            description: r.description,
            enqueued_time_utc: r.enqueued_time_utc.to_rfc3339(),
            trace_id: None,
        }
    }
}

impl FeedbackRecordDto {
    /// The record a `feedback.produced` trace event describes.
    pub fn from_event(e: &TraceEvent) -> Option<FeedbackRecordDto> {
        let TraceDetail::FeedbackProduced(f) = &e.detail else {
            return None;
        };
        Some(FeedbackRecordDto {
            original_message_id: e.message_id.clone()?,
            device_id: e.device_id.clone()?,
            device_generation_id: f.device_generation_id.clone(),
            status_code: f.status_code,
            description: f.description.clone(),
            enqueued_time_utc: e.ts.to_rfc3339(),
            trace_id: Some(e.id),
        })
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
    /// IoT Hub's AMQP service endpoint (C2D send, feedback), e.g. `127.0.0.1:5671`.
    #[serde(default)]
    pub amqps: Option<String>,
    /// Whether HTTPS is on IoT Hub's port, so connection strings name no port.
    #[serde(default)]
    pub ports: PortsMode,
}

/// Which ports the hub serves HTTPS on, and so what its connection strings say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum PortsMode {
    /// IoT Hub's ports (HTTPS 443): connection strings name no port and
    /// every SDK dials its defaults.
    Standard,
    /// 443 was asked for but this user may not bind it: HTTPS is on another
    /// port, which connection strings name.
    Fallback,
    /// HTTPS on a port the user chose.
    #[default]
    Custom,
    /// No HTTPS listener.
    NoHttps,
}

/// Counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StatsDto {
    /// Registered devices.
    pub devices: u64,
    /// Connected now.
    pub connected: u64,
    /// C2D messages queued.
    pub queued_messages: u64,
    /// Feedback records not yet batched.
    pub pending_feedback_records: u64,
    /// Feedback messages waiting for a receiver.
    pub feedback_messages: u64,
    /// Trace events stored.
    pub trace_events: u64,
    /// Database size in bytes.
    pub database_bytes: u64,
    /// What is wrong with storage (a full disk), if anything; the app shows
    /// it as a banner. Changes also arrive on the live trace stream as
    /// `event: storage`.
    pub storage: Option<hublet_core::StorageProblem>,
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
            storage: s.storage,
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
    /// Structured detail: the field at fault, a timeout, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub info: Option<ErrorInfo>,
}

/// Structured detail of an error, so a client branches on data, never on
/// message text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ErrorInfo {
    /// The request field the error is about (e.g. `queueCap`, `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// The connect timeout that ran out, as IoT Hub writes it (`00:00:05`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub timeout: Option<String>,
}

impl ErrorInfo {
    /// True when it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.field.is_none() && self.timeout.is_none()
    }
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
    pub seed: Option<u64>,
    /// Restart them with the hub.
    pub persist: bool,
    /// Exactly these ids instead of `{prefix}-{n}` (`count` and `prefix`
    /// are then ignored; absent or empty: use them).
    #[ts(as = "Option<Vec<String>>", optional)]
    pub ids: Vec<String>,
}

/// Injects a fault into a running simulated device
/// (`POST /api/sim/devices/{id}/fault`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SimFaultRequest {
    /// `disconnect`, `drop_link`, `unresponsive` or `resume`.
    pub fault: String,
    /// How long it lasts, seconds (absent: until `resume`).
    #[serde(default)]
    #[ts(optional)]
    pub for_secs: Option<f64>,
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
    /// The fleet's seed, as given to `sim run --seed` (or drawn).
    pub seed: u64,
    /// The device's position in its fleet (its randomness comes from both).
    pub fleet_index: Option<usize>,
    pub persist: bool,
    /// `waiting`, `online`, `offline`, `reconnecting` or `stopped`.
    pub state: String,
    pub since: Option<String>,
    pub c2d_received: u64,
    pub c2d_completed: u64,
    pub c2d_rejected: u64,
    pub c2d_abandoned: u64,
    pub c2d_withheld: u64,
    pub methods_answered: u64,
    pub methods_ignored: u64,
    pub telemetry_sent: u64,
    pub drops: u64,
}

impl From<hublet_sim::SimStatus> for SimStatusDto {
    fn from(s: hublet_sim::SimStatus) -> Self {
        SimStatusDto {
            device_id: s.device_id,
            profile: s.profile,
            seed: s.seed,
            fleet_index: s.fleet_index,
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
pub struct BindBoardRequest {
    /// The port's path as listed by `/api/serial/ports` (or any path, e.g. a symlink).
    pub port: String,
    /// The device the board is; registered if missing.
    pub device_id: String,
    /// Line settings (default 115200 8N1, no flow control, LF).
    pub settings: Option<hublet_serial::SerialSettings>,
    /// Bind even if the port does not exist yet, and wait for it to appear
    /// (otherwise a missing port is refused at once).
    pub wait: bool,
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

/// A numeric range with its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RangeDto {
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
    /// The value when none is given.
    pub default: u64,
}

/// The rules the hub checks input against (`GET /api/rules`), published so
/// a client can check a form before sending without keeping a copy; the
/// hub checks them again either way.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RulesDto {
    /// Each numeric setting's range (`defaultTtlSecs` up to the current maximum TTL).
    pub settings: Vec<hublet_core::settings::SettingRange>,
    /// A method call's connect timeout, seconds.
    pub connect_timeout_secs: RangeDto,
    /// A method call's response timeout, seconds.
    pub response_timeout_secs: RangeDto,
    /// Largest method payload, bytes.
    pub max_method_payload_bytes: usize,
    /// Longest device or message id, characters.
    pub max_id_length: usize,
    /// Characters allowed in device ids besides ASCII letters and digits.
    pub device_id_specials: String,
    /// Characters allowed in message ids besides ASCII letters and digits.
    pub message_id_specials: String,
    /// Characters excluded from method names (besides space and tab).
    pub method_name_excluded: String,
    /// Characters allowed in C2D application property names and values besides ASCII letters and digits.
    pub property_specials: String,
}

impl RulesDto {
    /// The rules under `settings`.
    pub fn of(settings: &hublet_core::HubSettings) -> RulesDto {
        use hublet_core::methods::{
            CONNECT_TIMEOUT_RANGE, MAX_METHOD_PAYLOAD, RESPONSE_TIMEOUT_RANGE,
        };
        RulesDto {
            settings: settings.ranges(),
            connect_timeout_secs: RangeDto {
                min: CONNECT_TIMEOUT_RANGE.0,
                max: CONNECT_TIMEOUT_RANGE.1,
                default: hublet_core::methods::DEFAULT_CONNECT_TIMEOUT,
            },
            response_timeout_secs: RangeDto {
                min: RESPONSE_TIMEOUT_RANGE.0,
                max: RESPONSE_TIMEOUT_RANGE.1,
                default: hublet_core::methods::DEFAULT_RESPONSE_TIMEOUT,
            },
            max_method_payload_bytes: MAX_METHOD_PAYLOAD,
            max_id_length: hublet_core::ids::MAX_ID_LEN,
            device_id_specials: hublet_core::ids::DEVICE_ID_SPECIALS.into(),
            message_id_specials: hublet_core::ids::MESSAGE_ID_SPECIALS.into(),
            method_name_excluded: hublet_core::ids::METHOD_NAME_EXCLUDED.into(),
            property_specials: hublet_core::mailbox::PROPERTY_SPECIALS.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as the API publishes them with default settings, written
    /// for the UI's tests (`ui/tests/fixtures/rules.json`), which check
    /// forms against them instead of a copy; CI fails when it is stale.
    #[test]
    fn the_published_rules_are_written_for_the_ui_tests() {
        let rules = RulesDto::of(&hublet_core::HubSettings::default());
        let json = serde_json::to_string_pretty(&rules).expect("rules serialise") + "\n";
        assert!(json.contains("\"responseTimeoutSecs\""));
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../ui/tests/fixtures/rules.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, json).expect("write the rules fixture");
        }
    }
}

/// A QA run record: one case of `hublet test` or the Scenarios screen
/// (`GET /api/test-runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TestRunDto {
    /// Its id.
    pub id: i64,
    /// The run it belongs to (all cases of one `hublet test` or one Run).
    pub batch: String,
    /// The case's name.
    pub name: String,
    /// `running`, `passed`, `failed` or `error`.
    pub verdict: String,
    /// When it was recorded.
    pub started: String,
    /// When it last changed.
    pub updated: String,
    /// The runner's record: steps, timings, expected and actual, trace ids.
    #[ts(as = "hublet_scenario::CaseOutcome")]
    pub record: serde_json::Value,
}

impl From<hublet_core::runs::TestRun> for TestRunDto {
    fn from(r: hublet_core::runs::TestRun) -> Self {
        TestRunDto {
            id: r.id,
            batch: r.batch,
            name: r.name,
            verdict: r.verdict,
            started: r.started.to_rfc3339(),
            updated: r.updated.to_rfc3339(),
            record: r.record,
        }
    }
}

/// Records a case (`POST /api/test-runs`) or replaces it (`PUT /api/test-runs/{id}`, no batch or name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TestRunWrite {
    /// The run it belongs to (create only).
    #[serde(default)]
    #[ts(optional)]
    pub batch: Option<String>,
    /// The case's name (create only).
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// `running`, `passed`, `failed` or `error`.
    pub verdict: String,
    /// The runner's record.
    #[ts(type = "unknown")]
    pub record: serde_json::Value,
}

/// The scenario files of a folder (`GET /api/scenarios`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ScenarioFolderDto {
    /// The folder (absolute).
    pub dir: String,
    /// It exists.
    pub exists: bool,
    /// Its `.toml` files, by name.
    pub files: Vec<ScenarioFileDto>,
}

/// One scenario file: what it holds, or why it cannot run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ScenarioFileDto {
    /// Its path.
    pub path: String,
    /// Its file name.
    pub file_name: String,
    /// The scenario's name, when the file reads.
    pub name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its cases (one per matrix row).
    pub cases: Vec<String>,
    /// Why it cannot run (with the line and column), when it cannot.
    pub error: Option<String>,
}

/// Runs scenarios in the hub (`POST /api/scenarios/runs`); the cases are
/// recorded as test runs of the returned batch as they go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct ScenarioRunRequest {
    /// Scenario file paths (absolute, or in `dir`).
    pub files: Vec<String>,
    /// The folder relative paths are in (default: the data directory's `scenarios`).
    #[ts(optional)]
    pub dir: Option<String>,
    /// Only cases whose name contains this.
    #[ts(optional)]
    pub filter: Option<String>,
    /// Seed for simulated devices (default: random).
    #[ts(optional)]
    pub seed: Option<u64>,
}

/// A scenario run that started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ScenarioRunStartedDto {
    /// Its batch: `GET /api/test-runs?batch=…` follows it.
    pub batch: String,
    /// Its case names, in the order they run.
    pub cases: Vec<String>,
    /// The seed.
    pub seed: u64,
}
