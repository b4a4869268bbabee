//! The bench bridge against emulated boards on real pseudo-terminals
//! (`serialport::TTYPort::pair()`), with the hub on a manual clock.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod console;
mod firmware;
mod hotplug;
mod traffic;
