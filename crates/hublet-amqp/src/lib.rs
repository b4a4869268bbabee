//! # hublet-amqp: IoT Hub's AMQP service endpoint
//!
//! Every Azure IoT service SDK sends C2D messages over AMQP 1.0, authorized
//! by a CBS put-token, and the Node and .NET SDKs read feedback over it too.
//! This adapter serves that endpoint on top of the hub core: C2D sends go
//! through the same engine call as the REST send, feedback comes from the
//! same queue as the HTTPS feedback endpoint, tokens are checked by the same
//! SAS code as every other transport.
//!
//! AMQP itself is fe2o3-amqp's (its `acceptor`): framing, SASL frames,
//! sessions, links, credit and settlement. Hublet adds what is IoT Hub's:
//! the header sniffing that lets one port serve SASL and non-SASL clients
//! ([`connection`], with `hublet_net::Peeked`), the SASL mechanisms ([`sasl`]), CBS ([`cbs`]), the nodes and
//! their addresses ([`address`]), the C2D and feedback links ([`c2d`],
//! [`feedback`]), the Event Hub-compatible endpoint's partition readers and
//! `$management` ([`eventhub`]) and IoT Hub's error conditions ([`errors`]). TLS is the
//! hub's own (tokio-rustls with the local CA), from byte 0 as on port 5671;
//! the same connections also arrive over WebSockets on the HTTPS port
//! ([`websocket`]).
//!
//! Layout: [`server`] accepts on the listener; [`connection`] runs one
//! connection and routes its links; [`auth`] holds what a connection has
//! proved.

pub mod address;
pub mod auth;
pub mod c2d;
pub mod cbs;
pub mod connection;
pub mod errors;
pub mod eventhub;
pub mod feedback;
pub mod frame_guard;
pub mod sasl;
pub mod server;
pub mod websocket;

pub use server::{AmqpConfig, AmqpServer};
