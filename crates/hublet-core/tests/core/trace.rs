//! The trace: stories, filters, live subscription, export, retention.

use std::time::Duration;

use hublet_core::trace::{CSV_COLUMNS, ExportFormat, LiveError, read_jsonl};
use hublet_core::{AckMode, EventKind, HubSettings, NewMessage, TraceQuery};

use crate::support::TestHub;

async fn life_cycle(t: &TestHub, device: &str, id: &str, body: &str) {
    let m = NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Full,
        ..NewMessage::text(body)
    };
    t.hub.mailbox().send(device, m).await.unwrap();
    let got = t.hub.mailbox().receive(device).await.unwrap().unwrap();
    t.hub
        .mailbox()
        .complete(device, got.lock_token.as_deref().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn one_query_returns_a_messages_whole_story_in_order() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    life_cycle(&t, "d2", "noise", "n").await;
    life_cycle(&t, "d1", "m1", "hello").await;
    let story = t.hub.trace().story("m1").await.unwrap();
    let kinds: Vec<EventKind> = story
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::C2dEnqueued,
            EventKind::C2dDelivered,
            EventKind::C2dCompleted,
            EventKind::FeedbackProduced
        ]
    );
    assert!(
        story
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].mono_us <= w[1].mono_us)
    );
    assert!(story.iter().all(|e| e.device_id.as_deref() == Some("d1")));
    assert_eq!(story[0].detail.detail_value()["body"]["text"], "hello");
    let lock = story[1].lock_token.clone().unwrap();
    let by_lock = TraceQuery {
        lock_token: Some(lock),
        ..Default::default()
    };
    let kinds: Vec<EventKind> = t
        .hub
        .trace()
        .query(by_lock)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind().expect("a known kind"))
        .collect();
    assert_eq!(
        kinds,
        [EventKind::C2dDelivered, EventKind::C2dCompleted],
        "a lock token finds its delivery and its settlement"
    );
}

