//! C2D expiry: message TTLs and lock timeouts.
//!
//! Expiry runs in two places, so a message is never delivered after its
//! expiry whether or not the sweeper has run:
//! - lazily, for one device, right before its queue is used
//!   ([`expire_device`], called by lock and enqueue), and
//! - periodically for the whole hub ([`sweep`], driven by the hub's sweeper
//!   task on the injected clock).
//!
//! A lock that runs out returns the message to Enqueued without raising its
//! delivery count (only an explicit abandon counts, as the newest IoT Hub
//! documentation says). A message whose TTL passes while it is Invisible may
//! still be completed until its lock ends; then it is dead-lettered as Expired.

use serde::Serialize;

use super::ops::{self, Release};
use super::table;
use crate::error::HubResult;
use crate::feedback::FeedbackStatus;
use crate::settings::HubSettings;
use crate::store::WriteCtx;

/// Releases a device's run-out locks and dead-letters its expired messages.
/// Returns the lock tokens released.
pub(crate) fn expire_device(
    ctx: &mut WriteCtx<'_>,
    device: &str,
    settings: &HubSettings,
) -> HubResult<Vec<String>> {
    let mut released = Vec::new();
    for m in table::lock_expired(ctx.conn, Some(device), ctx.now, usize::MAX)? {
        if let Some(token) = m.lock_token.clone()
            && ops::release(ctx, device, &token, Release::LockExpired, settings)?
        {
            released.push(token);
        }
    }
    for m in table::expired_enqueued(ctx.conn, Some(device), ctx.now, usize::MAX)? {
        ops::dead_letter(ctx, m, FeedbackStatus::Expired, settings)?;
    }
    Ok(released)
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// `(device, lock token)` of every lock that ran out and was released.
    pub released: Vec<(String, String)>,
    /// Messages dead-lettered because their TTL ran out.
    pub expired: usize,
    /// True when the sweep stopped at its limit and more work remains.
    pub more: bool,
}

/// Hub-wide expiry of up to `limit` locks and `limit` messages.
pub(crate) fn sweep(
    ctx: &mut WriteCtx<'_>,
    settings: &HubSettings,
    limit: usize,
) -> HubResult<SweepReport> {
    let mut report = SweepReport::default();
    let locks = table::lock_expired(ctx.conn, None, ctx.now, limit)?;
    report.more |= locks.len() == limit;
    for m in locks {
        if let Some(token) = m.lock_token.clone()
            && ops::release(ctx, &m.device_id, &token, Release::LockExpired, settings)?
        {
            report.released.push((m.device_id.clone(), token));
        }
    }
    let expired = table::expired_enqueued(ctx.conn, None, ctx.now, limit)?;
    report.more |= expired.len() == limit;
    for m in expired {
        ops::dead_letter(ctx, m, FeedbackStatus::Expired, settings)?;
        report.expired += 1;
    }
    Ok(report)
}
