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
pub(crate) mod sequence;
pub(crate) mod table;

pub use expiry::SweepReport;
pub use message::{AckMode, C2dMessage, MessageState, NewMessage, PROPERTY_SPECIALS, to_address};
pub use ops::AbandonOutcome;
pub(crate) use ops::TRACE_BODY_LIMIT;

use uuid::Uuid;

use crate::attach::presence::C2dTarget;
use crate::error::HubResult;
use crate::hub::Hub;
use crate::ids::DeviceId;

/// What the pump's [`Mailbox::push_next`] did.
pub(crate) enum Pushed {
    /// A message went to the connection.
    Delivered,
    /// Nothing deliverable.
    Nothing,
    /// The window is full.
    Full,
    /// The attachment or its C2D subscription ended.
    Ended,
}

/// A message locked for a device's connection inside a storage job, and
/// whether the writer could hand it over.
pub(crate) struct Handover {
    attachment: u64,
    message: Option<C2dMessage>,
    delivered: bool,
    /// The window had no room.
    full: bool,
    /// The device's locks that had run out, released by the same job.
    released: Vec<String>,
}

/// Locks the next message for `target` in the open transaction.
fn lock_handover(
    ctx: &mut crate::store::WriteCtx<'_>,
    device: &str,
    target: &C2dTarget,
    settings: &crate::settings::HubSettings,
    sent: Option<(&C2dMessage, &table::Census)>,
) -> HubResult<Handover> {
    let l = ops::lock_for_push(
        ctx,
        device,
        target.window,
        settings,
        &target.transport,
        sent,
    )?;
    Ok(Handover::of(target, l.message, l.window_full, l.released))
}

impl Handover {
    /// What a lock for `target` gives its connection.
    fn of(
        target: &C2dTarget,
        message: Option<C2dMessage>,
        full: bool,
        released: Vec<String>,
    ) -> Handover {
        Handover {
            attachment: target.attachment,
            message,
            delivered: false,
            full,
            released,
        }
    }

