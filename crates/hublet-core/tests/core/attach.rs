//! The attachment interface: authentication, push delivery, replacement, detach.

use std::time::Duration;

use hublet_core::auth::sas;
use hublet_core::{
    AckMode, AttachRequest, DetachReason, EventKind, MessageState, NewMessage, Telemetry, ToDevice,
    TraceQuery,
};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::{TestHub, eventually};

fn trusted() -> AttachRequest {
    AttachRequest::trusted("test", Some("loopback".into()), "test")
}

async fn next_c2d(rx: &mut UnboundedReceiver<ToDevice>) -> hublet_core::C2dMessage {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(ToDevice::C2d(m))) => *m,
        other => panic!("expected a C2D delivery, got {other:?}"),
    }
}

/// The states of a device's queue, in order.
async fn states(t: &TestHub, device: &str) -> Vec<MessageState> {
    t.hub
        .mailbox()
        .list(device)
        .await
        .unwrap()
        .iter()
        .map(|m| m.state)
        .collect()
}

fn nothing_pending(rx: &mut UnboundedReceiver<ToDevice>) -> bool {
    rx.try_recv().is_err()
}

async fn token_for(t: &TestHub, device: &str, ttl_secs: i64) -> String {
    let d = t.hub.registry().get(device).await.unwrap();
    let se = t.hub.now().unix_seconds() + ttl_secs;
    sas::create(
        &format!("localhost/devices/{device}"),
        &d.primary_key,
        None,
        se,
    )
    .unwrap()
}

#[tokio::test]
async fn a_valid_sas_token_attaches_and_marks_the_device_connected() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let token = token_for(&t, "d1", 3600).await;
    let (att, _rx) = t
        .hub
        .attach(
            "d1",
            AttachRequest::sas("mqtt", Some("127.0.0.1:5555".into()), token),
        )
        .await
        .unwrap();
    let d = t.hub.registry().get("d1").await.unwrap();
    assert_eq!(
        d.connection_state,
        hublet_core::registry::ConnectionState::Connected
    );
    assert_eq!(d.transport.as_deref(), Some("mqtt"));
    att.detach(DetachReason::Closed).await;
    let d = t.hub.registry().get("d1").await.unwrap();
    assert_eq!(
        d.connection_state,
        hublet_core::registry::ConnectionState::Disconnected
    );
    assert!(d.last_activity_time.is_some());
}

#[tokio::test]
async fn bad_credentials_are_refused_with_401003_and_traced() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    let other = token_for(&t, "d2", 3600).await;
    let expired = token_for(&t, "d1", -1).await;
    let wrong_host = {
        let d = t.hub.registry().get("d1").await.unwrap();
        sas::create(
            "elsewhere.example/devices/d1",
            &d.primary_key,
            None,
            t.hub.now().unix_seconds() + 60,
        )
        .unwrap()
    };
    for (what, token) in [
        ("another device's token", other),
        ("expired", expired),
        ("wrong host", wrong_host),
        ("garbage", "hello".into()),
    ] {
        let e = t
            .hub
            .attach("d1", AttachRequest::sas("mqtt", None, token))
            .await
            .unwrap_err();
        assert_eq!(e.code().number(), 401003, "{what}");
    }
    let e = t.hub.attach("nobody", trusted()).await.unwrap_err();
    assert_eq!(
        e.code().number(),
        401003,
        "unknown devices are unauthorized, not 'not found'"
    );
    t.hub
        .registry()
        .set_enabled("d1", false, None)
        .await
        .unwrap();
    let e = t.hub.attach("d1", trusted()).await.unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    t.hub.trace().flush().await.unwrap();
    let fails = t
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["device.auth_failed".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fails.len(), 6);
}

/// Signs a token for `device` with `key`, as an SDK would.
fn token_signed(t: &TestHub, device: &str, key: &str) -> String {
    sas::create(
        &format!("{}/devices/{device}", t.hub.settings().hub_name),
        key,
        None,
        t.hub.now().unix_seconds() + 600,
    )
    .unwrap()
}

