//! # hublet-api: how programs drive the hub
//!
//! One axum router, three families of paths, all over the same core:
//!
//! - `/api/…`: Hublet's own JSON API, used by the desktop app, the `hublet`
//!   CLI and scripts (devices, messages, methods, feedback, trace with live
//!   stream and export, settings, stats).
//! - IoT Hub's service paths (`/devices/{id}`, `/twins/{id}/methods`,
//!   `/messages/serviceBound/feedback`, `/devices/{id}/commands`), so the
//!   Azure IoT service SDKs work against Hublet unchanged.
//! - IoT Hub's HTTP device endpoints (`/devices/{id}/messages/deviceBound`).
//!
//! IoT Hub's paths match in any case and with a trailing slash, as IoT Hub
//! matches them ([`iothub_paths`]).
//!
//! Layout: [`router`] declares every route; handlers are filed by area in
//! [`routes`]; [`auth`] and [`security`] check who calls and from where;
//! [`error`] maps errors to HTTP; [`dto`] holds the wire types;
//! [`server`] runs the HTTP and HTTPS listeners with their connection
//! limits, and `body_limits` reads request bodies within size and time. The security policy is in
//! this crate's `SECURITY.md`.

pub mod auth;
mod body_limits;
pub mod dto;
mod edge;
pub mod error;
mod extract;
pub mod iothub_paths;
pub mod router;
mod routes;
pub mod security;
pub mod server;

use std::sync::{Arc, RwLock};

use hublet_core::Hub;

pub use router::router;
pub use routes::hub::https_host;
pub use security::SecurityConfig;
pub use server::{ApiServer, Limits};

use dto::ListenersDto;

/// What every handler shares.
///
/// axum clones the state for every request, once per middleware layer and
/// extractor, so it is one `Arc` around [`Shared`]: a clone is one counter
/// increment instead of a copy of each field (a profile of the method
/// burst showed the field-by-field clones and drops at 3 % of the async
/// workers' time). Read the fields through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// The hub.
    pub hub: Hub,
    /// The hub's bearer token.
    pub token: Arc<String>,
    /// Host and Origin rules.
    pub security: Arc<SecurityConfig>,
    /// Facts known once the listeners are up (for `/api/hub`).
    pub info: Arc<RwLock<ServerFacts>>,
    /// The simulator, when the hub runs one.
    pub sim: Option<hublet_sim::Simulator>,
    /// The bench bridge for serial boards, when the hub runs one.
    pub serial: Option<hublet_serial::SerialBridge>,
    /// The built UI (`ui/dist`) to serve at `/`, when given.
    pub ui_dir: Option<std::path::PathBuf>,
    /// The AMQP endpoint, which also takes AMQP connections arriving on the
    /// HTTPS port (Node's service SDK dials the port in its `HostName`).
    pub amqp: Option<hublet_amqp::AmqpServer>,
}

/// What the API reports about the running hub.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    /// Listener addresses.
    pub listeners: ListenersDto,
    /// The CA certificate (PEM), when TLS is on.
    pub ca_pem: Option<String>,
    /// Where the CA file is.
    pub ca_path: Option<String>,
    /// Hublet's version.
    pub version: String,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State for a hub with its token.
    pub fn new(hub: Hub, token: String, security: SecurityConfig, facts: ServerFacts) -> AppState {
        AppState(Arc::new(Shared {
            hub,
            token: Arc::new(token),
            security: Arc::new(security),
            info: Arc::new(RwLock::new(facts)),
            sim: None,
            serial: None,
            ui_dir: None,
            amqp: None,
        }))
    }

    /// The fields, to set while the state is built (before it is shared).
    fn build(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// The same state with the AMQP endpoint.
    pub fn with_amqp(mut self, amqp: hublet_amqp::AmqpServer) -> AppState {
        self.build().amqp = Some(amqp);
        self
    }

    /// The same state with a simulator.
    pub fn with_sim(mut self, sim: hublet_sim::Simulator) -> AppState {
        self.build().sim = Some(sim);
        self
    }

    /// The same state, serving the built UI from `dir` at `/`.
    pub fn with_ui(mut self, dir: std::path::PathBuf) -> AppState {
        self.build().ui_dir = Some(dir);
        self
    }

    /// The same state with a serial bridge.
    pub fn with_serial(mut self, bridge: hublet_serial::SerialBridge) -> AppState {
        self.build().serial = Some(bridge);
        self
    }

    pub(crate) fn facts(&self) -> ServerFacts {
        self.info.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A new random bearer token (32 bytes, hex).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}
