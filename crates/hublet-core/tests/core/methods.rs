//! The direct-method engine with a test attachment standing in for a transport.

use std::time::Duration;

use hublet_core::{AttachRequest, EventKind, Hub, HubSettings, MethodCall, ToDevice, TraceQuery};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::{TestHub, eventually, sleepers};

fn trusted() -> AttachRequest {
    AttachRequest::trusted("test", None, "test attachment")
}

/// A device that answers every method with status 200 and `{"echo": payload, "method": name}`.
fn echo_device(
    att: hublet_core::Attachment,
    mut rx: UnboundedReceiver<ToDevice>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match item {
                ToDevice::Method(req) => {
                    let payload: serde_json::Value = serde_json::from_slice(&req.payload).unwrap();
                    let body =
                        serde_json::to_vec(&json!({"echo": payload, "method": req.method_name}))
                            .unwrap();
                    att.respond(&req.request_id, 200, &body);
                }
                ToDevice::Close(_) => return,
                ToDevice::C2d(_) | ToDevice::DesiredPatch(_) => {}
            }
        }
    })
}

async fn invoke_in_background(
    hub: &Hub,
    device: &str,
    call: MethodCall,
) -> tokio::task::JoinHandle<hublet_core::HubResult<hublet_core::MethodResponse>> {
    let hub = hub.clone();
    let device = device.to_string();
    tokio::spawn(async move { hub.methods().invoke(&device, call).await })
}

#[tokio::test]
async fn a_device_that_attaches_three_seconds_into_a_five_second_connect_timeout_is_reached() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let call = invoke_in_background(
        &t.hub,
        "d1",
        MethodCall::new("reboot", json!({"delay": 5})).timeouts(5, 30),
    )
    .await;
    sleepers(&t.clock, 1).await;
    t.clock.advance(Duration::from_secs(3));
    let (att, rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let _dev = echo_device(att, rx);
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.payload, json!({"echo": {"delay": 5}, "method": "reboot"}));
}

#[tokio::test]
async fn an_offline_device_gives_404103_after_the_connect_timeout() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let now = t
        .hub
        .methods()
        .invoke("d1", MethodCall::new("m", json!(null)))
        .await
        .unwrap_err();
    assert_eq!(
        now.code().number(),
        404103,
        "connect timeout 0: the device must already be online"
    );

    let call = invoke_in_background(
        &t.hub,
        "d1",
        MethodCall::new("m", json!(null)).timeouts(5, 30),
    )
    .await;
    sleepers(&t.clock, 1).await;
    t.clock.advance(Duration::from_millis(4999));
    tokio::task::yield_now().await;
    assert!(!call.is_finished());
    t.clock.advance(Duration::from_millis(1));
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code().number(), 404103);
    assert_eq!(e.code().http_status(), 404);
}

#[tokio::test]
async fn attached_but_not_subscribed_is_not_online() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (_att, _rx) = t.hub.attach("d1", trusted()).await.unwrap();
    let e = t
        .hub
        .methods()
        .invoke("d1", MethodCall::new("m", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 404103);
}

#[tokio::test]
async fn a_device_that_never_answers_gives_504101_after_the_response_timeout() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let call = invoke_in_background(
        &t.hub,
        "d1",
        MethodCall::new("slow", json!({})).timeouts(0, 10),
    )
    .await;
    let req = match rx.recv().await.unwrap() {
        ToDevice::Method(r) => r,
        other => panic!("expected a method request, got {other:?}"),
    };
    sleepers(&t.clock, 1).await;
    t.clock.advance(Duration::from_secs(10));
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code().number(), 504101);

    // A late answer is ignored and traced.
    assert_eq!(
        att.respond(&req.request_id, 200, b"{}"),
        hublet_core::Responded::Late
    );
    t.hub.trace().flush().await.unwrap();
    let story = t.hub.trace().story(&req.request_id).await.unwrap();
    let kinds: Vec<EventKind> = story
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::MethodInvoked,
            EventKind::MethodDelivered,
            EventKind::MethodTimedOut,
            EventKind::MethodLateResponse
        ]
    );
}

#[tokio::test]
async fn a_device_that_detaches_mid_call_fails_the_call_at_once() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let call = invoke_in_background(
        &t.hub,
        "d1",
        MethodCall::new("m", json!(1)).timeouts(0, 300),
    )
    .await;
    assert!(matches!(rx.recv().await, Some(ToDevice::Method(_))));
    att.detach(hublet_core::DetachReason::ConnectionLost(
        "cable pulled".into(),
    ))
    .await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code().number(), 404104);
    assert!(e.to_string().contains("cable pulled"), "{e}");
}

