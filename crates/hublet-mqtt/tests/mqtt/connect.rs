//! CONNECT: protocol, identity, credentials, sessions.

use hublet_core::registry::ConnectionState;
use hublet_core::{HubSettings, MethodCall};
use hublet_mqtt::GatewayConfig;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::support::Bench;

#[tokio::test]
async fn devices_connect_with_a_sas_token_over_tcp_and_tls() {
    let b = Bench::new().await;
    for (id, tls, via) in [("plain", false, "mqtt"), ("secure", true, "mqtts")] {
        b.device(id).await;
        let _c = b.connected(id, tls, true).await;
        let d = b.hub.registry().get(id).await.unwrap();
        assert_eq!(d.connection_state, ConnectionState::Connected);
        assert_eq!(d.transport.as_deref(), Some(via));
    }
}

#[tokio::test]
async fn bad_credentials_get_connack_5() {
    let b = Bench::new().await;
    b.device("d1").await;
    b.device("d2").await;
    let other = b.token("d2", 3600).await;
    let expired = b.token("d1", -5).await;
    for (what, user, pass) in [
        (
            "another device's token",
            "localhost/d1/?api-version=2021-04-12",
            other.as_str(),
        ),
        (
            "expired token",
            "localhost/d1/?api-version=2021-04-12",
            expired.as_str(),
        ),
        (
            "garbage password",
            "localhost/d1/?api-version=2021-04-12",
            "letmein",
        ),
        ("no password", "localhost/d1/?api-version=2021-04-12", ""),
        (
            "user name for another device",
            "localhost/d2/?api-version=2021-04-12",
            other.as_str(),
        ),
    ] {
        let mut raw = b.raw().await;
        let ack = raw.connect("d1", Some(user), Some(pass), true, 60).await;
        assert_eq!(ack.code, ConnectReturnCode::NotAuthorized, "{what}");
        assert!(!ack.session_present);
        assert!(raw.closed().await, "{what}: the connection must close");
    }
    let mut raw = b.raw().await;
    let ack = raw
        .connect(
            "ghost",
            Some("localhost/ghost/"),
            Some("SharedAccessSignature sr=x&sig=AAAA&se=1"),
            true,
            60,
        )
        .await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized, "unknown device");
    b.traced("d1", "device.auth_failed").await;
}

#[tokio::test]
async fn a_disabled_device_is_refused() {
    let b = Bench::new().await;
    b.device("d1").await;
    b.hub
        .registry()
        .set_enabled("d1", false, None)
        .await
        .unwrap();
    let token = b.token("d1", 3600).await;
    let mut raw = b.raw().await;
    assert_eq!(
        raw.connect("d1", Some("localhost/d1/"), Some(&token), true, 60)
            .await
            .code,
        ConnectReturnCode::NotAuthorized
    );
}

#[tokio::test]
async fn only_mqtt_3_1_1_is_accepted() {
    let b = Bench::new().await;
    // CONNECT with protocol level 3 (MQTT 3.1), client id "d1".
    let packet: &[u8] = &[
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 3, 0x02, 0, 60, 0, 2, b'd', b'1',
    ];
    let mut raw = b.raw().await;
    raw.framed.get_mut().write_all(packet).await.unwrap();
    match raw.recv().await {
        Some(Packet::ConnAck(a)) => assert_eq!(a.code, ConnectReturnCode::RefusedProtocolVersion),
        other => panic!("expected CONNACK 1, got {other:?}"),
    }
    assert!(raw.closed().await);
}

#[tokio::test]
async fn a_client_id_that_is_no_identity_is_refused_with_connack_2() {
    let b = Bench::new().await;
    for id in ["d1/m1/x", "d1/", "d 1"] {
        let mut raw = b.raw().await;
        let ack = raw.connect(id, None, Some("x"), true, 60).await;
        assert_eq!(ack.code, ConnectReturnCode::BadClientId, "{id}");
    }
}

