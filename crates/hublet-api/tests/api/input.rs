//! Request bodies are JSON objects with known fields, or they are refused
//! with 400 and nothing changes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, api_error, iothub_error};

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_and_changes_nothing() {
    let a = Api::new().await;
    a.device("d1").await;
    for (path, body) in [
        (
            "/api/devices/d1/messages",
            json!(["hello", null, "mid-array"]),
        ),
        ("/api/devices", json!(["arr-dev"])),
        ("/api/devices", json!("arr-dev")),
        ("/api/devices", json!(null)),
        ("/api/devices/d1/methods", json!(["reboot"])),
    ] {
        let r = a.req(Method::POST, path).json(&body).send().await.unwrap();
        let (status, code, _) = api_error(r).await;
        assert_eq!((status, code), (400, Some(400004)), "{path} {body}");
    }
    assert!(a.hub.registry().get("arr-dev").await.is_err());
    let queued = a
        .req(Method::GET, "/api/devices/d1/messages")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn a_misspelt_field_is_named_not_ignored() {
    let a = Api::new().await;
    a.device("d1").await;
    let r = a
        .req(Method::POST, "/api/devices/d1/messages")
        .json(&json!({"body": "hi", "ttlSecond": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("'ttlSecond'"), "{message}");
    assert_eq!(v["error"]["info"]["field"], "ttlSecond");
    let queued = a
        .req(Method::GET, "/api/devices/d1/messages")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn iot_hub_paths_refuse_arrays_in_iot_hubs_envelope_but_allow_the_sdks_extra_fields() {
    let a = Api::new().await;
    let owner = a.service_token("iothubowner");
    let r = a
        .http
        .put(a.url("/devices/arr-dev?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .json(&json!(["arr-dev"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(r).await,
        (400, 400004, "ArgumentInvalid".into())
    );
    assert!(a.hub.registry().get("arr-dev").await.is_err());
    // What the service SDKs send when creating a device.
    let r = a
        .http
        .put(a.url("/devices/sdk-dev?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .json(&json!({
            "deviceId": "sdk-dev",
            "status": "enabled",
            "etag": null,
            "capabilities": {"iotEdge": false},
            "authentication": {"type": "sas", "symmetricKey": {"primaryKey": null, "secondaryKey": null}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}
