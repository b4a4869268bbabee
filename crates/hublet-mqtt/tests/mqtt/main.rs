//! Integration tests of the MQTT gateway on loopback: raw packets for the
//! rules, and rumqttc as a real client, over both listeners.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod c2d;
mod client;
mod connect;
mod fuzz;
mod methods;
mod modules;
mod rules;
mod telemetry;
mod twin;
