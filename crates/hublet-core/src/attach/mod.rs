//! The one interface through which a transport attaches a device.
//!
//! Every edge (MQTT gateway, serial bridge, simulator, AMQP and HTTP
//! endpoints, tests) connects a device to the hub the same way:
//!
//! 1. [`Hub::attach`] with the device id and a [`Credential`]: the hub
//!    authenticates, replaces any earlier attachment of the same device
//!    (which receives [`ToDevice::Close`] with [`DetachReason::Replaced`]),
//!    and returns an [`Attachment`] plus the receiver of [`ToDevice`] items.
//! 2. The transport calls [`Attachment::subscribe_c2d`] and
//!    [`Attachment::subscribe_methods`] when the device asks for them, then
//!    forwards every [`ToDevice`] item to the device in its own wire format.
//! 3. What the device sends back goes through the attachment:
//!    [`Attachment::complete`] / [`Attachment::abandon`] / [`Attachment::reject`],
//!    [`Attachment::respond`] for method responses, [`Attachment::telemetry`].
//! 4. [`Attachment::detach`] with a reason when the connection ends
//!    (dropping the attachment detaches it too).
//!
//! No mailbox or method logic lives in a transport: it only translates.
//!
//! - this file: what crosses the interface (requests, reasons, items);
//! - [`handle`](self::handle): the [`Attachment`] a transport holds, and
//!   attaching and detaching;
//! - `presence`: the in-memory table of who is attached now, their open
//!   locks and their method calls in flight.
//!
//! [`Hub::attach`]: crate::Hub::attach

mod handle;
pub(crate) mod presence;

pub use handle::{Attachment, Responded, Stored};
pub(crate) use presence::{CallStart, Presence, RawResponse};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::mailbox::C2dMessage;
use crate::trace::detail::DetachReasonName;

/// How the device proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A SAS token (MQTT password, HTTP `Authorization`).
    SasToken(String),
    /// No token: the transport vouches for the device (a board on the
    /// developer's own USB port, a simulated device, or an explicit "open
    /// bench" setting). The reason is recorded in the trace.
    Trusted(String),
}

/// Who is attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRequest {
    /// Short transport name shown to users: `mqtt`, `http`, `serial`, `sim`, ...
    pub transport: String,
    /// Where the device is (peer address, port path), for the trace.
    pub remote: Option<String>,
    /// The device's credential.
    pub credential: Credential,
}

impl AttachRequest {
    /// A request with a SAS token.
    pub fn sas(
        transport: impl Into<String>,
        remote: Option<String>,
        token: impl Into<String>,
    ) -> AttachRequest {
        AttachRequest {
            transport: transport.into(),
            remote,
            credential: Credential::SasToken(token.into()),
        }
    }

    /// A request the transport vouches for.
    pub fn trusted(
        transport: impl Into<String>,
        remote: Option<String>,
        reason: impl Into<String>,
    ) -> AttachRequest {
        AttachRequest {
            transport: transport.into(),
            remote,
            credential: Credential::Trusted(reason.into()),
        }
    }
}

/// Why an attachment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "camelCase")]
pub enum DetachReason {
    /// The device said goodbye (MQTT DISCONNECT, serial detach).
    Closed,
    /// The connection broke (socket error, port vanished).
    ConnectionLost(String),
    /// The device connected again elsewhere (IoT Hub 400027).
    Replaced,
    /// The device was disabled in the registry.
    Disabled,
    /// The device was deleted from the registry.
    Deleted,
    /// The SAS token the device connected with expired.
    TokenExpired,
    /// Nothing arrived within the keep-alive allowance.
    KeepAliveTimeout,
    /// The device broke a protocol rule.
    ProtocolViolation(String),
    /// The hub is shutting down.
    Shutdown,
    /// The transport dropped the attachment without saying why.
    Dropped,
}

