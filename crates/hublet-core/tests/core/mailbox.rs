//! The C2D life cycle, limits, TTL and locks.

use std::collections::BTreeMap;
use std::time::Duration;

use hublet_core::{AckMode, EventKind, HubSettings, MessageState, NewMessage, TraceQuery};

use crate::support::TestHub;

fn msg(id: &str, ack: AckMode) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        ack,
        ..NewMessage::text(format!("body of {id}"))
    }
}

async fn feedback_of(t: &TestHub, message_id: &str) -> Vec<String> {
    t.hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["feedback.produced".into()],
            correlation: Some(message_id.into()),
            ..TraceQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            e.detail.detail_value()["statusCode"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn send_receive_complete_removes_the_message_and_gives_positive_feedback() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let sent = t
        .hub
        .mailbox()
        .send("d1", msg("m1", AckMode::Full))
        .await
        .unwrap();
    assert_eq!(sent.sequence_number, 1);
    assert_eq!(sent.to, "/devices/d1/messages/devicebound");
    assert_eq!(
        sent.expiry_time_utc,
        t.hub.now().plus(Duration::from_secs(3600)),
        "default TTL is 1 h"
    );

    let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(got.message_id, "m1");
    assert_eq!(got.state, MessageState::Invisible);
    assert_eq!(got.attempts, 1);
    assert_eq!(got.delivery_count, 0);
    assert_eq!(
        t.hub.mailbox().list("d1").await.unwrap()[0].state,
        MessageState::Invisible
    );

    t.hub
        .mailbox()
        .complete("d1", got.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    assert!(t.hub.mailbox().list("d1").await.unwrap().is_empty());
    assert_eq!(feedback_of(&t, "m1").await, ["Success"]);
    let err = t
        .hub
        .mailbox()
        .complete("d1", got.lock_token.as_deref().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.code().number(),
        412002,
        "a settled lock cannot be settled twice"
    );
}

#[tokio::test]
async fn messages_are_delivered_in_sequence_order_and_keep_their_place_after_abandon() {
    let t = TestHub::new().await;
    t.device("d1").await;
    for i in 1..=5 {
        t.hub
            .mailbox()
            .send("d1", msg(&format!("m{i}"), AckMode::None))
            .await
            .unwrap();
    }
    let first = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(first.message_id, "m1");
    let second = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(second.message_id, "m2");
    t.hub
        .mailbox()
        .abandon("d1", first.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    let again = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(
        again.message_id, "m1",
        "an abandoned message returns to its place at the head"
    );
    assert_eq!(again.delivery_count, 1);
    assert_eq!(again.attempts, 2);
    let third = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(third.message_id, "m3");
}

#[tokio::test]
async fn the_queue_cap_counts_locked_messages_and_refuses_with_403004() {
    let t = TestHub::with_settings(HubSettings {
        queue_cap: 3,
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    for i in 0..3 {
        t.hub
            .mailbox()
            .send("d1", msg(&format!("m{i}"), AckMode::None))
            .await
            .unwrap();
    }
    t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    let err = t
        .hub
        .mailbox()
        .send("d1", msg("m3", AckMode::None))
        .await
        .unwrap_err();
    assert_eq!(err.code().number(), 403004);
    assert_eq!(err.code().http_status(), 403);
    assert_eq!(t.hub.mailbox().list("d1").await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_default_queue_cap_is_fifty() {
    let t = TestHub::new().await;
    t.device("d1").await;
    for i in 0..50 {
        t.hub
            .mailbox()
            .send("d1", msg(&format!("m{i}"), AckMode::None))
            .await
            .unwrap();
    }
    assert_eq!(
        t.hub
            .mailbox()
            .send("d1", msg("x", AckMode::None))
            .await
            .unwrap_err()
            .code()
            .number(),
        403004
    );
}

#[tokio::test]
async fn an_expired_message_is_never_delivered_and_gives_expired_feedback() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let m = NewMessage {
        ttl_secs: Some(10),
        ..msg("short", AckMode::Negative)
    };
    t.hub.mailbox().send("d1", m).await.unwrap();
    t.hub
        .mailbox()
        .send("d1", msg("long", AckMode::Negative))
        .await
        .unwrap();
    // No sweep: expiry must still apply lazily at dequeue.
    t.clock.advance(Duration::from_secs(10));
    let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(got.message_id, "long");
    assert_eq!(feedback_of(&t, "short").await, ["Expired"]);
    let story: Vec<EventKind> = t
        .hub
        .trace()
        .story("short")
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        story,
        [
            EventKind::C2dEnqueued,
            EventKind::C2dExpired,
            EventKind::C2dDeadLettered,
            EventKind::FeedbackProduced
        ]
    );
}

#[tokio::test]
async fn the_sweeper_expires_messages_nobody_asks_for() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                ttl_secs: Some(60),
                ..msg("m", AckMode::Full)
            },
        )
        .await
        .unwrap();
    t.advance(Duration::from_secs(59)).await;
    assert_eq!(t.hub.mailbox().list("d1").await.unwrap().len(), 1);
    let r = {
        t.clock.advance(Duration::from_secs(1));
        t.hub.sweep().await.unwrap()
    };
    assert_eq!(r.expired, 1);
    assert!(t.hub.mailbox().list("d1").await.unwrap().is_empty());
    assert_eq!(feedback_of(&t, "m").await, ["Expired"]);
}

#[tokio::test]
async fn a_lock_that_times_out_returns_the_message_without_counting_a_delivery() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("m", AckMode::Full))
        .await
        .unwrap();
    let first = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(
        first.lock_expiry,
        Some(t.hub.now().plus(Duration::from_secs(60))),
        "lock timeout is 60 s"
    );
    t.advance(Duration::from_secs(59)).await;
    assert_eq!(
        t.hub.mailbox().list("d1").await.unwrap()[0].state,
        MessageState::Invisible
    );
    t.advance(Duration::from_secs(1)).await;
    let listed = &t.hub.mailbox().list("d1").await.unwrap()[0];
    assert_eq!(listed.state, MessageState::Enqueued);
    assert_eq!(
        listed.delivery_count, 0,
        "only explicit abandons count (newest IoT Hub docs)"
    );
    let err = t
        .hub
        .mailbox()
        .complete("d1", first.lock_token.as_deref().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code().number(), 412002);
    let second = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(second.attempts, 2, "the redelivery is attempt 2");
    assert_ne!(second.lock_token, first.lock_token);
    assert!(
        feedback_of(&t, "m").await.is_empty(),
        "a lock expiry is not an outcome"
    );
}

