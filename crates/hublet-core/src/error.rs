//! The hub's errors, carrying IoT Hub's numeric error codes.
//!
//! Every error a user can provoke maps to one [`ErrorCode`]: the number and
//! name IoT Hub uses (section 3.3 of the semantics reference and IoT Hub's
//! "common error codes" page), the HTTP status that goes with it, and one
//! sentence saying what it means. The REST API, the CLI and the UI branch on
//! the code, never on message text.
//!
//! Where IoT Hub publishes no code for a situation Hublet must report, the
//! choice is written in `docs/semantics.md`.

use std::fmt;

use serde::Serialize;

/// IoT Hub's error codes that Hublet produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorCode {
    /// 400004: something in the request is invalid (bad id, bad property, bad timeout, bad JSON).
    ArgumentInvalid,
    /// 400027: the device's connection was replaced by a newer one with the same id.
    ConnectionForcefullyClosedOnNewConnection,
    /// 401003: the SAS token or bearer token does not authorise this request.
    IotHubUnauthorized,
    /// 403004: the device's C2D queue already holds the maximum number of messages.
    DeviceMaximumQueueDepthExceeded,
    /// 403009: the message's expiry time is in the past or beyond the maximum TTL.
    InvalidMessageExpiryTime,
    /// 403800: too many direct-method calls are in flight to this device.
    DeviceMaximumInflightMethodExceeded,
    /// 404001: no device with that id is registered.
    DeviceNotFound,
    /// 404103: the device was not online (connected and subscribed to methods) in time.
    DeviceNotOnline,
    /// 404104: the device's connection closed while the operation was in progress.
    DeviceConnectionClosedRemotely,
    /// 409001: a device with that id already exists.
    DeviceAlreadyExists,
    /// 404010: the module is not registered on the device.
    ModuleNotFound,
    /// 409301: a module with this id already exists on the device.
    ModuleAlreadyExistsOnDevice,
    /// 412001: the etag given does not match the resource's current etag.
    PreconditionFailed,
    /// 412002: the lock token is unknown or its lock already expired.
    DeviceMessageLockLost,
    /// 413001: the message or payload is larger than the hub allows.
    MessageTooLarge,
    /// 500001: the hub failed internally (storage error, corrupt file, ...).
    ServerError,
    /// 502001 (Hublet's own number): the device answered a method with a body that is not JSON.
    InvalidResponseWhileProxying,
    /// 507001 (Hublet's own number, after HTTP 507 Insufficient Storage):
    /// the disk holding the hub's data is full.
    DiskFull,
    /// 504101: the device did not answer the method call within the response timeout.
    GatewayTimeout,
}

