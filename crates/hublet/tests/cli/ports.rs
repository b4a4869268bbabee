//! IoT Hub's standard ports: HTTPS on 443 when the process may bind it, so
//! connection strings name no port; otherwise the fallback port, named in
//! the connection strings, and the one command that grants the privilege.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::bin;

/// Starts `hublet --json serve` (optionally under `setpriv` with the
/// privilege to bind low ports removed) and returns its ready document.
fn ready_document(without_low_ports: bool) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut c = if without_low_ports {
        let mut c = Command::new("setpriv");
        c.args([
            "--bounding-set=-net_bind_service",
            "--inh-caps=-net_bind_service",
        ])
        .arg(bin());
        c
    } else {
        Command::new(bin())
    };
    c.arg("--data-dir").arg(dir.path()).args([
        "--json",
        "serve",
        "--mqtt",
        "off",
        "--mqtts",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:443",
        "--https-fallback",
        "127.0.0.1:0",
        "--amqps",
        "off",
    ]);
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let doc = loop {
        let line = lines
            .next()
            .expect("serve printed its ready document")
            .unwrap();
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            break v;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    doc
}

/// Whether this process may bind 443: `Some(true)` yes, `Some(false)` no
/// privilege, `None` taken by another program.
fn may_bind_443() -> Option<bool> {
    match std::net::TcpListener::bind("127.0.0.1:443") {
        Ok(_) => Some(true),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(false),
        Err(_) => None,
    }
}

fn unprivileged_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// One test for both modes: they would contend for port 443 if run in parallel.
#[test]
fn https_on_iot_hubs_port_when_allowed_else_the_fallback_and_the_command_to_allow_it() {
    let Some(privileged) = may_bind_443() else {
        eprintln!("skipped: port 443 is taken by another program");
        return;
    };
    if privileged {
        let doc = ready_document(false);
        assert_eq!(doc["listeners"]["https"], "127.0.0.1:443");
        assert_eq!(doc["listeners"]["ports"], "standard");
        let cs = doc["serviceConnectionString"].as_str().unwrap();
        assert!(cs.starts_with("HostName=localhost;"), "{cs}");
        assert!(doc["warnings"].as_array().unwrap().is_empty(), "{doc}");
    }
    // The fallback: naturally for an ordinary user, under `setpriv` without
    // the capability for root.
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if unprivileged_start() <= 443 || (privileged && !setpriv) {
        eprintln!("skipped the fallback: needs setpriv and a kernel that guards ports below 1024");
        return;
    }
    let doc = ready_document(privileged);
    assert_eq!(doc["listeners"]["ports"], "fallback", "{doc}");
    let https = doc["listeners"]["https"].as_str().unwrap();
    let port = https.rsplit(':').next().unwrap();
    assert_ne!(port, "443");
    let cs = doc["serviceConnectionString"].as_str().unwrap();
    assert!(
        cs.starts_with(&format!("HostName=localhost:{port};")),
        "{cs}"
    );
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("sudo setcap cap_net_bind_service=+ep"),
        "{warnings}"
    );
}
