//! The event log behind IoT Hub's built-in Event Hub-compatible endpoint:
//! every device-to-cloud message (MQTT, HTTP, serial, simulated), kept in
//! partitions with Event Hubs' sequence numbers, offsets and enqueued
//! times, for back-end readers (`az iot hub monitor-events`, the Event
//! Hubs SDKs' consumers, `hublet monitor`).
//!
//! - a device always lands in the same partition ([`partition_of`]: FNV-1a
//!   of its id, modulo the partition count);
//! - each partition numbers its events from 0 and gives each an offset,
//!   the partition's byte position so far; both keep increasing across
//!   restarts and after retention deletes events (`table`);
//! - retention by age and by count per partition
//!   ([`Events::enforce_retention`]); a reader asking for a position that
//!   was deleted starts at the oldest event kept, as Event Hubs does;
//! - consumer groups: `$Default` and any created; every reader gets every
//!   event of its partition; who may read at once follows Event Hubs'
//!   epoch rules ([`owners`]).
//!
//! The trace keeps a preview of each telemetry message for the app; the
//! body itself is stored once, here.

pub mod owners;
pub mod position;
pub mod reader;
pub(crate) mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attach::Telemetry;
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
pub use owners::{OwnerError, ReaderLease};
pub use position::Position;
pub use reader::EventReader;

/// The consumer group every Event Hub has.
pub const DEFAULT_CONSUMER_GROUP: &str = "$Default";

/// Events deleted per transaction by retention, so writers never wait long.
const PRUNE_CHUNK: usize = 5_000;

/// An event as stored and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEvent {
    /// Its partition.
    pub partition: u32,
    /// Its number in the partition (from 0).
    pub sequence_number: i64,
    /// Its byte position in the partition.
    pub offset: i64,
    /// When the hub stored it.
    pub enqueued_time: Timestamp,
    /// The device that sent it.
    pub device_id: String,
    /// The module that sent it, if a module did.
    pub module_id: Option<String>,
    /// The transport it came over (`mqtt`, `http`, `serial`, …).
    pub via: String,
    /// The body, unchanged.
    pub body: Vec<u8>,
    /// Its system and application properties.
    pub properties: EventProperties,
}

/// A device-to-cloud message's properties, as the device set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventProperties {
    /// `message-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `correlation-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// `content-type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `content-encoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// Application properties (a bare key has no value).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub application: BTreeMap<String, Option<String>>,
}

/// What `$management` tells about a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition.
    pub partition: u32,
    /// The oldest retained event's sequence number.
    pub begin_sequence_number: i64,
    /// The newest event's sequence number (one below the next).
    pub last_sequence_number: i64,
    /// The newest event's offset (`-1` when empty).
    pub last_offset: i64,
    /// When the newest event was stored.
    pub last_enqueued_time: Option<Timestamp>,
    /// No event retained.
    pub is_empty: bool,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerGroup {
    /// Its name.
    pub name: String,
    /// When it was created (`None` for `$Default`, which always existed).
    pub created: Option<Timestamp>,
}

/// The partition of a device: FNV-1a (32-bit) of its id's bytes, modulo
/// the partition count. Stable across restarts and Hublet versions.
pub fn partition_of(device_id: &str, partitions: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in device_id.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % partitions.max(1)
}

/// The event log, reached through [`Hub::events`].
pub struct Events<'a> {
    pub(crate) hub: &'a Hub,
}