impl ErrorCode {
    /// Every code, for readers that look one up by name.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::ArgumentInvalid,
        ErrorCode::ConnectionForcefullyClosedOnNewConnection,
        ErrorCode::IotHubUnauthorized,
        ErrorCode::DeviceMaximumQueueDepthExceeded,
        ErrorCode::InvalidMessageExpiryTime,
        ErrorCode::DeviceMaximumInflightMethodExceeded,
        ErrorCode::DeviceNotFound,
        ErrorCode::DeviceNotOnline,
        ErrorCode::DeviceConnectionClosedRemotely,
        ErrorCode::DeviceAlreadyExists,
        ErrorCode::ModuleNotFound,
        ErrorCode::ModuleAlreadyExistsOnDevice,
        ErrorCode::PreconditionFailed,
        ErrorCode::DeviceMessageLockLost,
        ErrorCode::MessageTooLarge,
        ErrorCode::ServerError,
        ErrorCode::InvalidResponseWhileProxying,
        ErrorCode::DiskFull,
        ErrorCode::GatewayTimeout,
    ];

    /// The six-digit number IoT Hub puts in `errorCode`.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::ArgumentInvalid => 400004,
            ErrorCode::ConnectionForcefullyClosedOnNewConnection => 400027,
            ErrorCode::IotHubUnauthorized => 401003,
            ErrorCode::DeviceMaximumQueueDepthExceeded => 403004,
            ErrorCode::InvalidMessageExpiryTime => 403009,
            ErrorCode::DeviceMaximumInflightMethodExceeded => 403800,
            ErrorCode::DeviceNotFound => 404001,
            ErrorCode::DeviceNotOnline => 404103,
            ErrorCode::DeviceConnectionClosedRemotely => 404104,
            ErrorCode::DeviceAlreadyExists => 409001,
            ErrorCode::ModuleNotFound => 404010,
            ErrorCode::ModuleAlreadyExistsOnDevice => 409301,
            ErrorCode::PreconditionFailed => 412001,
            ErrorCode::DeviceMessageLockLost => 412002,
            ErrorCode::MessageTooLarge => 413001,
            ErrorCode::ServerError => 500001,
            ErrorCode::InvalidResponseWhileProxying => 502001,
            ErrorCode::DiskFull => 507001,
            ErrorCode::GatewayTimeout => 504101,
        }
    }

    /// The HTTP status that goes with the code (its first three digits).
    pub fn http_status(self) -> u16 {
        u16::try_from(self.number() / 1000).unwrap_or(500)
    }

    /// IoT Hub's name for the code, as sent in the `iothub-errorcode` header.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::ArgumentInvalid => "ArgumentInvalid",
            ErrorCode::ConnectionForcefullyClosedOnNewConnection => {
                "ConnectionForcefullyClosedOnNewConnection"
            }
            ErrorCode::IotHubUnauthorized => "IotHubUnauthorized",
            ErrorCode::DeviceMaximumQueueDepthExceeded => "DeviceMaximumQueueDepthExceeded",
            ErrorCode::InvalidMessageExpiryTime => "InvalidMessageExpiryTime",
            ErrorCode::DeviceMaximumInflightMethodExceeded => "DeviceMaximumInflightMethodExceeded",
            ErrorCode::DeviceNotFound => "DeviceNotFound",
            ErrorCode::DeviceNotOnline => "DeviceNotOnline",
            ErrorCode::DeviceConnectionClosedRemotely => "DeviceConnectionClosedRemotely",
            ErrorCode::DeviceAlreadyExists => "DeviceAlreadyExists",
            ErrorCode::ModuleNotFound => "ModuleNotFound",
            ErrorCode::ModuleAlreadyExistsOnDevice => "ModuleAlreadyExistsOnDevice",
            ErrorCode::PreconditionFailed => "PreconditionFailed",
            ErrorCode::DeviceMessageLockLost => "DeviceMessageLockLost",
            ErrorCode::MessageTooLarge => "MessageTooLarge",
            ErrorCode::ServerError => "ServerError",
            ErrorCode::InvalidResponseWhileProxying => "InvalidResponseWhileProxying",
            ErrorCode::DiskFull => "DiskFull",
            ErrorCode::GatewayTimeout => "GatewayTimeout",
        }
    }

    /// One sentence a newcomer can act on.
    pub fn explanation(self) -> &'static str {
        match self {
            ErrorCode::ArgumentInvalid => {
                "Part of the request is not valid; the message says which part."
            }
            ErrorCode::ConnectionForcefullyClosedOnNewConnection => {
                "Another connection with the same device id took over this device's session."
            }
            ErrorCode::IotHubUnauthorized => {
                "The token is missing, expired, wrongly signed or not valid for this resource."
            }
            ErrorCode::DeviceMaximumQueueDepthExceeded => {
                "The device's mailbox is full; the device must complete messages (or you purge) before more can be sent."
            }
            ErrorCode::InvalidMessageExpiryTime => {
                "The expiry time is in the past or further ahead than the hub's maximum time to live."
            }
            ErrorCode::DeviceMaximumInflightMethodExceeded => {
                "Too many method calls are waiting for this device; wait for some to finish."
            }
            ErrorCode::DeviceNotFound => "No device with this id is registered in the hub.",
            ErrorCode::DeviceNotOnline => {
                "The device was not connected and subscribed to direct methods within the connect timeout."
            }
            ErrorCode::DeviceConnectionClosedRemotely => {
                "The device disconnected while the call was in flight."
            }
            ErrorCode::DeviceAlreadyExists => "A device with this id already exists.",
            ErrorCode::ModuleNotFound => "The device has no module with this id.",
            ErrorCode::ModuleAlreadyExistsOnDevice => {
                "The device already has a module with this id."
            }
            ErrorCode::PreconditionFailed => {
                "The etag does not match: someone changed the resource since you read it."
            }
            ErrorCode::DeviceMessageLockLost => {
                "The lock token is unknown or its lock expired; the message went back to the queue or is gone."
            }
            ErrorCode::MessageTooLarge => "The message or payload is larger than the hub accepts.",
            ErrorCode::ServerError => "The hub failed internally; see its log.",
            ErrorCode::InvalidResponseWhileProxying => {
                "The device answered the method with a body that is not JSON."
            }
            ErrorCode::GatewayTimeout => {
                "The device received the call but did not answer within the response timeout."
            }
            ErrorCode::DiskFull => {
                "The disk holding the hub's data is full: this request was not stored, and nothing stored before is lost. Free space on that disk (or purge old trace events) and retry."
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.name())
    }
}

