//! The C2D life cycle as transactions: enqueue, lock, complete, abandon,
//! reject, release, purge, dead-letter.
//!
//! Each function runs inside one writer job ([`WriteCtx`]), so a state change,
//! its trace events and its feedback record commit together or not at all.
//! That is what makes feedback "exactly once per terminal outcome".
//!
//! ```text
//!              send                  lock (deliver)
//!   (new) ───────────▶ Enqueued ─────────────────────▶ Invisible
//!                        ▲  │                           │ │ │
//!    abandon (+1 count), │  │ TTL runs out              │ │ └─ complete ─▶ Completed   (Success)
//!    lock expiry,        │  ▼                           │ └─── reject ───▶ Dead-lettered (Rejected)
//!    detach  ────────────┘ Dead-lettered (Expired)      └─ abandon at max ▶ Dead-lettered (DeliveryCountExceeded)
//! ```

use uuid::Uuid;

use super::message::{C2dMessage, MessageState};
use super::table;
use crate::error::{HubError, HubResult};
use crate::feedback::{self, FeedbackStatus};
use crate::settings::HubSettings;
use crate::store::WriteCtx;
use crate::trace::detail::{
    C2dAbandoned, C2dCompleted, C2dDeadLettered, C2dDelivered, C2dEnqueued, C2dExpired,
    C2dLockEnded, C2dPurged, C2dRejected,
};
use crate::trace::{BodyPreview, NewEvent, TraceDetail};

/// How much of a body the trace keeps.
pub(crate) const TRACE_BODY_LIMIT: usize = 4096;

/// An event about message `m` (its device, id and lock).
fn event(m: &C2dMessage, detail: TraceDetail) -> NewEvent {
    let ev = NewEvent::new(m.device_id.as_str(), detail).message(m.message_id.as_str());
    match &m.lock_token {
        Some(t) => ev.lock(t.as_str()),
        None => ev,
    }
}

/// A connection that can take a message now: its delivery window and
/// its transport's name (for the trace).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PushTarget<'a> {
    pub window: usize,
    pub via: &'a str,
}

/// What [`enqueue`] did.
pub(crate) struct Enqueued {
    /// The message as accepted (Enqueued), which the sender is told about.
    pub sent: C2dMessage,
    /// The queue's census taken before the message was stored.
    pub census: table::Census,
    /// The message as stored, locked for the push target, when it was
    /// stored locked (see [`enqueue`]).
    pub locked: Option<C2dMessage>,
}

/// Accepts a validated message into its device's queue; `via` names how
/// the sender reached the hub, for the trace.
///
/// `push`: the device's connection, when one is attached. If its window has
/// room, no lock has run out and nothing older is waiting, the message
/// would be the next one locked for it anyway, so it is stored already
/// locked (its `delivered` event right after its `enqueued` one), in one
/// insert: locking it afterwards rewrote the row and moved its two index
/// entries on the storage writer, in every send to a device that keeps up
/// (docs/benchmarks.md). Otherwise the caller locks whatever is next
/// ([`lock_for_push`]), with the census.
pub(crate) fn enqueue(
    ctx: &mut WriteCtx<'_>,
    mut m: C2dMessage,
    settings: &HubSettings,
    via: Option<&str>,
    push: Option<PushTarget<'_>>,
) -> HubResult<Enqueued> {
    crate::registry::table::require(ctx.conn, &m.device_id)?;
    let census = table::census(ctx.conn, &m.device_id, ctx.now)?;
    // Checked before any write, so a refused send changes nothing.
    // Expired messages do not take places in the queue.
    if census.live >= settings.queue_cap {
        return Err(HubError::QueueFull {
            device: m.device_id.clone(),
            cap: settings.queue_cap,
        });
    }
    if census.expired_waiting > 0 {
        for old in table::expired_enqueued(ctx.conn, Some(&m.device_id), ctx.now, usize::MAX)? {
            dead_letter(ctx, old, FeedbackStatus::Expired, settings)?;
        }
    }
    m.enqueued_time = ctx.now;
    m.sequence_number = ctx.next_c2d_sequence()?;
    let push = push.filter(|p| {
        census.locks_out == 0 && census.pushed < p.window && census.live == census.locked
    });
    let locked = push.map(|p| (p, lock(m.clone(), ctx, settings)));
    match &locked {
        Some((_, l)) => table::insert(ctx.conn, l, true)?,
        None => table::insert(ctx.conn, &m, false)?,
    }
    let detail = TraceDetail::C2dEnqueued(C2dEnqueued {
        sequence_number: m.sequence_number,
        expiry_time_utc: m.expiry_time_utc,
        ack: m.ack,
        correlation_id: m.correlation_id.clone(),
        user_id: m.user_id.clone(),
        content_type: m.content_type.clone(),
        content_encoding: m.content_encoding.clone(),
        properties: m.properties.clone(),
        size: m.size(),
        body: BodyPreview::of(&m.body, TRACE_BODY_LIMIT),
        via: via.map(str::to_string),
    });
    ctx.trace(event(&m, detail))?;
    let locked = match locked {
        Some((p, l)) => {
            ctx.trace(event(&l, delivered(&l, p.via)))?;
            Some(l)
        }
        None => None,
    };
    Ok(Enqueued {
        sent: m,
        census,
        locked,
    })
}

