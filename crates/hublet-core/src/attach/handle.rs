//! The attachment a transport holds for its device, and attaching and
//! detaching it (authentication, replacing an earlier connection, token
//! expiry, releasing locks and failing calls when it ends).

use std::collections::HashSet;

use tokio::sync::mpsc;

use super::presence::{Removed, Slot};
use super::{
    AttachRequest, Credential, DetachReason, MAX_TELEMETRY_BYTES, MethodFilter, Telemetry, ToDevice,
};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::Identity;
use crate::mailbox::TRACE_BODY_LIMIT;
use crate::trace::detail::{DeviceAttached, DeviceDetached, DeviceProtocol, TelemetryReceived};
use crate::trace::{BodyPreview, NewEvent, TraceDetail};

/// A device attached by a transport. Dropping it detaches the device.
pub struct Attachment {
    hub: Hub,
    device: String,
    id: u64,
    transport: String,
    token_expiry: Option<Timestamp>,
    done: bool,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("device", &self.device)
            .field("id", &self.id)
            .field("transport", &self.transport)
            .finish()
    }
}

impl Attachment {
    /// The hub's time now (its clock; a test's manual clock).
    pub fn now(&self) -> Timestamp {
        self.hub.now()
    }

    /// Whether this is a module's connection (`device/module`).
    pub fn is_module(&self) -> bool {
        self.device.contains('/')
    }

    /// The attached identity's key: the device id, or `device/module`.
    pub fn device_id(&self) -> &str {
        &self.device
    }

    /// This attachment's number (unique for the hub's lifetime).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The transport's short name (`mqtt`, `serial`, ...), as given when attaching.
    pub fn transport(&self) -> &str {
        &self.transport
    }

    /// When the SAS token used to attach expires (the hub detaches the
    /// device then, with [`DetachReason::TokenExpired`]).
    pub fn token_expiry(&self) -> Option<Timestamp> {
        self.token_expiry
    }

    /// The device subscribed to all direct methods: calls may now reach it.
    pub fn subscribe_methods(&self) {
        self.set_method_filter(MethodFilter::All);
    }

    /// The device subscribed to desired-property patches
    /// ([`ToDevice::DesiredPatch`] from now on).
    pub fn subscribe_twin_desired(&self) {
        self.hub
            .inner
            .presence
            .set_twin_desired(&self.device, self.id, true);
    }

    /// The device unsubscribed from desired-property patches.
    pub fn unsubscribe_twin_desired(&self) {
        self.hub
            .inner
            .presence
            .set_twin_desired(&self.device, self.id, false);
    }

    /// The device's twin as its own GET sees it (`{"desired", "reported"}`).
    pub async fn twin(&self) -> HubResult<serde_json::Value> {
        self.hub.touch(&self.device);
        self.hub.twins().device_view(&self.device).await
    }

    /// The IoT Plug and Play model the device announced when it connected.
    pub async fn set_model_id(&self, model_id: &str) -> HubResult<()> {
        self.hub.twins().set_model_id(&self.device, model_id).await
    }

    /// The device's reported-properties patch; the new reported `$version`.
    pub async fn report(&self, patch: serde_json::Value) -> HubResult<u64> {
        self.hub
            .twins()
            .report(&self.device, patch, &self.transport)
            .await
    }

    /// The device unsubscribed from direct methods.
    pub fn unsubscribe_methods(&self) {
        self.set_method_filter(MethodFilter::None);
    }

    /// Which methods the device is subscribed to (a device may subscribe
    /// to single methods, e.g. `$iothub/methods/POST/reboot/#`); calls to
    /// other methods find it "not online" (404103).
    pub fn set_method_filter(&self, filter: MethodFilter) {
        if self
            .hub
            .inner
            .presence
            .set_methods(&self.device, self.id, filter)
        {
            self.hub.touch(&self.device);
        }
    }

    /// The device subscribed to C2D messages: the hub pushes its queue in
    /// order, with at most `window` messages unsettled at a time.
    /// A module has no C2D queue (as on IoT Hub): refused with 400004.
    pub fn subscribe_c2d(&self, window: usize) -> HubResult<()> {
        if self.is_module() {
            return Err(HubError::invalid(
                "modules receive no cloud-to-device messages (IoT Hub keeps C2D queues for devices only)",
            ));
        }
        let window = window.max(1);
        if self
            .hub
            .inner
            .presence
            .set_c2d(&self.device, self.id, Some(window))?
        {
            crate::mailbox::pump::spawn(self.hub.clone(), self.device.clone(), self.id);
        }
        self.hub.touch(&self.device);
        Ok(())
    }

    /// The device unsubscribed from C2D messages (messages already handed
    /// out stay locked until settled or expired).
    pub fn unsubscribe_c2d(&self) -> HubResult<()> {
        self.hub
            .inner
            .presence
            .set_c2d(&self.device, self.id, None)
            .map(|_| ())
    }

    /// Completes a delivered message. 412002 if the lock is unknown or expired.
    pub async fn complete(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub.mailbox().complete(&self.device, lock_token).await
    }

