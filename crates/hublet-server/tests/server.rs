//! A whole hub started and stopped as `hublet serve` and the desktop app do.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;

use hublet_server::{ServeConfig, ServerError, hubfile};

fn loopback_config(dir: &std::path::Path) -> ServeConfig {
    let lo = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    ServeConfig {
        mqtt: lo,
        mqtts: lo,
        api: lo,
        https: lo,
        ..ServeConfig::new(dir.to_path_buf())
    }
}

#[tokio::test]
async fn a_hub_starts_writes_hub_json_refuses_a_twin_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let running = hublet_server::start(loopback_config(dir.path()))
        .await
        .unwrap();
    let file = hubfile::read(dir.path()).expect("hub.json written");
    assert_eq!(file.api, running.api_url);
    assert_eq!(file.pid, std::process::id());
    assert!(running.listeners.mqtts.is_some() && running.pki.is_some());
    assert_eq!(
        hubfile::token(dir.path(), false).unwrap().as_deref(),
        Some(running.token.as_str())
    );

    let twin = hublet_server::start(loopback_config(dir.path())).await;
    assert!(
        matches!(twin, Err(ServerError::Hub(_))),
        "a second hub on the same data directory is refused"
    );

    running.shutdown().await.unwrap();
    assert!(hubfile::read(dir.path()).is_none(), "hub.json removed");
    let again = hublet_server::start(loopback_config(dir.path()))
        .await
        .unwrap();
    again.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_taken_api_port_moves_only_when_fallback_is_allowed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let strict = ServeConfig {
        api: Some(port),
        https: None,
        mqtts: None,
        ..loopback_config(dir.path())
    };
    let err = hublet_server::start(strict.clone())
        .await
        .err()
        .expect("port taken");
    assert!(err.to_string().contains("API"), "{err}");
    let relaxed = ServeConfig {
        api_port_fallback: true,
        ..strict
    };
    let running = hublet_server::start(relaxed).await.unwrap();
    let addr = running.api_addr().unwrap();
    assert_ne!(addr.port(), port.port());
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_ui_directory_without_an_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        ui_dir: Some(dir.path().join("nothing")),
        ..loopback_config(dir.path())
    };
    let err = hublet_server::start(cfg).await.err().expect("refused");
    assert!(err.to_string().contains("npm run build:ui"), "{err}");
}

#[tokio::test]
async fn a_c2d_window_outside_1_to_64_is_refused_before_anything_starts() {
    for bad in [0, 65] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            c2d_inflight: bad,
            ..loopback_config(dir.path())
        };
        let err = hublet_server::start(cfg).await.err().expect("refused");
        assert!(matches!(err, ServerError::Config(_)), "{err}");
        assert!(err.to_string().contains("between 1 and 64"), "{err}");
        assert!(
            !dir.path().join(hublet_core::DB_FILE).exists(),
            "no hub was opened"
        );
    }
}

#[test]
fn listener_addresses_take_off_or_an_address() {
    assert_eq!(hublet_server::listen_addr("mqtt", "OFF").unwrap(), None);
    assert_eq!(
        hublet_server::listen_addr("mqtt", "127.0.0.1:1883").unwrap(),
        Some(SocketAddr::from(([127, 0, 0, 1], 1883)))
    );
    let err = hublet_server::listen_addr("mqtt", "localhost").unwrap_err();
    assert!(err.to_string().contains("--mqtt 'localhost'"), "{err}");
}
