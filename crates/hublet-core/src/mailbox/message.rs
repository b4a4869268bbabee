//! C2D messages: what a sender gives, how it is validated, what is stored.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::ids::validate_message_id;
use crate::settings::HubSettings;

/// Which outcomes produce delivery feedback (`iothub-ack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum AckMode {
    /// No feedback.
    #[default]
    None,
    /// Feedback when the message is completed.
    Positive,
    /// Feedback when the message is dead-lettered (rejected, expired, delivery count exceeded) or purged.
    Negative,
    /// Feedback for every terminal outcome.
    Full,
}

impl AckMode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::None => "none",
            AckMode::Positive => "positive",
            AckMode::Negative => "negative",
            AckMode::Full => "full",
        }
    }

    /// Parses an `iothub-ack` value, ignoring case (old SDKs sent `Full`).
    pub fn parse(s: &str) -> HubResult<AckMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(AckMode::None),
            "positive" => Ok(AckMode::Positive),
            "negative" => Ok(AckMode::Negative),
            "full" => Ok(AckMode::Full),
            other => Err(HubError::invalid(format!(
                "ack '{other}' is not one of none, positive, negative, full"
            ))),
        }
    }

    /// Whether an outcome asks for feedback under this mode.
    pub fn wants(self, positive_outcome: bool) -> bool {
        match self {
            AckMode::None => false,
            AckMode::Positive => positive_outcome,
            AckMode::Negative => !positive_outcome,
            AckMode::Full => true,
        }
    }
}

/// A message as a sender gives it. Everything but the body is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewMessage {
    /// The payload.
    pub body: Vec<u8>,
    /// Message id; a UUID is generated when absent.
    pub message_id: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// Absolute expiry. Mutually exclusive with `ttl_secs`.
    pub expiry_time_utc: Option<Timestamp>,
    /// Time to live in seconds. Without either, the hub's default TTL applies.
    pub ttl_secs: Option<u64>,
    /// Feedback wanted.
    pub ack: AckMode,
    /// Content type, e.g. `application/json`.
    pub content_type: Option<String>,
    /// Content encoding, e.g. `utf-8`.
    pub content_encoding: Option<String>,
    /// Application properties (string to string, IoT Hub's C2D character set).
    pub properties: BTreeMap<String, String>,
}

impl NewMessage {
    /// A message with this body and nothing else set.
    pub fn text(body: impl Into<String>) -> NewMessage {
        NewMessage {
            body: body.into().into_bytes(),
            ..NewMessage::default()
        }
    }
}

/// Queue state of a message that is still in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum MessageState {
    /// Waiting to be delivered.
    Enqueued,
    /// Delivered and locked; waiting for complete, abandon or reject.
    Invisible,
}

impl std::fmt::Display for AckMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for MessageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MessageState::Enqueued => "Enqueued",
            MessageState::Invisible => "Invisible",
        })
    }
}

/// A message in a device's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct C2dMessage {
    /// Target device.
    pub device_id: String,
    /// Per-device sequence number; the queue delivers in this order.
    pub sequence_number: i64,
    /// Message id.
    pub message_id: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// `/devices/{id}/messages/devicebound`.
    pub to: String,
    /// When the message expires.
    pub expiry_time_utc: Timestamp,
    /// Feedback wanted.
    pub ack: AckMode,
    /// Content type.
    pub content_type: Option<String>,
    /// Content encoding.
    pub content_encoding: Option<String>,
    /// Application properties.
    pub properties: BTreeMap<String, String>,
    /// The payload.
    pub body: Vec<u8>,
    /// When the hub accepted it.
    pub enqueued_time: Timestamp,
    /// Enqueued or Invisible.
    pub state: MessageState,
    /// The current lock token, while Invisible.
    pub lock_token: Option<String>,
    /// When the current lock ends, while Invisible.
    pub lock_expiry: Option<Timestamp>,
    /// IoT Hub's delivery count: explicit abandons so far (compared with the maximum delivery count).
    pub delivery_count: u32,
    /// How many times the message has been handed to a device (lock expiries included).
    pub attempts: u32,
}

