//! Cloud-to-device mailboxes (semantics reference section 1).
//!
//! - [`message`]: what a message is and how it is validated.
//! - [`ops`]: the life cycle as transactions (enqueue, lock, complete, abandon, reject, purge).
//! - [`expiry`]: TTL and lock-timeout expiry, lazy and swept.
//! - [`pump`]: push delivery to attached devices.
//! - [`table`]: the SQL.
//!
//! [`Mailbox`] is the async face used by the API, the transports and tests.

pub(crate) mod expiry;
pub(crate) mod message;
pub(crate) mod ops;
pub(crate) mod pump;
pub(crate) mod table;

pub use expiry::SweepReport;
pub use message::{AckMode, C2dMessage, MessageState, NewMessage, PROPERTY_SPECIALS, to_address};
pub use ops::AbandonOutcome;
pub(crate) use ops::TRACE_BODY_LIMIT;

use uuid::Uuid;

use crate::error::HubResult;
use crate::hub::Hub;
use crate::ids::DeviceId;

/// The C2D mailboxes, reached through [`Hub::mailbox`].
pub struct Mailbox<'a> {
    pub(crate) hub: &'a Hub,
}

impl Mailbox<'_> {
    /// Accepts a message for `device`. Returns once it is committed to disk.
    ///
    /// Errors: 404001 unknown device, 403004 queue full, 403009 bad expiry,
    /// 413001 too large, 400004 bad id or property.
    pub async fn send(&self, device: &str, msg: NewMessage) -> HubResult<C2dMessage> {
        self.send_via(device, msg, None).await
    }

    /// [`send`](Self::send), naming how the sender reached the hub
    /// (`api`, `iothub-https`, `amqp`, ...) in the `c2d.enqueued` event.
    pub async fn send_via(
        &self,
        device: &str,
        msg: NewMessage,
        via: Option<&str>,
    ) -> HubResult<C2dMessage> {
        self.submit_via(device, msg, via)?.await
    }

    /// Validates and queues a send now; the returned future resolves once
    /// it is committed (or refused). Sends queued one after another are
    /// stored in that order, so a sender with many messages in flight (an
    /// AMQP link) keeps each device's order without waiting for each commit.
    pub fn submit_via(
        &self,
        device: &str,
        msg: NewMessage,
        via: Option<&str>,
    ) -> HubResult<impl std::future::Future<Output = HubResult<C2dMessage>> + Send + 'static + use<>>
    {
        let id = DeviceId::new(device)?;
        let via = via.map(str::to_string);
        let settings = self.hub.settings();
        let now = self.hub.now();
        let m = message::validate(msg, id.as_str(), now, &settings, || {
            Uuid::new_v4().to_string()
        })?;
        let committed = self
            .hub
            .inner
            .db
            .submit(move |ctx| ops::enqueue(ctx, m.clone(), &settings, via.as_deref()))?;
        let hub = self.hub.clone();
        Ok(async move {
            let m = committed.await?;
            hub.inner.presence.wake_c2d(id.as_str());
            Ok(m)
        })
    }

    /// Pull delivery (the HTTP device endpoint): locks and returns the
    /// oldest deliverable message, or `None` when the queue has none.
    pub async fn receive(&self, device: &str) -> HubResult<Option<C2dMessage>> {
        let id = DeviceId::new(device)?;
        self.hub.touch(id.as_str());
        self.lock_for_delivery(id.as_str(), "http", false).await
    }

    /// Locks the next message; `pushed` when it goes to an attached
    /// device's connection rather than to an HTTP client.
    pub(crate) async fn lock_for_delivery(
        &self,
        device: &str,
        via: &str,
        pushed: bool,
    ) -> HubResult<Option<C2dMessage>> {
        let settings = self.hub.settings();
        let dev = device.to_string();
        let via = via.to_string();
        // The lock is handed out without waiting for its fsync: a crash
        // that loses it only puts the message back in the queue, to be
        // delivered again (at-least-once), and later jobs (the device's
        // completion) are committed after it.
        let locked = self
            .hub
            .inner
            .db
            .write_unsynced(move |ctx| {
                crate::registry::table::get_required(ctx.conn, &dev)?;
                ops::lock_next(ctx, &dev, &settings, &via, pushed)
            })
            .await?;
        for t in &locked.released {
            self.hub.inner.presence.settled(device, t);
        }
        Ok(locked.message)
    }

    /// Completes a locked message (the device processed it).
    pub async fn complete(&self, device: &str, lock_token: &str) -> HubResult<()> {
        let settings = self.hub.settings();
        let (dev, token) = (device.to_string(), lock_token.to_string());
        let r = self
            .hub
            .inner
            .db
            .write(move |ctx| ops::complete(ctx, &dev, &token, &settings))
            .await;
        self.hub.inner.presence.settled(device, lock_token);
        r.map(|_| ())
    }

    /// Queues the completion of a locked message and frees its delivery
    /// slot at once, without waiting for the commit: the next delivery's
    /// lock is queued after it, so it commits after it, and a crash before
    /// the commit only means the message is delivered again. The returned
    /// future reports the outcome (412002 for a lock that had ended).
    pub fn complete_queued(
        &self,
        device: &str,
        lock_token: &str,
    ) -> HubResult<impl std::future::Future<Output = HubResult<()>> + Send + 'static + use<>> {
        let settings = self.hub.settings();
        let (dev, token) = (device.to_string(), lock_token.to_string());
        let done = self
            .hub
            .inner
            .db
            .submit(move |ctx| ops::complete(ctx, &dev, &token, &settings))?;
        self.hub.inner.presence.settled(device, lock_token);
        Ok(async move { done.await.map(|_| ()) })
    }

    /// Abandons a locked message: back to the queue with its delivery count
    /// raised, or dead-lettered at the maximum delivery count.
    pub async fn abandon(&self, device: &str, lock_token: &str) -> HubResult<AbandonOutcome> {
        let settings = self.hub.settings();
        let (dev, token) = (device.to_string(), lock_token.to_string());
        let r = self
            .hub
            .inner
            .db
            .write(move |ctx| ops::abandon(ctx, &dev, &token, &settings))
            .await;
        self.hub.inner.presence.settled(device, lock_token);
        r
    }

    /// Rejects a locked message: dead-lettered, `Rejected` feedback if asked.
    pub async fn reject(&self, device: &str, lock_token: &str) -> HubResult<()> {
        let settings = self.hub.settings();
        let (dev, token) = (device.to_string(), lock_token.to_string());
        let r = self
            .hub
            .inner
            .db
            .write(move |ctx| ops::reject(ctx, &dev, &token, &settings))
            .await;
        self.hub.inner.presence.settled(device, lock_token);
        r.map(|_| ())
    }

    pub(crate) async fn release_detached(&self, device: &str, lock_token: &str) {
        let settings = self.hub.settings();
        let (dev, token) = (device.to_string(), lock_token.to_string());
        let r = self
            .hub
            .inner
            .db
            .write(move |ctx| ops::release(ctx, &dev, &token, ops::Release::Detached, &settings))
            .await;
        if let Err(e) = r {
            tracing::warn!(device, "could not release lock {lock_token}: {e}");
        }
        self.hub.inner.presence.wake_c2d(device);
    }

    /// Removes every message of a device's queue; returns how many.
    pub async fn purge(&self, device: &str) -> HubResult<u32> {
        let id = DeviceId::new(device)?;
        let settings = self.hub.settings();
        let dev = id.to_string();
        let n = self
            .hub
            .inner
            .db
            .write(move |ctx| ops::purge(ctx, &dev, &settings))
            .await?;
        self.hub.inner.presence.wake_c2d(id.as_str());
        Ok(n)
    }

    /// A device's queue in delivery order, with each message's state.
    pub async fn list(&self, device: &str) -> HubResult<Vec<C2dMessage>> {
        let id = DeviceId::new(device)?;
        self.hub
            .inner
            .db
            .read(move |conn| {
                crate::registry::table::get_required(conn, id.as_str())?;
                table::list(conn, id.as_str())
            })
            .await
    }

    /// Runs C2D expiry over the whole hub now: run-out locks go back to the
    /// queue and expired messages are dead-lettered (see [`expiry`]).
    pub async fn sweep(&self) -> HubResult<SweepReport> {
        let settings = self.hub.settings();
        let mut total = SweepReport::default();
        loop {
            let s = settings.clone();
            let r = self
                .hub
                .inner
                .db
                .write(move |ctx| expiry::sweep(ctx, &s, 500))
                .await?;
            for (device, token) in &r.released {
                self.hub.inner.presence.settled(device, token);
            }
            total.released.extend(r.released);
            total.expired += r.expired;
            if !r.more {
                return Ok(total);
            }
        }
    }
}