    /// On the writer thread, once the job's group ran: gives the message
    /// to the connection, and settles the rest there too, so that it is
    /// done even if the caller stops waiting (an HTTP sender that
    /// disconnects): the device's locks that ran out are forgotten, and a
    /// message the connection could not take (its attachment ended
    /// meanwhile) is released by a job queued right behind this one.
    fn deliver(&mut self, hub: &Hub, device: &str) {
        let presence = &hub.inner.presence;
        if let Some(m) = &self.message {
            self.delivered = presence.deliver_c2d(device, self.attachment, m.clone());
        }
        for t in self.released.drain(..) {
            presence.requeued(device, &t);
        }
        if !self.delivered
            && let Some(token) = self.message.as_ref().and_then(|m| m.lock_token.clone())
        {
            hub.mailbox().queue_release_detached(device, token);
        }
    }
}

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
        // A device attached with room in its window gets the message in
        // the send's own transaction: locked there, handed to its
        // connection by the writer once the group has run, with no second
        // trip through the pump and the writer (docs/benchmarks.md).
        let presence = self.hub.inner.presence.clone();
        let dev = id.to_string();
        let committed = self.hub.inner.db.submit_then(
            move |ctx| {
                let target = presence.c2d_target(&dev);
                let push = target.as_ref().map(|t| ops::PushTarget {
                    window: t.window,
                    via: &t.transport,
                });
                let e = ops::enqueue(ctx, m.clone(), &settings, via.as_deref(), push)?;
                let handover = match (target, e.locked) {
                    (Some(t), Some(locked)) => {
                        Some(Handover::of(&t, Some(locked), false, Vec::new()))
                    }
                    (Some(t), None) => Some(lock_handover(
                        ctx,
                        &dev,
                        &t,
                        &settings,
                        Some((&e.sent, &e.census)),
                    )?),
                    (None, _) => None,
                };
                Ok((e.sent, handover))
            },
            {
                let (hub, dev) = (self.hub.clone(), id.to_string());
                Box::new(move |out: &mut (C2dMessage, Option<Handover>)| {
                    if let Some(h) = &mut out.1 {
                        h.deliver(&hub, &dev);
                    }
                })
            },
        )?;
        let hub = self.hub.clone();
        Ok(async move {
            let (m, handover) = committed.await?;
            // A message the connection could not take was put back by the
            // writer's hook, which also woke the pump.
            let handed = handover
                .and_then(|h| h.message)
                .is_some_and(|l| l.sequence_number == m.sequence_number);
            if !handed {
                hub.inner.presence.wake_c2d(id.as_str());
            }
            Ok(m)
        })
    }

    /// The pump's delivery: locks the next message for `attachment` if its
    /// window has room, and hands it over (as a send does).
    pub(crate) async fn push_next(&self, device: &str, attachment: u64) -> HubResult<Pushed> {
        let settings = self.hub.settings();
        let presence = self.hub.inner.presence.clone();
        let dev = device.to_string();
        // The lock is handed out without waiting for its fsync: a crash
        // that loses it only puts the message back in the queue, to be
        // delivered again (at-least-once), and later jobs (the device's
        // completion) are committed after it.
        let handover = self
            .hub
            .inner
            .db
            .write_unsynced_then(
                move |ctx| {
                    crate::registry::table::require(ctx.conn, &dev)?;
                    match presence.c2d_target(&dev) {
                        Some(t) if t.attachment == attachment => {
                            Ok(Some(lock_handover(ctx, &dev, &t, &settings, None)?))
                        }
                        _ => Ok(None),
                    }
                },
                {
                    let (hub, dev) = (self.hub.clone(), device.to_string());
                    Box::new(move |out: &mut Option<Handover>| {
                        if let Some(h) = out {
                            h.deliver(&hub, &dev);
                        }
                    })
                },
            )
            .await?;
        let Some(h) = handover else {
            return Ok(Pushed::Ended);
        };
        let outcome = match (&h.message, h.delivered) {
            (Some(_), true) => Pushed::Delivered,
            (Some(_), false) => Pushed::Ended,
            (None, _) if h.full => Pushed::Full,
            (None, _) => Pushed::Nothing,
        };
        Ok(outcome)
    }

    /// Pull delivery (the HTTP device endpoint): locks and returns the
    /// oldest deliverable message, or `None` when the queue has none.
    pub async fn receive(&self, device: &str) -> HubResult<Option<C2dMessage>> {
        let id = DeviceId::new(device)?;
        self.hub.touch(id.as_str());
        let device = id.as_str();
        let settings = self.hub.settings();
        let dev = device.to_string();
        // The lock is handed out without waiting for its fsync: a crash
        // that loses it only puts the message back in the queue, to be
        // delivered again (at-least-once), and later jobs (the device's
        // completion) are committed after it.
        let locked = self
            .hub
            .inner
            .db
            .write_unsynced(move |ctx| {
                crate::registry::table::require(ctx.conn, &dev)?;
                ops::lock_next(ctx, &dev, &settings)
            })
            .await?;
        for t in &locked.released {
            self.hub.inner.presence.requeued(device, t);
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
        self.hub.inner.presence.requeued(device, lock_token);
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

    /// Queues, without waiting, the release of a lock whose message its
    /// connection never received; called on the writer thread by
    /// [`Handover::deliver`].
    fn queue_release_detached(&self, device: &str, lock_token: String) {
        let settings = self.hub.settings();
        let presence = self.hub.inner.presence.clone();
        let dev = device.to_string();
        let queued = self.hub.inner.db.submit(move |ctx| {
            let released = ops::release(ctx, &dev, &lock_token, ops::Release::Detached, &settings);
            // Woken from inside the job: the pump's next look is queued
            // behind it, so it sees the message back in the queue.
            presence.wake_c2d(&dev);
            released
        });
        // Nobody waits for the answer: a failure leaves the lock to run
        // out, as it would after a crash.
        if let Err(e) = queued {
            tracing::warn!(device, "could not queue the release of a lock: {e}");
        }
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
                crate::registry::table::require(conn, id.as_str())?;
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
                self.hub.inner.presence.requeued(device, token);
            }
            total.released.extend(r.released);
            total.expired += r.expired;
            if !r.more {
                return Ok(total);
            }
        }
    }
}
