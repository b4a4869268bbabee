//! # hublet-core: Hublet's engine
//!
//! An offline, local hub that behaves like Azure IoT Hub for cloud-to-device
//! traffic. This crate is the engine every edge drives: the MQTT gateway,
//! the HTTP API, the serial bridge, the simulator, the desktop app, the CLI
//! and the tests. It knows nothing of any transport.
//!
//! Where things live:
//!
//! | Area | Module |
//! |---|---|
//! | Opening the hub, sweepers, shared state | [`hub`] |
//! | How a transport attaches a device | [`attach`] |
//! | Device registry, keys, connection strings | [`registry`], [`auth`] |
//! | C2D queues and their life cycle | [`mailbox`] (expiry in `mailbox/expiry.rs`) |
//! | Delivery feedback | [`feedback`] |
//! | Direct methods | [`methods`] |
//! | Message properties as text (MQTT topics, serial frames) | [`property_bag`] |
//! | Trace log, queries, export | [`trace`] (what each kind says: `trace/detail.rs`) |
//! | SQLite, group commit, migrations | `store` |
//! | Time | [`clock`] |
//! | Errors and IoT Hub codes | [`error`] |
//!
//! The behaviour matched is `docs/semantics.md` in the repository, which
//! also records every choice made where IoT Hub's own behaviour is unknown.

pub mod adapter;
pub mod attach;
pub mod auth;
pub mod clock;
pub mod error;
pub mod events;
pub mod feedback;
pub mod hub;
pub mod ids;
pub mod mailbox;
pub mod methods;
pub mod modules;
pub mod property_bag;
pub mod registry;
pub mod runs;
pub mod settings;
mod store;
pub mod trace;
pub mod twin;

pub use attach::{
    AttachRequest, Attachment, Credential, DetachReason, MethodFilter, MethodRequest, Responded,
    Telemetry, ToDevice,
};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock, Timestamp};
pub use error::{ErrorCode, HubError, HubResult};
pub use feedback::{FeedbackMessage, FeedbackRecord, FeedbackStatus};
pub use hub::{DB_FILE, Hub, HubOptions, HubStats, default_data_dir};
pub use mailbox::{AckMode, C2dMessage, MessageState, NewMessage};
pub use methods::{MethodCall, MethodFailure, MethodResponse};
pub use modules::{Module, NewModule};
pub use registry::{Device, DeviceKind, DeviceStatus, NewDevice};
pub use settings::HubSettings;
pub use store::integrity::{CheckDepth, IntegrityReport, check_database};
pub use store::{Durability, StorageProblem};
pub use trace::{BodyPreview, EventKind, NewEvent, TraceDetail, TraceEvent, TraceQuery};