#[tokio::test]
async fn a_refusal_does_not_tell_which_device_ids_exist() {
    let t = TestHub::new().await;
    t.device("real").await;
    t.device("off").await;
    t.hub
        .registry()
        .set_enabled("off", false, None)
        .await
        .unwrap();
    let stranger_key = hublet_core::auth::generate_key();
    let mut public = Vec::new();
    for device in ["real", "off", "ghost"] {
        let token = token_signed(&t, device, &stranger_key);
        let over_mqtt = t
            .hub
            .attach(device, AttachRequest::sas("mqtt", None, token.clone()))
            .await
            .unwrap_err();
        let over_http = t
            .hub
            .authenticate_device(device, &token, "http", None)
            .await
            .unwrap_err();
        assert_eq!(over_mqtt.code().number(), 401003);
        assert_eq!(over_mqtt.to_string(), over_http.to_string());
        public.push(over_mqtt.to_string());
    }
    assert!(
        public.iter().all(|m| m == &public[0]),
        "unknown, disabled and wrong-key answers differ: {public:?}"
    );
    assert!(!public[0].contains("ghost") && !public[0].contains("real"));
    // The owner still learns exactly why, from the trace.
    t.hub.trace().flush().await.unwrap();
    let reasons: Vec<String> = t
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["device.auth_failed".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.detail {
            hublet_core::TraceDetail::DeviceAuthFailed(d) => {
                Some(format!("{} {}", d.via, d.reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("signature does not match"))
    );
    assert!(reasons.iter().any(|r| r.contains("is disabled")));
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("http ") && r.contains("not registered"))
    );
}

#[tokio::test]
async fn a_policy_token_with_device_connect_attaches_a_device() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let owner = t
        .hub
        .policies()
        .iter()
        .find(|p| p.name == "device")
        .unwrap()
        .primary_key
        .clone();
    let token = sas::create(
        "localhost/devices/d1",
        &owner,
        Some("device"),
        t.hub.now().unix_seconds() + 60,
    )
    .unwrap();
    t.hub
        .attach("d1", AttachRequest::sas("mqtt", None, token))
        .await
        .unwrap();
    let registry_only = t
        .hub
        .policies()
        .iter()
        .find(|p| p.name == "registryRead")
        .unwrap()
        .primary_key
        .clone();
    let token = sas::create(
        "localhost/devices/d1",
        &registry_only,
        Some("registryRead"),
        t.hub.now().unix_seconds() + 60,
    )
    .unwrap();
    assert_eq!(
        t.hub
            .attach("d1", AttachRequest::sas("mqtt", None, token))
            .await
            .unwrap_err()
            .code()
            .number(),
        401003
    );
}

#[tokio::test]
async fn subscribed_devices_get_their_queue_pushed_in_order_within_the_window() {
    let t = TestHub::new().await;
    t.device("d1").await;
    for i in 0..4 {
        let m = NewMessage {
            message_id: Some(format!("m{i}")),
            ..NewMessage::text("x")
        };
        t.hub.mailbox().send("d1", m).await.unwrap();
    }
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    assert!(
        nothing_pending(&mut rx),
        "nothing is pushed before the device subscribes"
    );
    att.subscribe_c2d(2).unwrap();
    let a = next_c2d(&mut rx).await;
    let b = next_c2d(&mut rx).await;
    assert_eq!((a.message_id.as_str(), b.message_id.as_str()), ("m0", "m1"));
    let states = states(&t, "d1").await;
    assert_eq!(
        states,
        [
            MessageState::Invisible,
            MessageState::Invisible,
            MessageState::Enqueued,
            MessageState::Enqueued
        ],
        "a window of 2 holds back the third"
    );
    att.complete(a.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(next_c2d(&mut rx).await.message_id, "m2");
    att.complete(b.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(next_c2d(&mut rx).await.message_id, "m3");

    // A message sent while the window has room is pushed at once.
    let m2 = t.hub.mailbox().list("d1").await.unwrap()[0]
        .lock_token
        .clone()
        .unwrap();
    att.complete(&m2).await.unwrap();
    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                message_id: Some("late".into()),
                ..NewMessage::text("y")
            },
        )
        .await
        .unwrap();
    assert_eq!(next_c2d(&mut rx).await.message_id, "late");
}

