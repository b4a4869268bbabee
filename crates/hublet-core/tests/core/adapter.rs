//! Per-device adapter state (used by the MQTT gateway for persistent sessions).

use serde_json::json;

use crate::support::TestHub;

#[tokio::test]
async fn adapter_state_is_kept_per_namespace_and_deleted_with_the_device() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let mqtt = t.hub.adapter_state("mqtt");
    assert_eq!(mqtt.get("d1").await.unwrap(), None);
    mqtt.put("d1", json!({"subscriptions": ["c2d"]}))
        .await
        .unwrap();
    mqtt.put("d1", json!({"subscriptions": ["c2d", "methods"]}))
        .await
        .unwrap();
    assert_eq!(
        mqtt.get("d1").await.unwrap(),
        Some(json!({"subscriptions": ["c2d", "methods"]}))
    );
    assert_eq!(t.hub.adapter_state("serial").get("d1").await.unwrap(), None);
    assert_eq!(
        mqtt.put("ghost", json!(1))
            .await
            .unwrap_err()
            .code()
            .number(),
        404001
    );
    t.hub.registry().delete("d1", None).await.unwrap();
    t.device("d1").await;
    assert_eq!(
        mqtt.get("d1").await.unwrap(),
        None,
        "a re-created device starts clean"
    );
    mqtt.put("d1", json!(2)).await.unwrap();
    mqtt.remove("d1").await.unwrap();
    assert_eq!(mqtt.get("d1").await.unwrap(), None);
}
