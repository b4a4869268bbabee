//! End-to-end tests of simulated devices through a real hub: MQTT gateway
//! and HTTP API on loopback, virtual time on the hub's clock.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod behaviours;
mod fleet;
