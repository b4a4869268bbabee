//! Node addresses and `to` fields, as each SDK spells them.
//!
//! Targets and sources arrive as `/messages/devicebound` (Node, Java),
//! `amqps://host/messages/devicebound` (uamqp), `amqps://host:5671/messages/deviceBound`
//! (.NET), with the feedback node in either case. The scheme and authority
//! are dropped and the path compared case-insensitively. A message's `to` is
//! `/devices/{id}/messages/devicebound`, percent-encoded by Node and .NET,
//! raw from Python.

use percent_encoding::percent_decode_str;

/// The nodes Hublet serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// `$cbs`: claims-based security (put-token).
    Cbs,
    /// `/messages/devicebound`: C2D messages from the service.
    DeviceBound,
    /// `/messages/serviceBound/feedback`: delivery feedback for the service.
    Feedback,
}

/// The path of an address, without scheme, credentials or host.
pub fn path_of(address: &str) -> &str {
    match address.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => address,
    }
}

/// Which node an address names, if any.
pub fn node(address: &str) -> Option<Node> {
    let path = path_of(address).trim_end_matches('/');
    let path = path.split('?').next().unwrap_or(path);
    if path.eq_ignore_ascii_case("$cbs") || path.eq_ignore_ascii_case("/$cbs") {
        return Some(Node::Cbs);
    }
    if path.eq_ignore_ascii_case("/messages/devicebound") {
        return Some(Node::DeviceBound);
    }
    if path.eq_ignore_ascii_case("/messages/servicebound/feedback") {
        return Some(Node::Feedback);
    }
    None
}

/// The device a C2D message's `to` names.
pub fn device_of(to: &str) -> Result<String, String> {
    let path = path_of(to);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["devices", id, "messages", tail] if tail.eq_ignore_ascii_case("devicebound") => {
            Ok(percent_decode_str(id).decode_utf8_lossy().into_owned())
        }
        ["devices", _, "modules", _, "messages", _] => Err(format!(
            "'{to}' names a module: modules have no cloud-to-device queue (as on IoT Hub)"
        )),
        _ => Err(format!(
            "'to' must be /devices/{{deviceId}}/messages/devicebound, not '{to}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdks_spelling_of_the_nodes_is_understood() {
        for a in [
            "/messages/devicebound",
            "amqps://localhost/messages/devicebound",
            "amqps://localhost:5671/messages/deviceBound",
            "amqps://iothubowner%40sas.root.hub:tok@hub/messages/devicebound",
        ] {
            assert_eq!(node(a), Some(Node::DeviceBound), "{a}");
        }
        for a in [
            "/messages/serviceBound/feedback",
            "/messages/servicebound/feedback",
            "amqps://localhost:5671/messages/serviceBound/feedback",
        ] {
            assert_eq!(node(a), Some(Node::Feedback), "{a}");
        }
        assert_eq!(node("$cbs"), Some(Node::Cbs));
        assert_eq!(node("/messages/events"), None);
    }

    #[test]
    fn to_is_decoded_and_checked() {
        assert_eq!(device_of("/devices/d1/messages/devicebound").unwrap(), "d1");
        assert_eq!(
            device_of("/devices/my%20dev/messages/deviceBound").unwrap(),
            "my dev"
        );
        assert!(device_of("/devices/d1/modules/m/messages/devicebound").is_err());
        assert!(device_of("/devices/d1").is_err());
    }
}
