//! The hub-wide feedback queue as transactions: produce records, seal them
//! into batches, and lock / complete / abandon / expire batches.
//!
//! Batching rule (semantics reference 2.3): pending records are sealed into
//! one feedback message as soon as there are `feedbackBatchSize` (64) of
//! them, or once `feedbackBatchWindowSecs` (15 s) have passed since the
//! previous batch was sealed, whichever comes first. Sealing is checked when a
//! record is produced, when a receiver asks for feedback, and by the sweeper.

use uuid::Uuid;

use super::{FeedbackMessage, FeedbackRecord, FeedbackStatus, table};
use crate::error::{HubError, HubResult};
use crate::mailbox::C2dMessage;
use crate::settings::HubSettings;
use crate::store::WriteCtx;
use crate::trace::detail::{
    FeedbackAbandoned, FeedbackBatched, FeedbackCompleted, FeedbackDropReason, FeedbackDropped,
    FeedbackProduced, FeedbackReceived,
};
use crate::trace::{NewEvent, TraceDetail};

/// Writes the feedback record for `m`'s terminal outcome if its ack mode
/// asks for it. Called in the same transaction as the outcome itself.
pub(crate) fn produce(
    ctx: &mut WriteCtx<'_>,
    m: &C2dMessage,
    status: FeedbackStatus,
    settings: &HubSettings,
) -> HubResult<()> {
    if !m.ack.wants(status.is_positive()) {
        return Ok(());
    }
    let device = crate::registry::table::get_required(ctx.conn, &m.device_id)?;
    let record = FeedbackRecord {
        original_message_id: m.message_id.clone(),
        device_id: m.device_id.clone(),
        device_generation_id: device.generation_id,
        status_code: status,
        description: status.description().to_string(),
        enqueued_time_utc: ctx.now,
    };
    table::insert_record(ctx.conn, &record)?;
    let detail = TraceDetail::FeedbackProduced(FeedbackProduced {
        status_code: status,
        description: record.description.clone(),
        ack: m.ack,
        device_generation_id: record.device_generation_id.clone(),
        sequence_number: m.sequence_number,
    });
    ctx.trace(NewEvent::new(m.device_id.as_str(), detail).message(m.message_id.as_str()))?;
    if table::pending_count(ctx.conn)? >= u64::from(settings.feedback_batch_size) {
        seal(ctx, settings, true)?;
    }
    Ok(())
}

/// Seals pending records into batches. With `only_full`, only complete
/// batches of `feedbackBatchSize` are sealed.
fn seal(ctx: &mut WriteCtx<'_>, settings: &HubSettings, only_full: bool) -> HubResult<()> {
    let size = settings.feedback_batch_size as usize;
    loop {
        let pending = table::pending(ctx.conn, size)?;
        if pending.is_empty() || (only_full && pending.len() < size) {
            return Ok(());
        }
        let last_id = pending.last().map(|(id, _)| *id).unwrap_or_default();
        let expiry = ctx
            .now
            .plus(std::time::Duration::from_secs(settings.feedback_ttl_secs));
        let batch = table::insert_batch(ctx.conn, ctx.now, expiry)?;
        table::assign(ctx.conn, batch, last_id)?;
        table::set_last_seal(ctx.conn, ctx.now)?;
        let original_message_ids = pending
            .iter()
            .map(|(_, r)| r.original_message_id.clone())
            .collect();
        ctx.trace(NewEvent::hub(TraceDetail::FeedbackBatched(
            FeedbackBatched {
                batch_id: batch,
                records: pending.len(),
                original_message_ids,
                expiry_time_utc: expiry,
            },
        )))?;
    }
}

/// Seals what is due: full batches always, and everything pending once the
/// batch window has passed since the last seal.
pub(crate) fn seal_due(ctx: &mut WriteCtx<'_>, settings: &HubSettings) -> HubResult<()> {
    seal(ctx, settings, true)?;
    if table::pending_count(ctx.conn)? == 0 {
        return Ok(());
    }
    let window = std::time::Duration::from_secs(settings.feedback_batch_window_secs);
    if ctx.now >= table::last_seal(ctx.conn)?.plus(window) {
        seal(ctx, settings, false)?;
    }
    Ok(())
}

