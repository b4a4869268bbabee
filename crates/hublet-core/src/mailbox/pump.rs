//! Push delivery: keeps an attached, subscribed device supplied with its
//! queue, in sequence order, with at most its window of messages unsettled.
//!
//! One pump task runs per C2D subscription. It sleeps on the device's C2D
//! notifier, which is woken by every change that can make a message
//! deliverable or free a window slot: a send, a settlement, an abandon, a
//! lock expiry, a detach. The pump ends when its attachment or subscription
//! ends, or when the hub shuts down.

use std::time::Duration;

use crate::hub::Hub;

pub(crate) fn spawn(hub: Hub, device: String, attachment: u64, via: String) {
    tokio::spawn(async move { run(hub, device, attachment, via).await });
}

async fn run(hub: Hub, device: String, attachment: u64, via: String) {
    let notify = hub.inner.presence.c2d_notify(&device);
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let Some(room) = hub.inner.presence.c2d_room(&device, attachment) else {
            return;
        };
        let mut filled = true;
        for _ in 0..room {
            match hub.mailbox().lock_for_delivery(&device, &via, true).await {
                Ok(Some(m)) => {
                    let token = m.lock_token.clone().unwrap_or_default();
                    if !hub.inner.presence.deliver_c2d(&device, attachment, m) {
                        // The attachment ended between lock and hand-over: put it back.
                        hub.mailbox().release_detached(&device, &token).await;
                        return;
                    }
                }
                Ok(None) => {
                    filled = false;
                    break;
                }
                Err(e) => {
                    tracing::warn!(device, "C2D delivery failed: {e}; retrying shortly");
                    tokio::select! {
                        _ = hub.inner.clock.sleep(Duration::from_secs(1)) => {}
                        _ = hub.shutdown_signal() => return,
                    }
                    filled = false;
                    break;
                }
            }
        }
        if filled && room > 0 {
            // The window may still have room if messages were settled meanwhile.
            continue;
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = hub.shutdown_signal() => return,
        }
    }
}
