//! Delivery feedback (semantics reference section 2).
//!
//! When a C2D message reaches a terminal outcome that its ack mode asks
//! about, one [`FeedbackRecord`] is written in the same transaction
//! ([`queue::produce`]). Records are batched into feedback messages on one
//! hub-wide queue with its own lock, complete, abandon, TTL and delivery
//! count, as IoT Hub's `/messages/servicebound/feedback`. Every record is
//! also a `feedback.produced` trace event, so the app sees it at once.

mod queue;
pub(crate) mod table;

pub(crate) use queue::produce;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::Timestamp;
use crate::error::HubResult;
use crate::hub::Hub;

/// Outcome reported by a feedback record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum FeedbackStatus {
    /// The device completed the message.
    Success,
    /// The message's TTL ran out before it was completed.
    Expired,
    /// The message was abandoned the maximum number of times.
    DeliveryCountExceeded,
    /// The device rejected the message.
    Rejected,
    /// The message was purged from the queue.
    Purged,
}

impl FeedbackStatus {
    /// The `statusCode` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackStatus::Success => "Success",
            FeedbackStatus::Expired => "Expired",
            FeedbackStatus::DeliveryCountExceeded => "DeliveryCountExceeded",
            FeedbackStatus::Rejected => "Rejected",
            FeedbackStatus::Purged => "Purged",
        }
    }

    /// The `description` text (see docs/semantics.md for the choices).
    pub fn description(self) -> &'static str {
        match self {
            FeedbackStatus::Success => "Success",
            FeedbackStatus::Expired => "Message expired",
            FeedbackStatus::DeliveryCountExceeded => "Message delivery count exceeded",
            FeedbackStatus::Rejected => "Message rejected",
            FeedbackStatus::Purged => "Message purged",
        }
    }

    /// True for the outcome `positive` acks ask about.
    pub fn is_positive(self) -> bool {
        self == FeedbackStatus::Success
    }

    pub(crate) fn parse(s: &str) -> FeedbackStatus {
        match s {
            "Expired" => FeedbackStatus::Expired,
            "DeliveryCountExceeded" => FeedbackStatus::DeliveryCountExceeded,
            "Rejected" => FeedbackStatus::Rejected,
            "Purged" => FeedbackStatus::Purged,
            _ => FeedbackStatus::Success,
        }
    }
}

impl std::fmt::Display for FeedbackStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feedback record, in IoT Hub's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackRecord {
    /// The C2D message's id.
    pub original_message_id: String,
    /// The target device.
    pub device_id: String,
    /// The device's generation id when the outcome happened.
    pub device_generation_id: String,
    /// The outcome.
    pub status_code: FeedbackStatus,
    /// Text for the outcome.
    pub description: String,
    /// When the outcome happened.
    pub enqueued_time_utc: Timestamp,
}

/// A locked feedback message: a batch of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackMessage {
    /// Lock token for complete or abandon.
    pub lock_token: String,
    /// The batch's id.
    pub batch_id: i64,
    /// When the batch was sealed.
    pub enqueued_time: Timestamp,
    /// When the batch expires unread.
    pub expiry_time: Timestamp,
    /// Abandons so far.
    pub delivery_count: u32,
    /// The hub's name, as IoT Hub puts in UserId.
    pub user_id: String,
    /// The records, oldest first.
    pub records: Vec<FeedbackRecord>,
}

impl FeedbackMessage {
    /// The body as IoT Hub sends it over HTTPS and AMQP alike: the records
    /// as a JSON array (`originalMessageId`, `deviceId`,
    /// `deviceGenerationId`, `statusCode`, `description`, `enqueuedTimeUtc`).
    pub fn body(&self) -> HubResult<Vec<u8>> {
        Ok(serde_json::to_vec(&self.records)?)
    }
}

/// The content type of a feedback message body.
pub const FEEDBACK_CONTENT_TYPE: &str = "application/vnd.microsoft.iothub.feedback.json";

/// The feedback queue, reached through [`Hub::feedback`].
pub struct Feedback<'a> {
    pub(crate) hub: &'a Hub,
}

impl Feedback<'_> {
    /// Locks and returns the oldest feedback message, or `None` if there is none.
    pub async fn receive(&self) -> HubResult<Option<FeedbackMessage>> {
        self.receive_via(None).await
    }

    /// [`receive`](Self::receive), naming how the receiver reached the hub
    /// (`iothub-https`, `amqp`, ...) in the `feedback.received` event.
    pub async fn receive_via(&self, via: Option<&str>) -> HubResult<Option<FeedbackMessage>> {
        let settings = self.hub.settings();
        let via = via.map(str::to_string);
        self.hub
            .inner
            .db
            .write(move |ctx| queue::receive(ctx, &settings, via.as_deref()))
            .await
    }

    /// Completes a received feedback message. 412002 if the lock is unknown or expired.
    pub async fn complete(&self, lock_token: &str) -> HubResult<()> {
        let token = lock_token.to_string();
        self.hub
            .inner
            .db
            .write(move |ctx| queue::complete(ctx, &token))
            .await
    }

    /// Abandons a received feedback message. 412002 if the lock is unknown or expired.
    pub async fn abandon(&self, lock_token: &str) -> HubResult<()> {
        let token = lock_token.to_string();
        let settings = self.hub.settings();
        self.hub
            .inner
            .db
            .write(move |ctx| queue::abandon(ctx, &token, &settings))
            .await
    }

    /// Rejects a received feedback message: it is dropped for good (IoT
    /// Hub dead-letters it). 412002 if the lock is unknown or expired.
    pub async fn reject(&self, lock_token: &str) -> HubResult<()> {
        let token = lock_token.to_string();
        self.hub
            .inner
            .db
            .write(move |ctx| queue::reject(ctx, &token))
            .await
    }

    /// Seals due batches and drops expired ones (the sweeper's share of feedback).
    pub async fn sweep(&self) -> HubResult<()> {
        let settings = self.hub.settings();
        self.hub
            .inner
            .db
            .write(move |ctx| {
                queue::seal_due(ctx, &settings)?;
                queue::expire(ctx)
            })
            .await
    }

    /// Records not yet sealed into a batch, oldest first.
    pub async fn pending(&self) -> HubResult<Vec<FeedbackRecord>> {
        self.hub
            .inner
            .db
            .read(|conn| {
                Ok(table::pending(conn, usize::MAX)?
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect())
            })
            .await
    }
}
