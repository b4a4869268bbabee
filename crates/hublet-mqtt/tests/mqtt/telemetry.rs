//! Telemetry, the Will message and the twin topics.

use hublet_core::MethodCall;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Connect, LastWill, Login, Packet};
use serde_json::json;

use crate::support::Bench;

#[tokio::test]
async fn telemetry_at_qos_0_and_1_is_traced_with_its_properties() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.publish(
        "devices/d1/messages/events/",
        QoS::AtMostOnce,
        br#"{"t":1}"#,
    )
    .await;
    raw.publish(
        "devices/d1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&alert=hot",
        QoS::AtLeastOnce,
        br#"{"t":2}"#,
    )
    .await;
    match raw.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.pkid, 1),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let mut evs = b.traced("d1", "telemetry.received").await;
    for _ in 0..100 {
        if evs.len() >= 2 {
            break;
        }
        evs = b.traced("d1", "telemetry.received").await;
    }
    assert_eq!(evs.len(), 2);
    assert_eq!(
        evs[1].detail.detail_value()["contentType"],
        "application/json"
    );
    assert_eq!(evs[1].detail.detail_value()["properties"]["alert"], "hot");
    assert_eq!(evs[1].detail.detail_value()["body"]["text"], r#"{"t":2}"#);
    assert_eq!(evs[0].detail.detail_value()["via"], "mqtt");
}

#[tokio::test]
async fn telemetry_over_256_kb_closes_the_connection() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.publish(
        "devices/d1/messages/events/",
        QoS::AtMostOnce,
        &vec![b'x'; 256 * 1024 + 1],
    )
    .await;
    assert!(raw.closed().await);
}

#[tokio::test]
async fn the_will_becomes_telemetry_only_when_the_connection_drops_ungracefully() {
    let b = Bench::new().await;
    b.device("d1").await;
    for graceful in [true, false] {
        let token = b.token("d1", 3600).await;
        let mut raw = b.raw().await;
        let mut c = Connect::new("d1");
        c.login = Some(Login::new("localhost/d1/", token));
        c.last_will = Some(LastWill::new(
            "devices/d1/messages/events/kind=will",
            b"gone".to_vec(),
            QoS::AtLeastOnce,
            false,
        ));
        raw.send(Packet::Connect(c)).await;
        assert!(matches!(raw.recv().await, Some(Packet::ConnAck(_))));
        if graceful {
            raw.send(Packet::Disconnect).await;
            assert!(raw.closed().await);
            b.traced("d1", "device.detached").await;
        } else {
            drop(raw);
        }
    }
    let mut wills = Vec::new();
    for _ in 0..200 {
        wills = b.traced("d1", "telemetry.received").await;
        if !wills.is_empty() {
            break;
        }
    }
    assert_eq!(wills.len(), 1, "only the ungraceful drop sends the Will");
    assert_eq!(
        wills[0].detail.detail_value()["properties"]["iothub-MessageType"],
        "Will"
    );
    assert_eq!(wills[0].detail.detail_value()["properties"]["kind"], "will");
    assert_eq!(wills[0].detail.detail_value()["body"]["text"], "gone");
}

#[tokio::test]
async fn twin_requests_are_answered_without_crashing_anything() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["$iothub/twin/res/#", "$iothub/methods/POST/#"])
        .await;
    raw.publish("$iothub/twin/GET/?$rid=abc", QoS::AtLeastOnce, b" ")
        .await;
    let p = raw.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/res/200/?$rid=abc");
    let body: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
    assert!(body["desired"].is_object() && body["reported"].is_object());
    raw.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=r2",
        QoS::AtMostOnce,
        br#"{"fw":"1.0"}"#,
    )
    .await;
    let p = raw.next_publish().await;
    assert!(
        p.topic
            .starts_with("$iothub/twin/res/204/?$rid=r2&$version="),
        "{}",
        p.topic
    );
    // The connection still works for everything else.
    let hub = b.hub.clone();
    let c = tokio::spawn(async move {
        hub.methods()
            .invoke("d1", MethodCall::new("m", json!(1)))
            .await
    });
    let req = raw.next_publish().await;
    let rid = req.topic.rsplit("$rid=").next().unwrap().to_string();
    raw.publish(
        &format!("$iothub/methods/res/200/?$rid={rid}"),
        QoS::AtMostOnce,
        b"1",
    )
    .await;
    assert_eq!(c.await.unwrap().unwrap().payload, json!(1));
}

#[tokio::test]
async fn a_puback_means_the_message_is_stored_and_pubacks_keep_their_order() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    let p = hublet_core::events::partition_of("d1", 4);
    for pkid in 1..=20u16 {
        let mut pb = rumqttc::mqttbytes::v4::Publish::new(
            "devices/d1/messages/events/",
            QoS::AtLeastOnce,
            pkid.to_string().into_bytes(),
        );
        pb.pkid = pkid;
        raw.send(Packet::Publish(pb)).await;
    }
    for want in 1..=20u16 {
        match raw.recv().await {
            Some(Packet::PubAck(a)) => {
                assert_eq!(a.pkid, want, "PUBACKs in the order of the PUBLISHes");
                // Acknowledged means committed: readable at once, no flush.
                let stored = b.hub.events().read(p, 0, 100).await.unwrap();
                assert!(
                    stored
                        .iter()
                        .any(|e| e.body == want.to_string().into_bytes()),
                    "message {want} was acknowledged before it was stored"
                );
            }
            other => panic!("expected PUBACK {want}, got {other:?}"),
        }
    }
}