/// A message its own send hands to the connection (the common case: nothing
/// else waiting) is not read back from storage; what the device gets must
/// still be exactly what is stored: the same lock, counts, times and
/// properties.
#[tokio::test]
async fn a_message_handed_over_by_its_send_is_the_message_as_stored() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(2).unwrap();
    let sent = t
        .hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                message_id: Some("m1".into()),
                correlation_id: Some("c1".into()),
                user_id: Some("u1".into()),
                ttl_secs: Some(600),
                ack: AckMode::Full,
                content_type: Some("application/json".into()),
                content_encoding: Some("utf-8".into()),
                properties: [("a".to_string(), "1".to_string())].into(),
                ..NewMessage::text("{\"x\":1}")
            },
        )
        .await
        .unwrap();
    let got = next_c2d(&mut rx).await;
    let stored = t.hub.mailbox().list("d1").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(got, stored[0], "delivered as stored");
    assert_eq!(got.sequence_number, sent.sequence_number);
    assert_eq!(got.state, MessageState::Invisible);
    assert_eq!((got.attempts, got.delivery_count), (1, 0));
    assert!(got.lock_token.is_some() && got.lock_expiry.is_some());
    assert_eq!(got.properties.get("a").map(String::as_str), Some("1"));
}

/// A send to a connected device looks at its queue first: a lock that ran
/// out is released and an expired message dead-lettered by the send itself
/// (no sweep has run), and the oldest ready message is the one handed over.
#[tokio::test]
async fn a_send_releases_run_out_locks_and_expired_messages_before_it_hands_over() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(1).unwrap();
    let send = |id: &'static str, ttl: u64| {
        let hub = t.hub.clone();
        async move {
            hub.mailbox()
                .send(
                    "d1",
                    NewMessage {
                        message_id: Some(id.into()),
                        ttl_secs: Some(ttl),
                        ..NewMessage::text(id)
                    },
                )
                .await
                .unwrap()
        }
    };
    send("a", 600).await;
    assert_eq!(next_c2d(&mut rx).await.message_id, "a");
    send("b", 30).await;
    // The window of 1 holds "a": "b" waits, and expires with a's lock.
    t.clock.advance(Duration::from_secs(61));
    send("c", 600).await;
    let again = next_c2d(&mut rx).await;
    assert_eq!((again.message_id.as_str(), again.attempts), ("a", 2));
    let queue: Vec<(String, MessageState)> = t
        .hub
        .mailbox()
        .list("d1")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.message_id, m.state))
        .collect();
    assert_eq!(
        queue,
        [
            ("a".to_string(), MessageState::Invisible),
            ("c".to_string(), MessageState::Enqueued)
        ],
        "b dead-lettered, c waits behind a"
    );
    att.complete(again.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    let c = next_c2d(&mut rx).await;
    assert_eq!((c.message_id.as_str(), c.attempts), ("c", 1));
    t.hub.trace().flush().await.unwrap();
    let kinds = |id: &'static str| {
        let hub = t.hub.clone();
        async move {
            hub.trace()
                .story(id)
                .await
                .unwrap()
                .iter()
                .map(|e| e.kind().expect("a known kind"))
                .collect::<Vec<EventKind>>()
        }
    };
    assert_eq!(
        kinds("b").await,
        [
            EventKind::C2dEnqueued,
            EventKind::C2dExpired,
            EventKind::C2dDeadLettered
        ]
    );
    assert_eq!(
        kinds("a").await[..4],
        [
            EventKind::C2dEnqueued,
            EventKind::C2dDelivered,
            EventKind::C2dLockExpired,
            EventKind::C2dDelivered
        ]
    );
}

