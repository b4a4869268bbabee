//! Device twins: IoT Hub's merge rules, versions and metadata, etags,
//! limits that leave the twin unchanged, desired patches to an attached
//! device in order, and a twin that survives a restart.

use std::time::Duration;

use hublet_core::twin::{TwinOp, TwinWrite};
use hublet_core::{AttachRequest, NewDevice, ToDevice};
use serde_json::{Map, Value, json};

use crate::support::TestHub;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn desired(v: Value) -> TwinWrite {
    TwinWrite {
        desired: Some(obj(v)),
        ..TwinWrite::default()
    }
}

#[tokio::test]
async fn a_fresh_twin_has_iot_hubs_shape_and_versions() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let twin = t.hub.twins().get("d1").await.unwrap().to_json();
    assert_eq!(twin["deviceId"], "d1");
    assert_eq!(twin["etag"], "AAAAAAAAAAE=");
    assert_eq!(twin["version"], 2);
    assert_eq!(twin["status"], "enabled");
    assert_eq!(twin["connectionState"], "Disconnected");
    assert_eq!(twin["modelId"], "");
    assert!(twin.get("tags").is_none(), "no tags key until a tag is set");
    assert_eq!(twin["properties"]["desired"]["$version"], 1);
    assert_eq!(twin["properties"]["reported"]["$version"], 1);
    assert!(twin["properties"]["desired"]["$metadata"]["$lastUpdated"].is_string());
    let e = t.hub.twins().get("nobody").await.unwrap_err();
    assert_eq!(e.code().number(), 404001);
}

#[tokio::test]
async fn patches_merge_bump_versions_and_keep_metadata() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let twins = t.hub.twins();
    let w = TwinWrite {
        tags: Some(obj(json!({"room": "lab", "floor": 1}))),
        desired: Some(obj(
            json!({"setpoint": 21, "fan": {"speed": 2, "mode": "auto"}}),
        )),
    };
    let first = twins
        .write("d1", TwinOp::Patch, w, None)
        .await
        .unwrap()
        .to_json();
    assert_eq!(first["etag"], "AAAAAAAAAAI=");
    assert_eq!(first["version"], 3);
    assert_eq!(first["properties"]["desired"]["$version"], 2);
    t.clock.advance(Duration::from_secs(5));
    let second = twins
        .write(
            "d1",
            TwinOp::Patch,
            desired(json!({"fan": {"mode": null}, "setpoint": 22})),
            Some("\"AAAAAAAAAAI=\""),
        )
        .await
        .unwrap()
        .to_json();
    let d = &second["properties"]["desired"];
    assert_eq!(d["setpoint"], 22);
    assert_eq!(
        d["fan"],
        json!({"speed": 2}),
        "null removes, untouched members stay"
    );
    assert_eq!(d["$version"], 3);
    assert_eq!(d["$metadata"]["setpoint"]["$lastUpdatedVersion"], 3);
    assert_eq!(d["$metadata"]["fan"]["speed"]["$lastUpdatedVersion"], 2);
    assert_eq!(second["tags"], json!({"room": "lab", "floor": 1}));

    // The device reports: reported and version move, the etag does not.
    let v = twins
        .report("d1", json!({"setpoint": 22}), "test")
        .await
        .unwrap();
    assert_eq!(v, 2);
    let after = twins.get("d1").await.unwrap().to_json();
    assert_eq!(after["etag"], second["etag"]);
    assert_eq!(after["version"], 5);
    assert_eq!(after["properties"]["reported"]["setpoint"], 22);
    assert!(
        after["properties"]["reported"]["$metadata"]["setpoint"]
            .get("$lastUpdatedVersion")
            .is_none()
    );

    // Replace: tags and desired become the body's.
    let put = TwinWrite {
        tags: Some(obj(json!({"room": "attic"}))),
        desired: Some(obj(json!({"mode": "eco"}))),
    };
    let replaced = twins
        .write("d1", TwinOp::Replace, put, Some("*"))
        .await
        .unwrap()
        .to_json();
    assert_eq!(replaced["tags"], json!({"room": "attic"}));
    let d = replaced["properties"]["desired"].as_object().unwrap();
    let keys: Vec<&str> = d
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with('$'))
        .collect();
    assert_eq!(keys, vec!["mode"]);
}

