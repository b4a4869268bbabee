//! Module identities at IoT Hub's paths (as the service SDKs call them)
//! and at Hublet's `/api`: create, update with an etag, list, get, module
//! twins, module methods, delete; IoT Hub's error codes on the way.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, api_error, iothub_error};

const V: &str = "api-version=2021-04-12";

#[tokio::test]
async fn module_identities_at_iot_hubs_paths() {
    let a = Api::new().await;
    a.device("d1").await;
    let owner = a.service_token("iothubowner");
    let put = |body: Value| {
        a.http
            .put(a.url(&format!("/devices/d1/modules/m1?{V}")))
            .header("Authorization", &owner)
            .json(&body)
    };
    // What the Python service SDK's create_module_with_sas sends.
    let created: Value = put(json!({"deviceId": "d1", "moduleId": "m1", "managedBy": "lab",
        "authentication": {"type": "sas", "symmetricKey": {"primaryKey": null, "secondaryKey": null}}}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(created["moduleId"], "m1");
    assert_eq!(created["deviceId"], "d1");
    assert_eq!(created["managedBy"], "lab");
    assert_eq!(created["connectionState"], "Disconnected");
    let key = created["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        iothub_error(put(json!({"moduleId": "m1"})).send().await.unwrap()).await,
        (409, 409301, "ModuleAlreadyExistsOnDevice".into())
    );
    // An update needs the etag; a stale one is 412.
    let stale = put(json!({"moduleId": "m1", "managedBy": "x"}))
        .header("If-Match", "\"bm90IGl0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(stale).await.1, 412001);
    let updated: Value = put(json!({"moduleId": "m1", "managedBy": "bench"}))
        .header(
            "If-Match",
            format!("\"{}\"", created["etag"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["managedBy"], "bench");
    assert_eq!(
        updated["authentication"]["symmetricKey"]["primaryKey"], key,
        "keys kept when not given"
    );
    let reader = a.service_token("registryRead");
    let list: Vec<Value> = a
        .http
        .get(a.url(&format!("/devices/d1/modules?{V}")))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let missing = a
        .http
        .get(a.url(&format!("/devices/d1/modules/nope?{V}")))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(
        iothub_error(missing).await,
        (404, 404010, "ModuleNotFound".into())
    );
    let no_device = a
        .http
        .get(a.url(&format!("/devices/ghost/modules?{V}")))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(no_device).await.1, 404001);
    // Reading needs RegistryRead at least; writing needs RegistryWrite.
    let denied = a
        .http
        .put(a.url(&format!("/devices/d1/modules/m2?{V}")))
        .header("Authorization", &reader)
        .json(&json!({"moduleId": "m2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);

    // The module twin, read and patched like a device twin.
    let twin: Value = a
        .http
        .patch(a.url(&format!("/twins/d1/modules/m1?{V}")))
        .header("Authorization", &owner)
        .json(&json!({"properties": {"desired": {"rate": 5}}, "tags": {"role": "scanner"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(twin["moduleId"], "m1");
    assert_eq!(twin["properties"]["desired"]["rate"], 5);
    let device_twin: Value = a
        .http
        .get(a.url(&format!("/twins/d1?{V}")))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(device_twin.get("moduleId").is_none());
    assert!(
        device_twin["tags"].is_null(),
        "the device's twin is its own"
    );

    // Queries over devices.modules.
    let rows: Vec<Value> = a
        .http
        .post(a.url(&format!("/devices/query?{V}")))
        .header("Authorization", &reader)
        .json(&json!({"query": "SELECT deviceId, moduleId FROM devices.modules WHERE tags.role = 'scanner'"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows, vec![json!({"deviceId": "d1", "moduleId": "m1"})]);

    // A module method: not online until the module attaches.
    let call = |token: String| {
        a.http
            .post(a.url(&format!("/twins/d1/modules/m1/methods?{V}")))
            .header("Authorization", token)
            .json(&json!({"methodName": "scan", "payload": 1, "connectTimeoutInSeconds": 0, "responseTimeoutInSeconds": 5}))
            .send()
    };
    let offline = call(owner.clone()).await.unwrap();
    assert_eq!(iothub_error(offline).await.1, 404103);
    a.echo_device("d1/m1").await;
    let r: Value = call(owner.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"status": 200, "payload": {"echo": 1}}));

    // Deleting takes the module and its twin.
    let del = a
        .http
        .delete(a.url(&format!("/devices/d1/modules/m1?{V}")))
        .header("Authorization", &owner)
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let gone = a
        .http
        .get(a.url(&format!("/twins/d1/modules/m1?{V}")))
        .header("Authorization", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(iothub_error(gone).await.1, 404010);
}

#[tokio::test]
async fn modules_at_hublets_api() {
    let a = Api::new().await;
    a.device("d1").await;
    let r = a
        .req(Method::POST, "/api/devices/d1/modules")
        .json(&json!({"moduleId": "edge.probe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bad = a
        .req(Method::POST, "/api/devices/d1/modules")
        .json(&json!({"moduleId": "a/b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(bad).await.1, Some(400004));
    let cs: Value = a
        .req(
            Method::GET,
            "/api/devices/d1/modules/edge.probe/connection-string",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cs = cs["connectionString"].as_str().unwrap();
    assert!(
        cs.starts_with("HostName=localhost;DeviceId=d1;ModuleId=edge.probe;SharedAccessKey="),
        "{cs}"
    );
    let list: Vec<Value> = a
        .req(Method::GET, "/api/devices/d1/modules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["moduleId"], "edge.probe");
    let twin: Value = a
        .req(Method::PATCH, "/api/devices/d1/modules/edge.probe/twin")
        .json(&json!({"properties": {"desired": {"on": true}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(twin["properties"]["desired"]["$version"], 2);
    a.echo_device("d1/edge.probe").await;
    let r: Value = a
        .req(Method::POST, "/api/devices/d1/modules/edge.probe/methods")
        .json(&json!({"methodName": "ping", "payload": {"n": 1}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], 200);
    let del = a
        .req(Method::DELETE, "/api/devices/d1/modules/edge.probe")
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let again = a
        .req(Method::DELETE, "/api/devices/d1/modules/edge.probe")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(again).await.1, Some(404010));
}