#[tokio::test]
async fn a_replacing_connection_fails_calls_on_the_old_one_with_400027() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let call = invoke_in_background(
        &t.hub,
        "d1",
        MethodCall::new("m", json!(1)).timeouts(0, 300),
    )
    .await;
    assert!(matches!(rx.recv().await, Some(ToDevice::Method(_))));
    let (_new, _new_rx) = t.hub.attach("d1", trusted()).await.unwrap();
    assert_eq!(call.await.unwrap().unwrap_err().code().number(), 400027);
    assert!(matches!(
        rx.recv().await,
        Some(ToDevice::Close(r)) if matches!(*r, hublet_core::DetachReason::Replaced)
    ));
}

#[tokio::test]
async fn fifty_concurrent_calls_are_each_answered_with_their_own_response() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let mut calls = Vec::new();
    for i in 0..50 {
        calls.push(
            invoke_in_background(
                &t.hub,
                "d1",
                MethodCall::new(format!("m{i}"), json!({"i": i})),
            )
            .await,
        );
    }
    let mut requests = Vec::new();
    while requests.len() < 50 {
        if let Some(ToDevice::Method(r)) = rx.recv().await {
            requests.push(r);
        }
    }
    // Answer in reverse order of arrival: correlation must be by request id.
    for r in requests.iter().rev() {
        let i: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        let body = serde_json::to_vec(&json!({"i": i["i"], "name": r.method_name})).unwrap();
        att.respond(&r.request_id, 200 + i["i"].as_i64().unwrap() as i32, &body);
    }
    for (i, c) in calls.into_iter().enumerate() {
        let r = c.await.unwrap().unwrap();
        assert_eq!(r.status, 200 + i as i32);
        assert_eq!(r.payload, json!({"i": i, "name": format!("m{i}")}));
    }
}

