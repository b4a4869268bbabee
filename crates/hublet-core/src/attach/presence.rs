//! Who is attached now: the in-memory presence table.
//!
//! One entry per device that has been attached since the hub started: its
//! current attachment (transport, channel to the transport, method filter,
//! C2D window and the locks it holds), its method calls in flight, and the
//! notifiers that wake a waiting call or a C2D pump. Never held across
//! `.await`; every method takes the lock once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, oneshot};

use super::{MethodFilter, ToDevice};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::mailbox::C2dMessage;

/// A method response as the device sent it, before parsing.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: i32,
    pub body: Vec<u8>,
}

/// A method call waiting for its response.
pub(crate) struct PendingCall {
    pub attachment: u64,
    pub reply: oneshot::Sender<HubResult<RawResponse>>,
}

/// One device's current attachment.
pub(crate) struct Slot {
    pub id: u64,
    pub transport: String,
    pub remote: Option<String>,
    pub since: Timestamp,
    pub tx: mpsc::UnboundedSender<ToDevice>,
    pub methods: MethodFilter,
    pub c2d_window: Option<usize>,
    /// Subscribed to desired-property patches.
    pub twin_desired: bool,
    /// Lock tokens of the messages handed out and not yet settled.
    pub outstanding: HashSet<String>,
    /// The task that detaches the device when its SAS token expires;
    /// aborted when the attachment ends first, so a device in a reconnect
    /// loop leaves nothing behind.
    pub expiry_task: Option<tokio::task::AbortHandle>,
}

#[derive(Default)]
struct DeviceRuntime {
    slot: Option<Slot>,
    changed: Option<Timestamp>,
    last_activity: Option<Timestamp>,
    online: Arc<Notify>,
    c2d: Arc<Notify>,
    /// The queue may hold a message the device's pump should deliver: one
    /// sent while no window had room, put back, or held back by a full
    /// window. Lets the pump skip a storage job when a settlement frees a
    /// slot and nothing waits (see [`Presence::take_c2d_pending`]).
    c2d_pending: bool,
    calls: HashMap<String, PendingCall>,
}

/// A device's live connection state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PresenceSnapshot {
    pub transport: Option<String>,
    pub changed: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
}

/// A device's C2D subscription, as a storage job needs it to lock and
/// hand over a message ([`Presence::c2d_target`]).
pub(crate) struct C2dTarget {
    pub attachment: u64,
    /// Most messages unsettled at once.
    pub window: usize,
    pub transport: String,
}

/// What ended an attachment: the slot and the calls it owed answers to.
pub(crate) struct Removed {
    pub transport: String,
    pub remote: Option<String>,
    pub since: Timestamp,
    pub tx: mpsc::UnboundedSender<ToDevice>,
    pub outstanding: HashSet<String>,
    pub calls: Vec<PendingCall>,
    pub expiry_task: Option<tokio::task::AbortHandle>,
}

/// Why a call could not start.
pub(crate) enum CallStart {
    Started(mpsc::UnboundedSender<ToDevice>),
    NotOnline,
    TooMany,
}

/// In-memory connection state of every device. Never held across `.await`.
#[derive(Default)]
pub(crate) struct Presence {
    map: Mutex<HashMap<String, DeviceRuntime>>,
}

impl Presence {
    /// Runs `f` on the device's record, made if it has none. A known
    /// device's record is found without copying its id: every packet from a
    /// device passes here ([`touch`](Self::touch)).
    fn with<T>(&self, device: &str, f: impl FnOnce(&mut DeviceRuntime) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = map.get_mut(device) {
            return f(r);
        }
        f(map.entry(device.to_string()).or_default())
    }

    pub(crate) fn snapshot(&self, device: &str) -> PresenceSnapshot {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(device)
            .map(|r| PresenceSnapshot {
                transport: r.slot.as_ref().map(|s| s.transport.clone()),
                changed: r.changed,
                last_activity: r.last_activity,
            })
            .unwrap_or_default()
    }

