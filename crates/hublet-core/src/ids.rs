//! Identifiers with IoT Hub's validation rules.
//!
//! A value of one of these types has passed validation, so code deeper in the
//! hub never re-checks a device id or a message id.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::HubError;

/// Maximum length of device ids and message ids (IoT Hub: 128 characters).
pub const MAX_ID_LEN: usize = 128;

/// Special characters IoT Hub allows in device ids besides ASCII letters and
/// digits: `- : . + % _ # * ? ! ( ) , = @ ; $ '`.
pub const DEVICE_ID_SPECIALS: &str = "-:.+%_#*?!(),=@;$'";

/// Special characters allowed in message ids (semantics reference 1.6).
pub const MESSAGE_ID_SPECIALS: &str = "-:.+%_#*?!(),=@;$'";

/// Characters excluded from method names besides space and tab (section 3.1).
pub const METHOD_NAME_EXCLUDED: &str = "$()<>@,;:\\\"/[]?={}";

fn check_charset(value: &str, what: &str, specials: &str) -> Result<(), HubError> {
    if value.is_empty() {
        return Err(HubError::invalid(format!("{what} must not be empty")));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(HubError::invalid(format!(
            "{what} is {} characters long; at most {MAX_ID_LEN} are allowed",
            value.chars().count()
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || specials.contains(*c)))
    {
        return Err(HubError::invalid(format!(
            "{what} '{}' contains '{}', which is not allowed: use ASCII letters, digits and {}",
            value.escape_default(),
            bad.escape_default(),
            specials
                .chars()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    Ok(())
}

/// A device id: 1 to 128 characters, ASCII letters, digits and
/// `- : . + % _ # * ? ! ( ) , = @ ; $ '`; case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    /// Validates `s` as a device id.
    pub fn new(s: impl Into<String>) -> Result<DeviceId, HubError> {
        let s = s.into();
        check_charset(&s, "device id", DEVICE_ID_SPECIALS)?;
        Ok(DeviceId(s))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DeviceId::new(s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DeviceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A module id: the same rules as a device id (IoT Hub's module identities).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ModuleId(String);

impl ModuleId {
    /// Validates `s` as a module id.
    pub fn new(s: impl Into<String>) -> Result<ModuleId, HubError> {
        let s = s.into();
        check_charset(&s, "module id", DEVICE_ID_SPECIALS)?;
        Ok(ModuleId(s))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who connects, owns a twin or answers a method: a device, or one of its
/// modules.
///
/// Its [`key`](Identity::key) (`device` or `device/module`, unambiguous as
/// neither id may contain `/`) is what the presence table, the trace and
/// the transports use, which is also the MQTT client id IoT Hub gives a
/// module connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// The device.
    pub device: DeviceId,
    /// The module, for a module identity.
    pub module: Option<ModuleId>,
}

impl Identity {
    /// A device identity.
    pub fn device(device: DeviceId) -> Identity {
        Identity {
            device,
            module: None,
        }
    }

    /// Validates a key: `device` or `device/module`.
    pub fn parse(key: &str) -> Result<Identity, HubError> {
        match key.split_once('/') {
            None => Ok(Identity::device(DeviceId::new(key)?)),
            Some((d, m)) => Ok(Identity {
                device: DeviceId::new(d)?,
                module: Some(ModuleId::new(m)?),
            }),
        }
    }

    /// A module identity from its two ids (each validated).
    pub fn module(device: &str, module: &str) -> Result<Identity, HubError> {
        Ok(Identity {
            device: DeviceId::new(device)?,
            module: Some(ModuleId::new(module)?),
        })
    }

    /// `device` or `device/module`.
    pub fn key(&self) -> String {
        match &self.module {
            None => self.device.to_string(),
            Some(m) => format!("{}/{m}", self.device),
        }
    }

    /// The module id, or `""` for the device itself (as stored).
    pub fn module_str(&self) -> &str {
        self.module.as_ref().map_or("", ModuleId::as_str)
    }

    /// The SAS resource path under the hub's host name:
    /// `devices/{d}` or `devices/{d}/modules/{m}`.
    pub fn resource_path(&self) -> String {
        match &self.module {
            None => format!("devices/{}", self.device),
            Some(m) => format!("devices/{}/modules/{m}", self.device),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Validates a C2D message id (section 1.6): 1 to 128 characters of ASCII
/// letters, digits and `- : . + % _ # * ? ! ( ) , = @ ; $ '`.
pub fn validate_message_id(s: &str) -> Result<(), HubError> {
    check_charset(s, "message id", MESSAGE_ID_SPECIALS)
}

/// Validates a direct-method name (section 3.1): printable US-ASCII without
/// `$ ( ) < > @ , ; : \ " / [ ] ? = { }`, space or tab.
pub fn validate_method_name(s: &str) -> Result<(), HubError> {
    if s.is_empty() {
        return Err(HubError::invalid("method name must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(HubError::invalid(format!(
            "method name is {} characters long; at most {MAX_ID_LEN} are allowed",
            s.len()
        )));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !c.is_ascii_graphic() || METHOD_NAME_EXCLUDED.contains(*c))
    {
        return Err(HubError::invalid(format!(
            "method name '{}' contains '{}', which is not allowed (printable ASCII except $ ( ) < > @ , ; : \\ \" / [ ] ? = {{ }} and spaces)",
            s.escape_default(),
            bad.escape_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_follow_iot_hub_rules() {
        for ok in [
            "dev1",
            "a",
            "A-b.c:d+e%f_g#h*i?j!k(l)m,n=o@p;q$r's",
            &"x".repeat(128),
        ] {
            assert!(DeviceId::new(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "",
            "with space",
            "slash/inside",
            "ünï",
            "tab\t",
            &"x".repeat(129),
            "a&b",
        ] {
            let err = DeviceId::new(bad).unwrap_err();
            assert_eq!(err.code().number(), 400004, "{bad:?}");
        }
    }

    #[test]
    fn identity_keys_name_a_device_or_one_of_its_modules() {
        let d = Identity::parse("dev1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.key(), d.module_str()), ("dev1".to_string(), ""));
        let m = Identity::parse("dev1/edge.mod").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.module_str(), "edge.mod");
        assert_eq!(m.key(), "dev1/edge.mod");
        assert_eq!(m.resource_path(), "devices/dev1/modules/edge.mod");
        for bad in ["", "/m", "d/", "d/m/x", "d/m n"] {
            assert!(Identity::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn method_names_exclude_the_documented_characters() {
        assert!(validate_method_name("reboot").is_ok());
        assert!(validate_method_name("set-led_2").is_ok());
        for bad in ["", "a b", "a/b", "$rid", "x?y", "a=b", "q{"] {
            assert!(validate_method_name(bad).is_err(), "{bad:?}");
        }
    }
}