#[tokio::test]
async fn a_stale_etag_or_a_bad_patch_changes_nothing() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let twins = t.hub.twins();
    twins
        .write("d1", TwinOp::Patch, desired(json!({"a": 1})), None)
        .await
        .unwrap();
    let before = twins.get("d1").await.unwrap().to_json();
    let stale = twins
        .write(
            "d1",
            TwinOp::Patch,
            desired(json!({"a": 2})),
            Some("\"AAAAAAAAAAE=\""),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code().number(), 412001);
    for bad in [
        json!({"a.b": 1}),
        json!({"$a": 1}),
        json!({"big": "x".repeat(5000)}),
        json!({"n": 9_007_199_254_740_993_i64}),
    ] {
        let e = twins
            .write("d1", TwinOp::Patch, desired(bad.clone()), None)
            .await
            .unwrap_err();
        assert_eq!(e.code().number(), 400004, "{bad}");
    }
    // Over the section's 32 KB, built from keys that are each valid.
    let mut huge = Map::new();
    for i in 0..10 {
        huge.insert(format!("k{i}"), json!("x".repeat(4000)));
    }
    let e = twins
        .write(
            "d1",
            TwinOp::Patch,
            TwinWrite {
                desired: Some(huge),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 400004);
    let e = twins
        .report("d1", json!(["not", "an", "object"]), "test")
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 400004);
    assert_eq!(twins.get("d1").await.unwrap().to_json(), before);
}

