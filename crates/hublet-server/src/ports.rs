//! IoT Hub's standard ports, and what to do when this process may not bind
//! them.
//!
//! Every Azure IoT SDK dials IoT Hub's ports: MQTT over TLS on 8883, AMQP
//! over TLS on 5671, HTTPS on 443. The Node SDKs cannot be told another
//! HTTPS port (a `HostName` with `:port` is looked up as a host name), so a
//! connection string works with every SDK only when the hub serves HTTPS on
//! 443 and the string names no port. Linux lets a process bind 443 only as
//! root, with `CAP_NET_BIND_SERVICE`, or when
//! `net.ipv4.ip_unprivileged_port_start` allows it; otherwise the hub falls
//! back to 8443 and says, once per start, the one command that grants it.

use std::net::SocketAddr;

use hublet_api::dto::PortsMode;

/// IoT Hub's HTTPS port.
pub const IOT_HUB_HTTPS: u16 = 443;

/// Which ports are in force, from where HTTPS listens and where it was asked to.
pub fn mode(actual: Option<SocketAddr>, wanted: Option<SocketAddr>) -> PortsMode {
    match actual {
        None => PortsMode::NoHttps,
        Some(a) if a.port() == IOT_HUB_HTTPS => PortsMode::Standard,
        Some(a) if wanted.is_some_and(|w| w.port() == IOT_HUB_HTTPS && a != w) => {
            PortsMode::Fallback
        }
        Some(_) => PortsMode::Custom,
    }
}

/// The warning for a start that fell back from a privileged HTTPS port.
pub fn privileged_fallback(wanted: SocketAddr, instead: SocketAddr) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "hublet".into());
    format!(
        "HTTPS listens on {instead}, not on IoT Hub's port {}: this user may not bind ports below 1024. \
         Connection strings name localhost:{} until then, which the Python and C SDKs accept but the Node SDKs cannot dial. \
         To serve IoT Hub's ports so that one connection string works with every SDK, run once: \
         sudo setcap cap_net_bind_service=+ep {exe}",
        wanted.port(),
        instead.port(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Option<SocketAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_mode_follows_where_https_listens() {
        assert_eq!(
            mode(a("127.0.0.1:443"), a("127.0.0.1:443")),
            PortsMode::Standard
        );
        assert_eq!(
            mode(a("127.0.0.1:8443"), a("127.0.0.1:443")),
            PortsMode::Fallback
        );
        assert_eq!(
            mode(a("127.0.0.1:9443"), a("127.0.0.1:9443")),
            PortsMode::Custom
        );
        assert_eq!(mode(None, None), PortsMode::NoHttps);
    }

    #[test]
    fn the_fallback_warning_names_the_command_and_both_ports() {
        let w = privileged_fallback(
            "127.0.0.1:443".parse().expect("an address"),
            "127.0.0.1:8443".parse().expect("an address"),
        );
        assert!(w.contains("setcap cap_net_bind_service=+ep"), "{w}");
        assert!(
            w.contains("127.0.0.1:8443") && w.contains("port 443"),
            "{w}"
        );
    }
}
