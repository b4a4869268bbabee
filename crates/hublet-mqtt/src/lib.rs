//! # hublet-mqtt: devices over MQTT, in Azure IoT Hub's device dialect
//!
//! A focused MQTT 3.1.1 server, built on rumqttc's packet codec, that lets
//! firmware written against the Azure IoT SDKs talk to Hublet unchanged. It
//! attaches each device to the hub core through the core's one attachment
//! interface ([`hublet_core::attach`]); no mailbox or method logic lives here.
//!
//! - [`server`]: listeners (TCP and TLS), accept loops, shutdown.
//! - [`connection`]: one device connection (CONNECT, packet loop, Will).
//! - [`session`]: the MQTT session state machine (subscriptions, in-flight
//!   C2D, packet ids), pure and unit-tested.
//! - [`topics`]: IoT Hub's topic catalogue and the CONNECT user name.
//!
//! Property bags (the properties in a topic's last segment) are the
//! engine's [`hublet_core::property_bag`], shared with the serial bridge and
//! the simulator.
//!
//! What the gateway does where IoT Hub's behaviour is open is written in
//! `docs/semantics.md` (section "MQTT gateway").

pub mod connection;
pub mod server;
pub mod session;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use server::Gateway;

/// Default C2D messages unacknowledged at once per device (see docs/semantics.md).
pub const DEFAULT_C2D_INFLIGHT: usize = 8;

/// The C2D window a hub may be configured with: at least one message, and
/// no more than a microcontroller's MQTT client could be asked to hold.
pub const C2D_INFLIGHT_RANGE: std::ops::RangeInclusive<usize> = 1..=64;

/// Gateway settings.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Plain TCP listener (IoT Hub itself has none; for bench firmware).
    pub tcp: Option<SocketAddr>,
    /// TLS listener and its settings.
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// C2D messages sent ahead of their PUBACKs, per device.
    pub c2d_inflight: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Most simultaneous connections on each listener. Whoever starts the
    /// gateway sets it from the descriptor budget (`hublet_net::Budget`).
    pub max_connections: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            tcp: None,
            tls: None,
            c2d_inflight: DEFAULT_C2D_INFLIGHT,
            connect_timeout: Duration::from_secs(10),
            max_connections: 50_000,
        }
    }
}

/// rustls, re-exported for callers building [`GatewayConfig::tls`].
pub use tokio_rustls::rustls;
