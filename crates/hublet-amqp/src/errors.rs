//! IoT Hub errors as AMQP errors.
//!
//! The conditions are the ones the SDKs' error mappers know (Node's
//! `translateError`, uamqp's retry table, .NET's `AmqpErrorMapper`), so each
//! SDK raises the same exception as against IoT Hub; `info` carries IoT Hub's
//! numeric code and a tracking id as IoT Hub sends them. A rejection always
//! has an error: Node would count a bare `rejected` as success.

use fe2o3_amqp::types::definitions::{self, AmqpError, ErrorCondition, Fields, LinkError};
use fe2o3_amqp::types::primitives::{Symbol, Value};
use hublet_core::{ErrorCode, HubError};

/// The AMQP error for a hub error.
pub fn amqp_error(e: &HubError) -> definitions::Error {
    let code = e.code();
    let condition = match code {
        ErrorCode::DeviceNotFound => ErrorCondition::AmqpError(AmqpError::NotFound),
        ErrorCode::DeviceMaximumQueueDepthExceeded => {
            ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded)
        }
        ErrorCode::MessageTooLarge => ErrorCondition::LinkError(LinkError::MessageSizeExceeded),
        ErrorCode::IotHubUnauthorized => ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
        ErrorCode::InvalidMessageExpiryTime => {
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-out-of-range"))
        }
        ErrorCode::ArgumentInvalid => {
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-error"))
        }
        ErrorCode::DeviceMessageLockLost => {
            ErrorCondition::Custom(Symbol::from("com.microsoft:message-lock-lost"))
        }
        ErrorCode::PreconditionFailed => {
            ErrorCondition::Custom(Symbol::from("com.microsoft:precondition-failed"))
        }
        _ => ErrorCondition::AmqpError(AmqpError::InternalError),
    };
    with_info(condition, e.to_string(), code.number())
}

/// An error with IoT Hub's `info`: `com.microsoft:error-code` and a
/// `com.microsoft:tracking-id`.
pub fn with_info(condition: ErrorCondition, description: String, code: u32) -> definitions::Error {
    let mut info = Fields::new();
    info.insert(
        Symbol::from("com.microsoft:tracking-id"),
        Value::String(format!("hublet-{}", uuid::Uuid::new_v4().simple())),
    );
    info.insert(
        Symbol::from("com.microsoft:error-code"),
        Value::Int(i32::try_from(code).unwrap_or(i32::MAX)),
    );
    definitions::Error::new(condition, Some(description), Some(info))
}

/// `amqp:unauthorized-access` "Token Invalid.": what IoT Hub detaches links
/// with when their token runs out, and what a link gets before any token.
pub fn token_invalid(why: &str) -> definitions::Error {
    with_info(
        ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
        format!("Token Invalid. {why}"),
        ErrorCode::IotHubUnauthorized.number(),
    )
}

/// `amqp:not-found` for a node Hublet does not have.
pub fn unknown_node(address: &str) -> definitions::Error {
    definitions::Error::new(
        ErrorCondition::AmqpError(AmqpError::NotFound),
        Some(format!(
            "no node '{address}': this hub serves $cbs, /messages/devicebound and /messages/serviceBound/feedback"
        )),
        None,
    )
}

/// A link over the session's limit (fe2o3 announces handle-max but does
/// not hold clients to it, so the hub counts).
pub fn too_many_links(limit: u32) -> definitions::Error {
    definitions::Error::new(
        ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded),
        Some(format!(
            "at most {limit} links per session: detach some, or open another session"
        )),
        None,
    )
}

/// Why a link ended, for the trace: `None` when it ended the ordinary way
/// (the client detached it, or closed its session or connection).
pub fn end_reason(e: impl std::fmt::Display) -> Option<String> {
    let text = e.to_string();
    let ordinary = [
        "ConnectionStopped(Closed)",
        "SessionStopped(Ended)",
        "RemoteDetached",
        "RemoteClosed",
        "DetachedByRemote",
        "ClosedByRemote",
    ];
    if ordinary.iter().any(|o| text.contains(o)) {
        None
    } else {
        Some(text)
    }
}

/// An AMQP error in one line: its condition and description.
pub fn describe(e: &definitions::Error) -> String {
    let condition = match &e.condition {
        ErrorCondition::Custom(s) => s.0.clone(),
        other => format!("{other:?}"),
    };
    match &e.description {
        Some(d) => format!("{condition}: {d}"),
        None => condition,
    }
}