#[tokio::test]
async fn user_names_are_parsed_loosely() {
    let b = Bench::new().await;
    b.device("d1").await;
    for user in [
        "localhost/d1/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%283.11.7%29",
        "myhub.azure-devices.net/d1/?api-version=2020-09-30&model-id=dtmi:com:example:Thermostat;1",
        "localhost/d1",
        "localhost/d1/api-version=2016-11-14",
    ] {
        let token = b.token("d1", 3600).await;
        let mut raw = b.raw().await;
        assert_eq!(
            raw.connect("d1", Some(user), Some(&token), true, 60)
                .await
                .code,
            ConnectReturnCode::Success,
            "{user}"
        );
    }
}

#[tokio::test]
async fn open_bench_lets_devices_in_without_a_token_only_when_switched_on() {
    let b = Bench::with(
        HubSettings {
            open_bench: true,
            ..HubSettings::default()
        },
        GatewayConfig::default(),
    )
    .await;
    b.device("d1").await;
    let mut raw = b.raw().await;
    assert_eq!(
        raw.connect("d1", Some("localhost/d1/"), None, true, 60)
            .await
            .code,
        ConnectReturnCode::Success
    );
    let mut raw = b.raw().await;
    assert_eq!(
        raw.connect("ghost", None, None, true, 60).await.code,
        ConnectReturnCode::NotAuthorized,
        "still only registered devices"
    );
}

#[tokio::test]
async fn a_second_connection_with_the_same_id_drops_the_first() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut first = b.connected("d1", false, true).await;
    let mut second = b.connected("d1", true, true).await;
    assert!(first.closed().await, "the first connection is dropped");
    second.send(Packet::PingReq).await;
    assert!(
        matches!(second.recv().await, Some(Packet::PingResp)),
        "the second stays"
    );
    let ev = b.traced("d1", "device.detached").await;
    assert_eq!(ev[0].detail.detail_value()["reason"], "replaced");
}

async fn method_reaches(b: &Bench, raw: &mut crate::support::Raw) {
    let hub = b.hub.clone();
    let call = tokio::spawn(async move {
        hub.methods()
            .invoke("d1", MethodCall::new("ping", json!({})))
            .await
    });
    let req = raw.next_publish().await;
    assert!(
        req.topic.starts_with("$iothub/methods/POST/ping/?$rid="),
        "{}",
        req.topic
    );
    let rid = req.topic.rsplit("$rid=").next().unwrap().to_string();
    raw.publish(
        &format!("$iothub/methods/res/200/?$rid={rid}"),
        QoS::AtMostOnce,
        b"{}",
    )
    .await;
    assert_eq!(call.await.unwrap().unwrap().status, 200);
}

#[tokio::test]
async fn a_persistent_session_keeps_subscriptions_across_reconnects_and_restarts() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, false).await;
    raw.subscribe(&[
        "$iothub/methods/POST/#",
        "devices/d1/messages/devicebound/#",
    ])
    .await;
    raw.send(Packet::Disconnect).await;
    assert!(raw.closed().await);

    // Reconnect with clean_session = 0: session present, no SUBSCRIBE needed.
    let token = b.token("d1", 3600).await;
    let mut raw = b.raw_tls().await;
    let ack = raw
        .connect("d1", Some("localhost/d1/"), Some(&token), false, 60)
        .await;
    assert!(ack.session_present);
    method_reaches(&b, &mut raw).await;
    drop(raw);

    // And after the hub restarts.
    let dir = b.stop().await;
    let b = Bench::open(dir, HubSettings::default(), &mut GatewayConfig::default()).await;
    let token = b.token("d1", 3600).await;
    let mut raw = b.raw().await;
    let ack = raw
        .connect("d1", Some("localhost/d1/"), Some(&token), false, 60)
        .await;
    assert!(ack.session_present, "the session survives a hub restart");
    method_reaches(&b, &mut raw).await;

    // clean_session = 1 discards it.
    drop(raw);
    let mut raw = b.raw().await;
    let ack = raw
        .connect("d1", Some("localhost/d1/"), Some(&token), true, 60)
        .await;
    assert!(!ack.session_present);
    let e = b
        .hub
        .methods()
        .invoke("d1", MethodCall::new("ping", json!({})))
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 404103, "no subscription any more");
}