#[tokio::test]
async fn a_lock_past_its_deadline_is_lost_even_before_the_sweeper_runs() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("m", AckMode::None))
        .await
        .unwrap();
    let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    t.clock.advance(Duration::from_secs(60));
    let err = t
        .hub
        .mailbox()
        .complete("d1", got.lock_token.as_deref().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code().number(), 412002);
}

#[tokio::test]
async fn abandoning_up_to_the_maximum_delivery_count_dead_letters() {
    let t = TestHub::with_settings(HubSettings {
        max_delivery_count: 3,
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("m", AckMode::Negative))
        .await
        .unwrap();
    for n in 1..=3 {
        let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
        assert_eq!(got.delivery_count, n - 1);
        t.hub
            .mailbox()
            .abandon("d1", got.lock_token.as_deref().unwrap())
            .await
            .unwrap();
    }
    assert!(t.hub.mailbox().receive("d1").await.unwrap().is_none());
    assert_eq!(feedback_of(&t, "m").await, ["DeliveryCountExceeded"]);
}

#[tokio::test]
async fn reject_dead_letters_with_rejected_feedback() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("m", AckMode::Full))
        .await
        .unwrap();
    t.hub
        .mailbox()
        .send("d1", msg("quiet", AckMode::Positive))
        .await
        .unwrap();
    for _ in 0..2 {
        let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
        t.hub
            .mailbox()
            .reject("d1", got.lock_token.as_deref().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(feedback_of(&t, "m").await, ["Rejected"]);
    assert!(
        feedback_of(&t, "quiet").await.is_empty(),
        "positive ack asks nothing of a rejection"
    );
}

#[tokio::test]
async fn purge_removes_everything_and_reports_purged_where_asked() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("a", AckMode::Full))
        .await
        .unwrap();
    t.hub
        .mailbox()
        .send("d1", msg("b", AckMode::Positive))
        .await
        .unwrap();
    t.hub
        .mailbox()
        .send("d1", msg("c", AckMode::Negative))
        .await
        .unwrap();
    t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(t.hub.mailbox().purge("d1").await.unwrap(), 3);
    assert!(t.hub.mailbox().list("d1").await.unwrap().is_empty());
    assert_eq!(feedback_of(&t, "a").await, ["Purged"]);
    assert!(feedback_of(&t, "b").await.is_empty());
    assert_eq!(feedback_of(&t, "c").await, ["Purged"]);
    assert_eq!(t.hub.mailbox().purge("d1").await.unwrap(), 0);
}