/// `m` locked now: Invisible, with a fresh token, for one more attempt.
fn lock(mut m: C2dMessage, ctx: &WriteCtx<'_>, settings: &HubSettings) -> C2dMessage {
    m.state = MessageState::Invisible;
    m.lock_token = Some(Uuid::new_v4().to_string());
    m.lock_expiry = Some(ctx.now.plus(settings.lock_timeout()));
    m.attempts += 1;
    m
}

/// The `delivered` event of a message just locked for `via`.
fn delivered(m: &C2dMessage, via: &str) -> TraceDetail {
    TraceDetail::C2dDelivered(C2dDelivered {
        sequence_number: m.sequence_number,
        attempt: m.attempts,
        delivery_count: m.delivery_count,
        lock_expiry: m.lock_expiry,
        via: via.to_string(),
    })
}

/// What locking the next message did.
pub(crate) struct Locked {
    /// The message now Invisible, if one was deliverable.
    pub message: Option<C2dMessage>,
    /// Locks of this device that had run out and were released first.
    pub released: Vec<String>,
    /// A connection's window was full: nothing was locked.
    pub window_full: bool,
}

/// Locks the oldest deliverable message of a device for an HTTP client
/// (pull delivery: such a lock outlives the hub process).
pub(crate) fn lock_next(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    settings: &HubSettings,
) -> HubResult<Locked> {
    let released = super::expiry::expire_device(ctx, device, settings)?;
    let message = lock_ready(ctx, device, settings, "http", false, None)?;
    Ok(Locked {
        message,
        released,
        window_full: false,
    })
}

/// Locks the oldest deliverable message of a device for its connection
/// (`via`), unless `window` messages are already locked by a connection.
/// Every lock is taken on the writer thread, oldest message first, so
/// locks follow the queue's order whoever asks (the send path or the pump).
/// `sent` is the message the same job has just stored, if any, with the
/// census [`enqueue`] took.
pub(crate) fn lock_for_push(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    window: usize,
    settings: &HubSettings,
    via: &str,
    sent: Option<(&C2dMessage, &table::Census)>,
) -> HubResult<Locked> {
    let (released, pushed) = match sent {
        // No lock had run out, and the send dead-lettered every expired
        // waiting message itself, at this same time: expiry has nothing
        // to do here, and the window's use is as counted.
        Some((_, c)) if c.locks_out == 0 => (Vec::new(), c.pushed),
        _ => (
            super::expiry::expire_device(ctx, device, settings)?,
            table::count_pushed_locks(ctx.conn, device)?,
        ),
    };
    let window_full = pushed >= window;
    let message = if window_full {
        None
    } else {
        lock_ready(ctx, device, settings, via, true, sent.map(|(m, _)| m))?
    };
    Ok(Locked {
        message,
        released,
        window_full,
    })
}

