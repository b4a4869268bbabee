//! A real MQTT client (rumqttc) as a device, over TCP and over TLS with the
//! hub's CA.

use std::time::Duration;

use hublet_core::{MethodCall, NewMessage};
use rumqttc::mqttbytes::QoS;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, TlsConfiguration, Transport};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::Bench;

async fn device(b: &Bench, id: &str, tls: bool) -> (AsyncClient, mpsc::UnboundedReceiver<Event>) {
    let token = b.token(id, 3600).await;
    let addr = if tls {
        b.gw.tls_addr()
    } else {
        b.gw.tcp_addr()
    }
    .unwrap();
    let mut opts = MqttOptions::new(id, "127.0.0.1", addr.port());
    opts.set_credentials(format!("localhost/{id}/?api-version=2021-04-12"), token);
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(30));
    if tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            b.pki.client_config().unwrap(),
        )));
    }
    let (client, mut el) = AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(ev) => {
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("client event loop ended: {e}");
                    return;
                }
            }
        }
    });
    (client, rx)
}

async fn next_incoming_publish(rx: &mut mpsc::UnboundedReceiver<Event>) -> rumqttc::Publish {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
        {
            Some(Event::Incoming(Incoming::Publish(p))) => return p,
            Some(_) => continue,
            None => panic!("client stopped"),
        }
    }
}

async fn wait_for_suback(rx: &mut mpsc::UnboundedReceiver<Event>) {
    loop {
        if let Some(Event::Incoming(Incoming::SubAck(_))) = rx.recv().await {
            return;
        }
    }
}

#[tokio::test]
async fn rumqttc_receives_c2d_answers_methods_and_sends_telemetry_over_both_listeners() {
    for tls in [false, true] {
        let b = Bench::new().await;
        b.device("d1").await;
        let (client, mut rx) = device(&b, "d1", tls).await;
        client
            .subscribe("devices/d1/messages/devicebound/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        wait_for_suback(&mut rx).await;
        client
            .subscribe("$iothub/methods/POST/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        wait_for_suback(&mut rx).await;

        b.hub
            .mailbox()
            .send(
                "d1",
                NewMessage {
                    message_id: Some("hello".into()),
                    ..NewMessage::text("hi")
                },
            )
            .await
            .unwrap();
        let p = next_incoming_publish(&mut rx).await;
        assert!(p.topic.starts_with("devices/d1/messages/devicebound/"));
        assert_eq!(&p.payload[..], b"hi");
        b.traced("d1", "c2d.completed").await;

        let hub = b.hub.clone();
        let call = tokio::spawn(async move {
            hub.methods()
                .invoke("d1", MethodCall::new("blink", json!({"n": 3})))
                .await
        });
        let req = next_incoming_publish(&mut rx).await;
        let rid = req.topic.rsplit("$rid=").next().unwrap().to_string();
        client
            .publish(
                format!("$iothub/methods/res/200/?$rid={rid}"),
                QoS::AtLeastOnce,
                false,
                br#"{"blinked":3}"#.to_vec(),
            )
            .await
            .unwrap();
        let r = call.await.unwrap().unwrap();
        assert_eq!(r.payload, json!({"blinked": 3}));

        client
            .publish(
                "devices/d1/messages/events/",
                QoS::AtLeastOnce,
                false,
                br#"{"temperature":21.5}"#.to_vec(),
            )
            .await
            .unwrap();
        let t = b.traced("d1", "telemetry.received").await;
        assert_eq!(
            t[0].detail.detail_value()["body"]["text"],
            r#"{"temperature":21.5}"#
        );
        client.disconnect().await.unwrap();
    }
}