#[tokio::test]
async fn responses_that_are_empty_or_not_json() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    for (body, expect) in [
        (&b""[..], Ok(json!(null))),
        (&b"not json"[..], Err(502001)),
        (&b"{\"a\":1}"[..], Ok(json!({"a": 1}))),
    ] {
        let call = invoke_in_background(&t.hub, "d1", MethodCall::new("m", json!(null))).await;
        let ToDevice::Method(req) = rx.recv().await.unwrap() else {
            panic!("expected a request")
        };
        assert_eq!(req.payload, b"null");
        att.respond(&req.request_id, 200, body);
        match (call.await.unwrap(), expect) {
            (Ok(r), Ok(v)) => assert_eq!(r.payload, v),
            (Err(e), Err(code)) => {
                assert_eq!(e.code().number(), code);
                assert!(
                    e.to_string().contains("not json"),
                    "the error shows what the device sent: {e}"
                );
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }
}

#[tokio::test]
async fn bad_calls_are_refused_before_anything_is_sent() {
    let t = TestHub::with_settings(HubSettings {
        method_inflight_limit: 1,
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    let m = t.hub.methods();
    let code =
        |r: hublet_core::HubResult<hublet_core::MethodResponse>| r.unwrap_err().code().number();
    assert_eq!(
        code(m.invoke("ghost", MethodCall::new("m", json!(1))).await),
        404001
    );
    assert_eq!(
        code(m.invoke("bad id", MethodCall::new("m", json!(1))).await),
        400004
    );
    assert_eq!(
        code(m.invoke("d1", MethodCall::new("bad name", json!(1))).await),
        400004
    );
    assert_eq!(
        code(
            m.invoke("d1", MethodCall::new("m", json!(1)).timeouts(0, 0))
                .await
        ),
        400004
    );
    assert_eq!(
        code(
            m.invoke("d1", MethodCall::new("m", json!(1)).timeouts(0, 4))
                .await
        ),
        400004
    );
    assert_eq!(
        code(
            m.invoke("d1", MethodCall::new("m", json!(1)).timeouts(301, 30))
                .await
        ),
        400004
    );
    assert_eq!(
        code(
            m.invoke("d1", MethodCall::new("m", json!(1)).timeouts(0, 301))
                .await
        ),
        400004
    );
    let big = json!("x".repeat(128 * 1024));
    assert_eq!(
        code(m.invoke("d1", MethodCall::new("m", big)).await),
        413001
    );

    let (att, _rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let _first = invoke_in_background(&t.hub, "d1", MethodCall::new("m", json!(1))).await;
    eventually("first call in flight", || t.clock.sleepers() >= 1).await;
    assert_eq!(
        code(m.invoke("d1", MethodCall::new("m", json!(2))).await),
        403800
    );
}

#[tokio::test]
async fn every_call_leaves_its_story_in_the_trace() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_methods();
    let _dev = echo_device(att, rx);
    let r = t
        .hub
        .methods()
        .invoke("d1", MethodCall::new("ping", json!({"n": 1})))
        .await
        .unwrap();
    t.hub.trace().flush().await.unwrap();
    let story = t
        .hub
        .trace()
        .query(TraceQuery::story(r.request_id.clone()))
        .await
        .unwrap();
    let kinds: Vec<EventKind> = story
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::MethodInvoked,
            EventKind::MethodDelivered,
            EventKind::MethodResponded
        ]
    );
    assert_eq!(story[2].detail.detail_value()["status"], 200);
    assert_eq!(story[0].detail.detail_value()["methodName"], "ping");
}

#[tokio::test]
async fn a_failed_call_names_the_request_id_its_story_is_under() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let m = t.hub.methods();

    // Refused before it got a request id: nothing to link to.
    let refused = m
        .call("ghost", MethodCall::new("m", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(refused.error.code().number(), 404001);
    assert_eq!(refused.request_id, None);
    let bad = m
        .call("d1", MethodCall::new("bad name", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(bad.request_id, None);

    // Admitted, then failed (404103): its story is in the trace under the id.
    let offline = m
        .call("d1", MethodCall::new("reboot", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(offline.error.code().number(), 404103);
    let rid = offline
        .request_id
        .expect("an admitted call has a request id");
    t.hub.trace().flush().await.unwrap();
    let story = t.hub.trace().story(&rid).await.unwrap();
    let kinds: Vec<EventKind> = story
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(kinds, [EventKind::MethodInvoked, EventKind::MethodFailed]);
    assert_eq!(story[1].detail.detail_value()["code"], 404103);
    assert_eq!(story[0].detail.detail_value()["methodName"], "reboot");
}

#[tokio::test]
async fn request_ids_never_repeat_across_restarts_of_the_same_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let rid = |hub: hublet_core::Hub| async move {
        hub.methods()
            .call("d1", MethodCall::new("reboot", json!(1)))
            .await
            .unwrap_err()
            .request_id
            .expect("admitted")
            .parse::<u64>()
            .unwrap()
    };
    let hub = open().await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    let first = rid(hub.clone()).await;
    let second = rid(hub.clone()).await;
    assert!(second > first);
    hub.close().await.unwrap();
    drop(hub);
    // A clean restart, then one after the process died without closing.
    let hub = open().await.unwrap();
    let third = rid(hub.clone()).await;
    assert!(third > second, "{third} after {second}");
    drop(hub);
    let hub = open().await.unwrap();
    let fourth = rid(hub.clone()).await;
    assert!(fourth > third, "{fourth} after {third}");
    // Each call's story is its own.
    for r in [first, second, third, fourth] {
        let story = hub.trace().story(&r.to_string()).await.unwrap();
        assert_eq!(
            story
                .iter()
                .filter(|e| e.kind() == Some(EventKind::MethodInvoked))
                .count(),
            1,
            "story {r} holds one call"
        );
    }
}

#[tokio::test]
async fn request_ids_continue_past_those_an_older_hublet_left_in_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.close().await.unwrap();
    drop(hub);
    {
        // Roll the file back to Hublet 0.1's schema, with its calls 1..=57.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(crate::support::UNDO_C2D_V11).unwrap();
        c.execute_batch(crate::support::UNDO_TRACE_V9).unwrap();
        c.execute_batch(
            "DROP TABLE method_request_ids; ALTER TABLE c2d_messages DROP COLUMN lock_pushed;
             DROP TRIGGER twins_follow_modules; DROP TRIGGER twins_follow_devices; DROP TABLE twins;
             DROP TRIGGER modules_follow_devices; DROP TABLE modules;
             DROP TABLE eh_events; DROP TABLE eh_partitions; DROP TABLE eh_consumer_groups;
             DROP TABLE test_runs;
             PRAGMA user_version = 2;
             INSERT INTO trace_events (ts_ms, mono_us, kind, device_id, request_id, detail)
             VALUES (0, 0, 'method.invoked', 'd1', '57', '{}'), (0, 0, 'method.invoked', 'd1', '9', '{}');",
        )
        .unwrap();
    }
    let hub = open().await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    let next: u64 = hub
        .methods()
        .call("d1", MethodCall::new("reboot", json!(1)))
        .await
        .unwrap_err()
        .request_id
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > 57, "{next}");
}
