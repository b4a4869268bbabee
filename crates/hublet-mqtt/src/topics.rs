//! IoT Hub's MQTT topic catalogue (semantics reference 4.5), from the
//! device's side: what it may subscribe to, what it may publish, and the
//! topics the hub publishes on. Anything else is a protocol violation; the
//! hub closes the connection, as IoT Hub does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A subscription the catalogue allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Filter {
    /// `devices/{id}/messages/devicebound/#`
    C2d,
    /// `$iothub/methods/POST/#`
    Methods,
    /// `$iothub/methods/POST/{name}/#`: one method only.
    Method(String),
    /// `$iothub/twin/res/#`
    TwinResponses,
    /// `$iothub/twin/PATCH/properties/desired/#`
    TwinDesired,
}

/// A rule broken by a device; the text is shown in the trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

impl Violation {
    pub(crate) fn new(s: impl Into<String>) -> Violation {
        Violation(s.into())
    }
}

/// Parses a SUBSCRIBE filter of `device`.
pub fn parse_filter(device: &str, filter: &str) -> Result<Filter, Violation> {
    match filter {
        "$iothub/methods/POST/#" => return Ok(Filter::Methods),
        "$iothub/twin/res/#" => return Ok(Filter::TwinResponses),
        "$iothub/twin/PATCH/properties/desired/#" => return Ok(Filter::TwinDesired),
        _ => {}
    }
    if let Some(name) = filter
        .strip_prefix("$iothub/methods/POST/")
        .and_then(|r| r.strip_suffix("/#"))
        && hublet_core::ids::validate_method_name(name).is_ok()
    {
        return Ok(Filter::Method(name.to_string()));
    }
    if let Some(id) = filter
        .strip_prefix("devices/")
        .and_then(|rest| rest.strip_suffix("/messages/devicebound/#"))
    {
        if device.contains('/') {
            return Err(Violation::new(format!(
                "subscription to '{filter}': modules receive no cloud-to-device messages (this connection is module '{device}')"
            )));
        }
        if id == device {
            return Ok(Filter::C2d);
        }
        return Err(Violation::new(format!(
            "subscription to '{filter}' names another device (this connection is '{device}')"
        )));
    }
    if filter.contains('+') || filter.contains('#') {
        return Err(Violation::new(format!(
            "subscription filter '{filter}' uses a wildcard IoT Hub does not allow (only the documented trailing '#')"
        )));
    }
    Err(Violation::new(format!(
        "subscription to '{filter}' is outside IoT Hub's topic catalogue"
    )))
}

/// The topic filter string for a [`Filter`].
pub fn filter_topic(device: &str, f: &Filter) -> String {
    match f {
        Filter::C2d => format!("devices/{device}/messages/devicebound/#"),
        Filter::Methods => "$iothub/methods/POST/#".into(),
        Filter::Method(name) => format!("$iothub/methods/POST/{name}/#"),
        Filter::TwinResponses => "$iothub/twin/res/#".into(),
        Filter::TwinDesired => "$iothub/twin/PATCH/properties/desired/#".into(),
    }
}

/// What a device PUBLISH means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Telemetry; the property bag (possibly empty) follows.
    Telemetry {
        /// The raw bag.
        bag: String,
    },
    /// A direct-method response.
    MethodResponse {
        /// The status in the topic.
        status: i32,
        /// `$rid`.
        request_id: String,
    },
    /// A twin GET.
    TwinGet {
        /// `$rid`.
        request_id: String,
    },
    /// A reported-properties PATCH.
    TwinPatchReported {
        /// `$rid`.
        request_id: String,
    },
}

