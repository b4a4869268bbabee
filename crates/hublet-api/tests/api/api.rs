//! Hublet's own /api: every endpoint and its error paths.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, api_error};

#[tokio::test]
async fn devices_can_be_added_listed_searched_changed_and_deleted() {
    let a = Api::new().await;
    let r = a
        .req(Method::POST, "/api/devices")
        .json(&json!({"deviceId": "thermo-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["status"], "enabled");
    assert_eq!(d["connectionState"], "Disconnected");
    assert_eq!(d["authentication"]["type"], "sas");
    a.req(Method::POST, "/api/devices")
        .json(&json!({"deviceId": "lock-1", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    let all: Vec<Value> = a
        .req(Method::GET, "/api/devices?search=THERMO")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let etag = d["etag"].as_str().unwrap();
    let r = a
        .req(Method::PATCH, "/api/devices/thermo-1")
        .header("If-Match", format!("\"{etag}\""))
        .json(&json!({"status": "disabled", "statusReason": "bench repair"}))
        .send()
        .await
        .unwrap();
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["status"], "disabled");
    let stale = a
        .req(Method::PATCH, "/api/devices/thermo-1")
        .header("If-Match", etag)
        .json(&json!({"status": "enabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(stale).await,
        (412, Some(412001), "PreconditionFailed".into())
    );
    let regen: Value = a
        .req(
            Method::POST,
            "/api/devices/thermo-1/keys/primary/regenerate",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        regen["authentication"]["symmetricKey"]["primaryKey"],
        d["authentication"]["symmetricKey"]["primaryKey"]
    );
    let cs: Value = a
        .req(
            Method::GET,
            "/api/devices/thermo-1/connection-string?gateway=bench-pc",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        cs["connectionString"]
            .as_str()
            .unwrap()
            .ends_with(";GatewayHostName=bench-pc")
    );
    assert_eq!(
        a.req(Method::DELETE, "/api/devices/thermo-1")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let gone = a
        .req(Method::GET, "/api/devices/thermo-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(gone).await,
        (404, Some(404001), "DeviceNotFound".into())
    );
}

#[tokio::test]
async fn bad_registry_input_gets_iot_hub_codes() {
    let a = Api::new().await;
    a.device("d1").await;
    for (body, code) in [
        (json!({"deviceId": "has space"}), 400004),
        (json!({"deviceId": "d1"}), 409001),
        (json!({"deviceId": "d2", "status": "sleepy"}), 400004),
        (
            json!({"deviceId": "d3", "authentication": {"symmetricKey": {"primaryKey": "short"}}}),
            400004,
        ),
    ] {
        let r = a
            .req(Method::POST, "/api/devices")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(api_error(r).await.1, Some(code), "{body}");
    }
    let r = a
        .req(Method::POST, "/api/devices")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(r).await,
        (400, Some(400004), "ArgumentInvalid".into())
    );
    let r = a
        .req(Method::POST, "/api/devices")
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.1, Some(413001));
    assert_eq!(
        a.hub
            .registry()
            .list(Default::default())
            .await
            .unwrap()
            .len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn messages_are_sent_with_every_property_listed_and_purged() {
    let a = Api::new().await;
    a.device("d1").await;
    let r = a
        .req(Method::POST, "/api/devices/d1/messages")
        .json(&json!({
            "body": "00ff10", "bodyEncoding": "hex", "messageId": "m1", "correlationId": "c1",
            "contentType": "application/octet-stream", "ttlSeconds": 120, "ack": "full",
            "properties": {"color": "blue"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["bodyBase64"], "AP8Q");
    assert_eq!(m["ack"], "full");
    assert_eq!(m["state"], "Enqueued");
    let q: Vec<Value> = a
        .req(Method::GET, "/api/devices/d1/messages")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["properties"]["color"], "blue");
    for (body, code) in [
        (json!({"body": "x", "ttlSeconds": 0}), 403009),
        (json!({"body": "zz", "bodyEncoding": "hex"}), 400004),
        (json!({"body": "x", "ack": "sometimes"}), 400004),
        (json!({"body": "x", "properties": {"bad key": "v"}}), 400004),
        (json!({"body": "x".repeat(70_000)}), 413001),
        (json!({"body": "x", "expiryTimeUtc": "tomorrow"}), 400004),
    ] {
        let r = a
            .req(Method::POST, "/api/devices/d1/messages")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(api_error(r).await.1, Some(code), "{body}");
    }
    let r = a
        .req(Method::POST, "/api/devices/ghost/messages")
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.1, Some(404001));
    let p: Value = a
        .req(Method::DELETE, "/api/devices/d1/messages")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        p,
        json!({"totalMessagesPurged": 1, "deviceId": "d1", "moduleId": null})
    );
    let fb: Vec<Value> = a
        .req(Method::GET, "/api/feedback")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fb[0]["statusCode"], "Purged");
    assert_eq!(fb[0]["originalMessageId"], "m1");
}

#[tokio::test]
async fn methods_return_the_result_inline_and_explain_failures() {
    let a = Api::new().await;
    a.device("d1").await;
    a.device("d2").await;
    a.echo_device("d1").await;
    let r: Value = a
        .req(Method::POST, "/api/devices/d1/methods")
        .json(&json!({"methodName": "blink", "payload": {"n": 2}, "responseTimeoutInSeconds": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], 200);
    assert_eq!(r["payload"], json!({"echo": {"n": 2}}));
    assert!(r["requestId"].is_string() && r["latencyMs"].is_number());
    let offline = a
        .req(Method::POST, "/api/devices/d2/methods")
        .json(&json!({"methodName": "m"}))
        .send()
        .await
        .unwrap();
    let v: Value = offline.json().await.unwrap();
    assert_eq!(v["error"]["code"], 404103);
    assert!(
        v["error"]["explanation"]
            .as_str()
            .unwrap()
            .contains("connect timeout")
    );
    // The failed call's request id leads to its story in the trace.
    let rid = v["error"]["requestId"]
        .as_str()
        .expect("requestId")
        .to_string();
    let story: Value = a
        .req(Method::GET, &format!("/api/trace/story/{rid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = story
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["method.invoked", "method.failed"]);
    for (body, code) in [
        (
            json!({"methodName": "m", "responseTimeoutInSeconds": 0}),
            400004,
        ),
        (
            json!({"methodName": "m", "connectTimeoutInSeconds": 301}),
            400004,
        ),
        (json!({"methodName": "bad name"}), 400004),
        (json!({"payload": 1}), 400004),
    ] {
        let r = a
            .req(Method::POST, "/api/devices/d1/methods")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(api_error(r).await.1, Some(code), "{body}");
    }
    let r = a
        .req(Method::POST, "/api/devices/ghost/methods")
        .json(&json!({"methodName": "m"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 404001);
    assert!(
        body["error"].get("requestId").is_none(),
        "a call refused before it was admitted has no story: {body}"
    );
}

#[tokio::test]
async fn settings_stats_and_hub_info() {
    let a = Api::new().await;
    a.device("d1").await;
    let mut s: Value = a
        .req(Method::GET, "/api/settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["queueCap"], 50);
    s["queueCap"] = json!(5);
    s["hubName"] = json!("bench.example");
    let saved: Value = a
        .req(Method::PUT, "/api/settings")
        .json(&s)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["queueCap"], 5);
    assert_eq!(a.hub.settings().queue_cap, 5);
    s["maxDeliveryCount"] = json!(1000);
    let bad = a
        .req(Method::PUT, "/api/settings")
        .json(&s)
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(bad).await.1, Some(400004));
    let info: Value = a
        .req(Method::GET, "/api/hub")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["hubName"], "bench.example");
    assert_eq!(info["stats"]["devices"], 1);
    let stats: Value = a
        .req(Method::GET, "/api/stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["devices"], 1);
    let ca = a
        .http
        .get(a.url("/api/ca"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ca.starts_with("-----BEGIN CERTIFICATE-----"),
        "the CA needs no token"
    );
    let cs: Value = a
        .req(Method::GET, "/api/connection-string/service")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let port = a.server.https_addr().unwrap().port();
    assert!(
        cs["connectionString"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "HostName=localhost:{port};SharedAccessKeyName=iothubowner;"
            ))
    );
}

#[tokio::test]
async fn trace_queries_stories_and_exports() {
    let a = Api::new().await;
    a.device("d1").await;
    a.req(Method::POST, "/api/devices/d1/messages")
        .json(&json!({"body": "a, \"b\"\nc", "messageId": "m1"}))
        .send()
        .await
        .unwrap();
    a.hub.trace().flush().await.unwrap();
    let evs: Vec<Value> = a
        .req(Method::GET, "/api/trace?kind=c2d&deviceId=d1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(evs.len(), 1);
    let story: Vec<Value> = a
        .req(Method::GET, "/api/trace/story/m1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(story[0]["kind"], "c2d.enqueued");
    let bad = a
        .req(Method::GET, "/api/trace?since=yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(bad).await.1, Some(400004));
    let jsonl = a
        .req(Method::GET, "/api/trace/export?format=jsonl")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let csv_text = a
        .req(Method::GET, "/api/trace/export?format=csv&kind=c2d")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    let detail: Value = serde_json::from_str(&rows[0][8]).unwrap();
    assert_eq!(detail["body"]["text"], "a, \"b\"\nc");
    let bad = a
        .req(Method::GET, "/api/trace/export?format=xml")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(bad).await.1, Some(400004));
}