/// A send hands its message to the connection itself when the window has
/// room, and the pump delivers the backlog: both together keep the queue's
/// order and never exceed the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_and_the_pump_together_keep_the_order_and_the_window() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let msg = |i: usize| NewMessage {
        message_id: Some(format!("m{i:03}")),
        ..NewMessage::text("x")
    };
    for i in 0..20 {
        t.hub.mailbox().send("d1", msg(i)).await.unwrap();
    }
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(3).unwrap();
    let hub = t.hub.clone();
    let sender = tokio::spawn(async move {
        for i in 20..200 {
            // The queue holds 50: wait for room as a sender would.
            while let Err(e) = hub.mailbox().send("d1", msg(i)).await {
                assert!(matches!(e, hublet_core::HubError::QueueFull { .. }), "{e}");
                tokio::task::yield_now().await;
            }
        }
    });
    let mut held = std::collections::VecDeque::new();
    let mut got = Vec::new();
    while got.len() < 200 {
        let m = next_c2d(&mut rx).await;
        got.push(m.message_id.clone());
        held.push_back(m.lock_token.clone().unwrap());
        assert!(held.len() <= 3, "more than the window unsettled: {got:?}");
        let locked = states(&t, "d1")
            .await
            .into_iter()
            .filter(|s| *s == MessageState::Invisible)
            .count();
        assert!(locked <= 3, "{locked} messages locked for a window of 3");
        if held.len() == 3 || got.len() % 7 == 0 {
            let token = held.pop_front().unwrap();
            att.complete(&token).await.unwrap();
        }
    }
    sender.await.unwrap();
    let want: Vec<String> = (0..200).map(|i| format!("m{i:03}")).collect();
    assert_eq!(got, want, "delivered in queue order");
    assert!(nothing_pending(&mut rx), "each message delivered once");
}

#[tokio::test]
async fn a_withheld_ack_leads_to_redelivery_after_the_lock_timeout() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(1).unwrap();
    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                message_id: Some("m".into()),
                ack: AckMode::Full,
                ..NewMessage::text("x")
            },
        )
        .await
        .unwrap();
    let first = next_c2d(&mut rx).await;
    assert_eq!(first.attempts, 1);
    t.advance(Duration::from_secs(60)).await;
    let again = next_c2d(&mut rx).await;
    assert_eq!(again.message_id, "m");
    assert_eq!(again.attempts, 2, "redelivered as attempt 2");
    assert_eq!(
        att.complete(first.lock_token.as_deref().unwrap())
            .await
            .unwrap_err()
            .code()
            .number(),
        412002
    );
    att.complete(again.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    t.hub.trace().flush().await.unwrap();
    let kinds: Vec<EventKind> = t
        .hub
        .trace()
        .story("m")
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::C2dEnqueued,
            EventKind::C2dDelivered,
            EventKind::C2dLockExpired,
            EventKind::C2dDelivered,
            EventKind::C2dCompleted,
            EventKind::FeedbackProduced
        ]
    );
}

#[tokio::test]
async fn detaching_returns_held_messages_to_the_queue_for_the_next_connection() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                message_id: Some("m".into()),
                ..NewMessage::text("x")
            },
        )
        .await
        .unwrap();
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(1).unwrap();
    let held = next_c2d(&mut rx).await;
    att.detach(DetachReason::ConnectionLost("reset".into()))
        .await;
    let q = t.hub.mailbox().list("d1").await.unwrap();
    assert_eq!(
        q[0].state,
        MessageState::Enqueued,
        "released at once, not after 60 s"
    );
    assert_eq!(q[0].delivery_count, 0);
    let (att2, mut rx2) = t.hub.attach("d1", trusted()).await.unwrap();
    att2.subscribe_c2d(1).unwrap();
    let again = next_c2d(&mut rx2).await;
    assert_eq!(again.message_id, held.message_id);
    assert_eq!(again.attempts, 2);
}

