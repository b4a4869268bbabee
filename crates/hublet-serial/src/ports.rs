//! Finding serial ports, and recognising a board when its path changes.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A serial port the machine has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PortInfo {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// USB vendor id, for USB ports.
    pub vid: Option<u16>,
    /// USB product id.
    pub pid: Option<u16>,
    /// USB serial number.
    pub serial_number: Option<String>,
    /// USB manufacturer string.
    pub manufacturer: Option<String>,
    /// USB product string.
    pub product: Option<String>,
}

/// How a board is recognised: by USB identity where the port has one (it
/// follows the board from `/dev/ttyUSB0` to `/dev/ttyUSB1`), else by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Identity {
    /// USB VID, PID and (when the adapter has one) serial number.
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
        /// Serial number.
        serial_number: Option<String>,
    },
    /// A fixed path (built-in UARTs, pseudo-terminals, symlinks).
    Path {
        /// The path.
        path: String,
    },
}

impl Identity {
    /// The identity of a port.
    pub fn of(p: &PortInfo) -> Identity {
        match (p.vid, p.pid) {
            (Some(vid), Some(pid)) => Identity::Usb {
                vid,
                pid,
                serial_number: p.serial_number.clone(),
            },
            _ => Identity::Path {
                path: p.path.clone(),
            },
        }
    }

    /// Whether `p` is this board.
    pub fn matches(&self, p: &PortInfo) -> bool {
        match self {
            Identity::Usb {
                vid,
                pid,
                serial_number,
            } => {
                p.vid == Some(*vid)
                    && p.pid == Some(*pid)
                    && (serial_number.is_none() || p.serial_number == *serial_number)
            }
            Identity::Path { path } => p.path == *path,
        }
    }

    /// Words for users, e.g. `USB 10c4:ea60 #0001` or `/dev/ttyS0`.
    pub fn describe(&self) -> String {
        match self {
            Identity::Usb {
                vid,
                pid,
                serial_number,
            } => format!(
                "USB {vid:04x}:{pid:04x}{}",
                serial_number
                    .as_ref()
                    .map(|s| format!(" #{s}"))
                    .unwrap_or_default()
            ),
            Identity::Path { path } => path.clone(),
        }
    }
}

/// The machine's serial ports. Never fails: a machine without them (or
/// without `/sys/class/tty`) has none.
pub fn available() -> Vec<PortInfo> {
    if cfg!(target_os = "linux") && !std::path::Path::new("/sys/class/tty").is_dir() {
        return Vec::new();
    }
    let ports = match serialport::available_ports() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("cannot list serial ports: {e}");
            return Vec::new();
        }
    };
    ports
        .into_iter()
        .map(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(u) => PortInfo {
                path: p.port_name,
                vid: Some(u.vid),
                pid: Some(u.pid),
                serial_number: u.serial_number,
                manufacturer: u.manufacturer,
                product: u.product,
            },
            _ => PortInfo {
                path: p.port_name,
                vid: None,
                pid: None,
                serial_number: None,
                manufacturer: None,
                product: None,
            },
        })
        .collect()
}

/// [`available`] off the async workers: listing ports reads sysfs (and
/// udev) and can take milliseconds, too long for a tokio worker thread.
pub async fn available_async() -> Vec<PortInfo> {
    tokio::task::spawn_blocking(available)
        .await
        .unwrap_or_default()
}

/// [`locate`] off the async workers (see [`available_async`]).
pub async fn locate_async(identity: &Identity) -> Option<String> {
    let identity = identity.clone();
    tokio::task::spawn_blocking(move || locate(&identity))
        .await
        .ok()
        .flatten()
}

/// Where the board with `identity` is now, if it is plugged in.
pub fn locate(identity: &Identity) -> Option<String> {
    match identity {
        Identity::Path { path } => std::path::Path::new(path).exists().then(|| path.clone()),
        usb => available()
            .into_iter()
            .find(|p| usb.matches(p))
            .map(|p| p.path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb(path: &str, serial: Option<&str>) -> PortInfo {
        PortInfo {
            path: path.into(),
            vid: Some(0x10c4),
            pid: Some(0xea60),
            serial_number: serial.map(str::to_string),
            manufacturer: Some("Silicon Labs".into()),
            product: Some("CP2102".into()),
        }
    }

    #[test]
    fn a_usb_board_is_recognised_on_a_new_path_but_not_a_twin_with_another_serial() {
        let id = Identity::of(&usb("/dev/ttyUSB0", Some("0001")));
        assert!(id.matches(&usb("/dev/ttyUSB3", Some("0001"))));
        assert!(!id.matches(&usb("/dev/ttyUSB0", Some("0002"))));
        assert_eq!(id.describe(), "USB 10c4:ea60 #0001");
        let plain = PortInfo {
            vid: None,
            pid: None,
            ..usb("/dev/ttyS0", None)
        };
        assert_eq!(
            Identity::of(&plain),
            Identity::Path {
                path: "/dev/ttyS0".into()
            }
        );
    }
}
