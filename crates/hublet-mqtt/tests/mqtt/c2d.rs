//! C2D delivery over MQTT: property bags, QoS 1, in-order PUBACKs, window,
//! redelivery.

use std::collections::BTreeMap;
use std::time::Duration;

use hublet_core::property_bag as bag;
use hublet_core::{AckMode, EventKind, MessageState, NewMessage};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck};

use crate::support::Bench;

fn message(id: &str) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        correlation_id: Some("corr-1".into()),
        content_type: Some("application/json".into()),
        content_encoding: Some("utf-8".into()),
        ack: AckMode::Full,
        properties: BTreeMap::from([
            ("color".to_string(), "blue".to_string()),
            ("empty".to_string(), String::new()),
        ]),
        ..NewMessage::text(format!("{{\"id\":\"{id}\"}}"))
    }
}

#[tokio::test]
async fn messages_arrive_at_qos_1_with_their_properties_and_a_puback_completes_them() {
    for tls in [false, true] {
        let b = Bench::new().await;
        b.device("d1").await;
        let mut raw = b.connected("d1", tls, true).await;
        raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
        b.hub.mailbox().send("d1", message("m1")).await.unwrap();
        let p = raw.next_publish().await;
        assert_eq!(p.qos, QoS::AtLeastOnce);
        assert!(!p.dup);
        let bag_text = p
            .topic
            .strip_prefix("devices/d1/messages/devicebound/")
            .unwrap();
        assert!(!bag_text.contains('/'), "the SDK splits topics on '/'");
        let props: BTreeMap<String, Option<String>> = bag::decode(bag_text).into_iter().collect();
        assert_eq!(props["$.mid"].as_deref(), Some("m1"));
        assert_eq!(
            props["$.to"].as_deref(),
            Some("/devices/d1/messages/devicebound")
        );
        assert_eq!(props["$.cid"].as_deref(), Some("corr-1"));
        assert_eq!(props["$.ct"].as_deref(), Some("application/json"));
        assert_eq!(props["$.ce"].as_deref(), Some("utf-8"));
        assert_eq!(props["iothub-ack"].as_deref(), Some("full"));
        assert_eq!(props["color"].as_deref(), Some("blue"));
        assert_eq!(props["empty"].as_deref(), Some(""));
        assert!(props["$.exp"].as_deref().unwrap().ends_with("0000Z"));
        assert_eq!(&p.payload[..], b"{\"id\":\"m1\"}");
        raw.send(Packet::PubAck(PubAck::new(p.pkid))).await;
        let fb = b.traced("d1", "feedback.produced").await;
        assert_eq!(fb[0].detail.detail_value()["statusCode"], "Success");
        assert!(b.hub.mailbox().list("d1").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_queue_is_delivered_in_order_with_at_most_the_window_unacknowledged() {
    let b = Bench::new().await;
    b.device("d1").await;
    for i in 0..10 {
        b.hub
            .mailbox()
            .send("d1", message(&format!("m{i}")))
            .await
            .unwrap();
    }
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(raw.next_publish().await);
    }
    let states: Vec<MessageState> = b
        .hub
        .mailbox()
        .list("d1")
        .await
        .unwrap()
        .iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == MessageState::Invisible)
            .count(),
        8,
        "8 in flight, 2 wait"
    );
    for p in &got {
        raw.send(Packet::PubAck(PubAck::new(p.pkid))).await;
    }
    got.push(raw.next_publish().await);
    got.push(raw.next_publish().await);
    let ids: Vec<String> = got
        .iter()
        .map(|p| {
            bag::decode(p.topic.rsplit('/').next().unwrap())
                .into_iter()
                .find(|(k, _)| k == "$.mid")
                .unwrap()
                .1
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn pubacks_out_of_order_close_the_connection() {
    let b = Bench::new().await;
    b.device("d1").await;
    b.hub.mailbox().send("d1", message("a")).await.unwrap();
    b.hub.mailbox().send("d1", message("b")).await.unwrap();
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    let _first = raw.next_publish().await;
    let second = raw.next_publish().await;
    raw.send(Packet::PubAck(PubAck::new(second.pkid))).await;
    assert!(raw.closed().await);
    let ev = b.traced("d1", "device.detached").await;
    assert!(
        ev[0].detail.detail_value()["description"]
            .as_str()
            .unwrap()
            .contains("out of order")
    );
    let states: Vec<MessageState> = b
        .hub
        .mailbox()
        .list("d1")
        .await
        .unwrap()
        .iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(
        states,
        [MessageState::Enqueued, MessageState::Enqueued],
        "both go back to the queue"
    );
}

#[tokio::test]
async fn without_a_puback_the_lock_expires_and_the_message_is_resent_with_dup() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    b.hub.mailbox().send("d1", message("m")).await.unwrap();
    let first = raw.next_publish().await;
    b.clock.advance(Duration::from_secs(60));
    b.hub.sweep().await.unwrap();
    let again = raw.next_publish().await;
    assert!(again.dup, "a resend in the same session sets DUP");
    assert_eq!(again.pkid, first.pkid, "with the same packet id");
    raw.send(Packet::PubAck(PubAck::new(again.pkid))).await;
    let done = b.traced("d1", "c2d.completed").await;
    assert_eq!(done.len(), 1);
    let kinds: Vec<EventKind> = b
        .hub
        .trace()
        .story("m")
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert!(kinds.contains(&EventKind::C2dLockExpired));
}

#[tokio::test]
async fn messages_sent_while_offline_arrive_on_reconnect_with_a_persistent_session() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, false).await;
    raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    raw.send(Packet::Disconnect).await;
    assert!(raw.closed().await);
    b.hub
        .mailbox()
        .send("d1", message("while-away"))
        .await
        .unwrap();
    let token = b.token("d1", 3600).await;
    let mut raw = b.raw().await;
    assert!(
        raw.connect("d1", Some("localhost/d1/"), Some(&token), false, 60)
            .await
            .session_present
    );
    let p = raw.next_publish().await;
    assert!(p.topic.contains("while-away"));
}

#[tokio::test]
async fn a_message_held_when_the_connection_drops_is_resent_on_reconnect_with_dup() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, false).await;
    raw.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    b.hub.mailbox().send("d1", message("m")).await.unwrap();
    let _ = raw.next_publish().await;
    drop(raw);
    b.traced("d1", "c2d.lock_released").await;
    let token = b.token("d1", 3600).await;
    let mut raw = b.raw().await;
    raw.connect("d1", Some("localhost/d1/"), Some(&token), false, 60)
        .await;
    let p = raw.next_publish().await;
    assert!(p.dup, "redelivered in the same (persistent) session");
}
