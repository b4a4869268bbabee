//! Connection strings, as the Azure IoT SDKs read them.
//!
//! Devices get `HostName=…;DeviceId=…;SharedAccessKey=…`, plus
//! `GatewayHostName=…` when the hub's name is not the address the device
//! dials (the Azure Python SDK then dials the gateway, but signs and sends
//! the HostName). The service side gets
//! `HostName=…;SharedAccessKeyName=iothubowner;SharedAccessKey=…`.

use std::collections::BTreeMap;

use crate::error::HubError;

/// Builds a device connection string.
pub fn device(host_name: &str, device_id: &str, key: &str, gateway: Option<&str>) -> String {
    with_gateway(
        format!("HostName={host_name};DeviceId={device_id};SharedAccessKey={key}"),
        host_name,
        gateway,
    )
}

/// Builds a module connection string (IoT Hub's order: `HostName`,
/// `DeviceId`, `ModuleId`, `SharedAccessKey`).
pub fn module(
    host_name: &str,
    device_id: &str,
    module_id: &str,
    key: &str,
    gateway: Option<&str>,
) -> String {
    with_gateway(
        format!(
            "HostName={host_name};DeviceId={device_id};ModuleId={module_id};SharedAccessKey={key}"
        ),
        host_name,
        gateway,
    )
}

fn with_gateway(mut s: String, host_name: &str, gateway: Option<&str>) -> String {
    if let Some(g) = gateway.filter(|g| !g.eq_ignore_ascii_case(host_name)) {
        s.push_str(";GatewayHostName=");
        s.push_str(g);
    }
    s
}

/// Builds the Event Hub-compatible endpoint's connection string, as the
/// Event Hubs SDKs take it (`Endpoint=sb://host/;…;EntityPath=name`).
pub fn events(host: &str, policy: &str, key: &str, entity: &str) -> String {
    format!(
        "Endpoint=sb://{host}/;SharedAccessKeyName={policy};SharedAccessKey={key};EntityPath={entity}"
    )
}

/// Builds a service (policy) connection string.
pub fn service(host_name: &str, policy: &str, key: &str) -> String {
    format!("HostName={host_name};SharedAccessKeyName={policy};SharedAccessKey={key}")
}

/// A parsed connection string: its `Key=Value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionString(BTreeMap<String, String>);

impl ConnectionString {
    /// Parses `Key=Value;Key=Value`. Values may contain `=` (base64 keys do).
    pub fn parse(s: &str) -> Result<ConnectionString, HubError> {
        let mut map = BTreeMap::new();
        for part in s.trim().split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                HubError::invalid(format!("connection string part '{part}' has no '='"))
            })?;
            if map
                .insert(k.trim().to_string(), v.trim().to_string())
                .is_some()
            {
                return Err(HubError::invalid(format!(
                    "connection string names '{k}' twice"
                )));
            }
        }
        if !map.contains_key("HostName") {
            return Err(HubError::invalid("connection string has no HostName"));
        }
        Ok(ConnectionString(map))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `HostName`.
    pub fn host_name(&self) -> &str {
        self.get("HostName").unwrap_or_default()
    }

    /// `GatewayHostName` if present, else `HostName`: the address to dial.
    pub fn dial_host(&self) -> &str {
        self.get("GatewayHostName")
            .unwrap_or_else(|| self.host_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_is_added_only_when_it_differs_from_the_host_name() {
        assert_eq!(
            device("hub", "d", "k==", Some("hub")),
            "HostName=hub;DeviceId=d;SharedAccessKey=k=="
        );
        let s = device("myhub.azure-devices.net", "d", "k==", Some("localhost"));
        assert!(s.ends_with(";GatewayHostName=localhost"));
        let p = ConnectionString::parse(&s).unwrap();
        assert_eq!(p.get("SharedAccessKey"), Some("k=="));
        assert_eq!(p.dial_host(), "localhost");
        assert_eq!(p.host_name(), "myhub.azure-devices.net");
    }

    #[test]
    fn malformed_connection_strings_are_refused() {
        assert!(ConnectionString::parse("DeviceId=x").is_err());
        assert!(ConnectionString::parse("HostName=a;junk").is_err());
        assert!(ConnectionString::parse("HostName=a;HostName=b").is_err());
    }
}