/// Locks the oldest deliverable message, if any, for `via`; `pushed` when
/// it goes to an attached device's connection (whose locks end with the
/// process).
///
/// `sent`: the message the same job has just stored, when [`enqueue`]
/// could not store it locked (a lock had run out, or the window was full
/// then). When it is the one to lock, it is not read back and decoded from
/// the table: that read was a quarter of the lock's cost on the storage
/// writer (docs/benchmarks.md).
fn lock_ready(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    settings: &HubSettings,
    via: &str,
    pushed: bool,
    sent: Option<&C2dMessage>,
) -> HubResult<Option<C2dMessage>> {
    let next = match sent {
        None => table::next_ready(ctx.conn, device, ctx.now)?,
        Some(sent) => match table::next_ready_seq(ctx.conn, device, ctx.now)? {
            None => None,
            Some(seq) if seq == sent.sequence_number => Some(sent.clone()),
            Some(seq) => table::by_seq(ctx.conn, device, seq)?,
        },
    };
    let Some(next) = next else {
        return Ok(None);
    };
    let m = lock(next, ctx, settings);
    table::save_lock(ctx.conn, &m, pushed)?;
    ctx.trace(event(&m, delivered(&m, via)))?;
    Ok(Some(m))
}

/// The locked message for `token`, if its lock is still valid.
fn locked(ctx: &WriteCtx<'_>, device: &str, token: &str) -> HubResult<C2dMessage> {
    match table::by_lock(ctx.conn, device, token)? {
        Some(m) if m.lock_expiry.is_some_and(|t| t > ctx.now) => Ok(m),
        _ => Err(HubError::LockLost(token.to_string())),
    }
}

/// Invisible → Completed: removes the message, with `Success` feedback if asked.
pub(crate) fn complete(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    token: &str,
    settings: &HubSettings,
) -> HubResult<C2dMessage> {
    let m = locked(ctx, device, token)?;
    table::delete(ctx.conn, device, m.sequence_number)?;
    let detail = TraceDetail::C2dCompleted(C2dCompleted {
        sequence_number: m.sequence_number,
        attempt: m.attempts,
    });
    ctx.trace(event(&m, detail))?;
    feedback::produce(ctx, &m, FeedbackStatus::Success, settings)?;
    Ok(m)
}

/// What an abandon led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonOutcome {
    /// The message is Enqueued again.
    Requeued,
    /// The abandon reached the maximum delivery count, or the TTL had run out:
    /// the message is dead-lettered.
    DeadLettered(FeedbackStatus),
}

/// Invisible → Enqueued with the delivery count raised, or dead-lettered.
pub(crate) fn abandon(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    token: &str,
    settings: &HubSettings,
) -> HubResult<AbandonOutcome> {
    let mut m = locked(ctx, device, token)?;
    m.delivery_count += 1;
    let detail = TraceDetail::C2dAbandoned(C2dAbandoned {
        sequence_number: m.sequence_number,
        delivery_count: m.delivery_count,
        max_delivery_count: settings.max_delivery_count,
    });
    ctx.trace(event(&m, detail))?;
    if m.expiry_time_utc <= ctx.now {
        dead_letter(ctx, m, FeedbackStatus::Expired, settings)?;
        return Ok(AbandonOutcome::DeadLettered(FeedbackStatus::Expired));
    }
    if m.delivery_count >= settings.max_delivery_count {
        dead_letter(ctx, m, FeedbackStatus::DeliveryCountExceeded, settings)?;
        return Ok(AbandonOutcome::DeadLettered(
            FeedbackStatus::DeliveryCountExceeded,
        ));
    }
    m.state = MessageState::Enqueued;
    m.lock_token = None;
    m.lock_expiry = None;
    table::save_state(ctx.conn, &m)?;
    Ok(AbandonOutcome::Requeued)
}

