//! Every public entry point refuses malformed input with an IoT Hub error
//! code and leaves the database exactly as it was.

use std::collections::BTreeMap;

use hublet_core::registry::DeviceUpdate;
use hublet_core::{AttachRequest, HubSettings, MethodCall, NewDevice, NewMessage};
use serde_json::json;

use crate::support::TestHub;

/// Every row of every table, as text.
async fn snapshot(t: &TestHub) -> String {
    t.hub.trace().flush().await.unwrap();
    let c = rusqlite::Connection::open_with_flags(
        t.hub.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut out = String::new();
    for table in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.push_str(&format!("## {table}\n"));
        for row in rows {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn malformed_input_gets_its_code_and_changes_nothing() {
    let t = TestHub::with_settings(HubSettings {
        queue_cap: 1,
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", NewMessage::text("fills the queue"))
        .await
        .unwrap();
    let before = snapshot(&t).await;
    let r = t.hub.registry();
    let mb = t.hub.mailbox();
    let m = t.hub.methods();
    let props = |k: &str| NewMessage {
        properties: BTreeMap::from([(k.to_string(), "v".to_string())]),
        ..NewMessage::text("x")
    };
    let long_id = "x".repeat(129);

    let cases: Vec<(&str, u32, hublet_core::HubResult<()>)> = vec![
        (
            "create: id with space",
            400004,
            r.create(NewDevice::named("bad id")).await.map(drop),
        ),
        (
            "create: id too long",
            400004,
            r.create(NewDevice::named(long_id.clone())).await.map(drop),
        ),
        (
            "create: empty id",
            400004,
            r.create(NewDevice::named("")).await.map(drop),
        ),
        (
            "create: bad key",
            400004,
            r.create(NewDevice {
                primary_key: Some("!!".into()),
                ..NewDevice::named("d2")
            })
            .await
            .map(drop),
        ),
        (
            "create: duplicate",
            409001,
            r.create(NewDevice::named("d1")).await.map(drop),
        ),
        ("get: bad id", 400004, r.get("a/b").await.map(drop)),
        (
            "update: unknown",
            404001,
            r.update("ghost", DeviceUpdate::default(), None)
                .await
                .map(drop),
        ),
        (
            "update: wrong etag",
            412001,
            r.update(
                "d1",
                DeviceUpdate {
                    status_reason: Some("x".into()),
                    ..Default::default()
                },
                Some("nope"),
            )
            .await
            .map(drop),
        ),
        (
            "delete: wrong etag",
            412001,
            r.delete("d1", Some("nope")).await,
        ),
        ("delete: bad id", 400004, r.delete("#bad id", None).await),
        (
            "send: bad device id",
            400004,
            mb.send("bad id", NewMessage::text("x")).await.map(drop),
        ),
        (
            "send: unknown device",
            404001,
            mb.send("ghost", NewMessage::text("x")).await.map(drop),
        ),
        (
            "send: bad message id",
            400004,
            mb.send(
                "d1",
                NewMessage {
                    message_id: Some("has space".into()),
                    ..NewMessage::text("x")
                },
            )
            .await
            .map(drop),
        ),
        (
            "send: long message id",
            400004,
            mb.send(
                "d1",
                NewMessage {
                    message_id: Some(long_id.clone()),
                    ..NewMessage::text("x")
                },
            )
            .await
            .map(drop),
        ),
        (
            "send: bad property",
            400004,
            mb.send("d1", props("no spaces allowed")).await.map(drop),
        ),
        (
            "send: control char in content type",
            400004,
            mb.send(
                "d1",
                NewMessage {
                    content_type: Some("a\nb".into()),
                    ..NewMessage::text("x")
                },
            )
            .await
            .map(drop),
        ),
        (
            "send: too large",
            413001,
            mb.send(
                "d1",
                NewMessage {
                    body: vec![0; 70_000],
                    ..NewMessage::default()
                },
            )
            .await
            .map(drop),
        ),
        (
            "send: expiry in the past",
            403009,
            mb.send(
                "d1",
                NewMessage {
                    expiry_time_utc: Some(t.hub.now()),
                    ..NewMessage::text("x")
                },
            )
            .await
            .map(drop),
        ),
        (
            "send: queue full",
            403004,
            mb.send("d1", NewMessage::text("x")).await.map(drop),
        ),
        (
            "complete: unknown lock",
            412002,
            mb.complete("d1", "no-such-lock").await,
        ),
        (
            "abandon: unknown lock",
            412002,
            mb.abandon("d1", "no-such-lock").await.map(drop),
        ),
        (
            "reject: unknown lock",
            412002,
            mb.reject("d1", "no-such-lock").await,
        ),
        (
            "purge: unknown device",
            404001,
            mb.purge("ghost").await.map(drop),
        ),
        ("list: bad id", 400004, mb.list("a b").await.map(drop)),
        ("receive: bad id", 400004, mb.receive("a b").await.map(drop)),
        (
            "invoke: bad id",
            400004,
            m.invoke("a b", MethodCall::new("m", json!(1)))
                .await
                .map(drop),
        ),
        (
            "invoke: unknown device",
            404001,
            m.invoke("ghost", MethodCall::new("m", json!(1)))
                .await
                .map(drop),
        ),
        (
            "invoke: bad name",
            400004,
            m.invoke("d1", MethodCall::new("a/b", json!(1)))
                .await
                .map(drop),
        ),
        (
            "invoke: response timeout 0",
            400004,
            m.invoke("d1", MethodCall::new("m", json!(1)).timeouts(0, 0))
                .await
                .map(drop),
        ),
        (
            "invoke: payload too large",
            413001,
            m.invoke("d1", MethodCall::new("m", json!("x".repeat(140_000))))
                .await
                .map(drop),
        ),
        (
            "feedback complete: unknown lock",
            412002,
            t.hub.feedback().complete("nope").await,
        ),
        (
            "feedback abandon: unknown lock",
            412002,
            t.hub.feedback().abandon("nope").await,
        ),
        (
            "settings: out of range",
            400004,
            t.hub
                .update_settings(HubSettings {
                    max_delivery_count: 0,
                    ..HubSettings::default()
                })
                .await
                .map(drop),
        ),
        (
            "settings: bad hub name",
            400004,
            t.hub
                .update_settings(HubSettings {
                    hub_name: "bad name".into(),
                    ..HubSettings::default()
                })
                .await
                .map(drop),
        ),
        (
            "attach: bad id",
            400004,
            t.hub
                .attach("a b", AttachRequest::trusted("t", None, "t"))
                .await
                .map(drop),
        ),
    ];
    for (what, code, result) in cases {
        let e = result.expect_err(what);
        assert_eq!(e.code().number(), code, "{what}: {e}");
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(snapshot(&t).await, before, "the database changed");
}
