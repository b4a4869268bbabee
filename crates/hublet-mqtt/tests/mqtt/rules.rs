//! Protocol rules: each violation closes only the offending connection and
//! is traced with its reason.

use std::time::Duration;

use hublet_core::TraceQuery;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet};

use crate::support::Bench;

async fn violation(b: &Bench, device: &str) -> String {
    let ev = b.traced(device, "device.detached").await;
    assert_eq!(
        ev[0].detail.detail_value()["reason"],
        "protocolViolation",
        "{:?}",
        ev[0].detail
    );
    ev[0].detail.detail_value()["description"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn publishing_before_connect_closes_the_connection() {
    let b = Bench::new().await;
    let mut raw = b.raw().await;
    raw.publish("devices/d1/messages/events/", QoS::AtMostOnce, b"x")
        .await;
    assert!(raw.closed().await);
    b.hub.trace().flush().await.unwrap();
    let evs = b
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["device.protocol".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        evs.iter().any(|e| e.detail.detail_value()["what"]
            .as_str()
            .unwrap()
            .contains("PUBLISH before CONNECT")),
        "{evs:?}"
    );
}

#[tokio::test]
async fn qos_2_publishes_close_the_connection() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.publish("devices/d1/messages/events/", QoS::ExactlyOnce, b"x")
        .await;
    assert!(raw.closed().await);
    assert!(violation(&b, "d1").await.contains("QoS 2"));
}

#[tokio::test]
async fn a_device_may_only_use_its_own_topics() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", true, true).await;
    raw.publish("devices/d2/messages/events/", QoS::AtLeastOnce, b"x")
        .await;
    assert!(raw.closed().await);
    assert!(violation(&b, "d1").await.contains("another device"));
}

#[tokio::test]
async fn topics_outside_the_catalogue_close_the_connection() {
    for topic in [
        "sensors/temperature",
        "devices/d1/messages/devicebound/",
        "$iothub/methods/res/ok/?$rid=1",
    ] {
        let b = Bench::new().await;
        b.device("d1").await;
        let mut raw = b.connected("d1", false, true).await;
        raw.publish(topic, QoS::AtMostOnce, b"x").await;
        assert!(raw.closed().await, "{topic}");
        violation(&b, "d1").await;
    }
}

#[tokio::test]
async fn subscriptions_are_limited_to_the_catalogue_and_to_five() {
    for filters in [
        vec!["devices/d2/messages/devicebound/#"],
        vec!["#"],
        vec!["devices/+/messages/devicebound/#"],
        vec![
            "$iothub/methods/POST/a/#",
            "$iothub/methods/POST/b/#",
            "$iothub/methods/POST/c/#",
            "$iothub/methods/POST/d/#",
            "$iothub/methods/POST/e/#",
            "$iothub/methods/POST/f/#",
        ],
    ] {
        let b = Bench::new().await;
        b.device("d1").await;
        let mut raw = b.connected("d1", false, true).await;
        let mut s = rumqttc::mqttbytes::v4::Subscribe::new(filters[0], QoS::AtLeastOnce);
        for f in &filters[1..] {
            s.add(f.to_string(), QoS::AtLeastOnce);
        }
        s.pkid = 3;
        raw.send(Packet::Subscribe(s)).await;
        assert!(raw.closed().await, "{filters:?}");
        violation(&b, "d1").await;
    }
}

#[tokio::test]
async fn qos_2_subscriptions_are_granted_qos_1() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    let mut s = rumqttc::mqttbytes::v4::Subscribe::new(
        "devices/d1/messages/devicebound/#",
        QoS::ExactlyOnce,
    );
    s.pkid = 9;
    raw.send(Packet::Subscribe(s)).await;
    match raw.recv().await {
        Some(Packet::SubAck(a)) => {
            assert_eq!(a.pkid, 9);
            assert_eq!(
                a.return_codes,
                vec![rumqttc::mqttbytes::v4::SubscribeReasonCode::Success(
                    QoS::AtLeastOnce
                )]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn silence_beyond_one_and_a_half_keep_alives_disconnects() {
    let b = Bench::new().await;
    b.device("d1").await;
    let token = b.token("d1", 7200).await;
    let mut raw = b.raw().await;
    assert_eq!(
        raw.connect("d1", Some("localhost/d1/"), Some(&token), true, 10)
            .await
            .code,
        ConnectReturnCode::Success
    );
    // Traffic within 15 s keeps it alive.
    b.clock.advance(Duration::from_secs(14));
    raw.send(Packet::PingReq).await;
    assert!(matches!(raw.recv().await, Some(Packet::PingResp)));
    b.clock.advance(Duration::from_secs(14));
    raw.send(Packet::PingReq).await;
    assert!(matches!(raw.recv().await, Some(Packet::PingResp)));
    // Then 15 s of silence.
    b.clock.advance(Duration::from_secs(15));
    assert!(raw.closed().await);
    let ev = b.traced("d1", "device.detached").await;
    assert_eq!(ev[0].detail.detail_value()["reason"], "keepAliveTimeout");
}

#[tokio::test]
async fn a_connection_that_never_sends_connect_is_closed() {
    let b = Bench::new().await;
    let mut raw = b.raw().await;
    for _ in 0..100 {
        if b.clock.sleepers() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.clock.advance(Duration::from_secs(10));
    assert!(raw.closed().await);
}

#[tokio::test]
async fn the_device_is_disconnected_when_its_sas_token_expires() {
    let b = Bench::new().await;
    b.device("d1").await;
    let token = b.token("d1", 600).await;
    let mut raw = b.raw().await;
    assert_eq!(
        raw.connect("d1", Some("localhost/d1/"), Some(&token), true, 1000)
            .await
            .code,
        ConnectReturnCode::Success
    );
    b.clock.advance(Duration::from_secs(600));
    assert!(raw.closed().await);
    let ev = b.traced("d1", "device.detached").await;
    assert_eq!(ev[0].detail.detail_value()["reason"], "tokenExpired");
}

#[tokio::test]
async fn a_second_connect_on_the_same_connection_is_a_violation() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.send(Packet::Connect(rumqttc::mqttbytes::v4::Connect::new("d1")))
        .await;
    assert!(raw.closed().await);
    violation(&b, "d1").await;
}
