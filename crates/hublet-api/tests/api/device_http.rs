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
        .delete(a.url(&format!(
            "/devices/d1/messages/deviceBound/{etag}?api-version=2021-04-12"
        )))
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
            a.url(&format!(
                "/devices/d1/messages/deviceBound/{e3}/abandon?api-version=2021-04-12"
            )),
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
        401002,
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
        401002,
        "a service token is not a device token"
    );
}

/// Telemetry events for a device, oldest first.
async fn telemetry(
    a: &crate::support::Api,
    device: &str,
) -> Vec<hublet_core::trace::detail::TelemetryReceived> {
    let q = hublet_core::TraceQuery {
        device_id: Some(device.into()),
        kinds: vec!["telemetry.received".into()],
        ..Default::default()
    };
    a.hub
        .trace()
        .query(q)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.detail {
            hublet_core::TraceDetail::TelemetryReceived(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_device_sends_telemetry_and_batches_over_http() {
    let a = Api::new().await;
    let key = a.device("d1").await;
    let tok = a.device_token("d1", &key);
    let url = a.url("/devices/d1/messages/events?api-version=2021-04-12");
    let r = a
        .http
        .post(&url)
        .header("Authorization", &tok)
        .header("IoTHub-MessageId", "t-1")
        .header("iothub-correlationid", "c-9")
        .header("iothub-contenttype", "application/json")
        .header("iothub-contentencoding", "utf-8")
        .header("iothub-app-temp", "21.5")
        .header("iothub-to", "/devices/d1/messages/events")
        .body(r#"{"t":21.5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let batch = serde_json::json!([
        {"body": "aGVsbG8=", "properties": {"iothub-app-part": "1", "iothub-messageid": "b-1"}},
        {"body": "plain text", "base64Encoded": false, "properties": {"iothub-app-part": "2"}}
    ]);
    let r = a
        .http
        .post(&url)
        .header("Authorization", &tok)
        .header("Content-Type", "application/vnd.microsoft.iothub.json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let events = telemetry(&a, "d1").await;
    assert_eq!(events.len(), 3);
    let single = &events[0];
    assert_eq!(single.via, "http");
    assert_eq!(single.message_id.as_deref(), Some("t-1"));
    assert_eq!(single.correlation_id.as_deref(), Some("c-9"));
    assert_eq!(single.content_type.as_deref(), Some("application/json"));
    assert_eq!(single.content_encoding.as_deref(), Some("utf-8"));
    assert_eq!(
        single.properties,
        [("temp".to_string(), Some("21.5".to_string()))].into()
    );
    assert_eq!(events[1].message_id.as_deref(), Some("b-1"));
    assert_eq!(events[1].size, 5, "the base64 body is decoded");
    assert_eq!(events[2].size, "plain text".len());

    // A bad batch is refused whole; no token, or another device's, is 401.
    let bad = a
        .http
        .post(&url)
        .header("Authorization", &tok)
        .header("Content-Type", "application/vnd.microsoft.iothub.json")
        .body(r#"[{"body":"aGk="},{"body":"%%%"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(bad).await.0, 400);
    assert_eq!(telemetry(&a, "d1").await.len(), 3);
    let anon = a.http.post(&url).body("x").send().await.unwrap();
    assert_eq!(iothub_error(anon).await.1, 401002);
    let too_big = a
        .http
        .post(&url)
        .header("Authorization", &tok)
        .body(vec![b'x'; 256 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(too_big).await.1, 413001);
}

#[tokio::test]
async fn iot_hub_paths_answer_in_both_spellings_and_unknown_ones_in_iot_hubs_envelope() {
    let a = Api::new().await;
    let key = a.device("d1").await;
    let tok = a.device_token("d1", &key);
    for path in [
        "/devices/d1/messages/deviceBound?api-version=2021-04-12",
        "/devices/d1/messages/devicebound?api-version=2021-04-12",
        "/DEVICES/d1/Messages/DEVICEBOUND/?api-version=2016-11-14",
    ] {
        let r = a
            .http
            .get(a.url(path))
            .header("Authorization", &tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
    }
    let svc = a.service_token("service");
    for path in [
        "/messages/serviceBound/feedback?api-version=2021-04-12",
        "/messages/servicebound/feedback?api-version=2021-04-12",
    ] {
        let r = a
            .http
            .get(a.url(path))
            .header("Authorization", &svc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
    }
    let missing = a
        .http
        .get(a.url("/devices/d1/messages/devicebound"))
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(missing).await,
        (400, 400001, "InvalidProtocolVersion".into())
    );
    let unknown = a
        .http
        .get(a.url("/devices/d1/nothing/here?api-version=2021-04-12"))
        .header("Authorization", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(unknown).await,
        (404, 404000, "NotFound".into())
    );
    // Hublet's own API keeps its own envelope.
    let own = a.req(Method::GET, "/api/nothing").send().await.unwrap();
    assert_eq!(own.status(), 404);
    let v: Value = own.json().await.unwrap();
    assert_eq!(v["error"]["name"], "NotFound");
}
