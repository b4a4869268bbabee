//! A reader of one or more partitions from a position on, waiting for new
//! events as they are stored: what `hublet monitor`, the API's event
//! stream and (later) Event Hubs receiver links read through.
//!
//! It wakes on the live trace's `telemetry.received` events: each is
//! queued after its event-log row, so when the trace event is broadcast
//! the row is committed.

use std::collections::BTreeSet;

use super::{Events, HubEvent, Position};
use crate::error::HubResult;
use crate::hub::Hub;
use crate::trace::{LiveError, TraceQuery, TraceSubscription};

/// Reads events in order, partition by partition, from a position on.
pub struct EventReader {
    hub: Hub,
    /// Each partition read and the next sequence number to read in it.
    next: Vec<(u32, i64)>,
    /// Only these devices' events (empty: all).
    devices: BTreeSet<String>,
    doorbell: TraceSubscription,
}

impl Events<'_> {
    /// A reader of `partitions` (all when empty) from `from` on, keeping
    /// only the `devices` named (all when empty).
    pub async fn reader(
        &self,
        partitions: &[u32],
        from: Position,
        devices: BTreeSet<String>,
    ) -> HubResult<EventReader> {
        // Subscribed first, so nothing stored between resolving the
        // position and waiting is missed.
        let doorbell = self.hub.trace().subscribe(TraceQuery {
            kinds: vec!["telemetry.received".into()],
            ..TraceQuery::default()
        });
        let all: Vec<u32> = if partitions.is_empty() {
            (0..self.partition_count()).collect()
        } else {
            for p in partitions {
                self.partition_id(&p.to_string())?;
            }
            partitions.to_vec()
        };
        let mut next = Vec::with_capacity(all.len());
        for p in all {
            next.push((p, self.resolve(p, from).await?));
        }
        Ok(EventReader {
            hub: self.hub.clone(),
            next,
            devices,
            doorbell,
        })
    }
}

impl EventReader {
    /// Up to `max` events stored since the last call (across partitions,
    /// in enqueued order), waiting until there is at least one. `None`
    /// when the hub closes.
    pub async fn next_batch(&mut self, max: usize) -> HubResult<Option<Vec<HubEvent>>> {
        loop {
            let batch = self.poll(max).await?;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
            // Wait for a message that lands in one of this reader's
            // partitions (and from a device it keeps), so a reader does not
            // query the log for every message the hub receives.
            loop {
                match self.doorbell.recv().await {
                    Ok(ev) if self.concerns(ev.device_id.as_deref()) => break,
                    Ok(_) => {}
                    Err(LiveError::Lagged(_)) => break,
                    Err(LiveError::Closed) => return Ok(None),
                }
            }
        }
    }

    /// Whether a message from `key` (`device` or `device/module`) can be
    /// one this reader returns.
    fn concerns(&self, key: Option<&str>) -> bool {
        let Some(key) = key else { return true };
        let device = key.split_once('/').map_or(key, |(d, _)| d);
        let count = self.hub.events().partition_count();
        let p = super::partition_of(device, count);
        (self.devices.is_empty() || self.devices.contains(device))
            && self.next.iter().any(|(q, _)| *q == p)
    }

    /// What is stored now, without waiting.
    pub async fn poll(&mut self, max: usize) -> HubResult<Vec<HubEvent>> {
        let mut out = Vec::new();
        for (p, next) in &mut self.next {
            let events = self.hub.events().read(*p, *next, max).await?;
            if let Some(last) = events.last() {
                *next = last.sequence_number + 1;
            }
            out.extend(
                events
                    .into_iter()
                    .filter(|e| self.devices.is_empty() || self.devices.contains(&e.device_id)),
            );
        }
        out.sort_by_key(|e| (e.enqueued_time, e.partition, e.sequence_number));
        Ok(out)
    }

    /// Where the reader is: each partition and the next sequence number.
    pub fn positions(&self) -> &[(u32, i64)] {
        &self.next
    }
}
