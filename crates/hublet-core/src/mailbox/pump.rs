//! Push delivery: keeps an attached, subscribed device supplied with its
//! queue, in sequence order, with at most its window of messages unsettled.
//!
//! A send to a device whose window has room is handed over by the send
//! itself ([`super::Mailbox::submit_via`]); the pump delivers the rest:
//! what was queued while the device was away or its window was full, and
//! what an abandon or an expired lock put back.
//!
//! One pump task runs per C2D subscription. It sleeps on the device's C2D
//! notifier, which is woken by every change that can make a message
//! deliverable or free a window slot: a send not handed over, a
//! settlement, an abandon, a lock expiry, a detach. The pump ends when its
//! attachment or subscription ends, or when the hub shuts down.

use std::time::Duration;

use super::Pushed;
use crate::hub::Hub;

pub(crate) fn spawn(hub: Hub, device: String, attachment: u64) {
    tokio::spawn(async move { run(hub, device, attachment).await });
}

async fn run(hub: Hub, device: String, attachment: u64) {
    let presence = &hub.inner.presence;
    let notify = presence.c2d_notify(&device);
    // A new subscription looks at the queue whatever the mark says.
    let mut look = true;
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if !presence.c2d_subscribed(&device, attachment) {
            return;
        }
        // Taken whether or not `look` is set, so a stale mark does not
        // cost a second look.
        let pending = presence.take_c2d_pending(&device);
        if look || pending {
            look = false;
            // Boxed while it runs: an idle pump holds only its wait.
            match Box::pin(hub.mailbox().push_next(&device, attachment)).await {
                // The window may have more room, the queue more messages.
                Ok(Pushed::Delivered) => {
                    look = true;
                    continue;
                }
                Ok(Pushed::Nothing) => {}
                Ok(Pushed::Full) => presence.c2d_held_back(&device),
                Ok(Pushed::Ended) => return,
                Err(e) => {
                    tracing::warn!(device, "C2D delivery failed: {e}; retrying shortly");
                    presence.c2d_held_back(&device);
                    tokio::select! {
                        _ = hub.inner.clock.sleep(Duration::from_secs(1)) => {}
                        _ = hub.shutdown_signal() => return,
                    }
                }
            }
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = hub.shutdown_signal() => return,
        }
    }
}
