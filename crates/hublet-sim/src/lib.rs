//! # hublet-sim: simulated devices and fleets
//!
//! For trainings without hardware, QA before the board exists, and load:
//! devices that live inside Hublet and behave like firmware. Each one is a
//! real client of the hub's MQTT listener (and of its HTTP device endpoints
//! when it must reject or abandon), described by a TOML [`profile`]:
//! method replies, C2D handling, telemetry, connectivity. Randomness is
//! seeded, and every wait uses the hub's clock, so a scenario can be
//! repeated exactly and tested in virtual time.
//!
//! - [`profile`]: the profile format and the profiles shipped with Hublet.
//! - [`template`]: JSON templates for replies and telemetry.
//! - `device`: one simulated device's life (connect, act, go offline, drop),
//!   and the faults injected into it from outside (`SimFault`).
//! - [`fleet`]: the [`Simulator`]: start, stop, list, persist.
//! - [`record`]: a profile from a recorded device's trace (`hublet sim record`).

mod device;
pub mod fleet;
pub mod profile;
pub mod record;
pub mod template;

pub use device::fault::SimFault;
pub use device::{SimStatus, Target};
pub use fleet::{FleetRequest, ProfileInfo, Simulator};
pub use profile::Profile;