/// An error from the hub core.
///
/// Each variant says what went wrong in words a user can act on and maps to
/// exactly one [`ErrorCode`] through [`HubError::code`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    /// Input that does not satisfy IoT Hub's rules (ids, properties, timeouts, JSON).
    #[error("{0}")]
    InvalidArgument(String),
    /// Like [`HubError::InvalidArgument`], about one named field of the
    /// request (a setting, a form field), so a client can point at it.
    #[error("{message}")]
    InvalidField {
        /// The field, as the request names it (e.g. `queueCap`, `port`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The referenced device is not registered.
    #[error("device '{0}' is not registered")]
    DeviceNotFound(String),
    /// A device with this id already exists.
    #[error("device '{0}' already exists")]
    DeviceAlreadyExists(String),
    /// The device has no module with this id.
    #[error("device '{device}' has no module '{module}'")]
    ModuleNotFound {
        /// The device.
        device: String,
        /// The module.
        module: String,
    },
    /// The device already has a module with this id.
    #[error("device '{device}' already has a module '{module}'")]
    ModuleAlreadyExists {
        /// The device.
        device: String,
        /// The module.
        module: String,
    },
    /// An `If-Match` etag did not match.
    #[error("etag {given} does not match the current etag {current}")]
    PreconditionFailed {
        /// The etag the caller sent.
        given: String,
        /// The resource's current etag.
        current: String,
    },
    /// The device's queue is full.
    #[error("the C2D queue of device '{device}' already holds {cap} messages (the hub's cap)")]
    QueueFull {
        /// Target device.
        device: String,
        /// The configured cap.
        cap: u32,
    },
    /// A message or payload is over its size limit.
    #[error("{what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// What was measured ("the C2D message (body plus properties)", ...).
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The expiry time is not acceptable.
    #[error("{0}")]
    InvalidExpiry(String),
    /// A lock token that is unknown, already used, or whose lock expired.
    #[error(
        "lock token '{0}' is not (or no longer) locked: the lock expired, the message was settled, or the token is wrong"
    )]
    LockLost(String),
    /// A credential was refused.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The device was not attached and subscribed to methods within the connect timeout.
    #[error(
        "device '{device}' was not online (connected and subscribed to methods) within the connect timeout of {connect_timeout_s} s"
    )]
    DeviceNotOnline {
        /// Target device.
        device: String,
        /// The connect timeout that ran out, in seconds.
        connect_timeout_s: u64,
    },
    /// The device did not answer in time.
    #[error("device '{device}' did not answer method '{method}' within {response_timeout_s} s")]
    MethodTimeout {
        /// Target device.
        device: String,
        /// Method name.
        method: String,
        /// The response timeout, in seconds.
        response_timeout_s: u64,
    },
    /// The device detached while an operation waited on it.
    #[error("device '{device}' disconnected while the call was in flight ({reason})")]
    DeviceDisconnected {
        /// Target device.
        device: String,
        /// Why it detached.
        reason: String,
    },
    /// The device's attachment was replaced by a new connection.
    #[error("device '{0}' connected again, which closed this connection")]
    ConnectionReplaced(String),
    /// Too many method calls are pending for one device.
    #[error("device '{device}' already has {limit} method calls in flight")]
    TooManyInflightMethods {
        /// Target device.
        device: String,
        /// The configured limit.
        limit: usize,
    },
    /// The device answered a method with a body that is not JSON.
    #[error(
        "device '{device}' answered method '{method}' with status {status} and a body that is not JSON: {body_preview}"
    )]
    InvalidDeviceResponse {
        /// Target device.
        device: String,
        /// Method name.
        method: String,
        /// The status the device sent.
        status: i32,
        /// The start of the body, lossily decoded.
        body_preview: String,
    },
    /// The database file is not Hublet's, is corrupt, or is from a newer Hublet.
    #[error("{0}")]
    BadDatabase(String),
    /// The disk holding the database is full (SQLite's `SQLITE_FULL`).
    #[error(
        "the disk holding {dir} is full; nothing more can be stored until space is freed there"
    )]
    DiskFull {
        /// The data directory (or, before the store adds it, "the hub's data").
        dir: String,
    },
    /// Another process holds the data directory.
    #[error("{0}")]
    Locked(String),
    /// A storage or other internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl HubError {
    /// The IoT Hub error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::InvalidArgument(_) | HubError::InvalidField { .. } => {
                ErrorCode::ArgumentInvalid
            }
            HubError::DeviceNotFound(_) => ErrorCode::DeviceNotFound,
            HubError::DeviceAlreadyExists(_) => ErrorCode::DeviceAlreadyExists,
            HubError::ModuleNotFound { .. } => ErrorCode::ModuleNotFound,
            HubError::ModuleAlreadyExists { .. } => ErrorCode::ModuleAlreadyExistsOnDevice,
            HubError::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            HubError::QueueFull { .. } => ErrorCode::DeviceMaximumQueueDepthExceeded,
            HubError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            HubError::InvalidExpiry(_) => ErrorCode::InvalidMessageExpiryTime,
            HubError::LockLost(_) => ErrorCode::DeviceMessageLockLost,
            HubError::Unauthorized(_) => ErrorCode::IotHubUnauthorized,
            HubError::DeviceNotOnline { .. } => ErrorCode::DeviceNotOnline,
            HubError::MethodTimeout { .. } => ErrorCode::GatewayTimeout,
            HubError::DeviceDisconnected { .. } => ErrorCode::DeviceConnectionClosedRemotely,
            HubError::ConnectionReplaced(_) => ErrorCode::ConnectionForcefullyClosedOnNewConnection,
            HubError::TooManyInflightMethods { .. } => {
                ErrorCode::DeviceMaximumInflightMethodExceeded
            }
            HubError::InvalidDeviceResponse { .. } => ErrorCode::InvalidResponseWhileProxying,
            HubError::BadDatabase(_) | HubError::Locked(_) | HubError::Internal(_) => {
                ErrorCode::ServerError
            }
            HubError::DiskFull { .. } => ErrorCode::DiskFull,
        }
    }

    /// Shorthand for [`HubError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> HubError {
        HubError::InvalidArgument(msg.into())
    }

    /// Shorthand for [`HubError::InvalidField`].
    pub fn invalid_field(field: impl Into<String>, msg: impl Into<String>) -> HubError {
        HubError::InvalidField {
            field: field.into(),
            message: msg.into(),
        }
    }

    /// The JSON body IoT Hub answers a device's refused twin request with
    /// (MQTT `$iothub/twin/res/{status}`, the serial `TWIN` frame):
    /// `{"errorCode", "trackingId", "message", "timestampUtc"}`. The Node
    /// SDK reads only the body, so the number must be in it.
    pub fn device_body(&self, at: crate::Timestamp) -> serde_json::Value {
        use rand::Rng;
        let tracking: u128 = rand::rng().random();
        serde_json::json!({
            "errorCode": self.code().number(),
            "trackingId": format!("{tracking:032x}"),
            "message": self.to_string(),
            "timestampUtc": at.to_rfc3339(),
        })
    }

    /// The request field this error is about, if it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            HubError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for HubError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                HubError::BadDatabase(format!(
                    "the database file is corrupt or not a database: {e}"
                ))
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
                HubError::DiskFull {
                    dir: "the hub's data".into(),
                }
            }
            _ => HubError::Internal(format!("storage: {e}")),
        }
    }
}

impl From<serde_json::Error> for HubError {
    fn from(e: serde_json::Error) -> Self {
        HubError::Internal(format!("json: {e}"))
    }
}

/// Result alias for the core.
pub type HubResult<T> = Result<T, HubError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_is_the_first_three_digits_of_the_code() {
        assert_eq!(ErrorCode::DeviceNotOnline.http_status(), 404);
        assert_eq!(ErrorCode::GatewayTimeout.http_status(), 504);
        assert_eq!(ErrorCode::DeviceMessageLockLost.http_status(), 412);
        assert_eq!(
            ErrorCode::DeviceMaximumQueueDepthExceeded.http_status(),
            403
        );
    }
}
