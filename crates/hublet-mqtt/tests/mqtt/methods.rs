//! Direct methods over MQTT.

use hublet_core::{MethodCall, TraceQuery};
use rumqttc::mqttbytes::QoS;
use serde_json::json;

use crate::support::{Bench, Raw};

fn rid_of(topic: &str) -> String {
    topic.rsplit("$rid=").next().unwrap().to_string()
}

async fn call(
    b: &Bench,
    method: &str,
) -> tokio::task::JoinHandle<hublet_core::HubResult<hublet_core::MethodResponse>> {
    let hub = b.hub.clone();
    let method = method.to_string();
    tokio::spawn(async move {
        hub.methods()
            .invoke(
                "d1",
                MethodCall::new(method, json!({"on": true})).timeouts(0, 30),
            )
            .await
    })
}

#[tokio::test]
async fn a_subscribed_device_gets_the_request_at_qos_0_and_its_answer_returns() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", true, true).await;
    assert_eq!(
        b.hub
            .methods()
            .invoke("d1", MethodCall::new("m", json!(1)))
            .await
            .unwrap_err()
            .code()
            .number(),
        404103,
        "not subscribed yet"
    );
    raw.subscribe(&["$iothub/methods/POST/#"]).await;
    let c = call(&b, "lights").await;
    let req = raw.next_publish().await;
    assert_eq!(req.qos, QoS::AtMostOnce);
    assert!(
        req.topic.starts_with("$iothub/methods/POST/lights/?$rid="),
        "{}",
        req.topic
    );
    assert_eq!(&req.payload[..], br#"{"on":true}"#);
    raw.publish(
        &format!("$iothub/methods/res/201/?$rid={}", rid_of(&req.topic)),
        QoS::AtLeastOnce,
        br#"{"lit": 1}"#,
    )
    .await;
    let r = c.await.unwrap().unwrap();
    assert_eq!((r.status, r.payload), (201, json!({"lit": 1})));
}

#[tokio::test]
async fn a_non_json_answer_is_a_traced_error_and_the_device_stays_connected() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["$iothub/methods/POST/#"]).await;
    let c = call(&b, "m").await;
    let req = raw.next_publish().await;
    raw.publish(
        &format!("$iothub/methods/res/200/?$rid={}", rid_of(&req.topic)),
        QoS::AtMostOnce,
        b"OK!",
    )
    .await;
    let e = c.await.unwrap().unwrap_err();
    assert_eq!(e.code().number(), 502001);
    let failed = b.traced("d1", "method.failed").await;
    assert_eq!(failed[0].detail.detail_value()["code"], 502001);
    // Still connected and answering.
    let c = call(&b, "m").await;
    let req = raw.next_publish().await;
    raw.publish(
        &format!("$iothub/methods/res/200/?$rid={}", rid_of(&req.topic)),
        QoS::AtMostOnce,
        b"",
    )
    .await;
    assert_eq!(c.await.unwrap().unwrap().payload, json!(null));
}

#[tokio::test]
async fn a_device_subscribed_to_one_method_gets_only_that_one() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&["$iothub/methods/POST/reboot/#"]).await;
    let e = b
        .hub
        .methods()
        .invoke("d1", MethodCall::new("other", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 404103);
    let c = call(&b, "reboot").await;
    let req = raw.next_publish().await;
    raw.publish(
        &format!("$iothub/methods/res/200/?$rid={}", rid_of(&req.topic)),
        QoS::AtMostOnce,
        b"{}",
    )
    .await;
    assert_eq!(c.await.unwrap().unwrap().status, 200);
}

#[tokio::test]
async fn an_answer_for_an_unknown_request_is_traced_as_late() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw: Raw = b.connected("d1", false, true).await;
    raw.publish(
        "$iothub/methods/res/200/?$rid=424242",
        QoS::AtMostOnce,
        b"{}",
    )
    .await;
    b.hub.trace().flush().await.unwrap();
    let evs = b.traced("d1", "method.late_response").await;
    assert_eq!(evs[0].request_id.as_deref(), Some("424242"));
    let _ = TraceQuery::default();
}
