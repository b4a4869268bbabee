//! Integration tests of the REST API on loopback (HTTP and HTTPS), with a
//! real HTTP client.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod api;
mod device_http;
mod input;
mod iothub;
mod limits;
mod modules;
mod security;
mod serial;
mod stream;