#[tokio::test]
async fn a_locked_message_whose_ttl_passes_can_still_be_completed_until_its_lock_ends() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                ttl_secs: Some(30),
                ..msg("m", AckMode::Full)
            },
        )
        .await
        .unwrap();
    let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    t.advance(Duration::from_secs(45)).await;
    t.hub
        .mailbox()
        .complete("d1", got.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(feedback_of(&t, "m").await, ["Success"]);

    t.hub
        .mailbox()
        .send(
            "d1",
            NewMessage {
                ttl_secs: Some(30),
                ..msg("n", AckMode::Full)
            },
        )
        .await
        .unwrap();
    t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    t.advance(Duration::from_secs(61)).await;
    assert_eq!(
        feedback_of(&t, "n").await,
        ["Expired"],
        "its lock ended after its TTL: expired, not redelivered"
    );
}

#[tokio::test]
async fn every_property_survives_the_round_trip() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let expiry = t.hub.now().plus(Duration::from_secs(120));
    let sent = NewMessage {
        body: vec![0, 159, 146, 150, 255],
        message_id: Some("mid-1".into()),
        correlation_id: Some("corr 1".into()),
        user_id: Some("alice".into()),
        expiry_time_utc: Some(expiry),
        ttl_secs: None,
        ack: AckMode::Positive,
        content_type: Some("application/octet-stream".into()),
        content_encoding: Some("binary".into()),
        properties: BTreeMap::from([
            ("color".to_string(), "blue".to_string()),
            ("empty".to_string(), String::new()),
        ]),
    };
    t.hub.mailbox().send("d1", sent.clone()).await.unwrap();
    let got = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(got.body, sent.body);
    assert_eq!(got.correlation_id.as_deref(), Some("corr 1"));
    assert_eq!(got.user_id.as_deref(), Some("alice"));
    assert_eq!(got.expiry_time_utc, expiry);
    assert_eq!(got.ack, AckMode::Positive);
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(got.content_encoding.as_deref(), Some("binary"));
    assert_eq!(got.properties, sent.properties);
}

#[tokio::test]
async fn a_missing_message_id_is_generated() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let a = t
        .hub
        .mailbox()
        .send("d1", NewMessage::text("x"))
        .await
        .unwrap();
    let b = t
        .hub
        .mailbox()
        .send("d1", NewMessage::text("y"))
        .await
        .unwrap();
    assert_eq!(a.message_id.len(), 36);
    assert_ne!(a.message_id, b.message_id);
}

#[tokio::test]
async fn size_and_expiry_limits_are_enforced_with_their_codes() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let mb = t.hub.mailbox();
    let exactly = NewMessage {
        message_id: Some("m".into()),
        body: vec![
            b'x';
            65536 - "m".len() - "/devices/d1/messages/devicebound".len() - "none".len()
        ],
        ..NewMessage::default()
    };
    mb.send("d1", exactly.clone())
        .await
        .expect("64 KB exactly is accepted");
    let mut over = exactly;
    over.body.push(b'x');
    assert_eq!(
        mb.send("d1", over).await.unwrap_err().code().number(),
        413001
    );

    let past = NewMessage {
        expiry_time_utc: Some(t.hub.now()),
        ..NewMessage::text("x")
    };
    assert_eq!(
        mb.send("d1", past).await.unwrap_err().code().number(),
        403009
    );
    let far = NewMessage {
        ttl_secs: Some(2 * 86400 + 1),
        ..NewMessage::text("x")
    };
    assert_eq!(
        mb.send("d1", far).await.unwrap_err().code().number(),
        403009
    );
    let zero = NewMessage {
        ttl_secs: Some(0),
        ..NewMessage::text("x")
    };
    assert_eq!(
        mb.send("d1", zero).await.unwrap_err().code().number(),
        403009
    );
    let both = NewMessage {
        ttl_secs: Some(10),
        expiry_time_utc: Some(t.hub.now().plus(Duration::from_secs(10))),
        ..NewMessage::text("x")
    };
    assert_eq!(
        mb.send("d1", both).await.unwrap_err().code().number(),
        403009
    );
    mb.send(
        "d1",
        NewMessage {
            ttl_secs: Some(2 * 86400),
            ..NewMessage::text("x")
        },
    )
    .await
    .expect("2 days is the max");
}

#[tokio::test]
async fn application_properties_follow_the_c2d_character_rules() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let with = |k: &str, v: &str| NewMessage {
        properties: BTreeMap::from([(k.to_string(), v.to_string())]),
        ..NewMessage::text("x")
    };
    t.hub
        .mailbox()
        .send("d1", with("a-b.c_d~e!#$%&'*+^`|", "v1"))
        .await
        .unwrap();
    for (k, v) in [
        ("has space", "v"),
        ("k", "v w"),
        ("", "v"),
        ("k", "ü"),
        ("iothub-ack", "full"),
        ("$.mid", "x"),
        ("k/", "v"),
    ] {
        let e = t.hub.mailbox().send("d1", with(k, v)).await.unwrap_err();
        assert_eq!(e.code().number(), 400004, "{k:?}={v:?}");
    }
}

