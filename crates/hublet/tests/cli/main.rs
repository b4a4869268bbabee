//! The real `hublet` binary against a real `hublet serve`.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod commands;
mod monitor;
mod ports;
mod scenarios;
mod scripting;
mod serial;
mod serve;
mod sim;
mod twin;