impl DetachReason {
    /// The stable name the trace gives it, e.g. `replaced`.
    pub fn name(&self) -> DetachReasonName {
        match self {
            DetachReason::Closed => DetachReasonName::Closed,
            DetachReason::ConnectionLost(_) => DetachReasonName::ConnectionLost,
            DetachReason::Replaced => DetachReasonName::Replaced,
            DetachReason::Disabled => DetachReasonName::Disabled,
            DetachReason::Deleted => DetachReasonName::Deleted,
            DetachReason::TokenExpired => DetachReasonName::TokenExpired,
            DetachReason::KeepAliveTimeout => DetachReasonName::KeepAliveTimeout,
            DetachReason::ProtocolViolation(_) => DetachReasonName::ProtocolViolation,
            DetachReason::Shutdown => DetachReasonName::Shutdown,
            DetachReason::Dropped => DetachReasonName::Dropped,
        }
    }

    /// Words for users.
    pub fn describe(&self) -> String {
        match self {
            DetachReason::Closed => "the device disconnected".into(),
            DetachReason::ConnectionLost(e) => format!("the connection was lost ({e})"),
            DetachReason::Replaced => "a new connection with the same device id replaced it".into(),
            DetachReason::Disabled => "the device was disabled".into(),
            DetachReason::Deleted => "the device was deleted".into(),
            DetachReason::TokenExpired => "its SAS token expired".into(),
            DetachReason::KeepAliveTimeout => "nothing arrived within 1.5 x its keep-alive".into(),
            DetachReason::ProtocolViolation(e) => format!("it broke a protocol rule: {e}"),
            DetachReason::Shutdown => "the hub is shutting down".into(),
            DetachReason::Dropped => "its transport went away".into(),
        }
    }
}

/// Which direct methods an attached device is subscribed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MethodFilter {
    /// None: calls find the device not online.
    #[default]
    None,
    /// Every method.
    All,
    /// Only these method names.
    Only(std::collections::BTreeSet<String>),
}

impl MethodFilter {
    /// Whether a call to `method` may be delivered.
    pub fn allows(&self, method: &str) -> bool {
        match self {
            MethodFilter::None => false,
            MethodFilter::All => true,
            MethodFilter::Only(names) => names.contains(method),
        }
    }
}

/// A direct-method request for the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRequest {
    /// Echo this in the response.
    pub request_id: String,
    /// The method name.
    pub method_name: String,
    /// The JSON payload as bytes (a null payload is the four bytes `null`).
    pub payload: Vec<u8>,
}

/// What the hub sends a transport for its device.
#[derive(Debug, Clone, PartialEq)]
///
/// Every variant is boxed so that the enum is two words: a channel's buffer
/// is allocated in blocks of 32 slots, one per attachment, and the slots
/// were most of an idle connection's memory (docs/benchmarks.md).
pub enum ToDevice {
    /// Deliver this locked C2D message (settle it by its lock token).
    C2d(Box<C2dMessage>),
    /// Deliver this method request (answer with [`Attachment::respond`]).
    Method(Box<MethodRequest>),
    /// A desired-properties change (its members plus `$version`), for a
    /// device subscribed with [`Attachment::subscribe_twin_desired`].
    DesiredPatch(Box<serde_json::Value>),
    /// The hub ended the attachment: close the connection.
    Close(Box<DetachReason>),
}

/// A device-to-cloud message as a transport decoded it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Telemetry {
    /// `$.mid`.
    pub message_id: Option<String>,
    /// `$.cid`.
    pub correlation_id: Option<String>,
    /// `$.ct`.
    pub content_type: Option<String>,
    /// `$.ce`.
    pub content_encoding: Option<String>,
    /// Application properties (a bare key has no value).
    pub properties: BTreeMap<String, Option<String>>,
    /// The payload.
    pub body: Vec<u8>,
}

impl Telemetry {
    /// Telemetry from decoded message properties (a property bag): the
    /// system properties by their `$.` names, everything else as
    /// application properties. One mapping for every transport.
    pub fn from_properties(pairs: Vec<(String, Option<String>)>, body: Vec<u8>) -> Telemetry {
        let mut t = Telemetry {
            body,
            ..Telemetry::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "$.mid" => t.message_id = v,
                "$.cid" => t.correlation_id = v,
                "$.ct" => t.content_type = v,
                "$.ce" => t.content_encoding = v,
                _ => {
                    t.properties.insert(k, v);
                }
            }
        }
        t
    }
}

/// Largest device-to-cloud message (IoT Hub: 256 KB).
pub const MAX_TELEMETRY_BYTES: usize = 256 * 1024;