/// Classifies a PUBLISH topic of `device`.
pub fn parse_publish(device: &str, topic: &str) -> Result<Inbound, Violation> {
    if let Some(rest) = topic.strip_prefix("devices/") {
        let path = topic_path(device);
        let own = format!("{path}/messages/events");
        if let Some(after) = rest.strip_prefix(&own) {
            if after.is_empty() {
                return Ok(Inbound::Telemetry { bag: String::new() });
            }
            if let Some(bag) = after.strip_prefix('/') {
                if bag.contains('/') {
                    return Err(Violation::new(format!(
                        "telemetry topic '{topic}' has an unencoded '/' in its property bag"
                    )));
                }
                return Ok(Inbound::Telemetry {
                    bag: bag.to_string(),
                });
            }
        }
        if !rest.starts_with(&format!("{path}/")) {
            return Err(Violation::new(format!(
                "publish to '{topic}' names another device (this connection is '{device}')"
            )));
        }
    }
    if let Some(rest) = topic.strip_prefix("$iothub/methods/res/") {
        let (status, query) = rest.split_once('/').ok_or_else(|| {
            Violation::new(format!("method response topic '{topic}' has no '/?$rid=…'"))
        })?;
        let status: i32 = status.parse().map_err(|_| {
            Violation::new(format!(
                "method response status '{status}' is not an integer"
            ))
        })?;
        return Ok(Inbound::MethodResponse {
            status,
            request_id: rid(topic, query)?,
        });
    }
    if let Some(query) = topic.strip_prefix("$iothub/twin/GET/") {
        return Ok(Inbound::TwinGet {
            request_id: rid(topic, query)?,
        });
    }
    if let Some(query) = topic.strip_prefix("$iothub/twin/PATCH/properties/reported/") {
        return Ok(Inbound::TwinPatchReported {
            request_id: rid(topic, query)?,
        });
    }
    Err(Violation::new(format!(
        "publish to '{topic}' is outside IoT Hub's topic catalogue"
    )))
}

/// The query items of `?a=b&c=d`.
/// The identity's part of a topic: `d` for a device, `d/modules/m` for a
/// module (whose connection's key is `d/m`).
fn topic_path(key: &str) -> String {
    match key.split_once('/') {
        Some((d, m)) => format!("{d}/modules/{m}"),
        None => key.to_string(),
    }
}

fn query(q: &str) -> BTreeMap<String, String> {
    hublet_core::property_bag::decode(q)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect()
}

fn rid(topic: &str, q: &str) -> Result<String, Violation> {
    query(q)
        .remove("$rid")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Violation::new(format!("topic '{topic}' has no $rid")))
}

/// The C2D delivery topic for a property bag.
pub fn c2d_topic(device: &str, bag: &str) -> String {
    format!("devices/{device}/messages/devicebound/{bag}")
}

/// The method request topic.
pub fn method_topic(name: &str, request_id: &str) -> String {
    format!(
        "$iothub/methods/POST/{}/?$rid={}",
        name,
        hublet_core::property_bag::escape(request_id)
    )
}

/// The CONNECT user name, parsed loosely: `host/deviceId[/moduleId]/?query`,
/// `host/deviceId`, or the old `host/deviceId/api-version=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    /// The hub host name the device believes it talks to.
    pub host: String,
    /// The device id.
    pub device: String,
    /// The module id, if the identity is a module.
    pub module: Option<String>,
    /// Query parameters (`api-version`, `DeviceClientType`, `model-id`, ...).
    pub query: BTreeMap<String, String>,
}

