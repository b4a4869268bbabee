//! Who reads a partition in a consumer group, with Event Hubs' rules: at
//! most 5 plain readers at once; a reader with an epoch (owner level)
//! takes the partition over from every reader with a lower or equal epoch
//! and from every plain one, and keeps plain readers out while it reads; a
//! reader with a lower epoch than the owner's is refused. The texts are
//! Event Hubs'.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::Events;

/// Plain readers allowed per partition and consumer group.
pub const MAX_PLAIN_READERS: usize = 5;

/// Why a reader was refused or stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerError {
    /// `amqp:link:stolen`: another reader owns (or took) the partition.
    Stolen(String),
    /// `amqp:resource-limit-exceeded`: too many plain readers.
    TooMany(String),
}

impl std::fmt::Display for OwnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnerError::Stolen(s) | OwnerError::TooMany(s) => f.write_str(s),
        }
    }
}

struct Reader {
    id: u64,
    epoch: Option<i64>,
    stop: watch::Sender<Option<OwnerError>>,
}

/// The readers of every (consumer group, partition), hub-wide.
#[derive(Default)]
pub(crate) struct Owners {
    readers: Mutex<HashMap<(String, u32), Vec<Reader>>>,
    next: std::sync::atomic::AtomicU64,
}

/// A reader's place: dropping it lets others in; [`ReaderLease::stolen`]
/// resolves when a reader with a higher (or equal) epoch takes over.
pub struct ReaderLease {
    owners: Arc<Owners>,
    key: (String, u32),
    id: u64,
    stop: watch::Receiver<Option<OwnerError>>,
}

impl ReaderLease {
    /// Resolves with the reason when another reader takes the partition over.
    pub async fn stolen(&mut self) -> OwnerError {
        loop {
            if let Some(e) = self.stop.borrow_and_update().clone() {
                return e;
            }
            if self.stop.changed().await.is_err() {
                return OwnerError::Stolen("the hub is shutting down".into());
            }
        }
    }
}

impl std::fmt::Debug for ReaderLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderLease")
            .field("consumer_group", &self.key.0)
            .field("partition", &self.key.1)
            .finish()
    }
}

impl Drop for ReaderLease {
    fn drop(&mut self) {
        let mut all = self
            .owners
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = all.get_mut(&self.key) {
            list.retain(|r| r.id != self.id);
            if list.is_empty() {
                all.remove(&self.key);
            }
        }
    }
}

impl Events<'_> {
    /// Claims a place among a partition's readers in a consumer group
    /// (names compare without case), with an epoch or without.
    pub fn claim_reader(
        &self,
        consumer_group: &str,
        partition: u32,
        epoch: Option<i64>,
    ) -> Result<ReaderLease, OwnerError> {
        let owners = self.hub.inner.owners.clone();
        let key = (consumer_group.to_ascii_lowercase(), partition);
        let mut all = owners.readers.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.entry(key.clone()).or_default();
        let owner = list.iter().filter_map(|r| r.epoch).max();
        match (epoch, owner) {
            (Some(e), Some(o)) if e < o => {
                return Err(OwnerError::Stolen(format!(
                    "Receiver 'nil' with a higher epoch '{o}' already exists. Receiver with epoch '{e}' cannot be created. Make sure you are creating receiver with increasing epoch value to ensure connectivity, or ensure all old epoch receivers are closed or disconnected."
                )));
            }
            (Some(e), _) => {
                // Takes over: every other reader of the partition stops.
                for r in list.drain(..) {
                    let _ = r.stop.send(Some(OwnerError::Stolen(format!(
                        "New receiver 'nil' with higher epoch of '{e}' is created hence current receiver 'nil' with epoch '{}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.",
                        r.epoch.map(|x| x.to_string()).unwrap_or_else(|| "nil".into())
                    ))));
                }
            }
            (None, Some(o)) => {
                return Err(OwnerError::Stolen(format!(
                    "At least one receiver for the endpoint is created with epoch of '{o}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected."
                )));
            }
            (None, None) if list.len() >= MAX_PLAIN_READERS => {
                return Err(OwnerError::TooMany(format!(
                    "Exceeded the maximum number of allowed receivers per partition in a consumer group which is {MAX_PLAIN_READERS}."
                )));
            }
            (None, None) => {}
        }
        let id = owners
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        list.push(Reader {
            id,
            epoch,
            stop: tx,
        });
        drop(all);
        Ok(ReaderLease {
            owners,
            key,
            id,
            stop: rx,
        })
    }
}