#[tokio::test]
async fn queries_filter_by_device_kind_time_and_text() {
    let t = TestHub::new().await;
    t.device("a").await;
    t.device("b").await;
    let t0 = t.hub.now();
    life_cycle(&t, "a", "m1", "alpha").await;
    t.clock.advance(Duration::from_secs(10));
    let t1 = t.hub.now();
    life_cycle(&t, "b", "m2", "bravo").await;
    let q = |q: TraceQuery| async { t.hub.trace().query(q).await.unwrap() };
    assert!(
        q(TraceQuery {
            device_id: Some("a".into()),
            ..Default::default()
        })
        .await
        .iter()
        .all(|e| e.device_id.as_deref() == Some("a"))
    );
    let c2d = q(TraceQuery {
        kinds: vec!["c2d".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(c2d.len(), 6);
    let exact = q(TraceQuery {
        kinds: vec!["c2d.completed".into(), "device.created".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(exact.len(), 4);
    let later = q(TraceQuery {
        since: Some(t1),
        ..Default::default()
    })
    .await;
    assert!(later.iter().all(|e| e.ts >= t1) && !later.is_empty());
    let earlier = q(TraceQuery {
        since: Some(t0),
        until: Some(t1),
        kinds: vec!["c2d".into()],
        ..Default::default()
    })
    .await;
    assert!(
        earlier
            .iter()
            .all(|e| e.message_id.as_deref() == Some("m1"))
    );
    let text = q(TraceQuery {
        text: Some("bravo".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(text.len(), 1);
    assert_eq!(
        text[0].kind().expect("a known kind"),
        EventKind::C2dEnqueued
    );
    let newest = q(TraceQuery {
        newest_first: true,
        limit: Some(2),
        ..Default::default()
    })
    .await;
    assert!(newest[0].id > newest[1].id);
}

#[tokio::test]
async fn text_search_ignores_letter_case_in_stored_queries_and_live_filters_alike() {
    let t = TestHub::new().await;
    t.device("Lab-A").await;
    let needle = TraceQuery {
        text: Some("HELLO wORLD".into()),
        ..Default::default()
    };
    let mut live = t.hub.trace().subscribe(needle.clone());
    life_cycle(&t, "Lab-A", "m1", "Hello World").await;
    let stored = t.hub.trace().query(needle).await.unwrap();
    assert_eq!(stored.len(), 1, "only the enqueue carries the body");
    let ev = live
        .recv_timeout(Duration::from_secs(5))
        .await
        .expect("the live filter agrees with the stored one")
        .unwrap();
    assert_eq!(ev.id, stored[0].id);
    // The keys too: a device id typed in lower case.
    let keys = t
        .hub
        .trace()
        .query(TraceQuery {
            text: Some("lab-a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(keys.len() >= 4, "device.created and the message's steps");
}

#[tokio::test]
async fn live_subscribers_see_committed_events_that_match_their_filter() {
    let t = TestHub::new().await;
    t.device("a").await;
    t.device("b").await;
    let mut sub = t.hub.trace().subscribe(TraceQuery {
        device_id: Some("b".into()),
        kinds: vec!["c2d".into()],
        ..Default::default()
    });
    life_cycle(&t, "a", "m1", "x").await;
    life_cycle(&t, "b", "m2", "y").await;
    for want in [
        EventKind::C2dEnqueued,
        EventKind::C2dDelivered,
        EventKind::C2dCompleted,
    ] {
        let ev = sub
            .recv_timeout(Duration::from_secs(5))
            .await
            .expect("an event")
            .unwrap();
        assert_eq!(
            (ev.kind().expect("a known kind"), ev.device_id.as_deref()),
            (want, Some("b"))
        );
    }
    // A failed send writes nothing, so nothing is broadcast.
    let _ = t
        .hub
        .mailbox()
        .send(
            "b",
            NewMessage {
                ttl_secs: Some(0),
                ..NewMessage::text("bad")
            },
        )
        .await;
    t.hub.trace().flush().await.unwrap();
    assert!(sub.recv_timeout(Duration::from_millis(50)).await.is_none());
    t.hub.close().await.unwrap();
    drop(t);
    assert_eq!(sub.recv().await.unwrap_err(), LiveError::Closed);
}

#[tokio::test]
async fn jsonl_and_csv_exports_parse_back_with_standard_parsers() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let nasty = "a, \"quoted\" body\nwith a newline, and ü";
    life_cycle(&t, "d1", "m1", nasty).await;
    let all = t
        .hub
        .trace()
        .query(TraceQuery {
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap();

    let (jsonl, n) = t
        .hub
        .trace()
        .export(
            TraceQuery::default(),
            ExportFormat::Jsonl,
            Vec::new(),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(n as usize, all.len());
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), all.len());
    let enq = lines.iter().find(|l| l["kind"] == "c2d.enqueued").unwrap();
    assert_eq!(enq["detail"]["body"]["text"], nasty);
    assert_eq!(enq["ts"], "2030-01-01T00:00:00.000Z");
    assert_eq!(
        read_jsonl(&jsonl[..]).unwrap(),
        all,
        "an export reads back to the same events"
    );

    let mut progress = Vec::new();
    let (csv_bytes, _) = t
        .hub
        .trace()
        .export(TraceQuery::default(), ExportFormat::Csv, Vec::new(), |n| {
            progress.push(n)
        })
        .await
        .unwrap();
    assert_eq!(progress.last().copied(), Some(all.len() as u64));
    let mut rdr = csv::Reader::from_reader(&csv_bytes[..]);
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), all.len());
    let row = rows.iter().find(|r| &r[3] == "c2d.enqueued").unwrap();
    assert_eq!(&row[4], "d1");
    assert_eq!(&row[5], "m1");
    let detail: serde_json::Value = serde_json::from_str(&row[8]).unwrap();
    assert_eq!(detail["body"]["text"], nasty);
}

#[tokio::test]
async fn retention_keeps_the_newest_events_by_count_and_by_age() {
    let t = TestHub::with_settings(HubSettings {
        trace_max_events: 10,
        trace_max_age_secs: 3600,
        ..HubSettings::default()
    })
    .await;
    for i in 0..30 {
        t.device(&format!("d{i}")).await;
    }
    assert_eq!(t.hub.trace().enforce_retention().await.unwrap(), 20);
    let left = t.hub.trace().query(TraceQuery::default()).await.unwrap();
    assert_eq!(left.len(), 10);
    assert_eq!(
        left[0].device_id.as_deref(),
        Some("d20"),
        "the oldest go first"
    );
    t.clock.advance(Duration::from_secs(3601));
    t.device("fresh").await;
    t.hub.trace().enforce_retention().await.unwrap();
    let left = t.hub.trace().query(TraceQuery::default()).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|e| e.device_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["fresh"]
    );
}

#[tokio::test]
async fn a_damaged_jsonl_line_is_reported_with_its_number() {
    let e = read_jsonl(&b"{\"id\":1}\n\nnot json\n"[..]).unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let ok = "{\"id\":1,\"ts\":\"2030-01-01T00:00:00.000Z\",\"monoUs\":0,\"kind\":\"c2d.enqueued\",\"detail\":null}\n\nbad\n";
    let e = read_jsonl(ok.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[tokio::test]
async fn rows_an_older_or_newer_hublet_wrote_come_back_raw_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.close().await.unwrap();
    drop(hub);
    {
        // What Hublet 0.1 (a different shape) and a future Hublet (a kind
        // this one does not know) leave in the file.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            r#"INSERT INTO trace_events (ts_ms, mono_us, kind, device_id, detail)
               VALUES (1893456000000, 0, 'c2d.completed', 'd1', '{"seq": 3}'),
                      (1893456000001, 0, 'twin.teleported', 'd1', '{"to": "mars"}'),
                      (1893456000002, 0, 'device.attached', 'd1', 'not json');"#,
        )
        .unwrap();
    }
    let hub = open().await.unwrap();
    let events = hub.trace().query(TraceQuery::default()).await.unwrap();
    assert_eq!(events.len(), 3, "nothing is dropped");
    assert!(events.iter().all(|e| e.kind().is_none()));
    assert_eq!(
        events.iter().map(|e| e.kind_str()).collect::<Vec<_>>(),
        ["c2d.completed", "twin.teleported", "device.attached"]
    );
    let wire = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(wire["kind"], "unknown");
    assert_eq!(wire["detail"]["kind"], "twin.teleported");
    assert_eq!(wire["detail"]["raw"]["to"], "mars");
    assert_eq!(events[2].detail.detail_value(), "not json");
    // Filters and exports see them under their own kind.
    let only = hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["twin".into()],
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    let (csv_bytes, n) = hub
        .trace()
        .export(TraceQuery::default(), ExportFormat::Csv, Vec::new(), |_| {})
        .await
        .unwrap();
    assert_eq!(n, 3);
    let text = String::from_utf8(csv_bytes).unwrap();
    assert!(
        text.contains(r#"twin.teleported,d1,,,,"{""to"":""mars""}""#),
        "{text}"
    );
    hub.close().await.unwrap();
}

#[tokio::test]
async fn a_trace_written_before_batched_indexing_is_read_whole_and_grows_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let open = || crate::support::open_file(&path);
    let hub = open().await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    hub.close().await.unwrap();
    drop(hub);
    {
        // Schema 8: every event indexed as it was written.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(crate::support::UNDO_C2D_V11).unwrap();
        c.execute_batch(crate::support::UNDO_TRACE_V9).unwrap();
        c.execute_batch(
            r#"PRAGMA user_version = 8;
               INSERT INTO trace_events (ts_ms, mono_us, kind, device_id, message_id, detail, corr)
               VALUES (1893456000000, 0, 'c2d.completed', 'd1', 'old', '{"sequenceNumber": 1, "attempt": 1}', NULL);"#,
        )
        .unwrap();
    }
    let hub = open().await.unwrap();
    let t = |device: &str| TraceQuery {
        device_id: Some(device.into()),
        ..TraceQuery::default()
    };
    let before = hub.trace().query(t("d1")).await.unwrap();
    assert_eq!(before.len(), 2, "both old events, through the device index");
    // New events land pending, after the old ones; a query reads both.
    let m = NewMessage {
        message_id: Some("new".into()),
        ..NewMessage::text("x")
    };
    hub.mailbox().send("d1", m).await.unwrap();
    let all = hub.trace().query(t("d1")).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(hub.trace().story("new").await.unwrap().len(), 1);
    let newest = hub
        .trace()
        .query(TraceQuery {
            newest_first: true,
            limit: Some(2),
            ..t("d1")
        })
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id, all[1].id]
    );
    assert_eq!(hub.trace().extent().await.unwrap().events, 3);
}