/// Drops expired batches and releases run-out locks.
pub(crate) fn expire(ctx: &mut WriteCtx<'_>) -> HubResult<()> {
    for b in table::batches(ctx.conn, "WHERE expiry_ms <= ?1", [ctx.now.0])? {
        let n = table::batch_records(ctx.conn, b.id)?.len();
        table::delete_batch(ctx.conn, b.id)?;
        ctx.trace(NewEvent::hub(TraceDetail::FeedbackDropped(
            FeedbackDropped {
                batch_id: b.id,
                records: n,
                reason: FeedbackDropReason::Expired,
            },
        )))?;
    }
    for mut b in table::batches(
        ctx.conn,
        "WHERE state = 1 AND lock_until_ms <= ?1",
        [ctx.now.0],
    )? {
        b.locked = false;
        b.lock_token = None;
        b.lock_until = None;
        table::save_batch(ctx.conn, &b)?;
    }
    Ok(())
}

/// Locks the oldest available feedback message for a receiver that
/// reached the hub through `via`.
pub(crate) fn receive(
    ctx: &mut WriteCtx<'_>,
    settings: &HubSettings,
    via: Option<&str>,
) -> HubResult<Option<FeedbackMessage>> {
    seal_due(ctx, settings)?;
    expire(ctx)?;
    let Some(mut b) = table::batches(ctx.conn, "WHERE state = 0 ORDER BY id LIMIT 1", [])?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let token = Uuid::new_v4().to_string();
    b.locked = true;
    b.lock_token = Some(token.clone());
    b.lock_until = Some(
        ctx.now
            .plus(std::time::Duration::from_secs(settings.feedback_lock_secs)),
    );
    table::save_batch(ctx.conn, &b)?;
    let records = table::batch_records(ctx.conn, b.id)?;
    let detail = TraceDetail::FeedbackReceived(FeedbackReceived {
        batch_id: b.id,
        records: records.len(),
        delivery_count: b.delivery_count,
        via: via.map(str::to_string),
    });
    ctx.trace(NewEvent::hub(detail).lock(token.as_str()))?;
    Ok(Some(FeedbackMessage {
        lock_token: token,
        batch_id: b.id,
        enqueued_time: b.enqueued,
        expiry_time: b.expiry,
        delivery_count: b.delivery_count,
        user_id: settings.hub_name.clone(),
        records,
    }))
}

fn locked(ctx: &WriteCtx<'_>, token: &str) -> HubResult<table::BatchRow> {
    match table::batch_by_lock(ctx.conn, token)? {
        Some(b) if b.lock_until.is_some_and(|t| t > ctx.now) => Ok(b),
        _ => Err(HubError::LockLost(token.to_string())),
    }
}

/// Completes (removes) a locked feedback message.
pub(crate) fn complete(ctx: &mut WriteCtx<'_>, token: &str) -> HubResult<()> {
    let b = locked(ctx, token)?;
    table::delete_batch(ctx.conn, b.id)?;
    let detail = TraceDetail::FeedbackCompleted(FeedbackCompleted { batch_id: b.id });
    ctx.trace(NewEvent::hub(detail).lock(token))
}

/// Abandons a locked feedback message: back to the queue, or dropped once
/// its delivery count reaches the maximum.
pub(crate) fn abandon(
    ctx: &mut WriteCtx<'_>,
    token: &str,
    settings: &HubSettings,
) -> HubResult<()> {
    let mut b = locked(ctx, token)?;
    b.delivery_count += 1;
    let detail = TraceDetail::FeedbackAbandoned(FeedbackAbandoned {
        batch_id: b.id,
        delivery_count: b.delivery_count,
    });
    ctx.trace(NewEvent::hub(detail).lock(token))?;
    if b.delivery_count >= settings.feedback_max_delivery_count {
        let n = table::batch_records(ctx.conn, b.id)?.len();
        table::delete_batch(ctx.conn, b.id)?;
        return ctx.trace(NewEvent::hub(TraceDetail::FeedbackDropped(
            FeedbackDropped {
                batch_id: b.id,
                records: n,
                reason: FeedbackDropReason::DeliveryCountExceeded,
            },
        )));
    }
    b.locked = false;
    b.lock_token = None;
    b.lock_until = None;
    table::save_batch(ctx.conn, &b)
}

/// Rejects a locked feedback message: it is dropped (IoT Hub dead-letters
/// it), as a receiver says it can never process it.
pub(crate) fn reject(ctx: &mut WriteCtx<'_>, token: &str) -> HubResult<()> {
    let b = locked(ctx, token)?;
    let n = table::batch_records(ctx.conn, b.id)?.len();
    table::delete_batch(ctx.conn, b.id)?;
    ctx.trace(
        NewEvent::hub(TraceDetail::FeedbackDropped(FeedbackDropped {
            batch_id: b.id,
            records: n,
            reason: FeedbackDropReason::Rejected,
        }))
        .lock(token),
    )
}