#[tokio::test]
async fn a_queue_from_before_schema_11_keeps_its_messages_and_never_reuses_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    for id in ["m1", "m2"] {
        hub.mailbox()
            .send("d1", msg(id, AckMode::Full))
            .await
            .unwrap();
    }
    let locked = hub.mailbox().receive("d1").await.unwrap().unwrap();
    hub.close().await.unwrap();
    drop(hub);
    {
        // Schema 10: `AUTOINCREMENT`, whose counter also remembers the
        // numbers of messages since deleted (here up to 500).
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE c2d_seq;
             ALTER TABLE c2d_messages RENAME TO c2d_v11;
             DROP INDEX c2d_ready; DROP INDEX c2d_due;
             CREATE TABLE c2d_messages (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,
                 message_id TEXT NOT NULL, correlation_id TEXT, user_id TEXT,
                 to_address TEXT NOT NULL, expiry_ms INTEGER NOT NULL, ack TEXT NOT NULL,
                 content_type TEXT, content_encoding TEXT, properties TEXT NOT NULL,
                 body BLOB NOT NULL, enqueued_ms INTEGER NOT NULL,
                 state INTEGER NOT NULL CHECK (state IN (0, 1)), lock_token TEXT,
                 lock_until_ms INTEGER, delivery_count INTEGER NOT NULL DEFAULT 0,
                 attempts INTEGER NOT NULL DEFAULT 0, lock_pushed INTEGER NOT NULL DEFAULT 0);
             INSERT INTO c2d_messages SELECT * FROM c2d_v11; DROP TABLE c2d_v11;
             CREATE INDEX c2d_ready ON c2d_messages (device_id, state, seq);
             CREATE INDEX c2d_due ON c2d_messages (CASE state WHEN 1 THEN lock_until_ms ELSE expiry_ms END);
             UPDATE sqlite_sequence SET seq = 500 WHERE name = 'c2d_messages';
             PRAGMA user_version = 10;",
        )
        .unwrap();
    }
    let hub = open().await.unwrap();
    let q = hub.mailbox().list("d1").await.unwrap();
    assert_eq!(
        q.iter()
            .map(|m| (m.message_id.as_str(), m.sequence_number, m.state))
            .collect::<Vec<_>>(),
        [
            ("m1", 1, MessageState::Invisible),
            ("m2", 2, MessageState::Enqueued)
        ]
    );
    hub.mailbox()
        .complete("d1", locked.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    let next = hub
        .mailbox()
        .send("d1", msg("m3", AckMode::None))
        .await
        .unwrap();
    assert!(next.sequence_number > 500, "{}", next.sequence_number);
    let head = hub.mailbox().receive("d1").await.unwrap().unwrap();
    assert_eq!(head.message_id, "m2", "FIFO holds across the migration");
}

#[tokio::test]
async fn sending_to_an_unknown_device_is_404001() {
    let t = TestHub::new().await;
    let e = t
        .hub
        .mailbox()
        .send("ghost", NewMessage::text("x"))
        .await
        .unwrap_err();
    assert_eq!(e.code().number(), 404001);
}

#[tokio::test]
async fn messages_survive_closing_and_reopening_the_hub() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.hub
        .mailbox()
        .send("d1", msg("m1", AckMode::Full))
        .await
        .unwrap();
    let locked = t.hub.mailbox().receive("d1").await.unwrap().unwrap();
    t.hub
        .mailbox()
        .send("d1", msg("m2", AckMode::Full))
        .await
        .unwrap();
    let path = t.hub.db_path().to_path_buf();
    t.hub.close().await.unwrap();
    let clock = t.clock.clone();
    drop(t.hub);
    let hub = hublet_core::Hub::open(
        hublet_core::HubOptions::new(&path)
            .clock(clock.shared())
            .background_tasks(false),
    )
    .await
    .unwrap();
    let q = hub.mailbox().list("d1").await.unwrap();
    assert_eq!(
        q.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>(),
        ["m1", "m2"]
    );
    hub.mailbox()
        .complete("d1", locked.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    let next = hub
        .mailbox()
        .send("d1", msg("m3", AckMode::None))
        .await
        .unwrap();
    // A restart starts past the block the last run reserved: a gap, never
    // a number handed out before.
    assert!(
        next.sequence_number > 2,
        "sequence numbers continue after a restart: {}",
        next.sequence_number
    );
}
