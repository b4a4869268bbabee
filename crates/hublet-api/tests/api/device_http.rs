//! IoT Hub's HTTP device endpoints for C2D.

use reqwest::Method;
use serde_json::Value;

use crate::support::{Api, iothub_error};

#[tokio::test]
async fn a_device_receives_completes_rejects_and_abandons_over_http() {
    let a = Api::new().await;
    let key = a.device("d1").await;
    let other_key = a.device("d2").await;
    let tok = a.device_token("d1", &key);
    let url = a.url("/devices/d1/messages/deviceBound?api-version=2020-03-13");
    assert_eq!(
        a.http
            .get(&url)
            .header("Authorization", &tok)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    for (id, ack) in [
        ("m1", hublet_core::AckMode::Full),
        ("m2", hublet_core::AckMode::Full),
        ("m3", hublet_core::AckMode::Full),
    ] {
        let m = hublet_core::NewMessage {
            message_id: Some(id.into()),
            ack,
            correlation_id: Some("c-1".into()),
            properties: [("color".to_string(), "blue".to_string())].into(),
            ..hublet_core::NewMessage::text(format!("body {id}"))
        };
        a.hub.mailbox().send("d1", m).await.unwrap();
    }
    let r = a
        .http
        .get(&url)
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["iothub-messageid"], "m1");
    assert_eq!(h["iothub-correlationid"], "c-1");
    assert_eq!(h["iothub-app-color"], "blue");
    assert_eq!(h["iothub-deliverycount"], "0");
    assert_eq!(h["iothub-ack"], "full");
    let etag = h["etag"].to_str().unwrap().trim_matches('"').to_string();
    assert_eq!(r.text().await.unwrap(), "body m1");
    let done = a
        .http
        .delete(a.url(&format!(
            "/devices/d1/messages/deviceBound/{etag}?api-version=2020-03-13"
        )))
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    let twice = a
        .http
        .delete(a.url(&format!("/devices/d1/messages/deviceBound/{etag}")))
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(twice).await,
        (412, 412002, "DeviceMessageLockLost".into())
    );

    let r = a
        .http
        .get(&url)
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    let e2 = r.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let rej = a
        .http
        .delete(a.url(&format!(
            "/devices/d1/messages/deviceBound/{e2}?api-version=2020-03-13&reject"
        )))
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(rej.status(), 204);

    let r = a
        .http
        .get(&url)
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    let e3 = r.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let ab = a
        .http
        .request(
            Method::POST,
            a.url(&format!("/devices/d1/messages/deviceBound/{e3}/abandon")),
        )
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(ab.status(), 204);
    let r = a
        .http
        .get(&url)
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["iothub-messageid"], "m3");
    assert_eq!(r.headers()["iothub-deliverycount"], "1");

    let fb: Vec<Value> = a
        .req(Method::GET, "/api/feedback")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = fb
        .iter()
        .map(|r| r["statusCode"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Rejected", "Success"]);

    let wrong = a
        .http
        .get(&url)
        .header("Authorization", a.device_token("d2", &other_key))
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(wrong).await.1,
        401003,
        "another device's token"
    );
    let svc = a
        .http
        .get(&url)
        .header("Authorization", a.service_token("service"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(svc).await.1,
        401003,
        "a service token is not a device token"
    );
}
