//! IoT Hub's service paths, in IoT Hub's error envelope.

use serde_json::{Value, json};

use crate::support::{Api, iothub_error};

#[tokio::test]
async fn the_registry_at_iot_hubs_paths() {
    let a = Api::new().await;
    let owner = a.service_token("iothubowner");
    let put = a
        .http
        .put(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .json(&json!({"deviceId": "dev1", "status": "enabled", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": null, "secondaryKey": null}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let d: Value = put.json().await.unwrap();
    let again = a
        .http
        .put(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .json(&json!({"deviceId": "dev1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(again).await,
        (409, 409001, "DeviceAlreadyExists".into())
    );
    let upd = a
        .http
        .put(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .header("If-Match", format!("\"{}\"", d["etag"].as_str().unwrap()))
        .json(&json!({"deviceId": "dev1", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(upd.json::<Value>().await.unwrap()["status"], "disabled");
    let reader = a.service_token("registryRead");
    let got: Value = a
        .http
        .get(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["deviceId"], "dev1");
    let list: Vec<Value> = a
        .http
        .get(a.url("/devices?top=10&api-version=2021-04-12"))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let denied = a
        .http
        .delete(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(denied).await.1,
        401002,
        "registryRead may not delete"
    );
    assert_eq!(
        a.http
            .delete(a.url("/devices/dev1?api-version=2021-04-12"))
            .header("Authorization", &owner)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let missing = a
        .http
        .get(a.url("/devices/dev1?api-version=2021-04-12"))
        .header("Authorization", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(missing).await,
        (404, 404001, "DeviceNotFound".into())
    );
}

#[tokio::test]
async fn methods_at_iot_hubs_path_answer_status_and_payload_or_iot_hub_errors() {
    let a = Api::new().await;
    a.device("on").await;
    a.device("off").await;
    a.echo_device("on").await;
    let svc = a.service_token("service");
    let ok: Value = a
        .http
        .post(a.url("/twins/on/methods?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .json(&json!({"methodName": "reboot", "payload": {"delay": 5}, "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ok,
        json!({"status": 200, "payload": {"echo": {"delay": 5}}})
    );
    let call = {
        let http = a.http.clone();
        let url = a.url("/twins/off/methods?api-version=2021-04-12");
        let svc = svc.clone();
        tokio::spawn(async move {
            http.post(url)
                .header("Authorization", svc)
                .json(&json!({"methodName": "m", "payload": "", "connectTimeoutInSeconds": 5}))
                .send()
                .await
                .unwrap()
        })
    };
    a.wait_sleepers(1).await;
    a.clock.advance(std::time::Duration::from_secs(5));
    let r = call.await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    let inner: Value = serde_json::from_str(v["Message"].as_str().unwrap()).unwrap();
    assert_eq!((status, inner["errorCode"].as_u64()), (404, Some(404103)));
    assert_eq!(inner["info"]["timeout"], "00:00:05");
    assert_eq!(v["ExceptionMessage"], "");
    let bad = a
        .http
        .post(a.url("/twins/on/methods?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .json(&json!({"methodName": "m", "responseTimeoutInSeconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(bad).await,
        (400, 400004, "ArgumentInvalid".into())
    );
    let no_auth = a
        .http
        .post(a.url("/twins/on/methods?api-version=2021-04-12"))
        .json(&json!({"methodName": "m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(no_auth).await.1, 401002);
}

#[tokio::test]
async fn feedback_and_purge_at_iot_hubs_paths() {
    let a = Api::new().await;
    a.device("d1").await;
    let svc = a.service_token("service");
    let empty = a
        .http
        .get(a.url("/messages/serviceBound/feedback?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);
    a.hub
        .mailbox()
        .send(
            "d1",
            hublet_core::NewMessage {
                message_id: Some("m1".into()),
                ack: hublet_core::AckMode::Full,
                ..hublet_core::NewMessage::text("x")
            },
        )
        .await
        .unwrap();
    let purged: Value = a
        .http
        .delete(a.url("/devices/d1/commands?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        purged,
        json!({"totalMessagesPurged": 1, "deviceId": "d1", "moduleId": null})
    );
    let r = a
        .http
        .get(a.url("/messages/serviceBound/feedback?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.microsoft.iothub.feedback.json"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let records: Vec<Value> = r.json().await.unwrap();
    assert_eq!(records[0]["originalMessageId"], "m1");
    assert_eq!(records[0]["statusCode"], "Purged");
    let lock = etag.trim_matches('"');
    let ab = a
        .http
        .post(a.url(&format!(
            "/messages/serviceBound/feedback/{lock}/abandon?api-version=2021-04-12"
        )))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap();
    assert_eq!(ab.status(), 204);
    let again = a
        .http
        .get(a.url("/messages/serviceBound/feedback?api-version=2021-04-12"))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap();
    let lock2 = again.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert_eq!(
        a.http
            .delete(a.url(&format!(
                "/messages/serviceBound/feedback/{lock2}?api-version=2021-04-12"
            )))
            .header("Authorization", &svc)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let stale = a
        .http
        .delete(a.url(&format!(
            "/messages/serviceBound/feedback/{lock2}?api-version=2021-04-12"
        )))
        .header("Authorization", &svc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(stale).await,
        (412, 412002, "DeviceMessageLockLost".into())
    );
}
