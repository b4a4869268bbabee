//! The hub-wide feedback queue: batching, lock, complete, abandon, TTL.

use std::time::Duration;

use hublet_core::{AckMode, FeedbackStatus, HubSettings, NewMessage};

use crate::support::TestHub;

async fn complete_one(t: &TestHub, device: &str, id: &str, ack: AckMode) {
    let m = NewMessage {
        message_id: Some(id.into()),
        ack,
        ..NewMessage::text("x")
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
async fn a_record_has_iot_hubs_fields_and_json_shape() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let gen_id = t.hub.registry().get("d1").await.unwrap().generation_id;
    complete_one(&t, "d1", "m1", AckMode::Full).await;
    let fb = t
        .hub
        .feedback()
        .receive()
        .await
        .unwrap()
        .expect("first record after a quiet period is batched at once");
    assert_eq!(fb.records.len(), 1);
    let r = &fb.records[0];
    assert_eq!(r.original_message_id, "m1");
    assert_eq!(r.device_id, "d1");
    assert_eq!(r.device_generation_id, gen_id);
    assert_eq!(r.status_code, FeedbackStatus::Success);
    assert_eq!(r.description, "Success");
    assert_eq!(r.enqueued_time_utc, t.hub.now());
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["statusCode"], "Success");
    assert_eq!(json["originalMessageId"], "m1");
    assert_eq!(json["enqueuedTimeUtc"], "2030-01-01T00:00:00.000Z");
    assert_eq!(fb.user_id, "localhost", "UserId is the hub name");
}

#[tokio::test]
async fn records_within_the_window_wait_for_it_and_sixty_four_seal_at_once() {
    let t = TestHub::new().await;
    t.device("d1").await;
    complete_one(&t, "d1", "first", AckMode::Positive).await;
    let first = t.hub.feedback().receive().await.unwrap().unwrap();
    t.hub.feedback().complete(&first.lock_token).await.unwrap();

    complete_one(&t, "d1", "second", AckMode::Positive).await;
    assert!(
        t.hub.feedback().receive().await.unwrap().is_none(),
        "within 15 s of the last batch: wait"
    );
    assert_eq!(t.hub.feedback().pending().await.unwrap().len(), 1);
    t.advance(Duration::from_secs(15)).await;
    let batch = t.hub.feedback().receive().await.unwrap().unwrap();
    assert_eq!(batch.records.len(), 1);
    assert_eq!(batch.records[0].original_message_id, "second");
    t.hub.feedback().complete(&batch.lock_token).await.unwrap();

    for i in 0..70 {
        complete_one(&t, "d1", &format!("bulk{i}"), AckMode::Full).await;
    }
    let full = t
        .hub
        .feedback()
        .receive()
        .await
        .unwrap()
        .expect("64 records seal a batch without waiting");
    assert_eq!(full.records.len(), 64);
    assert_eq!(full.records[0].original_message_id, "bulk0");
    assert!(
        t.hub.feedback().receive().await.unwrap().is_none(),
        "the other 6 wait for the window"
    );
    t.advance(Duration::from_secs(15)).await;
    assert_eq!(
        t.hub
            .feedback()
            .receive()
            .await
            .unwrap()
            .unwrap()
            .records
            .len(),
        6
    );
}

#[tokio::test]
async fn feedback_locks_abandons_and_expires_like_a_queue() {
    let t = TestHub::with_settings(HubSettings {
        feedback_max_delivery_count: 2,
        feedback_lock_secs: 30,
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    complete_one(&t, "d1", "m1", AckMode::Full).await;
    let a = t.hub.feedback().receive().await.unwrap().unwrap();
    assert!(
        t.hub.feedback().receive().await.unwrap().is_none(),
        "locked feedback is invisible"
    );
    t.advance(Duration::from_secs(30)).await;
    let b = t
        .hub
        .feedback()
        .receive()
        .await
        .unwrap()
        .expect("lock timed out: visible again");
    assert_eq!(b.batch_id, a.batch_id);
    assert_eq!(
        t.hub
            .feedback()
            .complete(&a.lock_token)
            .await
            .unwrap_err()
            .code()
            .number(),
        412002
    );
    t.hub.feedback().abandon(&b.lock_token).await.unwrap();
    let c = t.hub.feedback().receive().await.unwrap().unwrap();
    assert_eq!(c.delivery_count, 1);
    t.hub.feedback().abandon(&c.lock_token).await.unwrap();
    assert!(
        t.hub.feedback().receive().await.unwrap().is_none(),
        "dropped at the max delivery count"
    );

    complete_one(&t, "d1", "m2", AckMode::Full).await;
    t.advance(Duration::from_secs(15)).await;
    t.advance(Duration::from_secs(3600)).await;
    assert!(
        t.hub.feedback().receive().await.unwrap().is_none(),
        "expired after its 1 h TTL"
    );
}

#[tokio::test]
async fn deleting_a_device_drops_its_unbatched_feedback() {
    let t = TestHub::new().await;
    t.device("d1").await;
    t.device("d2").await;
    complete_one(&t, "d1", "early", AckMode::Full).await;
    t.hub.feedback().receive().await.unwrap().unwrap();
    complete_one(&t, "d1", "pending", AckMode::Full).await;
    complete_one(&t, "d2", "other", AckMode::Full).await;
    t.hub.registry().delete("d1", None).await.unwrap();
    let left: Vec<String> = t
        .hub
        .feedback()
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.original_message_id)
        .collect();
    assert_eq!(left, ["other"]);
}

#[tokio::test]
async fn one_batch_holds_records_of_many_devices() {
    let t = TestHub::new().await;
    t.device("a").await;
    t.device("b").await;
    complete_one(&t, "a", "seed", AckMode::Full).await;
    t.hub.feedback().receive().await.unwrap().unwrap();
    complete_one(&t, "a", "ma", AckMode::Full).await;
    complete_one(&t, "b", "mb", AckMode::Full).await;
    t.advance(Duration::from_secs(15)).await;
    let batch = t.hub.feedback().receive().await.unwrap().unwrap();
    let devices: Vec<&str> = batch.records.iter().map(|r| r.device_id.as_str()).collect();
    assert_eq!(devices, ["a", "b"]);
}
