//! Device twins over MQTT in IoT Hub's dialect: GET, reported patches with
//! their new `$version`, desired patches pushed to a subscribed device,
//! and IoT Hub's JSON error body for a refused patch.

use hublet_core::twin::{TwinOp, TwinWrite};
use rumqttc::QoS;
use serde_json::{Value, json};

use crate::support::Bench;

#[tokio::test]
async fn get_report_and_hear_desired_patches() {
    let b = Bench::new().await;
    b.device("d1").await;
    let mut raw = b.connected("d1", false, true).await;
    raw.subscribe(&[
        "$iothub/twin/res/#",
        "$iothub/twin/PATCH/properties/desired/#",
    ])
    .await;

    raw.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=r1",
        QoS::AtMostOnce,
        br#"{"fw":"1.0","net":{"rssi":-60}}"#,
    )
    .await;
    let p = raw.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/res/204/?$rid=r1&$version=2");
    assert!(p.payload.is_empty());

    b.hub
        .twins()
        .write(
            "d1",
            TwinOp::Patch,
            TwinWrite {
                desired: serde_json::from_value(json!({"setpoint": 22})).ok(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let p = raw.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
    let body: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(body, json!({"setpoint": 22, "$version": 2}));

    raw.publish("$iothub/twin/GET/?$rid=g1", QoS::AtMostOnce, b" ")
        .await;
    let p = raw.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/res/200/?$rid=g1");
    let twin: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(
        twin,
        json!({
            "desired": {"setpoint": 22, "$version": 2},
            "reported": {"fw": "1.0", "net": {"rssi": -60}, "$version": 2}
        })
    );

    // A refused patch: 400 with IoT Hub's JSON body (Node reads errorCode).
    raw.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=r2",
        QoS::AtMostOnce,
        br#"{"bad.key":1}"#,
    )
    .await;
    let p = raw.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/res/400/?$rid=r2");
    let err: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(err["errorCode"], 400004);
    assert!(err["message"].as_str().unwrap().contains("bad.key"));
    let reported = b.hub.twins().get("d1").await.unwrap().state.reported;
    assert_eq!(reported.version, 2, "nothing changed");
}

#[tokio::test]
async fn the_model_id_in_the_user_name_is_the_twins_model_id() {
    let b = Bench::new().await;
    b.device("pnp").await;
    let mut raw = b.raw().await;
    let token = b.token("pnp", 3600).await;
    let ack = raw
        .connect(
            "pnp",
            Some("localhost/pnp/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"),
            Some(&token),
            true,
            60,
        )
        .await;
    assert_eq!(ack.code, rumqttc::mqttbytes::v4::ConnectReturnCode::Success);
    let twin = b.hub.twins().get("pnp").await.unwrap().to_json();
    assert_eq!(twin["modelId"], "dtmi:com:example:Thermostat;1");
}
