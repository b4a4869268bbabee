//! # hublet-serial: boards on USB / serial as hub devices
//!
//! The bench bridge. A developer binds a device id to a board's port; from
//! then on the board is that device: it receives C2D messages and answers
//! direct methods over a small line protocol, while everything else it
//! prints is a console log with millisecond host timestamps, kept in the
//! trace and in a ring buffer so boot output is never lost.
//!
//! - [`protocol`]: the line protocol (`@@ ` frames; everything else is console).
//! - [`ports`]: port discovery and the identity that follows a board across paths.
//! - [`board`]: a saved binding and its line settings.
//! - [`input`]: text, hex and escaped bytes a user sends.
//! - `link`: an open port's reader and writer threads.
//! - [`bridge`]: the [`SerialBridge`]: one task per board, hot-plug, console.
//! - [`emulator`]: a board on a pseudo-terminal, for tests and trainings.
//!
//! Like every edge, the bridge attaches devices through the core's one
//! attachment interface (`Hub::attach`); no mailbox or method logic is here.

pub mod board;
pub mod bridge;
pub mod emulator;
pub mod input;
mod link;
pub mod ports;
pub mod protocol;

pub use board::{BoardConfig, SerialSettings};
pub use bridge::{
    BoardState, BoardStatus, CONSOLE_LINES, ConsoleLine, LineDirection, SerialBridge,
};
pub use emulator::Emulator;
pub use ports::{Identity, PortInfo};
