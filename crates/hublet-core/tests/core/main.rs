//! Integration tests of the hub core, one module per area (mirroring `src`).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod adapter;
mod attach;
mod bad_input;
mod contract;
mod crash;
mod events;
mod feedback;
mod mailbox;
mod methods;
mod model;
mod registry;
mod storage;
mod trace;
mod twins;