    pub(crate) fn connected_count(&self) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|r| r.slot.is_some()).count()
    }

    pub(crate) fn online_notify(&self, device: &str) -> Arc<Notify> {
        self.with(device, |r| r.online.clone())
    }

    pub(crate) fn c2d_notify(&self, device: &str) -> Arc<Notify> {
        self.with(device, |r| r.c2d.clone())
    }

    /// Wakes the device's C2D pump: its queue may hold a message to deliver.
    pub(crate) fn wake_c2d(&self, device: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = map.get_mut(device) {
            r.c2d_pending = true;
            r.c2d.notify_waiters();
        }
    }

    /// Marks the queue as holding messages held back by a full window, so
    /// that the next settlement makes the pump look.
    pub(crate) fn c2d_held_back(&self, device: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = map.get_mut(device) {
            r.c2d_pending = true;
        }
    }

    /// Whether the pump should look at the queue, clearing the mark. A
    /// mark set while the pump looks wakes it again (its notifier is
    /// enabled before it takes the mark).
    pub(crate) fn take_c2d_pending(&self, device: &str) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(device)
            .map(|r| std::mem::take(&mut r.c2d_pending))
            .unwrap_or(false)
    }

    pub(crate) fn touch(&self, device: &str, now: Timestamp) {
        self.with(device, |r| r.last_activity = Some(now));
    }

    pub(crate) fn install(&self, device: &str, slot: Slot, now: Timestamp) -> Option<Removed> {
        let (old, online) = self.with(device, |r| {
            let old = r.slot.take().map(|s| {
                let calls = take_calls(&mut r.calls, s.id);
                removed(s, calls)
            });
            r.slot = Some(slot);
            r.changed = Some(now);
            r.last_activity = Some(now);
            (old, r.online.clone())
        });
        online.notify_waiters();
        old
    }

    pub(crate) fn remove(&self, device: &str, attachment: u64, now: Timestamp) -> Option<Removed> {
        let (out, online, c2d) = self.with(device, |r| {
            if r.slot.as_ref().map(|s| s.id) != Some(attachment) {
                return (None, r.online.clone(), r.c2d.clone());
            }
            let s = r.slot.take();
            r.changed = Some(now);
            let calls = take_calls(&mut r.calls, attachment);
            (
                s.map(|s| removed(s, calls)),
                r.online.clone(),
                r.c2d.clone(),
            )
        });
        online.notify_waiters();
        c2d.notify_waiters();
        out
    }

    /// Hands the attachment its token-expiry task; aborts the task at once
    /// if the attachment has already ended.
    pub(crate) fn set_expiry_task(
        &self,
        device: &str,
        attachment: u64,
        task: tokio::task::AbortHandle,
    ) {
        let rejected = self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                s.expiry_task = Some(task);
                None
            }
            _ => Some(task),
        });
        if let Some(t) = rejected {
            t.abort();
        }
    }

    /// The current attachment id of a device, if attached.
    pub(crate) fn current(&self, device: &str) -> Option<u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(device).and_then(|r| r.slot.as_ref().map(|s| s.id))
    }

    pub(crate) fn set_methods(&self, device: &str, attachment: u64, filter: MethodFilter) -> bool {
        let (ok, online) = self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                s.methods = filter;
                (true, r.online.clone())
            }
            _ => (false, r.online.clone()),
        });
        online.notify_waiters();
        ok
    }

    /// Turns desired-patch notifications on or off for the attachment.
    pub(crate) fn set_twin_desired(&self, device: &str, attachment: u64, on: bool) -> bool {
        self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                s.twin_desired = on;
                true
            }
            _ => false,
        })
    }

    /// Sends a desired patch to the device's attachment when it is
    /// subscribed; false when nobody was there to hear it (IoT Hub does
    /// not queue them: the device reads the twin when it reconnects).
    pub(crate) fn send_desired(&self, device: &str, body: serde_json::Value) -> bool {
        self.with(device, |r| match r.slot.as_ref() {
            Some(s) if s.twin_desired => s.tx.send(ToDevice::DesiredPatch(Box::new(body))).is_ok(),
            _ => false,
        })
    }

    /// Sets the C2D window; returns true when the subscription is new (a pump must start).
    pub(crate) fn set_c2d(
        &self,
        device: &str,
        attachment: u64,
        window: Option<usize>,
    ) -> HubResult<bool> {
        let (started, c2d) = self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                let was = s.c2d_window.is_some();
                s.c2d_window = window;
                Ok((!was && window.is_some(), r.c2d.clone()))
            }
            _ => Err(HubError::invalid("this attachment has ended")),
        })?;
        c2d.notify_waiters();
        Ok(started)
    }

    /// Where a device's C2D messages are pushed now: its attachment, if it
    /// subscribed to C2D.
    pub(crate) fn c2d_target(&self, device: &str) -> Option<C2dTarget> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get(device)?.slot.as_ref()?;
        Some(C2dTarget {
            attachment: s.id,
            window: s.c2d_window?,
            transport: s.transport.clone(),
        })
    }

    /// Whether `attachment` is still the device's and subscribed to C2D.
    /// (Its window's use is counted in the open transaction by the job that
    /// locks: see `mailbox::ops::lock_for_push`.)
    pub(crate) fn c2d_subscribed(&self, device: &str, attachment: u64) -> bool {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(device)
            .and_then(|r| r.slot.as_ref())
            .is_some_and(|s| s.id == attachment && s.c2d_window.is_some())
    }

    /// Hands a locked message to the attachment; false if it has ended.
    pub(crate) fn deliver_c2d(&self, device: &str, attachment: u64, m: C2dMessage) -> bool {
        self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment && s.c2d_window.is_some() => {
                let Some(token) = m.lock_token.clone() else {
                    return false;
                };
                if s.tx.send(ToDevice::C2d(Box::new(m))).is_err() {
                    return false;
                }
                s.outstanding.insert(token);
                true
            }
            _ => false,
        })
    }

    /// Forgets a lock whose message went back to the queue (abandoned, run
    /// out, released) and wakes the pump to deliver it again.
    pub(crate) fn requeued(&self, device: &str, token: &str) {
        self.settled(device, token);
        self.wake_c2d(device);
    }

    /// Forgets an outstanding lock (settled or expired) and wakes the pump,
    /// which looks at the queue only if something waits
    /// ([`take_c2d_pending`](Self::take_c2d_pending)).
    pub(crate) fn settled(&self, device: &str, token: &str) {
        let c2d = self.with(device, |r| {
            if let Some(s) = r.slot.as_mut() {
                s.outstanding.remove(token);
            }
            r.c2d.clone()
        });
        c2d.notify_waiters();
    }

    pub(crate) fn start_call(
        &self,
        device: &str,
        method: &str,
        rid: &str,
        reply: oneshot::Sender<HubResult<RawResponse>>,
        limit: usize,
    ) -> (CallStart, Option<oneshot::Sender<HubResult<RawResponse>>>) {
        self.with(device, |r| match r.slot.as_ref() {
            Some(s) if s.methods.allows(method) => {
                if r.calls.len() >= limit {
                    return (CallStart::TooMany, Some(reply));
                }
                r.calls.insert(
                    rid.to_string(),
                    PendingCall {
                        attachment: s.id,
                        reply,
                    },
                );
                (CallStart::Started(s.tx.clone()), None)
            }
            _ => (CallStart::NotOnline, Some(reply)),
        })
    }

    pub(crate) fn take_call(&self, device: &str, rid: &str) -> Option<PendingCall> {
        self.with(device, |r| r.calls.remove(rid))
    }

    pub(crate) fn forget(&self, device: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(device)
            .is_some_and(|r| r.slot.is_none() && r.calls.is_empty())
        {
            map.remove(device);
        }
    }

    pub(crate) fn attached(&self) -> Vec<(String, u64)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter_map(|(d, r)| r.slot.as_ref().map(|s| (d.clone(), s.id)))
            .collect()
    }
}

fn take_calls(calls: &mut HashMap<String, PendingCall>, attachment: u64) -> Vec<PendingCall> {
    let rids: Vec<String> = calls
        .iter()
        .filter(|(_, c)| c.attachment == attachment)
        .map(|(k, _)| k.clone())
        .collect();
    rids.into_iter().filter_map(|k| calls.remove(&k)).collect()
}

fn removed(s: Slot, calls: Vec<PendingCall>) -> Removed {
    Removed {
        transport: s.transport,
        remote: s.remote,
        since: s.since,
        tx: s.tx,
        outstanding: s.outstanding,
        calls,
        expiry_task: s.expiry_task,
    }
}