    /// Queues the completion of a delivered message and frees its delivery
    /// slot now (see [`Mailbox::complete_queued`](crate::mailbox::Mailbox::complete_queued));
    /// the future reports 412002 if the lock had ended.
    pub fn complete_queued(
        &self,
        lock_token: &str,
    ) -> HubResult<impl std::future::Future<Output = HubResult<()>> + Send + 'static + use<>> {
        self.hub.touch(&self.device);
        self.hub.mailbox().complete_queued(&self.device, lock_token)
    }

    /// Abandons a delivered message. 412002 if the lock is unknown or expired.
    pub async fn abandon(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub
            .mailbox()
            .abandon(&self.device, lock_token)
            .await
            .map(|_| ())
    }

    /// Rejects a delivered message. 412002 if the lock is unknown or expired.
    pub async fn reject(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub.mailbox().reject(&self.device, lock_token).await
    }

    /// The device's answer to a method request. An answer for a call that
    /// already ended (timed out, or never existed) is traced and ignored;
    /// the return value says which happened.
    pub fn respond(&self, request_id: &str, status: i32, body: &[u8]) -> Responded {
        self.hub.touch(&self.device);
        self.hub
            .methods()
            .response(&self.device, request_id, status, body)
    }

    /// A device-to-cloud message. Over 256 KB is refused with 413001.
    pub fn telemetry(&self, t: Telemetry) -> HubResult<Stored> {
        self.hub.device_telemetry(&self.device, &self.transport, t)
    }

    /// Records a protocol notice or violation for this device in the trace
    /// (build it with [`DeviceProtocol::new`] and this attachment's
    /// [`transport`](Self::transport)).
    pub fn protocol_event(&self, notice: DeviceProtocol) {
        self.hub.inner.db.append(NewEvent::new(
            self.device.as_str(),
            TraceDetail::DeviceProtocol(notice),
        ));
    }

    /// Marks activity (any traffic from the device).
    pub fn touch(&self) {
        self.hub.touch(&self.device);
    }

    /// Ends the attachment. In-flight method calls fail at once; locks the
    /// device holds go back to the queue.
    pub async fn detach(mut self, reason: DetachReason) {
        self.done = true;
        self.hub
            .detach_attachment(&self.device, self.id, reason)
            .await;
    }

    /// True while this attachment is the device's current one.
    pub fn is_current(&self) -> bool {
        self.hub.inner.presence.current(&self.device) == Some(self.id)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let hub = self.hub.clone();
        let device = self.device.clone();
        let id = self.id;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                hub.detach_attachment(&device, id, DetachReason::Dropped)
                    .await
            });
        }
    }
}

/// What became of a method response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responded {
    /// It answered a waiting call.
    Delivered,
    /// No call was waiting for it (it timed out or never existed); it was traced and ignored.
    Late,
}

impl Hub {
    /// Attaches a device for a transport (see the module docs for the protocol).
    pub async fn attach(
        &self,
        device_id: &str,
        req: AttachRequest,
    ) -> HubResult<(Attachment, mpsc::UnboundedReceiver<ToDevice>)> {
        let who = Identity::parse(device_id)?;
        let device = who.key();
        let checked = match &req.credential {
            Credential::Trusted(_) => self.check_device_trusted(&who).await.map(|()| None),
            Credential::SasToken(token) => self.check_identity_sas(&who, token).await.map(Some),
        };
        let token_expiry = match checked {
            Ok(exp) => exp,
            Err(r) => return Err(self.refuse(&device, &req.transport, req.remote.clone(), r)),
        };
        let now = self.now();
        let attachment_id = self.next_attachment_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let slot = Slot {
            id: attachment_id,
            transport: req.transport.clone(),
            remote: req.remote.clone(),
            since: now,
            tx,
            methods: MethodFilter::None,
            c2d_window: None,
            twin_desired: false,
            outstanding: HashSet::new(),
            expiry_task: None,
        };
        let replaced = self.inner.presence.install(&device, slot, now);
        let was_replaced = replaced.is_some();
        if let Some(old) = replaced {
            self.finish_detach(&device, old, DetachReason::Replaced)
                .await;
        }
        let detail = TraceDetail::DeviceAttached(DeviceAttached {
            via: req.transport.clone(),
            remote: req.remote.clone(),
            attachment: attachment_id,
            replaced_earlier_connection: was_replaced,
            trusted: match &req.credential {
                Credential::Trusted(why) => Some(why.clone()),
                Credential::SasToken(_) => None,
            },
            token_expiry,
        });
        self.inner.db.append(NewEvent::new(device.as_str(), detail));
        if let Some(exp) = token_expiry {
            let hub = self.clone();
            let dev = device.clone();
            let task = tokio::spawn(async move {
                let sleep = hub.inner.clock.sleep_until(exp);
                tokio::select! {
                    // Boxed: the task waits for hours, holding only its sleep.
                    _ = sleep => Box::pin(hub.detach_attachment(&dev, attachment_id, DetachReason::TokenExpired)).await,
                    _ = hub.shutdown_signal() => {}
                }
            });
            self.inner
                .presence
                .set_expiry_task(&device, attachment_id, task.abort_handle());
        }
        Ok((
            Attachment {
                hub: self.clone(),
                device,
                id: attachment_id,
                transport: req.transport,
                token_expiry,
                done: false,
            },
            rx,
        ))
    }