#[tokio::test]
async fn an_attached_device_hears_desired_patches_in_version_order() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t
        .hub
        .attach("d1", AttachRequest::trusted("test", None, "test"))
        .await
        .unwrap();
    // Before subscribing, nothing is sent (IoT Hub does not queue them).
    t.hub
        .twins()
        .write("d1", TwinOp::Patch, desired(json!({"early": true})), None)
        .await
        .unwrap();
    att.subscribe_twin_desired();
    let writes: Vec<_> = (0..20)
        .map(|i| {
            let hub = t.hub.clone();
            tokio::spawn(async move {
                hub.twins()
                    .write("d1", TwinOp::Patch, desired(json!({"n": i})), None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    let mut versions = Vec::new();
    while versions.len() < 20 {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(ToDevice::DesiredPatch(body))) => {
                versions.push(body["$version"].as_u64().unwrap());
            }
            other => panic!("expected a desired patch, got {other:?}"),
        }
    }
    assert_eq!(
        versions,
        (3..23).collect::<Vec<u64>>(),
        "every patch, in order, none before the subscription"
    );
    let view = att.twin().await.unwrap();
    assert_eq!(view["desired"]["$version"], 22);
    assert!(
        view["desired"].get("$metadata").is_none(),
        "a device's GET has no metadata"
    );
}

#[tokio::test]
async fn a_twin_survives_a_restart_and_goes_with_its_device() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.registry().create(NewDevice::named("d1")).await.unwrap();
    hub.twins()
        .write("d1", TwinOp::Patch, desired(json!({"keep": "me"})), None)
        .await
        .unwrap();
    hub.twins()
        .report("d1", json!({"fw": "1.2"}), "test")
        .await
        .unwrap();
    hub.close().await.unwrap();
    drop(hub);
    let hub = open().await.unwrap();
    let twin = hub.twins().get("d1").await.unwrap().to_json();
    assert_eq!(twin["properties"]["desired"]["keep"], "me");
    assert_eq!(twin["properties"]["reported"]["fw"], "1.2");
    assert_eq!(twin["version"], 4);
    hub.registry().delete("d1", None).await.unwrap();
    hub.registry().create(NewDevice::named("d1")).await.unwrap();
    let fresh = hub.twins().get("d1").await.unwrap().to_json();
    assert_eq!(
        fresh["version"], 2,
        "a re-created device starts with a fresh twin"
    );
}

#[tokio::test]
async fn twins_written_before_modules_existed_survive_the_schema_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.registry()
        .create(NewDevice::named("old"))
        .await
        .unwrap();
    hub.twins()
        .write("old", TwinOp::Patch, desired(json!({"kept": true})), None)
        .await
        .unwrap();
    hub.close().await.unwrap();
    drop(hub);
    {
        // Back to schema 5: twins keyed by device only, no modules.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(crate::support::UNDO_C2D_V11).unwrap();
        c.execute_batch(crate::support::UNDO_TRACE_V9).unwrap();
        c.execute_batch(
            "DROP TABLE eh_events; DROP TABLE eh_partitions; DROP TABLE eh_consumer_groups;
             DROP TABLE test_runs;
             DROP TRIGGER twins_follow_modules; DROP TRIGGER modules_follow_devices; DROP TABLE modules;
             CREATE TABLE twins5 AS SELECT device_id, tags, desired, reported, etag_seq, version, model_id FROM twins;
             DROP TRIGGER twins_follow_devices; DROP TABLE twins;
             CREATE TABLE twins (device_id TEXT PRIMARY KEY NOT NULL, tags TEXT, desired TEXT NOT NULL,
                 reported TEXT NOT NULL, etag_seq INTEGER NOT NULL, version INTEGER NOT NULL,
                 model_id TEXT NOT NULL DEFAULT '');
             INSERT INTO twins SELECT * FROM twins5; DROP TABLE twins5;
             CREATE TRIGGER twins_follow_devices AFTER DELETE ON devices
             BEGIN DELETE FROM twins WHERE device_id = old.device_id; END;
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let hub = open().await.unwrap();
    let twin = hub.twins().get("old").await.unwrap().to_json();
    assert_eq!(twin["properties"]["desired"]["kept"], true);
    assert_eq!(twin["version"], 3);
    // And the new schema works: a module with a twin, gone with the device.
    hub.modules()
        .create(
            "old",
            hublet_core::NewModule {
                module_id: "m".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    hub.twins()
        .write("old/m", TwinOp::Patch, desired(json!({"m": 1})), None)
        .await
        .unwrap();
    hub.registry().delete("old", None).await.unwrap();
    hub.registry()
        .create(NewDevice::named("old"))
        .await
        .unwrap();
    assert_eq!(
        hub.twins().get("old/m").await.unwrap_err().code().number(),
        404010
    );
}

mod queries_follow_patches {
    //! Random tag and reported patches on a few devices, checked against a
    //! plain model of the twins: a query for each tag value returns exactly
    //! the devices whose modelled tags hold it.
    use std::collections::BTreeMap;

    use hublet_core::twin::{TwinOp, TwinWrite};
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use crate::support::TestHub;

    #[derive(Debug, Clone)]
    enum Op {
        Tag {
            device: usize,
            key: &'static str,
            value: Option<u8>,
        },
        Report {
            device: usize,
            value: Option<u8>,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                0..4usize,
                prop_oneof![Just("room"), Just("floor")],
                proptest::option::of(0..3u8)
            )
                .prop_map(|(device, key, value)| Op::Tag { device, key, value }),
            (0..4usize, proptest::option::of(0..3u8))
                .prop_map(|(device, value)| Op::Report { device, value }),
        ]
    }

    fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let t = TestHub::new().await;
            for d in 0..4 {
                t.device(&format!("p{d}")).await;
            }
            // Model: per device, tag key → value, and the reported `mode`.
            let mut tags: Vec<BTreeMap<&str, u8>> = vec![BTreeMap::new(); 4];
            let mut mode: Vec<Option<u8>> = vec![None; 4];
            for op in ops {
                match op {
                    Op::Tag { device, key, value } => {
                        let mut patch = Map::new();
                        patch.insert(key.into(), value.map_or(Value::Null, |v| json!(v)));
                        t.hub
                            .twins()
                            .write(
                                &format!("p{device}"),
                                TwinOp::Patch,
                                TwinWrite { tags: Some(patch), desired: None },
                                None,
                            )
                            .await
                            .unwrap();
                        match value {
                            Some(v) => tags[device].insert(key, v),
                            None => tags[device].remove(key),
                        };
                    }
                    Op::Report { device, value } => {
                        t.hub
                            .twins()
                            .report(&format!("p{device}"), json!({"mode": value}), "test")
                            .await
                            .unwrap();
                        mode[device] = value;
                    }
                }
            }
            for key in ["room", "floor"] {
                for v in 0..3u8 {
                    let q = format!("SELECT deviceId FROM devices WHERE tags.{key} = {v}");
                    let got: Vec<String> = t.hub.twins().query(&q, Some(1000), None).await.unwrap().items
                        .iter().map(|r| r["deviceId"].as_str().unwrap_or("").to_string()).collect();
                    let want: Vec<String> = (0..4).filter(|d| tags[*d].get(key) == Some(&v)).map(|d| format!("p{d}")).collect();
                    prop_assert_eq!(got, want, "{}", q);
                }
            }
            let q = "SELECT deviceId FROM devices WHERE IS_DEFINED(properties.reported.mode) AND properties.reported.mode = null";
            let got: Vec<String> = t.hub.twins().query(q, None, None).await.unwrap().items
                .iter().map(|r| r["deviceId"].as_str().unwrap_or("").to_string()).collect();
            let want: Vec<String> = Vec::new();
            prop_assert_eq!(got, want, "a reported null removes the property");
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn a_query_finds_exactly_the_devices_whose_twins_match(ops in proptest::collection::vec(op(), 1..40)) {
            run(ops)?;
        }
    }
}
