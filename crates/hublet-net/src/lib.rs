//! The TCP edge every Hublet listener shares (MQTT, MQTT over TLS, the REST
//! API over HTTP and HTTPS, and AMQP).
//!
//! One process serves all of them, so one listener must not be able to use
//! up what the others need. A desktop's default descriptor limit is often
//! 1,024: a thousand idle connections to one port would otherwise leave the
//! others unable to accept anything. So:
//!
//! - [`fd::raise_limit`] lifts the soft descriptor limit to the hard one at
//!   start, where the system allows it;
//! - [`fd::Budget`] splits what is left after a reserve (database, trace
//!   files, serial ports) into a share per listener, and each listener caps
//!   its connections at its share;
//! - [`accept::Acceptor`] accepts with a cap and backs off when accepting
//!   fails (`EMFILE`, `ENFILE`, `ENOBUFS`) instead of spinning, then resumes
//!   by itself when descriptors come back.
//!
//! This is the only place that knows these rules; the transports call it.

pub mod accept;
pub mod fd;
pub mod host;
pub mod peek;

pub use accept::{Acceptor, Incoming};
pub use fd::{Budget, Share};
pub use host::{client_host, listener_host};
pub use peek::Peeked;
