//! Module identities over MQTT: client id `{device}/{module}`, a token for
//! the module's resource signed with the module's key, its own telemetry
//! topic, methods and twin, and no C2D.

use hublet_core::auth::sas;
use hublet_core::modules::NewModule;
use hublet_core::twin::{TwinOp, TwinWrite};
use hublet_core::{MethodCall, TraceQuery};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::ConnectReturnCode;
use serde_json::{Value, json};

use crate::support::{Bench, Raw};

const USER: &str = "localhost/d1/m1/?api-version=2021-04-12";

async fn module(b: &Bench) -> String {
    b.device("d1").await;
    b.hub
        .modules()
        .create(
            "d1",
            NewModule {
                module_id: "m1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .primary_key
}

fn token(b: &Bench, resource: &str, key: &str) -> String {
    sas::create(resource, key, None, b.hub.now().unix_seconds() + 3600).unwrap()
}

async fn connect_module(b: &Bench, key: &str) -> Raw {
    let mut raw = b.raw().await;
    let t = token(b, "localhost/devices/d1/modules/m1", key);
    let ack = raw.connect("d1/m1", Some(USER), Some(&t), true, 60).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    raw
}

#[tokio::test]
async fn a_module_connects_only_with_a_token_for_itself_signed_with_its_key() {
    // (A token's resource covers what lies under it, so `devices/d1` signed
    // with the module's key is accepted too, as IoT Hub's prefix rule says.)
    let b = Bench::new().await;
    let module_key = module(&b).await;
    let device_key = b.hub.registry().get("d1").await.unwrap().primary_key;
    for (what, resource, key) in [
        (
            "device key",
            "localhost/devices/d1/modules/m1",
            device_key.as_str(),
        ),
        (
            "other module",
            "localhost/devices/d1/modules/m2",
            module_key.as_str(),
        ),
    ] {
        let mut raw = b.raw().await;
        let t = token(&b, resource, key);
        let ack = raw.connect("d1/m1", Some(USER), Some(&t), true, 60).await;
        assert_eq!(ack.code, ConnectReturnCode::NotAuthorized, "{what}");
    }
    // An unknown module is refused like an unknown device.
    let mut raw = b.raw().await;
    let t = token(&b, "localhost/devices/d1/modules/m9", &module_key);
    let ack = raw
        .connect(
            "d1/m9",
            Some("localhost/d1/m9/?api-version=2021-04-12"),
            Some(&t),
            true,
            60,
        )
        .await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized);
    // A user name naming the device alone does not fit a module's client id.
    let mut raw = b.raw().await;
    let t = token(&b, "localhost/devices/d1/modules/m1", &module_key);
    let ack = raw
        .connect(
            "d1/m1",
            Some("localhost/d1/?api-version=2021-04-12"),
            Some(&t),
            true,
            60,
        )
        .await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized);

    let _m = connect_module(&b, &module_key).await;
    let m = b.hub.modules().get("d1", "m1").await.unwrap();
    assert_eq!(
        m.connection_state,
        hublet_core::registry::ConnectionState::Connected
    );
    assert_eq!(
        b.hub.registry().get("d1").await.unwrap().connection_state,
        hublet_core::registry::ConnectionState::Disconnected,
        "the device is a separate identity"
    );
}

#[tokio::test]
async fn device_and_module_connect_side_by_side_each_with_its_own_methods_and_twin() {
    let b = Bench::new().await;
    let key = module(&b).await;
    let mut dev = b.connected("d1", false, true).await;
    let mut m = connect_module(&b, &key).await;
    for raw in [&mut dev, &mut m] {
        raw.subscribe(&[
            "$iothub/methods/POST/#",
            "$iothub/twin/res/#",
            "$iothub/twin/PATCH/properties/desired/#",
        ])
        .await;
    }

    // Telemetry on the module's own topic, traced under `d1/m1` and shown
    // with the device's events.
    m.publish(
        "devices/d1/modules/m1/messages/events/kind=probe",
        QoS::AtLeastOnce,
        b"{\"t\":1}",
    )
    .await;
    let evs = b.traced("d1/m1", "telemetry.received").await;
    assert_eq!(evs[0].device_id.as_deref(), Some("d1/m1"));
    b.hub.trace().flush().await.unwrap();
    let under_device = b
        .hub
        .trace()
        .query(TraceQuery {
            device_id: Some("d1".into()),
            kinds: vec!["telemetry.received".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(under_device.len(), 1);

    // A module method reaches the module, not the device.
    let hub = b.hub.clone();
    let call = tokio::spawn(async move {
        hub.methods()
            .invoke_module(
                "d1",
                "m1",
                MethodCall::new("scan", json!(null)).timeouts(0, 30),
            )
            .await
    });
    let req = m.next_publish().await;
    assert!(
        req.topic.starts_with("$iothub/methods/POST/scan/?$rid="),
        "{}",
        req.topic
    );
    let rid = req.topic.rsplit("$rid=").next().unwrap().to_string();
    m.publish(
        &format!("$iothub/methods/res/200/?$rid={rid}"),
        QoS::AtMostOnce,
        b"{\"found\":2}",
    )
    .await;
    let r = call.await.unwrap().unwrap();
    assert_eq!((r.status, r.payload), (200, json!({"found": 2})));

    // The module's twin is its own: a desired write goes to the module only.
    b.hub
        .twins()
        .write(
            "d1/m1",
            TwinOp::Patch,
            TwinWrite {
                desired: serde_json::from_value(json!({"rate": 5})).ok(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let p = m.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
    m.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=r1",
        QoS::AtMostOnce,
        b"{\"rate\":5}",
    )
    .await;
    let p = m.next_publish().await;
    assert_eq!(p.topic, "$iothub/twin/res/204/?$rid=r1&$version=2");
    dev.publish("$iothub/twin/GET/?$rid=g1", QoS::AtMostOnce, b"")
        .await;
    let p = dev.next_publish().await;
    assert_eq!(
        p.topic, "$iothub/twin/res/200/?$rid=g1",
        "the device heard no module patch"
    );
    let twin: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(
        twin,
        json!({"desired": {"$version": 1}, "reported": {"$version": 1}})
    );
    let mt = b.hub.twins().get("d1/m1").await.unwrap().to_json();
    assert_eq!(mt["moduleId"], "m1");
    assert_eq!(mt["properties"]["reported"]["rate"], 5);
    assert_eq!(mt["properties"]["desired"]["rate"], 5);
}

#[tokio::test]
async fn a_module_subscribing_to_c2d_is_disconnected() {
    let b = Bench::new().await;
    let key = module(&b).await;
    let mut m = connect_module(&b, &key).await;
    let mut s = rumqttc::mqttbytes::v4::Subscribe::new(
        "devices/d1/modules/m1/messages/devicebound/#",
        QoS::AtLeastOnce,
    );
    s.pkid = 1;
    m.send(rumqttc::mqttbytes::v4::Packet::Subscribe(s)).await;
    assert!(m.closed().await);
}

#[tokio::test]
async fn deleting_the_device_disconnects_its_modules_and_removes_them() {
    let b = Bench::new().await;
    let key = module(&b).await;
    let mut m = connect_module(&b, &key).await;
    b.hub.registry().delete("d1", None).await.unwrap();
    assert!(m.closed().await);
    b.device("d1").await;
    let e = b.hub.modules().get("d1", "m1").await.unwrap_err();
    assert_eq!(e.code().number(), 404010);
    let e = b.hub.twins().get("d1/m1").await.unwrap_err();
    assert_eq!(e.code().number(), 404010);
}