impl C2dMessage {
    /// Size as IoT Hub counts it: body, system property values, and
    /// application property names and values.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.message_id.len()
            + self.correlation_id.as_ref().map_or(0, String::len)
            + self.user_id.as_ref().map_or(0, String::len)
            + self.to.len()
            + self.ack.as_str().len()
            + self.content_type.as_ref().map_or(0, String::len)
            + self.content_encoding.as_ref().map_or(0, String::len)
            + self
                .properties
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// The device-side address every C2D message carries in `to`.
pub fn to_address(device_id: &str) -> String {
    format!("/devices/{device_id}/messages/devicebound")
}

/// Characters IoT Hub allows in C2D application property names and values
/// besides ASCII letters and digits (semantics reference 1.6).
pub const PROPERTY_SPECIALS: &str = "!#$%&'*+-.^_`|~";

fn check_property_text(what: &str, s: &str) -> HubResult<()> {
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || PROPERTY_SPECIALS.contains(*c)))
    {
        return Err(HubError::invalid(format!(
            "{what} '{}' contains '{}'; C2D application properties allow only ASCII letters, digits and {PROPERTY_SPECIALS}",
            s.escape_default(),
            bad.escape_default()
        )));
    }
    Ok(())
}

fn check_system_text(what: &str, s: &str, max: usize) -> HubResult<()> {
    if s.len() > max {
        return Err(HubError::invalid(format!(
            "{what} is {} bytes; at most {max} are allowed",
            s.len()
        )));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(HubError::invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

/// Validates `m` against IoT Hub's rules and the hub's settings, and
/// returns the message as it will be stored (not yet numbered).
pub(crate) fn validate(
    m: NewMessage,
    device_id: &str,
    now: Timestamp,
    settings: &HubSettings,
    new_id: impl FnOnce() -> String,
) -> HubResult<C2dMessage> {
    // Each error names the field at fault (`properties.<name>` for an
    // application property), so a form can point at it.
    let in_field = |field: String| move |e: HubError| HubError::invalid_field(field, e.to_string());
    if let Some(id) = &m.message_id {
        validate_message_id(id).map_err(in_field("messageId".into()))?;
    }
    for (what, v, max) in [
        ("correlationId", &m.correlation_id, 128),
        ("userId", &m.user_id, 128),
        ("contentType", &m.content_type, 256),
        ("contentEncoding", &m.content_encoding, 256),
    ] {
        if let Some(v) = v {
            check_system_text(what, v, max).map_err(in_field(what.into()))?;
        }
    }
    for (k, v) in &m.properties {
        let field = format!("properties.{k}");
        if k.is_empty() {
            return Err(HubError::invalid_field(
                "properties",
                "an application property name is empty",
            ));
        }
        check_property_text("application property name", k).map_err(in_field(field.clone()))?;
        check_property_text(&format!("value of application property '{k}'"), v)
            .map_err(in_field(field.clone()))?;
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("iothub-") || lower.starts_with("$.") {
            return Err(HubError::invalid_field(
                field,
                format!(
                    "application property '{k}' uses a reserved prefix (iothub- or $.); set the system property instead"
                ),
            ));
        }
    }
    let max_ttl = Duration::from_secs(settings.max_ttl_secs);
    let expiry = match (m.expiry_time_utc, m.ttl_secs) {
        (Some(_), Some(_)) => {
            return Err(HubError::InvalidExpiry(
                "give either an expiry time or a TTL, not both".into(),
            ));
        }
        (Some(at), None) => {
            if at <= now {
                return Err(HubError::InvalidExpiry(format!(
                    "expiry time {at} is not in the future (now is {now})"
                )));
            }
            if at > now.plus(max_ttl) {
                return Err(HubError::InvalidExpiry(format!(
                    "expiry time {at} is more than the maximum TTL ({} s) ahead",
                    settings.max_ttl_secs
                )));
            }
            at
        }
        (None, Some(ttl)) => {
            if ttl == 0 || ttl > settings.max_ttl_secs {
                return Err(HubError::InvalidExpiry(format!(
                    "TTL {ttl} s is outside 1 s to {} s (the hub's maximum TTL)",
                    settings.max_ttl_secs
                )));
            }
            now.plus(Duration::from_secs(ttl))
        }
        (None, None) => now.plus(Duration::from_secs(settings.default_ttl_secs)),
    };
    let msg = C2dMessage {
        device_id: device_id.to_string(),
        sequence_number: 0,
        message_id: m.message_id.unwrap_or_else(new_id),
        correlation_id: m.correlation_id,
        user_id: m.user_id,
        to: to_address(device_id),
        expiry_time_utc: expiry,
        ack: m.ack,
        content_type: m.content_type,
        content_encoding: m.content_encoding,
        properties: m.properties,
        body: m.body,
        enqueued_time: now,
        state: MessageState::Enqueued,
        lock_token: None,
        lock_expiry: None,
        delivery_count: 0,
        attempts: 0,
    };
    let limit = settings.max_message_bytes as usize;
    if msg.size() > limit {
        return Err(HubError::TooLarge {
            what: "the C2D message (body plus properties)",
            size: msg.size(),
            limit,
        });
    }
    Ok(msg)
}