    /// Ends the device's current attachment, whatever it is.
    pub(crate) async fn detach_device(&self, device: &str, reason: DetachReason) {
        let forget = reason == DetachReason::Deleted;
        if let Some(id) = self.inner.presence.current(device) {
            self.detach_attachment(device, id, reason).await;
        }
        if forget {
            self.inner.presence.forget(device);
        }
    }

    /// Ends one attachment if it is still current.
    pub(crate) async fn detach_attachment(
        &self,
        device: &str,
        attachment: u64,
        reason: DetachReason,
    ) {
        if let Some(r) = self.inner.presence.remove(device, attachment, self.now()) {
            self.finish_detach(device, r, reason).await;
        }
    }

    async fn finish_detach(&self, device: &str, r: Removed, reason: DetachReason) {
        // The token-expiry task has nothing left to do (unless it is the
        // task running this detach, which ends by itself).
        if let Some(task) = &r.expiry_task
            && tokio::task::try_id() != Some(task.id())
        {
            task.abort();
        }
        for call in r.calls {
            let err = if reason == DetachReason::Replaced {
                HubError::ConnectionReplaced(device.to_string())
            } else {
                HubError::DeviceDisconnected {
                    device: device.to_string(),
                    reason: reason.describe(),
                }
            };
            let _ = call.reply.send(Err(err));
        }
        if !matches!(
            reason,
            DetachReason::Closed | DetachReason::ConnectionLost(_) | DetachReason::Dropped
        ) {
            let _ = r.tx.send(ToDevice::Close(Box::new(reason.clone())));
        }
        let now = self.now();
        let tokens: Vec<String> = r.outstanding.into_iter().collect();
        let settings = self.settings();
        let dev = device.to_string();
        let detached = DeviceDetached {
            reason: reason.name(),
            description: reason.describe(),
            via: r.transport.clone(),
            remote: r.remote.clone(),
            connected_ms: now.0 - r.since.0,
            locks_released: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
        };
        let result = self
            .inner
            .db
            .write(move |ctx| {
                for t in &tokens {
                    crate::mailbox::ops::release(
                        ctx,
                        &dev,
                        t,
                        crate::mailbox::ops::Release::Detached,
                        &settings,
                    )?;
                }
                match dev.split_once('/') {
                    None => crate::registry::table::set_last_activity(ctx.conn, &dev, ctx.now)?,
                    Some((d, m)) => {
                        crate::modules::table::set_last_activity(ctx.conn, d, m, ctx.now)?
                    }
                }
                ctx.trace(NewEvent::new(
                    dev.as_str(),
                    TraceDetail::DeviceDetached(detached.clone()),
                ))
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(device, "detach bookkeeping failed: {e}");
        }
        self.inner.presence.wake_c2d(device);
    }
}

impl Hub {
    /// A device-to-cloud message from a device that the transport has
    /// already authenticated for this one request (IoT Hub's HTTP device
    /// endpoint, which holds no connection). Attached devices send through
    /// [`Attachment::telemetry`], which comes here. Over 256 KB is refused
    /// with 413001.
    pub fn device_telemetry(&self, device: &str, via: &str, t: Telemetry) -> HubResult<Stored> {
        if t.body.len() > MAX_TELEMETRY_BYTES {
            return Err(HubError::TooLarge {
                what: "the device-to-cloud message",
                size: t.body.len(),
                limit: MAX_TELEMETRY_BYTES,
            });
        }
        self.touch(device);
        // Queued before its trace event, so a reader woken by the trace
        // finds it stored.
        let stored = Stored(Box::pin(self.events().record(device, via, &t)?));
        let detail = TraceDetail::TelemetryReceived(TelemetryReceived {
            via: via.to_string(),
            size: t.body.len(),
            body: BodyPreview::of(&t.body, TRACE_BODY_LIMIT),
            message_id: t.message_id,
            correlation_id: t.correlation_id,
            content_type: t.content_type,
            content_encoding: t.content_encoding,
            properties: t.properties,
        });
        self.inner.db.append(NewEvent::new(device, detail));
        Ok(stored)
    }
}

/// A device-to-cloud message queued for the event log: await
/// [`Stored::committed`] to know it is on disk (the HTTP device endpoint
/// answers only then), or drop it (streaming transports go on; it is
/// stored in order all the same).
pub struct Stored(std::pin::Pin<Box<dyn std::future::Future<Output = HubResult<()>> + Send>>);

impl Stored {
    /// Resolves when the message is committed to the event log.
    pub async fn committed(self) -> HubResult<()> {
        self.0.await
    }
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stored")
    }
}
