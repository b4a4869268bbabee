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
        amqps: lo,
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
        amqps: None,
        ..loopback_config(dir.path())
    };
    let err = hublet_server::start(strict.clone())
        .await
        .err()
        .expect("port taken");
    let text = err.to_string();
    assert!(
        matches!(&err, ServerError::Listen { flag: "api", addr, kind: std::io::ErrorKind::AddrInUse, .. } if *addr == port),
        "{err:?}"
    );
    assert!(
        text.contains(&port.to_string()) && text.contains("--api"),
        "names the address and the option: {text}"
    );
    assert_eq!(text.matches("in use").count(), 1, "says it once: {text}");
    // This test process holds the port, and the error says so.
    let me = format!("(pid {})", std::process::id());
    assert!(
        matches!(&err, ServerError::Listen { holder: Some(h), .. } if h.ends_with(&me)),
        "names who holds the port: {err:?}"
    );
    assert!(text.contains(&me), "{text}");
    assert!(
        hubfile::read(dir.path()).is_none(),
        "no hub.json after a failed start"
    );
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

#[tokio::test]
async fn the_demo_starts_around_a_users_own_device_and_beside_a_users_fleet() {
    use hublet_core::{DeviceKind, Hub, HubOptions, NewDevice};
    let dir = tempfile::tempdir().unwrap();
    // The user registered `thermostat-1` (as getting-started.md tells them).
    {
        let hub = Hub::open(
            HubOptions::new(dir.path().join(hublet_core::DB_FILE)).background_tasks(false),
        )
        .await
        .unwrap();
        hub.registry()
            .create(NewDevice::named("thermostat-1"))
            .await
            .unwrap();
        hub.close().await.unwrap();
    }
    let cfg = ServeConfig {
        demo: true,
        ..loopback_config(dir.path())
    };
    let running = hublet_server::start(cfg.clone()).await.unwrap();
    let sims = running.sim.as_ref().unwrap().list();
    let thermostats: Vec<String> = sims
        .iter()
        .filter(|s| s.profile == "thermostat")
        .map(|s| s.device_id.clone())
        .collect();
    assert_eq!(thermostats.len(), 2, "{thermostats:?}");
    assert!(!thermostats.contains(&"thermostat-1".to_string()));
    let mine = running.hub.registry().get("thermostat-1").await.unwrap();
    assert_eq!(
        mine.kind,
        DeviceKind::Standard,
        "the user's device is untouched"
    );
    // A fleet of the user's own, persisted: it does not suppress the demo
    // on the next start, and the demo reuses its own devices.
    running
        .sim
        .as_ref()
        .unwrap()
        .start(hublet_sim::FleetRequest {
            profile: "door-lock".into(),
            count: Some(3),
            prefix: Some("lab".into()),
            seed: Some(7),
            persist: true,
            ids: Vec::new(),
        })
        .await
        .unwrap();
    let before: usize = sims.len();
    running.shutdown().await.unwrap();
    let running = hublet_server::start(cfg).await.unwrap();
    let sims = running.sim.as_ref().unwrap().list();
    assert_eq!(
        sims.len(),
        before + 3,
        "the demo's devices and the user's fleet"
    );
    assert_eq!(
        running.report.demo_devices, 0,
        "nothing new for the demo to start"
    );
    let lab = sims.iter().find(|s| s.device_id == "lab-2").unwrap();
    assert_eq!(
        (lab.seed, lab.fleet_index),
        (7, Some(1)),
        "the seed shown is the one given"
    );
    running.shutdown().await.unwrap();
}

/// AMQP over WebSockets on the API's HTTP port (as on the HTTPS one): the
/// upgrade needs the AMQP subprotocol and a Host of the hub's, and then the
/// socket speaks AMQP.
#[tokio::test]
async fn the_api_port_upgrades_amqp_websockets_and_refuses_other_subprotocols() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let running = hublet_server::start(loopback_config(dir.path()))
        .await
        .unwrap();
    let api = running.api_url.clone().unwrap();
    let host = api
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let request = |protocol: &str| {
        let mut r = format!("ws://{host}/$servicebus/websocket")
            .into_client_request()
            .unwrap();
        r.headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        r
    };

    let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let refused = tokio_tungstenite::client_async(request("mqtt"), tcp).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(res)) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}")
    };
    assert_eq!(res.status(), 400);
    let body = String::from_utf8(res.body().clone().unwrap_or_default()).unwrap();
    assert!(body.contains("AMQPWSB10"), "{body}");

    // A page that reached the port by DNS rebinding names its own host:
    // refused by the same Host check as every API request.
    let mut foreign = "ws://rebind.example/$servicebus/websocket"
        .into_client_request()
        .unwrap();
    foreign
        .headers_mut()
        .insert("sec-websocket-protocol", "AMQPWSB10".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let refused = tokio_tungstenite::client_async(foreign, tcp).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(res)) = refused else {
        panic!("expected the foreign host to be refused, got {refused:?}")
    };
    assert!(res.status().is_client_error(), "{}", res.status());

    let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut ws, res) = tokio_tungstenite::client_async(request("AMQPWSB10"), tcp)
        .await
        .unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "AMQPWSB10");
    ws.send(Message::Binary(b"AMQP\x03\x01\x00\x00".to_vec().into()))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 8 {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => got.extend_from_slice(&b),
            other => panic!("expected AMQP bytes, got {other:?}"),
        }
    }
    assert_eq!(
        &got[..8],
        b"AMQP\x03\x01\x00\x00",
        "the SASL header comes back"
    );
    drop(ws);
    running.shutdown().await.unwrap();
}