/// Parses a CONNECT user name.
pub fn parse_username(u: &str) -> Result<UserName, Violation> {
    let (path, q) = match u.split_once("/?") {
        Some((p, q)) => (p, q),
        None => (u, ""),
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.last().is_some_and(|p| p.starts_with("api-version=")) {
        parts.pop();
    }
    if parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    let (host, device, module) = match parts.as_slice() {
        [host, device] => (*host, *device, None),
        [host, device, module] => (*host, *device, Some(module.to_string())),
        _ => {
            return Err(Violation::new(format!(
                "user name '{u}' is not '{{hub host}}/{{device id}}/?api-version=…'"
            )));
        }
    };
    Ok(UserName {
        host: host.to_string(),
        device: device.to_string(),
        module,
        query: query(q),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_filters_are_allowed() {
        assert_eq!(
            parse_filter("d1", "devices/d1/messages/devicebound/#"),
            Ok(Filter::C2d)
        );
        assert_eq!(
            parse_filter("d1", "$iothub/methods/POST/#"),
            Ok(Filter::Methods)
        );
        assert_eq!(
            parse_filter("d1", "$iothub/twin/res/#"),
            Ok(Filter::TwinResponses)
        );
        assert_eq!(
            parse_filter("d1", "$iothub/methods/POST/reboot/#"),
            Ok(Filter::Method("reboot".into()))
        );
        for bad in [
            "devices/d2/messages/devicebound/#",
            "devices/+/messages/devicebound/#",
            "#",
            "devices/d1/messages/devicebound/+",
            "$iothub/methods/POST/reboot",
            "sensors/temperature",
        ] {
            assert!(parse_filter("d1", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn publishes_are_classified() {
        assert_eq!(
            parse_publish("d1", "devices/d1/messages/events/"),
            Ok(Inbound::Telemetry { bag: String::new() })
        );
        assert_eq!(
            parse_publish(
                "d1",
                "devices/d1/messages/events/%24.ct=application%2Fjson&a=b"
            ),
            Ok(Inbound::Telemetry {
                bag: "%24.ct=application%2Fjson&a=b".into()
            })
        );
        assert_eq!(
            parse_publish("d1", "$iothub/methods/res/200/?$rid=7"),
            Ok(Inbound::MethodResponse {
                status: 200,
                request_id: "7".into()
            })
        );
        assert_eq!(
            parse_publish("d1", "$iothub/methods/res/-3/?$rid=abc&x=y"),
            Ok(Inbound::MethodResponse {
                status: -3,
                request_id: "abc".into()
            })
        );
        assert!(matches!(
            parse_publish("d1", "$iothub/twin/GET/?$rid=1"),
            Ok(Inbound::TwinGet { .. })
        ));
        for bad in [
            "devices/d2/messages/events/",
            "devices/d1/messages/devicebound/",
            "devices/d1/modules/m/messages/events/",
            "devices/d1/modules/m/messages/events/a=1",
            "$iothub/methods/res/ok/?$rid=1",
            "$iothub/methods/res/200/",
            "$iothub/methods/res/200/?rid=1",
            "hello/world",
            "",
        ] {
            assert!(parse_publish("d1", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_module_publishes_under_its_own_path_and_has_no_c2d() {
        assert_eq!(
            parse_publish("d1/m1", "devices/d1/modules/m1/messages/events/a=1"),
            Ok(Inbound::Telemetry { bag: "a=1".into() })
        );
        for bad in [
            "devices/d1/messages/events/",
            "devices/d1/modules/m2/messages/events/",
        ] {
            assert!(parse_publish("d1/m1", bad).is_err(), "{bad:?}");
        }
        assert!(parse_filter("d1/m1", "devices/d1/messages/devicebound/#").is_err());
        assert!(parse_filter("d1/m1", "devices/d1/m1/messages/devicebound/#").is_err());
        assert_eq!(
            parse_filter("d1/m1", "$iothub/twin/res/#"),
            Ok(Filter::TwinResponses)
        );
    }

    #[test]
    fn user_names_are_parsed_loosely() {
        let u = parse_username(
            "myhub.azure-devices.net/dev1/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0",
        )
        .unwrap();
        assert_eq!(
            (u.host.as_str(), u.device.as_str()),
            ("myhub.azure-devices.net", "dev1")
        );
        assert_eq!(
            u.query["DeviceClientType"],
            "azure-iot-device-iothub-py/2.14.0"
        );
        assert_eq!(parse_username("hub/dev1").unwrap().device, "dev1");
        assert_eq!(parse_username("hub/dev1/").unwrap().device, "dev1");
        assert_eq!(
            parse_username("hub/dev1/api-version=2016-11-14")
                .unwrap()
                .device,
            "dev1"
        );
        assert_eq!(
            parse_username("hub/dev1/mod1/?api-version=2021-04-12")
                .unwrap()
                .module
                .as_deref(),
            Some("mod1")
        );
        assert!(parse_username("just-a-name").is_err());
    }
}
