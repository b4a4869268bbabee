//! A board: the saved binding of a device id to a port identity, with the
//! port's settings. Kept in the hub's adapter state (namespace `serial`), so
//! it survives restarts and is deleted with the device.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ports::Identity;

/// Serial line settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export)]
pub struct SerialSettings {
    /// Baud rate.
    pub baud: u32,
    /// 5, 6, 7 or 8.
    pub data_bits: u8,
    /// `none`, `odd` or `even`.
    pub parity: String,
    /// 1 or 2.
    pub stop_bits: u8,
    /// `none`, `software` or `hardware`.
    pub flow_control: String,
    /// What ends the lines Hublet writes: `lf`, `crlf` or `cr`.
    pub line_ending: String,
    /// DTR level after opening (unset: leave as the driver sets it).
    pub dtr: Option<bool>,
    /// RTS level after opening.
    pub rts: Option<bool>,
}

impl Default for SerialSettings {
    fn default() -> Self {
        SerialSettings {
            baud: 115_200,
            data_bits: 8,
            parity: "none".into(),
            stop_bits: 1,
            flow_control: "none".into(),
            line_ending: "lf".into(),
            dtr: None,
            rts: None,
        }
    }
}

impl SerialSettings {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), String> {
        if self.baud == 0 || self.baud > 16_000_000 {
            return Err(format!("baud {} is out of range", self.baud));
        }
        if !(5..=8).contains(&self.data_bits) {
            return Err("data bits must be 5 to 8".into());
        }
        if !["none", "odd", "even"].contains(&self.parity.as_str()) {
            return Err(format!("parity '{}' is not none, odd or even", self.parity));
        }
        if !(1..=2).contains(&self.stop_bits) {
            return Err("stop bits must be 1 or 2".into());
        }
        if !["none", "software", "hardware"].contains(&self.flow_control.as_str()) {
            return Err(format!(
                "flow control '{}' is not none, software or hardware",
                self.flow_control
            ));
        }
        self.line_ending_bytes().map(|_| ())
    }

    /// The line ending as bytes.
    pub fn line_ending_bytes(&self) -> Result<&'static [u8], String> {
        match self.line_ending.as_str() {
            "lf" => Ok(b"\n"),
            "crlf" => Ok(b"\r\n"),
            "cr" => Ok(b"\r"),
            other => Err(format!("line ending '{other}' is not lf, crlf or cr")),
        }
    }
}

/// A saved board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardConfig {
    /// The hub device it is.
    pub device_id: String,
    /// How its port is recognised.
    pub identity: Identity,
    /// Line settings.
    pub settings: SerialSettings,
    /// Released on purpose (e.g. for a flashing tool): the port is left
    /// alone until it is reclaimed. (Stored as `detached` by Hublet 0.1.)
    #[serde(default, alias = "detached")]
    pub released: bool,
}