#[tokio::test]
async fn a_second_attachment_replaces_the_first() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (first, mut rx1) = t.hub.attach("d1", trusted()).await.unwrap();
    let (second, _rx2) = t.hub.attach("d1", trusted()).await.unwrap();
    assert!(matches!(
        rx1.recv().await,
        Some(ToDevice::Close(r)) if matches!(*r, DetachReason::Replaced)
    ));
    assert!(!first.is_current());
    assert!(second.is_current());
    // The old connection ending later does not disturb the new one.
    first.detach(DetachReason::Closed).await;
    assert!(second.is_current());
    assert_eq!(
        t.hub.registry().get("d1").await.unwrap().connection_state,
        hublet_core::registry::ConnectionState::Connected
    );
}

#[tokio::test]
async fn the_hub_detaches_a_device_when_its_token_expires_or_it_is_disabled() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    let token = token_for(&t, "d1", 120).await;
    let (_a, mut rx) = t
        .hub
        .attach("d1", AttachRequest::sas("mqtt", None, token))
        .await
        .unwrap();
    eventually("token expiry timer armed", || t.clock.sleepers() >= 1).await;
    t.clock.advance(Duration::from_secs(120));
    assert!(matches!(
        rx.recv().await,
        Some(ToDevice::Close(r)) if matches!(*r, DetachReason::TokenExpired)
    ));

    let (_b, mut rx2) = t.hub.attach("d2", trusted()).await.unwrap();
    t.hub
        .registry()
        .set_enabled("d2", false, Some("maintenance".into()))
        .await
        .unwrap();
    assert!(matches!(
        rx2.recv().await,
        Some(ToDevice::Close(r)) if matches!(*r, DetachReason::Disabled)
    ));
}

#[tokio::test]
async fn telemetry_is_traced_and_oversized_telemetry_refused() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let (att, _rx) = t.hub.attach("d1", trusted()).await.unwrap();
    let tel = Telemetry {
        content_type: Some("application/json".into()),
        properties: [
            ("alert".to_string(), Some("high".to_string())),
            ("bare".to_string(), None),
        ]
        .into(),
        body: br#"{"temperature": 21.5}"#.to_vec(),
        ..Telemetry::default()
    };
    att.telemetry(tel).unwrap();
    let big = Telemetry {
        body: vec![0; 256 * 1024 + 1],
        ..Telemetry::default()
    };
    assert_eq!(att.telemetry(big).unwrap_err().code().number(), 413001);
    t.hub.trace().flush().await.unwrap();
    let evs = t
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["telemetry".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0].detail.detail_value()["body"]["text"],
        r#"{"temperature": 21.5}"#
    );
    assert_eq!(evs[0].detail.detail_value()["properties"]["alert"], "high");
    assert!(evs[0].detail.detail_value()["properties"]["bare"].is_null());
}

#[tokio::test]
async fn a_device_in_a_reconnect_loop_leaves_nothing_behind() {
    let t = TestHub::new().await;
    t.device("looper").await;
    // A token valid for ten years: before the fix, each connection left a
    // task waiting for its expiry until then.
    let token = token_for(&t, "looper", 10 * 365 * 24 * 3600).await;
    for round in 0..200 {
        let (att, _rx) = t
            .hub
            .attach("looper", AttachRequest::sas("mqtt", None, token.clone()))
            .await
            .unwrap();
        if round % 2 == 0 {
            att.detach(DetachReason::Closed).await;
        } else {
            drop(att); // a transport that goes away without saying why
        }
    }
    eventually("every expiry wait is gone", || t.clock.sleepers() == 0).await;
    // The last attachment holds one while it lasts.
    let (_att, _rx) = t
        .hub
        .attach("looper", AttachRequest::sas("mqtt", None, token))
        .await
        .unwrap();
    eventually("one expiry wait for the live attachment", || {
        t.clock.sleepers() == 1
    })
    .await;
}

