//! The host name clients are told to dial for a listener: connection
//! strings, the Event Hub-compatible endpoint and the AMQP redirect all
//! name listeners the same way.

use std::net::{IpAddr, SocketAddr};

/// The host (no port) clients dial for a listener bound to `addr`:
/// `localhost` for a loopback or wildcard address (the certificate names
/// it), else the address itself, bracketed for IPv6.
pub fn client_host(addr: &SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_loopback() || ip.is_unspecified() => "localhost".to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// [`client_host`] with `:PORT` unless the port is the protocol's
/// `standard` one (which SDKs dial without being told). Text that is not
/// an address is returned as it is.
pub fn listener_host(addr: &str, standard: u16) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(a) if a.port() == standard => client_host(&a),
        Ok(a) => format!("{}:{}", client_host(&a), a.port()),
        Err(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_port_is_left_out_of_the_host_name() {
        assert_eq!(listener_host("127.0.0.1:443", 443), "localhost");
        assert_eq!(listener_host("0.0.0.0:443", 443), "localhost");
        assert_eq!(listener_host("127.0.0.1:8443", 443), "localhost:8443");
        assert_eq!(listener_host("192.168.1.5:443", 443), "192.168.1.5");
        assert_eq!(listener_host("192.168.1.5:8443", 443), "192.168.1.5:8443");
        assert_eq!(listener_host("[fe80::1]:5671", 5671), "[fe80::1]");
        assert_eq!(listener_host("[::1]:5672", 5671), "localhost:5672");
    }
}