/// Invisible → Dead-lettered with `Rejected` feedback if asked.
pub(crate) fn reject(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    token: &str,
    settings: &HubSettings,
) -> HubResult<C2dMessage> {
    let m = locked(ctx, device, token)?;
    let detail = TraceDetail::C2dRejected(C2dRejected {
        sequence_number: m.sequence_number,
    });
    ctx.trace(event(&m, detail))?;
    dead_letter(ctx, m.clone(), FeedbackStatus::Rejected, settings)?;
    Ok(m)
}

/// Why a lock ends without a settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// The lock timeout ran out.
    LockExpired,
    /// The device detached while holding it.
    Detached,
}

/// Invisible → Enqueued without touching the delivery count (or
/// dead-lettered if the TTL ran out meanwhile). Tokens no longer locked are skipped.
pub(crate) fn release(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    token: &str,
    why: Release,
    settings: &HubSettings,
) -> HubResult<bool> {
    let Some(mut m) = table::by_lock(ctx.conn, device, token)? else {
        return Ok(false);
    };
    let ended = C2dLockEnded {
        sequence_number: m.sequence_number,
        attempt: m.attempts,
        delivery_count: m.delivery_count,
    };
    let detail = match why {
        Release::LockExpired => TraceDetail::C2dLockExpired(ended),
        Release::Detached => TraceDetail::C2dLockReleased(ended),
    };
    ctx.trace(event(&m, detail))?;
    if m.expiry_time_utc <= ctx.now {
        dead_letter(ctx, m, FeedbackStatus::Expired, settings)?;
    } else {
        m.state = MessageState::Enqueued;
        m.lock_token = None;
        m.lock_expiry = None;
        table::save_state(ctx.conn, &m)?;
    }
    Ok(true)
}

/// Releases every lock held by a connection of an earlier run of the hub:
/// that connection is gone (the process ended, perhaps killed), so the
/// device will never acknowledge on it, and waiting out the lock would only
/// delay the redelivery IoT Hub makes on reconnect. Locks given to HTTP
/// clients are kept: such a client may still complete after the restart.
pub(crate) fn release_pushed(ctx: &mut WriteCtx<'_>, settings: &HubSettings) -> HubResult<usize> {
    let held = table::pushed_locks(ctx.conn)?;
    let mut n = 0;
    for (device, token) in &held {
        if release(ctx, device, token, Release::Detached, settings)? {
            n += 1;
        }
    }
    Ok(n)
}

/// Removes every message of a device, with `Purged` feedback where asked.
pub(crate) fn purge(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    settings: &HubSettings,
) -> HubResult<u32> {
    crate::registry::table::require(ctx.conn, device)?;
    let mut n = 0;
    for m in table::list(ctx.conn, device)? {
        table::delete(ctx.conn, device, m.sequence_number)?;
        let detail = TraceDetail::C2dPurged(C2dPurged {
            sequence_number: m.sequence_number,
            state: m.state,
        });
        ctx.trace(event(&m, detail))?;
        feedback::produce(ctx, &m, FeedbackStatus::Purged, settings)?;
        n += 1;
    }
    Ok(n)
}

/// Terminal failure: removes the message and produces negative feedback if asked.
pub(crate) fn dead_letter(
    ctx: &mut WriteCtx<'_>,
    m: C2dMessage,
    status: FeedbackStatus,
    settings: &HubSettings,
) -> HubResult<()> {
    table::delete(ctx.conn, &m.device_id, m.sequence_number)?;
    if status == FeedbackStatus::Expired {
        let detail = TraceDetail::C2dExpired(C2dExpired {
            sequence_number: m.sequence_number,
            expiry_time_utc: m.expiry_time_utc,
        });
        ctx.trace(event(&m, detail))?;
    }
    let detail = TraceDetail::C2dDeadLettered(C2dDeadLettered {
        sequence_number: m.sequence_number,
        reason: status,
        delivery_count: m.delivery_count,
        attempts: m.attempts,
    });
    ctx.trace(event(&m, detail))?;
    feedback::produce(ctx, &m, status, settings)?;
    Ok(())
}