#[tokio::test]
async fn after_a_crash_messages_a_connection_held_are_ready_at_once_but_http_locks_stay() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    for (d, id) in [("d1", "pushed"), ("d2", "over-http")] {
        let m = NewMessage {
            message_id: Some(id.into()),
            ..NewMessage::text("x")
        };
        t.hub.mailbox().send(d, m).await.unwrap();
    }
    let (att, mut rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(2).unwrap();
    assert_eq!(next_c2d(&mut rx).await.message_id, "pushed");
    // Sent while the device is attached with room: stored already locked.
    let sent = NewMessage {
        message_id: Some("sent-attached".into()),
        ..NewMessage::text("y")
    };
    t.hub.mailbox().send("d1", sent).await.unwrap();
    assert_eq!(next_c2d(&mut rx).await.message_id, "sent-attached");
    let http = t.hub.mailbox().receive("d2").await.unwrap().unwrap();
    // A crash: the files as they are now, opened by a new process.
    t.hub.trace().flush().await.unwrap();
    let copy = tempfile::tempdir().unwrap();
    let db = copy.path().join("hublet.db");
    std::fs::copy(t.hub.db_path(), &db).unwrap();
    let mut wal = t.hub.db_path().as_os_str().to_owned();
    wal.push("-wal");
    std::fs::copy(
        std::path::PathBuf::from(wal),
        copy.path().join("hublet.db-wal"),
    )
    .unwrap();
    let hub = hublet_core::Hub::open(
        hublet_core::HubOptions::new(&db)
            .clock(t.clock.shared())
            .background_tasks(false),
    )
    .await
    .unwrap();
    let d1 = hub.mailbox().list("d1").await.unwrap();
    assert_eq!(
        d1.iter()
            .map(|m| (m.message_id.as_str(), m.state, m.delivery_count))
            .collect::<Vec<_>>(),
        [
            ("pushed", MessageState::Enqueued, 0),
            ("sent-attached", MessageState::Enqueued, 0)
        ],
        "no need to wait out the locks"
    );
    let d2 = hub.mailbox().list("d2").await.unwrap();
    assert_eq!(
        d2[0].state,
        MessageState::Invisible,
        "an HTTP client may still complete"
    );
    hub.mailbox()
        .complete("d2", http.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    hub.trace().flush().await.unwrap();
    let released = hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["c2d.lock_released".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        released
            .iter()
            .map(|e| (e.device_id.as_deref(), e.message_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            (Some("d1"), Some("pushed")),
            (Some("d1"), Some("sent-attached"))
        ]
    );
}

/// A message handed over to a connection that can no longer take it (the
/// transport is gone, the detach not yet done) goes back to the queue at
/// once, even when the sender stopped waiting for its send: it does not
/// stay locked until the lock timeout.
#[tokio::test]
async fn a_handover_the_connection_cannot_take_is_put_back_even_if_the_sender_left() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    let (att, rx) = t.hub.attach("d1", trusted()).await.unwrap();
    att.subscribe_c2d(5).unwrap();
    drop(rx);
    let send = t
        .hub
        .mailbox()
        .submit_via("d1", NewMessage::text("x"), None)
        .unwrap();
    // The sender disconnects before its send is answered.
    drop(send);
    // Storage jobs run in queue order: once this later send is answered,
    // the first one has run, locked the message and found the connection
    // gone. Then the transport's detach follows.
    t.hub
        .mailbox()
        .send("d2", NewMessage::text("w"))
        .await
        .unwrap();
    att.detach(DetachReason::ConnectionLost("reset".into()))
        .await;
    // A release is queued while the group of the job that locked runs, so
    // a send queued after that group was answered comes after it.
    for body in ["y", "z"] {
        t.hub
            .mailbox()
            .send("d2", NewMessage::text(body))
            .await
            .unwrap();
    }
    assert_eq!(states(&t, "d1").await, vec![MessageState::Enqueued]);
}