impl Events<'_> {
    /// How many partitions there are.
    pub fn partition_count(&self) -> u32 {
        self.hub.settings().event_partitions
    }

    /// The Event Hub's name: the hub name's first label (IoT Hub names its
    /// built-in endpoint after the hub), `localhost` as is.
    pub fn name(&self) -> String {
        let hub = self.hub.settings().hub_name.clone();
        hub.split(['.', ':'])
            .next()
            .unwrap_or("hublet")
            .to_ascii_lowercase()
    }

    /// The partition ids, `"0"` … `"n-1"`.
    pub fn partition_ids(&self) -> Vec<String> {
        (0..self.partition_count()).map(|p| p.to_string()).collect()
    }

    /// A partition id from outside, checked (400004 for an unknown one).
    pub fn partition_id(&self, id: &str) -> HubResult<u32> {
        id.parse::<u32>()
            .ok()
            .filter(|p| *p < self.partition_count())
            .ok_or_else(|| {
                HubError::invalid(format!(
                    "partition '{id}' does not exist; this hub's partitions are 0 to {}",
                    self.partition_count().saturating_sub(1)
                ))
            })
    }

    /// Queues a device's (or module's) telemetry for its partition, in
    /// arrival order; the returned future resolves when it is committed
    /// (the HTTP endpoint waits for it; streaming transports go on).
    pub(crate) fn record(
        &self,
        key: &str,
        via: &str,
        t: &Telemetry,
    ) -> HubResult<impl std::future::Future<Output = HubResult<()>> + Send + 'static + use<>> {
        let (device, module) = match key.split_once('/') {
            Some((d, m)) => (d.to_string(), Some(m.to_string())),
            None => (key.to_string(), None),
        };
        let partition = partition_of(&device, self.partition_count());
        let props = EventProperties {
            message_id: t.message_id.clone(),
            correlation_id: t.correlation_id.clone(),
            content_type: t.content_type.clone(),
            content_encoding: t.content_encoding.clone(),
            application: t.properties.clone(),
        };
        let body = t.body.clone();
        let via = via.to_string();
        self.hub.inner.db.submit(move |ctx| {
            let (seq, offset) = table::next_position(ctx.conn, partition)?;
            let e = HubEvent {
                partition,
                sequence_number: seq,
                offset,
                enqueued_time: ctx.now,
                device_id: device.clone(),
                module_id: module.clone(),
                via: via.clone(),
                body: body.clone(),
                properties: props.clone(),
            };
            let size = i64::try_from(body.len()).unwrap_or(i64::MAX) + 64;
            table::insert(ctx.conn, &e, size)
        })
    }

    /// The first sequence number a reader at `from` gets.
    pub async fn resolve(&self, partition: u32, from: Position) -> HubResult<i64> {
        self.hub
            .inner
            .db
            .read(move |conn| {
                let (next_seq, _) = table::next_position(conn, partition)?;
                match from {
                    Position::Earliest => Ok(0),
                    Position::Latest => Ok(next_seq),
                    Position::Sequence {
                        sequence_number,
                        inclusive,
                    } => Ok(if inclusive {
                        sequence_number.max(0)
                    } else {
                        sequence_number.saturating_add(1).max(0)
                    }),
                    Position::Offset { offset, inclusive } => {
                        table::first_seq_where(conn, partition, "offset", offset, inclusive)
                    }
                    Position::Enqueued { time, inclusive } => {
                        table::first_seq_where(conn, partition, "enqueued_ms", time.0, inclusive)
                    }
                }
            })
            .await
    }

    /// Up to `max` events of a partition from sequence number `from_seq`
    /// on (deleted ones skipped: a reader behind retention gets the oldest
    /// kept).
    pub async fn read(
        &self,
        partition: u32,
        from_seq: i64,
        max: usize,
    ) -> HubResult<Vec<HubEvent>> {
        self.hub
            .inner
            .db
            .read_committed(move |conn| table::read_from(conn, partition, from_seq, max))
            .await
    }

    /// One partition's numbers (400004 for a partition that does not exist).
    pub async fn partition(&self, partition: u32) -> HubResult<PartitionInfo> {
        self.partition_id(&partition.to_string())?;
        self.hub
            .inner
            .db
            .read_committed(move |conn| table::partition_info(conn, partition))
            .await
    }

    /// `$Default` and the groups created, by name.
    pub async fn consumer_groups(&self) -> HubResult<Vec<ConsumerGroup>> {
        let created = self.hub.inner.db.read(table::consumer_groups).await?;
        let mut all = vec![ConsumerGroup {
            name: DEFAULT_CONSUMER_GROUP.into(),
            created: None,
        }];
        all.extend(created.into_iter().map(|(name, at)| ConsumerGroup {
            name,
            created: Some(at),
        }));
        Ok(all)
    }

    /// Whether a consumer group exists (names compare without case, as
    /// Event Hubs does).
    pub async fn has_consumer_group(&self, name: &str) -> HubResult<bool> {
        Ok(self
            .consumer_groups()
            .await?
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name)))
    }

    /// Creates a consumer group: 1 to 50 letters, digits, `.`, `_`, `-`,
    /// starting with a letter or digit (Event Hubs' rule). 409 if it exists.
    pub async fn create_consumer_group(&self, name: &str) -> HubResult<ConsumerGroup> {
        let ok = (1..=50).contains(&name.len())
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(HubError::invalid_field(
                "name",
                format!(
                    "consumer group '{name}': use 1 to 50 letters, digits, '.', '_' or '-', starting with a letter or digit"
                ),
            ));
        }
        if self.has_consumer_group(name).await? {
            return Err(HubError::invalid_field(
                "name",
                format!("consumer group '{name}' already exists"),
            ));
        }
        let n = name.to_string();
        let at = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                table::add_consumer_group(ctx.conn, &n, ctx.now)?;
                Ok(ctx.now)
            })
            .await?;
        Ok(ConsumerGroup {
            name: name.to_string(),
            created: Some(at),
        })
    }

    /// Deletes a consumer group (`$Default` cannot be deleted).
    pub async fn delete_consumer_group(&self, name: &str) -> HubResult<()> {
        if name.eq_ignore_ascii_case(DEFAULT_CONSUMER_GROUP) {
            return Err(HubError::invalid_field(
                "name",
                "the $Default consumer group cannot be deleted",
            ));
        }
        let n = name.to_string();
        let found = self
            .hub
            .inner
            .db
            .write(move |ctx| table::remove_consumer_group(ctx.conn, &n))
            .await?;
        if found {
            Ok(())
        } else {
            Err(HubError::invalid_field(
                "name",
                format!("there is no consumer group '{name}'"),
            ))
        }
    }

    /// Deletes events older than the retention time and beyond the per
    /// partition count, a chunk per transaction. Returns how many.
    pub async fn enforce_retention(&self) -> HubResult<u64> {
        let s = self.hub.settings();
        let cutoff = Timestamp(
            self.hub.now().0.saturating_sub(
                i64::try_from(s.event_retention_secs)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000),
            ),
        );
        let keep = s.event_max_per_partition;
        let mut total = 0u64;
        for p in 0..s.event_partitions {
            loop {
                let n = self
                    .hub
                    .inner
                    .db
                    .write(move |ctx| {
                        let mut n = table::prune_older_than(ctx.conn, p, cutoff, PRUNE_CHUNK)?;
                        if keep > 0 {
                            n += table::prune_beyond(ctx.conn, p, keep)?;
                        }
                        Ok(n)
                    })
                    .await?;
                total += n as u64;
                if n < PRUNE_CHUNK {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_always_lands_in_the_same_partition() {
        assert_eq!(
            partition_of("thermostat-1", 4),
            partition_of("thermostat-1", 4)
        );
        // FNV-1a of "a" is 0xe40c292c.
        assert_eq!(
            partition_of("a", 1_000_000_007),
            0xe40c_292c % 1_000_000_007
        );
        let mut seen = [0u32; 4];
        for i in 0..400 {
            seen[partition_of(&format!("dev-{i}"), 4) as usize] += 1;
        }
        assert!(
            seen.iter().all(|n| *n > 60),
            "spread over all partitions: {seen:?}"
        );
    }
}
